"""Tests for dedup.groups: exact verification, union-find, digest-guarded linking, canonical choice."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.groups import choose_canonical, link_articles, union_find, verify_pairs


def csr(sets: list[set[int]]) -> tuple[np.ndarray, np.ndarray]:
    arrays = [np.array(sorted(s), dtype=np.uint32) for s in sets]
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    flat = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.uint32)
    return flat, offsets


def components(labels) -> frozenset[frozenset[int]]:
    by: dict[int, set[int]] = {}
    for i, label in enumerate(np.asarray(labels).tolist()):
        by.setdefault(label, set()).add(i)
    return frozenset(frozenset(c) for c in by.values())


# --- verify_pairs --------------------------------------------------------------------------------------------

small_sets = st.lists(st.sets(st.integers(0, 40), max_size=30), min_size=2, max_size=8)


@settings(max_examples=60, deadline=None)
@given(sets=small_sets, data=st.data())
def test_verify_pairs_matches_set_arithmetic(sets, data):
    n = len(sets)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20))
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    scores = verify_pairs(*csr(sets), left, right)
    for k, (i, j) in enumerate(pairs):
        a, b = sets[i], sets[j]
        shared = len(a & b)
        assert scores.shared[k] == shared
        assert scores.jaccard[k] == pytest.approx(shared / len(a | b) if a | b else 0.0)
        smaller = min(len(a), len(b))
        assert scores.containment[k] == pytest.approx(shared / smaller if smaller else 0.0)


def test_verify_pairs_example():
    scores = verify_pairs(*csr([{1, 2, 3, 4}, {3, 4, 5}, set()]), np.array([0, 0]), np.array([1, 2]))
    assert scores.shared.tolist() == [2, 0]
    assert scores.jaccard.tolist() == [0.4, 0.0]
    assert scores.containment.tolist() == [pytest.approx(2 / 3), 0.0]


# --- union_find ----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 25), data=st.data())
def test_union_find_gives_components_labelled_by_smallest_member(n, data):
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))
    labels = union_find(
        n, np.array([e[0] for e in edges], dtype=np.int64), np.array([e[1] for e in edges], dtype=np.int64)
    )
    # reference: repeated merging of Python sets
    comps = [{i} for i in range(n)]
    for a, b in edges:
        ca = next(c for c in comps if a in c)
        cb = next(c for c in comps if b in c)
        if ca is not cb:
            ca |= cb
            comps.remove(cb)
    assert components(labels) == frozenset(frozenset(c) for c in comps)
    for c in comps:
        assert all(labels[i] == min(c) for i in c)


def test_union_find_without_edges():
    assert union_find(3, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)).tolist() == [0, 1, 2]


# --- link_articles -------------------------------------------------------------------------------------------

# Shingle sets standing in for articles: a full story is 200 shingles, a brief its first 30.
STORY_A = set(range(0, 200))
BRIEF_A = set(range(0, 30))
STORY_B = set(range(1000, 1200))
BRIEF_B = set(range(1000, 1030))
DIGEST = BRIEF_A | BRIEF_B | set(range(5000, 5040))  # a roundup: two briefs and a third item


def link(sets: list[set[int]], *, threshold=0.5, containment=0.8, min_overlap=15, tiebreak=None):
    flat, offsets = csr(sets)
    pairs = list(itertools.combinations(range(len(sets)), 2))
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    scores = verify_pairs(flat, offsets, left, right)
    tiebreak = np.arange(len(sets), dtype=np.uint64) if tiebreak is None else tiebreak
    labels = link_articles(
        len(sets),
        scores,
        np.diff(offsets),
        tiebreak,
        jaccard_threshold=threshold,
        containment_threshold=containment,
        min_overlap=min_overlap,
    )
    return components(labels)


def groups(*members) -> frozenset[frozenset[int]]:
    return frozenset(frozenset(m) for m in members)


def test_jaccard_edges_join():
    copy = set(range(10, 210))  # Jaccard 190/210 with STORY_A
    edited = set(range(20, 220))  # 180/220 with STORY_A, 190/210 with copy
    assert link([STORY_A, copy, edited, STORY_B]) == groups({0, 1, 2}, {3})
    assert link([STORY_A, copy], threshold=0.95, containment=1.0) == groups({0}, {1})


def test_brief_attaches_to_its_container():
    assert link([STORY_A, BRIEF_A, STORY_B]) == groups({0, 1}, {2})


def test_containment_needs_min_overlap():
    tiny = set(range(0, 10))
    assert link([STORY_A, tiny]) == groups({0}, {1})
    assert link([STORY_A, tiny], min_overlap=10) == groups({0, 1})


def test_containment_threshold():
    mostly = set(range(0, 24)) | set(range(3000, 3006))  # 80% of it inside STORY_A
    assert link([STORY_A, mostly]) == groups({0, 1})
    assert link([STORY_A, mostly], containment=0.9) == groups({0}, {1})


def test_digest_does_not_merge_unrelated_stories():
    assert link([STORY_A, BRIEF_A, STORY_B, BRIEF_B, DIGEST]) == groups({0, 1}, {2, 3}, {4})


def test_digest_alone_keeps_its_briefs_apart():
    assert link([BRIEF_A, BRIEF_B, DIGEST]) == groups({0}, {1}, {2})


def test_container_of_two_related_briefs_is_not_a_digest():
    brief = set(range(0, 20))
    excerpt = set(range(4, 60))  # not a Jaccard copy of the brief, but holds 80% of it
    assert link([STORY_A, brief, excerpt]) == groups({0, 1, 2})


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: a container holding two non-overlapping pieces of itself (a lead brief and a later "
    "excerpt) with no near copy present looks exactly like a digest, and the pieces stay apart",
)
def test_story_with_lead_brief_and_later_excerpt_keeps_both():
    later = set(range(150, 180))
    assert link([STORY_A, BRIEF_A, later]) == groups({0, 1, 2})


def test_syndicated_digest_does_not_merge_unrelated_stories():
    digest_copy = DIGEST | {9999}  # the same roundup at a second outlet, one word different
    labels = link([STORY_A, BRIEF_A, STORY_B, BRIEF_B, DIGEST, digest_copy])
    assert not any({1, 3} <= g for g in labels)
    assert labels == groups({0, 1}, {2, 3}, {4, 5})


def test_link_articles_is_independent_of_article_order():
    sets = [STORY_A, BRIEF_A, STORY_B, BRIEF_B, DIGEST, set(range(10, 210))]
    base = link(sets, tiebreak=np.arange(6, dtype=np.uint64) * 7919)
    for perm in itertools.islice(itertools.permutations(range(6)), 0, 720, 97):
        got = link([sets[p] for p in perm], tiebreak=np.array(perm, dtype=np.uint64) * 7919)
        assert groups(*({perm[i] for i in c} for c in got)) == base


# --- choose_canonical ----------------------------------------------------------------------------------------

NAN = np.nan


def canonical(labels, dates, lengths, ids, rule="earliest"):
    return choose_canonical(
        np.array(labels, dtype=np.int64),
        np.array(dates, dtype=np.float64),
        np.array(lengths, dtype=np.int64),
        np.array(ids, dtype=np.int64),
        rule,
    ).tolist()


def test_earliest_rule():
    #          group 0 .............   group 4 ........
    labels = [0, 0, 0, 0, 4, 4, 4, 7]
    dates = [30, 10, 10, NAN, NAN, NAN, NAN, 5]
    lengths = [900, 100, 200, 999, 50, 80, 80, 10]
    ids = [1, 2, 3, 4, 8, 6, 5, 7]
    # group 0: earliest date 10 (1 and 2), then the longer one -> 2; undated 3 loses despite its length
    # group 4: all undated -> longest (5 and 6 tie at 80) -> smallest id rank (6 has rank 5)
    assert canonical(labels, dates, lengths, ids) == [2, 2, 2, 2, 6, 6, 6, 7]


def test_longest_rule():
    labels = [0, 0, 0, 0, 4, 4, 4]
    dates = [30, 10, 10, NAN, 20, NAN, 10]
    lengths = [900, 100, 200, 900, 80, 80, 80]
    ids = [2, 4, 3, 1, 9, 8, 7]
    # group 0: longest 900 (0 and 3) -> dated before undated -> 0
    # group 4: all 80 -> earliest date -> 6
    assert canonical(labels, dates, lengths, ids, "longest") == [0, 0, 0, 0, 6, 6, 6]


def test_smallest_id_breaks_full_ties():
    assert canonical([0, 0, 0], [NAN] * 3, [5, 5, 5], [3, 1, 2]) == [1, 1, 1]
    assert canonical([0, 0, 0], [1, 1, 1], [5, 5, 5], [3, 1, 2], "longest") == [1, 1, 1]


def test_unknown_rule():
    with pytest.raises(ValueError, match="earliest"):
        canonical([0], [1], [1], [1], "newest")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.sampled_from(["earliest", "longest"]), st.data())
def test_canonical_is_the_first_of_each_group_in_rule_order(n, rule, data):
    """The one-pass choice equals the definition: sort by (group, rule's keys, id rank), take firsts."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    labels = rng.integers(0, n, n)
    dates = np.where(rng.random(n) < 0.3, NAN, rng.integers(0, 3, n).astype(float))  # ties and undated
    lengths, ids = rng.integers(0, 3, n), rng.permutation(n)
    key = np.where(np.isnan(dates), np.inf, dates)
    keys = (ids, -lengths, key) if rule == "earliest" else (ids, key, -lengths)
    order = np.lexsort((*keys, labels))
    first = {}
    for i in order.tolist():
        first.setdefault(int(labels[i]), i)
    assert canonical(labels, dates, lengths, ids, rule) == [first[int(g)] for g in labels]


def _digests_reference(child, parent, strong_label, left, right):
    """Per container, straight from the definition: members of its attached Jaccard groups, itself
    excluded; do they form two or more components over the links among them?"""
    out = []
    for p in sorted(set(parent.tolist())):
        comps = {int(strong_label[c]) for c, q in zip(child, parent, strict=True) if q == p}
        if len(comps) < 2:
            continue
        members = [d for d in range(len(strong_label)) if int(strong_label[d]) in comps and d != p]
        index = {d: k for k, d in enumerate(members)}
        keep = [(index[a], index[b]) for a, b in zip(left, right, strict=True) if a in index and b in index]
        ls = np.array([a for a, _ in keep], dtype=np.int64)
        rs = np.array([b for _, b in keep], dtype=np.int64)
        if len(np.unique(union_find(len(members), ls, rs))) >= 2:
            out.append(p)
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 30), st.data())
def test_digests_match_the_definition(n, data):
    from dedup.groups import _digests, _links_csr

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    m = data.draw(st.integers(0, 3 * n))
    left = rng.integers(0, n, m)
    right = rng.integers(0, n, m)
    ok = left != right
    left, right = left[ok], right[ok]
    strong = rng.random(len(left)) < 0.4
    strong_label = union_find(n, left[strong], right[strong])
    k = data.draw(st.integers(0, 2 * n))
    child = rng.integers(0, n, k)
    parent = rng.integers(0, n, k)
    ok = strong_label[child] != strong_label[parent]  # attachments only run across Jaccard groups
    child, parent = child[ok], parent[ok]
    # the Jaccard links are left out: the groups they make are connected without them
    adj_off, adj = _links_csr(n, left[~strong].astype(np.int64), right[~strong].astype(np.int64))
    by_group = np.argsort(strong_label, kind="stable")  # every article, in group order
    got = _digests(child, parent, strong_label, by_group, adj_off, adj)
    assert got.tolist() == _digests_reference(child, parent, strong_label, left, right)


