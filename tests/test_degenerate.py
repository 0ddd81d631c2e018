"""Degenerate inputs give well-formed results and sentences, never exceptions: no items,
one child, no teams, a period at the very start of the data (issue 12)."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_lib import indicators
from audit_lib.load import load_tables
from audit_lib.measures import data_quality as DQ
from audit_lib.measures import disproportionality as D
from audit_lib.measures import timeliness as T

from .test_any_size import sample_borough


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    info = sample_borough(folder, 10, seed=1)
    tables, dq = load_tables(folder)
    return tables, dq, info


@pytest.mark.parametrize("when", ["first", "last"])
def test_timeliness_sentences_for_a_tiny_authority(tiny, when):
    tables, _, info = tiny
    period = info[when]
    _, as_of = T.period_bounds(period)
    missing = T.unavailable(tables, as_of)
    items = T.all_items(tables, as_of)
    summary = T.summarise(items, period)
    by_month, teams = T.monthly(items, period), T.by_team(items, period)
    lines = T.findings(summary, by_month, teams, period, {}, 5, missing)
    assert lines and all(isinstance(x, str) and "nan" not in x for x in lines)
    assert len(T.summary_table(summary, missing)) == len(T.MEASURES)
    for m in ("assessment_45wd", "icpc_15wd"):
        assert T.funnel_title(teams[teams["measure"] == m], "x").startswith("x:")
        assert T.spc_title(by_month[by_month["measure"] == m], "x", period).startswith("x:")
    assert T.distribution_title(T.completed_in_window(items, period))
    entries = T.metric_entries(summary, by_month, missing)
    assert all(e.get("value") is None or 0 <= e["value"] <= 1 for e in entries.values())


def test_timeliness_with_no_items_at_all():
    from audit_lib.model import TABLES

    items = T.all_items({k: t.empty() for k, t in TABLES.items()}, pd.Timestamp("2026-10-31"))
    assert items.empty and list(items.columns) == T.ITEM_COLUMNS
    summary = T.summarise(items, "2026-10")
    assert summary.empty
    lines = T.findings(summary, T.monthly(items, "2026-10"), T.by_team(items, "2026-10"), "2026-10")
    assert lines[0] == "No assessments fell in the 12 months to October 2026."
    assert lines[-1].startswith("At the end of October 2026, 0 items were overdue")


@pytest.mark.parametrize("when", ["first", "last"])
def test_disproportionality_for_a_tiny_authority(tiny, when):
    tables, _, info = tiny
    period = info[when]
    out = D.table(tables, period)
    comb = D.combined(out)
    lines = D.findings(comb, "white_british", "bh", 5, "cp_plan")
    assert lines and all("nan" not in x for x in lines)
    D.metric_entries(comb)


def test_data_quality_and_summary_for_a_tiny_authority(tiny):
    tables, dq, info = tiny
    period = info["first"]
    counts, reasons = DQ.table_counts(dq), DQ.rejection_reasons(dq)
    eth = DQ.ethnicity_not_known(tables, period)
    lines = DQ.findings(
        counts,
        reasons,
        DQ.unknown_codes(dq),
        DQ.date_anomalies(dq),
        eth,
        DQ.completeness_change(tables, period),
        period,
        availability=DQ.measure_availability(tables, period),
    )
    assert lines and all("nan" not in x for x in lines)
    assert DQ.metric_entries(counts, eth)["data_quality.rows_read"]["value"] > 0
    assert indicators.findings(indicators.indicator_table({}), period) == [
        "No audit recorded any headline figure for this period."
    ]
