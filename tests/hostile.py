"""A small hostile authority for end-to-end disclosure tests: a sample of the synthetic
borough's children with team, worker and auditor names that carry markup, Markdown,
mathtext and spreadsheet formulas."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from audit_lib.model import TABLES
from audit_lib.tablefile import read_table_text

HOSTILE_TEAMS = [
    "<h1>x</h1>",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3",
    "[x](javascript:alert(1))",
    "Team <img src=x onerror=alert(1)>",
    "$\\alpha$ **team**",
    "\tTabbed",
]


def hostile_copy(source: Path, dest: Path, children: int = 300, seed: int = 13) -> Path:
    """Copy ``source`` to ``dest`` keeping ``children`` children (a third in care, a
    third audited, the rest referred) and giving teams, workers and auditors hostile
    names."""
    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    read = {n: f for n in TABLES if (f := read_table_text(source, n)) is not None}
    pick: set[str] = set()
    for k, table in enumerate(("cla_episodes", "case_audits", "referrals")):
        pool = sorted(set(read[table]["child_id"]) - pick)
        want = min(len(pool), (children - len(pick)) // (3 - k))
        pick |= set(rng.choice(pool, size=want, replace=False).tolist())
    teams = sorted(set().union(*(set(f["team"]) for f in read.values() if "team" in f)) - {""})
    team_map = {
        t: HOSTILE_TEAMS[i % len(HOSTILE_TEAMS)] + (f" {i}" if i >= len(HOSTILE_TEAMS) else "")
        for i, t in enumerate(teams)
    }
    plans = set(read["cp_plans"].loc[read["cp_plans"]["child_id"].isin(pick), "cp_plan_id"])
    for name, f in read.items():
        if "child_id" in f:
            f = f[f["child_id"].isin(pick)]
        elif name == "cp_reviews":
            f = f[f["cp_plan_id"].isin(plans)]
        f = f.copy()
        if "team" in f:
            f["team"] = f["team"].map(lambda t: team_map.get(t, t))
        if "worker_id" in f:
            f["worker_id"] = f["worker_id"].map(lambda w: f'=HYPERLINK("{w}")' if w else w)
        if "auditor_id" in f:
            f["auditor_id"] = f["auditor_id"].map(lambda a: f"<b>{a}</b>" if a else a)
        f.to_csv(dest / f"{name}.csv", index=False)
    for extra in ("extract.json",):
        if (source / extra).exists():
            shutil.copy(source / extra, dest / extra)
    return dest
