"""What every peer script shares: the command line, JSONL in/out, word n-gram shingles, union-find.

Keeping these in one file is what makes the peers comparable: each peer differs only in how it turns
shingle sets into signatures and signatures into candidate pairs. This module uses the standard
library and orjson only (orjson optional), so it also runs inside the text-dedup virtual environment.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

try:
    import orjson

    _loads = orjson.loads

    def _dumps(obj: dict) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # the text-dedup venv need not have orjson
    _loads = json.loads

    def _dumps(obj: dict) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def make_parser(peer: str) -> argparse.ArgumentParser:
    """The command line all peers share; a peer may add options of its own before parsing."""
    parser = argparse.ArgumentParser(
        prog=f"{peer}_dedup.py",
        description=f"Near-duplicate grouping with {peer}: one output line per input article, in input order.",
        epilog=f"example: python benchmarks/peers/{peer}_dedup.py articles.jsonl groups.jsonl --threshold 0.5",
    )
    parser.add_argument("input", help="JSONL with fields id, title, text (others ignored)")
    parser.add_argument(
        "output", help='JSONL written here: {"id": ..., "dup_group": <id of the representative>}'
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="Jaccard threshold for LSH (default 0.5)"
    )
    parser.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default 128)")
    parser.add_argument("--ngram", type=int, default=5, help="word n-gram shingle size (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="MinHash seed (default 1)")
    parser.add_argument("--quiet", action="store_true", help="silence the peer library's own logging")
    return parser


def read_articles(path: str) -> tuple[list, list[str]]:
    """Ids and the text each peer hashes: title + "\\n" + text. Missing fields count as ""."""
    ids: list = []
    texts: list[str] = []
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = _loads(line)
            except ValueError as err:
                raise SystemExit(f"{path}:{line_no}: not valid JSON ({err})") from err
            ids.append(rec.get("id", line_no - 1))
            texts.append(f"{rec.get('title') or ''}\n{rec.get('text') or ''}")
    return ids, texts


def shingles(text: str, ngram: int) -> set[str]:
    """Word n-grams of the lowercased, whitespace-split text, joined by single spaces.

    A text with fewer than `ngram` tokens (but at least one) is one shingle of all its tokens, as in
    text-dedup, so short articles still match their exact copies; an empty text has no shingles.
    """
    tokens = text.lower().split()
    if len(tokens) < ngram:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(gram) for gram in zip(*(tokens[i:] for i in range(ngram)), strict=False)}


class UnionFind:
    """Disjoint sets over 0..n-1 whose root is always the smallest index of its set."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx < ry:
            self.parent[ry] = rx
        elif ry < rx:
            self.parent[rx] = ry

    def roots(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def write_groups(path: str, ids: list, roots: list[int]) -> int:
    """Write one line per article in input order; return the number of groups."""
    with open(path, "wb") as f:
        for article_id, root in zip(ids, roots, strict=True):
            f.write(_dumps({"id": article_id, "dup_group": ids[root]}))
            f.write(b"\n")
    return len(set(roots))


def report(peer: str, n_articles: int, n_groups: int, started: float, **extra: object) -> None:
    """The one-line JSON summary on stderr that the benchmark harness reads."""
    summary = {
        "peer": peer,
        "articles": n_articles,
        "groups": n_groups,
        "seconds": round(time.perf_counter() - started, 4),
        **extra,
    }
    print(json.dumps(summary), file=sys.stderr)
