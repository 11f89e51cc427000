"""Lexical story features: the names an article mentions, as a dense vector next to its embedding.

Sentence embeddings know what kind of event an article is about; which event it is often hangs on
names ("Mt. Gox", "Titanfall", a minister, a town). So each article also gets a TF-IDF vector over
its capitalised tokens (light plural stemming, adjacent names also joined: "Mt. Gox" -> "mtgox"),
computed on the articles being clustered, reduced by truncated SVD (LSA) to a few hundred dense
dimensions so that it fits the same nearest-neighbour index as the embedding. IDF weighting does
the rest: in a Title Case headline every word is capitalised, and common words weigh little.

:func:`story_vectors` joins the two with square-root weights, so that a dot product of two joined
vectors is ``(1 - w) * cos(embeddings) + w * cos(names)``, the embedding cosine first measured from
the model's baseline (:func:`baseline_similarity`) so that one threshold means the same for every model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "name_tokens",
    "name_vectors",
    "story_vectors",
    "centred",
    "baseline_similarity",
    "shrunk_baseline",
    "story_threshold",
]

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "with",
        "at",
        "from",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "after",
        "before",
        "over",
        "under",
        "new",
        "not",
        "no",
        "but",
        "into",
        "up",
        "out",
        "about",
        "says",
        "say",
        "said",
        "will",
        "can",
        "could",
        "would",
        "may",
        "might",
        "more",
        "than",
        "how",
        "why",
        "what",
        "who",
        "when",
        "where",
        "which",
        "his",
        "her",
        "their",
        "you",
        "your",
        "our",
        "we",
        "they",
        "he",
        "she",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "first",
        "last",
        "one",
        "two",
        "three",
        "vs",
        "via",
        "per",
        "amid",
        "watch",
        "live",
        "update",
        "updated",
        "breaking",
        "exclusive",
        "video",
        "photos",
        "report",
        "mr",
        "mrs",
        "ms",
        "dr",
    ]
)
_NAME_RE = re.compile(r"[A-Z][\w'\.-]*\w|[A-Z]")
_GAP_RE = re.compile(r"[\s.]*")


def _norm(word: str) -> str:
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace(".", "").replace("'", "")
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def name_tokens(text: str) -> list[str]:
    """Capitalised tokens of ``text`` (normalised), plus adjacent pairs joined."""
    matches = list(_NAME_RE.finditer(text))
    out: list[str] = []
    for k, m in enumerate(matches):
        a = _norm(m.group())
        if a not in _STOP and len(a) >= 2:
            out.append(a)
        if k + 1 < len(matches) and _GAP_RE.fullmatch(text, m.end(), matches[k + 1].start()):
            b = _norm(matches[k + 1].group())
            if a not in _STOP and b not in _STOP and a and b:
                out.append(a + b)
    return out


def name_vectors(texts: Sequence[str], dims: int = 256, seed: int = 0) -> np.ndarray | None:
    """L2-normalised LSA vectors of the name TF-IDF of ``texts``; None if no name recurs."""
    fitted = NameSpace.fit(texts, dims, seed)
    return None if fitted is None else fitted[1]


@dataclass
class NameSpace:
    """The name TF-IDF and its LSA, fitted once (e.g. on a sample or a first batch) and applied
    to any texts. Kept as plain arrays: applying it needs numpy only, not scikit-learn, whose
    import alone costs an ingest process about two seconds."""

    terms: list[str]
    """The TF-IDF vocabulary, in column order."""
    idf: np.ndarray
    """Inverse document frequency of each term (float32)."""
    components: np.ndarray
    """The LSA axes, shape ``(k, len(terms))`` (float32)."""

    def __post_init__(self) -> None:
        self._column = {term: j for j, term in enumerate(self.terms)}
        self._axes = np.ascontiguousarray(self.components.T)  # one row per term: gathered per name

    @classmethod
    def fit(cls, texts: Sequence[str], dims: int = 256, seed: int = 0) -> tuple[NameSpace, np.ndarray] | None:
        """The fitted space and the vectors of ``texts``; None if no name recurs."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        n = len(texts)
        if n < 3:
            return None
        vectorizer = TfidfVectorizer(analyzer=name_tokens, min_df=2, sublinear_tf=True, dtype=np.float32)
        try:
            tfidf = vectorizer.fit_transform(texts)
        except ValueError:  # no token appears twice
            return None
        k = min(dims, tfidf.shape[1] - 1, n - 1)
        if k < 2:
            return None
        svd = TruncatedSVD(k, random_state=seed, algorithm="randomized", n_iter=4)
        reduced = svd.fit_transform(tfidf)
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        space = cls(terms, vectorizer.idf_.astype(np.float32), svd.components_.astype(np.float32))
        return space, normalize(reduced).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised LSA vectors of ``texts`` (zero where no known name occurs): sublinear TF
        times IDF, L2-normalised, projected on the axes, as scikit-learn's pipeline computes it."""
        rows, columns = [], []
        for row, text in enumerate(texts):
            for term in name_tokens(text):
                column = self._column.get(term)
                if column is not None:
                    rows.append(row)
                    columns.append(column)
        out = np.zeros((len(texts), self.components.shape[0]), dtype=np.float32)
        if not rows:
            return out
        width = len(self.terms)
        cell, counts = np.unique(np.asarray(rows, np.int64) * width + np.asarray(columns), return_counts=True)
        row, term = cell // width, cell % width  # sorted by row
        weight = (1.0 + np.log(counts)).astype(np.float32) * self.idf[term]
        weight /= np.sqrt(np.bincount(row, weight * weight))[row].astype(np.float32)
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        out[row[starts]] = np.add.reduceat(self._axes[term] * weight[:, None], starts)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    def save(self, path) -> None:
        """Write the arrays to ``path`` (an open binary file or a path; ``.npz`` format)."""
        np.savez(path, terms=np.array(self.terms, dtype=str), idf=self.idf, components=self.components)

    @classmethod
    def load(cls, path) -> NameSpace:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["terms"].tolist(), z["idf"], z["components"])


