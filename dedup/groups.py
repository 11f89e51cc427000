"""Verified candidate pairs become dup groups; each group gets one canonical article.

Verification is exact: the shared shingles of two articles are counted by merging their sorted
shingle sets. Two scores follow from the count:

* Jaccard ``|A∩B| / |A∪B|`` — a copy with edits, a new headline or a trimmed tail;
* containment ``|A∩B| / min(|A|, |B|)`` — a brief (the first paragraphs) or a copy wrapped in heavy
  boilerplate, whose Jaccard with the full story is low although nearly all of it is the story.

A Jaccard match between articles of like size joins them outright. A containment match (or a
Jaccard match between a short and a long article) is weaker evidence that it is the *same* article, and it is where one article could chain unrelated ones (a roundup that carries the
briefs of five stories). So each contained article attaches only to its single best container, and
a container whose attached articles are unrelated to each other is a *digest*: nothing attaches to
it, and its briefs go to their next best container instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, prange

from dedup.arrays import concat_ranges, sorted_unique, unique_pairs

_MAX_DIGEST_ROUNDS = 8
_ALIKE_SIZE_RATIO = 0.8  # sizes within this ratio: a Jaccard match joins outright

__all__ = [
    "verify_pairs",
    "pair_scores",
    "PairScores",
    "union_find",
    "merge_labels",
    "links_in_region",
    "verify_joining",
    "verify_within",
    "link_kinds",
    "link_articles",
    "attach_contained",
    "choose_canonical",
]


@njit(cache=True, inline="always")
def _least_linking(size_a, size_b, jaccard_threshold, containment_threshold, min_overlap):
    """A count of shared shingles below which two sets of these sizes cannot link (one under the
    least count either test of :func:`link_kinds` needs, a margin for rounding)."""
    by_jaccard = jaccard_threshold * (size_a + size_b) / (1.0 + jaccard_threshold)
    by_containment = max(containment_threshold * min(size_a, size_b), min_overlap)
    return np.int64(min(by_jaccard, by_containment)) - 1


@njit(cache=True, inline="always")
def _shared_at_least(sh_a, i, ie, sh_b, j, je, need):
    """Shingles shared by the sorted runs ``sh_a[i:ie]`` and ``sh_b[j:je]``, or a count below
    ``need`` once ``need`` is out of reach (the rest of the shorter run could not make it up): a
    pair that cannot link needs no exact count. A merge without branches: comparisons of random
    hashes are unpredictable, and a mispredicted branch per step cost a third of the time."""
    c = 0
    while i < ie and j < je:
        if c + min(ie - i, je - j) < need:
            return c
        for _ in range(32):
            if i >= ie or j >= je:
                break
            a = sh_a[i]
            b = sh_b[j]
            c += a == b
            i += a <= b
            j += b <= a
    return c


@njit(cache=True, parallel=True)
def intersect_pairs(sh_a, off_a, sh_b, off_b, left, right, out):
    """``out[k]``: shingles shared by set ``left[k]`` of A and set ``right[k]`` of B (sorted CSR sets;
    A and B may be the same arrays)."""
    for p in prange(len(left)):
        out[p] = _shared_at_least(
            sh_a, off_a[left[p]], off_a[left[p] + 1], sh_b, off_b[right[p]], off_b[right[p] + 1], 0
        )


_TABLE_BITS = 14  # 16K slots (64 KiB): a set of ~300 shingles fills 2% of them
_TABLE_MASK = np.uint32((1 << _TABLE_BITS) - 1)
_TABLE_SET_MAX = 1 << (_TABLE_BITS - 2)  # larger sets (filling a quarter or more) are merged instead
_CHUNKS = 64  # parallel work units, each with its own table


@njit(cache=True)
def _empty_table():
    """A table of shingles by their low bits: slot ``s`` empty holds ``s ^ 1``, a value no
    shingle whose low bits are ``s`` can equal, so a lookup needs no flag."""
    return np.arange(1 << _TABLE_BITS).astype(np.uint32) ^ np.uint32(1)


@njit(cache=True, inline="always")
def _fill_table(table, sh, lo, hi, overflow):
    """Put the shingles ``sh[lo:hi]`` each in its slot; one whose slot is taken goes to
    ``overflow`` instead (a few per set). Returns how many did."""
    n_over = 0
    for q in range(lo, hi):
        v = sh[q]
        slot = v & _TABLE_MASK
        if table[slot] & _TABLE_MASK == slot:  # holds a shingle already
            overflow[n_over] = v
            n_over += 1
        else:
            table[slot] = v
    return n_over


@njit(cache=True, inline="always")
def _clear_table(table, sh, lo, hi):
    for q in range(lo, hi):
        slot = sh[q] & _TABLE_MASK
        table[slot] = slot ^ np.uint32(1)


@njit(cache=True, inline="always")
def _shared_in_table(table, overflow, n_over, sh_a, i, ie, need):
    """Shingles shared by the sorted run ``sh_a[i:ie]`` and the set in ``table`` and
    ``overflow``, or a count below ``need`` once ``need`` is out of reach. One read and compare
    per shingle of A, without a branch, instead of a merge through both sets."""
    c = np.int64(0)
    k = i
    while k < ie:
        stop = min(k + 32, ie)
        for t in range(k, stop):
            v = sh_a[t]
            c += table[v & _TABLE_MASK] == v
        k = stop
        if c + n_over + (ie - k) < need:
            return c
    for o in range(n_over):
        p = i + np.searchsorted(sh_a[i:ie], overflow[o])
        c += p < ie and sh_a[p] == overflow[o]
    return c


@njit(cache=True, parallel=True)
def verify_joining(
    sh_a,
    off_a,
    sh_b,
    off_b,
    a_of,
    b_start,
    group_of,
    jaccard_threshold,
    containment_threshold,
    min_overlap,
    out,
    joined_first,
):
    """Shared shingles of the candidate pairs of each set ``j`` of B with the sets
    ``a_of[b_start[j]:b_start[j + 1]]`` of A, or -1 for a pair not worth counting: once set ``j``
    has a Jaccard link of like size (what :func:`link_kinds` calls strong) to one member of an A
    group (``group_of``, per pair), it is in that group, and its other pairs with the group's
    members can no longer change any dup group (:func:`attach_contained` ignores links inside a
    Jaccard group). The arithmetic is :func:`link_kinds`' own, so the test agrees with it exactly.
    A pair that cannot link gets a count below what linking needs, not the exact one.
    ``joined_first[j]``: the smallest group set ``j`` joined, or -1."""
    n = len(b_start) - 1
    chunks = min(n, _CHUNKS)
    for c in prange(chunks):
        table = _empty_table()
        overflow = np.empty(_TABLE_SET_MAX, dtype=np.uint32)
        for j in range(c * n // chunks, (c + 1) * n // chunks):
            lo, hi = b_start[j], b_start[j + 1]
            joined_first[j] = -1
            if lo == hi:
                continue
            size_b = off_b[j + 1] - off_b[j]
            in_table = size_b <= _TABLE_SET_MAX
            n_over = _fill_table(table, sh_b, off_b[j], off_b[j + 1], overflow) if in_table else 0
            order = np.argsort(group_of[lo:hi], kind="mergesort") + lo
            joined = np.int64(-1)
            for k in order:
                if group_of[k] == joined:
                    out[k] = -1
                    continue
                size_a = off_a[a_of[k] + 1] - off_a[a_of[k]]
                need = _least_linking(size_a, size_b, jaccard_threshold, containment_threshold, min_overlap)
                if in_table:
                    shared = _shared_in_table(
                        table, overflow, n_over, sh_a, off_a[a_of[k]], off_a[a_of[k] + 1], need
                    )
                else:
                    shared = _shared_at_least(
                        sh_a, off_a[a_of[k]], off_a[a_of[k] + 1], sh_b, off_b[j], off_b[j + 1], need
                    )
                out[k] = shared
                union = size_a + size_b - shared
                if (
                    union > 0
                    and shared / union >= jaccard_threshold
                    and min(size_a, size_b) >= _ALIKE_SIZE_RATIO * max(size_a, size_b)
                ):
                    joined = group_of[k]
                    if joined_first[j] < 0:
                        joined_first[j] = joined
            if in_table:
                _clear_table(table, sh_b, off_b[j], off_b[j + 1])


@njit(cache=True)
def _pairs_by_component(component, n):
    """Pair indices grouped by ``component`` (labels below ``n``), largest component first, in
    their order within each (a counting sort), and where each component's pairs start."""
    count = np.zeros(n, dtype=np.int64)
    for c in component:
        count[c] += 1
    comps = np.flatnonzero(count)
    by_size = comps[np.argsort(-count[comps], kind="mergesort")]
    comp_off = np.zeros(len(comps) + 1, dtype=np.int64)
    cursor = np.empty(n, dtype=np.int64)
    for i in range(len(by_size)):
        cursor[by_size[i]] = comp_off[i]
        comp_off[i + 1] = comp_off[i] + count[by_size[i]]
    order = np.empty(len(component), dtype=np.int64)
    for k in range(len(component)):
        order[cursor[component[k]]] = k
        cursor[component[k]] += 1
    return order, comp_off


