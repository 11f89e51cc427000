"""Shared builders for the stage-2 tests: a small corpus of invented events, and the model loaded once.

Every event, place, person and company here is fictional. Each event has two or three reports written
independently (same names and facts, different words), and some reports are republished by other
outlets as wire copies (same text, the outlet's own headline and boilerplate), so stage 1 has dup
groups to fold and stage 2 has distinct articles to group into stories.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from dedup.embed import load_embedder as _load_embedder  # the real loader, before any test patches it

# -- the events ---------------------------------------------------------------------------------------

DAM = {
    "dam-wire": (
        "Crack in Ferrow dam spillway forces evacuation of Marlow Ridge",
        [
            "Engineers ordered the evacuation of about 2,000 residents of Marlow Ridge on Tuesday after a "
            "crack was found in the spillway of the Ferrow Valley dam, which holds back a reservoir upstream.",
            "The crack, about four metres long, was spotted by an inspector from Halden Water during a routine "
            "check of the concrete channel that carries overflow water past the dam wall.",
            "Police closed the road along the Ferrow River and opened the school gymnasium in nearby Ostby as a "
            "shelter for families who had nowhere else to stay overnight.",
            '"There is no immediate danger of a collapse, but we are not taking any chances," said Halden Water '
            "chief engineer Brigit Solberg, adding that the reservoir was being drained slowly.",
            "The dam was built in 1968 and last strengthened eleven years ago. Halden Water said divers would "
            "examine the base of the spillway on Wednesday once the water level had dropped.",
        ],
    ),
    "dam-local": (
        "Marlow Ridge families spend night in Ostby school as Ferrow dam is drained",
        [
            "Hundreds of families from Marlow Ridge slept on camp beds in an Ostby school gym on Tuesday night "
            "after being told to leave their homes below the Ferrow Valley dam.",
            "Halden Water, which runs the reservoir, found a long crack in the concrete spillway that morning and "
            "began letting water out of the lake to take pressure off the structure.",
            "Brigit Solberg, the company's chief engineer, told residents at a packed meeting that the dam was "
            "not about to fail, but that nobody would be allowed back until divers had checked it.",
            "Many evacuees said they had heard rumours about cracks for years. One farmer said the valley had "
            "been promised repairs to the 1968 dam after every wet winter he could remember.",
        ],
    ),
    "dam-followup": (
        "Divers find Ferrow dam spillway crack deeper than feared",
        [
            "Divers inspecting the Ferrow Valley dam found that the crack in its spillway runs deeper into the "
            "concrete than first thought, Halden Water said on Wednesday evening.",
            "Chief engineer Brigit Solberg said the reservoir would be kept low for weeks while repairs were "
            "planned, and that Marlow Ridge residents could not yet return to their homes.",
            "The evacuees remain in the school gymnasium in Ostby, where volunteers have set up a kitchen and the "
            "council has brought in extra beds and blankets.",
        ],
    ),
}

OUTAGE = {
    "outage-wire": (
        "Brightwater Telecom network outage cuts off millions of mobile users",
        [
            "Millions of Brightwater Telecom customers lost mobile phone and data service for most of Wednesday "
            "after a software update to the operator's core network went wrong, the company said.",
            "Calls to emergency numbers were also affected in some regions, and several hospitals reported that "
            "staff pagers running on the Brightwater network had stopped working for hours.",
            "Chief executive Ilse Moravec apologised in a video statement and promised that customers would "
            "receive a credit on their next bill, saying the faulty update had been rolled back.",
            "The telecoms regulator said it had asked Brightwater for a full report within fourteen days and "
            "would consider whether the company had breached the conditions of its licence.",
        ],
    ),
    "outage-analysis": (
        "How one bad update took down Brightwater's mobile network",
        [
            "For most of Wednesday, phones on the Brightwater Telecom network showed no signal at all, and "
            "engineers spent hours tracing the fault to a routine update of the core routing software.",
            "Ilse Moravec, Brightwater's chief executive, said the change had passed every test before it was "
            "pushed out, and that the company would now review how updates are rolled out in stages.",
            "The regulator has demanded a report on the outage, which also disrupted emergency calls and left "
            "hospital pagers silent in several regions, and could fine the operator under its licence.",
        ],
    ),
}

THEFT = {
    "theft-wire": (
        "Painting stolen from Harwick Gallery in overnight raid",
        [
            "Thieves broke into the Harwick Gallery in the port city of Selbourne overnight and took a "
            "seventeenth-century landscape painting by Anneke Voss, police said on Thursday.",
            "The burglars entered through a skylight, disabled an alarm sensor and were inside the building for "
            "less than six minutes, according to footage from the gallery's security cameras.",
            "The painting, View of the Selbourne Estuary, had been valued at about four million crowns and was "
            "the centrepiece of the gallery's collection of Dutch-style landscapes.",
            "Gallery director Tomas Riedel said staff were devastated and appealed to anyone offered the work to "
            "contact the police, adding that it would be impossible to sell openly.",
        ],
    ),
    "theft-local": (
        "Selbourne police hunt skylight burglars after Voss landscape vanishes",
        [
            "Detectives in Selbourne are searching for a gang who lowered themselves through a skylight at the "
            "Harwick Gallery and escaped with a landscape painting by Anneke Voss.",
            "Tomas Riedel, the gallery's director, said the thieves knew exactly which picture they wanted and "
            "ignored several other valuable works hanging in the same room.",
            "Police said the raid took only minutes and that the alarm had been partly disabled. The stolen "
            "canvas, a view of the Selbourne estuary, is thought to be worth four million crowns.",
        ],
    ),
}

FINAL = {
    "final-wire": (
        "Velden Rovers win cup final with stoppage-time header",
        [
            "Velden Rovers won the national cup for the first time in 40 years on Saturday, beating Drammor "
            "United 2-1 with a header from defender Kasimir Lund deep into stoppage time.",
            "Drammor had taken the lead through a penalty shortly after half-time, and Rovers equalised with a "
            "long-range shot from captain Emil Haga with fifteen minutes left to play.",
            "Thousands of fans who had travelled from Velden sang in the stands long after the final whistle, "
            "and the team will parade the trophy through the town centre on Sunday.",
            "Rovers manager Petra Nyholm said the win was reward for a squad that had been tipped for relegation "
            "at the start of the season and had lost two of its best players in January.",
        ],
    ),
    "final-report": (
        "Lund's late header ends Velden Rovers' 40-year wait for the cup",
        [
            "Kasimir Lund rose highest at a corner in the fourth minute of added time to give Velden Rovers a 2-1 "
            "victory over Drammor United and the club's first cup in four decades.",
            "Emil Haga had levelled the final with a fierce strike from outside the area after Drammor went ahead "
            "from the penalty spot early in the second half.",
            "Manager Petra Nyholm, whose side was expected to struggle this season, said she had never seen a "
            "dressing room so happy, and promised the Velden fans a party in the town on Sunday.",
        ],
    ),
}

EVENTS = {"dam": DAM, "outage": OUTAGE, "theft": THEFT, "final": FINAL}

# publication times of the independent reports (UTC), all within three days
TIMES = {
    "dam-wire": "2024-04-02T07:00:00Z",
    "dam-local": "2024-04-02T21:30:00Z",
    "dam-followup": "2024-04-03T19:00:00Z",
    "outage-wire": "2024-04-03T10:00:00Z",
    "outage-analysis": "2024-04-03T18:00:00Z",
    "theft-wire": "2024-04-04T06:00:00Z",
    "theft-local": "2024-04-04T12:00:00Z",
    "final-wire": "2024-04-02T20:00:00Z",
    "final-report": "2024-04-02T22:00:00Z",
}

OUTLETS = {
    "dam-wire": "Wire Service",
    "dam-local": "Ferrow Valley Echo",
    "dam-followup": "Northern Herald",
    "outage-wire": "Wire Service",
    "outage-analysis": "Tech Weekly",
    "theft-wire": "Wire Service",
    "theft-local": "Selbourne Evening Post",
    "final-wire": "Wire Service",
    "final-report": "Sports Desk",
}

# which event each article id belongs to (wire copies included)
EVENT_OF: dict[str, str] = {}


def report(article_id: str) -> dict:
    """One independent report as a JSON record."""
    event = article_id.split("-")[0]
    title, paragraphs = EVENTS[event][article_id]
    EVENT_OF[article_id] = event
    return {
        "id": article_id,
        "title": title,
        "text": "\n\n".join(paragraphs),
        "outlet": OUTLETS[article_id],
        "published_at": TIMES[article_id],
    }


def copy_of(source_id: str, suffix: str, outlet: str, published_at: str, *, title: str | None = None) -> dict:
    """An outlet's wire copy of a report: its own headline, header and footer, the same paragraphs."""
    event = source_id.split("-")[0]
    headline, paragraphs = EVENTS[event][source_id]
    article_id = f"{source_id}-{suffix}"
    EVENT_OF[article_id] = event
    return {
        "id": article_id,
        "title": title if title is not None else headline.upper(),
        "text": "\n\n".join(
            [
                "Share this article",
                f"By staff and agencies, {outlet}",
                *paragraphs,
                f"(c) 2024 {outlet}. All rights reserved.",
            ]
        ),
        "outlet": outlet,
        "published_at": published_at,
    }


