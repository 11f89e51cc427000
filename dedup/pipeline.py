"""Both stages wired together: articles in; dup groups, stories and story records out.

Stage 1 (:mod:`dedup.neardup`) folds wire copies into dup groups; stage 2 embeds only each group's
canonical article, adds name features (:mod:`dedup.lexical`), clusters them in time
(:mod:`dedup.stories`) and describes each story (:mod:`dedup.describe`). Duplicates inherit their
canonical article's story. A story's id is the id of its earliest canonical article, so reruns over
the same dump agree.

>>> from dedup import Pipeline, PipelineConfig                    # doctest: +SKIP
>>> result = Pipeline(PipelineConfig()).run(records)             # doctest: +SKIP
>>> result.story[0], result.stories[0]["headline"]               # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dedup.config import NearDupConfig, StoryConfig
from dedup.describe import StoryMember, medoids, story_keywords, story_records
from dedup.neardup import DupFinder, DupResult, _id_rank
from dedup.normalize import article_text, clean_text, strip_junk
from dedup.records import Article, ArticleId, FieldMap, RecordError, article_from_record

__all__ = [
    "PipelineConfig",
    "Pipeline",
    "PipelineResult",
    "StoryResult",
    "StageTexts",
    "ClusterTexts",
    "story_text",
    "find_stories",
]

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of both stages and the record fields."""

    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    stories: StoryConfig = field(default_factory=StoryConfig)
    fields: FieldMap = field(default_factory=FieldMap)


def reference_baseline(embedder, config: StoryConfig, n: int = 64) -> float:
    """The model's embedding cosine between unrelated articles, on built-in synthetic reference texts.

    Cached with the other embeddings, so only the first run of a model pays for the few texts.
    """
    from dedup.embed import EmbeddingCache, embed_all, resolve_cache_dir
    from dedup.lexical import baseline_similarity

    texts = reference_texts(config.lead_words, n)
    cache = EmbeddingCache(resolve_cache_dir(config.cache_dir), embedder.name)
    try:
        return baseline_similarity(embed_all(embedder, texts, cache))
    finally:
        cache.close()


def reference_texts(lead_words: int = 60, n: int = 64) -> list[str]:
    """Story texts of ``n`` built-in synthetic articles on unrelated events (see :func:`reference_baseline`)."""
    from dedup.synth import synthetic_bases

    return [
        story_text(Article(f"ref-{k}", base["title"], base["text"]), lead_words)
        for k, base in enumerate(synthetic_bases(n, seed=20260101))
    ]


def story_text(article: Article, lead_words: int = 60) -> str:
    """What stage 2 reads of an article: "Headline. Lead", case kept (see :func:`dedup.embed.embed_text`)."""
    from dedup.embed import embed_text

    return embed_text(clean_text(article.title), strip_junk(clean_text(article.text)), lead_words)


@dataclass(frozen=True)
class StageTexts:
    """Worker task: the stage-1 text and the stage-2 text (and headline) of an article."""

    lead_words: int = 60

    def __call__(self, article: Article, record: Mapping | None = None) -> tuple[str, str, str]:
        return article_text(article.title, article.text), story_text(article, self.lead_words), article.title


def tokenize_stage_texts(payloads: list[tuple]) -> tuple[object, list[tuple]]:
    """Worker-side packing of :class:`StageTexts` payloads: the stage-1 texts become one token
    batch (:func:`dedup.neardup.tokenize_texts`); the story texts and headlines go on as they are."""
    from dedup.neardup import tokenize_texts

    batch, _ = tokenize_texts([p[0] for p in payloads])
    return batch, [(None, story, title) for _, story, title in payloads]


@dataclass(frozen=True)
class ClusterTexts:
    """Worker task for stage 2 alone: the story text, headline, and the record's stage-1 fields."""

    lead_words: int = 60
    dup_field: str = "dup_group"

    def __call__(self, article: Article, record: Mapping | None = None) -> tuple[str, str, object]:
        dup = record.get(self.dup_field) if record is not None else None
        return story_text(article, self.lead_words), article.title, dup


@dataclass
class StoryResult:
    """Stage 2 output: ``story[i]`` is article ``i``'s story id; ``stories`` are the story records."""

    story: list[ArticleId]
    stories: list[dict]
    seconds: dict[str, float] = field(default_factory=dict)
    baseline: float = 0.0
    """The embedding baseline the similarities were calibrated with (see :class:`StoryConfig`)."""


@dataclass
class PipelineResult:
    """Both stages: per article ``dup_group``, ``is_canonical`` and ``story``; plus story records."""

    dups: DupResult
    story: list[ArticleId]
    stories: list[dict]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ids(self) -> list[ArticleId]:
        return self.dups.ids

    def assignments(self) -> Iterable[dict]:
        for (aid, group, canonical), story in zip(self.dups.assignments(), self.story, strict=True):
            yield {"id": aid, "dup_group": group, "is_canonical": canonical, "story": story}


