"""Shared builders for the stage-1 tests: small invented wire stories and the copies outlets make of them.

Every story here is fictional (invented places, people and companies). A story is a headline and a
list of paragraphs; :func:`article` turns one into a JSON record the way an outlet would publish it
(own headline, byline, header and footer lines, ADVERTISEMENT breaks, related-link blocks).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class Story:
    headline: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


FLOOD_BARRIER = Story(
    "Kestrel Bay flood barrier fails first winter test",
    (
        "The tidal barrier built to protect the harbour town of Kestrel Bay failed to close during "
        "Tuesday's storm surge, leaving more than 300 homes on the waterfront flooded to knee height.",
        "Engineers said a hydraulic valve on the northern gate jammed about forty minutes before high "
        "tide, and crews were unable to free it by hand before the water came over the quay.",
        "The barrier cost 48 million crowns and was opened by the regional governor, Alma Verhoeven, "
        "only eight months ago, with the promise that it would end a century of winter floods.",
        "Residents spent Wednesday pumping water out of cellars and carrying ruined furniture into the "
        "streets, where the council has parked skips along the length of Anchor Row.",
        '"We were told this could never happen again," said Piet Osterkamp, who has run a bakery on the '
        "quay for 22 years and lost two ovens and a week of flour to the sea water.",
        "The contractor, Duinwerk Marine, said in a statement that it was investigating the fault and "
        "that a second, independent inspection of both gates would begin on Friday morning.",
        "The council has opened the sports hall on Mill Lane as a shelter and says about 40 people "
        "stayed there overnight, most of them elderly residents of the lower town.",
        "Forecasters expect another spring tide on Sunday, and the council said it would stack sandbags "
        "along the quay wall as a precaution whether or not the barrier has been repaired by then.",
    ),
)

BATTERY_RECALL = Story(
    "Orrin Systems recalls 90,000 laptop batteries over fire risk",
    (
        "Orrin Systems is recalling about 90,000 laptop batteries sold over the past two years after "
        "dozens of reports that the packs swelled, overheated or caught fire while charging.",
        "The company said the fault lies in a batch of cells supplied by a single factory and affects "
        "only its Lumen 14 and Lumen 16 models sold between March 2022 and June 2024.",
        "Customers can check whether their battery is affected by entering its serial number on the "
        "company's website, and will be sent a free replacement with a prepaid return box.",
        "Regulators said they had received 61 reports of overheating, including four small fires that "
        "damaged furniture, but no reports of serious injuries so far.",
        "Orrin's chief executive, Dara Finnegan, apologised to customers and said the recall would cost "
        "the company roughly 30 million dollars, most of it in the current quarter.",
        "Shares in the company fell by nearly six percent in early trading before recovering some of the "
        "losses by the close of the market on Thursday afternoon.",
        "Analysts said the recall was unlikely to dent demand for the newer Lumen range, which uses cells "
        "from a different supplier and has not been linked to any of the reported incidents.",
    ),
)

MOTH_SPECIES = Story(
    "Volunteers find new moth species in Greyfell National Park",
    (
        "A group of volunteer naturalists has found a moth species never described before in the "
        "ancient pine woods of Greyfell National Park, the park authority said on Monday.",
        "The small brown moth, which has a distinctive silver band across each forewing, was caught in "
        "a light trap during an overnight survey last July near the shore of Lake Ambry.",
        "Specimens were sent to the university museum in Harrowgate, where entomologists compared them "
        "with thousands of preserved moths before concluding that it was new to science.",
        "The team has proposed naming it after Edith Carrow, a retired schoolteacher who has led the "
        "park's moth surveys every summer for more than thirty years.",
        "Park rangers said the discovery showed how much remained unknown even in a well visited place, "
        "and asked walkers to stay on marked paths in the woods during the breeding season.",
        "The findings will be published next month in a regional natural history journal, and further "
        "surveys are planned to find out how widely the moth is spread across the pine woods.",
    ),
)

# The same topic as FLOOD_BARRIER, written independently: shares names and facts, not text.
FLOOD_ANALYSIS = Story(
    "Why Kestrel Bay's new barrier could not hold back the sea",
    (
        "When the storm surge reached Kestrel Bay on Tuesday night, the gates that were meant to seal "
        "the harbour stayed open, and the sea did what it has done for a hundred years.",
        "The 48 million crown project was the centrepiece of Governor Alma Verhoeven's coastal plan, and "
        "she had spoken at the opening of a barrier that would keep the lower town dry for good.",
        "Hydraulic engineers who reviewed the design for this newspaper said the single pump serving "
        "each gate left no backup if a valve stuck, a risk flagged in a report two years ago.",
        "Duinwerk Marine, which built the barrier, declined to comment on the report but said all of its "
        "work had been approved by the national coastal agency before construction started.",
        "For the people of Anchor Row the engineering debate matters less than the damp walls and the "
        "insurance forms, and many say they no longer trust promises about the sea.",
        "The regional assembly will hold an emergency session next week, where opposition members plan "
        "to ask why the warnings in the earlier report were not acted upon.",
    ),
)

CYCLING_RACE = Story(
    "Local rider wins Tour of the Marches after late attack",
    (
        "Jonas Eckhart won the Tour of the Marches on Sunday after a solo attack on the final climb to "
        "Windle Pass carried him clear of the leading group with four kilometres to race.",
        "The 24-year-old, who grew up in the valley below the pass, finished 38 seconds ahead of the "
        "defending champion and took the leader's green jersey for the first time.",
        "Crowds lined the road for the last ten kilometres, and many had painted his name on the tarmac "
        "in the days before the stage, as local fans have done for riders for decades.",
        "Eckhart said he had ridden the climb hundreds of times in training and knew exactly where the "
        "gradient eased, which allowed him to hold his lead on the descent into town.",
        "His team manager called it the best ride of his career and said the team would now aim for a "
        "place in the national championships at the end of the summer.",
        "The race, now in its 41st year, covers six stages through the hill country of the Marches and "
        "attracts about 120 riders from amateur and professional teams.",
    ),
)

# An outlet's footer: the same three lines under every article it publishes.
COURIER_FOOTER = [
    "Sign up to the Lakeside Courier morning email for the day's top stories from around the lake and the "
    "hills, delivered before breakfast every weekday.",
    "The Lakeside Courier is an independent newspaper owned by its readers. Tips and corrections can be "
    "sent to the newsdesk at any time of day or night.",
    "Lakeside Courier Media Group is registered in the county of Ambry under company number 4471902, with "
    "offices on the High Street.",
]

STORIES = (FLOOD_BARRIER, BATTERY_RECALL, MOTH_SPECIES, FLOOD_ANALYSIS, CYCLING_RACE)


def article(
    id,
    story: Story | None = None,
    *,
    title: str | None = None,
    paragraphs: Sequence[str] | None = None,
    outlet: str | None = None,
    published_at=None,
    header: Sequence[str] = (),
    footer: Sequence[str] = (),
    **extra,
) -> dict:
    """A JSON record for one article: ``header`` lines, the paragraphs, then ``footer`` lines."""
    paras = list(paragraphs if paragraphs is not None else story.paragraphs if story else ())
    record = {
        "id": id,
        "title": title if title is not None else story.headline if story else "",
        "text": "\n\n".join([*header, *paras, *footer]),
    }
    if outlet is not None:
        record["outlet"] = outlet
    if published_at is not None:
        record["published_at"] = published_at
    record.update(extra)
    return record


def with_typos(paragraphs: Sequence[str]) -> list[str]:
    """Small edits a copy desk makes: a typo, a changed word, a dropped clause."""
    out = list(paragraphs)
    out[0] = out[0].replace("more than", "over").replace("about", "around")
    out[1] = out[1].replace("said", "sadi", 1)
    out[-1] = out[-1].replace(" and", ",", 1)
    return out


def wire_copies(story: Story, prefix: str) -> list[dict]:
    """Seven outlets' versions of one wire story, the way they appear in a news dump."""
    p = list(story.paragraphs)
    return [
        article(f"{prefix}-wire", story, outlet="Wire Service", published_at="2024-03-05T06:00:00Z"),
        article(
            f"{prefix}-herald",
            title=f"{story.headline.split()[0]} news: what happened and what comes next",
            paragraphs=p,
            outlet="Northern Herald",
            published_at="2024-03-05T07:12:00+01:00",
            header=["By Marta Lindqvist, Wire Service", "Photo: Harbour Archive/Wire Service"],
            footer=["© 2024 Northern Herald. All rights reserved."],
        ),
        article(
            f"{prefix}-gazette",
            title=story.headline.upper(),
            paragraphs=[*p[:3], "ADVERTISEMENT", *p[3:6], "Advertisement", *p[6:]],
            outlet="Valley Gazette",
            published_at=1709625600,  # 2024-03-05T08:00:00Z
            header=["Share this article", "Facebook Twitter WhatsApp", "Copy to clipboard"],
        ),
        article(
            f"{prefix}-post",
            title="Breaking: " + story.headline.lower(),
            paragraphs=[
                *p[:2],
                "You might also like:",
                "Mayor opens new library wing",
                "Council votes on parking charges",
                "Weather warning for the weekend",
                *p[2:],
            ],
            outlet="City Post",
            published_at="Tue, 05 Mar 2024 09:30:00 +0000",
        ),
        article(
            f"{prefix}-trim",
            story,
            paragraphs=p[:-2],
            outlet="Morning Record",
            published_at="2024-03-05T10:00:00",
        ),
        article(
            f"{prefix}-brief",
            title="In brief",
            paragraphs=p[:2],
            outlet="Daily Digest",
            published_at="2024-03-05T11:00:00Z",
        ),
        article(
            f"{prefix}-edited",
            story,
            paragraphs=with_typos(p),
            outlet="Coastal Times",
            published_at="2024-03-05T12:00:00Z",
        ),
    ]