@njit(cache=True, parallel=True)
def _verify_in_components(sh, off, left, right, parent, order, comp_off, lanes, jt, ct, mo, out):
    """:func:`verify_within` over whole components of the candidate graph (``order[comp_off[c]:
    comp_off[c + 1]]``: the pairs of component ``c``), one lane of components per thread. In a
    component the pairs go one by one: a pair whose ends are one Jaccard group already (``parent``,
    union-find) gets -1, a counted Jaccard link of like size joins the two. Components share no
    article, so the lanes never touch the same entries of ``parent``."""
    n_comps = len(comp_off) - 1
    for lane in prange(lanes):
        for c in range(lane, n_comps, lanes):
            for p in range(comp_off[c], comp_off[c + 1]):
                k = order[p]
                a, b = left[k], right[k]
                ra, rb = _find(parent, a), _find(parent, b)
                if ra == rb:
                    out[k] = -1
                    continue
                size_a, size_b = off[a + 1] - off[a], off[b + 1] - off[b]
                shared = _shared_at_least(
                    sh, off[a], off[a + 1], sh, off[b], off[b + 1], _least_linking(size_a, size_b, jt, ct, mo)
                )
                out[k] = shared
                union = size_a + size_b - shared
                if (
                    union > 0
                    and shared / union >= jt
                    and min(size_a, size_b) >= _ALIKE_SIZE_RATIO * max(size_a, size_b)
                ):
                    parent[max(ra, rb)] = min(ra, rb)


