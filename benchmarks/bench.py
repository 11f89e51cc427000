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
import compileall
import json
import shutil
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Result, corpus, machine, measure, score_output
from harness import SHARED as SHARED_DATA

PEERS_DIR = ROOT / "peers"
RESULTS = ROOT / "results"
TEXT_DEDUP_PYTHON = ROOT / ".venvs" / "text-dedup" / "bin" / "python"


def stage1_tools(text_dedup_python: Path | None) -> dict[str, list[str]]:
    """Command prefix of each stage-1 tool; input and output paths are appended."""
    # the console script installed with this Python, as the peers run on it; a version manager's
    # shim found first on PATH (pyenv: a bash script that execs another) would add its own start-up
    script = Path(sys.executable).parent / "dedup"
    dedup = str(script) if script.exists() else shutil.which("dedup") or "dedup"
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
    # numba compiles dedup's kernels on first use and caches them: warm up outside the timings.
    # Byte-compile the package as an installed one is (the peers' are): an editable checkout run
    # with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module from source each run.
    compileall.compile_dir(str(ROOT.parent / "dedup"), quiet=1)
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


def merge_stage1(old: dict, new: dict) -> dict:
    """``old`` with the rows of ``new`` (same tool and size) replaced; both commands kept."""
    fresh = {(r["tool"], r["size"]) for r in new["results"]}
    kept = [r for r in old["results"] if (r["tool"], r["size"]) not in fresh]
    order = {(r["tool"], r["size"]): k for k, r in enumerate(old["results"])}
    results = sorted(kept + new["results"], key=lambda r: (r["size"], order.get((r["tool"], r["size"]), 99)))
    commands = [*old.get("commands", [old.get("command", "")]), new["command"] + "  (rows it measured)"]
    commands = list(dict.fromkeys(commands))  # the same command run again is listed once
    return {**old, "results": results, "commands": commands, "command": old.get("command", "")}


def _json_run(args: list[str], timeout: float = 3600) -> tuple[dict | None, object]:
    """Run ``stage2.py ARGS`` as its own process; its JSON line and the measured run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = measure(
            ["bash", "-c", f"{sys.executable} {ROOT / 'stage2.py'} {' '.join(args)} > {out.name}"],
            timeout=timeout,
        )
        text = Path(out.name).read_text().strip()
    return (json.loads(text.splitlines()[-1]) if run.returncode == 0 and text else None), run


def measure_embedding(quick: bool) -> list[dict]:
    """Embedding throughput per mode, one process each."""
    rows = []
    for mode, kind, n in (
        ("default", "lead", 300 if quick else 2000),
        ("default", "headlines", 500 if quick else 3000),
        ("fast", "lead", 5000 if quick else 20000),
        ("fast", "headlines", 5000 if quick else 50000),
    ):
        result, run = _json_run(["embed", mode, kind, str(n)])
        if result:
            result["peak_rss_mb"] = run.peak_rss_mb
            result["load_average_at_start"] = machine()["load_average_at_start"]
            rows.append(result)
            print(f"embed {mode:>8} {kind:>10}: {result['docs_per_s']:,.0f} docs/s", flush=True)
    return rows


def measure_clustering(cluster_sizes: list[int], baseline_max: int, dim: int) -> list[dict]:
    """dedup's clustering and the BERTopic-style baseline on generated embeddings, one process each."""
    rows = []
    for n in cluster_sizes:
        for tool in ("cluster", "baseline"):
            if tool == "baseline" and n > baseline_max:
                continue
            result, run = _json_run([tool, str(n), str(dim)], timeout=7200)
            if result:
                result["wall_seconds"] = run.seconds
                result["peak_rss_mb"] = run.peak_rss_mb
                rows.append(result)
                print(
                    f"{result['tool']:>12} {n:>9,} {dim}-d: {run.seconds:8.1f} s {run.peak_rss_mb:8.0f} MB bF {result['bcubed_f1']:.3f}",
                    flush=True,
                )
    return rows


