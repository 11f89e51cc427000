"""Synthetic wire-copy corpora with ground truth, for benchmarks and for labelled test sets.

A news corpus is mostly copies: one agency story is republished by many outlets, each adding its own
header, byline, adverts, captions, related links and footer, and some of them trimming, re-headlining or
lightly editing the text. :func:`generate_corpus` rebuilds that from base articles (your own, the BBC set,
or the built-in generator) and labels every record with two truths:

- ``truth_dup``: all copies of one source text share it. Everything else (a rewrite of the same event by
  another outlet, a different story on the same topic, a digest quoting a few lines) is a different group.
- ``truth_story``: the event. The wire story, its copies and its independent rewrites share it.

To build a 10,000-article corpus from the BBC texts and keep it on disk::

    bases = load_bases("shared/data/bbc_articles.jsonl")     # drops the set's own duplicate pairs
    with open("corpus.jsonl", "wb") as out:
        for record in generate_corpus(bases, SynthConfig(n_articles=10_000, seed=1)):
            out.write(orjson.dumps(record) + b"\\n")

How the corpus is drawn (every probability is a :class:`SynthConfig` field):

1. *Plan* (numpy, all up front, small): events with a heavy-tailed number of outlet copies (a share of
   single-outlet stories, then a truncated Zipf law over 2..``copies_max`` outlets), independent rewrites
   for some events, same-topic "sibling" stories, short boilerplate-heavy items and rare digests. Each
   source text is a distinct base; when the bases run out, a base is *respun*: its names and numbers are
   swapped, words take synonyms or other words of the same suffix class, and some sentences come from
   another base of its category, so it is a new text (word 5-gram Jaccard with the original about 0.06,
   below 0.2) that still reads like news. Rewrites keep the names, figures, key nouns and direct quotes
   and reword the rest (Jaccard with the wire about 0.14, 90% below 0.21).
2. *Render* (streamed in publication order): each copy gets its outlet's fixed house style and a random
   mix of content variants. A source text is built once and kept only while copies of it are pending, so
   memory follows the copies of a few days, not the corpus.

Randomness: the plan uses a numpy Generator (PCG64) seeded from ``config.seed``, through ``random()``
only; each record and each source text draws from its own stream keyed by ``(seed, purpose, index)``
(:class:`_Rand`), and word choices use a fixed string hash. So a record does not depend on the order in
which others were drawn, ``part=`` slices can be built in parallel, and the same seed and bases give the
same bytes in every process (the Python hash seed plays no part).

Speed (one core of a loaded 2-core VM whose Python runs ~3x slower than a desktop's): ~2,200 records/s
of CPU time on the BBC bases at 10k records, ~1,400/s at 100k where most sources are respins; 68 MB
peak at 100k. Use ``part=(i, k)`` in k processes for a million.
"""

# ruff: noqa: SIM905 - word lists read better as one string

from __future__ import annotations

import bisect
import calendar
import hashlib
import math
import random
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

__all__ = ["SynthConfig", "generate_corpus", "load_bases", "synthetic_bases", "VARIANT_KINDS"]


# ---------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """How to draw a synthetic wire-copy corpus. The defaults give a realistic mix (see the module docstring).

    >>> cfg = SynthConfig(n_articles=500, seed=3)
    >>> str(cfg)
    'synth-n500-s3'

    Rates named ``p_*`` are per copy (the first copy of a source, the agency's own release, is never
    content-edited); rates named ``outlet_*`` are the share of outlets whose house style uses the element,
    and such an outlet applies it to about 90% of its articles.
    """

    seed: int = 0
    """Seed of every random choice: the same seed and bases give byte-identical records."""
    n_articles: int = 10_000
    """Records to produce, exactly."""
    n_outlets: int = 400
    """Outlets publishing copies; their popularity is Zipf-like (a few aggregators carry a lot)."""
    start: str = "2024-03-04T00:00:00Z"
    """Start of the time span, ISO-8601 UTC."""
    span_days: float = 30.0
    """Events are spread uniformly over this many days (copies may spill a couple of days past the end)."""

    single_share: float = 0.35
    """Share of wire stories carried by one outlet only."""
    copies_alpha: float = 1.9
    """Zipf exponent of the number of outlets for the other stories (2..copies_max); 1.9 gives ~5.2 mean."""
    copies_max: int = 100
    """Most outlets carrying one story (capped at n_outlets)."""
    copy_delay_hours: float = 3.0
    """Median delay of a copy after the agency release (log-normal, sigma 1)."""
    copy_delay_max_hours: float = 48.0
    """Copies later than this are pulled back to it."""

    rewrite_share: float = 0.25
    """Share of multi-outlet stories that some outlets report independently (rewrites: same story, new text)."""
    rewrites_mean: float = 1.6
    """Mean number of rewrites of a story that gets any (grows with the story's size)."""
    rewrite_copies_mean: float = 1.4
    """Mean outlets carrying one rewrite (a group's sister titles share it; geometric)."""
    rewrite_delay_hours: float = 10.0
    """Median delay of a rewrite after the event (log-normal, sigma 0.8)."""
    rewrite_delay_max_hours: float = 96.0
    """Latest a rewrite appears after its event."""
    rewrite_word_share: float = 0.3
    """Share of content-word types without a synonym that a rewrite replaces by random words of the same
    suffix class (words with a synonym take it 95% of the time; names, numbers and key nouns are kept)."""
    rewrite_quotes_max: int = 2
    """Most sentences with direct quotes a rewrite keeps; quotes are copied verbatim, as real reports do."""
    sibling_share: float = 0.08
    """Share of events followed by a different story on the same topic with the same names (own story)."""
    short_share: float = 0.02
    """Share of articles that are short items from heavy-boilerplate outlets (each its own group)."""
    digest_share: float = 0.003
    """Share of articles that are digests quoting briefs of 3-6 recent stories (each its own group)."""
    heavy_outlet_share: float = 0.08
    """Share of outlets with heavy boilerplate (navigation, legal lines, always-on link blocks)."""
    respin_word_share: float = 0.4
    """Share of content-word types without a synonym that a respin replaces by random words of the same
    suffix class (words with a synonym take it 80% of the time; all names and numbers are swapped)."""
    respin_mix_share: float = 0.3
    """Share of a respun base's sentences taken from another base of the same category."""

    p_headline_edit: float = 0.3
    """Copy gets a lightly rewritten headline (prefix, suffix, word swaps, case)."""
    p_headline_new: float = 0.1
    """Copy gets an entirely different headline (the text is still a copy)."""
    p_brief: float = 0.06
    """Copy keeps only the first one or two paragraphs."""
    p_trim: float = 0.18
    """Copy keeps the first 40-90% of the sentences (not with brief)."""
    p_update: float = 0.08
    """Copy adds one or two new paragraphs and changes some figures."""
    p_edit: float = 0.3
    """Copy gets a few word substitutions (synonyms, British/American spelling)."""
    p_typos: float = 0.1
    """Copy gets one to four typos."""
    p_ocr: float = 0.03
    """Copy gets OCR-like character noise on 1-3% of characters."""
    p_reflow: float = 0.2
    """Copy merges or splits paragraphs."""
    p_drop_sentence: float = 0.15
    """Copy loses one or two sentences."""

    outlet_header: float = 0.6
    """Share of outlets adding header lines (section, dates, reading time, masthead)."""
    outlet_footer: float = 0.75
    """Share of outlets adding footer lines (copyright, share buttons, newsletter prompts)."""
    outlet_byline: float = 0.6
    """Share of outlets printing a byline ("By NAME, AGENCY")."""
    outlet_dateline: float = 0.35
    """Share of outlets keeping the agency dateline ("LONDON (AP) —")."""
    outlet_ads: float = 0.3
    """Share of outlets with ADVERTISEMENT markers between paragraphs."""
    outlet_captions: float = 0.35
    """Share of outlets with photo captions and credits."""
    outlet_links: float = 0.35
    """Share of outlets with related-link blocks ("Read more", "You might also like") of other headlines."""
    outlet_title_suffix: float = 0.15
    """Share of outlets appending their name to the headline ("... | The Harbour Courier")."""
    outlet_us_spelling: float = 0.25
    """Share of outlets converting British spellings to American ones."""

    id_prefix: str = "syn-"
    """Prefix of record ids (the rest is the position in publication order)."""

    def __post_init__(self) -> None:
        problems = []
        if self.seed < 0:
            problems.append(f"seed is {self.seed}, expected an integer >= 0")
        if self.n_articles < 0:
            problems.append(f"n_articles is {self.n_articles}, expected >= 0")
        if self.n_outlets < 2:
            problems.append(f"n_outlets is {self.n_outlets}, expected >= 2")
        if self.span_days <= 0:
            problems.append(f"span_days is {self.span_days}, expected > 0")
        if self.copies_max < 2:
            problems.append(f"copies_max is {self.copies_max}, expected >= 2")
        if self.rewrite_quotes_max < 0:
            problems.append(f"rewrite_quotes_max is {self.rewrite_quotes_max}, expected >= 0")
        for name in (
            "copy_delay_hours",
            "copy_delay_max_hours",
            "rewrite_delay_hours",
            "rewrite_delay_max_hours",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} is {getattr(self, name)}, expected > 0")
        if self.rewrites_mean < 1 or self.rewrite_copies_mean < 1:
            problems.append("rewrites_mean and rewrite_copies_mean must be >= 1 (they count the first one)")
        for name in _SHARE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} is {value}, expected a share between 0 and 1")
        if self.short_share + self.digest_share > 0.5:
            problems.append("short_share + digest_share exceed 0.5: too few articles left for wire stories")
        try:
            _parse_start(self.start)
        except ValueError:
            problems.append(f"start is {self.start!r}, expected ISO-8601 UTC such as 2024-03-04T00:00:00Z")
        if problems:
            raise ValueError("invalid SynthConfig: " + "; ".join(problems))

    def __str__(self) -> str:
        return f"synth-n{self.n_articles}-s{self.seed}"


_SHARE_FIELDS = (
    "single_share",
    "rewrite_share",
    "rewrite_word_share",
    "sibling_share",
    "short_share",
    "digest_share",
    "heavy_outlet_share",
    "respin_word_share",
    "respin_mix_share",
    "p_headline_edit",
    "p_headline_new",
    "p_brief",
    "p_trim",
    "p_update",
    "p_edit",
    "p_typos",
    "p_ocr",
    "p_reflow",
    "p_drop_sentence",
    "outlet_header",
    "outlet_footer",
    "outlet_byline",
    "outlet_dateline",
    "outlet_ads",
    "outlet_captions",
    "outlet_links",
    "outlet_title_suffix",
    "outlet_us_spelling",
)

#: Every string that can appear in a record's ``variant`` list. The first entry is always the role
#: (``wire``, ``rewrite``, ``sibling``, ``short`` or ``digest``); ``first`` marks the clean agency release;
#: ``respin`` marks a source text derived from a used base; the rest name what was applied to the copy.
VARIANT_KINDS: tuple[str, ...] = (
    "wire", "rewrite", "sibling", "short", "digest",
    "first", "respin", "synthetic",
    "headline_edit", "headline_new", "brief", "trim", "update", "edit", "spelling", "typos", "ocr",
    "reflow", "drop_sentence",
    "header", "footer", "byline", "dateline", "ads", "caption", "links", "title_suffix",
)  # fmt: skip


def _parse_start(start: str) -> float:
    text = start.strip()
    if text.endswith("Z"):
        text = text[:-1]
    fmt = "%Y-%m-%dT%H:%M:%S" if "T" in text else "%Y-%m-%d"
    return float(calendar.timegm(time.strptime(text.split(".")[0], fmt)))


# ---------------------------------------------------------------------------------------------------------
# Word lists (all our own: fictional people, places, outlets and organisations)
# ---------------------------------------------------------------------------------------------------------