def verify_within(
    sh: np.ndarray,
    off: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    joined: np.ndarray,
    jaccard_threshold: float,
    containment_threshold: float,
    min_overlap: int,
    out: np.ndarray,
) -> None:
    """Shared shingles of the candidate pairs ``(left[k], right[k])`` of one set of sets, or -1
    for a pair whose two sets are in one Jaccard group already: both joined the same group
    (``joined``, from :func:`verify_joining`), or counted Jaccard links of like size among these
    sets join them. Such a pair can change no dup group (see :func:`verify_joining`); a batch of
    new copies of one story needs a chain of counts, not one per pair. Like there, a pair that
    cannot link gets a count below what linking needs. The pairs of a component of the candidate
    graph are counted in order, one component at a time per thread."""
    n = len(joined)
    if not len(left):
        return
    parent = np.arange(n, dtype=np.int64)  # sets that joined one group start as one
    members = np.flatnonzero(joined >= 0)
    groups, first = np.unique(joined[members], return_index=True)
    parent[members] = members[first[np.searchsorted(groups, joined[members])]]
    component = union_find(n, np.concatenate([left, members]), np.concatenate([right, parent[members]]))
    order, comp_off = _pairs_by_component(component[left], n)
    _verify_in_components(
        sh,
        off,
        np.asarray(left, dtype=np.int64),
        np.asarray(right, dtype=np.int64),
        parent,
        order,
        comp_off,
        get_num_threads(),
        jaccard_threshold,
        containment_threshold,
        min_overlap,
        out,
    )