def test_links_csr_lists_each_link_from_both_ends():
    from dedup.groups import _links_csr

    off, adj = _links_csr(5, np.array([0, 2, 0, 2], dtype=np.int64), np.array([1, 1, 3, 1], dtype=np.int64))
    neighbours = [sorted(adj[off[i] : off[i + 1]].tolist()) for i in range(5)]
    assert neighbours == [[1, 3], [0, 2, 2], [1, 1], [0], []]  # a repeated link stays repeated


def _csr(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])]).astype(np.int64)
    return np.concatenate(sets).astype(np.uint32), offsets


def _kinds(left, right, shared, sizes):
    from dedup.groups import link_kinds, pair_scores

    scores = pair_scores(left, right, shared, sizes[left], sizes[right])
    return link_kinds(scores, sizes, jaccard_threshold=0.5, containment_threshold=0.9, min_overlap=20)


@pytest.mark.parametrize(
    ("spread", "cut_short"),
    [
        (lambda v: v, True),
        (lambda v: v << 14, False),  # every shingle in one table slot: all but one overflow, counted in full
        (lambda v: (v * 2654435761) & 0xFFFFFFFF, True),  # hashed: a few share a slot
    ],
    ids=["small", "one-slot", "hashed"],
)
def test_verify_joining_counts_until_a_new_set_joins_a_group_and_skips_only_the_rest_of_it(spread, cut_short):
    from dedup.groups import intersect_pairs, verify_joining, verify_within

    rng = np.random.default_rng(3)
    base = [np.sort(rng.choice(3000, 200, replace=False)) for _ in range(6)]

    def variant(k: int, keep: float) -> np.ndarray:
        kept = base[k][rng.random(200) < keep]
        return np.unique(
            spread(np.concatenate([kept, rng.choice(np.arange(3000, 9000), 10)]).astype(np.uint64))
        )

    stored = [variant(k % 6, rng.choice([0.95, 0.5])) for k in range(60)]
    group_of_stored = np.arange(60) % 6  # its Jaccard group
    new = [variant(k % 6, rng.choice([0.95, 0.3])) for k in range(12)]
    sh_a, off_a = _csr(stored)
    sh_b, off_b = _csr(new)
    b_start = np.arange(13) * 60  # every new set against every stored one
    a_of = np.tile(np.arange(60), 12)
    b_of = np.repeat(np.arange(12), 60)
    out = np.empty(len(a_of), np.int64)
    joined = np.empty(12, np.int64)
    verify_joining(sh_a, off_a, sh_b, off_b, a_of, b_start, group_of_stored[a_of], 0.5, 0.9, 20, out, joined)
    full = np.empty(len(a_of), np.int64)
    intersect_pairs(sh_a, off_a, sh_b, off_b, a_of, b_of, full)
    sizes = np.concatenate([np.diff(off_a), np.diff(off_b)])  # stored sets numbered first, then the new
    strong, contained = _kinds(a_of, b_of + 60, full, sizes)
    counted = out >= 0
    assert 0 < (~counted).sum() < len(out) / 2
    # a counted pair links exactly as with its full count, and a linked one has its exact count
    got_strong, got_contained = _kinds(a_of[counted], b_of[counted] + 60, out[counted], sizes)
    assert (got_strong == strong[counted]).all() and (got_contained == contained[counted]).all()
    linked = (strong | contained)[counted]
    assert (out[counted][linked] == full[counted][linked]).all()
    assert (out[counted][~linked] < full[counted][~linked]).any() == cut_short  # hopeless pairs are cut short
    # a skipped pair's new set has a counted strong pair with the same stored group
    joins = {
        (int(b), int(group_of_stored[a])) for a, b, ok in zip(a_of, b_of, strong & counted, strict=True) if ok
    }
    for a, b in zip(a_of[~counted], b_of[~counted], strict=True):
        assert (int(b), int(group_of_stored[a])) in joins
    # and every group a new set strongly matches is joined by some counted pair
    for a, b in zip(a_of[strong], b_of[strong], strict=True):
        assert (int(b), int(group_of_stored[a])) in joins
    assert joined.tolist() == [min((g for b, g in joins if b == j), default=-1) for j in range(12)]
    # pairs among the new sets: two that both joined the same group are never counted
    left, right = np.triu_indices(12, 1)
    within = np.empty(len(left), np.int64)
    verify_within(sh_b, off_b, left, right, joined, 0.5, 0.9, 20, within)
    both = (joined[left] >= 0) & (joined[left] == joined[right])
    assert both.any() and (within[both] == -1).all()
    _assert_within_is_exact(sh_b, off_b, left, right, joined, within)


