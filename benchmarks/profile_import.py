"""Where one `audit import` spends its time, stage by stage (CPU seconds).

Runs ``audit import FORMAT PATHS --out <a new temporary folder>`` in a fresh process,
the way the command runs, with timers around its stages:

- ``start-up``: the interpreter and the CLI's module-level imports, until ``main`` runs
  (its wall seconds count the module imports only, not the interpreter's own start);
- ``imports``: the libraries the import command itself imports (pandas, the readers);
- ``read``: reading the files (CSV decoding, the workbook, the XML);
- ``map``: mapping the return's tables to canonical ones;
- ``merge``: merging into the folder and its ``.import/`` store, writing the CSVs;
- ``extract``: ``extract.json`` and what the folder derives as a whole (903 adoptions);
- ``validate``: validating the whole folder (rows kept and rejected, with reasons);
- ``report``: the import report (JSON) and the printed summary.

The figures are CPU seconds of this one process (``time.process_time``), so other work
on the machine moves them less than wall seconds; wall seconds are printed too.

Usage: python benchmarks/profile_import.py FORMAT PATH... [--repeat 3]
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

#: Runs in the child process: wraps each stage's function where ``_import`` finds it
#: (its imports are inside the function, so patching the modules' attributes is seen).
CHILD = r"""
import sys, time, json
T0 = (time.process_time(), time.perf_counter())
import audit_lib.cli as cli
T1 = (time.process_time(), time.perf_counter())
out = {"start-up": [T1[0], T1[1] - T0[1]]}
stack = []

def clock():
    return time.process_time(), time.perf_counter()

def wrap(mod, name, stage):
    fn = getattr(mod, name)
    def inner(*a, **k):
        if stack:
            return fn(*a, **k)
        stack.append(stage)
        c0, w0 = clock()
        try:
            return fn(*a, **k)
        finally:
            c1, w1 = clock()
            acc = out.setdefault(stage, [0.0, 0.0])
            acc[0] += c1 - c0
            acc[1] += w1 - w0
            stack.pop()
    setattr(mod, name, inner)

c0, w0 = clock()
import pandas  # noqa: F401  (the first thing _import needs)
import audit_lib.load as load
import audit_lib.sources as S
import audit_lib.sources.ssda903 as s903
import audit_lib.sources.annex_a as aa
import audit_lib.sources.cin_census as cin
c1, w1 = clock()
out["imports"] = [c1 - c0, w1 - w0]
wrap(s903, "read_903", "read")
wrap(s903, "to_canonical", "map")
wrap(s903, "reference", "map")
wrap(aa, "read_annex_a", "read+map")
wrap(aa, "reference", "read+map")
wrap(cin, "read_cin", "read+map")
wrap(cin, "reference", "read+map")
wrap(S, "merge_into", "merge")
wrap(S, "write_extract", "extract")
wrap(S, "finalise", "extract")
wrap(load, "load_tables", "validate")
c0, w0 = clock()
rc = cli.main(sys.argv[1:])
c1, w1 = clock()
total = [c1 - c0, w1 - w0]
done = {k: v for k, v in out.items() if k not in ("start-up", "imports")}
out["report"] = [total[0] - sum(v[0] for v in done.values()),
                 total[1] - sum(v[1] for v in done.values())]
out["total"] = [time.process_time(), 0.0]
sys.stdout.flush()
print("\n@@" + json.dumps({"rc": rc, "stages": out}), file=sys.__stdout__)
"""

ORDER = ["start-up", "imports", "read", "map", "read+map", "merge", "extract", "validate"]


def profile(fmt: str, paths: list[str]) -> dict:
    """One fresh-process run: stage -> (CPU s, wall s)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", CHILD, "import", fmt, *paths, "--out", str(Path(tmp) / "o")]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("@@")), None)
    if line is None:
        sys.exit(f"profile failed: {done.stderr[-2000:]}")
    res = json.loads(line[2:])
    if res["rc"] not in (0, 1):
        sys.exit(f"audit import exited {res['rc']}: {done.stderr[-2000:]}")
    return res["stages"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=["ssda903", "annex_a", "cin_census"])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [profile(args.format, args.paths) for _ in range(args.repeat)]
    stages = [s for s in ORDER if s in runs[0]] + ["report"]
    print(f"audit import {args.format}: median of {args.repeat} fresh processes")
    print(f"{'stage':<10} {'CPU s':>7} {'wall s':>7}")
    for s in stages:
        cpu = statistics.median(r[s][0] for r in runs)
        wall = statistics.median(r[s][1] for r in runs)
        print(f"{s:<10} {cpu:7.3f} {wall:7.3f}")
    cpu = statistics.median(r["total"][0] for r in runs)
    print(f"{'total':<10} {cpu:7.3f}   (CPU s of the whole process, start-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
