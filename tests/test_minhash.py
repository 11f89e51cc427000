"""Tests for dedup.minhash: signatures bit-identical to datasketch's affine32 MinHash, and LeanMinHash interop."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.minhash import EMPTY, datasketch_hashfunc, permutations, signatures, to_lean_minhash
from dedup.shingle import shingle_hash, shingles_of


def csr(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sets])
    flat = np.array([h for s in sets for h in s], dtype=np.uint32)
    return flat, offsets


def datasketch_minhash(tokens: list[str], shingle_size: int, num_perm: int, seed: int) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=datasketch_hashfunc)
    for shingle in shingles_of(tokens, shingle_size):
        m.update(" ".join(shingle))
    return m


def our_signature(token_lists: list[list[str]], shingle_size: int, num_perm: int, seed: int) -> np.ndarray:
    sets = [[shingle_hash(s) for s in shingles_of(tokens, shingle_size)] for tokens in token_lists]
    return signatures(*csr(sets), num_perm=num_perm, seed=seed)


token = st.text(alphabet=st.sampled_from(list("abcdefghij") + ["é", "ß", "中", "ж"]), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    token_lists=st.lists(st.lists(token, max_size=40), min_size=1, max_size=4),
    shingle_size=st.integers(1, 5),
    num_perm=st.sampled_from([2, 16, 64, 128]),
    seed=st.sampled_from([0, 1, 7, 42, 2**31 - 1]),
)
def test_signatures_equal_datasketch(token_lists, shingle_size, num_perm, seed):
    ours = our_signature(token_lists, shingle_size, num_perm, seed)
    assert ours.shape == (len(token_lists), num_perm)
    assert ours.dtype == np.uint32
    for row, tokens in zip(ours, token_lists, strict=True):
        expected = datasketch_minhash(tokens, shingle_size, num_perm, seed).hashvalues
        np.testing.assert_array_equal(row, expected.astype(np.uint32))


def test_permutations_are_datasketchs():
    a, b = permutations(64, seed=3)
    pa, pb = MinHash(num_perm=64, seed=3).permutations
    np.testing.assert_array_equal(a, pa)
    np.testing.assert_array_equal(b, pb)
    assert (a % 2 == 1).all()


def test_duplicates_in_a_set_do_not_matter():
    ours = signatures(*csr([[5, 9, 9, 5, 7], [5, 7, 9]]), num_perm=32)
    np.testing.assert_array_equal(ours[0], ours[1])


def test_empty_set_is_all_empty():
    sig = signatures(*csr([[], [1, 2, 3], []]), num_perm=16)
    assert (sig[0] == EMPTY).all() and (sig[2] == EMPTY).all()
    assert not (sig[1] == EMPTY).all()
    np.testing.assert_array_equal(sig[0], MinHash(num_perm=16).hashvalues.astype(np.uint32))


def test_no_documents():
    sig = signatures(np.empty(0, dtype=np.uint32), np.zeros(1, dtype=np.int64), num_perm=8)
    assert sig.shape == (0, 8)


def test_signatures_estimate_jaccard():
    # 1000-element sets with a true Jaccard of 0.6; 256 permutations: standard error ~0.03
    rng = np.random.default_rng(0)
    universe = rng.choice(2**32, size=1600, replace=False).astype(np.uint32)
    a, b = universe[:1000], universe[250:1250]
    true = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    sig = signatures(*csr([a.tolist(), b.tolist()]), num_perm=256)
    assert abs(float(np.mean(sig[0] == sig[1])) - true) < 0.1


def test_lean_minhash_round_trips_into_datasketch_lsh():
    barrier = (
        "the tidal barrier built to protect the harbour town of kestrel bay failed to close during "
        "the storm surge leaving more than three hundred homes on the waterfront flooded"
    )
    shares = "shares in the company fell by nearly six percent in early trading on thursday afternoon"
    words, other = barrier.split(), shares.split()
    sig = our_signature([words, other], 5, 128, 1)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    lsh.insert("barrier", to_lean_minhash(sig[0]))
    lsh.insert("shares", to_lean_minhash(sig[1]))
    # a datasketch MinHash built from the same shingles finds our copy, and only it
    assert lsh.query(datasketch_minhash(words, 5, 128, 1)) == ["barrier"]
    lean = to_lean_minhash(sig[0])
    assert lean.jaccard(datasketch_minhash(words, 5, 128, 1)) == 1.0
    np.testing.assert_array_equal(lean.hashvalues, sig[0])
    assert lean.seed == 1


def test_lean_minhash_keeps_the_seed():
    sig = our_signature([["a", "b", "c"]], 1, 16, 9)
    assert to_lean_minhash(sig[0], seed=9).jaccard(datasketch_minhash(["a", "b", "c"], 1, 16, 9)) == 1.0
    with pytest.raises(ValueError):
        to_lean_minhash(sig[0], seed=9).jaccard(datasketch_minhash(["a", "b", "c"], 1, 16, 1))


def test_datasketch_hashfunc_accepts_bytes_and_str():
    assert datasketch_hashfunc("storm hit coast") == datasketch_hashfunc(b"storm hit coast")
    assert datasketch_hashfunc("storm hit coast") == shingle_hash(["storm", "hit", "coast"])
