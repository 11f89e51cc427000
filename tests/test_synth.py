"""Tests for dedup.synth: determinism, exact counts, consistent truth, variant rates, distinct respins."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.synth import VARIANT_KINDS, SynthConfig, generate_corpus, load_bases, synthetic_bases

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROLES = ("wire", "rewrite", "sibling", "short", "digest")
FIELDS = ["id", "title", "text", "outlet", "published_at", "truth_dup", "truth_story", "variant"]
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# No outlet dressing: the record text is then exactly the (edited) source text.
PLAIN = {
    name: 0.0
    for name in (
        "outlet_header", "outlet_footer", "outlet_byline", "outlet_dateline", "outlet_ads", "outlet_captions",
        "outlet_links", "outlet_title_suffix", "outlet_us_spelling", "heavy_outlet_share",
    )
}  # fmt: skip
NO_EDITS = {
    name: 0.0
    for name in (
        "p_headline_edit", "p_headline_new", "p_brief", "p_trim", "p_update", "p_edit", "p_typos", "p_ocr",
        "p_reflow", "p_drop_sentence",
    )
}  # fmt: skip


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word 5-grams as in shared/data's duplicate pairs: lower case, split on whitespace, punctuation kept."""
    words = text.lower().split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def corpus(bases, **fields) -> list[dict]:
    return list(generate_corpus(bases, SynthConfig(**fields)))


@pytest.fixture(scope="module")
def wire_bases() -> list[dict]:
    return load_bases(FIXTURES / "wire_stories.jsonl")


@pytest.fixture(scope="module")
def big_corpus() -> list[dict]:
    """3,000 records from the built-in generator with default rates: enough to measure rates."""
    return corpus(None, n_articles=3000, seed=11)


# --- determinism and counts ------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(wire_bases):
    first = [orjson.dumps(r) for r in generate_corpus(wire_bases, SynthConfig(n_articles=200, seed=5))]
    again = [orjson.dumps(r) for r in generate_corpus(wire_bases, SynthConfig(n_articles=200, seed=5))]
    other = [orjson.dumps(r) for r in generate_corpus(wire_bases, SynthConfig(n_articles=200, seed=6))]
    assert first == again
    assert first != other
    assert sum(a == b for a, b in zip(first, other, strict=True)) < 10


@pytest.mark.parametrize("n", [0, 1, 2, 7, 137, 1000])
def test_exact_count_unique_ids_and_fields(n):
    records = corpus(None, n_articles=n, seed=n, n_outlets=50)
    assert len(records) == n
    assert len({r["id"] for r in records}) == n
    for record in records:
        assert list(record) == FIELDS
        assert ISO_UTC.match(record["published_at"])
        assert record["variant"][0] in ROLES
        assert set(record["variant"]) <= set(VARIANT_KINDS)
        assert record["title"] and record["text"]
    times = [r["published_at"] for r in records]
    assert times == sorted(times), "records come in publication order"


@settings(max_examples=12, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 10_000), outlets=st.integers(2, 30))
def test_invariants_hold_for_any_small_corpus(n, seed, outlets):
    records = corpus(None, n_articles=n, seed=seed, n_outlets=outlets, copies_max=max(2, outlets))
    assert len(records) == n
    assert len({r["id"] for r in records}) == n
    story_of = {}
    for record in records:
        assert story_of.setdefault(record["truth_dup"], record["truth_story"]) == record["truth_story"]


def test_parts_concatenate_to_the_whole(wire_bases):
    config = SynthConfig(n_articles=400, seed=2)
    whole = [orjson.dumps(r) for r in generate_corpus(wire_bases, config)]
    parts = [orjson.dumps(r) for i in range(3) for r in generate_corpus(wire_bases, config, part=(i, 3))]
    assert parts == whole
    with pytest.raises(ValueError, match="part"):
        generate_corpus(wire_bases, config, part=(3, 3))


# --- truth -----------------------------------------------------------------------------------------------


def test_copies_share_their_source_text_and_story(big_corpus):
    groups = collections.defaultdict(list)
    for record in big_corpus:
        groups[record["truth_dup"]].append(record)
    for members in groups.values():
        assert len({r["truth_story"] for r in members}) == 1
        assert len({r["variant"][0] for r in members}) == 1
        firsts = [r for r in members if "first" in r["variant"]]
        assert len(firsts) <= 1
    # Every copy keeps a good part of its source: a third of its 5-grams or of the first copy's are shared,
    # unless it was cut, updated or reflowed, and even then some.
    checked = 0
    for members in groups.values():
        first = next((r for r in members if "first" in r["variant"]), None)
        if first is None:
            continue
        body = shingles(first["text"])
        for copy in members:
            if copy is first or {"ocr", "typos"} & set(copy["variant"]):
                continue  # noise can break every 5-gram of a one-sentence brief
            other = shingles(copy["text"])
            shared = len(body & other) / min(len(body), len(other))  # containment: boilerplate differs
            assert shared > 0.0
            if not {"brief", "trim", "drop_sentence", "update", "reflow"} & set(copy["variant"]):
                assert shared > 0.3, (first["text"], copy["text"])
                checked += 1
    assert checked > 200


