"""Time and size the synthetic generator and the loader at several scales.

Each scale runs in a fresh Python process so its peak memory (max RSS) is its own.
Usage: python benchmarks/bench_synthetic.py [--sizes 86000 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
from audit_lib.synthetic import SynthConfig, generate, write_borough
from audit_lib.load import load_tables
n = int(sys.argv[1])
t0 = time.perf_counter()
b = generate(SynthConfig(children=n))
t1 = time.perf_counter()
rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = Path(sys.argv[2])
paths = write_borough(b, out)
t2 = time.perf_counter()
tables, report = load_tables(out)
t3 = time.perf_counter()
print(json.dumps({
    "children": n,
    "rows": sum(len(f) for f in b.tables.values()),
    "mb_on_disk": round(sum(p.stat().st_size for p in paths) / 1e6, 1),
    "generate_s": round(t1 - t0, 2),
    "write_s": round(t2 - t1, 2),
    "load_validate_s": round(t3 - t2, 2),
    "peak_mb_generate": round(rss_gen),
    "peak_mb_total": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "errors": int(len(report.errors)),
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[86_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), tmp], capture_output=True, text=True
            )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cols = list(rows[0])
    width = {c: max(len(c), *(len(f"{r[c]:,}") for r in rows)) for c in cols}
    print("  ".join(c.rjust(width[c]) for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]:,}".rjust(width[c]) for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
