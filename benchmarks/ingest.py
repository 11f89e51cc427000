"""Incremental ingest benchmark: add a batch to an index that already holds many articles.

    python benchmarks/ingest.py                         # 1M-article index, 10k batch (about 20 min here)
    python benchmarks/ingest.py --size 100000 --quick   # a few minutes
    python benchmarks/ingest.py --agreement             # stories in k batches vs one batch run (~2 min)

1. The generated wire-copy corpus (``harness.corpus``) minus its last ``--batch`` articles is ingested
   into an index in ``--build-batch`` steps (fast story mode), each step timed, once; the index is
   kept under ``benchmarks/data/`` for later runs.
2. The last ``--batch`` articles are then added to a fresh copy of that index, ``--repeats`` times:
   in-process (``Index.add`` + ``commit``, with the stage-1 and story parts timed separately) and as a
   whole ``dedup ingest`` process (wall time and peak RSS from rusage).

``--agreement`` instead ingests labelled corpora (the UCI headlines when ``../shared/data`` has them,
and the generated 30k wire corpus) in k batches and scores the stories against one batch run with
the index's settings (ARI) and against the human or generated story labels (B-cubed F1). As a
yardstick it also scores one batch run on each third of the corpus (in time order) against the
full batch run restricted to that third: what any method that sees the corpus in parts can hope for.

Results go to ``results/ingest*.json`` and into ``RESULTS.md`` (``report.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from harness import DATA, corpus, machine, measure  # noqa: E402

CACHE = DATA / "cache"


def _records(path: Path, start: int, stop: int) -> list[dict]:
    out = []
    with open(path, "rb") as f:
        for k, line in enumerate(f):
            if k >= stop:
                break
            if k >= start:
                out.append(orjson.loads(line))
    return out


def build(path: Path, index_dir: Path, n: int, step: int) -> list[dict]:
    from dedup.config import StoryConfig
    from dedup.index import Index, IndexConfig

    log = []
    config = IndexConfig(stories=StoryConfig(fast=True, cache_dir=str(CACHE)))
    with Index.open(index_dir, config) as index:
        for start in range(0, n, step):
            records = _records(path, start, min(start + step, n))
            t = time.perf_counter()
            index.add(records)
            added = time.perf_counter() - t
            index.commit()
            row = {
                "index_articles_before": start,
                "batch": len(records),
                "add_s": added,
                "commit_s": time.perf_counter() - t - added,
                **{f"{k}_s": v for k, v in index.timings.items()},
            }
            log.append(row)
            print(json.dumps(row), flush=True)
        stats = index.stats()
    (index_dir / "build.json").write_text(json.dumps({"log": log, "stats": stats}))
    return log


def fresh_copy(index_dir: Path, copy: Path) -> None:
    """Copy the kept index and flush the copy to disk: otherwise the first fsync of a commit also
    writes out the gigabytes the copy left dirty in the page cache, which no real ingest pays."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_dir, copy)
    os.sync()


def in_process(index_dir: Path, records: list[dict], cleaned: bool = False) -> dict:
    """``Index.add`` + ``commit`` on a fresh copy; ``cleaned``: the records are parsed and their
    texts cleaned and UTF-8 encoded before the clock starts and given to ``add`` (what ``dedup
    ingest`` does in its worker processes while it reads)."""
    from dedup.index import Index
    from dedup.normalize import article_text
    from dedup.records import article_from_record

    texts = None
    if cleaned:
        records = [article_from_record(r) for r in records]
        texts = [article_text(a.title, a.text).encode("utf-8", "surrogatepass") for a in records]
    t = time.perf_counter()
    with Index.open(index_dir) as index:
        opened = time.perf_counter() - t
        t = time.perf_counter()
        index.add(records, texts=texts)
        added = time.perf_counter() - t
        timings = dict(index.timings)
        t = time.perf_counter()
        index.commit()
        committed = time.perf_counter() - t
        stats = index.stats()
    return {
        "open_s": opened,
        "add_s": added,
        "commit_s": committed,
        **{f"{k}_s": v for k, v in timings.items()},
        "stats": stats,
    }


SHARED = ROOT.parent.parent / "shared" / "data"