def test_rewrites_share_the_story_but_not_the_dup_group(wire_bases):
    records = corpus(wire_bases, n_articles=1500, seed=3, **PLAIN, **NO_EDITS)
    wires = {}
    for record in records:
        if record["variant"][0] == "wire":
            wires.setdefault(record["truth_story"], record)
    rewrites = [r for r in records if r["variant"][0] == "rewrite"]
    assert len(rewrites) > 30
    similarity = []
    for rewrite in rewrites:
        wire = wires.get(rewrite["truth_story"])
        if wire is None:
            continue  # its wire story fell outside the trimmed end of the corpus
        assert rewrite["truth_dup"] != wire["truth_dup"]
        similarity.append(jaccard(rewrite["text"], wire["text"]))
    assert max(similarity) < 0.45
    assert sum(similarity) / len(similarity) < 0.25


def test_independent_base_reports_of_one_event_share_a_story(wire_bases):
    # wire_stories.jsonl holds two reports of four of its six events (same "story" field)
    records = corpus(wire_bases, n_articles=300, seed=4, sibling_share=0.0, **PLAIN)
    titles = {b["title"]: b["story"] for b in wire_bases}
    story_of_event = collections.defaultdict(set)
    dup_of_title = collections.defaultdict(set)
    for record in records:
        if "first" in record["variant"] and record["title"] in titles:
            story_of_event[titles[record["title"]]].add(record["truth_story"])
            dup_of_title[record["title"]].add(record["truth_dup"])
    pairs = [e for e, s in collections.Counter(b["story"] for b in wire_bases).items() if s == 2]
    seen = 0
    for event in pairs:
        if len([t for t, e in titles.items() if e == event and t in dup_of_title]) == 2:
            assert len(story_of_event[event]) == 1, event
            seen += 1
    assert seen >= 2


def test_hard_negatives_are_their_own_groups(big_corpus):
    by_role = collections.defaultdict(list)
    for record in big_corpus:
        by_role[record["variant"][0]].append(record)
    assert len(by_role["short"]) == round(3000 * SynthConfig().short_share)
    assert len(by_role["digest"]) == round(3000 * SynthConfig().digest_share)
    wire_stories = {r["truth_story"] for r in by_role["wire"]}
    for role in ("short", "digest", "sibling"):
        assert by_role[role], role
        for record in by_role[role]:
            assert record["truth_story"] not in wire_stories
    for role in ("short", "digest"):
        dups = [r["truth_dup"] for r in by_role[role]]
        assert len(set(dups)) == len(dups), f"each {role} is its own group"


def test_short_items_share_mainly_their_outlets_boilerplate(big_corpus):
    shorts = collections.defaultdict(list)
    for record in big_corpus:
        if record["variant"][0] == "short":
            shorts[record["outlet"]].append(record)
    pairs = [(a, b) for items in shorts.values() for a, b in itertools.combinations(items, 2)]
    assert pairs, "some heavy-boilerplate outlet carries two short items"
    assert max(jaccard(a["text"], b["text"]) for a, b in pairs) > 0.3  # boilerplate dominates
    assert all(a["truth_dup"] != b["truth_dup"] for a, b in pairs)


def test_timestamps_follow_the_event(big_corpus):
    def hours(stamp: str) -> float:
        return float(stamp[8:10]) * 24 + float(stamp[11:13]) + float(stamp[14:16]) / 60

    firsts, wire_first = {}, {}
    for record in big_corpus:
        if "first" in record["variant"]:
            firsts[record["truth_dup"]] = record["published_at"]
            if record["variant"][0] == "wire":
                wire_first.setdefault(record["truth_story"], record["published_at"])
    config = SynthConfig()
    for record in big_corpus:
        first = firsts.get(record["truth_dup"])
        if first is None:
            continue
        assert record["published_at"] >= first
        if record["published_at"][:7] == first[:7]:
            assert hours(record["published_at"]) - hours(first) <= config.copy_delay_max_hours + 1
        if record["variant"][0] == "rewrite" and "first" in record["variant"]:
            wire = wire_first.get(record["truth_story"])
            if wire and wire[:7] == record["published_at"][:7]:
                assert 0 <= hours(record["published_at"]) - hours(wire) <= config.rewrite_delay_max_hours + 1


