"""Peer: rensa's R-MinHash with its own LSH (RMinHash.from_token_sets -> RMinHashLSH -> union-find).

    python benchmarks/peers/rensa_dedup.py INPUT.jsonl OUTPUT.jsonl [--threshold 0.5] [--lsh native|banded]

Shingles are the same word n-grams as every peer, passed to rensa as str (rensa hashes the UTF-8
bytes, so str and bytes give equal digests; str takes its fast path). Full-set R-MinHash, not the
sampling "rho" sketch, because rho changes which pairs are found and the other peers hash every shingle.

`RMinHashLSH` needs num_perm divisible by the number of bands, so it cannot use datasketch's choice
for threshold 0.5 and 128 permutations (25 bands x 5 rows, 125 values used). Two ways out:
  --lsh native  (default) rensa's RMinHashLSH with the (bands, rows), bands * rows == num_perm, that
                minimises datasketch's own objective (false positive + false negative area, weights
                0.5/0.5); for 0.5 and 128 that is 32 x 4, which finds more candidates than 25 x 5.
  --lsh banded  rensa signatures as a digest matrix, banded in numpy with exactly datasketch's
                (bands, rows), so the LSH is the same as the datasketch peer's.
No verification of candidates, as in the datasketch peer. "seconds" includes importing rensa.
"""

import time

STARTED = time.perf_counter()

from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402
from peer_common import UnionFind, make_parser, read_articles, report, shingles, write_groups  # noqa: E402
from rensa import RMinHash, RMinHashLSH  # noqa: E402

IMPORTED = time.perf_counter()


def _error_area(threshold: float, bands: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """datasketch's LSH objective per (bands, rows): 0.5 * false-positive area + 0.5 * false-negative area.

    P(candidate | Jaccard s) = 1 - (1 - s**rows)**bands is a polynomial of degree bands * rows <= num_perm,
    so Gauss-Legendre with num_perm / 2 + 1 nodes on [0, t] and on [t, 1] integrates it exactly.
    """
    nodes, weights = np.polynomial.legendre.leggauss(int((bands * rows).max()) // 2 + 1)

    def area(lo: float, hi: float) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        p = 1.0 - (1.0 - s[None, :] ** rows[:, None]) ** bands[:, None]
        return (hi - lo) / 2 * (p @ weights)

    false_positive = area(0.0, threshold)
    false_negative = (1.0 - threshold) - area(threshold, 1.0)
    return 0.5 * false_positive + 0.5 * false_negative


def _best(threshold: float, candidates: list[tuple[int, int]]) -> tuple[int, int]:
    bands, rows = np.array(candidates, dtype=np.float64).T
    return candidates[int(np.argmin(_error_area(threshold, bands, rows)))]


def datasketch_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) as datasketch.MinHashLSH picks them: bands * rows <= num_perm."""
    return _best(threshold, [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)])


def divisor_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """The same objective over the (bands, rows) that RMinHashLSH accepts: bands * rows == num_perm."""
    return _best(threshold, [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0])


def native_lsh(uf: UnionFind, token_sets: list[list[str]], args, bands: int) -> None:
    minhashes = RMinHash.from_token_sets(token_sets, num_perm=args.num_perm, seed=args.seed)
    lsh = RMinHashLSH(threshold=args.threshold, num_perm=args.num_perm, num_bands=bands)
    lsh.insert_many(minhashes)  # keys 0..n-1, the input order
    for i, candidates in enumerate(lsh.query_all(minhashes)):
        for j in candidates:
            if j != i:
                uf.union(i, j)


def banded_lsh(uf: UnionFind, token_sets: list[list[str]], args, bands: int, rows: int) -> None:
    matrix = RMinHash.digest_matrix_from_token_sets(token_sets, num_perm=args.num_perm, seed=args.seed)
    signatures = np.array(matrix.to_rows(), dtype=np.uint32).reshape(len(token_sets), args.num_perm)
    for band in range(bands):
        keys = (
            np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows]).view(f"V{4 * rows}").ravel()
        )
        order = np.argsort(keys, kind="stable")
        same = keys[order][1:] == keys[order][:-1]
        for a, b in zip(order[:-1][same].tolist(), order[1:][same].tolist(), strict=True):
            uf.union(a, b)


def main() -> None:
    parser = make_parser("rensa")
    parser.add_argument(
        "--lsh", choices=["native", "banded"], default="native", help="see the module docstring"
    )
    args = parser.parse_args()
    ids, texts = read_articles(args.input)
    token_sets = [list(shingles(text, args.ngram)) for text in texts]

    uf = UnionFind(len(ids))
    if args.lsh == "native":
        bands, rows = divisor_params(args.threshold, args.num_perm)
        native_lsh(uf, token_sets, args, bands)
    else:
        bands, rows = datasketch_params(args.threshold, args.num_perm)
        banded_lsh(uf, token_sets, args, bands, rows)

    n_groups = write_groups(args.output, ids, uf.roots())
    report(
        "rensa",
        len(ids),
        n_groups,
        STARTED,
        import_seconds=round(IMPORTED - STARTED, 4),
        version=version("rensa"),
        lsh=args.lsh,
        bands=bands,
        rows=rows,
    )


if __name__ == "__main__":
    main()