def run_stage2(cluster_sizes: list[int], baseline_max: int, quick: bool, dim: int) -> dict:
    report: dict = {
        "stage": 2,
        "machine": machine(),
        "command": " ".join(sys.argv),
        "embed": measure_embedding(quick),
    }
    report["seqlen"], _ = _json_run(["seqlen", "300" if quick else "800"])
    report["cluster"] = measure_clustering(cluster_sizes, baseline_max, dim)
    if (SHARED_DATA / "uci_stories.jsonl").exists():
        result, _ = _json_run(["quality"], timeout=7200)
        report["quality"] = result
    report["markdown"] = stage2_markdown(report)
    return report


def stage2_markdown(report: dict) -> str:
    rows: list[str] = ["## Stage 2: stories", "", f"Command: `{report['command']}`", ""]
    m = report["machine"]
    rows += [
        f"Machine: {m['cpu']} ({m['cores']} cores), load average at start {m['load_average_at_start']}",
        "",
    ]
    rows += ["### Embedding throughput (one process per mode, model load excluded)", ""]
    remeasured = report.get("remeasured", {})
    if remeasured.get("embedding"):
        rows += [f"Re-measured with `{remeasured['embedding']}`.", ""]
    rows += [
        "| mode | input | articles | articles/s (median of 3 passes) | passes | model load s | peak RSS MB | load average at start |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for e in report["embed"]:
        passes = ", ".join(f"{x:,.0f}" for x in e.get("runs_docs_per_s", []))
        rows.append(
            f"| {e['mode']} | {e['input']} | {e['n']:,} | {e['docs_per_s']:,.0f} | {passes} | {e['load_s']:.1f} | "
            f"{e['peak_rss_mb']:,.0f} | {e.get('load_average_at_start', '')} |"
        )
    if (report.get("seqlen") or {}).get("rows"):
        sl = report["seqlen"]
        rows += [
            "",
            f"### Default model: what MiniLM reads against speed ({sl['n']} BBC headline + lead texts)",
            "",
            "MiniLM reading N word pieces, alone or blended half and half with the static model reading the",
            "whole headline + lead (the default: N = 16, about the headline). kNN@10 overlap with MiniLM's",
            "neighbours at 128 pieces, and category purity@10 (share of an article's 10 nearest neighbours in",
            "its own BBC category).",
            "",
            "| configuration | docs/s | kNN@10 overlap with MiniLM 128 | category purity@10 |",
            "|---|---:|---:|---:|",
        ]
        for r in sl["rows"]:
            rows.append(
                f"| {r['configuration']} | {r['docs_per_s']:,.0f} | {r['overlap_128']:.3f} | {r['purity_10']:.3f} |"
            )
    dims = sorted({c["dim"] for c in report["cluster"]})
    rows += [
        "",
        f"### Clustering generated embeddings ({', '.join(f'{d}-d' for d in dims)}, 30 days, 3-day window)",
        "",
        "896-d is what the default mode clusters: MiniLM 384 + static 256 + names 256.",
        "",
    ]
    if remeasured.get("clustering"):
        rows += [f"Rows of the last dimension re-measured with `{remeasured['clustering']}`.", ""]
    rows += [
        "| tool | articles | dimensions | seconds (whole process) | peak RSS MB | B-cubed F1 | ARI |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report["cluster"]:
        rows.append(
            f"| {c['tool']} | {c['n']:,} | {c['dim']} | {c['wall_seconds']:.1f} | {c['peak_rss_mb']:,.0f} | {c['bcubed_f1']:.3f} | {c['ari']:.3f} |"
        )
    if report.get("quality"):
        rows += [
            "",
            "### Story quality on the UCI headlines (5-fold CV over stories, threshold tuned on the other folds)",
            "",
        ]
        if remeasured.get("quality"):
            rows += [f"Re-measured with `{remeasured['quality']}`.", ""]
        rows += [
            "Untuned settings are also scored on five different splits into folds (mean of the five CV scores).",
            "",
            "All-data columns: the best setting scored on all 41 stories at once.",
            "",
            "| method | CV B-cubed F1 | mean over 5 splits | best setting on all data | all-data B-cubed P / R / F1 | all-data pairwise P / R / F1 | ARI |",
            "|---|---:|---:|---|---:|---:|---:|",
        ]
        for name, q in report["quality"].items():
            a = q["all_data"]
            splits = f"{q['cv_bcubed_f1_5_splits']:.3f}" if "cv_bcubed_f1_5_splits" in q else "—"
            rows.append(
                f"| {name} | {q['cv_bcubed_f1']:.3f} ± {q['cv_std']:.3f} | {splits} | {q['best']} | "
                f"{a['bcubed_precision']:.3f} / {a['bcubed_recall']:.3f} / {a['bcubed_f1']:.3f} | "
                f"{a['pairwise_precision']:.3f} / {a['pairwise_recall']:.3f} / {a['pairwise_f1']:.3f} | {a['ari']:.3f} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["stage1", "stage2"])
    parser.add_argument("--cluster-sizes", default="100000,1000000", help="stage 2: embeddings to cluster")
    parser.add_argument(
        "--baseline-max-size", type=int, default=100_000, help="stage 2: largest baseline run"
    )
    parser.add_argument("--sizes", default="10000,30000,100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-max-size", type=int, default=100_000, help="largest size the peers run at")
    parser.add_argument("--text-dedup-python", type=Path, default=TEXT_DEDUP_PYTHON)
    parser.add_argument(
        "--only",
        default="",
        help="stage 2: re-measure only these parts of results/stage2.json, keep the rest: any of "
        "embedding (throughput and input length), clustering (rows of these sizes and dimension), quality",
    )
    parser.add_argument(
        "--cluster-dim",
        type=int,
        default=896,
        help="stage 2: dimensions of the generated embeddings (896: the default mode's story vectors)",
    )
    parser.add_argument("--quick", action="store_true", help="10k and 30k articles, one run each")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="stage 1: replace only the rows measured now (tool and size) in the existing results",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    repeats = args.repeats
    name = args.stage
    if args.stage == "stage2":
        cluster_sizes = [int(s) for s in args.cluster_sizes.split(",")]
        if args.quick:
            cluster_sizes, name = [20_000], "stage2-quick"
        parts = {p for p in args.only.split(",") if p}
        if parts - {"embedding", "clustering", "quality"}:
            parser.error(f"--only: unknown part(s) {sorted(parts - {'embedding', 'clustering', 'quality'})}")
        if parts and (RESULTS / f"{name}.json").exists():
            report = json.loads((RESULTS / f"{name}.json").read_text())
            if "embedding" in parts:
                report["embed"] = measure_embedding(args.quick)
                report["seqlen"], _ = _json_run(["seqlen", "300" if args.quick else "800"])
            if "clustering" in parts:
                fresh = measure_clustering(cluster_sizes, args.baseline_max_size, args.cluster_dim)
                measured = {(c["tool"], c["n"], c["dim"]) for c in fresh}
                kept = [c for c in report["cluster"] if (c["tool"], c["n"], c["dim"]) not in measured]
                report["cluster"] = sorted(kept + fresh, key=lambda c: (c["n"], c["dim"], c["tool"]))
            if "quality" in parts and (SHARED_DATA / "uci_stories.jsonl").exists():
                report["quality"], _ = _json_run(["quality"], timeout=7200)
            report.setdefault("remeasured", {}).update({part: " ".join(sys.argv) for part in parts})
            report["markdown"] = stage2_markdown(report)
        else:
            report = run_stage2(cluster_sizes, args.baseline_max_size, args.quick, args.cluster_dim)
    else:
        if args.quick:
            sizes, repeats, name = [10_000, 30_000], 1, f"{args.stage}-quick"
        report = run_stage1(sizes, repeats, args.peer_max_size, args.text_dedup_python)
        if args.merge and (RESULTS / f"{name}.json").exists():
            report = merge_stage1(json.loads((RESULTS / f"{name}.json").read_text()), report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    from report import write_results

    write_results()


if __name__ == "__main__":
    main()