# --- variants --------------------------------------------------------------------------------------------


def test_each_variant_appears_at_its_configured_rate(big_corpus):
    config = SynthConfig()
    copies = [r for r in big_corpus if "first" not in r["variant"] and r["variant"][0] != "digest"]
    count = collections.Counter(v for r in copies for v in r["variant"])
    n = len(copies)
    assert n > 1500
    for kind, p in [
        ("headline_new", config.p_headline_new),
        ("headline_edit", config.p_headline_edit),
        ("brief", config.p_brief),
        ("trim", config.p_trim),
        ("update", config.p_update),
        ("edit", config.p_edit),
        ("typos", config.p_typos),
        ("ocr", config.p_ocr),
        ("reflow", config.p_reflow),
        ("drop_sentence", config.p_drop_sentence),
    ]:
        # tolerance: sampling noise plus the few copies where an edit finds nothing to change
        assert 0.5 * p * n <= count[kind] <= 1.3 * p * n + 10, (kind, count[kind] / n, p)

    everything = collections.Counter(v for r in big_corpus for v in r["variant"])
    for kind, share in [
        ("header", config.outlet_header),
        ("footer", config.outlet_footer),
        ("byline", config.outlet_byline),
        ("dateline", config.outlet_dateline),
        ("ads", config.outlet_ads),
        ("caption", config.outlet_captions),
        ("links", config.outlet_links),
        ("title_suffix", config.outlet_title_suffix),
    ]:
        # an outlet that uses an element applies it to ~90% of its articles; popular outlets weigh more
        rate = everything[kind] / len(big_corpus)
        assert 0.4 * share <= rate <= min(1.0, 1.6 * share + 0.05), (kind, rate, share)

    missing = set(VARIANT_KINDS) - set(everything) - {"respin"}  # the built-in generator never runs out
    assert not missing


def test_all_variant_kinds_appear_on_real_bases(wire_bases):
    records = corpus(wire_bases, n_articles=2500, seed=8)
    seen = {v for r in records for v in r["variant"]}
    assert seen == set(VARIANT_KINDS) - {"synthetic"}


def test_a_variant_at_zero_never_appears(wire_bases):
    records = corpus(wire_bases, n_articles=500, seed=9, p_ocr=0.0, outlet_ads=0.0, heavy_outlet_share=0.0)
    assert not any("ocr" in r["variant"] for r in records)
    # outlets without ads still show one now and then (2% of their articles): house styles are not absolute
    assert sum("ads" in r["variant"] for r in records) < 0.05 * len(records)


def test_different_headline_does_not_hide_a_copy(big_corpus):
    groups = collections.defaultdict(set)
    for record in big_corpus:
        groups[record["truth_dup"]].add(record["title"])
    renamed = [r for r in big_corpus if "headline_new" in r["variant"]]
    assert renamed
    assert all(len(groups[r["truth_dup"]]) > 1 or "first" in r["variant"] for r in renamed)


# --- distinct bases --------------------------------------------------------------------------------------


def test_respun_bases_are_new_texts(wire_bases):
    # 10 bases, 400 articles: most source texts must be respun from them
    records = corpus(
        wire_bases, n_articles=400, seed=12, **PLAIN, **NO_EDITS, rewrite_share=0.0, sibling_share=0.0
    )
    sources = {}
    for record in records:
        if record["variant"][0] == "wire":
            sources.setdefault(record["truth_dup"], record)
    respun = [r["text"] for r in sources.values() if "respin" in r["variant"]]
    assert len(respun) > 40
    originals = [b["text"] for b in wire_bases]
    to_original = [max(jaccard(text, o) for o in originals) for text in respun]
    assert max(to_original) < 0.25
    assert sum(to_original) / len(to_original) < 0.1
    between = [jaccard(a, b) for a, b in itertools.combinations(respun, 2)]
    assert max(between) < 0.25
    assert sum(between) / len(between) < 0.05
    # and they still read like the news they came from: most words are ordinary English
    words = re.findall(r"[a-z]+", " ".join(respun))
    assert sum(w in {"the", "of", "and", "to", "in", "a", "said"} for w in words) / len(words) > 0.12


def test_builtin_bases_are_distinct_news():
    bases = synthetic_bases(80, seed=3)
    assert {b["category"] for b in bases} >= {"business", "politics", "sport", "technology"}
    for base in bases:
        assert base["title"] and len(base["text"].split()) > 50
        assert "{" not in base["text"] and "}" not in base["text"]
    same_topic = [
        jaccard(a["text"], b["text"])
        for a, b in itertools.combinations(bases, 2)
        if a["category"] == b["category"]
    ]
    assert max(same_topic) < 0.3
    assert sum(same_topic) / len(same_topic) < 0.05