def find_stories(
    ids: Sequence[ArticleId],
    canonical: np.ndarray,
    texts: Sequence[str],
    titles: Sequence[str],
    outlets: Sequence[str | None],
    dates: np.ndarray,
    config: StoryConfig,
    progress: Progress | None = None,
) -> StoryResult:
    """Stage 2 over articles whose dup groups are known (``canonical[i]``: index of i's canonical).

    Only canonical articles are embedded and clustered; ``texts`` are their story texts
    (:func:`story_text`), given for every article (non-canonical ones may be empty).
    """
    from dedup.embed import EmbeddingCache, embed_all, loading_phase, resolve_cache_dir, story_embedder
    from dedup.lexical import (
        baseline_similarity,
        name_vectors,
        shrunk_baseline,
        story_threshold,
        story_vectors,
    )
    from dedup.stories import cluster_stories

    seconds: dict[str, float] = {}
    n = len(ids)
    canon = np.flatnonzero(canonical == np.arange(n))
    canon_texts = [texts[i] for i in canon]
    t = time.perf_counter()
    if progress:
        progress(loading_phase(config), len(canon), None)
    embedder = story_embedder(config)
    seconds["load_model"] = time.perf_counter() - t
    t = time.perf_counter()
    cache = EmbeddingCache(resolve_cache_dir(config.cache_dir), embedder.name)
    try:
        embeddings = embed_all(embedder, canon_texts, cache, progress=progress)
    finally:
        cache.close()
    seconds["embed"] = time.perf_counter() - t
    t = time.perf_counter()
    names = name_vectors(canon_texts, config.name_dims) if config.name_weight > 0 else None
    baseline = config.baseline
    if config.center:
        baseline = 0.0  # centred embeddings are their own calibration: unrelated pairs already average 0
    elif baseline is None:
        baseline = shrunk_baseline(
            baseline_similarity(embeddings), len(embeddings), reference_baseline(embedder, config)
        )
    vectors = story_vectors(embeddings, names, config.name_weight, config.center, baseline)
    labels = cluster_stories(
        vectors,
        dates[canon],
        threshold=story_threshold(config.threshold, config.name_weight, names is not None, baseline),
        window_days=config.window_days,
        k=config.k,
    )
    seconds["cluster"] = time.perf_counter() - t
    t = time.perf_counter()
    n_stories = int(labels.max()) + 1 if len(labels) else 0
    # a story's id: its earliest canonical article (undated last), then the smallest id
    date_key = np.where(np.isnan(dates[canon]), np.inf, dates[canon])
    rank = _id_rank(list(ids), canon)[canon]
    order = np.lexsort((rank, date_key, labels))
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    story_ids: list[ArticleId] = [None] * n_stories  # type: ignore[list-item]
    for pos in order[first]:
        story_ids[labels[pos]] = ids[canon[pos]]
    label_of = np.full(n, -1, dtype=np.int64)
    label_of[canon] = labels
    article_label = label_of[canonical]
    story = [story_ids[lab] for lab in article_label.tolist()]
    members: list[list[StoryMember]] = [[] for _ in range(n_stories)]
    for i, lab in enumerate(article_label.tolist()):
        d = dates[i]
        members[lab].append(
            StoryMember(ids[i], ids[canonical[i]], outlets[i], None if np.isnan(d) else float(d))
        )
    heads = medoids(embeddings, labels, n_stories)
    headlines = [titles[canon[h]] if h >= 0 else "" for h in heads.tolist()]
    words = story_keywords(canon_texts, labels, n_stories, config.keywords)
    records = story_records(story_ids, members, headlines, words)
    seconds["describe"] = time.perf_counter() - t
    return StoryResult(story, records, {k: round(v, 4) for k, v in seconds.items()}, baseline)


class Pipeline:
    """Run both stages over records (dicts or :class:`Article` values)."""

    def __init__(self, config: PipelineConfig | None = None, progress: Progress | None = None) -> None:
        self.config = config or PipelineConfig()
        self._progress = progress

    def run(
        self, records: Iterable[Mapping | Article], on_error: Literal["raise", "skip"] = "raise"
    ) -> PipelineResult:
        cfg = self.config
        finder = DupFinder(cfg.near_dup, self._progress)
        prepare = StageTexts(cfg.stories.lead_words)
        texts: list[str] = []
        titles: list[str] = []
        outlets: list[str | None] = []
        dates: list[float] = []
        rejects: list[tuple[int, str]] = []
        for number, record in enumerate(records, start=1):
            try:
                article = record if isinstance(record, Article) else article_from_record(record, cfg.fields)
                shingle, story_txt, title = prepare(article)
                finder.add_prepared(article, shingle)
            except RecordError as err:
                if on_error == "raise":
                    err.args = (f"record {number}: {err}",)
                    raise
                rejects.append((number, str(err)))
                continue
            texts.append(story_txt)
            titles.append(title)
            outlets.append(article.outlet)
            dates.append(np.nan if article.published_at is None else article.published_at)
        dups = finder.finish()
        dups.rejects = rejects
        stories = find_stories(
            dups.ids,
            dups.canonical,
            texts,
            titles,
            outlets,
            np.array(dates, dtype=np.float64),
            cfg.stories,
            self._progress,
        )
        seconds = {**{f"dups_{k}": v for k, v in dups.stats.seconds.items()}, **stories.seconds}
        return PipelineResult(dups, stories.story, stories.stories, seconds)
