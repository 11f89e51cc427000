"""MinHash signatures for a whole batch of shingle sets, bit-identical to datasketch's ``affine32``.

datasketch 2.x (``MinHash(scheme="affine32")``) pre-mixes each 32-bit input hash with the MurmurHash3
finaliser, then applies ``num_perm`` affine permutations ``a_k * h + b_k mod 2**32`` (``a_k`` odd)
and keeps the minimum of each. We draw ``a`` and ``b`` exactly as datasketch does from
``numpy.random.RandomState(seed)``, so a signature computed here equals the ``hashvalues`` of a
datasketch MinHash fed the same shingle hashes (see ``datasketch_hashfunc``), and can be handed to
datasketch as a ``LeanMinHash`` (:func:`to_lean_minhash`) for its LSH, LSH Forest or Ensemble.

The kernel loops shingles outside and permutations inside, so the inner loop is a straight vector
multiply-add-min over ``num_perm`` lanes; articles run in parallel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit, prange

__all__ = ["permutations", "signatures", "to_lean_minhash", "datasketch_hashfunc", "EMPTY"]

#: The value of every lane of an empty set's signature (datasketch's "empty" sentinel).
EMPTY = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutation parameters ``(a, b)`` datasketch's ``affine32`` scheme draws for a seed."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


@njit(cache=True)
def _fmix32(h):
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h


@njit(cache=True, parallel=True)
def _signatures(shingles, offsets, a, b, out):
    n_docs = len(offsets) - 1
    num_perm = len(a)
    for d in prange(n_docs):
        # a local row and a branch-free min let LLVM vectorise the permutation loop
        row = np.full(num_perm, np.uint32(0xFFFFFFFF), dtype=np.uint32)
        for i in range(offsets[d], offsets[d + 1]):
            hv = _fmix32(shingles[i])
            for k in range(num_perm):
                row[k] = min(row[k], np.uint32(a[k] * hv + b[k]))
        out[d] = row


def signatures(shingles: np.ndarray, offsets: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape ``(n_docs, num_perm)`` uint32, of the CSR shingle sets.

    ``shingles[offsets[i]:offsets[i+1]]`` are article ``i``'s 32-bit shingle hashes (duplicates do
    not matter). An empty set gets the all-``EMPTY`` signature, as in datasketch.
    """
    a, b = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.empty((n_docs, num_perm), dtype=np.uint32)
    if n_docs:
        _signatures(
            np.ascontiguousarray(shingles, dtype=np.uint32), np.asarray(offsets, dtype=np.int64), a, b, out
        )
    return out


def datasketch_hashfunc(data: bytes | str) -> int:
    """A datasketch ``hashfunc`` that hashes a shingle (its tokens joined by spaces) as we do.

    With it, ``datasketch.MinHash(num_perm, seed, hashfunc=datasketch_hashfunc)`` updated with a
    document's shingles has the same ``hashvalues`` as :func:`signatures` computes for it.
    """
    from dedup.shingle import shingle_hash

    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return shingle_hash(text.split(" "))


def to_lean_minhash(signature: np.ndarray, seed: int = 1):
    """Wrap one signature row as a ``datasketch.LeanMinHash`` (imports datasketch on first use)."""
    from datasketch import LeanMinHash, MinHash

    m = MinHash(num_perm=len(signature), seed=seed, hashvalues=np.asarray(signature), scheme="affine32")
    return LeanMinHash(m)
