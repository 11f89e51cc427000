"""Peer: the plain datasketch pipeline (MinHash.bulk -> MinHashLSH insert all, query each -> union-find).

    python benchmarks/peers/datasketch_dedup.py INPUT.jsonl OUTPUT.jsonl [--threshold 0.5] [--num-perm 128]

Default MinHash settings (scheme "affine32", SHA1 hash of each shingle), default LSH weights, so the
bands and rows are what `MinHashLSH` picks for the threshold. No verification of candidates: that is
the pipeline the datasketch docs show. "seconds" in the summary includes importing datasketch.
"""

import time

STARTED = time.perf_counter()

import datasketch  # noqa: E402
from datasketch import MinHash, MinHashLSH  # noqa: E402
from peer_common import UnionFind, make_parser, read_articles, report, shingles, write_groups  # noqa: E402

IMPORTED = time.perf_counter()


def main() -> None:
    args = make_parser("datasketch").parse_args()
    ids, texts = read_articles(args.input)

    shingle_sets = [[s.encode("utf-8") for s in shingles(text, args.ngram)] for text in texts]
    minhashes = MinHash.bulk(shingle_sets, num_perm=args.num_perm, seed=args.seed)
    del shingle_sets

    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(minhashes):
            session.insert(i, m, check_duplication=False)

    uf = UnionFind(len(ids))
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j != i:
                uf.union(i, j)

    n_groups = write_groups(args.output, ids, uf.roots())
    report(
        "datasketch",
        len(ids),
        n_groups,
        STARTED,
        import_seconds=round(IMPORTED - STARTED, 4),
        version=datasketch.__version__,
        bands=lsh.b,
        rows=lsh.r,
    )


if __name__ == "__main__":
    main()
