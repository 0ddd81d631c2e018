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
  /tmp/audit-bench-<N>, reused after), each run with an empty table cache: the median
  seconds of --big-runs timed runs, and the peak memory of one more run sampled by
  benchmarks/treemem.py (sampling slows a run, so it is not timed). Goal <= 30 s, 3 GB.
- audit import ssda903 / annex_a on the external samples (../shared/external), and
  annex_a on a 10,000-row workbook (Lists 3 and 8, 5,000 rows each, built once from the
  sample into /tmp/audit-bench-annex-a-10k.xlsx; our import is also run on a copy whose
  sheets declare a stale size, and the rows it read are recorded): against liiatools' `cleanfile` where the peer is found, else the
  project's own seconds. The peer is never a project dependency: install it in its own
  environment (docs/performance.md) and name it with --peer or AUDIT_BENCH_LIIATOOLS,
  either a `liiatools` executable or the Python of an environment holding liiatools
  (0.1.4.2 installs no command; it is run as `python -m liiatools`). Its s903
  cleanfile reads one file whose name carries a year, so it gets the sample's
  episodes.csv (5,050 episodes) copied to SSDA903_2020_episodes.csv, while ours
  imports the whole folder of ten files: the ratio is conservative.

Usage: python benchmarks/bench_run.py [--pairs 3] [--big 1000000 | --no-big | --big-only]
       [--big-runs 1] [--jobs 2]
       [--peer PATH] [--imports-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
EXTERNAL = ROOT.parent / "shared" / "external"
RESULTS = ROOT / "benchmarks" / "results.json"

#: Runs a command and prints its wall seconds, the peak RSS (MB) of the largest
#: process it waited for (ru_maxrss of the children: the kernels and pool workers too),
#: its exit code and its CPU seconds (user + system, children included).
TIMER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    ".returncode\n"
    "dt = time.perf_counter() - t\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "peak = use.ru_maxrss / 1024\n"
    "print(f'{dt:.3f} {peak:.0f} {rc} {use.ru_utime + use.ru_stime:.3f}')\n"
)


