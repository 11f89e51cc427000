"""The benchmark suite: dedup against its peers, side by side, one process per run.

    python benchmarks/bench.py stage1 --quick        # 10k and 30k articles, a few minutes
    python benchmarks/bench.py stage1                # 10k .. 1M articles (about 90 minutes here)

Each tool runs as its own process on the same generated wire-copy corpus (``harness.corpus``); wall
time and peak RSS come from the child's own rusage; quality is scored against the generator's truth.
Medians over ``--repeats`` runs. Results go to ``benchmarks/results/*.json`` and are rendered into
``benchmarks/RESULTS.md`` with plots by ``report.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Result, corpus, machine, measure, score_output

PEERS_DIR = ROOT / "peers"
RESULTS = ROOT / "results"
TEXT_DEDUP_PYTHON = ROOT / ".venvs" / "text-dedup" / "bin" / "python"


def stage1_tools(text_dedup_python: Path | None) -> dict[str, list[str]]:
    """Command prefix of each stage-1 tool; input and output paths are appended."""
    dedup = shutil.which("dedup") or str(Path(sys.executable).parent / "dedup")
    tools = {
        "dedup": [dedup, "near-dups", "-q", "{input}", "-o", "{output}"],
        "datasketch": [sys.executable, str(PEERS_DIR / "datasketch_dedup.py"), "{input}", "{output}"],
        "rensa": [sys.executable, str(PEERS_DIR / "rensa_dedup.py"), "{input}", "{output}"],
    }
    if text_dedup_python and text_dedup_python.exists():
        tools["text-dedup"] = [
            str(text_dedup_python),
            str(PEERS_DIR / "textdedup_dedup.py"),
            "{input}",
            "{output}",
        ]
    return tools


def _fill(cmd: list[str], **paths: Path) -> list[str]:
    return [part.format(**{k: str(v) for k, v in paths.items()}) for part in cmd]


def run_stage1(sizes: list[int], repeats: int, peer_max: int, text_dedup_python: Path | None) -> dict:
    tools = stage1_tools(text_dedup_python)
    # numba compiles dedup's kernels on first use and caches them: warm up outside the timings
    warm = corpus(2_000)
    with tempfile.TemporaryDirectory() as tmp:
        measure(_fill(tools["dedup"], input=warm, output=Path(tmp) / "warm.jsonl"))
    results = []
    for size in sizes:
        path = corpus(size)
        for tool, cmd in tools.items():
            if tool != "dedup" and size > peer_max:
                continue
            result = Result(tool, size)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out.jsonl"
                for _ in range(repeats):
                    run = measure(_fill(cmd, input=path, output=out))
                    result.runs.append(run)
                    print(
                        f"{tool:>11} {size:>9,}  {run.seconds:8.2f} s  {run.peak_rss_mb:8.0f} MB  rc={run.returncode}",
                        flush=True,
                    )
                    if run.returncode != 0:
                        print(run.stderr_tail, file=sys.stderr)
                        break
                if result.ok:
                    result.quality = score_output(out, path)
                    print(f"{'':>11} {'':>9}  quality {result.quality}", flush=True)
            results.append(result.as_dict())
    return {"stage": 1, "machine": machine(), "command": " ".join(sys.argv), "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["stage1"])
    parser.add_argument("--sizes", default="10000,30000,100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-max-size", type=int, default=100_000, help="largest size the peers run at")
    parser.add_argument("--text-dedup-python", type=Path, default=TEXT_DEDUP_PYTHON)
    parser.add_argument("--quick", action="store_true", help="10k and 30k articles, one run each")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    repeats = args.repeats
    name = args.stage
    if args.quick:
        sizes, repeats, name = [10_000, 30_000], 1, f"{args.stage}-quick"
    report = run_stage1(sizes, repeats, args.peer_max_size, args.text_dedup_python)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    from report import write_results

    write_results()


if __name__ == "__main__":
    main()