def centred(embeddings: np.ndarray) -> np.ndarray:
    """Embeddings minus their mean, renormalised.

    Sentence embeddings share a common direction (all news looks alike from far away); removing it
    spreads the cosines out, so one threshold separates stories better across corpora.
    """
    if len(embeddings) < 2:
        return embeddings
    shifted = embeddings - embeddings.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32)


def baseline_similarity(vectors: np.ndarray) -> float:
    """Mean cosine over all pairs of distinct rows of unit ``vectors``: how alike unrelated articles look.

    Exact and cheap: the pairwise sum is ``|sum|^2 - sum of |v|^2``, so no pair is ever formed.
    """
    n = len(vectors)
    if n < 2:
        return 0.0
    total = vectors.sum(axis=0, dtype=np.float64)
    squares = float(np.einsum("ij,ij->", vectors, vectors, dtype=np.float64))
    return float((total @ total - squares) / (n * (n - 1)))


def shrunk_baseline(corpus: float, n: int, reference: float, prior: int = 100) -> float:
    """The corpus baseline, pulled toward the model's reference baseline when the corpus is small.

    In a handful of articles most pairs may be one story, so their mean says little; ``prior``
    is how many articles the reference counts for.
    """
    return (n * corpus + prior * reference) / (n + prior)


def story_vectors(
    embeddings: np.ndarray,
    names: np.ndarray | None,
    weight: float,
    center: bool = False,
    baseline: float = 0.0,
) -> np.ndarray:
    """Embedding and name vectors joined so that a dot product is ``(1-w)*cos_e/(1-b) + w*cos_n``.

    ``b`` is the embedding ``baseline`` (:func:`baseline_similarity`): models differ in how alike they
    make unrelated texts (MiniLM about 0.1, a static model about 0.5 on full leads), and rescaling by
    ``1 - b`` with :func:`story_threshold`'s shift puts every model on one scale, 0 meaning "as alike
    as two random articles". ``baseline=0`` is the plain weighted cosine.
    """
    if center:
        embeddings = centred(embeddings)
    if names is None or weight <= 0:
        weight = 0.0
    scale = np.sqrt((1.0 - weight) / (1.0 - baseline))
    if weight == 0.0:
        return np.ascontiguousarray(scale * embeddings, dtype=np.float32)
    return np.ascontiguousarray(np.hstack([scale * embeddings, np.sqrt(weight) * names]), dtype=np.float32)


def story_threshold(threshold: float, weight: float, has_names: bool, baseline: float = 0.0) -> float:
    """The dot-product threshold on :func:`story_vectors` that means ``threshold`` on the calibrated scale."""
    embedding_weight = 1.0 - weight if has_names and weight > 0 else 1.0
    return threshold + embedding_weight * baseline / (1.0 - baseline)
