"""Describe each story for people: stable id, size, outlets, time span, a headline and keywords.

Keywords are class-based TF-IDF (as BERTopic names its topics): all of a story's text is one
document, a term's weight is its frequency in the story times ``log(1 + A / f)``, where ``A`` is the
average number of words per story and ``f`` the term's frequency over all stories; terms common to
every story score low however often they occur. The headline is the medoid's: the article whose
embedding is closest to the story's mean direction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedup.records import ArticleId, format_date

__all__ = ["StoryMember", "story_keywords", "medoids", "story_records"]


@dataclass(frozen=True, slots=True)
class StoryMember:
    """What the story record needs of one article (duplicates included)."""

    id: ArticleId
    dup_group: ArticleId
    outlet: str | None
    published_at: float | None


def story_keywords(texts: Sequence[str], labels: np.ndarray, n_stories: int, top: int = 8) -> list[list[str]]:
    """Top class-based TF-IDF terms (words and two-word phrases) per story label ``0..n_stories-1``."""
    if n_stories == 0 or len(texts) == 0:
        return [[] for _ in range(n_stories)]
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=1, token_pattern=r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b"
    )
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return [[] for _ in range(n_stories)]
    import scipy.sparse as sp

    membership = sp.csr_matrix(
        (np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(n_stories, len(labels))
    )
    tf = (membership @ counts).tocsr().astype(np.float64)
    term_freq = np.asarray(tf.sum(axis=0)).ravel()
    words_per_story = tf.sum() / max(n_stories, 1)
    idf = np.log1p(words_per_story / np.maximum(term_freq, 1.0))
    weights = tf.multiply(idf).tocsr()
    vocab = vectorizer.get_feature_names_out()
    out: list[list[str]] = []
    for s in range(n_stories):
        row = weights.getrow(s)
        if row.nnz == 0:
            out.append([])
            continue
        order = np.argsort(-row.data, kind="stable")
        picked: list[str] = []
        for k in order:
            term = vocab[row.indices[k]]
            # skip a word already inside a picked phrase, and a phrase repeating picked words
            if any(term in p.split() for p in picked) or all(w in picked for w in term.split()):
                continue
            picked.append(term)
            if len(picked) == top:
                break
        out.append(picked)
    return out


def medoids(embeddings: np.ndarray, labels: np.ndarray, n_stories: int) -> np.ndarray:
    """Index of each story's most central article (cosine to the normalised mean embedding)."""
    dim = embeddings.shape[1] if embeddings.ndim == 2 else 0
    centroid = np.zeros((n_stories, dim), dtype=np.float64)
    np.add.at(centroid, labels, embeddings)
    centroid /= np.maximum(np.linalg.norm(centroid, axis=1, keepdims=True), 1e-12)
    score = np.einsum("ij,ij->i", embeddings, centroid[labels])
    order = np.lexsort((-score, labels))
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    out = np.full(n_stories, -1, dtype=np.int64)
    out[labels[order[first]]] = order[first]
    return out


def story_records(
    story_ids: Sequence[ArticleId],
    members: Sequence[Sequence[StoryMember]],
    headlines: Sequence[str],
    keywords: Sequence[Sequence[str]],
) -> list[dict]:
    """One JSON-ready record per story (largest first, then by id)."""
    records = []
    for sid, group, headline, words in zip(story_ids, members, headlines, keywords, strict=True):
        outlets = Counter(m.outlet for m in group if m.outlet)
        dates = [m.published_at for m in group if m.published_at is not None]
        dup_groups = list(dict.fromkeys(m.dup_group for m in group))
        records.append(
            {
                "story": sid,
                "size": len(group),
                "articles_distinct": len(dup_groups),
                "n_outlets": len(outlets),
                "outlets": dict(outlets.most_common()),
                "first_published_at": format_date(min(dates)) if dates else None,
                "last_published_at": format_date(max(dates)) if dates else None,
                "headline": headline,
                "keywords": list(words),
                "articles": [m.id for m in group],
                "dup_groups": dup_groups,
            }
        )
    records.sort(key=lambda r: (-r["size"], isinstance(r["story"], str), r["story"]))
    return records