def partition(ids: Iterable, groups: Iterable) -> frozenset[frozenset]:
    """A grouping as a set of sets of ids, independent of labels and order."""
    by_group: dict = {}
    for i, g in zip(ids, groups, strict=True):
        by_group.setdefault(g, set()).add(i)
    return frozenset(frozenset(members) for members in by_group.values())


def result_partition(result) -> frozenset[frozenset]:
    return partition(result.ids, [result.ids[c] for c in result.canonical.tolist()])


def group_of(result, article_id) -> set:
    """All ids in the same dup group as ``article_id``."""
    index = result.ids.index(article_id)
    c = result.canonical[index]
    return {result.ids[i] for i in np.flatnonzero(result.canonical == c)}


def write_jsonl(path: Path, records: Iterable, *, gz: bool = False) -> Path:
    data = "".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data.encode("utf-8"))
    else:
        path.write_bytes(data.encode("utf-8"))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def build_corpus() -> list[dict]:
    """Two wire stories copied by seven outlets each, plus independent articles (one on the same topic)."""
    return [
        *wire_copies(FLOOD_BARRIER, "flood"),
        *wire_copies(BATTERY_RECALL, "battery"),
        article("analysis", FLOOD_ANALYSIS, outlet="Northern Herald", published_at="2024-03-06T08:00:00Z"),
        article("moth", MOTH_SPECIES, outlet="Valley Gazette", published_at="2024-03-04T09:00:00Z"),
        article("race", CYCLING_RACE, outlet="City Post"),
    ]


@pytest.fixture
def corpus() -> list[dict]:
    return build_corpus()


@pytest.fixture(scope="session")
def static_dir(tmp_path_factory):
    """A cache directory holding the distilled static model (distilled once per test session)."""
    from dedup.static import static_model_path

    cache = tmp_path_factory.mktemp("static-cache")
    static_model_path(cache)
    return cache