def agreement(batches: list[int]) -> dict:
    import numpy as np

    from dedup.config import StoryConfig
    from dedup.evaluate import score_labels
    from dedup.index import Index, IndexConfig
    from dedup.pipeline import Pipeline, PipelineConfig

    config = IndexConfig(stories=StoryConfig(fast=True, cache_dir=str(CACHE)))
    pipeline = Pipeline(PipelineConfig(near_dup=config.near_dup, stories=config.stories))
    corpora = {}
    if (SHARED / "uci_stories.jsonl").exists():
        corpora["UCI headlines (human story labels)"] = (
            _records(SHARED / "uci_stories.jsonl", 0, 10**9),
            "story",
        )
    corpora["generated wire corpus, 30k (generated story labels)"] = (
        _records(corpus(30_000), 0, 30_000),
        "truth_story",
    )
    rows = []
    for name, (records, gold_key) in corpora.items():
        records.sort(key=lambda r: r.get("published_at") or "")  # batches arrive in time order
        gold = [r[gold_key] for r in records]
        batch = pipeline.run(records).story
        thirds = np.array_split(np.arange(len(records)), 3)
        sliced = [
            score_labels([batch[i] for i in part], pipeline.run([records[i] for i in part]).story).ari
            for part in thirds
        ]
        row = {
            "corpus": name,
            "articles": len(records),
            "batch_stories": len(set(batch)),
            "batch_bcubed_f1": score_labels(batch, gold).bcubed_f1,
            "sliced_batch_ari": statistics.mean(sliced),
            "ingest": [],
        }
        for k in batches:
            with tempfile.TemporaryDirectory() as tmp, Index.open(Path(tmp) / "idx", config) as index:
                for part in np.array_split(np.arange(len(records)), k):
                    index.add([records[i] for i in part])
                    index.commit()
                found = index.lookup([r["id"] for r in records])
            story = [found[r["id"]]["story"] for r in records]
            row["ingest"].append(
                {
                    "batches": k,
                    "stories": len(set(story)),
                    "ari_vs_batch": score_labels(story, batch).ari,
                    "bcubed_f1": score_labels(story, gold).bcubed_f1,
                }
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = [
        "## Incremental ingest: stories against one batch run (`ingest-agreement`)",
        "",
        f"Machine: {machine()['cpu']}; command: `{' '.join(sys.argv)}`. Fast story mode, the index's "
        "settings for both; records in time order, split into k equal batches. The last column scores "
        "batch runs on each third of the corpus against the full batch run restricted to that third.",
        "",
        "| corpus | articles | run | stories | ARI vs batch run | B-cubed F1 vs labels | batch runs on thirds: ARI |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['corpus']} | {row['articles']:,} | one batch run | {row['batch_stories']:,} | 1 | "
            f"{row['batch_bcubed_f1']:.3f} | {row['sliced_batch_ari']:.3f} |"
        )
        for r in row["ingest"]:
            lines.append(
                f"| | | ingest in {r['batches']} batches | {r['stories']:,} | {r['ari_vs_batch']:.3f} | "
                f"{r['bcubed_f1']:.3f} | |"
            )
    report = {"stage": "ingest-agreement", "machine": machine(), "command": " ".join(sys.argv), "rows": rows}
    report["markdown"] = "\n".join(lines)
    out = ROOT / "results" / "ingest-agreement.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(report["markdown"])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="articles in the index after the batch")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--build-batch", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--agreement", action="store_true", help="stories in k batches vs one batch run")
    args = parser.parse_args()
    if args.agreement:
        agreement([3, 10])
        return
    repeats = 1 if args.quick else args.repeats
    path = corpus(args.size)
    base = args.size - args.batch
    index_dir = DATA / f"index-{path.stem}-{base}"
    if not (index_dir / "build.json").exists():
        shutil.rmtree(index_dir, ignore_errors=True)
        build(path, index_dir, base, args.build_batch)
    built = json.loads((index_dir / "build.json").read_text())
    records = _records(path, base, args.size)
    runs, cleaned_runs, processes = [], [], []
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        # one untimed batch into a small index first: the in-process figures are those of a warm
        # process (compiled code and models loaded); the whole-process runs below include all that
        from dedup.index import Index

        with Index.open(Path(tmp) / "warm-up", Index.stored_config(index_dir)) as small:
            for part in (records[:1000], records[1000:2000]):  # the second reads mapped files
                small.add(part)
                small.commit()
        batch_file = Path(tmp) / "batch.jsonl"
        batch_file.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        for _ in range(repeats):
            copy = Path(tmp) / "index"
            fresh_copy(index_dir, copy)
            runs.append(in_process(copy, records))
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "stats"}), flush=True)
            fresh_copy(index_dir, copy)
            cleaned_runs.append(in_process(copy, records, cleaned=True))
            print(
                json.dumps({"cleaned": True, **{k: v for k, v in cleaned_runs[-1].items() if k != "stats"}})
            )
            fresh_copy(index_dir, copy)
            run = measure(
                [
                    sys.executable,
                    "-m",
                    "dedup.cli",
                    "ingest",
                    "--index",
                    str(copy),
                    str(batch_file),
                    "-o",
                    str(Path(tmp) / "out.jsonl"),
                    "-q",
                ]
            )
            processes.append(
                {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb, "returncode": run.returncode}
            )
            print(json.dumps(processes[-1]), flush=True)
    stats = runs[-1]["stats"]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "stats"}
    proc_s = statistics.median(p["seconds"] for p in processes)
    report = {
        "stage": "ingest",
        "machine": machine(),
        "command": " ".join(sys.argv),
        "index_articles": base,
        "batch": args.batch,
        "build": built,
        "runs": runs,
        "cleaned_runs": cleaned_runs,
        "processes": processes,
        "median": med,
        "stage1_articles_per_s": args.batch / med["stage1_s"],
        "stage1_cleaned_s": statistics.median(r["stage1_s"] for r in cleaned_runs),
        "stage1_cleaned_articles_per_s": args.batch / statistics.median(r["stage1_s"] for r in cleaned_runs),
        "batch_articles_per_s_in_process": args.batch / (med["add_s"] + med["commit_s"]),
        "batch_articles_per_s_whole_process": args.batch / proc_s,
        "bytes_per_article": stats["bytes_per_article"],
    }
    m = report["machine"]
    rows = [
        f"## Incremental ingest (`{'ingest-quick' if args.quick else 'ingest'}`)",
        "",
        f"Machine: {m['cpu']} ({m['cores']} cores), load average at start {m['load_average_at_start']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"A {args.batch:,}-article batch added to an index of {base:,} articles (fast story mode), medians of "
        f"{repeats} run(s), each on a fresh copy of the index.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| stage 1 (dup groups) in `Index.add`, texts cleaned and encoded by the caller (as `dedup ingest` "
        f"does in its workers) | {report['stage1_cleaned_s']:.2f} s = {report['stage1_cleaned_articles_per_s']:,.0f} articles/s |",
        f"| stage 1 in `Index.add` from raw records (parsing and cleaning included) | {med['stage1_s']:.2f} s = "
        f"{report['stage1_articles_per_s']:,.0f} articles/s |",
        f"| stories in `Index.add` (embed + cluster) | {med['stories_s']:.2f} s |",
        f"| commit | {med['commit_s']:.2f} s |",
        f"| whole batch in process (add + commit) | {report['batch_articles_per_s_in_process']:,.0f} articles/s |",
        f"| whole `dedup ingest` process (start-up, open, read, write included) | {proc_s:.1f} s = "
        f"{report['batch_articles_per_s_whole_process']:,.0f} articles/s, peak RSS "
        f"{statistics.median(p['peak_rss_mb'] for p in processes):,.0f} MB |",
        f"| opening the index | {med['open_s']:.2f} s |",
        f"| index size on disk | {stats['bytes_on_disk'] / 2**20:,.0f} MiB = {stats['bytes_per_article']:,.0f} bytes/article |",
        "",
        "Stage 1 by step, texts cleaned by the caller (medians, seconds): "
        + ", ".join(
            f"{step} {statistics.median(r[f'{step}_s'] for r in cleaned_runs):.3f}"
            for step in ("tokenize", "shingle", "minhash", "candidates", "verify", "groups")
            if f"{step}_s" in cleaned_runs[0]
        )
        + ".",
        "",
        "Building the index, batch by batch (in process):",
        "",
        "| articles before | batch | stage 1 s | stories s | commit s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for b in built["log"]:
        rows.append(
            f"| {b['index_articles_before']:,} | {b['batch']:,} | {b['stage1_s']:.1f} | {b['stories_s']:.1f} | {b['commit_s']:.1f} |"
        )
    report["markdown"] = "\n".join(rows)
    name = "ingest-quick" if args.quick else "ingest"
    out = ROOT / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(report["markdown"])


if __name__ == "__main__":
    main()