@dataclass(slots=True)
class PairScores:
    """Exact overlap of candidate pairs ``(left[k], right[k])``."""

    left: np.ndarray
    right: np.ndarray
    shared: np.ndarray  # int64 shared shingles
    jaccard: np.ndarray
    containment: np.ndarray


def verify_pairs(
    shingles: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray
) -> PairScores:
    """Exact Jaccard and containment of each candidate pair from the sorted CSR shingle sets."""
    shared = np.empty(len(left), dtype=np.int64)
    if len(left):
        intersect_pairs(shingles, offsets, shingles, offsets, left, right, shared)
    sizes = np.diff(offsets)
    return pair_scores(left, right, shared, sizes[left], sizes[right])


def pair_scores(
    left: np.ndarray, right: np.ndarray, shared: np.ndarray, size_l: np.ndarray, size_r: np.ndarray
) -> PairScores:
    """Jaccard and containment of pairs from their shared-shingle counts and set sizes."""
    union = size_l + size_r - shared
    jaccard = np.divide(shared, union, out=np.zeros(len(left)), where=union > 0)
    smaller = np.minimum(size_l, size_r)
    containment = np.divide(shared, smaller, out=np.zeros(len(left)), where=smaller > 0)
    return PairScores(left, right, shared, jaccard, containment)


_LINK_CHUNKS = 64  # parallel work units of a pass over stored links


@njit(cache=True, parallel=True)
def _count_in_region(left, in_region, counts):
    n, chunks = len(left), len(counts)
    for c in prange(chunks):
        k = 0
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            k += in_region[left[i]]
        counts[c] = k


