"""Write a synthetic wire-copy test set: random articles plus lightly edited copies, with the true pairs.

    python benchmarks/peers/make_wire_copies.py /tmp/wire.jsonl /tmp/wire_pairs.jsonl --articles 2000

About a fifth of the articles are copies of an earlier one with small edits (a new headline, a few
words substituted, a sentence dropped, an outlet's tag line added), as outlets do with wire stories.
The pairs file has the same fields as shared/data/bbc_duplicate_pairs.jsonl (a, b, jaccard, kind),
where jaccard is the exact word 5-gram Jaccard of title + "\\n" + text under peer_common's shingling.
Text is made of random syllable words, so it is free to ship and holds no real article.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random

from peer_common import shingles

TAGS = ["(Reuters) -", "(AP) —", "AFP:", "Copyright 2024 Agence France-Presse.", "Read more at our site."]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    words = {"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def make_article(rng: random.Random, vocab: list[str], cum_weights: list[float]) -> tuple[str, list[str]]:
    title = " ".join(rng.choices(vocab, cum_weights=cum_weights, k=rng.randint(4, 10))).capitalize()
    sentences = [
        " ".join(rng.choices(vocab, cum_weights=cum_weights, k=rng.randint(8, 30))).capitalize() + "."
        for _ in range(rng.randint(6, 30))
    ]
    return title, sentences


def edit_copy(
    rng: random.Random, vocab: list[str], title: str, sentences: list[str]
) -> tuple[str, list[str], str]:
    sentences = list(sentences)
    kinds = []
    if rng.random() < 0.4:
        title = " ".join(rng.choices(vocab, k=rng.randint(4, 10))).capitalize()
        kinds.append("retitled")
    rate = rng.choice([0.0, 0.005, 0.01, 0.02, 0.04])
    if rate:
        words = " ".join(sentences).split(" ")
        for i in range(len(words)):
            if rng.random() < rate:
                words[i] = rng.choice(vocab)
        sentences = [" ".join(words)]
        kinds.append(f"substituted{rate}")
    if rng.random() < 0.3 and len(sentences) > 2:
        del sentences[rng.randrange(len(sentences))]
        kinds.append("sentence-dropped")
    if rng.random() < 0.4:
        sentences = [rng.choice(TAGS)] + sentences
        kinds.append("tagged")
    return title, sentences, "+".join(kinds) or "exact"


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles_out")
    parser.add_argument("pairs_out")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--copy-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    vocab = make_vocabulary(rng, 20_000)
    cum_weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(vocab))))  # Zipf-like
    records: list[dict] = []
    source_of: dict[int, tuple[int, str]] = {}
    for i in range(args.articles):
        if records and rng.random() < args.copy_share:
            src = rng.randrange(len(records))
            while src in source_of:  # copy originals only: a true group is one original and its copies
                src = rng.randrange(len(records))
            title, body, kind = edit_copy(rng, vocab, records[src]["title"], records[src]["_sentences"])
            source_of[i] = (src, kind)
        else:
            title, body = make_article(rng, vocab, cum_weights)
        records.append({"id": f"wire-{i:06d}", "title": title, "_sentences": body})

    with open(args.articles_out, "w", encoding="utf-8") as f:
        for rec in records:
            body = rec.pop("_sentences")
            rec["text"] = " ".join(body)
            f.write(json.dumps(rec) + "\n")

    with open(args.pairs_out, "w", encoding="utf-8") as f:
        for i, (src, kind) in sorted(source_of.items()):
            a, b = records[src], records[i]
            j = jaccard(shingles(f"{a['title']}\n{a['text']}", 5), shingles(f"{b['title']}\n{b['text']}", 5))
            f.write(json.dumps({"a": a["id"], "b": b["id"], "jaccard": round(j, 4), "kind": kind}) + "\n")


if __name__ == "__main__":
    main()