def test_verify_joining_counts_sets_too_large_for_the_table_exactly():
    """Sets larger than the lookup table's share are merged: the same counts as the table gives."""
    from dedup.groups import intersect_pairs, verify_joining

    rng = np.random.default_rng(5)
    base = rng.choice(2**32 - 1, 20_000, replace=False)
    sets = [np.unique(base[rng.random(len(base)) < keep]) for keep in (0.9, 0.3, 0.6, 0.04, 0.05)]
    sh_a, off_a = _csr(sets[:3])  # stored: about 18k, 6k and 12k shingles
    sh_b, off_b = _csr(sets[3:])  # new: about 800 (in the table) and 1,000
    sh_b2, off_b2 = _csr([sets[1], sets[0]])  # new sets larger than the table takes
    for b_sh, b_off in ((sh_b, off_b), (sh_b2, off_b2)):
        a_of = np.tile(np.arange(3), 2)
        b_start = np.array([0, 3, 6])
        out, joined = np.empty(6, np.int64), np.empty(2, np.int64)
        verify_joining(sh_a, off_a, b_sh, b_off, a_of, b_start, np.arange(6) + 10, 0.5, 0.9, 20, out, joined)
        full = np.empty(6, np.int64)
        intersect_pairs(sh_a, off_a, b_sh, b_off, a_of, np.repeat([0, 1], 3), full)
        sizes = np.concatenate([np.diff(off_a), np.diff(b_off)])
        strong, contained = _kinds(a_of, np.repeat([3, 4], 3), full, sizes)
        linked = strong | contained
        assert linked.any() and (out[linked] == full[linked]).all()
        assert (out[~linked] <= full[~linked]).all()


