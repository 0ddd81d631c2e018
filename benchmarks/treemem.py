"""Run a command and measure the whole process tree it starts (the parent, the pool
workers, the kernels, the validating child): wall seconds, CPU seconds (user + system of
every process waited for), and memory summed over the processes alive at each moment.

``ru_maxrss`` of the children is only the largest single process; `audit run` at scale is
three to six processes at once, so the figure that matters is the sum. It is sampled
(every ``every`` seconds) as RSS and as PSS (proportional set size: a page shared by
forked processes is counted once in all, not once in each), with the largest single
process beside it.

Usage: python benchmarks/treemem.py CMD ...   (prints one JSON line)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def measure(cmd: list[str], env: dict | None = None, cwd=None, every: float = 0.2) -> dict:
    """Run ``cmd``; return seconds, cpu_s, peak_sum_mb (RSS), peak_pss_mb, largest_mb, rc."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    root = psutil.Process(proc.pid)
    peak_rss = peak_pss = largest = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        rss = pss = 0
        for p in tree:
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            largest = max(largest, info.rss)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(every)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    mb = 2**20
    return {
        "s": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "peak_sum_mb": round(peak_rss / mb),
        "peak_pss_mb": round(peak_pss / mb),
        "largest_mb": round(largest / mb),
        "rc": proc.returncode,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1:])))