_FEMALE = (
    "Amara Anna Beatriz Carla Chloe Daria Elena Emma Fatima Grace Hana Ingrid Isabel Jana Julia Kemi Lara "
    "Leila Lucia Maya Mei Nadia Naomi Nora Olga Paula Priya Rosa Ruth Sara Sofia Tamar Tessa Ursula Vera "
    "Wanda Yara Zoe Alice Bianca Celine Dana Esther Freya Gloria Helen Irene Joanna Karin Lena Marta"
).split()
_MALE = (
    "Aaron Adam Ahmed Aleksander Ali Andre Ben Carlos Colin Daniel David Diego Emil Erik Felix Frank Gareth "
    "George Hamid Hugo Ian Ivan Jacob James Jonas Jorge Kenji Kofi Lars Leo Liam Luca Marco Mark Martin "
    "Matteo Mikhail Nikolai Omar Oscar Pavel Peter Rafael Raj Ravi Robert Samuel Simon Stefan Thomas Tomasz "
    "Victor Walter Yusuf"
).split()
_SURNAMES = (
    "Abbott Adeyemi Alvarez Amato Andersen Ashby Baker Barros Bauer Bell Bennett Blackwood Bosch Brandt "
    "Brennan Calder Carvalho Castillo Chen Clarke Coleman Costa Cruz Dalton Davies Delgado Dimitrov Doyle "
    "Duarte Eriksen Evans Falk Farouk Fischer Fleming Fontaine Forde Gallagher Garner Gill Gomez Grant Gray "
    "Haddad Halvorsen Hartmann Hayes Holloway Hughes Ibrahim Ito Jansen Jovanovic Kamara Kaplan Keller "
    "Kessler Khan Kim Kowalski Laine Lambert Larsen Lindqvist Lloyd Lopez Lund Mahler Marsh Mendes Moreau "
    "Morgan Murphy Nakamura Navarro Novak Nwosu Okafor Olsen Ortega Osei Palmer Park Patel Perez Petrov Quinn "
    "Ramos Reyes Richter Rios Rossi Russo Santos Schmidt Sharma Silva Sorensen Stone Sullivan Tanaka Thorne "
    "Tran Ueda Varga Vasquez Vogel Walsh Weber Whitfield Wright Yilmaz Young Zielinski"
).split()
_CITIES = (
    "Port Avalon|Kingsbridge|Millbrook|Eastmoor|Redcliff|Larkspur|Harrowfield|Westbury|Oakridge|Fairhaven|"
    "Brightwater|Stonemere|Ashvale|Greyhaven|Marlowe Bay|Northgate|Silverton|Cedar Falls|Halden|Norbury|"
    "Elmstead|Kestrel Point|Dunmore|Rivenhall|Tamsworth|Belcastle|Wyndham|Corrin|Lowmoor|Pellham|Saltcombe|"
    "Thornbury|Vantor|Alderney Cross|Brookhaven|Castlereagh|Glenmouth|Highcliffe|Morven|Sandmere"
).split("|")
_COUNTRIES = (
    "Norland Estmere Valdoria Carvania Belmark Suldova Tarsis Westhaven Aldoria Marovia Kestria Lunmark "
    "Ostravia Brenland Corvania Istria"
).split()
# Well-known places a text may name, and the city its dateline would carry.
_GAZETTEER = {
    name: city.upper()
    for entry in (
        "London|Paris|Berlin|Madrid|Rome|Brussels|Dublin|Edinburgh|Glasgow|Cardiff|Belfast|Manchester|Liverpool|"
        "Birmingham|Leeds|Moscow|Beijing|Shanghai|Tokyo|Seoul|Delhi|Mumbai|Sydney|Melbourne|Toronto|Washington|"
        "New York|Chicago|Los Angeles|Geneva|Vienna|Athens|Lisbon|Amsterdam|Stockholm|Oslo|Copenhagen|Warsaw|"
        "Prague|Budapest|Istanbul|Cairo|Nairobi|Lagos|Johannesburg|Jerusalem|Baghdad|Tehran|Kabul|Bangkok|"
        "Singapore|Jakarta|Manila|Hong Kong|Frankfurt|Milan|Munich|Zurich|Barcelona|Cape Town|Dubai"
    ).split("|")
    for name, city in [(entry, entry)]
} | {
    country: city.upper()
    for country, city in (
        ("France", "Paris"), ("Germany", "Berlin"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Russia", "Moscow"),
        ("China", "Beijing"), ("Japan", "Tokyo"), ("India", "Delhi"), ("Australia", "Sydney"), ("Canada", "Toronto"),
        ("Ireland", "Dublin"), ("Scotland", "Edinburgh"), ("Wales", "Cardiff"), ("Brazil", "Sao Paulo"),
        ("Mexico", "Mexico City"), ("Iraq", "Baghdad"), ("Iran", "Tehran"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
        ("Nigeria", "Lagos"), ("Israel", "Jerusalem"), ("Turkey", "Istanbul"), ("Greece", "Athens"),
        ("Poland", "Warsaw"), ("Sweden", "Stockholm"), ("Norway", "Oslo"), ("Denmark", "Copenhagen"),
        ("Netherlands", "Amsterdam"), ("Belgium", "Brussels"), ("Switzerland", "Geneva"), ("Austria", "Vienna"),
        ("Portugal", "Lisbon"), ("Ukraine", "Kiev"), ("Pakistan", "Islamabad"), ("Afghanistan", "Kabul"),
        ("Indonesia", "Jakarta"), ("Thailand", "Bangkok"), ("Argentina", "Buenos Aires"), ("Cameroon", "Yaounde"),
        ("South Africa", "Johannesburg"), ("South Korea", "Seoul"), ("Zimbabwe", "Harare"), ("Sudan", "Khartoum"),
    )
}  # fmt: skip
_IN_PLACE_RE = re.compile(r"\b(?:in|near|at|from) ([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b(?!'s| [A-Z])")
_PLACE_CANDIDATE_RE = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)?")
_WIRE_CITIES = (
    "LONDON|NEW YORK|WASHINGTON|BRUSSELS|PARIS|BERLIN|TOKYO|SYDNEY|NAIROBI|JOHANNESBURG|MUMBAI|SINGAPORE|"
    "TORONTO|MADRID|ROME|GENEVA|DUBLIN|EDINBURGH|MANCHESTER|FRANKFURT|HONG KONG|CHICAGO|LOS ANGELES|"
    "PORT AVALON|KINGSBRIDGE|MILLBROOK|REDCLIFF|NORTHGATE|BELCASTLE"
).split("|")
_AGENCIES = (
    ("AP", "The Associated Press"),
    ("Reuters", "Reuters"),
    ("AFP", "Agence France-Presse"),
    ("PA", "PA Media"),
    ("dpa", "Deutsche Presse-Agentur"),
    ("CNA", "Continental News Agency"),
    ("GPW", "Global Press Wire"),
    ("IWS", "International Wire Service"),
)
_OUTLET_PLACES = (
    "Harbour|Riverside|Northfield|Metro|Valley|Coastal|Lakeside|Eastern|Western|Capital|Kingsbridge|Oakridge|"
    "Millbrook|Fairview|Highland|Southgate|Bayside|Redcliff|Ashford|Westbury|Elmwood|Pinecrest|Stonebridge|"
    "Marlow|Granite City|Summit|Brookfield|Glenwood|Silverton|Port Avalon|Hartley|Greystone|Midland|County|"
    "Border|Island|Prairie|Delta|Northern|Southern|Tri-County|Canal|Moorland|Cathedral City|Seaboard"
).split("|")
_PAPERS = (
    "Courier Herald Gazette Post Chronicle Times Tribune Observer Standard Echo Record Journal Sentinel "
    "Dispatch Ledger Bulletin Examiner Argus Advertiser Star Telegraph Express Mercury Enquirer Leader "
    "Messenger Register Review Beacon Clarion Citizen Independent Reporter Monitor"
).split()
_ONLINE_A = ("News Daily Press Story Head Feed Buzz Brief Info Scoop Report World Media Pulse").split()
_ONLINE_B = ["hub", "line", "wire", "feed", "ly", "now", "point", "desk", "stream", "zone", "wise", "today"]
_MEDIA_GROUPS = ("Meridian Lanterne Crestline Bluewater Keystone Northstar Pennant Harborview").split()

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January February March April May June July August September October November December").split()

_STOPWORDS = frozenset(
    "a about above after again against ago all almost along also although always am among an and another "
    "any anyone are around as at away back be became because become been before being below between both "
    "but by can cannot could did do does doing done down during each either else even ever every few for "
    "from further get gets got had has have having he her here hers herself him himself his how however i "
    "if in into is it its itself just last least less let like made make many may me might more most much "
    "must my myself near never new next no nor not now of off often on once one only onto or other others "
    "our ours out over own per rather said same say says see she should since so some still such than "
    "that the their theirs them themselves then there these they this those though through thus to too "
    "two under until up upon us very via was we were what when where whether which while who whom whose "
    "why will with within without would yet you your year years week weeks day days time times mr mrs ms "
    "dr st don doesn didn isn wasn aren won couldn wouldn shouldn haven hasn hadn weren ll ve re three "
    "four five six seven eight nine ten first second third well told including according".split()
)
_KEEP_CAPS = frozenset(
    [*_WEEKDAYS, *_MONTHS, *"Mr Mrs Ms Dr Sir Lord Lady Prof St I A OK TV UK US EU UN".split()]
)
_KEEP_ACRONYMS = frozenset("UK US USA EU UN TV BBC CEO GDP AI IT PC CD DVD UN NHS FBI".split())
_WORD_CLASSES = ("ing", "ed", "ly", "tion", "sion", "ment", "ness", "ity", "ers", "er", "est", "al", "ous", "ive",
                 "ful", "able", "ies", "s")  # fmt: skip


# Words a rewrite or respin may swap for each other (same part of speech and inflection). They give most
# of the change a human rewrite makes; random same-suffix words (see _Lexicon) fill in the rest.
_SYNONYM_GROUPS = (
    "rose|climbed|increased|grew|jumped", "fell|dropped|declined|slipped|dipped", "rise|climb|increase|grow",
    "rising|climbing|increasing|growing", "falling|dropping|declining|slipping", "soared|surged|rocketed",
    "announced|unveiled|revealed|disclosed", "warned|cautioned", "warning|caution", "bought|acquired|purchased",
    "buy|acquire|purchase", "won|secured|clinched|claimed", "criticised|attacked|condemned|slammed",
    "criticized|attacked|condemned|slammed", "rejected|dismissed|turned down", "urged|called on|pressed",
    "expected|forecast|predicted", "launched|introduced|rolled out", "helped|aided|assisted",
    "showed|indicated|suggested", "shows|indicates|suggests", "began|started|commenced",
    "ended|finished|concluded", "struck|hit", "believed|thought", "believes|thinks", "considered|weighed",
    "considering|weighing|examining", "needed|required", "needs|requires", "tried|attempted|sought",
    "trying|attempting|seeking", "admitted|acknowledged|conceded", "described|characterised|labelled",
    "insisted|maintained|argued", "boosted|lifted|bolstered", "hurt|damaged|harmed", "reached|hit|attained",
    "received|got|obtained", "approved|backed|endorsed", "blamed|faulted", "ordered|instructed|told",
    "allowed|permitted|enabled", "killed|left dead", "injured|hurt|wounded", "arrested|detained|held",
    "charged|accused", "investigating|probing|looking into", "investigation|probe|inquiry",
    "raised|lifted|increased", "reduced|lowered|trimmed", "increases|rises|gains", "decided|opted|chose",
    "continued|went on|carried on", "remained|stayed", "returned|came back", "joined|signed up with",
    "released|issued|published", "created|set up|established", "opened|launched", "closed|shut",
    "company|firm|group|business", "companies|firms|groups|businesses", "profits|earnings",
    "jobs|posts|positions|roles", "figures|data|numbers|statistics", "deal|agreement|pact",
    "talks|negotiations|discussions", "children|youngsters", "country|nation", "countries|nations",
    "problem|issue", "problems|issues", "boss|chief|head", "spokesman|spokesperson|representative",
    "spokeswoman|spokesperson|representative", "statement|announcement", "customers|consumers|clients",
    "workers|staff|employees", "fans|supporters", "match|game|fixture|clash", "matches|games|fixtures",
    "film|movie|picture", "films|movies|pictures", "album|record", "song|track", "award|prize|honour",
    "awards|prizes|honours", "victory|win|triumph", "defeat|loss|setback", "injury|knock", "team|squad",
    "election|poll|vote", "legislation|law", "critics|opponents|detractors",
    "users|customers|subscribers", "phone|handset|device", "phones|handsets|devices", "website|site",
    "internet|web|net", "technology|tech", "system|platform", "price|cost", "prices|costs", "growth|expansion",
    "sales|revenues|turnover", "investors|shareholders|backers", "bank|lender", "banks|lenders",
    "money|cash|funds", "rules|regulations", "officials|authorities", "chairman|chair", "plan|proposal|scheme",
    "attack|assault", "attacks|assaults", "crisis|emergency", "effort|attempt|bid", "efforts|attempts|bids",
    "threat|danger|risk", "chance|opportunity", "market|sector",
    "markets|sectors", "industry|sector", "prison|jail", "people|individuals|residents", "row|dispute|spat",
    "report|study", "research|study|work", "reforms|changes|overhaul", "support|backing", "aim|goal|target",
    "evidence|proof", "decision|ruling|move", "meeting|talks|summit", "group|body|organisation",
    "big|large|major", "biggest|largest", "small|minor|modest", "important|key|significant|crucial",
    "recent|latest", "huge|massive|vast|enormous", "difficult|tough|hard", "strong|robust|solid",
    "weak|poor|fragile", "possible|potential", "current|present", "top|leading", "main|chief|principal",
    "serious|severe|grave", "quick|rapid|swift", "quickly|rapidly|swiftly", "global|worldwide|international",
    "annual|yearly", "previous|prior|preceding", "total|overall", "several|various|a number of",
    "many|numerous", "nearly|almost|close to", "recently|lately", "currently|presently",
    "however|but", "despite|in spite of", "clear|obvious|plain", "likely|set", "unlikely|not expected",
    "extra|additional|further", "whole|entire", "senior|high-ranking", "private|independent",
)  # fmt: skip
# Words a rewrite may simply leave out: news prose reads as well without them.
_DROPPABLE = frozenset(
    "also very just really actually already currently recently widely largely fully mostly particularly "
    "especially significantly sharply strongly clearly simply finally eventually initially originally "
    "previously officially reportedly apparently effectively certainly completely totally entirely extremely "
    "highly deeply".split()
)
_DROPPED_GAP_RE = re.compile(r"  +")
_SYNONYMS: dict[str, tuple[str, ...]] = {}
for _group in _SYNONYM_GROUPS:
    _words = _group.split("|")
    for _word in _words:
        _SYNONYMS.setdefault(_word, tuple(w for w in _words if w != _word))


# Random substitution never brings these in: a business story should not gain a rape or a bombing.
_NEVER_INTRODUCE = frozenset(
    "rape raped rapes raping rapist rapists murder murdered murders murderer murdering kill killed kills killing "
    "killings killer terror terrorist terrorists terrorism bomb bombs bombed bombing bomber suicide abuse abused "
    "abusing paedophile paedophiles sex sexual sexually porn pornography dead death deaths died die dying "
    "corpse victims victim shot shooting stabbed stabbing torture tortured genocide massacre assault assaulted "
    "drugs drug heroin cocaine racist racism nazi nazis slave slavery hostage hostages kidnapped".split()
)


def _word_class(word: str) -> str:
    for suffix in _WORD_CLASSES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return suffix
    return ""


# ---------------------------------------------------------------------------------------------------------
# Fast randomness: numpy Generators keyed by (seed, purpose, index), and a fixed string hash
# ---------------------------------------------------------------------------------------------------------

_TAG_PLAN, _TAG_OUTLET, _TAG_COPY, _TAG_SOURCE, _TAG_SYNTH, _TAG_FRAME = 1, 2, 3, 4, 5, 6
_M32 = 0xFFFFFFFF


class _Rand:
    """Scalar draws for one record or source, keyed by ``(seed, purpose, index...)``.

    A numpy Generator costs ~90 us to build, too much per record, so this wraps the Mersenne Twister of
    ``random.Random`` and uses only its ``random()``, whose sequence for a given seed Python guarantees across
    versions. Everything else (choices, shuffles, samples) is built on it here, not taken from ``random``.
    """

    __slots__ = ("random",)

    def __init__(self, *key: int) -> None:
        self.random = random.Random(_key64(key)).random

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, seq: Sequence):  # noqa: ANN201 - any element type
        return seq[int(self.random() * len(seq))]

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def shuffle(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = int(self.random() * (i + 1))
            items[i], items[j] = items[j], items[i]

    def sample(self, seq: Sequence, k: int) -> list:
        pool = list(seq)
        k = min(k, len(pool))
        for i in range(k):
            j = i + int(self.random() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]

    def lognormal(self, median: float, sigma: float) -> float:
        u1, u2 = 1.0 - self.random(), self.random()
        return median * math.exp(sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))


def _mix32(h: int) -> int:
    """Murmur3's finaliser: crc32 is linear in its key, this makes hashes under different keys independent."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def _key(*parts: int) -> int:
    return _mix32(zlib.crc32(b"%d" % _mix32(zlib.crc32(repr(parts).encode()))))


def _key64(parts: tuple) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def _hash(word: str, key: int) -> int:
    # crc32 is affine in its key; one multiply (taking middle bits) decorrelates hashes under different keys
    return ((zlib.crc32(word.encode(), key) * 0x9E3779B1) >> 16) & _M32


# ---------------------------------------------------------------------------------------------------------
# Sentences and paragraphs
# ---------------------------------------------------------------------------------------------------------

_SENT_END_RE = re.compile(r"([.!?][\"”’']?)(\s+)(?=[\"“‘'(]?[A-Z0-9£$€])")
_ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Dr St Prof Gen Gov Sen Rep Lt Col Sgt Jr Sr Inc Corp Co Ltd No vs".split()
)
_PARA_SPLIT_RE = re.compile(r"\n\s*\n")
_SENT_START_RE = re.compile(r"(?:^|[.!?:][\"”’')]*\s+|\n)[\"“‘'(\-–—•* ]*$")
_TOKEN_SPLIT_RE = re.compile(r"([A-Za-z]+|[0-9]+)")
_NUMBER_RE = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])")


def _sentences(paragraph: str) -> list[str]:
    out = []
    start = 0
    for m in _SENT_END_RE.finditer(paragraph):
        if paragraph[m.start()] == ".":
            word = paragraph[max(start, m.start() - 5) : m.start()].rsplit(" ", 1)[-1]
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue  # "Mr. Smith", "J. Smith": not a sentence end
        out.append(paragraph[start : m.end(1)])
        start = m.end(2)
    if start < len(paragraph):
        out.append(paragraph[start:])
    return out


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _PARA_SPLIT_RE.split(text.strip()) if p.strip()]


# a capitalised word right after a word, number or comma: mid-sentence, so a name
_MID_CAPS_RE = re.compile(r"[A-Za-z0-9,;%)'’] (?=([A-Z][a-z]+[A-Za-z]*))")


def _mid_caps(paragraphs: Iterable[str]) -> Counter[str]:
    """Capitalised words used mid-sentence, with counts: the article's names."""
    counts: Counter[str] = Counter()
    for paragraph in paragraphs:
        counts.update(_MID_CAPS_RE.findall(paragraph))
    for word in [w for w in counts if len(w) < 3 or w in _KEEP_CAPS or w.lower() in _STOPWORDS]:
        del counts[word]
    return counts


_PERSON_RE = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?)\b")


def _people(paragraphs: Sequence[str], limit: int = 3) -> list[str]:
    """Two-word names that behave like people: a known first name, a surname used alone, or "X said"."""
    text = " ".join(paragraphs)
    counts: Counter[str] = Counter()
    for first, last in _PERSON_RE.findall(text):
        if first in _KEEP_CAPS or first.lower() in _STOPWORDS or first in _GAZETTEER or last in _GAZETTEER:
            continue
        full = f"{first} {last}"
        if (
            first in _FIRST_NAMES
            or text.count(last) > text.count(full)
            or f"{full} said" in text
            or f"said {full}" in text
            or f"{full} told" in text
        ):
            counts[full] += 1
    return [name for name, _ in counts.most_common(limit)]


def _names_by_count(paragraphs: Sequence[str], limit: int) -> list[str]:
    return [name for name, _ in _mid_caps(paragraphs).most_common(limit)]


# ---------------------------------------------------------------------------------------------------------
# Built-in base articles: a small news grammar over fictional entities
# ---------------------------------------------------------------------------------------------------------

# Template syntax: {a|b|c} picks one alternative (may be empty, may nest); {NAME} is a slot of the frame.
# Alternatives are dense on purpose: two articles of one topic should share few word 5-grams.

