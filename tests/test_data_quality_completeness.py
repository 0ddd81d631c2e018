"""Completeness is compared on records old enough to be complete: no false alarm for
work still in progress."""

from __future__ import annotations

import pandas as pd

from audit_lib.measures.data_quality import completeness_change, findings
from audit_lib.model import TABLES


def _assessments(month: str, n: int, authorised: float, child_seen: float) -> pd.DataFrame:
    spec = TABLES["assessments"]
    start = pd.Timestamp(f"{month}-10")
    f = pd.DataFrame({c.name: pd.Series([pd.NA] * n, dtype="object") for c in spec.columns})
    f[spec.event_dates[0]] = start
    k = int(round(authorised * n))
    f["authorised_date"] = [start + pd.Timedelta(days=30)] * k + [pd.NaT] * (n - k)
    s = int(round(child_seen * n))
    f["child_seen"] = [True] * s + [pd.NA] * (n - s)
    return f


def test_in_progress_work_is_not_a_fall_but_a_real_gap_is():
    # October's assessments are mostly still open (authorised 4%), August's are done
    frames = [
        _assessments("2026-06", 100, authorised=0.95, child_seen=0.98),
        _assessments("2026-07", 100, authorised=0.93, child_seen=0.80),
        _assessments("2026-08", 100, authorised=0.92, child_seen=0.98),
        _assessments("2026-09", 100, authorised=0.60, child_seen=0.98),
        _assessments("2026-10", 100, authorised=0.04, child_seen=0.98),
    ]
    tables = {"assessments": pd.concat(frames, ignore_index=True)}
    falls = completeness_change(tables, "2026-10")
    # October vs September would flag authorised_date (4% against 60%): it is not compared
    assert "authorised_date" not in set(falls["field"])
    # July (3 months back) against June: child_seen fell from 98% to 80%
    row = falls[falls["field"] == "child_seen"].iloc[0]
    assert row["compared_month"] == "July 2026" and row["earlier_month"] == "June 2026"
    assert abs(row["change"] - (-0.18)) < 1e-9
    # a month later, July is the earlier month and child_seen has recovered: no fall
    falls = completeness_change(tables, "2026-11")
    assert falls.empty


def test_findings_count_fields_with_a_plural_helper():
    counts = pd.DataFrame(
        {"table": ["children"], "status": ["ok"], "rows_read": [10], "rows_rejected": [0]}
    )
    empty = pd.DataFrame(columns=["table", "reason", "rows"])
    dq = pd.DataFrame(columns=["rows"])
    eth = pd.DataFrame(columns=["stage", "children"])
    one = pd.DataFrame({"field": ["child_seen"]})
    lines = findings(counts, empty, dq, dq, eth, one, "2026-10")
    assert "1 field was filled in less often" in lines[-1]
    two = pd.DataFrame({"field": ["a", "b"]})
    lines = findings(counts, empty, dq, dq, eth, two, "2026-10")
    assert "2 fields were filled in less often" in lines[-1] and "(s)" not in lines[-1]
