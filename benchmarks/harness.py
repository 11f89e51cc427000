"""Benchmark plumbing: labelled corpora on disk, one measured process per run, scores against truth.

Kept apart from ``bench.py`` (what to run) so each piece stays small: :func:`corpus` makes or reuses a
generated corpus, :func:`measure` runs one command as its own process and reads its wall time and
peak RSS from ``os.wait4`` (the child's own rusage, not a running maximum over all children; the
child is forked by a small launcher, so the benchmark's own memory is not counted in it), and
:func:`score_output` compares a run's ``dup_group`` with the generator's ``truth_dup``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
SHARED = ROOT.parent.parent / "shared" / "data"


def corpus(n: int, seed: int = 1, workers: int = 2) -> Path:
    """A generated wire-copy corpus of ``n`` articles (BBC bases when present), cached under data/."""
    bases_path = SHARED / "bbc_articles.jsonl"
    source = "bbc" if bases_path.exists() else "grammar"
    path = DATA / f"wire-{source}-n{n}-s{seed}.jsonl"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    parts = max(1, min(workers, n // 20_000))
    tmp = [path.with_suffix(f".part{i}") for i in range(parts)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "harness.py"),
                "part",
                str(n),
                str(seed),
                str(i),
                str(parts),
                str(tmp[i]),
            ]
        )
        for i in range(parts)
    ]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("corpus generation failed")
    with open(path.with_suffix(".tmp"), "wb") as out:
        for t in tmp:
            out.write(t.read_bytes())
            t.unlink()
    path.with_suffix(".tmp").rename(path)
    return path


def _write_part(n: int, seed: int, index: int, parts: int, out: str) -> None:
    from dedup.synth import SynthConfig, generate_corpus, load_bases

    bases_path = SHARED / "bbc_articles.jsonl"
    bases = load_bases(bases_path) if bases_path.exists() else None
    with open(out, "wb") as f:
        for record in generate_corpus(bases, SynthConfig(seed=seed, n_articles=n), part=(index, parts)):
            f.write(orjson.dumps(record) + b"\n")


@dataclass
class Run:
    """One measured process."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr_tail: str = ""


# Runs one command and reports its wall time and rusage. A child's ru_maxrss starts at the RSS of the
# process it was forked from (Linux records the forking image's high-water mark at exec), so a
# benchmark that holds an index in memory would see its own size in every child it measures: this
# small process is the one that forks the command.
_LAUNCHER = """
import json, os, subprocess, sys, time
cmd, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
start = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
while True:
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid:
        break
    if time.perf_counter() - start > timeout:
        proc.kill()
    time.sleep(0.005)
print(json.dumps([time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def measure(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> Run:
    """Run ``cmd`` as its own process; wall seconds and its own peak RSS (via a small launcher
    process, see ``_LAUNCHER``; the launcher's own start-up is not timed)."""
    with tempfile.TemporaryFile() as err:
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, json.dumps([str(c) for c in cmd]), str(timeout)],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, **(env or {})},
            check=True,
        )
        seconds, maxrss_kb, returncode = json.loads(launched.stdout)
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-800:]
    return Run(seconds, maxrss_kb / 1024.0, returncode, tail)


def score_output(output: Path, truth_path: Path) -> dict:
    """Pairwise P/R/F1, B-cubed F1 and ARI of an output's dup_group against truth_dup."""
    from dedup.evaluate import score_clusters

    truth = {}
    with open(truth_path, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            truth[r["id"]] = r["truth_dup"]
    pred = {}
    with open(output, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            pred[r["id"]] = r["dup_group"]
    s = score_clusters(pred, truth)
    return {
        "pairwise_precision": round(s.pairwise_precision, 4),
        "pairwise_recall": round(s.pairwise_recall, 4),
        "pairwise_f1": round(s.pairwise_f1, 4),
        "bcubed_f1": round(s.bcubed_f1, 4),
        "ari": round(s.ari, 4),
    }


@dataclass
class Result:
    """All runs of one tool on one corpus size."""

    tool: str
    size: int
    runs: list[Run] = field(default_factory=list)
    quality: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.returncode == 0 for r in self.runs)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(r.peak_rss_mb for r in self.runs)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["median_seconds"] = self.seconds if self.runs else None
        d["median_peak_rss_mb"] = self.peak_rss_mb if self.runs else None
        return d


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "part":
    _write_part(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
