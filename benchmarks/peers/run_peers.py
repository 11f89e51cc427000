"""Run every peer script a few times on one input, one process per run, and print a Markdown table.

    python benchmarks/peers/run_peers.py shared/data/bbc_articles.jsonl \\
        --pairs shared/data/bbc_duplicate_pairs.jsonl --also shared/data/bbc_borderline_pairs.jsonl --repeat 3

Times are medians over --repeat runs: "script s" is the peer's own "seconds" (imports included),
"process s" is the wall time of the whole process as seen from here (interpreter start included),
"cpu s" the user + system CPU time of the process and the workers it waited for, which a busy
machine disturbs less than wall time.
Quality comes from the last run, scored by score_pairs.py. text-dedup runs from its own virtual
environment (--textdedup-python); it is skipped when that interpreter is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from score_pairs import score

HERE = Path(__file__).resolve().parent


def peer_commands(textdedup_python: str) -> dict[str, list[str]]:
    peers = {
        "datasketch": [sys.executable, str(HERE / "datasketch_dedup.py")],
        "rensa": [sys.executable, str(HERE / "rensa_dedup.py")],
        "rensa --lsh banded": [sys.executable, str(HERE / "rensa_dedup.py"), "--lsh", "banded"],
    }
    if Path(textdedup_python).exists():
        peers["textdedup"] = [textdedup_python, str(HERE / "textdedup_dedup.py"), "--quiet"]
        peers["textdedup --split whitespace"] = peers["textdedup"] + ["--split", "whitespace"]
    return peers


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(
    command: list[str], input_path: str, output_path: str, options: list[str]
) -> tuple[dict, float, float]:
    """One peer process: its summary, its wall time, and the CPU time of it and its workers."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [*command[:2], input_path, output_path, *command[2:], *options],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    return summary, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("--pairs", help="true duplicate pairs (JSONL with a, b)")
    parser.add_argument("--also", action="append", default=[], help="similar but unlabelled pairs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", default=[], help="run only these peers (repeatable)")
    parser.add_argument("--textdedup-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("options", nargs="*", help="passed to every peer, after --, e.g. -- --threshold 0.7")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="peers-") as workdir:
        for name, command in peer_commands(args.textdedup_python).items():
            if args.only and name not in args.only:
                continue
            output_path = os.path.join(workdir, "groups.jsonl")
            runs = [run_once(command, args.input, output_path, args.options) for _ in range(args.repeat)]
            summary = runs[-1][0]
            row = {
                "peer": name,
                "version": summary.get("version", ""),
                "bands x rows": f"{summary.get('bands')} x {summary.get('rows')}",
                "script s": statistics.median(s["seconds"] for s, _, _ in runs),
                "import s": statistics.median(s.get("import_seconds", 0.0) for s, _, _ in runs),
                "process s": statistics.median(wall for _, wall, _ in runs),
                "cpu s": statistics.median(cpu for _, _, cpu in runs),
                "groups": summary["groups"],
            }
            if args.pairs:
                quality = score(output_path, args.pairs, args.also)
                row["recall"] = f"{quality['found_pairs']}/{quality['true_pairs']}"
                row["predicted pairs (true/similar/other)"] = (
                    f"{quality['predicted_pairs']} ({quality['predicted_true']}/"
                    f"{quality['predicted_similar']}/{quality['predicted_other']})"
                )
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    if rows:
        columns = list(rows[0])
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