def timed(
    cmd: list[str], env: dict | None = None, ok: tuple[int, ...] = (0,), cpu: bool = False
) -> tuple[float, ...]:
    """Wall seconds and peak MB of one run of ``cmd`` (and its CPU seconds if ``cpu``);
    exits if it fails (an exit code not in ``ok``)."""
    done = subprocess.run(
        [sys.executable, "-c", TIMER, *cmd],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        dt, peak, rc, cpu_s = done.stdout.split()
    except ValueError:
        sys.exit(f"benchmark harness failed: {done.stderr}")
    if int(rc) not in ok:
        sys.exit(f"{' '.join(cmd)} exited {rc}")
    return (float(dt), float(peak), float(cpu_s)) if cpu else (float(dt), float(peak))


def pairs(a, b, n: int, warm: bool = True) -> dict:
    """Interleave ``a()`` and ``b()`` n times (after one pair not counted, if ``warm``)."""
    if warm:
        a()
        b()
    rows = []
    for _ in range(n):
        ra, rb = a(), b()
        rows.append({"a_s": ra[0], "a_mb": ra[1], "b_s": rb[0], "b_mb": rb[1]})
        if len(ra) > 2 and len(rb) > 2:
            rows[-1].update(a_cpu_s=ra[2], b_cpu_s=rb[2])
    cpu = {}
    if all("a_cpu_s" in r for r in rows):
        cpu = {
            "cpu_ratio_median": statistics.median(r["a_cpu_s"] / r["b_cpu_s"] for r in rows),
            "a_median_cpu_s": statistics.median(r["a_cpu_s"] for r in rows),
            "b_median_cpu_s": statistics.median(r["b_cpu_s"] for r in rows),
        }
    return {
        "runs": rows,
        "ratio_median": statistics.median(r["a_s"] / r["b_s"] for r in rows),
        "a_median_s": statistics.median(r["a_s"] for r in rows),
        "b_median_s": statistics.median(r["b_s"] for r in rows),
        "a_peak_mb": max(r["a_mb"] for r in rows),
        "b_peak_mb": max(r["b_mb"] for r in rows),
        **cpu,
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

    def run(i: int, sampled: bool):
        cmd = audit("run", "--data", str(big), "--out", str(tmp / f"big{i}"), *jobs)
        env = {"AUDIT_CACHE_HOME": str(tmp / f"bigcache{i}")}  # cold: validated each time
        if sampled:
            return measure(cmd, env=env, cwd=ROOT)
        dt, peak, cpu = timed(cmd, env=env, cpu=True)  # stops the bench unless it exits 0
        return {"s": dt, "cpu_s": cpu, "largest_mb": peak, "rc": 0}

    # timed runs are not sampled: reading every process's memory map five times a second
    # took a core's share of the 2 (31 s against 24 s unsampled); one more run is
    # sampled for the memory summed over every process
    runs = [run(i, False) for i in range(n)]
    mem = run(n, True)
    return {
        "children": children,
        "runs": runs,
        "memory_run": mem,
        "median_s": statistics.median(r["s"] for r in runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_mb": round(max(mem["largest_mb"], *(r["largest_mb"] for r in runs))),
        "peak_sum_mb": mem["peak_sum_mb"],
        "peak_pss_mb": mem["peak_pss_mb"],
        "exit_codes": sorted({r["rc"] for r in [*runs, mem]}),
    }


#: where the peer's cleanfile wants a year in the file name, the year it is given
PEER_YEAR = "2020"
ANNEX_10K = Path(tempfile.gettempdir()) / "audit-bench-annex-a-10k.xlsx"
LISTS_10K = ("List 3", "List 8")
#: issue 16: times faster than the peer
IMPORT_GOALS = {"ssda903": 20, "annex_a": 5, "annex_a_10k": 20}


def peer_command(given: str | None) -> list[str] | None:
    """How to run liiatools: --peer, else $AUDIT_BENCH_LIIATOOLS, else `liiatools` on
    PATH; a Python interpreter is run as ``python -m liiatools``. None if not found."""
    path = given or os.environ.get("AUDIT_BENCH_LIIATOOLS") or shutil.which("liiatools")
    if not path:
        return None
    if not (Path(path).is_file() or shutil.which(path)):
        sys.exit(f"peer not found: {path}")
    return [path, "-m", "liiatools"] if Path(path).name.startswith("python") else [path]


def annex_a_10k(path: Path = ANNEX_10K, rows: int = 5_000) -> tuple[Path, Path]:
    """A 10,000-row Annex A: the sample workbook with Lists 3 and 8 grown to ``rows``
    rows each (the sample's rows repeated, one new child id per row); and a copy whose
    sheets all declare the stale size A1:I2, as some exporters leave it (a reader that
    trusts the declaration reads two rows). Built once, reused."""
    stale = path.with_suffix(".stale.xlsx")
    if path.is_file() and stale.is_file():
        return path, stale
    import openpyxl
    from openpyxl.utils import get_column_letter

    from audit_lib.sources.annex_a import read_sheets

    wb = openpyxl.Workbook(write_only=True)
    sizes = {}  # each sheet's true size, declared in the full book (the peer pads rows to it)
    for k, (name, sheet, _) in enumerate(read_sheets(EXTERNAL / "annex-a" / "Annex_A.xlsx")):
        ws = wb.create_sheet(name)
        head, body = sheet[0], sheet[1:]
        ws.append(head)
        grow = name in LISTS_10K
        n = rows if grow else len(body)
        for i in range(n):
            row = list(body[i % len(body)])
            if grow:
                row[0] = (20_000_000 if name == "List 3" else 30_000_000) + i
            ws.append([None if c == "" else c for c in row])
        sizes[f"xl/worksheets/sheet{k + 1}.xml"] = f"A1:{get_column_letter(len(head))}{n + 1}"
    tmp = path.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    for out, declare in ((path, sizes.get), (stale, lambda _: "A1:I2")):
        with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename in sizes:
                    ref = f'<dimension ref="{declare(item.filename)}"/>'.encode()
                    data = re.sub(rb"<dimension [^>]*/>", b"", data)
                    data = data.replace(b"<sheetViews", ref + b"<sheetViews", 1)
                dst.writestr(item, data)
    tmp.unlink()
    return path, stale
    import openpyxl

    from audit_lib.sources.annex_a import read_sheets

    wb = openpyxl.Workbook(write_only=True)
    for name, sheet, _ in read_sheets(EXTERNAL / "annex-a" / "Annex_A.xlsx"):
        ws = wb.create_sheet(name)
        head, body = sheet[0], sheet[1:]
        ws.append(head)
        grow = name in LISTS_10K
        for i in range(rows if grow else len(body)):
            row = list(body[i % len(body)])
            if grow:
                row[0] = (20_000_000 if name == "List 3" else 30_000_000) + i
            ws.append([None if c == "" else c for c in row])
    tmp = path.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:I2"', data)
                if b"<dimension" not in data:  # write-only books may declare none
                    data = data.replace(b"<sheetData", b'<dimension ref="A1:I2"/><sheetData', 1)
            dst.writestr(item, data)
    tmp.replace(path)
    return path, stale


def bench_imports(tmp: Path, n: int, peer: list[str] | None, n_10k: int = 1) -> dict:
    """Our import against the peer's cleanfile, interleaved; or our seconds alone."""
    sample = EXTERNAL / "ssda903-fake"
    cases = {
        "ssda903": (sample, ["s903", "cleanfile"], sample / "episodes.csv", n),
        "annex_a": (EXTERNAL / "annex-a" / "Annex_A.xlsx", ["annex-a", "cleanfile"], None, n),
        "annex_a_10k": (None, ["annex-a", "cleanfile"], None, n_10k),
    }
    out = {}
    for name, (src, peer_args, peer_src, runs) in cases.items():
        if name == "annex_a_10k":
            if not (EXTERNAL / "annex-a" / "Annex_A.xlsx").exists():
                out[name] = {"skipped": "the sample Annex A is not found"}
                continue
            src, stale = annex_a_10k()
        if not src.exists():
            out[name] = {"skipped": f"{src} not found"}
            continue
        fmt = name.removesuffix("_10k")
        counter = iter(range(10**6))

        def ours(fmt=fmt, src=src, name=name, counter=counter):
            dest = tmp / f"imp-{name}-{next(counter)}"
            res = timed(audit("import", fmt, str(src), "--out", str(dest)), ok=(0, 1), cpu=True)
            return res, json.loads((dest / "import_report.json").read_text())

        if peer:
            staged = tmp / f"peer-in-{name}"
            staged.mkdir()
            one = peer_src or src
            peer_in = staged / (f"SSDA903_{PEER_YEAR}_{one.name}" if fmt == "ssda903" else one.name)
            shutil.copy(one, peer_in)

            def theirs(peer_args=peer_args, peer_in=peer_in, name=name, counter=counter):
                dest = tmp / f"peer-{name}-{next(counter)}"
                (dest / "log").mkdir(parents=True)
                args = ["--i", str(peer_in), "--la_code", "BAR", "--la_log_dir", str(dest / "log")]
                return timed([*peer, *peer_args, *args, "--o", str(dest)], cpu=True)

            res = pairs(theirs, lambda ours=ours: ours()[0], runs, warm=name != "annex_a_10k")
            res["peer"] = "liiatools " + " ".join(peer_args) + f" on {peer_in.name}"
        else:
            if name != "annex_a_10k":
                ours()
            times = [ours()[0] for _ in range(runs)]
            res = {
                "peer": None,
                "note": "liiatools not found (--peer, AUDIT_BENCH_LIIATOOLS): "
                "the project's own seconds only",
                "median_s": statistics.median(t[0] for t in times),
                "median_cpu_s": statistics.median(t[2] for t in times),
                "peak_mb": max(t[1] for t in times),
            }
        if name == "annex_a_10k":  # every row read, whatever the sheets declare
            read = {m["source"]: m["rows_read"] for m in ours(src=stale)[1]["mapping"]}
            res["rows_read"] = {k: v for k, v in read.items() if k.split(" (")[0] in LISTS_10K}
        res["ours"] = f"audit import {fmt} {src.name}"
        out[name] = res
    return out


def import_line(fmt: str, r: dict) -> str:
    """One import's figures as ``make bench`` prints them."""
    if "skipped" in r:
        return f"import {fmt:<16} skipped: {r['skipped']}"
    if r.get("peer"):
        return (
            f"import {fmt:<16} {r['ratio_median']:.1f}x faster than {r['peer']} "
            f"(wall; CPU {r['cpu_ratio_median']:.1f}x): ours {r['b_median_s']:.2f} s "
            f"({r['b_median_cpu_s']:.2f} CPU s), peer {r['a_median_s']:.2f} s "
            f"({r['a_median_cpu_s']:.2f} CPU s)   goal >= {IMPORT_GOALS[fmt]}x"
        )
    return (
        f"import {fmt:<16} {r['median_s']:.2f} s ({r['median_cpu_s']:.2f} CPU s), "
        f"{r['peak_mb']:.0f} MB ({r['note']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument(
        "--big-only", action="store_true", help="only the large run (kept results stay)"
    )
    parser.add_argument("--big-runs", type=int, default=1, help="runs of the large borough")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument(
        "--peer", default=None, help="liiatools, or the Python of an environment holding it"
    )
    parser.add_argument("--imports-only", action="store_true", help="only the import figures")
    parser.add_argument(
        "--pairs-10k", type=int, default=1, help="pairs for the 10k-row Annex A (peer: ~2 min each)"
    )
    args = parser.parse_args(argv)
    peer = peer_command(args.peer)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    known = Path(args.json)
    partial = args.imports_only or args.big_only
    doc: dict = json.loads(known.read_text()) if partial and known.is_file() else {}
    doc |= {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        if not partial:
            doc["audit_vs_floor"] = bench_run(tmp, args.pairs, jobs)
            r = doc["audit_vs_floor"]
            print(
                f"audit run / floor        {r['ratio_median']:.2f}x  (median of {args.pairs} "
                f"pairs; audit {r['a_median_s']:.1f} s, {r['a_peak_mb']:.0f} MB; "
                f"floor {r['b_median_s']:.1f} s)   goal <= 1.3x",
                flush=True,
            )
        if not args.big_only:
            doc["imports"] = bench_imports(tmp, args.pairs, peer, args.pairs_10k)
            for fmt, r in doc["imports"].items():
                print(import_line(fmt, r), flush=True)
        if not args.no_big and args.big and not args.imports_only:
            doc["big"] = bench_big(tmp, args.big, args.big_runs, jobs)
            b = doc["big"]
            print(
                f"audit run, {b['children']:,} children  {b['median_s']:.1f} s "
                f"(median of {len(b['runs'])}) "
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
