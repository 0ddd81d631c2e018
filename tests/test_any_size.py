"""Every authority size, every period: seeded random subsets of the synthetic borough
(10 to 1,000 children known to services, every table kept consistent), random optional
tables dropped, periods at the first and last month of the data, each run through the
real runner. Every notebook must be ok or not available, never failed (issue 12).

Each sample's six notebooks run in one ``audit run``; small samples take seconds.
"""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit_lib.model import TABLES
from audit_lib.run import run
from audit_lib.tablefile import read_table_text

from .conftest import DEFAULT_DATA

#: Tables a sample may lose (children is required: without it every audit is skipped).
DROPPABLE = tuple(t for t in TABLES if t != "children")


@cache
def _borough() -> dict[str, pd.DataFrame]:
    """The committed borough's tables as text (CSV or Parquet), read once."""
    read = {name: read_table_text(DEFAULT_DATA, name) for name in TABLES}
    return {name: f for name, f in read.items() if f is not None}


def sample_borough(out: Path, children: int, seed: int, drop: int = 0) -> dict:
    """Write a consistent random subset of the borough to ``out``.

    ``children`` children are drawn from those with a referral or a care episode; every
    child-level table keeps only their rows (CP reviews follow their plans); the
    population is scaled to the sample's share of the borough, so small groups have
    population 0. ``drop`` optional tables, drawn at random, are left out.
    Returns what was done: children, dropped tables, first and last event month.
    """
    rng = np.random.default_rng(seed)
    b = _borough()
    known = pd.Index(b["referrals"]["child_id"]).union(b["cla_episodes"]["child_id"])
    ids = set(rng.choice(known.to_numpy(), size=min(children, len(known)), replace=False))
    dropped = {str(t) for t in rng.choice(DROPPABLE, size=drop, replace=False)} if drop else set()
    out.mkdir(parents=True, exist_ok=True)
    plans = set(b["cp_plans"].loc[b["cp_plans"]["child_id"].isin(ids), "cp_plan_id"])
    for name, frame in b.items():
        if name in dropped:
            continue
        if "child_id" in frame:
            frame = frame[frame["child_id"].isin(ids)]
        elif name == "cp_reviews":
            frame = frame[frame["cp_plan_id"].isin(plans)]
        elif name == "population":
            share = len(ids) / len(b["children"])
            scaled = (frame["children"].astype(float) * share).round().astype(int)
            frame = frame.assign(children=scaled.astype(str))
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    shutil.copy(DEFAULT_DATA / "extract.json", out / "extract.json")
    refs = pd.to_datetime(b["referrals"].loc[b["referrals"]["child_id"].isin(ids), "referral_date"])
    meta = json.loads((DEFAULT_DATA / "extract.json").read_text())
    extract = pd.Timestamp(meta["extract_date"])
    start = pd.Timestamp(meta["data_start"]).to_period("M")  # records before it are history
    first = str(max(refs.min().to_period("M"), start)) if len(refs) else str(start)
    return {
        "children": len(ids),
        "dropped": sorted(dropped),
        "first": first,
        "last": str(extract.to_period("M") - 1),
    }


def _check(result, info: dict, period: str) -> None:
    bad = [f"{n.name}: {n.error} (cell {n.cell})" for n in result.notebooks if n.status == "failed"]
    assert not bad, f"{info} at {period}: " + "; ".join(bad)
    assert {n.status for n in result.notebooks} <= {"ok", "skipped"}
    assert result.index.exists()
    # the pages of a small authority are the ones most likely to give away a small count
    assert not result.disclosure, f"{info} at {period}: " + "; ".join(map(str, result.disclosure))
    for n in result.notebooks:
        page = (result.folder / f"{n.name}.html").read_text()
        assert "Traceback" not in page and "Warning:" not in page, n.name


# (children, seed, tables dropped, period): sizes from 10 to 1,000, both ends of the data
CASES = [
    (10, 1, 0, "first"),
    (30, 2, 2, "last"),
    (100, 3, 1, "first"),
    (300, 4, 3, "last"),
    (1000, 5, 0, "last"),
]


@pytest.mark.parametrize(("children", "seed", "drop", "when"), CASES)
def test_every_notebook_renders_for_a_random_authority(
    tmp_path, warm_pool, children, seed, drop, when
):
    info = sample_borough(tmp_path / "data", children, seed, drop)
    period = info[when]
    # one warm kernel for the six notebooks, shared across the samples: start-up costs
    # more CPU than a small sample's pages; xdist keeps both cores busy, and the
    # session's default run (conftest) exercises a 2-worker pool of its own
    result = run(period=period, data=tmp_path / "data", out=tmp_path / "reports", pool=warm_pool)
    _check(result, info, period)


def test_sampler_keeps_every_table_consistent(tmp_path):
    from audit_lib.load import load_tables

    info = sample_borough(tmp_path, 50, seed=11)
    tables, dq = load_tables(tmp_path)
    assert info["children"] == 50 and len(tables["children"]) == 50
    assert dq.findings.query("check == 'orphan key'").empty
    assert set(tables["cp_reviews"]["cp_plan_id"]) <= set(tables["cp_plans"]["cp_plan_id"])
