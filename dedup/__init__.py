"""dedup: find wire copies across news outlets and group articles into stories.

Stage 1 (near-duplicates) is :func:`find_near_duplicates` with a :class:`NearDupConfig`; both
stages are :class:`Pipeline` with a :class:`PipelineConfig` (:class:`StoryConfig` for stage 2);
incremental ingest is :class:`Index` (``Index.open(path, IndexConfig(...))``).

Names are imported on first use, so ``import dedup`` (and ``dedup --help``) stays fast and stage 1
never loads the embedding stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "NearDupConfig": "dedup.config",
    "Article": "dedup.records",
    "FieldMap": "dedup.records",
    "RecordError": "dedup.records",
    "find_near_duplicates": "dedup.neardup",
    "DupFinder": "dedup.neardup",
    "DupResult": "dedup.neardup",
    "StoryConfig": "dedup.config",
    "Pipeline": "dedup.pipeline",
    "PipelineConfig": "dedup.pipeline",
    "PipelineResult": "dedup.pipeline",
    "Index": "dedup.index",
    "IndexConfig": "dedup.index",
    "IndexLocked": "dedup.index",
    "IndexMismatch": "dedup.index",
    "score_labels": "dedup.evaluate",
    "score_clusters": "dedup.evaluate",
}

__all__ = [
    "Article",
    "DupFinder",
    "DupResult",
    "FieldMap",
    "Index",
    "IndexConfig",
    "IndexLocked",
    "IndexMismatch",
    "NearDupConfig",
    "Pipeline",
    "PipelineConfig",
    "PipelineResult",
    "RecordError",
    "StoryConfig",
    "__version__",
    "find_near_duplicates",
    "score_clusters",
    "score_labels",
]

if TYPE_CHECKING:
    from dedup.config import NearDupConfig, StoryConfig
    from dedup.evaluate import score_clusters, score_labels
    from dedup.index import Index, IndexConfig, IndexLocked, IndexMismatch
    from dedup.neardup import DupFinder, DupResult, find_near_duplicates
    from dedup.pipeline import Pipeline, PipelineConfig, PipelineResult
    from dedup.records import Article, FieldMap, RecordError


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
