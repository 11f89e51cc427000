"""One frozen dataclass of settings per stage; defaults are the recommended setting.

CLI flags map one to one onto these fields (``--threshold`` -> ``NearDupConfig.threshold``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

__all__ = ["NearDupConfig", "StoryConfig"]


@dataclass(frozen=True)
class NearDupConfig:
    """Stage 1: which articles are copies of the same text."""

    threshold: float = 0.4
    """Jaccard similarity of shingle sets at which two articles are copies; also sets the LSH bands."""
    containment: float = 0.7
    """Share of the smaller article found in the larger that makes it a copy (briefs, wrapped copies)."""
    min_overlap: int = 15
    """Shingles two articles must share before containment counts."""
    shingle_size: int = 3
    """Words per shingle."""
    num_perm: int = 128
    """MinHash permutations (signature length)."""
    seed: int = 1
    """Seed of the MinHash permutations (datasketch's ``seed``)."""
    lead_shingles: int = 20
    """Shingles at the start of the body that make up the lead, used to find briefs and trims."""
    lead_perm: int = 32
    """MinHash permutations of the lead signature."""
    lead_threshold: float = 0.5
    """Jaccard similarity of leads that makes two articles a candidate pair."""
    min_tokens: int = 8
    """Articles with fewer words (headline + cleaned body) are kept as singletons."""
    boilerplate_min_articles: int = 3
    """A line only one outlet has, repeated under this many of its headlines, is boilerplate (0: off)."""
    boilerplate_frequent_articles: int = 10
    """...and is boilerplate even if other outlets have it too once it recurs under this many."""
    prose_only: bool = True
    """Shingle only the prose of articles written in sentences: menus, link lists, captions, tags."""
    canonical: Literal["earliest", "longest"] = "earliest"
    """Which copy represents a group: the earliest published, or the longest text."""
    batch_size: int = 4096
    """Articles tokenised per compiled call."""
    max_bucket: int = 16
    """LSH buckets larger than this yield a star and a chain instead of all pairs (0: always all
    pairs, which makes grouping independent of how articles are batched; see dedup.index)."""

    def __post_init__(self) -> None:
        for name in ("threshold", "containment", "lead_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0 and not (name == "containment" and value == 1.0):
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("shingle_size", "num_perm", "lead_perm", "lead_shingles", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_perm < 2 or self.lead_perm < 2:
            raise ValueError("num_perm and lead_perm must be at least 2")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be between 0 and 2**32 - 1, got {self.seed}")
        if self.min_tokens < 1:
            raise ValueError(
                f"min_tokens must be at least 1 (empty articles are never copies), got {self.min_tokens}"
            )
        for name in (
            "min_overlap",
            "boilerplate_min_articles",
            "boilerplate_frequent_articles",
            "max_bucket",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.canonical not in ("earliest", "longest"):
            raise ValueError(f"canonical must be 'earliest' or 'longest', got {self.canonical!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class StoryConfig:
    """Stage 2: which distinct articles cover the same event (a story)."""

    threshold: float = 0.14
    """Average similarity at which articles form one story, on the calibrated scale: the name cosine
    mixed with the embedding cosine measured from the model's baseline (0: as alike as two random
    articles of the corpus, 1: identical), so one threshold serves every model."""
    window_days: float = 3.0
    """Two dated articles further apart than this never share a story (0: no limit)."""
    name_weight: float = 0.3
    """Weight of the name (capitalised-token TF-IDF) cosine next to the embedding cosine (0: off)."""
    name_dims: int = 256
    """Dimensions of the name vectors (truncated SVD)."""
    center: bool = False
    """Subtract the mean embedding of the articles being clustered before comparing them."""
    baseline: float | None = None
    """Embedding cosine of two unrelated articles; None: measured on the corpus (pulled toward the
    model's value on built-in reference texts when the corpus is small); 0: no calibration.
    Ignored with ``center``, whose centred embeddings need none."""
    k: int = 20
    """Nearest neighbours per article in the similarity graph."""
    model: str = "minilm"
    """Embedding model: 'minilm' (packaged all-MiniLM-L6-v2), 'static' (fast), or a local directory."""
    fast: bool = False
    """Use the static model distilled from MiniLM alone (about 20x faster, slightly less accurate)."""
    max_seq_length: int = 16
    """Word pieces the transformer reads per article: 16 is about the headline. Its cost grows with
    the pieces read (MiniLM on 2 CPU cores: ~40 articles/s at 64, ~150 at 16); the rest of the
    lead reaches the similarity through the static model (``static_weight``)."""
    static_weight: float = 0.5
    """Share of the embedding cosine that comes from the static model (``--fast``'s) reading the
    whole headline + lead, next to the transformer reading its first ``max_seq_length`` pieces. The
    two vectors are stored side by side, so their cosine is this weighted mean of the two models'
    cosines: the transformer understands the headline, the static model covers the lead at almost
    no cost. 0: the transformer alone. Not used in fast mode or with the static model."""
    lead_words: int = 60
    """Words of the body embedded after the headline."""
    batch_size: int = 64
    """Articles per embedding batch."""
    device: str = "auto"
    """Torch device: 'auto' uses a GPU when one is present."""
    cache_dir: str | None = None
    """Embedding cache and distilled models (default: $DEDUP_CACHE_DIR or ~/.cache/dedup)."""
    keywords: int = 8
    """Keywords per story record."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if not 0.0 <= self.name_weight < 1.0:
            raise ValueError(f"name_weight must be in [0, 1), got {self.name_weight}")
        if not 0.0 <= self.static_weight < 1.0:
            raise ValueError(f"static_weight must be in [0, 1) (1 is --fast), got {self.static_weight}")
        if self.baseline is not None and not -1.0 < self.baseline < 1.0:
            raise ValueError(f"baseline must be between -1 and 1, got {self.baseline}")
        if self.window_days < 0:
            raise ValueError(f"window_days must not be negative, got {self.window_days}")
        for name in ("k", "max_seq_length", "lead_words", "batch_size", "name_dims"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def model_name(self) -> str:
        return "static" if self.fast else self.model

    @property
    def blend_weight(self) -> float:
        """The static model's share actually used: none when the static model is the model."""
        return 0.0 if self.model_name == "static" else self.static_weight

    def as_dict(self) -> dict:
        return asdict(self)