@njit(cache=True, parallel=True)
def _fill_in_region(left, right, shared, in_region, local, sizes, starts, out_l, out_r, out_c, out_j):
    n, chunks = len(left), len(starts)
    for c in prange(chunks):
        w = starts[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            a = left[i]
            if not in_region[a]:
                continue
            b, count = right[i], shared[i]
            out_l[w], out_r[w] = local[a], local[b]
            union = sizes[a] + sizes[b] - count  # pair_scores' arithmetic, bit for bit
            out_j[w] = count / union if union > 0 else 0.0
            smaller = min(sizes[a], sizes[b])
            out_c[w] = count / smaller if smaller > 0 else 0.0
            w += 1


def links_in_region(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    in_region: np.ndarray,
    local: np.ndarray,
    sizes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The links among ``parts`` (``(left, right, shared)`` columns) whose left end is in a region
    (``in_region``; a region is whole components, so the right end is too): their ends as
    positions in the region (``local``), containment and Jaccard (as :func:`pair_scores`).

    One compiled pass per part counts and one writes, instead of masking, gathering and scoring
    millions of stored links in separate numpy passes."""
    counts = [np.empty(min(_LINK_CHUNKS, max(len(left), 1)), dtype=np.int64) for left, _, _ in parts]
    for (left, _, _), count in zip(parts, counts, strict=True):
        count[:] = 0
        if len(left):
            _count_in_region(left, in_region, count)
    total = int(sum(int(c.sum()) for c in counts))
    out_l, out_r = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
    out_c, out_j = np.empty(total, dtype=np.float64), np.empty(total, dtype=np.float64)
    done = 0
    for (left, right, shared), count in zip(parts, counts, strict=True):
        if len(left):
            starts = done + np.cumsum(count) - count
            _fill_in_region(left, right, shared, in_region, local, sizes, starts, out_l, out_r, out_c, out_j)
        done += int(count.sum())
    return out_l, out_r, out_c, out_j


@njit(cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True)
def _union_all(parent, left, right):
    for k in range(len(left)):
        a = _find(parent, left[k])
        b = _find(parent, right[k])
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
    for x in range(len(parent)):
        parent[x] = _find(parent, x)


def union_find(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components: for each of ``n`` nodes, the smallest node index of its component."""
    parent = np.arange(n, dtype=np.int64)
    if len(left):
        _union_all(parent, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64))
    return parent


def merge_labels(
    labels: np.ndarray, left: np.ndarray, right: np.ndarray, *, in_place: bool = False
) -> np.ndarray:
    """Component labels (smallest member index, as :func:`union_find` gives) after the links
    ``(left[k], right[k])`` join components: union-find over the labels the links touch only.
    ``in_place``: relabel ``labels`` itself (an int64 array the caller owns) and return it."""
    if not len(left):
        return labels
    a, b = labels[left], labels[right]
    touched = sorted_unique(np.concatenate([a, b]))
    root = union_find(len(touched), np.searchsorted(touched, a), np.searchsorted(touched, b))
    moved = root != np.arange(len(touched))  # the smallest label of a merged set stays
    if not moved.any():
        return labels
    labels = np.asarray(labels, dtype=np.int64)
    out = labels if in_place else np.empty(len(labels), dtype=np.int64)
    _relabel(labels, touched[moved], touched[root[moved]], out)
    return out


@njit(cache=True, parallel=True)
def _relabel(labels, moved_from, moved_to, out):
    """``out[i]``: ``labels[i]``, or ``moved_to[k]`` where it is ``moved_from[k]`` (sorted, few):
    one pass over the labels, and a byte mark per label instead of an int64 map of all of them."""
    mark = np.zeros(len(labels), dtype=np.bool_)
    for k in range(len(moved_from)):
        mark[moved_from[k]] = True
    for i in prange(len(labels)):
        label = labels[i]
        out[i] = moved_to[np.searchsorted(moved_from, label)] if mark[label] else label


@njit(cache=True)
def _by_child(n, child):
    """Edge indices grouped by child (those of ``i``: ``idx[off[i]:off[i + 1]]``, in edge order),
    by counting: no sort."""
    off = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(child)):
        off[child[e] + 1] += 1
    for i in range(n):
        off[i + 1] += off[i]
    cursor = off[:-1].copy()
    idx = np.empty(len(child), dtype=np.int64)
    for e in range(len(child)):
        idx[cursor[child[e]]] = e
        cursor[child[e]] += 1
    return off, idx


@njit(cache=True, parallel=True)
def _best_containers(
    off, idx, parent, containment, jaccard, tiebreak, excluded_group, strong_label, out, moved
):
    """Each child's best container outside the excluded Jaccard groups: most contained, then most
    similar, then smallest tiebreak (then first edge); ``out[i]``: its edge, or -1.

    Rounds only ever exclude more groups, so a child whose best container is still allowed (or
    who had none) keeps its choice: only the others are searched again (``out`` starts at -2,
    none chosen yet), and ``moved[i]`` says whether child ``i`` was."""
    for i in prange(len(off) - 1):
        moved[i] = False
        if out[i] == -1 or (out[i] >= 0 and not excluded_group[strong_label[parent[out[i]]]]):
            continue
        moved[i] = True
        best = -1
        for k in range(off[i], off[i + 1]):
            e = idx[k]
            if excluded_group[strong_label[parent[e]]]:
                continue
            if (
                best < 0
                or containment[e] > containment[best]
                or (
                    containment[e] == containment[best]
                    and (
                        jaccard[e] > jaccard[best]
                        or (jaccard[e] == jaccard[best] and tiebreak[parent[e]] < tiebreak[parent[best]])
                    )
                )
            ):
                best = e
        out[i] = best


