"""Benchmark the monthly run against its floor, and the measure functions alone.

Rows (each the median of --repeat runs, with the peak resident memory of the largest
process involved):

- floor: ``audit run``'s own machinery (same pool, same rendering) over the same number
  of notebooks, each of which only imports audit_lib and draws one chart;
- audit run on the default borough (the data cache is warm after the first repeat;
  the first, cold, run is reported too);
- audit run on a 1,000,000-child borough (generated once into a temporary folder);
- each audit's measure functions alone, in-process, at both sizes.

Usage: python benchmarks/bench_run.py [--repeat 3] [--big 1000000] [--no-big]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"

FLOOR_CELL = """import audit_lib
import matplotlib.pyplot as plt
from audit_lib import report
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot([1, 2, 3], [2, 1, 3])
report.show_figure(fig)"""


def floor_notebooks(folder: Path) -> Path:
    """Notebooks with the real ones' names and parameters that only import and draw."""
    import nbformat

    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        real = nbformat.read(src, as_version=4)
        params = next(c for c in real.cells if "parameters" in c.metadata.get("tags", []))
        nb = nbformat.v4.new_notebook()
        nb.metadata = real.metadata
        nb.cells = [params, nbformat.v4.new_code_cell(FLOOR_CELL)]
        nbformat.write(nb, folder / src.name)
    return folder


def timed_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the largest process of one `audit run`."""
    code = (
        "import resource, sys, time\n"
        "from audit_lib.cli import main\n"
        "t = time.perf_counter(); rc = main(sys.argv[1:]); dt = time.perf_counter() - t\n"
        "peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
        "print(f'BENCH {dt:.3f} {peak:.0f} {rc}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "run", *args], capture_output=True, text=True, cwd=ROOT
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("BENCH")]
    if not line:
        sys.exit(f"audit run failed:\n{done.stdout}\n{done.stderr}")
    _, dt, peak, rc = line[-1].split()
    if rc != "0":
        sys.exit(f"audit run exited {rc}:\n{done.stdout}")
    return float(dt), float(peak)


def measures_alone(data: Path) -> dict[str, float]:
    code = f"""
import json, time
import pandas as pd
from audit_lib.load import load_tables
from audit_lib.measures import timeliness as T, data_quality as DQ, plan_quality as PQ
from audit_lib.measures import permanence as PM, disproportionality as D
t = {{}}
t0 = time.perf_counter(); tables, dq = load_tables({str(data)!r}); t["load_validate"] = time.perf_counter() - t0
as_of = pd.Timestamp(dq.extract_date) - pd.Timedelta(days=1)
period = str(as_of.to_period("M"))
t0 = time.perf_counter()
items = T.all_items(tables, as_of)
s = T.summarise(items, period); T.monthly(items, period); T.by_team(items, period)
t["timeliness"] = time.perf_counter() - t0; t0 = time.perf_counter()
DQ.table_counts(dq); DQ.rejection_reasons(dq); DQ.ethnicity_not_known(tables, period)
DQ.completeness_change(tables, period)
t["data_quality"] = time.perf_counter() - t0; t0 = time.perf_counter()
a = tables["case_audits"]; PQ.metric_entries(a, period, PQ.monthly_good_or_better(a, period, 48))
PQ.leniency(PQ.recent(a, period, 24)); PQ.anchor_summary(PQ.window(a, period), by=("team",))
t["plan_quality"] = time.perf_counter() - t0; t0 = time.perf_counter()
o = PM.spell_outcomes(tables, as_of); f = PM.drift_flags(tables, o, as_of)
PM.metric_entries(tables, o, period, f); PM.cumulative_incidence(o)
t["permanence"] = time.perf_counter() - t0; t0 = time.perf_counter()
D.combined(D.table(tables, period))
t["disproportionality"] = time.perf_counter() - t0
print(json.dumps(t))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb_floor = floor_notebooks((tmp / "floor").mkdir() or tmp / "floor")
        runs = [
            timed_run(
                ["--data", str(DATA), "--out", str(tmp / "f"), *jobs]
                + ["--notebooks", str(nb_floor)]
            )
            for _ in range(args.repeat)
        ]
        rows.append(("floor (import + one chart)", runs))
        runs = [
            timed_run(["--data", str(DATA), "--out", str(tmp / "d"), *jobs])
            for _ in range(args.repeat)
        ]
        rows.append(("audit run, default borough", runs))
        sizes = [("default", DATA)]
        if not args.no_big:
            big = tmp / "big"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "audit_lib.cli",
                    "synth",
                    "--children",
                    str(args.big),
                    "--out",
                    str(big),
                ],
                check=True,
                capture_output=True,
            )
            runs = [
                timed_run(["--data", str(big), "--out", str(tmp / "b"), *jobs])
                for _ in range(args.repeat)
            ]
            rows.append((f"audit run, {args.big:,} children", runs))
            sizes.append((f"{args.big:,}", big))
        alone = {name: measures_alone(path) for name, path in sizes}
    print(f"{'row':<38}{'cold s':>9}{'median s':>10}{'peak MB':>9}")
    for label, runs in rows:
        med = statistics.median(r[0] for r in runs)
        print(f"{label:<38}{runs[0][0]:>9.2f}{med:>10.2f}{max(r[1] for r in runs):>9.0f}")
    floor = statistics.median(r[0] for r in rows[0][1])
    main_run = statistics.median(r[0] for r in rows[1][1])
    print(f"\naudit run / floor = {main_run / floor:.2f}")
    print("\nmeasure functions alone (s)")
    for name, t in alone.items():
        print(f"  {name:<12}" + "  ".join(f"{k} {v:.2f}" for k, v in t.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
