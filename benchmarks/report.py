"""Render benchmarks/results/*.json into benchmarks/RESULTS.md and PNG plots.

python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PLOTS = ROOT / "plots"

HEADER = """# Benchmark results

Regenerate with the command shown under each table (see `benchmarks/README.md`). Times are whole-process
wall times (start-up, reading, writing included), medians over the runs; peak RSS is the process's own
maximum resident set. Ratios compare each peer with `dedup` measured in the same run on the same corpus.
Machines are noisy: the load average at the start of each run is recorded.
"""


def _fmt_machine(m: dict) -> str:
    return (
        f"{m.get('cpu')} ({m.get('cores')} cores, {m.get('memory_gib')} GiB), Python {m.get('python')}, "
        f"load average at start {m.get('load_average_at_start')}"
    )


def _stage1_section(report: dict, name: str) -> list[str]:
    lines = [f"## Stage 1: near-duplicates (`{name}`)", "", f"Machine: {_fmt_machine(report['machine'])}", ""]
    lines.append(f"Command: `{report['command']}`")
    for extra in report.get("commands", [])[1:]:
        lines.append(f"; re-measured later with `{extra}`")
    lines.append("")
    lines.append(
        "| articles | tool | runs | median s | articles/s | peak RSS MB | speed vs dedup | ARI | pairwise P | "
        "pairwise R | pairwise F1 | B-cubed F1 |"
    )
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    by_size: dict[int, list[dict]] = {}
    for r in report["results"]:
        by_size.setdefault(r["size"], []).append(r)
    for size in sorted(by_size):
        rows = by_size[size]
        ours = next((r for r in rows if r["tool"] == "dedup" and r["median_seconds"]), None)
        for r in rows:
            q = r.get("quality") or {}
            secs = r["median_seconds"]
            failed = any(run["returncode"] != 0 for run in r["runs"])
            if secs is None or failed:
                lines.append(f"| {size:,} | {r['tool']} | {len(r['runs'])} | failed | | | | | | | | |")
                continue
            ratio = (
                "1.0x"
                if r["tool"] == "dedup"
                else (f"{secs / ours['median_seconds']:.1f}x slower" if ours else "")
            )
            lines.append(
                f"| {size:,} | {r['tool']} | {len(r['runs'])} | {secs:.2f} | {size / secs:,.0f} | "
                f"{r['median_peak_rss_mb']:,.0f} | {ratio} | {q.get('ari', '')} | {q.get('pairwise_precision', '')} | "
                f"{q.get('pairwise_recall', '')} | {q.get('pairwise_f1', '')} | {q.get('bcubed_f1', '')} |"
            )
    lines.append("")
    return lines


def _plot_stage1(report: dict, name: str) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(plots skipped: matplotlib is not installed; `pip install -e '.[bench]'`)", ""]
    PLOTS.mkdir(exist_ok=True)
    tools: dict[str, list[dict]] = {}
    for r in report["results"]:
        if r["median_seconds"] and all(run["returncode"] == 0 for run in r["runs"]):
            tools.setdefault(r["tool"], []).append(r)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for tool, rows in sorted(tools.items()):
        rows.sort(key=lambda r: r["size"])
        sizes = [r["size"] for r in rows]
        axes[0].plot(sizes, [r["size"] / r["median_seconds"] for r in rows], marker="o", label=tool)
        axes[1].plot(sizes, [r["median_peak_rss_mb"] for r in rows], marker="o", label=tool)
    for ax, title, ylabel in (
        (axes[0], "Throughput (whole process)", "articles / s"),
        (axes[1], "Peak memory", "peak RSS (MB)"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("articles")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out = PLOTS / f"{name}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return [f"![{name}](plots/{out.name})", ""]


def write_results() -> Path:
    lines = [HEADER]
    for path in sorted(RESULTS.glob("*.json")):
        report = json.loads(path.read_text())
        name = path.stem
        if report.get("stage") == 1:
            lines += _stage1_section(report, name)
            lines += _plot_stage1(report, name)
        elif "markdown" in report:
            lines += [report["markdown"], ""]
    out = ROOT / "RESULTS.md"
    out.write_text("\n".join(lines))
    return out


if __name__ == "__main__":
    print(write_results())
