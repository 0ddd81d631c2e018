"""Reconciliation: the synthetic borough exported as a CIN census return, imported,
aggregated by the DfE definitions into the published layout, and checked against the
audit's own figure for the same financial year."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_lib import comparators as C
from audit_lib.cli import main
from audit_lib.measures import timeliness as T
from audit_lib.reconcile import dfe_definition_figures, published_rows, reconcile
from audit_lib.sources.export import to_cin_census

YEAR = "2025"  # 1 April 2024 to 31 March 2025


@pytest.fixture(scope="module")
def imported(small_tables, tmp_path_factory):
    t, _ = small_tables
    tmp = tmp_path_factory.mktemp("cin")
    to_cin_census(t, tmp / "cin.xml", year=2025)
    out = tmp / "canonical"
    # the whole history in one return, so nothing is later than its extract date
    args = ["import", "cin_census", str(tmp / "cin.xml"), "--out", str(out)]
    assert main([*args, "--extract-date", "2026-11-01"]) == 0
    return out, tmp


def _cli(data, folder) -> int:
    return main(
        [
            "comparators",
            "reconcile",
            "--data",
            str(data),
            "--dir",
            str(folder),
            "--la-code",
            "E09000025",
        ]
    )


def _write_published(rows: dict[str, pd.DataFrame], tmp) -> None:
    for name, row in rows.items():
        row.to_csv(tmp / f"{name.lower()}_la.csv", index=False)


def test_published_layout_row_matches_audit_figure(small_tables, imported):
    t, _ = small_tables
    out, tmp = imported
    from audit_lib.load import load_tables

    back, _ = load_tables(out)
    rows = published_rows(back, YEAR, la_code="E09000025", la_name="Synthetic", old_la_code="316")
    _write_published(rows, tmp)
    values = pd.concat(
        [C.indicator_values(C.read_dfe(tmp / f"{n.lower()}_la.csv")) for n in rows]
    ).set_index("indicator")
    # the audit's own figure from the original tables, not from the import
    items = T.all_items(t, pd.Timestamp("2025-03-31"))
    own = dfe_definition_figures(items, YEAR).set_index("measure")
    for measure in ("assessment_45wd", "icpc_15wd"):
        row = values.loc[f"timeliness.{measure}"]
        assert row["denominator"] == own.loc[measure, "denominator"] > 100
        assert row["numerator"] == own.loc[measure, "numerator"]
        assert row["value"] == pytest.approx(own.loc[measure, "value"])
        assert row["year"] == "2024-25"


def test_reconcile_reports_each_difference(imported, tmp_path):
    out, tmp = imported
    from audit_lib.load import load_tables

    back, _ = load_tables(out)
    rows = published_rows(back, YEAR, la_code="E09000025", old_la_code="316")
    c2 = rows["C2"].copy()
    c2.loc[0, "46-50_days"] += 3  # a published figure that disagrees
    c2["Same_day"] = c2["Same_day"].astype(object)
    c2.loc[0, "Same_day"] = "c"  # and one suppressed
    c2.to_csv(tmp_path / "c2.csv", index=False)
    rows["C4"].to_csv(tmp_path / "c4.csv", index=False)
    rec = reconcile(out, tmp_path, "316")
    c2r = rec[rec["table"] == "C2"].set_index("column")
    assert c2r.loc["46-50_days", "status"] == "differs"
    assert c2r.loc["46-50_days", "difference"] == -3
    assert c2r.loc["Same_day", "status"] == "not published (c)"
    assert (c2r.drop(index=["46-50_days", "Same_day"])["status"] == "matches").all()
    assert (rec[rec["table"] == "C4"]["status"] == "matches").all()
    assert _cli(out, tmp_path) == 1


def test_reconcile_without_a_row_is_one_line(imported, tmp_path, capsys):
    out, _ = imported
    assert _cli(out, tmp_path) == 2
    assert "no DfE C2 or C4 row" in capsys.readouterr().err