_TOPICS: dict[str, dict[str, object]] = {
    "business": {
        "roles": ("chief executive", "finance director", "chairwoman", "chairman", "managing director"),
        "experts": ("an analyst at {ORG2}", "an economist at {ORG2}", "a retail analyst", "a fund manager"),
        "orgs": ("{SUR} {Holdings|Group|Industries|Foods|Motors|Energy|Logistics|Retail|Bank|Airways}",),
        "things": (
            "electric vans",
            "frozen meals",
            "budget flights",
            "home insurance",
            "steel pipes",
            "solar panels",
            "garden furniture",
            "cargo ships",
            "coffee pods",
            "mortgages",
        ),
        "leads": (
            (
                "{ORG} {profits|earnings} {rise|jump|climb} {PCT}",
                "{ORG} {said|reported|announced} on {WEEKDAY} that its {annual|quarterly|half-year} "
                "{profits|earnings|operating profit} {rose|jumped|climbed} {PCT} to {MONEY}, {helped|lifted} by "
                "{strong|growing|record} {demand for|sales of} {THING}.",
            ),
            (
                "Shares in {ORG} {fall|slide|tumble} after {profit|sales} warning",
                "Shares in {ORG} {fell|slid|tumbled} {PCT} on {WEEKDAY} after the {company|firm|group} {warned|said} "
                "that {sales of {THING}|demand in {COUNTRY}|its {THING} business} would {fall short of|miss} "
                "{forecasts|expectations|its own targets} this year.",
            ),
            (
                "{ORG} to cut {N2} jobs",
                "{ORG}, the {COUNTRY} {maker|supplier|seller} of {THING}, {is to cut|plans to shed|will axe} {N2} "
                "jobs {as part of|under} a {restructuring|cost-cutting plan|turnaround plan} {announced|unveiled|set "
                "out} on {WEEKDAY}.",
            ),
            (
                "{ORG} agrees {MONEY} deal for {ORG2}",
                "{ORG} has agreed to buy {its rival|smaller rival|} {ORG2} for {MONEY} in a deal that would create "
                "{one of the largest|the biggest|a leading} {suppliers|sellers|makers} of {THING} in "
                "{{COUNTRY}|the region|Europe}.",
            ),
        ),
        "body": (
            "{P1}, {ORG}'s {P1R}, {said|told analysts|told reporters} the {results|figures|numbers} "
            "{showed|reflected} {the strength of|a recovery in|steady demand for} {its|the group's} "
            "{core business|main markets|{THING} division}.",
            "Revenue {grew|rose|increased|slipped} to {MONEY2} {from|compared with} {MONEY3} {a year earlier|in "
            "the same period last year|the previous year}.",
            "The {company|firm|group} {employs|has} {about|around|more than|nearly} {N2} {staff|workers|people} "
            "{across|in} {N1} {countries|sites|factories|stores}.",
            "{Analysts|Investors|Some shareholders} had {expected|feared|hoped for} {a sharper fall|a stronger "
            "result|a bigger rise|worse figures}, and the {shares|stock} {ended|closed|finished} the day {PCT2} "
            "{higher|lower}.",
            '{P2}, {P2R}, said: "{QUOTE}"',
            "The {deal|plan|move} {still needs|requires|is subject to} {approval from|the backing of|sign-off by} "
            "{regulators|shareholders|the competition authority} in {COUNTRY}.",
            "{ORG} {said|added} it {would|planned to} {open|close|refit} {N1} {stores|plants|sites|depots} "
            "{over the next|within the next|in the coming} {two years|eighteen months|year}.",
            "{Costs|Energy bills|Wage costs|Raw material prices} {rose|climbed|jumped} by {PCT3} {over|during} "
            "the {period|quarter|year}, the {company|firm} said.",
            "{Unions|Staff representatives} {said|warned} {they would|they planned to} {fight|oppose|challenge} "
            "{the cuts|any job losses|the closures} {at|in} {CITY}.",
            "{ORG} {was founded|started trading|was set up} in {CITY} in {YEAR} and {now|today} {sells|supplies} "
            "{THING} {to|in} {N1} {countries|markets}.",
        ),
        "quotes": (
            "{We have had|It has been} a {difficult|challenging|strong|busy} year, but {we are|the business is} "
            "{well placed|in good shape|ready} for {growth|what comes next|the year ahead}.",
            "{Demand|Trading} {has been|remains} {weaker|stronger|more volatile} than {we expected|anyone "
            "expected|forecast} {at the start of the year|in the spring|a few months ago}.",
            "This is {a good deal|the right decision|a painful step} for {our customers|shareholders|the "
            "business|our staff} {and we|but we} {will|intend to} {see it through|keep investing|look after "
            "everyone affected}.",
        ),
    },
    "politics": {
        "roles": (
            "prime minister",
            "finance minister",
            "opposition leader",
            "health secretary",
            "deputy mayor",
            "interior minister",
            "party chair",
        ),
        "experts": (
            "a spokesperson for {ORG2}",
            "the leader of {ORG2}",
            "a senior figure in {ORG2}",
            "a political scientist at the University of {CITY}",
        ),
        "orgs": (
            "the {Liberal|National|Progressive|Democratic|People's|Green|Reform|Unity} "
            "{Party|Alliance|Union|Movement|Front}",
        ),
        "things": (
            "housing bill",
            "tax reform",
            "pension plan",
            "border agreement",
            "budget",
            "climate law",
            "transport strategy",
            "schools funding plan",
            "energy price cap",
            "voting reform",
        ),
        "leads": (
            (
                "{COUNTRY} {parliament|lawmakers} {@1 back|reject|delay} {THING}",
                "{COUNTRY}'s {parliament|lower house|senate} voted {N3} to {N4} on {WEEKDAY} to {@1 approve|reject|"
                "delay} the {government's|controversial|long-awaited} {THING}, {@1 handing a victory|dealing a blow|"
                "dealing a blow} to {P1}.",
            ),
            (
                "{P1S} {calls|announces} {@1 snap election|cabinet reshuffle|referendum|inquiry}",
                "{P1}, the {P1R}, {has announced|announced on {WEEKDAY}} {@1 a snap election|a cabinet reshuffle|plans "
                "for a referendum|an inquiry} {after|following|amid} {weeks of|months of|a row over} "
                "{criticism of|protests against|disagreement on} the {THING}.",
            ),
            (
                "{@1 Thousands|Hundreds} {march|protest|rally} in {CITY} over {THING}",
                "{@1 Thousands of|Hundreds of} {people|protesters|workers|farmers} {marched|rallied|gathered} in {CITY} "
                "on {WEEKDAY} {against|in support of} the {THING}, {police|organisers} said.",
            ),
            (
                "{ORG} {@1 wins|holds} {CITY} {@2 by-election|mayoral race}",
                "{ORG} {@1 has won|has held} the {@2 by-election|mayoral race} in {CITY}, "
                "{taking|securing|with} {PCT} of the vote.",
            ),
        ),
        "body": (
            "{P2}, {P2R}, {said|told reporters|argued} that {the {THING}|the plan|the decision} {would|could} "
            "{hurt|help|cost} {families|voters|small businesses|pensioners} {across {COUNTRY}|in rural areas|in "
            "the capital}.",
            "{Turnout|Support} {was|stood at} {PCT2}, {down|up} from {PCT3} at the {last|previous} "
            "{election|vote}.",
            "The {government|ministry|cabinet} {says|said|insists} the {THING} will {save|raise|cost} {MONEY} "
            "{over five years|a year|by {YEAR2}}.",
            "{Opposition parties|Critics|Campaign groups} {have|had} {called|long called} for {an independent "
            "review|a public inquiry|a vote|more detail} {on|of} the {plans|proposals|measures}.",
            "{A vote|A final decision|The next reading} is {expected|due|scheduled} {next week|later this "
            "month|before the summer recess|in {MONTH}}.",
            "{P1S} {first|had} {promised|proposed|backed} the {THING} {during|in} the {YEAR} {election "
            "campaign|budget|party conference}.",
            "{Polls|Recent surveys|Opinion polls} {suggest|show} {the government|{ORG}} {trails|leads} by "
            "{N1} points {with|ahead of} {the next election|a general election} {due|expected} {in {YEAR2}|next "
            "year}.",
            "{P3}, {P3R}, {resigned|stepped down|quit} {in protest|last month|on {WEEKDAY}} {over|because of} "
            "the {handling of the {THING}|party's direction|row}.",
            "The {proposals|plans|measures} would {affect|apply to} {about|around|up to} {N2} "
            "{households|people|businesses} {in {CITY}|nationwide|across {COUNTRY}}.",
        ),
        "quotes": (
            "{The people of {COUNTRY}|Voters|Ordinary families} {deserve|want|expect} {answers|better|a "
            "government that listens}, and {that is|this is} what we {will|intend to} {deliver|give them}.",
            "{This|Today} is {a dark day|a great day|a turning point|a wake-up call} for {democracy|our "
            "country|{CITY}|the party}.",
            "We {will not|cannot|refuse to} {back down|accept this|stay silent} {while|when|as long as} "
            "{families are struggling|the rules are ignored|nobody is listening}.",
        ),
    },
    "sport": {
        "roles": ("manager", "head coach", "captain", "striker", "goalkeeper", "club chairman"),
        "experts": ("a former {ORG2} player", "the {ORG2} captain", "a pundit and former international"),
        "orgs": ("{CITY} {United|Rovers|City|Athletic|Wanderers|FC|Rangers|Town}",),
        "things": ("cup final", "league title", "semi-final", "derby", "championship", "play-off final"),
        "leads": (
            (
                "{ORG} {beat|edge|see off} {ORG2} to reach {THING}",
                "{ORG} {beat|defeated|edged past|saw off} {ORG2} {S1}-{S2} {on {WEEKDAY}|at home|away from home} "
                "to {reach|move into|book a place in} the {THING}.",
            ),
            (
                "{P1S} {@1 double|late winner|hat-trick|header} {sinks|stuns|beats} {ORG2}",
                "{P1} {@1 scored twice|struck late|scored a hat-trick|headed the winner} as {ORG} {came from behind "
                "to beat|held off|saw off} {ORG2} {S1}-{S2} in {CITY} on {WEEKDAY}.",
            ),
            (
                "{ORG} {@1 sack|part ways with|appoint} {P1S}",
                "{ORG} {have|has} {@1 sacked|parted company with|appointed} {P1} as {manager|head coach} "
                "{@1 after {N1} matches without a win|after {N1} games in charge|on a two-year contract}.",
            ),
            (
                "{P1S} {to miss|out of|ruled out of} {THING}",
                "{P1} {will miss|is set to miss|has been ruled out of} the {THING} with {a hamstring|a knee|an ankle|"
                "a shoulder|a back} injury, {ORG} {said|confirmed} on {WEEKDAY}.",
            ),
        ),
        "body": (
            "{ORG2} {had|took} the lead after {MIN} minutes {through|when} {P2} {finished|converted|turned in} "
            "{a low cross|a corner|a rebound|a penalty}.",
            "The {result|win|defeat} {leaves|lifts|drops} {ORG} {POS} in the {table|standings|league}, {N1} "
            "points {behind|clear of|above} {the leaders|{ORG2}}.",
            "A crowd of {N2} {watched|saw} the {match|game} at {SUR} {Park|Stadium|Road|Arena}.",
            '{P3}, the {ORG} {manager|coach}, {said|told reporters} {afterwards|after the match}: "{QUOTE}"',
            "{ORG} {face|play|host} {ORG2} {next|on} {WEEKDAY} {in the league|in the cup|for a place in the "
            "{THING}}.",
            "{P2S} has {scored|made} {N1} {goals|appearances} {this season|for the club|since joining in {YEAR}}.",
            "{ORG} {have not|had not} {won|lifted} the {trophy|title|cup} since {YEAR}.",
            "{Tickets|Seats} for the {THING} {sold out|went on sale} {within hours|on {WEEKDAY}|last week}, "
            "{the club said|organisers said}.",
            "{P1S} {joined|signed for} {ORG} from {ORG2} in {YEAR} for a {fee|reported fee} of {MONEY}.",
        ),
        "quotes": (
            "{The lads|The players|The team} {were|have been} {brilliant|outstanding|magnificent} "
            "{today|all season|in the second half} and {they|we} {deserve|earned} {this|every point}.",
            "{We|I} {knew|said} {it would be|this was going to be} {a tough game|difficult|a battle} and we "
            "{showed|had} {real character|great spirit|a lot of quality}.",
            "{It is|That was} {a huge disappointment|a bad night|not good enough} {for us|for everyone} and "
            "{we have to|we will} {react|bounce back|improve} {quickly|next week|on {WEEKDAY}}.",
        ),
    },
    "technology": {
        "roles": (
            "chief executive",
            "founder",
            "chief technology officer",
            "head of product",
            "chief security officer",
        ),
        "experts": (
            "a security researcher",
            "an analyst at {ORG2}",
            "a professor of computing at the University of {CITY}",
            "a digital rights campaigner",
        ),
        "orgs": (
            "{Quant|Nova|Lumen|Axi|Veri|Cirro|Data|Bright|Hyper|Zen|Orbi|Tela}"
            "{ora|ix|ly|io|sys|net|wave|soft|works|path}",
        ),
        "things": (
            "smartphone app",
            "chatbot",
            "payment service",
            "cloud platform",
            "smart speaker",
            "satellite network",
            "chip",
            "social network",
            "delivery robot",
            "password manager",
        ),
        "leads": (
            (
                "{ORG} {launches|unveils} {new|first} {THING}",
                "{ORG} {has launched|unveiled|released} {a new|its first|an updated} {THING} on {WEEKDAY}, "
                "{aiming to|hoping to|in a bid to} {compete with|take on|catch up with} {ORG2} in "
                "{{COUNTRY}|Europe|the US market}.",
            ),
            (
                "{ORG} {hack|breach|cyber-attack} {hits|exposes} {N2} {users|customers}",
                "{ORG} {said|confirmed} on {WEEKDAY} that {hackers|an intruder|a cyber-attack} {had|may have} "
                "{accessed|stolen|exposed} the {personal details|data|email addresses} of {N2} "
                "{users|customers|account holders}.",
            ),
            (
                "{Regulators|Watchdog} {probe|investigate} {ORG} {THING}",
                "{Regulators|The data watchdog|Competition officials} in {COUNTRY} {have opened|launched} "
                "{an investigation|a probe|an inquiry} into {ORG}'s {THING} {over|amid} {privacy concerns|complaints "
                "from rivals|the way it handles data}.",
            ),
            (
                "{ORG} {THING} {outage|glitch} {hits|affects} {N2} {users|customers}",
                "{ORG}'s {THING} {suffered|was hit by} {an outage|a major outage|a glitch} {lasting|of} {N1} hours "
                "on {WEEKDAY}, {leaving|affecting} {N2} {users|customers|businesses} {unable to|who could not} "
                "{log in|make payments|send messages}.",
            ),
        ),
        "body": (
            "The {THING} {uses|relies on|is built on} {artificial intelligence|machine learning|a new chip|"
            "cloud computing} to {speed up|simplify|automate} {tasks|payments|searches|bookings}, the "
            "{company|firm} said.",
            "{P1}, {ORG}'s {P1R}, {said|wrote in a blog post} that the {company|firm} had {spent|invested} "
            "{MONEY} {developing|building|testing} {it|the service|the technology}.",
            "{Security researchers|Experts|Analysts} {warned|said|cautioned} that {users|customers} should "
            "{change their passwords|update their devices|watch for suspicious emails}.",
            "{ORG} {has|had} about {N2} {users|subscribers|customers} {in {COUNTRY}|worldwide|across Europe}, "
            "{according to|based on} {its own figures|industry estimates|data from {ORG2}}.",
            "The {feature|service|device} {will be|is} {available|rolled out} {in {N1} countries|from "
            "{MONTH}|later this year} and {costs|will cost} {SMALLMONEY} a month.",
            '{P2}, {P2R}, said: "{QUOTE}"',
            "{ORG} {shares|stock} {rose|fell|slipped|climbed} {PCT2} in {early|late|afternoon} trading "
            "{after|following} the {announcement|news|report}.",
            "The {company|firm} {said|added} that {no|some} {payment details|passwords|bank details} "
            "{had been|were} {taken|affected|compromised} and that it had {informed|contacted|alerted} "
            "{the police|regulators|affected customers}.",
            "{ORG} was {founded|started} in {CITY} in {YEAR} and {employs|has} {N2} {staff|engineers|people}.",
        ),
        "quotes": (
            "{We take|We have always taken} the {security|privacy|trust} of our {users|customers} {very "
            "seriously|extremely seriously} and {we are|we're} {sorry|working around the clock} {for|to fix} "
            "{the disruption|what happened|this}.",
            "{This|The {THING}} {is|will be} {a big step|a game changer|an important moment} for {how people|"
            "the way people} {pay|work|talk|shop} {online|every day|at home}.",
            "{Companies|Firms} {like this|of this size} {need to|must|should} {do much better|be held to "
            "account|explain themselves} {when|if} {things go wrong|data is lost|users are harmed}.",
        ),
    },
    "courts": {
        "roles": ("detective inspector", "prosecutor", "police spokesperson", "judge", "chief constable"),
        "experts": ("{defending|for the defence}", "a lawyer for the family", "a legal expert"),
        "orgs": ("{CITY} Police", "the {CITY} police force", "{CITY} Crown Court"),
        "things": ("fraud", "burglary", "assault", "theft", "arson", "smuggling", "money laundering"),
        "leads": (
            (
                "{@2 Man|Woman} {@1 charged|arrested|jailed} over {THING} in {CITY}",
                "A {AGE}-year-old {@2 man|woman} has been {@1 charged with|arrested on suspicion of|jailed for} "
                "{THING} {after|following} {a raid|an investigation|an incident} in {CITY}, {police said|{ORG} "
                "said}.",
            ),
            (
                "{N1} arrested after {@1 burglary|theft|break-in|assault} {spree|series} in {CITY}",
                "{N1} people have been arrested {after|following|in connection with} {a series of|a spate of} "
                "{@1 burglaries|thefts|break-ins|attacks} {across|in} {CITY}, {police|{ORG}} {said|confirmed} on "
                "{WEEKDAY}.",
            ),
            (
                "{@2 Former|Retired} {official|director} {@1 guilty of|cleared of|jailed for} {MONEY} {THING}",
                "A {@2 former|retired} {bank manager|accountant|council official|company director} has been "
                "{@1 found guilty of|cleared of|sentenced for} {THING} {totalling|worth|involving} {MONEY} at {CITY} "
                "Crown Court on {WEEKDAY}.",
            ),
        ),
        "body": (
            "{The court heard|Jurors were told|Prosecutors said} that the {defendant|accused} had "
            "{taken|moved|hidden} {MONEY2} {over|during} {N1} years.",
            '{P1}, {P1R} at {ORG}, said: "{QUOTE}"',
            "The {defendant|accused} {will be|is due to be} sentenced {on {WEEKDAY}|next month|in {MONTH}}.",
            "{Officers|Detectives} {have appealed|are appealing} for {witnesses|anyone with information|dashcam "
            "footage} to {come forward|contact them|get in touch}.",
            "{P2}, {defending|for the defence|representing the accused}, {said|told the court} {the|their} "
            "client {had|has} {shown remorse|no previous convictions|co-operated fully}.",
            "{Items|Goods|Property} worth {MONEY3} {were|had been} {recovered|seized|found} {at|from} "
            "{an address|a warehouse|a storage unit} in {CITY2}.",
            "The {case|trial|hearing} {lasted|ran for} {N1} {days|weeks} and {heard from|included evidence "
            "from} {N1} witnesses.",
            "{A second|Another} {suspect|man|woman}, {AGE2}, {was|has been} {released on bail|released without "
            "charge|remanded in custody} {pending further inquiries|until {MONTH}}.",
        ),
        "quotes": (
            "{This|It} was a {cruel|calculated|cynical} {crime|scheme|betrayal} {that|which} {caused|left} "
            "{real harm|lasting damage|victims out of pocket} {to|for} {people|families} in {CITY}.",
            "{I hope|We hope} {this|today's result} {sends a clear message|shows} that {we will|police will} "
            "{not tolerate|pursue} {this kind of offending|those responsible}.",
            "{My client is|The family are|The family is} {relieved|devastated|considering an appeal} and {asks|asked} for "
            "{privacy|time} {at this time|to reflect}.",
        ),
    },
    "disaster": {
        "roles": (
            "mayor",
            "fire chief",
            "regional governor",
            "emergency services spokesperson",
            "chief meteorologist",
        ),
        "experts": (
            "a resident of {CITY}",
            "a shop owner in {CITY}",
            "a volunteer rescuer",
            "a climate scientist at the University of {CITY2}",
        ),
        "orgs": (
            "{CITY} Fire and Rescue Service",
            "the {COUNTRY} Meteorological Office",
            "the national weather service of {COUNTRY}",
        ),
        "things": ("flooding", "wildfire", "storm", "landslide", "heatwave", "flash flood"),
        "leads": (
            (
                "{N1} {@1 dead|dead|missing} as {@2 storm|flooding|wildfire|landslide} {hits|strikes} {CITY}",
                "{N1} people {@1 have died|were killed|are missing} and {N2} {have been|were} {evacuated|forced from "
                "their homes|left without power} after {@2 a powerful storm|heavy rain|a wildfire|a landslide} "
                "{hit|struck|swept through} {CITY} {on {WEEKDAY}|overnight}, officials said.",
            ),
            (
                "{Firefighters|Crews} battle {@1 wildfire|forest fire|blaze} near {CITY}",
                "{Firefighters|Rescue teams|Emergency crews} {are battling|have been tackling} a {@1 wildfire|forest fire|blaze} "
                "{near|outside|north of} {CITY} that has {burned|destroyed|damaged} {N2} {hectares|homes|buildings}.",
            ),
            (
                "{@1 Red|Amber|Severe} weather warning for {CITY}",
                "The {COUNTRY} {weather service|Meteorological Office} {has issued|issued} {@1 a red|an amber|a "
                "severe} {weather warning|flood alert} for {CITY} and {surrounding areas|the coast|{N1} regions}, "
                "{warning of|with} {heavy rain|winds of up to {N3} km/h|temperatures above 40C}.",
            ),
        ),
        "body": (
            "{Roads|Rail lines|Schools} {were closed|remained shut|were cut off} {across|in} the "
            "{region|area|district} and {N2B} {homes|properties|households} {lost|were without} "
            "{power|electricity|water}.",
            '{P1}, the {P1R}, said: "{QUOTE}"',
            "{Residents|Families|Tourists} {were taken|moved} to {temporary shelters|school halls|a sports "
            "centre} {in|near} {CITY2}.",
            "It is the {worst|second|third} {THING} to {hit|affect} the {area|region} {since {YEAR}|in a "
            "decade|in {N1} years}.",
            "{Forecasters|Meteorologists} {expect|said} {the rain|the wind|conditions} {to ease|would ease|to "
            "worsen} {by|on|later on} {WEEKDAY}.",
            "{Helicopters|Boats|Army units} {were|have been} {deployed|sent} to {rescue|reach|evacuate} "
            "{people|villagers|families} {stranded|trapped|cut off} {by the water|on rooftops|in outlying "
            "villages}.",
            "The {government|regional authority} {has|said it had} {released|set aside|promised} {MONEY} "
            "{in emergency aid|for repairs|to help those affected}.",
            "{P2}, {P2R}, said {the damage|the destruction|the scene} was {unlike anything|the worst} "
            "{she had|he had|they had} {seen|known} {in {N1} years|in their lifetime}.",
        ),
        "quotes": (
            "{Our thoughts|Our hearts} are with {the families|everyone} {who have lost|affected by|who lost} "
            "{loved ones|their homes|so much} {tonight|today|in the past day}.",
            "{Please|We urge people to} {stay indoors|avoid travel|follow the advice of emergency services} "
            "{until|while} {the warning|the danger|the storm} {has passed|is in place|lasts}.",
            "{Crews|Teams} {have been|are} working {through the night|around the clock|without a break} and "
            "{we will|they will} {keep going|not stop} {until everyone is safe|for as long as it takes}.",
        ),
    },
    "health": {
        "roles": (
            "lead researcher",
            "professor of medicine",
            "health minister",
            "chief medical officer",
            "consultant",
        ),
        "experts": (
            "a professor at the University of {CITY2}",
            "a spokesperson for {ORG2}",
            "an independent expert",
            "a senior doctor at {CITY} General Hospital",
        ),
        "orgs": (
            "the University of {CITY}",
            "{CITY} General Hospital",
            "the {COUNTRY} Institute of Health",
            "the {SUR} Research Centre",
        ),
        "things": ("blood test", "vaccine trial", "drug", "screening programme", "treatment", "scan"),
        "leads": (
            (
                "{New|Simple} {THING} {could|may} {spot|detect} {ILLNESS} {early|sooner}",
                "A {new|simple|cheap} {THING} {could|may} {detect|spot|predict} {ILLNESS} {years|months} "
                "{earlier|sooner} than {current methods|today's tests}, {researchers|scientists} at {ORG} "
                "{say|said}.",
            ),
            (
                "{@1 Walking|Sleep|Eating vegetables} {linked to lower|cuts} risk of {ILLNESS}",
                "{Scientists|Researchers|A team} at {ORG} {have found|report} that {people|adults|children} who "
                "{@1 walk|sleep|eat vegetables} {more|regularly|every day} {are|were} {PCT} less likely to "
                "{develop|suffer from} {ILLNESS}.",
            ),
            (
                "{@1 Hospitals|Clinics} in {CITY} under pressure as {@2 cases|admissions} rise",
                "{@1 Hospitals|Clinics} in {CITY} {are under|face} {severe|growing|record} pressure {after|as} "
                "{@2 cases of|admissions for} {flu|measles|a stomach bug} {rose|climbed|doubled} {to {N2}|by {PCT}} "
                "{in the past week|this month}.",
            ),
        ),
        "body": (
            "The {study|trial|research}, {published in|reported in} the {Journal of Applied Medicine|Northern "
            "Medical Review|journal Clinical Frontiers}, {followed|tracked|involved} {N2} "
            "{people|patients|volunteers} {for|over} {N1} years.",
            '{P1}, {who led the study|the lead author|the {P1R}}, said: "{QUOTE}"',
            "{Experts|Other scientists|Doctors} {cautioned|warned|said} that the {findings|results} "
            "{needed|would need} to be {confirmed|repeated|tested} in {larger|longer|further} {studies|trials}.",
            "The {research|work} was {funded|paid for} by {{ORG2}|the government|a charity} {at a cost of|with} "
            "{MONEY}.",
            "{About|Around|Nearly} {N2B} people in {COUNTRY} {are diagnosed with|live with|die from} {ILLNESS} "
            "{each year|every year|at any one time}.",
            "{P2}, {P2R}, {said|added} the {THING} {could|might} {save|spare} the health service {MONEY2} "
            "{a year|over a decade} {if|once} {rolled out|approved|widely used}.",
            "{Waiting times|Waiting lists} {have|had} {grown|risen|fallen} by {PCT2} {since|over} {YEAR}, "
            "{according to|figures from} {ORG2}.",
            "{Patients|Volunteers} {were|had been} {given|offered} the {THING} {alongside|instead of} {standard "
            "care|the usual treatment} and {checked|monitored} {every|each} {month|week}.",
        ),
        "quotes": (
            "{These results|The findings} are {very|really|genuinely} {encouraging|exciting|promising}, but "
            "{we need|there is still} {more work|a lot of work} {to do|ahead} {before|until} {this|it} "
            "{reaches patients|is available|can be used in clinics}.",
            "{Staff|Our teams|Nurses} are {doing everything they can|working flat out|under enormous pressure} "
            "and we {ask|urge} {the public|people} to {use services wisely|get vaccinated|stay at home if "
            "unwell}.",
            "{Catching|Finding} {illness|disease} {early|sooner} {makes|is} {all the difference|the single "
            "biggest factor} {to|in} {how well|whether} {patients|people} {recover|do}.",
        ),
    },
}
_GENERIC_BODY = (
    "It {comes|came} {after|amid|as} {weeks of|months of|growing} {speculation|pressure|uncertainty} "
    "{about|over} {the {THING}|{ORG}'s plans|the future of {ORG}}.",
    "The {decision|announcement|news} {was|has been} {welcomed|criticised|questioned} by {P3}, {P3R}, who "
    'said: "{QUOTE}"',
    "{Further details are|More information is|A full statement is} {expected|due} {on|by|later on} {WEEKDAY2}.",
    "{ORG} {declined to comment|did not respond to a request for comment|said it would not comment} "
    "{on|about} {the reports|the figures|the case|further details}.",
    "{Officials|Local leaders|Campaigners} in {CITY} {said|warned} that {the situation|the issue|the problem} "
    "{had been building|had worsened|had eased} {for months|since {YEAR}|over the past year}.",
    "{The figures|The numbers|The details} {were|have been} {published|released|confirmed} {by|in a "
    "statement from} {ORG} {on {WEEKDAY}|late on {WEEKDAY}|this morning}.",
)
_GENERIC_QUOTES = (
    "{We are|I am} {deeply|very|extremely} {concerned|disappointed|pleased|encouraged} by {what has "
    "happened|this outcome|the news|these figures}.",
    "{This is|It is} {not the end|just the beginning|a turning point|a difficult moment} {for|in} "
    "{the|our} {community|city|sector|team}.",
)
_ILLNESSES = ("heart disease", "type 2 diabetes", "dementia", "bowel cancer", "asthma", "kidney disease")
_POSITIONS = ("second", "third", "fourth", "fifth", "sixth", "seventh", "bottom", "top")
_CATEGORY_SECTIONS = {
    "business": "Business", "politics": "Politics", "sport": "Sport", "tech": "Technology",
    "technology": "Technology", "entertainment": "Entertainment", "courts": "UK News", "disaster": "World",
    "health": "Health", "science": "Science", "infrastructure": "Local News",
}  # fmt: skip