def build_events() -> list[dict]:
    """The stage-2 corpus: 9 independent reports of 4 events and 5 wire copies, in publication order."""
    records = [report(article_id) for article_id in TIMES]
    records += [
        copy_of("dam-wire", "herald", "Northern Herald", "2024-04-02T08:15:00Z"),
        copy_of("dam-wire", "gazette", "Valley Gazette", "2024-04-02T09:00:00Z", title="Dam alert"),
        copy_of("outage-wire", "post", "City Post", "2024-04-03T11:30:00Z"),
        copy_of("theft-wire", "herald", "Northern Herald", "2024-04-04T07:10:00Z"),
        copy_of("final-wire", "gazette", "Valley Gazette", "2024-04-02T23:00:00Z"),
    ]
    return sorted(records, key=lambda r: r["published_at"])


CANONICAL_OF = {
    "dam-wire-herald": "dam-wire",
    "dam-wire-gazette": "dam-wire",
    "outage-wire-post": "outage-wire",
    "theft-wire-herald": "theft-wire",
    "final-wire-gazette": "final-wire",
}

# the earliest report of each event: the story ids the pipeline should give
STORY_ID = {"dam": "dam-wire", "outage": "outage-wire", "theft": "theft-wire", "final": "final-wire"}


def event_partition(ids: Iterable[str]) -> frozenset[frozenset[str]]:
    by_event: dict[str, set[str]] = {}
    for article_id in ids:
        by_event.setdefault(EVENT_OF[article_id], set()).add(article_id)
    return frozenset(frozenset(v) for v in by_event.values())


