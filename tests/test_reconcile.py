"""Reconciliation: the synthetic borough exported as a CIN census return, imported,
aggregated by the DfE definitions into the published layout, and checked against the
audit's own figure for the same financial year."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_lib import comparators as C
from audit_lib import reconcile as R
from audit_lib.cli import main
from audit_lib.measures import timeliness as T
from audit_lib.reconcile import dfe_definition_figures, published_rows, reconcile
from audit_lib.sources.export import to_cin_census

TS = pd.Timestamp
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


def test_a_year_beyond_the_data_is_not_recomputed(imported, tmp_path):
    # the import's extract date is 1 November 2026: the year to 31 March 2027 is not over,
    # so its published counts are not set against the zeros of months the data lack
    out, _ = imported
    from audit_lib.load import load_tables

    back, _ = load_tables(out)
    rows = published_rows(back, YEAR, la_code="E09000025", old_la_code="316")
    for name, row in rows.items():
        row.assign(time_period="2027").to_csv(tmp_path / f"{name.lower()}.csv", index=False)
    rec = reconcile(out, tmp_path, "E09000025")
    assert not (rec["status"] == "differs").any()
    assert rec["status"].str.startswith("data end 01 November 2026, before the year").all()
    assert _cli(out, tmp_path) == 0


def test_reconcile_without_a_row_is_one_line(imported, tmp_path, capsys):
    out, _ = imported
    assert _cli(out, tmp_path) == 2
    assert "no DfE C2 or C4 row" in capsys.readouterr().err
    # a looked-after table with the authority's row is for the pages, not a reconciliation
    (tmp_path / "stability.csv").write_text(
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,la_name,new_la_code,cla_group,placement_stability,number,"
        "percentage\n2025,Reporting year,Local authority,E92000001,England,E12000007,London,"
        "316,Newham,E09000025,CLA on 31 March,Total children,300,100\n"
    )
    assert _cli(out, tmp_path) == 2
    assert "no DfE C2 or C4 row" in capsys.readouterr().err


def _episodes(rows):
    e = pd.DataFrame(
        rows,
        columns=[
            "child_id",
            "episode_start",
            "episode_end",
            "reason_new_episode",
            "placement_type",
            "legal_status",
        ],
    )
    for c in ("episode_start", "episode_end"):
        e[c] = pd.to_datetime(e[c])
    return e.assign(reason_ceased=None)


def test_looked_after_figures_on_31_march_by_hand():
    # year to 31 March 2025. c1: three placements touching the year (the first still open
    # on 1 April 2024), current one from September 2024, so not 2 years with one carer;
    # c2: one placement since 2020 (stable); c3: short breaks only (V3: left out);
    # c4: left care in January 2025 (not looked after on 31 March).
    eps = _episodes(
        [
            ("c1", "2021-06-01", "2024-05-01", "S", "U1", "C2"),
            ("c1", "2024-05-01", "2024-09-01", "P", "U3", "C2"),
            ("c1", "2024-09-01", None, "P", "U4", "C2"),
            ("c2", "2020-01-01", None, "S", "U1", "C2"),
            ("c3", "2024-01-01", None, "S", "U1", "V3"),
            ("c4", "2023-01-01", "2025-01-01", "S", "U1", "C2"),
        ]
    )
    kids = pd.DataFrame(
        {
            "child_id": ["c1", "c2", "c3", "c4"],
            "date_of_birth": pd.to_datetime(
                ["2012-01-01", "2015-01-01", "2014-01-01", "2010-01-01"]
            ),
        }
    )
    pop = pd.DataFrame({"year": [2024, 2025], "children": [40_000, 50_000]})
    # adopted: c5 aged exactly 3 on the order (1,096 days: 36.0 months); c6 after the year
    kids = pd.concat(
        [
            kids,
            pd.DataFrame(
                {"child_id": ["c5", "c6"], "date_of_birth": pd.to_datetime(["2021-10-01"] * 2)}
            ),
        ]
    )
    ad = pd.DataFrame(
        {
            "child_id": ["c5", "c6"],
            "adoption_order_date": pd.to_datetime(["2024-10-01", "2025-04-02"]),
        }
    )
    t = {"cla_episodes": eps, "children": kids, "population": pop, "adoptions": ad}
    got = R.looked_after_figures(t, "2025", TS("2021-04-01"), TS("2025-06-30"))
    got = got.set_index("measure")
    assert (got.loc["three_plus_placements", ["numerator", "denominator"]] == [1, 2]).all()
    assert (got.loc["long_term_stability", ["numerator", "denominator"]] == [1, 2]).all()
    # c1 and c2 over mid-2024's 40,000 children: 0.5 per 10,000
    assert got.loc["cla_rate_per_10000", "value"] == pytest.approx(0.5)
    assert got.loc["cla_rate_per_10000", "unit"] == "per 10,000"
    assert set(got["year"]) == {"2024-25"}
    age = got.loc["adoption_average_age_months"]
    assert age["numerator"] == 1 and age["value"] == pytest.approx(1096 / (365.25 / 12))
    # data from January 2023: 12 months of history before 31 March 2025, not 30
    part = R.looked_after_figures(t, "2025", TS("2023-01-01"), TS("2025-06-30"))
    assert set(part["measure"]) == {
        "three_plus_placements",
        "cla_rate_per_10000",
        "adoption_average_age_months",
    }
    # an extract before 31 March 2025 gives nothing for that year
    assert R.looked_after_figures(t, "2025", TS("2021-04-01"), TS("2025-03-30")).empty