@njit(cache=True)
def _links_csr(n, left, right):
    """Links in both directions as CSR over ``n`` articles (neighbours of ``i``:
    ``adj[off[i]:off[i + 1]]``), by counting: no sort."""
    off = np.zeros(n + 1, dtype=np.int64)
    for i in range(len(left)):
        off[left[i] + 1] += 1
        off[right[i] + 1] += 1
    for i in range(n):
        off[i + 1] += off[i]
    cursor = off[:-1].copy()
    adj = np.empty(2 * len(left), dtype=np.int64)
    for i in range(len(left)):
        a, b = left[i], right[i]
        adj[cursor[a]] = b
        cursor[a] += 1
        adj[cursor[b]] = a
        cursor[b] += 1
    return off, adj


def _digests(
    child: np.ndarray,
    parent: np.ndarray,
    strong_label: np.ndarray,
    by_group: np.ndarray,
    adj_off: np.ndarray,
    adj: np.ndarray,
) -> np.ndarray:
    """Containers whose attached articles fall apart into unrelated groups once the container is removed.

    ``child``/``parent`` are the chosen attachments, ``strong_label`` the Jaccard groups, ``by_group``
    the members of the groups children attach from, sorted by group, and ``adj_off``/``adj`` the
    containment links among them (:func:`_links_csr`).
    """
    # distinct (container, Jaccard group of an attached article) pairs, sorted by container
    pa, pc = unique_pairs(parent, strong_label[child])
    parents, starts, counts = np.unique(pa, return_index=True, return_counts=True)
    suspect = counts >= 2  # receives articles from two or more Jaccard groups
    if not suspect.any():
        return np.empty(0, dtype=np.int64)
    suspects = parents[suspect]
    suspect_comps = pc[concat_ranges(starts[suspect], counts[suspect])]
    suspect_off = np.concatenate([[0], np.cumsum(counts[suspect])])
    # each attached group's members are a contiguous range of by_group
    grouped = strong_label[by_group]
    comp_start = np.searchsorted(grouped, suspect_comps)
    comp_end = np.searchsorted(grouped, suspect_comps, side="right")
    group_start = np.searchsorted(grouped, grouped)
    group_end = np.searchsorted(grouped, grouped, side="right")
    falls_apart = _falls_apart(
        suspects, suspect_off, comp_start, comp_end, by_group, group_start, group_end, adj_off, adj
    )
    return suspects[falls_apart]


@njit(cache=True)
def _falls_apart(suspects, suspect_off, comp_start, comp_end, by_group, group_start, group_end, adj_off, adj):
    """For each suspect container: do the members of its attached Jaccard groups (itself excluded)
    form two or more components, linked by any verified overlap among them?

    A Jaccard group is connected by its own Jaccard links, none of which passes through the container
    (it belongs to none of the groups attached to it), so the search moves a whole group at a time
    and follows only the containment links between groups."""
    n = len(adj_off) - 1
    member = np.full(n, -1, dtype=np.int64)  # stamped with the suspect being examined
    seen = np.full(n, -1, dtype=np.int64)
    where = np.full(n, -1, dtype=np.int64)  # position in by_group
    for g in range(len(by_group)):
        where[by_group[g]] = g
    stack = np.empty(n, dtype=np.int64)
    out = np.zeros(len(suspects), dtype=np.bool_)
    for s in range(len(suspects)):
        p = suspects[s]
        for k in range(suspect_off[s], suspect_off[s + 1]):
            for g in range(comp_start[k], comp_end[k]):
                d = by_group[g]
                if d != p:
                    member[d] = s
        components = 0
        for k in range(suspect_off[s], suspect_off[s + 1]):
            if comp_start[k] == comp_end[k] or seen[by_group[comp_start[k]]] == s:
                continue
            components += 1
            if components >= 2:
                break
            top = 0
            for g in range(comp_start[k], comp_end[k]):
                seen[by_group[g]] = s
                stack[top] = by_group[g]
                top += 1
            while top > 0:
                top -= 1
                x = stack[top]
                for e in range(adj_off[x], adj_off[x + 1]):
                    y = adj[e]
                    if member[y] == s and seen[y] != s:
                        # all of y's group joins the component
                        for g in range(group_start[where[y]], group_end[where[y]]):
                            seen[by_group[g]] = s
                            stack[top] = by_group[g]
                            top += 1
        out[s] = components >= 2
    return out