def test_works_without_bases():
    records = corpus(None, n_articles=300, seed=1)
    assert len(records) == 300
    assert all("synthetic" in r["variant"] for r in records)
    assert len({r["truth_dup"] for r in records}) > 50


# --- fixtures and real data ------------------------------------------------------------------------------


def test_fixture_articles_parse_and_match_regeneration(tmp_path):
    committed = (FIXTURES / "articles.jsonl").read_bytes()
    assert len(committed) < 300_000
    records = [orjson.loads(line) for line in committed.splitlines()]
    assert 60 <= len(records) <= 120
    for record in records:
        assert list(record) == FIELDS
    # the exact command in fixtures/README.md, in a fresh interpreter (another hash seed, same bytes)
    out = tmp_path / "articles.jsonl"
    subprocess.run(
        [sys.executable, str(FIXTURES / "make_fixtures.py"), "--out", str(out)],
        check=True,
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert out.read_bytes() == committed, (
        "fixtures/articles.jsonl is stale: run python fixtures/make_fixtures.py"
    )


def test_fixture_bases_are_our_own_text():
    bases = [orjson.loads(line) for line in (FIXTURES / "wire_stories.jsonl").read_bytes().splitlines()]
    assert 8 <= len(bases) <= 12
    for base in bases:
        assert 4 <= base["text"].count("\n\n") + 1 <= 7
    if (SHARED_DATA / "bbc_articles.jsonl").exists():
        bbc = load_bases(SHARED_DATA / "bbc_articles.jsonl")
        bbc_shingles = set().union(*(shingles(b["text"]) for b in bbc))
        fixture_text = (FIXTURES / "articles.jsonl").read_text(encoding="utf-8")
        fixture_shingles = shingles(fixture_text)
        assert len(fixture_shingles & bbc_shingles) < 0.01 * len(fixture_shingles)


def test_bbc_bases():
    path = SHARED_DATA / "bbc_articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present (shared data is not shipped)")
    bases = load_bases(path)
    assert len(bases) == 2225 - 157  # the set's own duplicate pairs are dropped
    assert load_bases(path, find_pairs=False).__len__() > len(bases)
    records = corpus(bases, n_articles=4000, seed=1)
    assert len(records) == 4000
    assert len({r["id"] for r in records}) == 4000
    roles = collections.Counter(r["variant"][0] for r in records)
    assert set(roles) == set(ROLES)
    story_of = {}
    for record in records:
        assert story_of.setdefault(record["truth_dup"], record["truth_story"]) == record["truth_story"]
    assert any("respin" in r["variant"] for r in records)


# --- inputs and config -----------------------------------------------------------------------------------


def test_load_bases_drops_duplicates_and_explains_errors(tmp_path):
    path = tmp_path / "mine_articles.jsonl"
    rows = [
        {"id": "a", "title": "One", "text": "First text.\n\nMore."},
        {"id": "b", "title": "Two", "text": "Second text."},
        {"id": "c", "title": "One again", "text": "first  TEXT.\n\nmore."},  # same body, other case
        {"id": "d", "title": "Empty", "text": ""},
        {"id": "e", "title": "Near", "text": "Second text, edited."},
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    assert [b["id"] for b in load_bases(path)] == ["a", "b", "e"]
    (tmp_path / "mine_duplicate_pairs.jsonl").write_bytes(orjson.dumps({"a": "b", "b": "e"}) + b"\n")
    assert [b["id"] for b in load_bases(path)] == ["a", "b"]
    assert [b["id"] for b in load_bases(path, find_pairs=False)] == ["a", "b", "e"]
    path.write_bytes(path.read_bytes() + b"{not json\n")
    with pytest.raises(ValueError, match=r"mine_articles.jsonl:6: not valid JSON"):
        load_bases(path)


def test_bad_bases_and_config_say_what_is_wrong():
    with pytest.raises(ValueError, match="'text'"):
        list(generate_corpus([{"title": "x", "text": ["a list"]}], SynthConfig(n_articles=3)))
    with pytest.raises(ValueError, match="empty"):
        generate_corpus([], SynthConfig(n_articles=3))
    with pytest.raises(ValueError, match="p_trim is 1.5"):
        SynthConfig(p_trim=1.5)
    with pytest.raises(ValueError, match="start"):
        SynthConfig(start="yesterday")
    config = SynthConfig(n_articles=10)
    assert str(config) == "synth-n10-s0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
