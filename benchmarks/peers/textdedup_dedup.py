"""Peer: text-dedup's MinHash script (text_dedup.minhash) on a local JSONL file, run from its own venv.

    /tmp/peers-venv/bin/python benchmarks/peers/textdedup_dedup.py INPUT.jsonl OUTPUT.jsonl [--threshold 0.5]

text-dedup is a set of scripts, not a library API: its README runs `python -m text_dedup.minhash --path
... --column text --output ...`, which loads a Hugging Face `datasets` dataset, fingerprints it with
`Dataset.map(num_proc=...)`, bands the signatures with datasketch's (bands, rows), unions every bucket,
and saves the kept rows. This script makes that call in-process (the same click command, so the same
code path) on a temporary JSONL of {"content": title + "\\n" + text}, then reads the cluster of every
row from the module's union-find (`text_dedup.minhash.uf`, over row indices, the object `--debug`
pickles) and maps it to our output format. Everything it writes (datasets cache, saved dataset) goes
to a temporary folder that is deleted at the end, so each run starts cold.

Settings: --num_perm, --threshold and --ngram as for every peer; --min_length 0 so no article is
dropped (its default 5 removes articles of under 5 tokens from the output); --hash_func xxh3 (the
README: "xxh3 is faster"; the default is sha1); hash_bits 64 and num_proc = CPU count, its defaults.
text-dedup 0.4.0 ignores --seed (its permutations come from a module-level RandomState(42)).

Tokens differ from the other peers: text-dedup splits on every non-word character (regex \\W), so
punctuation is dropped and "U.S." is two tokens. `--split whitespace` swaps that regex for \\s+ (a
monkeypatch of text_dedup.minhash.NON_ALPHA) to give it the very same shingles as the other peers.
"seconds" includes importing text_dedup (it imports datasets, pyarrow, pandas and scipy: 3-4 s).
"""

import time

STARTED = time.perf_counter()

import os  # noqa: E402

# Before importing datasets/huggingface_hub: never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from importlib.metadata import version  # noqa: E402

from peer_common import make_parser, read_articles, report, write_groups  # noqa: E402


def main() -> None:
    parser = make_parser("textdedup")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 1, help="datasets map processes")
    parser.add_argument("--hash-func", choices=["xxh3", "sha1"], default="xxh3")
    parser.add_argument("--hash-bits", choices=["16", "32", "64"], default="64")
    parser.add_argument(
        "--split",
        choices=["nonword", "whitespace"],
        default="nonword",
        help="nonword: text-dedup's own tokens (\\W); whitespace: the other peers' tokens",
    )
    args = parser.parse_args()

    if args.quiet:
        os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
        os.environ["TQDM_DISABLE"] = "1"
    import datasets
    import text_dedup.minhash as td_minhash

    imported = time.perf_counter()

    if args.quiet:
        datasets.disable_progress_bars()
        logging.getLogger("text_dedup").setLevel(logging.WARNING)
    if args.split == "whitespace":
        td_minhash.NON_ALPHA = re.compile(r"\s+")

    ids, texts = read_articles(args.input)
    workdir = tempfile.mkdtemp(prefix="textdedup-")
    try:
        data_file = os.path.join(workdir, "articles.jsonl")
        with open(data_file, "w", encoding="utf-8") as f:
            for text in texts:
                f.write(json.dumps({"content": text}, ensure_ascii=False))
                f.write("\n")
        del texts

        # fmt: off
        td_minhash.main.main(
            args=[
                "--path", "json", "--data_files", data_file, "--split", "train",
                "--cache_dir", os.path.join(workdir, "cache"), "--output", os.path.join(workdir, "output"),
                "--column", "content", "--num_proc", str(args.num_proc),
                "--ngram", str(args.ngram), "--min_length", "0", "--num_perm", str(args.num_perm),
                "--threshold", str(args.threshold), "--seed", str(args.seed),
                "--hash_func", args.hash_func, "--hash_bits", args.hash_bits,
            ],
            standalone_mode=False,
        )
        # fmt: on
        uf = td_minhash.uf  # keys are row indices (__index__), i.e. input order
        smallest: dict[int, int] = {}
        clusters = [uf.find(i) for i in range(len(ids))]
        for i, cluster in enumerate(clusters):
            smallest.setdefault(cluster, i)  # first seen = smallest row index of the cluster
        roots = [smallest[c] for c in clusters]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n_groups = write_groups(args.output, ids, roots)
    b, r = td_minhash.optimal_param(args.threshold, args.num_perm, 0.5, 0.5)
    report(
        "textdedup",
        len(ids),
        n_groups,
        STARTED,
        import_seconds=round(imported - STARTED, 4),
        version=version("text-dedup"),
        bands=b,
        rows=r,
        split=args.split,
        hash_func=args.hash_func,
        num_proc=args.num_proc,
    )


if __name__ == "__main__":
    main()