def _assert_within_is_exact(sh, off, left, right, joined, within):
    """``verify_within``'s counts make the same Jaccard groups as exact counts of every pair, a
    counted pair links as with its exact count, and a skipped pair lies inside one group."""
    from dedup.groups import intersect_pairs, union_find

    exact = np.empty(len(left), np.int64)
    intersect_pairs(sh, off, sh, off, left, right, exact)
    sizes = np.diff(off)
    n = len(sizes)
    seeds = [
        (int(a), int(b))
        for a in range(n)
        for b in range(n)
        if a < b and joined[a] >= 0 and joined[a] == joined[b]
    ]
    seed_l = np.array([a for a, _ in seeds], dtype=np.int64)
    seed_r = np.array([b for _, b in seeds], dtype=np.int64)
    counted = within >= 0
    got_strong, got_contained = _kinds(left[counted], right[counted], within[counted], sizes)
    strong, contained = _kinds(left, right, exact, sizes)
    assert (got_strong == strong[counted]).all() and (got_contained == contained[counted]).all()
    linked = (strong | contained)[counted]
    assert (within[counted][linked] == exact[counted][linked]).all()
    groups = union_find(n, np.concatenate([seed_l, left[strong]]), np.concatenate([seed_r, right[strong]]))
    got = union_find(
        n,
        np.concatenate([seed_l, left[counted][got_strong]]),
        np.concatenate([seed_r, right[counted][got_strong]]),
    )
    assert (got == groups).all()
    assert (groups[left[~counted]] == groups[right[~counted]]).all()
    # every counted Jaccard link joined two groups: no count was spent inside a group
    seeded = union_find(n, seed_l, seed_r)
    assert got_strong.sum() == len(np.unique(seeded)) - len(np.unique(groups))
    return strong


