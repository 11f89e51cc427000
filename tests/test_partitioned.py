"""The partitioned reducers give exactly what the one-process engine computes (no Ray needed)."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.boilerplate import boilerplate_mask, line_outlets, line_recurrence
from dedup.groups import PairScores, choose_canonical, link_articles, union_find
from dedup.lsh import candidate_pairs
from dedup.neardup import _exact_copies
from dedup.partitioned import (
    boilerplate_keys,
    bucket_pairs,
    concat_parts,
    exact_reps,
    line_verdicts,
    link_components,
    split_by,
)
from dedup.ray_engine import _star_reduce, _star_split

SEEDS = range(6)


def _star_components(lo: np.ndarray, hi: np.ndarray, parts: int) -> dict[int, int]:
    """Large-star/small-star run in-process with the engine's own map and reduce steps."""
    state = [{"a": hi, "b": lo}]
    history = []
    for step in range(64):
        kind = "large" if step % 2 == 0 else "small"
        pieces = [_star_split(kind, s, parts) for s in state]
        pieces = [[p] if parts == 1 else p for p in pieces]
        outs = [_star_reduce(kind, *[p[i] for p in pieces]) for i in range(parts)]
        state = [o[0] for o in outs]
        history.append((sum(o[1][0] for o in outs), sorted(o[1][1] for o in outs)))
        if len(history) >= 3 and history[-1] == history[-2] == history[-3]:
            star = concat_parts(state)
            return dict(zip(star["a"].tolist(), star["b"].tolist(), strict=True))
    raise AssertionError("did not converge")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("parts", [1, 3])
