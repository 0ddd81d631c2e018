"""`make bench`: the monthly run against its floor, imports against their peers.

Every figure is whole-process (start-up included) and every comparison is a ratio of
interleaved runs, A B A B ..., taken pair by pair, so a machine that speeds up or slows
down during the benchmark moves both sides of each pair. Medians are printed and
written to benchmarks/results.json.

- audit run / floor: `audit run` on the default borough, each run with an empty table
  cache (the data are validated every time, as on a new month's data), against
  benchmarks/floor.py (six notebooks that read the same CSVs with plain pandas and
  draw one chart, papermill in a 2-worker pool, nbconvert export). Goal <= 1.3.
- audit run on a large borough (default 1,000,000 children, generated once into
  /tmp/audit-bench-<N>, reused after): seconds and peak memory. Goal <= 30 s, 3 GB.
- audit import ssda903 / annex_a on the external samples (../shared/external): against
  liiatools' `cleanfile` where liiatools is installed, else the project's own seconds.

Usage: python benchmarks/bench_run.py [--pairs 3] [--big 1000000 | --no-big] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
EXTERNAL = ROOT.parent / "shared" / "external"
RESULTS = ROOT / "benchmarks" / "results.json"

#: Runs a command and prints its wall seconds and the peak RSS (MB) of the largest
#: process it waited for (ru_maxrss of the children: the kernels and pool workers too).
TIMER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    ".returncode\n"
    "dt = time.perf_counter() - t\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(f'{dt:.3f} {peak:.0f} {rc}')\n"
)


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak MB of one run of ``cmd``; exits if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", TIMER, *cmd],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        dt, peak, rc = done.stdout.split()
    except ValueError:
        sys.exit(f"benchmark harness failed: {done.stderr}")
    if rc != "0":
        sys.exit(f"{' '.join(cmd)} exited {rc}")
    return float(dt), float(peak)


def pairs(a, b, n: int) -> dict:
    """Interleave ``a()`` and ``b()`` n times (after one pair not counted)."""
    a()
    b()
    rows = []
    for _ in range(n):
        ra, rb = a(), b()
        rows.append({"a_s": ra[0], "a_mb": ra[1], "b_s": rb[0], "b_mb": rb[1]})
    return {
        "runs": rows,
        "ratio_median": statistics.median(r["a_s"] / r["b_s"] for r in rows),
        "a_median_s": statistics.median(r["a_s"] for r in rows),
        "b_median_s": statistics.median(r["b_s"] for r in rows),
        "a_peak_mb": max(r["a_mb"] for r in rows),
        "b_peak_mb": max(r["b_mb"] for r in rows),
    }


def audit(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit_lib.cli", *args]


def bench_run(tmp: Path, n: int, jobs: list[str]) -> dict:
    counter = iter(range(10**6))

    def run_a():
        i = next(counter)
        return timed(
            audit("run", "--data", str(DATA), "--out", str(tmp / f"a{i}"), *jobs),
            env={"AUDIT_CACHE_HOME": str(tmp / f"cache{i}")},  # cold: validate every run
        )

    def run_b():
        i = next(counter)
        floor = [sys.executable, str(ROOT / "benchmarks" / "floor.py")]
        return timed([*floor, "--data", str(DATA), "--out", str(tmp / f"b{i}")])

    return pairs(run_a, run_b, n)


def bench_big(tmp: Path, children: int, n: int, jobs: list[str]) -> dict:
    big = Path(tempfile.gettempdir()) / f"audit-bench-{children}"
    if not (big / "children.csv").is_file():
        print(f"generating a {children:,}-child borough into {big} (once)...", flush=True)
        subprocess.run(
            audit("synth", "--children", str(children), "--out", str(big)),
            check=True,
            capture_output=True,
        )
    from treemem import measure  # memory summed over the parent, workers and kernels

    runs = [
        measure(
            audit("run", "--data", str(big), "--out", str(tmp / f"big{i}"), *jobs),
            env={"AUDIT_CACHE_HOME": str(tmp / f"bigcache{i}")},
            cwd=ROOT,
        )
        for i in range(n)
    ]
    return {
        "children": children,
        "runs": runs,
        "median_s": statistics.median(r["s"] for r in runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_mb": max(r["largest_mb"] for r in runs),
        "peak_sum_mb": max(r["peak_sum_mb"] for r in runs),
        "peak_pss_mb": max(r["peak_pss_mb"] for r in runs),
        "exit_codes": sorted({r["rc"] for r in runs}),
    }


def bench_imports(tmp: Path, n: int) -> dict:
    cases = {
        "ssda903": (EXTERNAL / "ssda903-fake", ["s903", "cleanfile"]),
        "annex_a": (EXTERNAL / "annex-a" / "Annex_A.xlsx", ["annex-a", "cleanfile"]),
    }
    peer = shutil.which("liiatools")
    out = {}
    for fmt, (src, peer_args) in cases.items():
        if not src.exists():
            out[fmt] = {"skipped": f"{src} not found"}
            continue
        counter = iter(range(10**6))

        def ours(fmt=fmt, src=src, counter=counter):
            dest = tmp / f"imp-{fmt}-{next(counter)}"
            return timed(audit("import", fmt, str(src), "--out", str(dest)))

        if peer:
            inputs = sorted(src.glob("*.csv")) if src.is_dir() else [src]

            def theirs(peer_args=peer_args, inputs=inputs, fmt=fmt, counter=counter):
                dest = tmp / f"peer-{fmt}-{next(counter)}"
                dest.mkdir()
                return timed([peer, *peer_args, "-i", str(inputs[0]), "-o", str(dest)])

            res = pairs(theirs, ours, n)  # ratio: peer seconds / ours = times faster
            res["peer"] = "liiatools " + " ".join(peer_args)
        else:
            ours()
            runs = [ours() for _ in range(n)]
            res = {
                "peer": None,
                "note": "liiatools not installed: the project's own seconds only",
                "median_s": statistics.median(s for s, _ in runs),
                "peak_mb": max(mb for _, mb in runs),
            }
        out[fmt] = res
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args(argv)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    doc: dict = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        doc["audit_vs_floor"] = bench_run(tmp, args.pairs, jobs)
        r = doc["audit_vs_floor"]
        print(
            f"audit run / floor        {r['ratio_median']:.2f}x  (median of {args.pairs} pairs; "
            f"audit {r['a_median_s']:.1f} s, {r['a_peak_mb']:.0f} MB; "
            f"floor {r['b_median_s']:.1f} s)   goal <= 1.3x",
            flush=True,
        )
        doc["imports"] = bench_imports(tmp, args.pairs)
        for fmt, r in doc["imports"].items():
            if "skipped" in r:
                print(f"import {fmt:<16} skipped: {r['skipped']}")
            elif r.get("peer"):
                print(
                    f"import {fmt:<16} {r['ratio_median']:.1f}x faster than {r['peer']} "
                    f"(ours {r['b_median_s']:.2f} s, peer {r['a_median_s']:.2f} s)"
                )
            else:
                print(
                    f"import {fmt:<16} {r['median_s']:.2f} s, {r['peak_mb']:.0f} MB ({r['note']})"
                )
        if not args.no_big and args.big:
            doc["big"] = bench_big(tmp, args.big, 1, jobs)
            b = doc["big"]
            print(
                f"audit run, {b['children']:,} children  {b['median_s']:.1f} s "
                f"({b['median_cpu_s']:.0f} CPU s), peak {b['peak_sum_mb']:,} MB summed over the "
                f"processes (PSS {b['peak_pss_mb']:,}; largest {b['peak_mb']:,})   goal <= 30 s, 3 GB"
                + (f"   exit {b['exit_codes']}" if b["exit_codes"] != [0] else "")
            )
        doc["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