def test_verify_within_counts_a_chain_per_group_of_new_copies():
    """Ten copies of each of four stories, all in one batch: only pairs that join two groups are
    counted (a chain per story, not every pair), and the groups are those of exact counts."""
    from dedup.groups import verify_within

    rng = np.random.default_rng(11)
    stories = [np.sort(rng.choice(5000, 250, replace=False)) for _ in range(4)]
    sets = []
    for k in range(40):
        base = stories[k % 4]
        kept = base[rng.random(250) < (0.45 if k < 8 else rng.choice([0.97, 0.92, 0.88]))]  # 8 briefs
        sets.append(np.unique(np.concatenate([kept, rng.choice(np.arange(5000, 20000), 8)])))
    sh, off = _csr(sets)
    left, right = np.triu_indices(40, 1)
    same_story = left % 4 == right % 4  # the candidate pairs LSH would give
    left, right = left[same_story], right[same_story]
    joined = np.full(40, -1, dtype=np.int64)
    joined[[0, 4, 8]] = 7  # three copies of story 0 joined a stored group already
    within = np.empty(len(left), np.int64)
    verify_within(sh, off, left, right, joined, 0.5, 0.9, 20, within)
    strong = _assert_within_is_exact(sh, off, left, right, joined, within)
    assert (within == -1).sum() >= strong.sum() - 40  # of each story's strong pairs, a chain counted


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.data())
def test_merge_labels_equals_union_find_over_all_links(n, data):
    from dedup.groups import merge_labels

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    m1, m2 = data.draw(st.integers(0, 2 * n)), data.draw(st.integers(0, 2 * n))
    l1, r1 = rng.integers(0, n, m1), rng.integers(0, n, m1)
    l2, r2 = rng.integers(0, n, m2), rng.integers(0, n, m2)
    before = union_find(n, l1, r1)
    kept = before.copy()
    got = merge_labels(before, l2, r2)
    expected = union_find(n, np.concatenate([l1, l2]), np.concatenate([r1, r2])).tolist()
    assert got.tolist() == expected
    assert before.tolist() == kept.tolist()  # left as it was
    in_place = merge_labels(before, l2, r2, in_place=True)
    assert in_place.tolist() == expected and before.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 60), st.data())