def test_star_components_equal_union_find(seed: int, parts: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    left = rng.integers(0, n, 300)
    right = rng.integers(0, n, 300)
    keep = left != right
    left, right = left[keep], right[keep]
    # chains are the slow case for star algorithms: add one long path
    path = rng.permutation(n)[:60]
    left = np.concatenate([left, path[:-1]])
    right = np.concatenate([right, path[1:]])
    keys = np.arange(n, dtype=np.int64) * 1000 + 7  # sparse, increasing article keys
    lo, hi = np.minimum(keys[left], keys[right]), np.maximum(keys[left], keys[right])
    root = _star_components(lo, hi, parts)
    labels = union_find(n, left, right)
    linked = np.unique(np.concatenate([left, right]))
    for i in linked.tolist():
        assert root.get(int(keys[i]), int(keys[i])) == keys[labels[i]]
    # every child points at a root, never at another child
    assert not set(root.values()) & set(root)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("max_bucket", [0, 3, 16])
def test_bucket_pairs_equal_candidate_pairs(seed: int, max_bucket: int) -> None:
    rng = np.random.default_rng(seed)
    n, bands = 300, 4
    keys_by_band = rng.integers(0, 40, (bands, n)).astype(np.uint64)  # many collisions, big buckets
    members = np.sort(rng.choice(n, 250, replace=False))
    tiebreak = rng.integers(0, 20, n).astype(np.uint64)  # ties in the id hash too
    left, right = candidate_pairs(keys_by_band, members, tiebreak, max_bucket)
    article_key = np.arange(n, dtype=np.int64) * 3 + 11
    rows = {
        "band": np.repeat(np.arange(bands), len(members)).astype(np.int64),
        "bucket": keys_by_band[:, members].ravel(),
        "tiebreak": np.tile(tiebreak[members], bands),
        "key": np.tile(article_key[members], bands),
    }
    got = set()
    for part in split_by(rows, "bucket", 3):
        lo, hi = bucket_pairs(part, max_bucket)
        got |= set(zip(lo.tolist(), hi.tolist(), strict=True))
    want = set(zip(article_key[left].tolist(), article_key[right].tolist(), strict=True))
    assert got == want
    assert len(want) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_boilerplate_keys_equal_one_process_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_lines = 3000
    pool = rng.integers(0, np.iinfo(np.int64).max, 300, dtype=np.int64).astype(
        np.uint64
    )  # like fmix64 output
    line_hash = pool[rng.integers(0, 300, n_lines)]
    outlet = rng.integers(-2, 6, n_lines).astype(np.int64)  # -2 headline, -1 unknown outlet
    headline = rng.integers(0, 40, n_lines).astype(np.uint64)
    line_doc = np.arange(n_lines)  # one line per article: never_below keeps nothing back
    tokens = np.full(n_lines, 20)
    want = boilerplate_mask(
        line_recurrence(outlet, line_hash, headline),
        line_outlets(outlet, line_hash),
        line_doc,
        tokens,
        n_lines,
        min_articles=3,
        frequent_articles=6,
        min_tokens=0,
    )
    body = outlet >= -1
    rows = {"hash": line_hash[body], "outlet": outlet[body], "headline": headline[body]}
    keys = np.unique(
        np.concatenate(
            [
                boilerplate_keys(part, min_articles=3, frequent_articles=6)
                for part in split_by(rows, "hash", 4)
            ]
        )
    )
    got = line_verdicts(line_hash, outlet, keys)
    assert want.any() and not want.all()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", SEEDS)
def test_exact_reps_equal_one_process(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    content = rng.integers(0, 120, n).astype(np.uint64)
    tiebreak = rng.integers(0, 50, n).astype(np.uint64)
    active = np.sort(rng.choice(n, 400, replace=False))
    _, copy, rep = _exact_copies(active, content, tiebreak)
    want = dict(zip(copy.tolist(), rep.tolist(), strict=True))
    rows = {"content": content[active], "tiebreak": tiebreak[active], "key": active.astype(np.int64)}
    got = {}
    for part in split_by(rows, "content", 3):
        c, r = exact_reps(part)
        got.update(zip(c.tolist(), r.tolist(), strict=True))
    assert got == want


@pytest.mark.parametrize("seed", SEEDS)
def test_link_components_equal_link_articles(seed: int) -> None:
    """Per-component linking (digest guard and canonical choice included) equals the global run."""
    rng = np.random.default_rng(seed)
    n = 300
    left = rng.integers(0, n, 450)
    right = rng.integers(0, n, 450)
    keep = left != right
    left, right = np.minimum(left, right)[keep], np.maximum(left, right)[keep]
    both = np.unique(np.stack([left, right], axis=1), axis=0)
    left, right = both[:, 0], both[:, 1]
    sizes = rng.integers(20, 400, n)
    shared = np.minimum(np.minimum(sizes[left], sizes[right]), rng.integers(10, 400, len(left)))
    union = sizes[left] + sizes[right] - shared
    jaccard = shared / union
    containment = shared / np.minimum(sizes[left], sizes[right])
    tiebreak = rng.integers(0, 1 << 62, n).astype(np.uint64)
    dates = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 10, n).astype(np.float64))
    lengths = rng.integers(10, 50, n)
    ids = [f"a{i:04d}" if i % 3 else i for i in range(n)]
    kw = {"jaccard_threshold": 0.4, "containment_threshold": 0.7, "min_overlap": 15}
    scores = PairScores(left, right, shared, jaccard, containment)
    labels = link_articles(n, scores, sizes, tiebreak, **kw)
    rank = np.empty(n, dtype=np.int64)
    rank[sorted(range(n), key=lambda i: (isinstance(ids[i], str), ids[i]))] = np.arange(n)
    canonical = choose_canonical(labels, dates, lengths, rank)

    linked = (jaccard >= 0.4) | ((containment >= 0.7) & (shared >= 15))
    left, right = left[linked], right[linked]
    component = union_find(n, left, right)
    ident = np.asarray(ids, dtype=object)
    edges = {
        "lo": left,
        "hi": right,
        "shared": shared[linked],
        "jaccard": jaccard[linked],
        "containment": containment[linked],
        "root": component[left],
    }
    for end, idx in (("lo", left), ("hi", right)):
        edges[f"size_{end}"] = sizes[idx]
        edges[f"tb_{end}"] = tiebreak[idx]
        edges[f"date_{end}"] = dates[idx]
        edges[f"length_{end}"] = lengths[idx]
        edges[f"ident_{end}"] = ident[idx]
    got = {}
    for part in split_by(edges, "root", 3):
        nodes, canon, canon_id = link_components(
            part, jaccard_threshold=0.4, containment_threshold=0.7, min_overlap=15, canonical_rule="earliest"
        )
        assert [ids[c] for c in canon.tolist()] == list(canon_id)
        got.update(zip(nodes.tolist(), canon.tolist(), strict=True))
    for i in range(n):
        assert got.get(i, i) == canonical[i]
    assert np.count_nonzero(canonical != np.arange(n)) > 10