def partition_of(ids: Iterable, labels: Iterable) -> frozenset[frozenset]:
    """A grouping as a set of sets of ids, independent of labels and order."""
    groups: dict = {}
    for article_id, label in zip(ids, labels, strict=True):
        groups.setdefault(label, set()).add(article_id)
    return frozenset(frozenset(v) for v in groups.values())


def write_jsonl(path: Path, records: Iterable) -> Path:
    path.write_text(
        "".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the model, loaded once per test process ----------------------------------------------------------


@functools.cache
def minilm_model(max_seq_length: int = 64):
    """The packaged MiniLM as a loaded :class:`dedup.embed.Embedder` (one load per process and length)."""
    return _load_embedder("minilm", max_seq_length=max_seq_length, batch_size=16, device="cpu")


@functools.cache
def _static_model(cache_dir: Path):
    return _load_embedder("static", cache_dir=cache_dir)


class Shared:
    """Stands in for :func:`dedup.embed.load_embedder`: the packaged MiniLM comes from one loaded copy
    per length (so pipeline and CLI tests do not reload it), and the static model it is blended with
    from the session's distilled one (``static_dir``); any other model is loaded for real. Counts calls."""

    def __init__(self, real, static_dir: Path):
        self.real = real
        self.static_dir = static_dir
        self.calls: list[str] = []
        self.settings: list[tuple[str, int, float]] = []  # (model, max_seq_length, static_weight) per call

    def __call__(
        self,
        model="minilm",
        *,
        max_seq_length=64,
        static_weight=0.0,
        batch_size=64,
        device="auto",
        cache_dir=None,
    ):
        from dedup.embed import Embedder, blend

        self.calls.append(model)
        self.settings.append((model, max_seq_length, static_weight))
        if model == "minilm":
            shared = minilm_model(max_seq_length)
            one = Embedder(shared.model, shared.name, batch_size)
        else:
            one = self.real(
                model,
                max_seq_length=max_seq_length,
                batch_size=batch_size,
                device=device,
                cache_dir=cache_dir,
            )
        if static_weight and model != "static":
            return blend(one, _static_model(self.static_dir), static_weight)
        return one


@pytest.fixture
def shared_model(monkeypatch, tmp_path, static_dir):
    """Reuse the loaded MiniLM in anything that calls ``load_embedder``; cache under ``tmp_path``."""
    import dedup.embed

    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path / "default-cache"))
    loader = Shared(_load_embedder, static_dir)
    monkeypatch.setattr(dedup.embed, "load_embedder", loader)
    return loader


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def spy_encode(monkeypatch) -> list[str]:
    """Record the texts every :class:`dedup.embed.Embedder` encodes, leaving out the built-in reference
    texts (embedded once per model to calibrate similarities)."""
    from dedup.embed import Embedder
    from dedup.pipeline import reference_texts

    encoded: list[str] = []
    real = Embedder.encode
    reference = set(reference_texts())
    depth = [0]  # a blend's two models encode inside its own call: count the outer call only

    def spy(self, texts):
        if depth[0] == 0:
            encoded.extend(t for t in texts if t not in reference)
        depth[0] += 1
        try:
            return real(self, texts)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(Embedder, "encode", spy)
    return encoded
