"""Score a peer's output against a file of true duplicate pairs: pair recall, and precision where it can be told.

    python benchmarks/peers/score_pairs.py OUTPUT.jsonl shared/data/bbc_duplicate_pairs.jsonl \\
        [--also shared/data/bbc_borderline_pairs.jsonl] [--json]

Recall: the share of true pairs whose two articles got the same dup_group. Precision counts the
article pairs inside predicted groups that are true pairs, or pairs of the closure of true pairs (two
copies of one original), or pairs listed in an --also file (similar but not labelled duplicates,
which are reported apart rather than counted as errors).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from itertools import combinations


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def closure(pairs: list[tuple[str, str]]) -> set[frozenset]:
    """All article pairs inside the connected components of the given pairs."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        groups[find(x)].append(x)
    return {frozenset(p) for members in groups.values() for p in combinations(members, 2)}


def score(output: str, pairs_path: str, also: list[str]) -> dict:
    group_of = {rec["id"]: rec["dup_group"] for rec in read_jsonl(output)}
    truth = read_jsonl(pairs_path)
    found = [p for p in truth if group_of.get(p["a"], p["a"]) == group_of.get(p["b"], p["b"])]
    missed = [p for p in truth if p not in found]

    members: dict[str, list[str]] = defaultdict(list)
    for article_id, group in group_of.items():
        members[group].append(article_id)
    predicted = {frozenset(p) for ids in members.values() if len(ids) > 1 for p in combinations(ids, 2)}
    true_closure = closure([(p["a"], p["b"]) for p in truth])
    similar = {frozenset((p["a"], p["b"])) for path in also for p in read_jsonl(path)}
    n_true = len(predicted & true_closure)
    n_similar = len((predicted - true_closure) & similar)
    return {
        "articles": len(group_of),
        "groups": len(members),
        "true_pairs": len(truth),
        "found_pairs": len(found),
        "recall": round(len(found) / len(truth), 4) if truth else 1.0,
        "predicted_pairs": len(predicted),
        "predicted_true": n_true,
        "predicted_similar": n_similar,
        "predicted_other": len(predicted) - n_true - n_similar,
        "precision": round(n_true / len(predicted), 4) if predicted else 1.0,
        "largest_group": max(len(ids) for ids in members.values()) if members else 0,
        "missed": [{k: p[k] for k in ("a", "b", "jaccard", "kind") if k in p} for p in missed],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("pairs")
    parser.add_argument("--also", action="append", default=[], help="pairs file of similar, unlabelled pairs")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = parser.parse_args()
    result = score(args.output, args.pairs, args.also)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"recall {result['found_pairs']}/{result['true_pairs']} = {result['recall']:.4f}; "
        f"predicted pairs {result['predicted_pairs']}: {result['predicted_true']} true, "
        f"{result['predicted_similar']} similar, {result['predicted_other']} other "
        f"(precision {result['precision']:.4f}); groups {result['groups']}, largest {result['largest_group']}"
    )
    for p in result["missed"]:
        print(f"  missed {p['a']} {p['b']} jaccard={p.get('jaccard')} kind={p.get('kind')}")


if __name__ == "__main__":
    main()