_SLOT_NAMES = frozenset(
    "P1 P2 P3 P1R P2R P3R P1S P2S P3S ORG ORG2 CITY CITY2 COUNTRY THING N1 N2 N2B N3 N4 AGE AGE2 PCT PCT2 PCT3 "
    "MONEY MONEY2 MONEY3 SMALLMONEY S1 S2 MIN POS YEAR YEAR2 WEEKDAY WEEKDAY2 MONTH QUOTE ILLNESS SUR NAME PLACE "
    "NUMBER".split()
)


def _compile(template: str) -> tuple:
    """Parse a template into a tree: str parts, ("slot", NAME) and ("alt", (seq, seq, ...))."""

    def parse(pos: int, stop: str) -> tuple[list, int, str]:
        seq: list = []
        buf: list[str] = []
        while pos < len(template):
            ch = template[pos]
            if ch == "{":
                if buf:
                    seq.append("".join(buf))
                    buf = []
                alts = []
                pos += 1
                linked = -1
                if template.startswith("@", pos):  # {@k a|b}: the k-th choice shared by headline and lead
                    linked, pos = int(template[pos + 1]), pos + 3
                while True:
                    part, pos, ended = parse(pos, "|}")
                    alts.append(tuple(part))
                    if ended == "}":
                        break
                for alt in alts:
                    if len(alts) > 1 and len(alt) == 1 and alt[0] in _SLOT_NAMES:
                        raise ValueError(f"template {template!r}: write the slot {alt[0]} as {{{alt[0]}}}")
                if linked >= 0:
                    seq.append(("pick", linked, tuple(alts)))
                    continue
                if len(alts) == 1:
                    name = alts[0][0] if len(alts[0]) == 1 else None
                    if not (isinstance(name, str) and name.isupper()):
                        raise ValueError(f"template {template!r}: a group without '|' must be a SLOT name")
                    seq.append(("slot", name))
                else:
                    seq.append(("alt", tuple(alts)))
                continue
            if ch in stop:
                if buf:
                    seq.append("".join(buf))
                return seq, pos + 1, ch
            buf.append(ch)
            pos += 1
        if stop:
            raise ValueError(f"unbalanced braces in template {template!r}")
        if buf:
            seq.append("".join(buf))
        return seq, pos, ""

    seq, _, _ = parse(0, "")
    return tuple(seq)


_SPACES_RE = re.compile(r"  +| (?=[,.;:!?])")