def test_links_in_region_equals_masking_and_scoring(n, data):
    """The compiled pass keeps the links whose left end is in the region, in part order, with their
    ends renumbered and scored exactly as pair_scores scores them."""
    from dedup.groups import links_in_region, pair_scores

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    sizes = rng.integers(0, 50, n)
    in_region = rng.random(n) < data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    local = np.full(n, -1, dtype=np.int64)
    local[in_region] = np.arange(in_region.sum())
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        m = data.draw(st.sampled_from([0, 1, 5, 200]))  # 200: more links than work units
        left, right = rng.integers(0, n, m), rng.integers(0, n, m)
        shared = np.minimum(rng.integers(0, 50, m), np.minimum(sizes[left], sizes[right]))
        parts.append((left, right, shared.astype(np.int64)))
    el, er, containment, jaccard = links_in_region(parts, in_region, local, sizes)
    left = np.concatenate([p[0] for p in parts])
    right = np.concatenate([p[1] for p in parts])
    shared = np.concatenate([p[2] for p in parts])
    keep = in_region[left]
    left, right, shared = left[keep], right[keep], shared[keep]
    want = pair_scores(left, right, shared, sizes[left], sizes[right])
    assert el.tolist() == local[left].tolist() and er.tolist() == local[right].tolist()
    assert containment.tolist() == want.containment.tolist() and jaccard.tolist() == want.jaccard.tolist()


def _attach_reference(strong_label, left, right, containment, jaccard, sizes, tiebreak):
    """attach_contained's rounds searched in full each time, from the definitions: every child's
    best container outside the excluded groups, then the digests among all of them. Also returns
    how many rounds it took."""
    from dedup.groups import _MAX_DIGEST_ROUNDS, _across_groups

    n = len(strong_label)
    child, parent, cont, jac = _across_groups(
        left, right, sizes, tiebreak, strong_label, containment, jaccard
    )
    excluded: set[int] = set()
    rounds = 0
    while rounds < _MAX_DIGEST_ROUNDS:
        rounds += 1
        best: dict[int, tuple] = {}
        for e in range(len(child)):
            if int(strong_label[parent[e]]) in excluded:
                continue
            key = (-cont[e], -jac[e], int(tiebreak[parent[e]]), e)
            if int(child[e]) not in best or key < best[int(child[e])]:
                best[int(child[e])] = key
        chosen = np.array(sorted(key[-1] for key in best.values()), dtype=np.int64)
        chosen_child, chosen_parent = child[chosen], parent[chosen]
        # the overlaps among attached articles: containment links, and each Jaccard group's own
        links_l, links_r = np.concatenate([child, np.arange(n)]), np.concatenate([parent, strong_label])
        digests = _digests_reference(chosen_child, chosen_parent, strong_label, links_l, links_r)
        new = {int(strong_label[d]) for d in digests} - excluded
        if not new:
            break
        excluded |= new
    labels = union_find(
        n, np.concatenate([np.arange(n), chosen_child]), np.concatenate([strong_label, chosen_parent])
    )
    return labels, rounds


def test_attach_contained_equals_its_rounds_searched_in_full():
    """Later rounds search again only the children whose container was excluded and test only
    the containers they moved to: the same groups as searching everything every round."""
    from dedup.groups import attach_contained

    several_rounds = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(4, 40))
        m = int(rng.integers(n, 4 * n))
        left, right = rng.integers(0, n, m), rng.integers(0, n, m)
        ok = left != right
        left, right = left[ok], right[ok]
        strong = rng.random(len(left)) < 0.3
        strong_label = union_find(n, left[strong], right[strong])
        contained = ~strong
        args = (
            strong_label,
            left[contained],
            right[contained],
            rng.choice([0.7, 0.8, 0.9, 1.0], contained.sum()),  # ties, for the tie-breaks
            rng.choice([0.1, 0.2, 0.3], contained.sum()),
            rng.integers(10, 14, n),
            rng.integers(0, 5, n).astype(np.uint64),
        )
        want, rounds = _attach_reference(*args)
        several_rounds += rounds >= 3
        assert attach_contained(*args).tolist() == want.tolist(), seed
    assert several_rounds >= 10  # digests found in two rounds or more