def link_kinds(
    scores: PairScores,
    sizes: np.ndarray,
    *,
    jaccard_threshold: float,
    containment_threshold: float,
    min_overlap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the pairs that join outright (``strong``: a Jaccard match between articles of like
    size) and of those that attach the smaller article to one container (``contained``)."""
    # A Jaccard match between articles of unlike size (a brief inside a digest can reach the Jaccard
    # threshold too) is treated like a containment match: it attaches the smaller to one container.
    size_l, size_r = sizes[scores.left], sizes[scores.right]
    alike = np.minimum(size_l, size_r) >= _ALIKE_SIZE_RATIO * np.maximum(size_l, size_r)
    similar = scores.jaccard >= jaccard_threshold
    strong = similar & alike
    contained = ~strong & (
        similar | ((scores.containment >= containment_threshold) & (scores.shared >= min_overlap))
    )
    return strong, contained


def link_articles(
    n: int,
    scores: PairScores,
    sizes: np.ndarray,
    tiebreak: np.ndarray,
    *,
    jaccard_threshold: float,
    containment_threshold: float,
    min_overlap: int,
) -> np.ndarray:
    """Dup-group labels (smallest member index) from verified pairs, guarding against digests."""
    strong, contained = link_kinds(
        scores,
        sizes,
        jaccard_threshold=jaccard_threshold,
        containment_threshold=containment_threshold,
        min_overlap=min_overlap,
    )
    strong_label = union_find(n, scores.left[strong], scores.right[strong])
    return attach_contained(
        strong_label,
        scores.left[contained],
        scores.right[contained],
        scores.containment[contained],
        scores.jaccard[contained],
        sizes,
        tiebreak,
    )


@njit(cache=True)
def _across_groups(left, right, sizes, tiebreak, strong_label, containment, jaccard):
    """(child, parent, containment, Jaccard) of the links between two Jaccard groups; the child is
    the smaller article, or the one with the larger tiebreak where sizes tie."""
    keep = 0
    for k in range(len(left)):
        keep += strong_label[left[k]] != strong_label[right[k]]
    child = np.empty(keep, dtype=np.int64)
    parent = np.empty(keep, dtype=np.int64)
    cont = np.empty(keep, dtype=np.float64)
    jac = np.empty(keep, dtype=np.float64)
    w = 0
    for k in range(len(left)):
        a, b = left[k], right[k]
        if strong_label[a] == strong_label[b]:
            continue
        if sizes[a] < sizes[b] or (sizes[a] == sizes[b] and tiebreak[a] > tiebreak[b]):
            child[w], parent[w] = a, b
        else:
            child[w], parent[w] = b, a
        cont[w] = containment[k]
        jac[w] = jaccard[k]
        w += 1
    return child, parent, cont, jac


def attach_contained(
    strong_label: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    containment: np.ndarray,
    jaccard: np.ndarray,
    sizes: np.ndarray,
    tiebreak: np.ndarray,
) -> np.ndarray:
    """Dup-group labels from the Jaccard groups (``strong_label``: smallest member index) and the
    containment pairs ``(left[k], right[k])``: each contained article joins its best container
    that is no digest.

    The Jaccard links themselves are not needed: a group is connected by them whatever else is
    removed, so the groups and the containment pairs decide everything. An index keeps the groups
    and re-links only the containment pairs of the regions a batch touches."""
    n = len(strong_label)
    if not len(left):
        return strong_label
    # the smaller article is the child (ties: the larger tiebreak); links inside one Jaccard group
    # need no choosing
    child, parent, cont, jac = _across_groups(
        left, right, sizes, tiebreak, strong_label, containment, jaccard
    )
    if not len(child):
        return strong_label
    # the articles any round can examine: members of the Jaccard groups that children attach from;
    # the containment links among them (built once, not per round) and their order by group
    attaching = np.zeros(n, dtype=np.bool_)
    attaching[strong_label[child]] = True
    examined = attaching[strong_label]
    both = examined[parent]  # children are examined by definition
    adj_off, adj = _links_csr(n, child[both].astype(np.int64), parent[both].astype(np.int64))
    members = np.flatnonzero(examined)
    by_group = members[np.argsort(strong_label[members], kind="stable")]
    # A digest's near copies are digests too, and the briefs' next best container may be one of
    # them: exclude whole Jaccard groups and look again until no new digest turns up.
    excluded = np.zeros(n, dtype=np.bool_)  # by Jaccard group label
    child_off, by_child = _by_child(n, child)  # grouped once, searched per round
    best = np.full(n, -2, dtype=np.int64)
    moved = np.empty(n, dtype=np.bool_)
    for _ in range(_MAX_DIGEST_ROUNDS):
        _best_containers(
            child_off, by_child, parent, cont, jac, tiebreak, excluded, strong_label, best, moved
        )
        best_edge = best[best >= 0]
        chosen_child, chosen_parent = child[best_edge], parent[best_edge]
        # whether a container is a digest depends on the articles attached to it alone: only
        # containers that children moved to can have become one (those they left are excluded)
        receiving = np.zeros(n, dtype=np.bool_)
        receiving[parent[best[moved & (best >= 0)]]] = True
        again = receiving[chosen_parent]
        digests = _digests(chosen_child[again], chosen_parent[again], strong_label, by_group, adj_off, adj)
        new = strong_label[digests]
        new = new[~excluded[new]]
        if len(new) == 0:
            break
        excluded[new] = True
    # each article joins its Jaccard group (whose label is its smallest member) and its container
    return union_find(
        n,
        np.concatenate([np.arange(n), chosen_child]),
        np.concatenate([strong_label, chosen_parent]),
    )


def choose_canonical(
    labels: np.ndarray, dates: np.ndarray, lengths: np.ndarray, id_rank: np.ndarray, rule: str = "earliest"
) -> np.ndarray:
    """For each article, the index of its group's canonical article.

    ``earliest``: earliest date (undated last), then longest text, then smallest id.
    ``longest``: longest text, then earliest date, then smallest id.
    """
    if rule not in ("earliest", "longest"):
        raise ValueError(f"canonical rule must be 'earliest' or 'longest', got {rule!r}")
    labels = np.asarray(labels, dtype=np.int64)
    date_key = np.where(np.isnan(dates), np.inf, dates)
    return _canonical_of_labels(
        labels,
        date_key.astype(np.float64),
        np.asarray(lengths, dtype=np.int64),
        np.asarray(id_rank, dtype=np.int64),
        rule == "earliest",
    )


@njit(cache=True)
def _canonical_of_labels(labels, date_key, lengths, id_rank, earliest):
    """:func:`choose_canonical` in one pass: each label keeps its best article so far, replaced
    only by a strictly better one (so full ties go to the first, as a stable sort has it)."""
    best = np.full(len(labels), -1, dtype=np.int64)
    for i in range(len(labels)):
        b = best[labels[i]]
        if b < 0:
            best[labels[i]] = i
            continue
        if earliest:
            first_key, first_best = date_key[i] < date_key[b], date_key[i] == date_key[b]
            second_key, second_best = lengths[i] > lengths[b], lengths[i] == lengths[b]
        else:
            first_key, first_best = lengths[i] > lengths[b], lengths[i] == lengths[b]
            second_key, second_best = date_key[i] < date_key[b], date_key[i] == date_key[b]
        if first_key or (first_best and (second_key or (second_best and id_rank[i] < id_rank[b]))):
            best[labels[i]] = i
    out = np.empty(len(labels), dtype=np.int64)
    for i in range(len(labels)):
        out[i] = best[labels[i]]
    return out