class _Frame:
    """The entities and numbers of one synthetic event; slots expand to the same values every time."""

    def __init__(self, topic: str, rand: _Rand) -> None:
        spec = _TOPICS[topic]
        self.topic = topic
        self.values: dict[str, str] = {}
        self.people: dict[str, tuple[str, str, str]] = {}
        self.mentioned: set[str] = set()
        self.honorific = rand.chance(0.5)
        self.choices = [0, 0, 0]
        surnames = rand.sample(_SURNAMES, 6)
        for i, label in enumerate(("P1", "P2", "P3")):
            female = rand.chance(0.5)
            first = rand.pick(_FEMALE if female else _MALE)
            self.people[label] = (first, surnames[i], "Ms" if female else "Mr")
        cities = rand.sample(_CITIES, 2)
        values = self.values
        values["SUR"] = surnames[3]
        values["CITY"], values["CITY2"] = cities
        values["COUNTRY"] = rand.pick(_COUNTRIES)
        values["THING"] = rand.pick(spec["things"])
        values["ILLNESS"] = rand.pick(_ILLNESSES)
        values["N1"] = str(2 + rand.below(28))
        values["N2"] = _thousands(int(rand.lognormal(3000, 1.0)) // 10 * 10 + 120)
        values["N2B"] = _thousands(int(rand.lognormal(8000, 1.0)) // 10 * 10 + 200)
        votes = 150 + rand.below(200)
        values["N3"] = str(votes)
        values["N4"] = str(max(1, votes - 5 - rand.below(120)))
        values["AGE"], values["AGE2"] = str(19 + rand.below(60)), str(18 + rand.below(50))
        values["PCT"], values["PCT2"], values["PCT3"] = (_percent(rand) for _ in range(3))
        currency = rand.pick(("$", "£", "€"))
        values["MONEY"], values["MONEY2"], values["MONEY3"] = (_money(rand, currency) for _ in range(3))
        values["SMALLMONEY"] = f"{currency}{rand.pick(('2.99', '4.99', '7.99', '9.99', '12'))}"
        score = 1 + rand.below(4)
        values["S1"], values["S2"] = str(score), str(rand.below(score))
        values["MIN"] = str(3 + rand.below(86))
        values["POS"] = rand.pick(_POSITIONS)
        values["YEAR"], values["YEAR2"] = str(2004 + rand.below(20)), str(2025 + rand.below(4))
        values["WEEKDAY"], values["WEEKDAY2"] = rand.sample(_WEEKDAYS, 2)
        values["MONTH"] = rand.pick(_MONTHS)
        for label in ("P1", "P2", "P3"):
            first, surname, _ = self.people[label]
            values[label + "S"] = surname
        self.roles = {
            "P1R": rand.pick(spec["roles"]),
            "P2R": rand.pick(spec["experts"]),
            "P3R": rand.pick(spec["roles"] + spec["experts"]),
        }
        # Organisations are expanded here, from the frame's own draws, so a sibling article (same frame,
        # other event) names the same ones.
        grammar = _grammar()
        compiled = grammar.topics[topic]
        templates = rand.sample(spec["orgs"], 2) if len(spec["orgs"]) > 1 else spec["orgs"] * 2
        values["ORG"] = grammar._expand(compiled["orgs"][templates[0]], self, rand, compiled)
        values["CITY"], values["CITY2"], values["SUR"] = values["CITY2"], values["CITY"], surnames[4]
        values["ORG2"] = grammar._expand(compiled["orgs"][templates[1]], self, rand, compiled)
        values["CITY"], values["CITY2"], values["SUR"] = values["CITY2"], values["CITY"], surnames[3]
        if values["ORG"] == values["ORG2"]:
            values["ORG2"] = f"{surnames[5]} {values['ORG2'].removeprefix('the ')}"


def _thousands(n: int) -> str:
    return f"{n:,}"


def _percent(rand: _Rand) -> str:
    if rand.chance(0.5):
        return f"{2 + rand.below(44)}%"
    return f"{rand.uniform(0.5, 30):.1f}%"


def _money(rand: _Rand, currency: str) -> str:
    if rand.chance(0.5):
        return f"{currency}{rand.uniform(1.1, 48):.1f}bn"
    return f"{currency}{10 + rand.below(890)}m"


class _Grammar:
    """Expands compiled templates against a frame; quotes and organisations are expanded lazily."""

    def __init__(self) -> None:
        self.topics = {}
        for topic, spec in _TOPICS.items():
            self.topics[topic] = {
                "leads": [(_compile(t), _compile(s)) for t, s in spec["leads"]],
                "body": [_compile(s) for s in spec["body"]] + [_compile(s) for s in _GENERIC_BODY],
                "quotes": [_compile(s) for s in spec["quotes"]] + [_compile(s) for s in _GENERIC_QUOTES],
                "roles": {r: _compile(r) for r in spec["roles"] + spec["experts"]},
                "orgs": {o: _compile(o) for o in spec["orgs"]},
            }

    def article(
        self, topic: str, frame: _Frame, rand: _Rand, title_only: bool = False
    ) -> tuple[str, list[str]]:
        compiled = self.topics[topic]
        frame.mentioned = set()
        frame.choices = [rand.below(840) for _ in range(3)]  # 840: divisible by every alternative count used
        title_tree, lead_tree = rand.pick(compiled["leads"])
        title = _tidy(self._expand(title_tree, frame, rand, compiled))
        if title_only:
            return title, []
        frame.mentioned = set()
        sentences = [_tidy(self._expand(lead_tree, frame, rand, compiled))]
        body = rand.sample(compiled["body"], 6 + rand.below(5))
        for tree in body:
            sentences.append(_tidy(self._expand(tree, frame, rand, compiled)))
        paragraphs = [sentences[0]]
        i = 1
        while i < len(sentences):
            take = 1 + (rand.random() < 0.45) + (rand.random() < 0.15)
            paragraphs.append(" ".join(sentences[i : i + take]))
            i += take
        return title, paragraphs

    def _expand(self, seq: tuple, frame: _Frame, rand: _Rand, compiled: dict) -> str:
        out: list[str] = []
        self._walk(seq, frame, rand, compiled, out)
        return "".join(out)

    def _walk(self, seq: tuple, frame: _Frame, rand: _Rand, compiled: dict, out: list[str]) -> None:
        for part in seq:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "alt":
                self._walk(rand.pick(part[1]), frame, rand, compiled, out)
            elif part[0] == "pick":
                self._walk(part[2][frame.choices[part[1]] % len(part[2])], frame, rand, compiled, out)
            else:
                out.append(self._slot(part[1], frame, rand, compiled))

    def _slot(self, name: str, frame: _Frame, rand: _Rand, compiled: dict) -> str:
        if name in frame.people:
            first, surname, title = frame.people[name]
            if name in frame.mentioned:
                return f"{title} {surname}" if frame.honorific else surname
            frame.mentioned.add(name)
            return f"{first} {surname}"
        if name in frame.roles:
            return self._expand(compiled["roles"][frame.roles[name]], frame, rand, compiled)
        if name == "QUOTE":
            quote = _tidy(self._expand(rand.pick(compiled["quotes"]), frame, rand, compiled))
            return quote
        try:
            return frame.values[name]
        except KeyError:
            raise KeyError(f"template slot {{{name}}} has no value in the frame") from None


def _tidy(sentence: str) -> str:
    sentence = _SPACES_RE.sub(lambda m: " " if m.group(0).startswith("  ") else "", sentence).strip()
    return sentence[:1].upper() + sentence[1:] if sentence else sentence


_GRAMMAR: _Grammar | None = None


def _grammar() -> _Grammar:
    global _GRAMMAR
    if _GRAMMAR is None:
        _GRAMMAR = _Grammar()
    return _GRAMMAR


_TOPIC_NAMES = tuple(_TOPICS)


def _synthetic_article(
    seed: int, k: int, topic: str, frame_k: int, title_only: bool = False
) -> tuple[str, list[str], str]:
    """Built-in base ``k``: a fictional event on ``topic`` whose entities come from frame ``frame_k``.

    Returns the headline, the paragraphs and the event's city (for the dateline).
    """
    frame = _Frame(topic, _Rand(seed, _TAG_FRAME, frame_k))
    title, paragraphs = _grammar().article(topic, frame, _Rand(seed, _TAG_SYNTH, k), title_only)
    return title, paragraphs, frame.values["CITY"]


def synthetic_bases(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` built-in base articles (our own grammar and fictional entities), as ``generate_corpus`` uses them.

    >>> base = synthetic_bases(1, seed=5)[0]
    >>> sorted(base)
    ['category', 'text', 'title']
    """
    out = []
    for k in range(n):
        topic = _TOPIC_NAMES[_key(seed, k) % len(_TOPIC_NAMES)]
        title, paragraphs, _ = _synthetic_article(seed, k, topic, k)
        out.append({"title": title, "text": "\n\n".join(paragraphs), "category": topic})
    return out


def _builtin_vocabulary() -> list[str]:
    words: set[str] = set()
    for spec in _TOPICS.values():
        for group in ("leads", "body", "quotes", "things", "roles", "experts"):
            for item in spec[group]:
                text = " ".join(item) if isinstance(item, tuple) else item
                words.update(re.findall(r"(?<![A-Za-z{])[a-z]{3,}(?![A-Za-z}])", text))
    for text in _GENERIC_BODY + _GENERIC_QUOTES + _ILLNESSES:
        words.update(re.findall(r"(?<![A-Za-z{])[a-z]{3,}(?![A-Za-z}])", text))
    return sorted(words - _STOPWORDS)


# ---------------------------------------------------------------------------------------------------------
# Lexicon, respins and rewrites
# ---------------------------------------------------------------------------------------------------------

_NAME_POOL = tuple(
    sorted(set(_SURNAMES + _FEMALE + _MALE + [c for c in _CITIES if " " not in c] + _COUNTRIES))
)
_LETTERS = "ABCDEFGHIJKLMNOPRSTUVW"


class _Lexicon:
    """Replacement words by suffix class (``-ing`` for ``-ing``...), per category where the bases say one."""

    def __init__(self, bases: Sequence[dict], sample: int = 1200) -> None:
        counts: dict[str | None, Counter[str]] = {}
        self.lower_vocab: set[str] = set()
        self.classes: dict[str, str] = {}
        word_re = re.compile(r"\b[a-z][a-z]{2,}\b")
        for base in bases[:: max(1, len(bases) // sample)][:sample]:
            words = word_re.findall(base["text"])
            self.lower_vocab.update(words)
            counts.setdefault(base.get("category"), Counter()).update(words)
        builtin = _builtin_vocabulary()
        self.lower_vocab.update(builtin)
        overall: Counter[str] = Counter()
        for counter in counts.values():
            overall.update(counter)
        overall.update(builtin)
        self.pools: dict[tuple[str | None, str], tuple[str, ...]] = {}
        self._fill(None, overall)
        for category, counter in counts.items():
            if category is not None:
                self._fill(category, counter, fallback=True)

    def _fill(self, category: str | None, counter: Counter[str], fallback: bool = False) -> None:
        by_class: dict[str, list[str]] = {}
        for word, count in counter.items():
            if word in _STOPWORDS or word in _NEVER_INTRODUCE or (count < 2 and len(counter) > 20000):
                continue
            by_class.setdefault(self.word_class(word), []).append(word)
        for cls, words in by_class.items():
            if fallback and len(words) < 40:
                continue  # too few words in this category: the overall pool reads better
            self.pools[(category, cls)] = tuple(sorted(words))

    def word_class(self, word: str) -> str:
        cls = self.classes.get(word)
        if cls is None:
            cls = self.classes[word] = _word_class(word)
        return cls

    def pool(self, category: str | None, cls: str) -> tuple[str, ...]:
        found = self.pools.get((category, cls)) or self.pools.get((None, cls))
        return found or self.pools[(None, "")]


def _is_fixed(token: str) -> bool:
    """Whether no remapping ever changes the token (short or function words without a synonym)."""
    if token in _DROPPABLE or token in _SYNONYMS or token[0].isdigit():
        return False
    if token.islower():
        return len(token) < 3 or token in _STOPWORDS
    low = token.lower()
    return len(token) == 1 or token in _KEEP_CAPS or (low in _STOPWORDS and low not in _SYNONYMS)


_FIXED_TOKENS: dict[str, bool] = {}


class _Remapper:
    """Deterministic word-level rewriting under one key: each word type maps the same way everywhere.

    ``names`` / ``numbers`` say whether names (capitalised words, acronyms) and numbers are swapped;
    ``synonyms`` is the share of words with a synonym (see ``_SYNONYM_GROUPS``) that take one; ``rate`` is the
    share of the other content-word types replaced by a random word of the same suffix class, except the
    ``keep`` words (the facts a rewrite keeps). ``caps`` are the capitalised words the whole text uses
    mid-sentence: those are names even at the start of a sentence.
    """

    __slots__ = ("key", "lexicon", "category", "rate", "synonyms", "names", "numbers", "keep", "forced", "caps",
                 "drop", "memo")  # fmt: skip

    def __init__(
        self,
        key: int,
        lexicon: _Lexicon,
        category: str | None,
        rate: float,
        names: bool,
        numbers: bool,
        caps: Iterable[str] = (),
        forced: dict[str, str] | None = None,
        synonyms: float = 0.8,
        keep: Iterable[str] = (),
        drop: bool = False,
    ) -> None:
        self.key = key
        self.lexicon = lexicon
        self.category = category
        self.rate = int(rate * 65536)
        self.synonyms = int(synonyms * 65536)
        self.keep = frozenset(keep)
        self.drop = drop
        self.names = names
        self.numbers = numbers
        self.caps = frozenset(caps)
        self.forced = forced or {}
        self.memo: dict[str, str] = {}

    def text(self, text: str) -> str:
        parts = _TOKEN_SPLIT_RE.split(text)
        words = parts[1::2]
        memo = self.memo
        for word in set(words).difference(memo):
            fixed = _FIXED_TOKENS.get(word)
            if fixed is None:
                fixed = _FIXED_TOKENS[word] = _is_fixed(word)
            memo[word] = word if fixed else self._map(word)
        parts[1::2] = [memo[word] for word in words]
        text = "".join(parts)
        return _DROPPED_GAP_RE.sub(" ", text) if self.drop else text

    def _map(self, token: str) -> str:
        if token in self.forced:
            return self.forced[token]
        if token[0].isdigit():
            return self._number(token, _hash(token, self.key)) if self.numbers else token
        if token.islower():
            if self.drop and token in _DROPPABLE:
                return ""
            if len(token) < 3 or (token in _STOPWORDS and token not in _SYNONYMS):
                return token
            return self._content(token, _hash(token, self.key))
        if len(token) == 1:
            return token
        h = _hash(token, self.key)
        if token.isupper():
            if not self.names or token in _KEEP_ACRONYMS:
                return token
            return "".join(_LETTERS[(h >> (4 * i)) % len(_LETTERS)] for i in range(min(len(token), 6)))
        low = token.lower()
        if (low in _STOPWORDS and low not in _SYNONYMS) or token in _KEEP_CAPS:
            return token
        if token not in self.caps and low in self.lexicon.lower_vocab:
            mapped = self._content(low, h)  # a capitalised common word: starts a sentence or a headline
            return mapped[:1].upper() + mapped[1:]
        if not self.names:
            return token
        name = _NAME_POOL[(h >> 8) % len(_NAME_POOL)]
        return _NAME_POOL[((h >> 8) + 1) % len(_NAME_POOL)] if name == token else name

    def _content(self, word: str, h: int) -> str:
        alternatives = _SYNONYMS.get(word)
        if alternatives is not None:
            return alternatives[(h >> 16) % len(alternatives)] if (h & 0xFFFF) < self.synonyms else word
        if len(word) < 3 or word in _STOPWORDS or word in self.keep or (h & 0xFFFF) >= self.rate:
            return word
        pool = self.lexicon.pool(self.category, self.lexicon.word_class(word))
        index = (h >> 16) % len(pool)
        replacement = pool[index]
        if replacement == word:
            replacement = pool[(index + 1) % len(pool)]
        return replacement

    @staticmethod
    def _number(token: str, h: int) -> str:
        n = len(token)
        if n == 4 and 1950 <= int(token) <= 2039:
            return str(int(token) + (h % 7) - 3)
        digits = []
        for i in range(n):
            h = _mix32(h + i + 1)
            digits.append(str(h % 10 if (i or n == 1 or token[0] == "0") else 1 + h % 9))
        if n == 1 and digits[0] == "0":
            digits[0] = str(1 + h % 9)
        return "".join(digits)


# ---------------------------------------------------------------------------------------------------------
# Outlets and their house styles
# ---------------------------------------------------------------------------------------------------------

_HEADER_LINES = (
    "{section}", "Home | News | {section}", "News › {section}", "{outlet}",
    "Published {day} {month} {year}, {hh}:{mm} GMT", "Published: {month} {day}, {year} {h12}:{mm} {ampm}",
    "Updated {weekday} {day} {month} {year} {hh}.{mm} GMT", "Last updated: {hh}:{mm}, {day} {mon} {year}",
    "{mins} min read", "Listen to this article", "Listen · {mins}:{secs} min", "Advertisement", "Breaking news",
    "Skip to main content", "Sign in | Subscribe", "{weekday}, {month} {day}, {year}", "Posted {mnum}/{dd}/{year}",
)  # fmt: skip
_HEAVY_HEADER_LINES = (
    "Home  News  Sport  Business  Weather  Opinion  Lifestyle  Puzzles",
    "Subscribe from just £1 a week", "Log in  |  Register  |  Newsletters",
    "Today's paper  ·  e-Edition  ·  Obituaries  ·  Jobs", "Weather: {temp}°C and {sky} in {place}",
    "Trending: {trend1} | {trend2}",
)  # fmt: skip
_FOOTER_LINES = (
    "Copyright {year} {outlet}. All rights reserved.",
    "© {year} {agency_long}. All rights reserved. This material may not be published, broadcast, rewritten or "
    "redistributed.",
    "Share this article", "Share this article\nFacebook Twitter WhatsApp Email", "Copy to clipboard", "Link copied",
    "Sign up for our {freq} newsletter to get the {what} delivered to your inbox.",
    "Get the {what} straight to your inbox. Sign up to our free {freq} newsletter.",
    "Follow {outlet} on Facebook, X and Instagram.", "Got a story? Email newsdesk@{domain}",
    "Topics: {topic1}, {topic2}", "Comments", "{ncomments} comments", "Report an error",
    "This story was published from a wire agency feed without modifications to the text.",
    "Originally published by {agency_long}.",
)  # fmt: skip
_HEAVY_FOOTER_LINES = (
    "About us | Contact us | Advertise | Privacy policy | Cookie settings | Terms of use",
    "{outlet} is a trading name of {group} Media Ltd, registered in England and Wales no. {regno}.",
    "All content is copyright of {group} Media. Reproduction without permission is prohibited.",
    "Download our app for the latest local news, sport and weather.",
    "Do you have a story for us? Contact the newsdesk on 0{regno} or email newsdesk@{domain}.",
)
_BYLINES_TOP = (
    "By {reporter}, {agency}", "By {REPORTER}", "{reporter} | {agency}", "From {agency}", "By {agency} reporters",
    "Staff and agencies", "By {reporter}", "{agency}", "By {reporter} and {reporter2}", "{reporter}\n{agency_long}",
)  # fmt: skip
_BYLINES_BOTTOM = (
    "Reporting by {reporter}; Editing by {editor}", "Additional reporting by {reporter2}.", "— {agency_long}",
    "With {agency}", "({reporter} reports for {agency_long}.)",
)  # fmt: skip
_DATELINES = ("{CITY} ({agency}) — ", "{City}, {month} {day} ({agency}) - ", "{City} ({agency}) – ", "{CITY}: ",
              "{CITY} -- ")  # fmt: skip
_AD_MARKERS = ("ADVERTISEMENT", "Advertisement", "- Advertisement -", "Story continues below advertisement",
               "Article continues below this ad", "SPONSORED", "Continue reading the main story")  # fmt: skip
_CAPTIONS = (
    "(Photo: {photographer}/{agency})", "Image caption, {caption}\nImage source, {agency}",
    "{caption} ({agency} Photo/{photographer})", "FILE PHOTO: {caption} {AGENCY}/{photographer}/File Photo",
    "{caption} Photograph: {photographer}/{agency}", "{caption} | Credit: {agency}",
)  # fmt: skip
_CAPTION_TEXTS = (
    "{name} speaks to reporters in {place} on {weekday}.", "{name} at an event in {place} earlier this year.",
    "A general view of {place}.", "{name}, pictured in {month} {year}.", "People gather in central {place} on {weekday}.",
    "File photo of {name}.", "The scene in {place} on {weekday} morning.",
)  # fmt: skip
_LINK_HEADINGS = ("You might also like", "Read more:", "Related stories", "More on this story",
                  "Recommended for you", "Most read", "Related:", "More from {outlet}", "What to read next")  # fmt: skip
_INLINE_LINKS = (
    "READ MORE: {headline}",
    "Read more: {headline}",
    "RELATED: {headline}",
    "Also read: {headline}",
)
_TITLE_SUFFIXES = (" | {outlet}", " - {outlet}", " – {outlet}", " — {outlet}")
_SKIES = ("sunny", "cloudy", "light rain", "showers", "clear skies", "fog")
_NEWSLETTER_FREQ = ("daily", "morning", "weekly", "evening")
_NEWSLETTER_WHAT = ("top stories", "latest news", "biggest headlines", "day's news")


@dataclass
class _Outlet:
    """One outlet's house style, fixed for the whole corpus."""

    name: str
    domain: str
    heavy: bool
    use: dict[str, float] = field(default_factory=dict)
    header: tuple[str, ...] = ()
    header_joiner: str = "\n"
    footer: tuple[str, ...] = ()
    byline: str = ""
    byline_bottom: bool = False
    dateline: str = ""
    ad_marker: str = ""
    ad_gap: float = 0.3
    caption: str = ""
    links_heading: str = ""
    links_inline: str = ""
    links_bullet: str = ""
    title_suffix: str = ""
    us_spelling: bool = False
    group: str = ""
    regno: str = ""


def _make_outlets(config: SynthConfig) -> list[_Outlet]:
    outlets: list[_Outlet] = []
    seen: set[str] = set()
    rand = _Rand(config.seed, _TAG_OUTLET)
    i = 0
    while len(outlets) < config.n_outlets:
        i += 1
        form = rand.below(6)
        if form == 0:
            name = f"The {rand.pick(_OUTLET_PLACES)} {rand.pick(_PAPERS)}"
        elif form == 1:
            name = f"{rand.pick(_OUTLET_PLACES)} {rand.pick(_PAPERS)}"
        elif form == 2:
            name = (
                f"{rand.pick(_OUTLET_PLACES)} Daily {rand.pick(('Wire', 'News', 'Post', 'Digest', 'Record'))}"
            )
        elif form == 3:
            name = (
                f"{rand.pick(_OUTLET_PLACES)} {rand.pick(('News 24', 'News Now', 'Today', 'Online', 'Live'))}"
            )
        elif form == 4:
            name = f"{rand.pick(_ONLINE_A)}{rand.pick(_ONLINE_B)}"
        else:
            name = f"{rand.pick(_OUTLET_PLACES)} {rand.pick(('FM', 'Radio', 'TV', 'Broadcasting'))}"
        if i > 50 * config.n_outlets:
            name = f"{name} {i}"  # only with absurd n_outlets: the combinations ran out
        if name in seen:
            continue
        seen.add(name)
        slug = re.sub(r"[^a-z0-9]+", "", name.lower().removeprefix("the "))
        heavy = rand.chance(config.heavy_outlet_share)
        outlet = _Outlet(name=name, domain=slug + rand.pick((".com", ".co.uk", ".news", ".net")), heavy=heavy)
        for element, share in (
            ("header", config.outlet_header),
            ("footer", config.outlet_footer),
            ("byline", config.outlet_byline),
            ("dateline", config.outlet_dateline),
            ("ads", config.outlet_ads),
            ("caption", config.outlet_captions),
            ("links", config.outlet_links),
            ("title_suffix", config.outlet_title_suffix),
        ):
            uses = heavy if element in ("header", "footer", "links") else False
            uses = uses or rand.chance(share)
            outlet.use[element] = (0.97 if heavy else rand.uniform(0.8, 0.98)) if uses else 0.02
        outlet.header = tuple(rand.sample(_HEADER_LINES, 1 + rand.below(3)))
        outlet.footer = tuple(rand.sample(_FOOTER_LINES, 1 + rand.below(4)))
        if heavy:
            outlet.header = tuple(rand.sample(_HEAVY_HEADER_LINES, 3 + rand.below(3))) + outlet.header
            outlet.footer = outlet.footer + tuple(rand.sample(_HEAVY_FOOTER_LINES, 3 + rand.below(2)))
        outlet.header_joiner = rand.pick(("\n", "\n\n"))
        outlet.byline_bottom = rand.chance(0.2)
        outlet.byline = rand.pick(_BYLINES_BOTTOM if outlet.byline_bottom else _BYLINES_TOP)
        outlet.dateline = rand.pick(_DATELINES)
        outlet.ad_marker = rand.pick(_AD_MARKERS)
        outlet.ad_gap = rand.uniform(0.2, 0.6)
        outlet.caption = rand.pick(_CAPTIONS)
        outlet.links_heading = rand.pick(_LINK_HEADINGS)
        outlet.links_inline = rand.pick(_INLINE_LINKS) if rand.chance(0.3) else ""
        outlet.links_bullet = rand.pick(("", "", "- ", "• "))
        outlet.title_suffix = rand.pick(_TITLE_SUFFIXES)
        outlet.us_spelling = rand.chance(config.outlet_us_spelling)
        outlet.group = rand.pick(_MEDIA_GROUPS)
        outlet.regno = str(1000000 + rand.below(8999999))
        outlets.append(outlet)
    return outlets


# ---------------------------------------------------------------------------------------------------------
# Copy edits: headlines, trims, updates, word edits, typos, OCR noise, reflow
# ---------------------------------------------------------------------------------------------------------

_EDIT_PAIRS = (
    ("said", "says"), ("about", "around"), ("more than", "over"), ("however", "but"), ("because", "as"),
    ("rose", "increased"), ("fell", "dropped"), ("buy", "purchase"), ("start", "begin"), ("help", "assist"),
    ("show", "indicate"), ("big", "large"), ("children", "kids"), ("people", "individuals"), ("told", "informed"),
    ("announced", "revealed"), ("expected", "anticipated"), ("nearly", "almost"), ("firm", "company"),
    ("warned", "cautioned"), ("planned", "intended"), ("quickly", "swiftly"), ("major", "significant"),
)  # fmt: skip
_US_SPELLING = (
    ("organisation", "organization"), ("programme", "program"), ("centre", "center"), ("labour", "labor"),
    ("favour", "favor"), ("colour", "color"), ("defence", "defense"), ("travelling", "traveling"),
    ("analyse", "analyze"), ("criticised", "criticized"), ("recognised", "recognized"), ("realise", "realize"),
    ("neighbour", "neighbor"), ("behaviour", "behavior"), ("cancelled", "canceled"), ("licence", "license"),
    ("per cent", "percent"), ("apologise", "apologize"), ("honour", "honor"), ("theatre", "theater"),
)  # fmt: skip
_EDIT_MAP = {a: b for a, b in _EDIT_PAIRS} | {b: a for a, b in _EDIT_PAIRS}
# one regex per spelling, run only when its word occurs: a big alternation scans far slower
_US_RES = tuple((uk, re.compile(r"\b" + uk + r"\b"), us) for uk, us in _US_SPELLING)
_OCR_CONFUSIONS = {
    "e": "c", "c": "e", "l": "1", "1": "l", "I": "l", "O": "0", "o": "0", "0": "O", "m": "rn", "n": "m",
    "h": "b", "b": "h", "u": "v", "a": "o", "s": "5", "S": "5", "B": "8", ",": ".", ".": ",", "t": "f", "i": "l",
}  # fmt: skip
_HEADLINE_PREFIXES = ("UPDATE 1-", "UPDATE 2-", "WRAPUP 1-", "Breaking: ", "WATCH: ", "LIVE: ", "Latest: ",
                      "EXCLUSIVE-", "Explainer: ")  # fmt: skip
_HEADLINE_SUFFIXES = (" - report", ", officials say", " (updated)", ": sources", " - latest", ", reports say",
                      " as it happened")  # fmt: skip
_UPDATE_SENTENCES = (
    "{NAME} later {told reporters|said in a statement} that {further details would be released on {WEEKDAY}|"
    "the figures were expected to be revised|an investigation had been opened|talks would continue next week}.",
    "{In a later statement|Speaking later on {WEEKDAY}|In an update on {WEEKDAY}}, {NAME} {said|added} that "
    "{the situation was being monitored closely|more information would follow|no decision had yet been taken}.",
    "{This story has been updated with|Updated with} {additional reporting|new figures|comment from {NAME}|"
    "details from {PLACE}}.",
    "{Officials|A spokesperson} {later confirmed|confirmed late on {WEEKDAY}} that {the number had risen to "
    "{NUMBER}|{NUMBER} more people had been affected|the review would take {NUMBER} weeks}.",
)
_UPDATE_TREES = tuple(_compile(s) for s in _UPDATE_SENTENCES)


def _expand_simple(tree: tuple, values: dict[str, str], rand: _Rand) -> str:
    out: list[str] = []

    def walk(seq: tuple) -> None:
        for part in seq:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "alt":
                walk(rand.pick(part[1]))
            else:
                out.append(values[part[1]])

    walk(tree)
    return _tidy("".join(out))


def _title_case(title: str) -> str:
    small = {"a", "an", "the", "of", "in", "on", "to", "for", "and", "or", "at", "by", "as", "with"}
    words = title.split(" ")
    return " ".join(
        w if (i and w.lower() in small) or not w[:1].isalpha() else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
    )


def _edit_headline(title: str, rand: _Rand) -> str:
    roll = rand.random()
    if roll < 0.3:
        title = rand.pick(_HEADLINE_PREFIXES) + title
    elif roll < 0.55:
        title = title.rstrip(".") + rand.pick(_HEADLINE_SUFFIXES)
    elif roll < 0.75:
        title = _title_case(title) if rand.chance(0.7) else title.upper()
    edited = _swap_word(title, rand) if roll >= 0.75 or rand.chance(0.3) else title
    if edited != title:
        title = edited
    elif roll >= 0.75:
        words = title.split(" ")
        if len(words) > 4:
            del words[rand.below(len(words))]  # subeditors shorten
        title = " ".join(words)
    return title


def _new_headline(title: str, paragraphs: list[str], names: list[str], rand: _Rand) -> str:
    """An entirely different headline, written from the body like a subeditor would."""
    text = " ".join(paragraphs[:3])
    quotes = re.findall(r"[\"“]([^\"”]{20,90})[\"”]", text)
    roll = rand.random()
    if quotes and roll < 0.35:
        quote = rand.pick(quotes).strip().rstrip(".,")
        who = names[0] if names else "Officials"
        return f'{who}: "{quote}"' if rand.chance(0.5) else f"'{quote}', says {who}"
    first = _sentences(paragraphs[0])[0] if paragraphs else title
    words = first.strip().split()
    if roll < 0.8 and len(words) > 6:
        # the lead's main clause, cut before a preposition or subordinate word, as a subeditor would
        words = words[:14]
        cut = next((i for i in range(6, len(words)) if words[i].lower() in _CLAUSE_BREAKS), len(words))
        clause = " ".join(words[:cut]).split(",")[0].rstrip(",;:.")
        if len(clause.split()) >= 4:
            return clause
    lead = names[0] if names else rand.pick(("Officials", "Residents", "Investors", "Critics"))
    return rand.pick(
        (
            f"What we know so far about {lead}",
            f"{lead} in the spotlight",
            f"Everything you need to know: {lead}",
            f"Explained: why {lead} matters",
            f"{lead}: the key questions",
        )
    )


_QUOTE_SPAN_RE = re.compile(r"(\"[^\"]*\"|“[^”]*”)")


def _outside_quotes(edit: Callable[[str], str], sentence: str) -> str:
    """Apply ``edit`` to the reported speech only: a rewrite changes its own words, not the quotes."""
    if '"' not in sentence and "“" not in sentence:
        return edit(sentence)
    parts = _QUOTE_SPAN_RE.split(sentence)
    parts[0::2] = [edit(part) if part else part for part in parts[0::2]]
    return "".join(parts)


def _key_words(paragraphs: Sequence[str], limit: int) -> list[str]:
    """The most frequent content words: the facts an independent report of the event repeats."""
    counts = Counter(w for p in paragraphs for w in _KEY_WORD_RE.findall(p) if w not in _STOPWORDS)
    return [word for word, _ in counts.most_common(limit)]


# Sentences any outlet's own report may add, whatever the story.
_FILLER_SENTENCES = (
    "The news was first reported by local media.", "{name} did not immediately respond to a request for comment.",
    "It was not immediately clear how the decision would be received.",
    "Further details are expected in the coming days.", "The development comes at a sensitive time.",
    "Reaction to the news has been mixed.", "{name} has been approached for comment.",
    "The full details have not yet been made public.", "Observers say the coming weeks will be crucial.",
    "It is the latest twist in a story that has run for months.", "Questions remain over what happens next.",
    "Here is what we know so far.", "The announcement caught many observers by surprise.",
    "It was the main topic of conversation in {place} on {weekday}.", "Critics were quick to respond.",
    "Officials promised an update later in the week.", "The story drew wide attention online.",
    "People in {place} reacted with a mixture of surprise and concern.",
    "Analysts said the full implications could take months to become clear.",
    "A spokesperson for {name} declined to give further details.",
    "The issue is expected to come up again in the coming weeks.", "Not everyone was convinced.",
    "{name} is expected to say more on {weekday}.", "The move had been widely expected.",
    "It remains to be seen how long the effects will last.", "This is a developing story.",
)  # fmt: skip
_CLAUSE_BREAKS = frozenset(
    "in on at after as which who that to from for by near with while when amid following because despite "
    "thought believed than over under into".split()
)
_KEY_WORD_RE = re.compile(r"\b[a-z]{4,}\b")
_SAID_RE = re.compile(r"\bsaid(?=[.,:]| that | on | in | it | he | she | they )")
_NUMBER_STYLES = (
    (re.compile(r"(\d)%"), (r"\1 per cent", r"\1 percent", r"\1%")),
    (re.compile(r"(\d) per ?cent\b"), (r"\1%", r"\1 percent")),
    (re.compile(r"(\d)bn\b"), (r"\1 billion", r"\1bn")),
    (re.compile(r"(\d)m\b"), (r"\1 million", r"\1m")),
    (
        re.compile(r"(\d) (billion|million)\b"),
        (lambda m: m.group(1) + ("bn" if m.group(2) == "billion" else "m"),),
    ),
)


_CONTRACTION_PAIRS = (
    ("it is", "it's"), ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("will not", "won't"),
    ("cannot", "can't"), ("we are", "we're"), ("they are", "they're"), ("that is", "that's"), ("has not", "hasn't"),
    ("have not", "haven't"), ("is not", "isn't"), ("was not", "wasn't"), ("would not", "wouldn't"),
    ("we have", "we've"), ("I am", "I'm"), ("there is", "there's"),
)  # fmt: skip
_CONTRACT = tuple((re.compile(r"\b" + re.escape(a) + r"\b"), b) for a, b in _CONTRACTION_PAIRS)
_EXPAND = tuple((re.compile(r"\b" + re.escape(b) + r"(?=\W)"), a) for a, b in _CONTRACTION_PAIRS)


def _house_style(rand: _Rand) -> Callable[[str], str]:
    """One outlet's way of writing figures and attributions ("76 per cent", "$1.1 billion", "told reporters")."""
    choices = [(pattern, rand.pick(forms)) for pattern, forms in _NUMBER_STYLES if rand.chance(0.7)]
    said = rand.pick(("said", "added", "stated", "told reporters", "explained"))
    said_share = rand.uniform(0.2, 0.6)
    contractions = _CONTRACT if rand.chance(0.5) else _EXPAND

    def apply(sentence: str) -> str:
        for pattern, form in choices:
            sentence = pattern.sub(form, sentence)
        for pattern, form in contractions:
            if pattern.search(sentence):
                sentence = pattern.sub(form, sentence)
        if "said" in sentence and rand.chance(said_share):
            sentence = _SAID_RE.sub(said, sentence, count=1)
        return sentence

    return apply


def _split_all(paragraphs: list[str]) -> list[list[str]]:
    return [_sentences(p) or [p] for p in paragraphs]


def _trim(paragraphs: list[str], rand: _Rand, brief: bool) -> list[str]:
    if brief:
        keep = paragraphs[: 1 + (len(paragraphs) > 2 and rand.chance(0.5))]
        if len(keep) == 1 and len(keep[0].split()) > 90:
            sentences = _sentences(keep[0])
            keep = [" ".join(sentences[: 2 + rand.below(2)])]
        return keep
    split = _split_all(paragraphs)
    total = sum(len(s) for s in split)
    keep_n = max(2, math.ceil(total * rand.uniform(0.4, 0.9)))
    out: list[str] = []
    for sentences in split:
        if keep_n <= 0:
            break
        out.append(" ".join(sentences[:keep_n]))
        keep_n -= len(sentences)
    return out


def _drop_sentences(paragraphs: list[str], rand: _Rand) -> list[str]:
    split = _split_all(paragraphs)
    for _ in range(1 + rand.chance(0.35)):
        candidates = [(i, j) for i, s in enumerate(split) for j in range(len(s)) if (i, j) != (0, 0)]
        if len(candidates) < 3:
            break
        i, j = rand.pick(candidates)
        del split[i][j]
    return [" ".join(s) for s in split if s]


def _update(paragraphs: list[str], names: list[str], place: str, rand: _Rand) -> list[str]:
    out = list(paragraphs)
    # changed figures: a death toll, a total, a percentage moves on
    for _ in range(1 + rand.below(3)):
        index = rand.below(len(out))
        numbers = list(_NUMBER_RE.finditer(out[index]))
        if not numbers:
            continue
        m = rand.pick(numbers)
        raw = m.group(0)
        if "," in raw or "." in raw:
            continue
        value = int(raw)
        if 1950 <= value <= 2039:
            continue
        new = max(
            1, value + max(1, round(value * rand.uniform(0.05, 0.4))) * (1 if rand.chance(0.75) else -1)
        )
        out[index] = out[index][: m.start()] + str(new) + out[index][m.end() :]
    values = {
        "NAME": names[0] if names else "A spokesperson",
        "WEEKDAY": rand.pick(_WEEKDAYS),
        "PLACE": place,
        "NUMBER": str(2 + rand.below(60)),
    }
    added = [_expand_simple(rand.pick(_UPDATE_TREES), values, rand) for _ in range(1 + rand.chance(0.4))]
    if rand.chance(0.5) or len(out) < 3:
        out.extend(added)
    else:
        out[1:1] = added
    return out


def _swap_word(text: str, rand: _Rand) -> str:
    """Swap one word for its synonym (``said`` → ``says``...); the text unchanged when none occurs."""
    words = text.split(" ")
    found = [i for i, word in enumerate(words) if word in _EDIT_MAP]
    if not found:
        return text
    i = rand.pick(found)
    words[i] = _EDIT_MAP[words[i]]
    return " ".join(words)


def _word_edits(paragraphs: list[str], rand: _Rand) -> list[str]:
    out = list(paragraphs)
    for _ in range(1 + rand.below(4)):
        index = rand.below(len(out))
        out[index] = _swap_word(out[index], rand)
    return out


def _us_spelling(paragraphs: list[str]) -> list[str]:
    out = []
    for paragraph in paragraphs:
        for uk, pattern, us in _US_RES:
            if uk in paragraph:
                paragraph = pattern.sub(us, paragraph)
        out.append(paragraph)
    return out


def _typos(paragraphs: list[str], rand: _Rand) -> list[str]:
    out = list(paragraphs)
    for _ in range(1 + rand.below(4)):
        index = rand.below(len(out))
        words = list(re.finditer(r"[A-Za-z]{4,}", out[index]))
        if not words:
            continue
        m = rand.pick(words)
        w = m.group(0)
        k = 1 + rand.below(len(w) - 2)
        kind = rand.below(4)
        if kind == 0:
            w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        elif kind == 1:
            w = w[:k] + w[k + 1 :]
        elif kind == 2:
            w = w[:k] + w[k] + w[k:]
        else:
            w = w[:k] + rand.pick("aeiounrst") + w[k + 1 :]
        out[index] = out[index][: m.start()] + w + out[index][m.end() :]
    return out


def _ocr_noise(text: str, rand: _Rand) -> str:
    rate = rand.uniform(0.01, 0.03)
    n = len(text)
    if n == 0:
        return text
    count = max(1, round(n * rate))
    positions = sorted({rand.below(n) for _ in range(count)}, reverse=True)
    chars = list(text)
    for pos in positions:
        ch = chars[pos]
        if ch == "\n":
            continue
        roll = rand.random()
        if ch in _OCR_CONFUSIONS and roll < 0.6:
            chars[pos] = _OCR_CONFUSIONS[ch]
        elif roll < 0.75:
            chars[pos] = ""
        elif roll < 0.9 and ch != " ":
            chars[pos] = ch + " "
        elif ch == " ":
            chars[pos] = ""
        else:
            chars[pos] = ch + ch
    return "".join(chars)


def _reflow(paragraphs: list[str], rand: _Rand) -> list[str]:
    out = list(paragraphs)
    if len(out) > 2 and rand.chance(0.5):
        for _ in range(1 + rand.chance(0.4)):
            if len(out) < 3:
                break
            i = rand.below(len(out) - 1)
            out[i : i + 2] = [out[i] + " " + out[i + 1]]
    else:
        for _ in range(1 + rand.chance(0.5)):
            i = rand.below(len(out))
            sentences = _sentences(out[i])
            if len(sentences) < 2:
                continue
            cut = 1 + rand.below(len(sentences) - 1)
            out[i : i + 1] = [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
    return out


# ---------------------------------------------------------------------------------------------------------
# The plan: events, sources (one per dup group) and articles, drawn up front with numpy
# ---------------------------------------------------------------------------------------------------------

_WIRE, _REWRITE, _SIBLING, _SHORT, _DIGEST = range(5)
_ROLE_NAMES = ("wire", "rewrite", "sibling", "short", "digest")


@dataclass
class _Plan:
    kind: list[int]
    story: list[int]
    text_key: list[tuple]
    """Per source: ("base", group, member, gen, forced_from) | ("synth", k, topic, frame_k) | (parent,) for a
    rewrite | (source, source, ...) for a digest."""
    refs: np.ndarray
    main_sources: np.ndarray
    """The main wire source of each event, in time order (for related links and digests)."""
    main_times: np.ndarray
    art_source: np.ndarray
    art_copy: np.ndarray
    art_time: np.ndarray
    art_outlet: np.ndarray


class _PlanRand:
    """The plan's numpy Generator (PCG64, seeded from ``config.seed``), used only through ``random()``.

    numpy keeps ``Generator.random`` stable across releases but not every distribution method, so the
    distributions the plan needs are derived from uniforms here: output bytes then depend on PCG64 alone.
    """

    def __init__(self, *key: int) -> None:
        self.gen = np.random.default_rng(key)
        self._buf: list[float] = []
        self._pos = 0

    def random(self, size: int | None = None):  # noqa: ANN201 - float or array
        if size is not None:
            return self.gen.random(size)
        if self._pos == len(self._buf):
            self._buf = self.gen.random(1024).tolist()
            self._pos = 0
        self._pos += 1
        return self._buf[self._pos - 1]

    def below(self, n: int) -> int:
        return min(n - 1, int(self.random() * n))

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def permutation(self, n: int) -> np.ndarray:
        return np.argsort(self.gen.random(n), kind="stable")

    def lognormal(self, median: float, sigma: float, size: int) -> np.ndarray:
        u1, u2 = 1.0 - self.gen.random(size), self.gen.random(size)
        return median * np.exp(sigma * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))

    def gumbel(self, size: int) -> np.ndarray:
        return -np.log(-np.log(np.maximum(self.gen.random(size), 1e-300)))

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.random()
        while p > limit and k < 1000:
            k += 1
            p *= self.random()
        return k

    def geometric(self, mean: float) -> int:
        """1, 2, 3... with the given mean (>= 1)."""
        if mean <= 1.0:
            return 1
        return 1 + int(math.log(1.0 - self.random()) / math.log(1.0 - 1.0 / mean))


class _Library:
    """Hands out distinct source texts: each (base group, generation) once; generation 0 is the base itself."""

    def __init__(self, bases: list[dict] | None, seed: int, rand: _PlanRand) -> None:
        self.seed = seed
        self.synthetic = bases is None
        self.rand = rand
        self.next_synth = 0
        if bases is None:
            return
        groups: dict[str, list[int]] = {}
        order: list[str] = []
        for i, base in enumerate(bases):
            story = base.get("story")
            label = f"story:{story}" if story is not None else f"base:{i}"
            if label not in groups:
                groups[label] = []
                order.append(label)
            groups[label].append(i)
        self.groups = [groups[label] for label in order]
        self.group_category = [bases[g[0]].get("category") for g in self.groups]
        self.by_category: dict[object, list[int]] = {}
        for g, category in enumerate(self.group_category):
            self.by_category.setdefault(category, []).append(g)
        self.next_gen = np.zeros(len(self.groups), dtype=np.int64)
        self.cycle = np.empty(0, dtype=np.int64)
        self.cycle_pos = 0

    def fresh(self) -> tuple[int, int]:
        """A new (group, generation), cycling through the groups in a shuffled order."""
        if self.cycle_pos == len(self.cycle):
            self.cycle = self.rand.permutation(len(self.groups))
            self.cycle_pos = 0
        group = int(self.cycle[self.cycle_pos])
        self.cycle_pos += 1
        return self._take(group)

    def fresh_like(self, group: int) -> tuple[int, int]:
        """A new text from another group of the same category (a different story on the same topic)."""
        candidates = self.by_category.get(self.group_category[group], [])
        if len(candidates) > 1:
            pick = candidates[self.rand.below(len(candidates))]
            if pick == group:
                pick = candidates[(candidates.index(pick) + 1) % len(candidates)]
            return self._take(pick)
        return self.fresh()

    def _take(self, group: int) -> tuple[int, int]:
        gen = int(self.next_gen[group])
        self.next_gen[group] += 1
        return group, gen


def _draw_copies(config: SynthConfig, rand: _PlanRand, size: int) -> np.ndarray:
    top = max(2, min(config.copies_max, config.n_outlets))
    k = np.arange(2, top + 1)
    weights = k ** -float(config.copies_alpha)
    cdf = np.cumsum(weights) / weights.sum()
    multi = k[np.minimum(np.searchsorted(cdf, rand.random(size), side="right"), len(k) - 1)]
    single = rand.random(size) < config.single_share
    return np.where(single, 1, multi)


def _make_plan(config: SynthConfig, library: _Library, outlets: list[_Outlet]) -> _Plan:
    rand = _PlanRand(config.seed, _TAG_PLAN)
    n = config.n_articles
    n_digest = round(n * config.digest_share)
    n_short = round(n * config.short_share)
    n_main = n - n_digest - n_short

    kind: list[int] = []
    story: list[int] = []
    text_key: list[tuple] = []
    n_copies: list[int] = []
    event_of: list[int] = []  # source -> event index (for times)
    event_main: list[int] = []  # event -> its main wire source
    synth_topic: list[str] = []

    def new_text() -> tuple:
        if library.synthetic:
            k = library.next_synth
            library.next_synth += 1
            topic = _TOPIC_NAMES[rand.below(len(_TOPIC_NAMES))]
            synth_topic.append(topic)
            return ("synth", k, topic, k)
        group, gen = library.fresh()
        return ("base", group, 0, gen, -1)

    copy_buffer = _draw_copies(config, rand, 4096)
    copy_pos = 0
    total = 0  # articles planned so far
    n_events = 0
    while total < n_main:
        if copy_pos + 64 > len(copy_buffer):
            copy_buffer = _draw_copies(config, rand, 4096)
            copy_pos = 0
        event = n_events
        n_events += 1
        story_id = event
        key = new_text()
        members = 1 if key[0] == "synth" else len(library.groups[key[1]])
        main = len(kind)
        event_main.append(main)
        for member in range(members):
            kind.append(_WIRE)
            story.append(story_id)
            text_key.append(key if member == 0 else ("base", key[1], member, key[3], -1))
            n_copies.append(int(copy_buffer[copy_pos]))
            total += n_copies[-1]
            copy_pos += 1
            event_of.append(event)
        size = n_copies[main]
        if size > 1 and rand.random() < config.rewrite_share:
            extra = rand.poisson(max(0.0, config.rewrites_mean - 1.0) * (1.0 + math.log(size) / 3.0))
            for _ in range(1 + int(extra)):
                kind.append(_REWRITE)
                story.append(story_id)
                text_key.append((main,))
                n_copies.append(rand.geometric(config.rewrite_copies_mean))
                total += n_copies[-1]
                event_of.append(event)
        if rand.random() < config.sibling_share:
            if key[0] == "synth":
                sib_key: tuple = ("synth", library.next_synth, key[2], key[3])
                library.next_synth += 1
            else:
                group, gen = library.fresh_like(key[1])
                sib_key = ("base", group, 0, gen, main)
            kind.append(_SIBLING)
            story.append(-1)  # a story of its own, numbered below
            text_key.append(sib_key)
            n_copies.append(1 + int(rand.random() < 0.3) + int(rand.random() < 0.1))
            total += n_copies[-1]
            event_of.append(event)

    # Trim the last event so the wire stories fill exactly n_main articles.
    excess = total - n_main
    for s in range(len(n_copies) - 1, -1, -1):
        if excess <= 0:
            break
        cut = min(excess, n_copies[s])
        n_copies[s] -= cut
        excess -= cut

    span = config.span_days * 86400.0
    event_time = np.sort(rand.random(n_events)) * span
    rewrite_delay = np.minimum(
        rand.lognormal(config.rewrite_delay_hours * 3600.0, 0.8, len(kind)),
        config.rewrite_delay_max_hours * 3600.0,
    ).tolist()
    source_time: list[float] = []
    for s, k in enumerate(kind):
        t = float(event_time[event_of[s]])
        if k == _REWRITE:
            t += rewrite_delay[s]
        elif k == _SIBLING:
            t = max(0.0, t + rand.uniform(-3.0, 6.0) * 86400.0)
        elif text_key[s][0] == "base" and text_key[s][2] > 0:
            t += rand.uniform(0.0, 6.0) * 3600.0  # the event's other agency files a little later
        source_time.append(t)

    # Short items and digests: their own events at random times.
    main_sources = np.asarray(event_main, dtype=np.int64)
    main_times = np.asarray([source_time[s] for s in event_main])
    for _ in range(n_short):
        kind.append(_SHORT)
        story.append(-1)
        text_key.append(new_text())
        n_copies.append(1)
        source_time.append(float(rand.random() * span))
    for _ in range(n_digest):
        t = float(rand.random() * span) + 3600.0
        hi = int(np.searchsorted(main_times, t - 1800.0))
        lo = int(np.searchsorted(main_times, t - 26 * 3600.0))
        if hi - lo < 3:
            lo, hi = max(0, hi - 6), max(hi, min(len(main_times), 6))
        count = min(hi - lo, 3 + rand.below(4))
        picks = np.sort(lo + rand.permutation(hi - lo)[:count])
        items = tuple(int(main_sources[p]) for p in picks)
        if items:
            t = max(t, max(source_time[s] for s in items) + 1800.0)
        kind.append(_DIGEST)
        story.append(-1)
        text_key.append(items)
        n_copies.append(1)
        source_time.append(t)

    next_story = n_events
    for s in range(len(story)):
        if story[s] < 0:
            story[s] = next_story
            next_story += 1

    refs = _references(kind, text_key, np.asarray(n_copies, dtype=np.int64))

    counts = np.asarray(n_copies, dtype=np.int64)
    art_source = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    art_copy = np.arange(len(art_source), dtype=np.int64) - np.repeat(starts, counts)
    base_time = np.asarray(source_time, dtype=np.float64)[art_source]
    # The first copy (the agency's own release) goes out within 20 minutes; the others follow it.
    release = (rand.random(len(counts)) * 1200.0)[art_source]
    delay = rand.lognormal(config.copy_delay_hours * 3600.0, 1.0, len(art_source))
    delay = release + np.where(art_copy == 0, 0.0, np.minimum(delay, config.copy_delay_max_hours * 3600.0))
    art_time = np.floor(base_time + delay)
    heavy = [i for i, outlet in enumerate(outlets) if outlet.heavy] or [0]
    art_outlet = _assign_outlets(config, rand, counts, np.asarray(kind, dtype=np.int64), heavy)
    return _Plan(
        kind, story, text_key, refs, main_sources, main_times, art_source, art_copy, art_time, art_outlet
    )


def _references(kind: list[int], text_key: list[tuple], copies: np.ndarray) -> np.ndarray:
    """How often each source text will be asked for: by its copies, and once by each rewrite and digest
    built from it (``copies`` counts only the copies that will be rendered). Siblings only peek at their
    target's names (see ``_Renderer._peek``)."""
    refs = copies.copy()
    for s in np.flatnonzero(copies).tolist():
        k = kind[s]
        if k == _REWRITE:
            refs[text_key[s][0]] += 1
        elif k == _DIGEST:
            for item in text_key[s]:
                refs[item] += 1
    return refs


def _assign_outlets(
    config: SynthConfig, rand: _PlanRand, counts: np.ndarray, kinds: np.ndarray, heavy: list[int]
) -> np.ndarray:
    """Distinct outlets for the copies of each source, popular outlets more often (Gumbel top-k)."""
    n_out = config.n_outlets
    weights = 1.0 / (np.arange(n_out) + 8.0) ** 0.9
    log_w = np.log(weights / weights.sum())
    cdf = np.cumsum(weights) / weights.sum()
    outlets = np.empty(int(counts.sum()), dtype=np.int64)
    pos = 0
    singles = np.minimum(np.searchsorted(cdf, rand.random(len(counts)), side="right"), n_out - 1)
    for s, k in enumerate(counts.tolist()):
        if k == 0:
            continue
        if kinds[s] == _SHORT:
            outlets[pos] = heavy[rand.below(len(heavy))]
        elif k == 1:
            outlets[pos] = singles[s]
        else:
            keys = log_w + rand.gumbel(n_out)
            top = np.argpartition(-keys, min(k, n_out) - 1)[: min(k, n_out)]
            chosen = top[np.argsort(-keys[top])]
            if k > n_out:  # more copies than outlets: some outlets carry it twice
                chosen = np.concatenate([chosen, (rand.random(k - n_out) * n_out).astype(np.int64)])
            outlets[pos : pos + k] = chosen
        pos += k
    return outlets


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """A source text, ready to copy: headline, paragraphs, names, and the wire's byline facts."""

    title: str
    paragraphs: list[str]
    category: str | None
    names: list[str]
    respun: bool
    place: str
    """The dateline city, upper case."""
    caps: frozenset[str] = frozenset()
    """Capitalised words used mid-sentence (names), for remapping."""
    people: list[str] = field(default_factory=list)
    """Two-word names ("Philippe Sella"), most mentioned first: who captions and updates talk about."""

    @classmethod
    def of(cls, title: str, paragraphs: list[str], category: str | None, respun: bool, place: str) -> _Source:
        counts = _mid_caps(paragraphs)
        names = [name for name, _ in counts.most_common(4)]
        return cls(title, paragraphs, category, names, respun, place, frozenset(counts), _people(paragraphs))

    @property
    def who(self) -> list[str]:
        return self.people or self.names


class _Renderer:
    """Turns planned articles into records; keeps a source text only while references to it are pending."""

    def __init__(
        self,
        bases: list[dict] | None,
        config: SynthConfig,
        plan: _Plan,
        library: _Library,
        outlets: list[_Outlet],
    ) -> None:
        self.bases = bases
        self.config = config
        self.plan = plan
        self.seed = config.seed
        self.outlets = outlets
        self.lexicon = _Lexicon(bases if bases is not None else synthetic_bases(300, config.seed))
        self.cache: dict[int, _Source] = {}
        self.titles: dict[int, str] = {}  # headlines for related-link blocks, small enough to keep
        self.main_times = plan.main_times.tolist()
        self.main_sources = plan.main_sources.tolist()
        self.refs = plan.refs.copy()
        self.start = _parse_start(config.start)
        if bases is not None:
            self.library_groups = library.groups
            self.library_category = library.group_category
            self.library_by_category = library.by_category
        self.id_width = max(7, len(str(config.n_articles)))
        self.dup_width = max(7, len(str(len(plan.kind))))
        self.story_width = max(6, len(str(max(plan.story, default=0))))

    # -- source texts -------------------------------------------------------------------------------------

    def source(self, s: int) -> _Source:
        cached = self.cache.get(s)
        if cached is None:
            cached = self._build(s)
        self.refs[s] -= 1
        if self.refs[s] > 0:
            self.cache[s] = cached
        else:
            self.cache.pop(s, None)
        return cached

    def _peek(self, s: int) -> _Source:
        """A source text without counting a reference: cached, or built and dropped."""
        cached = self.cache.get(s)
        return cached if cached is not None else self._build(s)

    def _build(self, s: int) -> _Source:
        plan = self.plan
        kind, key = plan.kind[s], plan.text_key[s]
        if kind == _REWRITE:
            return self._rewrite(s, self.source(key[0]))
        if kind == _DIGEST:
            raise AssertionError("digests are rendered directly")
        if key[0] == "synth":
            title, paragraphs, city = _synthetic_article(self.seed, key[1], key[2], key[3])
            return _Source.of(title, paragraphs, key[2], False, city.upper())
        _, group, member, gen, forced_from = key
        base = self.bases[self.library_groups[group][member]]
        category = base.get("category")
        title, paragraphs = base.get("title") or "", _paragraphs(base["text"])
        forced = None
        if forced_from >= 0:
            target = self._peek(forced_from)
            own = _names_by_count(paragraphs, 2)
            forced = dict(zip(own, target.names[: len(own)], strict=False))
        if gen == 0 and not forced:
            return _Source.of(title, paragraphs, category, False, self._place(s, paragraphs))
        title, paragraphs = self._respin(group, member, gen, title, paragraphs, category, forced)
        return _Source.of(title, paragraphs, category, gen > 0, self._place(s, paragraphs))

    def _respin(
        self,
        group: int,
        member: int,
        gen: int,
        title: str,
        paragraphs: list[str],
        category: str | None,
        forced: dict[str, str] | None,
    ) -> tuple[str, list[str]]:
        # Names, numbers and word choices are keyed by (group, gen) so two agencies' texts of one event
        # keep sharing their (new) names; sentence mixing is keyed by the member.
        if gen > 0:
            rand = _Rand(self.seed, _TAG_SOURCE, group, member, gen)
            split = _split_all(paragraphs)
            donors = self._donor_sentences(group, rand)
            for i, sentences in enumerate(split):
                for j in range(len(sentences)):
                    if (i, j) != (0, 0) and donors and rand.chance(self.config.respin_mix_share):
                        sentences[j] = donors.pop()
                if i > 0 and len(sentences) > 1 and rand.chance(0.5):
                    rand.shuffle(sentences)
            body = split[1:]
            if len(body) > 1 and rand.chance(0.4):
                rand.shuffle(body)
            paragraphs = [" ".join(s) for s in [split[0], *body]]
        remap = _Remapper(
            _key(self.seed, _TAG_SOURCE, group, gen),
            self.lexicon,
            category,
            self.config.respin_word_share if gen > 0 else 0.0,
            names=gen > 0,
            numbers=gen > 0,
            caps=_mid_caps(paragraphs),
            forced=forced,
        )
        return self._respun_title(group, gen, title, category, forced), [remap.text(p) for p in paragraphs]

    def _respun_title(
        self, group: int, gen: int, title: str, category: str | None, forced: dict[str, str] | None = None
    ) -> str:
        """The headline of generation ``gen`` of a base, from the headline alone (related-link blocks need
        it without building the text). Same key as the body, so names map the same way."""
        if gen == 0 and not forced:
            return title
        remap = _Remapper(
            _key(self.seed, _TAG_SOURCE, group, gen),
            self.lexicon,
            category,
            self.config.respin_word_share if gen > 0 else 0.0,
            names=gen > 0,
            numbers=gen > 0,
            caps=_mid_caps([title]),
            forced=forced,
        )
        return remap.text(title)

    def _donor_sentences(self, group: int, rand: _Rand) -> list[str]:
        candidates = self.library_by_category.get(self.library_category[group]) or [group]
        donor = candidates[rand.below(len(candidates))]
        if donor == group and len(candidates) > 1:
            donor = candidates[(candidates.index(donor) + 1) % len(candidates)]
        if donor == group:
            return []
        base = self.bases[self.library_groups[donor][0]]
        sentences = [s for p in _paragraphs(base["text"])[1:] for s in _sentences(p)]
        rand.shuffle(sentences)
        return sentences

    def _rewrite(self, s: int, wire: _Source) -> _Source:
        """An independent report of the same event: same names, figures and key nouns; new words and order."""
        rand = _Rand(self.seed, _TAG_SOURCE, 1 << 40, s)
        remap = _Remapper(
            _key(self.seed, _TAG_SOURCE, 1 << 40, s),
            self.lexicon,
            wire.category,
            self.config.rewrite_word_share,
            names=False,
            numbers=False,
            caps=wire.caps,
            synonyms=0.95,
            keep=_key_words(wire.paragraphs, 5),
            drop=True,
        )
        sentences = [x for p in wire.paragraphs for x in (_sentences(p) or [p])]
        lead, rest = sentences[0], sentences[1:]
        rest = [x for x in rest if not rand.chance(0.45)] or rest[:1]
        for i in range(len(rest) - 1):
            if rand.chance(0.35):
                rest[i], rest[i + 1] = rest[i + 1], rest[i]
        quoted = [i for i, x in enumerate(rest) if '"' in x or "“" in x]
        if len(quoted) > self.config.rewrite_quotes_max:
            dropped = set(rand.sample(quoted, len(quoted) - self.config.rewrite_quotes_max))
            rest = [x for i, x in enumerate(rest) if i not in dropped]
        new = [remap.text(lead)]
        if new[0].endswith(".") and " said" not in new[0] and " says" not in new[0] and rand.chance(0.6):
            attribution = rand.pick(("officials said", "according to reports", "a statement said",
                                     "it has emerged", "sources said", "it was reported"))  # fmt: skip
            new[0] = new[0][:-1] + ", " + attribution + "."
        style = _house_style(rand)
        new += [style(_outside_quotes(remap.text, x)) for x in rest]
        new[0] = style(new[0])
        fill = {
            "name": wire.who[0] if wire.who else "The organisation",
            "place": wire.place.title(),
            "weekday": rand.pick(_WEEKDAYS),
        }
        for _ in range(2 + rand.below(3)):
            new.insert(1 + rand.below(len(new)), rand.pick(_FILLER_SENTENCES).format_map(fill))
        paragraphs = [new[0]]
        i = 1
        while i < len(new):
            take = 1 + (rand.random() < 0.5) + (rand.random() < 0.2)
            paragraphs.append(" ".join(new[i : i + take]))
            i += take
        if rand.chance(0.5):
            title = _new_headline(wire.title, paragraphs, wire.who, rand)
        else:
            heavy = _Remapper(remap.key, self.lexicon, wire.category, 0.5, False, False, caps=wire.caps,
                              synonyms=1.0, keep=remap.keep)  # fmt: skip
            title = heavy.text(wire.title)
        return _Source(
            title, paragraphs, wire.category, wire.names, wire.respun, wire.place, wire.caps, wire.people
        )

    # -- articles -----------------------------------------------------------------------------------------

    def article(self, position: int, a: int) -> dict:
        plan = self.plan
        s = int(plan.art_source[a])
        copy = int(plan.art_copy[a])
        t = float(plan.art_time[a])
        outlet = self.outlets[int(plan.art_outlet[a])]
        kind = plan.kind[s]
        rand = _Rand(self.seed, _TAG_COPY, a)
        if kind == _DIGEST:
            title, text, variant = self._digest(s, outlet, t, rand)
        else:
            src = self.source(s)
            title, text, variant = self._copy(s, src, copy, kind, outlet, t, rand)
        return {
            "id": f"{self.config.id_prefix}{position:0{self.id_width}d}",
            "title": title,
            "text": text,
            "outlet": outlet.name,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.start + t)),
            "truth_dup": f"dup-{s:0{self.dup_width}d}",
            "truth_story": f"story-{plan.story[s]:0{self.story_width}d}",
            "variant": variant,
        }

    def _copy(
        self, s: int, src: _Source, copy: int, kind: int, outlet: _Outlet, t: float, rand: _Rand
    ) -> tuple[str, str, list[str]]:
        cfg = self.config
        variant = [_ROLE_NAMES[kind]]
        if src.respun:
            variant.append("respin")
        if self.bases is None:
            variant.append("synthetic")
        paragraphs = list(src.paragraphs)
        title = src.title
        if kind == _SHORT:
            first = _sentences(paragraphs[0]) or paragraphs[:1]
            paragraphs = [" ".join(first[: 1 + rand.chance(0.5)])]
            if len(paragraphs[0].split()) > 70:
                paragraphs = [" ".join(paragraphs[0].split()[:50]).rstrip(",;") + "."]
        if copy == 0:
            variant.append("first")
        else:
            if rand.chance(cfg.p_headline_new):
                title = _new_headline(title, paragraphs, src.who, rand)
                variant.append("headline_new")
            elif rand.chance(cfg.p_headline_edit / max(1e-9, 1.0 - cfg.p_headline_new)):
                title = _edit_headline(title, rand)
                variant.append("headline_edit")
            if kind != _SHORT:
                if rand.chance(cfg.p_brief):
                    paragraphs = _trim(paragraphs, rand, brief=True)
                    variant.append("brief")
                elif rand.chance(cfg.p_trim / max(1e-9, 1.0 - cfg.p_brief)):
                    paragraphs = _trim(paragraphs, rand, brief=False)
                    variant.append("trim")
                if rand.chance(cfg.p_drop_sentence):
                    dropped = _drop_sentences(paragraphs, rand)
                    if dropped != paragraphs:
                        paragraphs = dropped
                        variant.append("drop_sentence")
                if rand.chance(cfg.p_update):
                    paragraphs = _update(paragraphs, src.who, src.place.title(), rand)
                    variant.append("update")
            if rand.chance(cfg.p_edit):
                paragraphs = _word_edits(paragraphs, rand)
                variant.append("edit")
            if rand.chance(cfg.p_typos):
                paragraphs = _typos(paragraphs, rand)
                variant.append("typos")
            if rand.chance(cfg.p_reflow) and len(paragraphs) > 1:
                paragraphs = _reflow(paragraphs, rand)
                variant.append("reflow")
            if rand.chance(cfg.p_ocr):
                paragraphs = [_ocr_noise(p, rand) for p in paragraphs]
                title = _ocr_noise(title, rand)
                variant.append("ocr")
        if outlet.us_spelling and rand.chance(0.9):
            spelled = _us_spelling(paragraphs)
            if spelled != paragraphs:
                paragraphs = spelled
                variant.append("spelling")
        title, text = self._dress(s, src, title, paragraphs, outlet, t, rand, variant, short=kind == _SHORT)
        return title, text, variant

    def _dress(
        self,
        s: int,
        src: _Source | None,
        title: str,
        paragraphs: list[str],
        outlet: _Outlet,
        t: float,
        rand: _Rand,
        variant: list[str],
        short: bool = False,
        dateline: bool = True,
    ) -> tuple[str, str]:
        """Wrap the body in the outlet's house style: header, byline, dateline, captions, ads, links, footer."""
        use = outlet.use
        ctx = self._context(s, src, outlet, t, rand)
        blocks: list[str] = []
        always = short and outlet.heavy
        if always or rand.chance(use["header"]):
            blocks.append(outlet.header_joiner.join(line.format_map(ctx) for line in outlet.header))
            variant.append("header")
        byline = None
        if rand.chance(use["byline"]):
            byline = outlet.byline.format_map(ctx)
            variant.append("byline")
            if not outlet.byline_bottom:
                blocks.append(byline)
        body = list(paragraphs)
        if dateline and body and rand.chance(use["dateline"]):
            body[0] = outlet.dateline.format_map(ctx) + body[0]
            variant.append("dateline")
        if rand.chance(use["caption"]):
            ctx["caption"] = rand.pick(_CAPTION_TEXTS).format_map(ctx)
            caption = outlet.caption.format_map(ctx)
            body.insert(min(len(body), rand.below(2)), caption)
            variant.append("caption")
        if len(body) > 1 and rand.chance(use["ads"]):
            with_ads = [body[0]]
            for paragraph in body[1:]:
                if rand.chance(outlet.ad_gap):
                    with_ads.append(outlet.ad_marker)
                with_ads.append(paragraph)
            if len(with_ads) == len(body):
                with_ads.insert(1, outlet.ad_marker)
            body = with_ads
            variant.append("ads")
        if always or rand.chance(use["links"]):
            headlines = self._other_headlines(s, t, rand, 2 + rand.below(4))
            if outlet.links_inline and len(body) > 2:
                body.insert(1 + rand.below(len(body) - 1), outlet.links_inline.format(headline=headlines[0]))
            else:
                heading = outlet.links_heading.format_map(ctx)
                block = "\n".join([heading] + [outlet.links_bullet + h for h in headlines])
                body.insert(len(body) if rand.chance(0.6) else max(1, len(body) // 2), block)
            variant.append("links")
        blocks.extend(body)
        if byline is not None and outlet.byline_bottom:
            blocks.append(byline)
        if always or rand.chance(use["footer"]):
            blocks.extend(line.format_map(ctx) for line in outlet.footer)
            variant.append("footer")
        if rand.chance(use["title_suffix"]):
            title = title + outlet.title_suffix.format(outlet=outlet.name)
            variant.append("title_suffix")
        return title, "\n\n".join(blocks)

    def _context(self, s: int, src: _Source | None, outlet: _Outlet, t: float, rand: _Rand) -> _Context:
        return _Context(self, s, src, outlet, t, rand)

    def _place(self, s: int, paragraphs: Sequence[str] = ()) -> str:
        """The dateline city: the first well-known place the text names, else one drawn for the source."""
        for paragraph in paragraphs[:3]:
            for candidate in _PLACE_CANDIDATE_RE.findall(paragraph):
                city = _GAZETTEER.get(candidate) or _GAZETTEER.get(candidate.split(" ")[0])
                if city:
                    return city
        for paragraph in paragraphs[:2]:
            for candidate in _IN_PLACE_RE.findall(paragraph):
                if candidate.split(" ")[0] not in _KEEP_CAPS:
                    return candidate.upper()
        return _WIRE_CITIES[_key(self.seed, _TAG_SOURCE, 9, s) % len(_WIRE_CITIES)]

    def _other_headlines(self, s: int, t: float, rand: _Rand, count: int) -> list[str]:
        """Headlines of other stories from the past few days (what related-link blocks list)."""
        plan = self.plan
        hi = bisect.bisect_left(self.main_times, t)
        lo = bisect.bisect_left(self.main_times, t - 4 * 86400.0)
        if hi - lo < count + 2:
            lo, hi = 0, len(plan.main_sources)
        out: list[str] = []
        for _ in range(3 * count):
            other = self.main_sources[lo + rand.below(hi - lo)]
            headline = self._headline_of(other) if other != s else ""
            if headline and headline not in out:
                out.append(headline)
                if len(out) == count:
                    return out
        return (out + ["More top stories", "Latest news", "Most read today", "In pictures"])[:count]

    def _headline_of(self, s: int) -> str:
        title = self.titles.get(s)
        if title is None:
            title = self.titles[s] = self._compute_headline(s)
        return title

    def _compute_headline(self, s: int) -> str:
        plan = self.plan
        while plan.kind[s] in (_REWRITE, _DIGEST):
            key = plan.text_key[s]
            if plan.kind[s] == _DIGEST:
                if not key:
                    return "News in brief"
                s = key[0]
            else:
                s = key[0]
        key = plan.text_key[s]
        if key[0] == "synth":
            return _synthetic_article(self.seed, key[1], key[2], key[3], title_only=True)[0]
        if key[4] >= 0:
            return self._peek(s).title  # a sibling's headline takes its target's names
        _, group, member, gen, _ = key
        base = self.bases[self.library_groups[group][member]]
        return self._respun_title(group, gen, base.get("title") or "", base.get("category"))

    def _digest(self, s: int, outlet: _Outlet, t: float, rand: _Rand) -> tuple[str, str, list[str]]:
        items = self.plan.text_key[s]
        when = time.gmtime(self.start + t)
        part = "morning" if when.tm_hour < 12 else "evening"
        lines = []
        headlines = []
        for item in items:
            src = self.source(item)
            first = _sentences(src.paragraphs[0]) or src.paragraphs[:1]
            headlines.append(src.title)
            lines.append(src.title + "\n" + " ".join(first[: 1 + rand.chance(0.4)]))
        lead = headlines[0] if headlines else "the day's news"
        title = rand.pick(
            (
                f"{outlet.name} {part} briefing: {lead} and more",
                f"News in brief: {when.tm_mday} {_MONTHS[when.tm_mon - 1]}",
                f"{len(items)} things to know this {_WEEKDAYS[when.tm_wday]} {part}",
                f"The day's top stories: {lead}",
                f"Catch up: {lead}",
            )
        )
        intro = rand.pick(
            (
                f"Good {part}. Here are the stories making headlines today.",
                "Here is what you need to know.",
                f"Our round-up of the news this {_WEEKDAYS[when.tm_wday]}.",
            )
        )
        variant = ["digest"]
        if self.bases is None:
            variant.append("synthetic")
        paragraphs = [intro, *lines]
        title, text = self._dress(s, None, title, paragraphs, outlet, t, rand, variant, dateline=False)
        return title, text, variant


_FIRST_ALL = tuple(_FEMALE + _MALE)
_FIRST_NAMES = frozenset(_FIRST_ALL)
_TIME_FIELDS = frozenset("year month mon mnum day dd weekday hh mm h12 ampm".split())
_SOURCE_FIELDS = frozenset(
    "agency AGENCY agency_long reporter REPORTER place CITY City section topic1 _names".split()
)


class _Context(dict):
    """The fields outlet templates may use for one article, each computed on first use."""

    def __init__(
        self, renderer: _Renderer, s: int, src: _Source | None, outlet: _Outlet, t: float, rand: _Rand
    ):
        super().__init__(outlet=outlet.name, domain=outlet.domain, group=outlet.group, regno=outlet.regno)
        self.renderer, self.s, self.src, self.t, self.rand = renderer, s, src, t, rand

    def __missing__(self, key: str) -> str:
        rand = self.rand
        if key in _TIME_FIELDS:
            when = time.gmtime(self.renderer.start + self.t)
            month = _MONTHS[when.tm_mon - 1]
            self.update(
                year=str(when.tm_year), month=month, mon=month[:3], mnum=f"{when.tm_mon:02d}",
                day=str(when.tm_mday), dd=f"{when.tm_mday:02d}", weekday=_WEEKDAYS[when.tm_wday],
                hh=f"{when.tm_hour:02d}", mm=f"{when.tm_min:02d}", h12=str(when.tm_hour % 12 or 12),
                ampm="a.m." if when.tm_hour < 12 else "p.m.",
            )  # fmt: skip
        elif key in _SOURCE_FIELDS:
            # The wire's agency, reporter and dateline are facts of the source: every copy prints the same.
            h = _key(self.renderer.seed, _TAG_SOURCE, 7, self.s)
            agency, agency_long = _AGENCIES[h % len(_AGENCIES)]
            reporter = f"{_FIRST_ALL[(h >> 4) % len(_FIRST_ALL)]} {_SURNAMES[(h >> 11) % len(_SURNAMES)]}"
            src = self.src
            place = src.place if src is not None else self.renderer._place(self.s)
            section = _CATEGORY_SECTIONS.get(str(src.category if src is not None else None), "Top Stories")
            self.update(
                agency=agency, AGENCY=agency.upper(), agency_long=agency_long, reporter=reporter,
                REPORTER=reporter.upper(), place=place.title(), CITY=place, City=place.title(), section=section,
                topic1=section, _names=(src.who if src is not None and src.who else [reporter]),
            )  # fmt: skip
        elif key in ("reporter2", "editor", "photographer"):
            self[key] = f"{rand.pick(_FIRST_ALL)} {rand.pick(_SURNAMES)}"
        elif key in ("name", "topic2"):
            self[key] = rand.pick(self["_names"])
        elif key in ("trend1", "trend2"):
            self["trend1"], self["trend2"] = self.renderer._other_headlines(self.s, self.t, rand, 2)
        else:
            simple = {
                "mins": lambda: str(2 + rand.below(9)),
                "secs": lambda: f"{rand.below(60):02d}",
                "temp": lambda: str(rand.below(30)),
                "sky": lambda: rand.pick(_SKIES),
                "freq": lambda: rand.pick(_NEWSLETTER_FREQ),
                "what": lambda: rand.pick(_NEWSLETTER_WHAT),
                "ncomments": lambda: str(rand.below(400)),
            }
            if key not in simple:
                raise KeyError(f"outlet template field {{{key}}} is not defined")
            self[key] = simple[key]()
        return self[key]


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def generate_corpus(
    bases: Iterable[dict] | None, config: SynthConfig | None = None, part: tuple[int, int] = (0, 1)
) -> Iterator[dict]:
    """Stream a labelled wire-copy corpus of exactly ``config.n_articles`` records, in publication order.

    ``bases`` are dicts with ``title`` and ``text`` (paragraphs separated by blank lines), such as
    :func:`load_bases` returns; ``None`` uses the built-in generator of fictional news. Optional base fields:
    ``category`` (bases of one category are the "same topic" hard negatives and share respin vocabulary)
    and ``story`` (bases with equal ``story`` are independent reports of one event: same ``truth_story``).
    Bases must be distinct texts: near-duplicate bases would be labelled as different groups.

    ``part=(i, k)`` yields only the i-th of k consecutive slices of the corpus, byte-identical to that slice
    of the whole: run the k parts in k processes and concatenate them in order to build a large corpus
    faster (each process still plans the whole corpus, which takes seconds even for a million records).

    Each record: ``id``, ``title``, ``text``, ``outlet``, ``published_at`` (ISO-8601 UTC, ``Z``) and the truth:
    ``truth_dup`` (copies of one source text), ``truth_story`` (the event) and ``variant`` (what was applied;
    see :data:`VARIANT_KINDS`).

    >>> records = list(generate_corpus(None, SynthConfig(n_articles=50, n_outlets=20, seed=1)))
    >>> len(records), len({r["id"] for r in records})
    (50, 50)
    """
    config = config or SynthConfig()
    base_list = None if bases is None else _check_bases(bases)
    library = _Library(base_list, config.seed, _PlanRand(config.seed, _TAG_PLAN, 1))
    outlets = _make_outlets(config)
    plan = _make_plan(config, library, outlets)
    index, count = part
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        raise ValueError(f"part is {part!r}, expected (i, k) with 0 <= i < k")
    order = np.lexsort((np.arange(len(plan.art_time)), plan.art_time))
    lo, hi = len(order) * index // count, len(order) * (index + 1) // count
    if (lo, hi) != (0, len(order)):
        copies = np.bincount(plan.art_source[order[lo:hi]], minlength=len(plan.kind))
        plan.refs = _references(plan.kind, plan.text_key, copies)
    renderer = _Renderer(base_list, config, plan, library, outlets)
    return (renderer.article(lo + k, int(a)) for k, a in enumerate(order[lo:hi].tolist()))


def _check_bases(bases: Iterable[dict]) -> list[dict]:
    out = []
    for i, base in enumerate(bases):
        if not isinstance(base, dict):
            raise TypeError(f"bases[{i}] is a {type(base).__name__}, expected a dict with 'title' and 'text'")
        text = base.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"bases[{i}]: field 'text' is {type(text).__name__ if not isinstance(text, str) else 'empty'}, "
                "expected a non-empty string (load_bases skips such records)"
            )
        title = base.get("title", "")
        if title is not None and not isinstance(title, str):
            raise ValueError(f"bases[{i}]: field 'title' is a {type(title).__name__}, expected a string")
        out.append(base)
    if not out:
        raise ValueError("bases is empty: pass at least one article, or None for the built-in generator")
    return out


def load_bases(path: str | Path, pairs: str | Path | None = None, find_pairs: bool = True) -> list[dict]:
    """Read base articles from JSONL (``title``, ``text``; ``id``, ``category``, ``story`` kept if present).

    Records with an empty text are skipped, and so are exact repeats of an earlier body. Near-duplicates
    are dropped from a pairs file (JSONL with ``a`` and ``b`` ids; the ``b`` article of each pair goes):
    ``pairs``, or else, when ``find_pairs``, a ``*duplicate_pairs.jsonl`` beside ``path`` whose name
    matches it (``bbc_articles.jsonl`` → ``bbc_duplicate_pairs.jsonl``).

    >>> bases = load_bases("shared/data/bbc_articles.jsonl")  # doctest: +SKIP
    >>> len(bases)  # 2,225 articles less 157 duplicates  # doctest: +SKIP
    2068
    """
    path = Path(path)
    if pairs is None and find_pairs:
        pairs = _find_pairs_file(path)
    drop: set[str] = set()
    if pairs is not None:
        for lineno, record in _read_jsonl(Path(pairs)):
            if "b" not in record:
                raise ValueError(f"{pairs}:{lineno}: no field 'b' (a pairs file has one pair per line: a, b)")
            drop.add(str(record["b"]))
    out: list[dict] = []
    seen_bodies: set[str] = set()
    for lineno, record in _read_jsonl(path):
        text = record.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{path}:{lineno}: field 'text' is a {type(text).__name__}, expected a string")
        if not text or not text.strip():
            continue
        if record.get("id") is not None and str(record["id"]) in drop:
            continue
        body = " ".join(text.lower().split())
        if body in seen_bodies:
            continue
        seen_bodies.add(body)
        base = {"title": str(record.get("title") or ""), "text": text}
        for name in ("id", "category", "story"):
            if record.get(name) is not None:
                base[name] = record[name]
        out.append(base)
    if not out:
        raise ValueError(f"{path}: no usable bases (every record lacked a 'text' string)")
    return out


def _find_pairs_file(path: Path) -> Path | None:
    stem = path.stem
    candidates = []
    if "articles" in stem:
        candidates.append(path.with_name(stem.replace("articles", "duplicate_pairs") + ".jsonl"))
    candidates.append(path.with_name(stem + "_duplicate_pairs.jsonl"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise ValueError(
                    f"{path}:{lineno}: not valid JSON ({error}); each line must be one JSON object"
                ) from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: a {type(record).__name__}, expected a JSON object")
            yield lineno, record
