"""DfE open-data reader and comparators, on files built by hand in the published layout."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_lib import comparators as C

HEAD = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,new_la_code,la_name,category,Assessments_completed,Same_day,"
    "1-10_days,11-20_days,21-30_days,31-40_days,41-45_days,46-50_days,51-60_days,61+_days,"
    "25th_Percentile_days,Median_days,75th_Percentile_days\n"
)
# England = North East + London (only two regions here); LAs hand-picked
ROWS = [
    "2025,Reporting year,National,E92000001,England,,,,,,Duration,1000,10,100,200,200,200,90,100,50,50,17,33,43",
    "2025,Reporting year,Regional,E92000001,England,E12000001,North East,,,,Duration,400,0,40,80,80,80,40,40,20,20,17,33,43",
    "2025,Reporting year,Regional,E92000001,England,E12000007,London,,,,Duration,600,10,60,120,120,120,50,60,30,30,17,33,43",
    "2025,Reporting year,Local authority,E92000001,England,E12000007,London,316,E09000025,Newham,Duration,200,0,20,40,40,40,20,20,10,10,17,33,43",
    "2025,Reporting year,Local authority,E92000001,England,E12000007,London,206,E09000007,Camden,Duration,100,0,10,20,20,20,10,10,5,5,17,33,43",
    "2025,Reporting year,Local authority,E92000001,England,E12000007,London,202,E09000019,Islington,Duration,c,c,10,20,20,20,10,10,c,5,17,33,43",
    "2025,Reporting year,Local authority,E92000001,England,E12000007,London,303,E09000009,Ealing,Duration,100,0,0,10,20,20,10,20,10,10,17,33,43",
    "2025,Reporting year,Local authority,E92000001,England,E12000007,London,209,E09000011,Greenwich,Duration,x,x,x,x,x,x,x,x,x,x,x,x,x",
    "2024,Reporting year,National,E92000001,England,,,,,,Duration,900,0,90,180,180,180,90,90,45,45,17,33,43",
    "2025,Reporting year,Ward,E92000001,England,,,,,,Duration,1,1,0,0,0,0,0,0,0,0,1,1,1",
]


def _write(tmp_path, name="c2.csv", head=HEAD, rows=ROWS):
    p = tmp_path / name
    p.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_reader_records_table_years_levels_and_rejections(tmp_path):
    f = C.read_dfe(_write(tmp_path))
    assert f.table == "C2"
    assert f.years == ["2024", "2025"]
    assert f.levels == ["National", "Regional", "Local authority"]
    assert f.rows_read == len(f.frame) + len(f.rejected) == 10
    assert f.rejected == [{"row": 11, "reason": "geographic level 'Ward'"}]


def test_suppression_is_not_published_never_zero(tmp_path):
    v = C.indicator_values(C.read_dfe(_write(tmp_path)))
    isl = v[v["name"] == "Islington"].iloc[0]
    assert pd.isna(isl["value"]) and isl["status"] == "not published (c)"
    gre = v[v["name"] == "Greenwich"].iloc[0]
    assert pd.isna(gre["value"]) and gre["status"] == "not published (x)"


def test_england_comparator_worked_by_hand(tmp_path):
    v = C.indicator_values(C.read_dfe(_write(tmp_path)))
    eng = v[(v["geographic_level"] == "National") & (v["time_period"] == "2025")].iloc[0]
    # within 45 working days: 10+100+200+200+200+90 = 800 of 800+100+50+50 = 1000
    assert eng["numerator"] == 800 and eng["denominator"] == 1000
    assert eng["value"] == pytest.approx(0.8)
    assert eng["year"] == "2024-25" and eng["code"] == "E92000001"


def test_region_la_and_neighbours_by_new_or_old_code(tmp_path):
    v = C.indicator_values(C.read_dfe(_write(tmp_path)))
    t = C.comparator_table(v, la_code="E09000025", neighbours=["206", "E09000019", "303", "209"])
    row = t.set_index("indicator").loc["timeliness.assessment_45wd"]
    assert row["england"] == pytest.approx(0.8) and row["england_year"] == "2024-25"
    # London: 10+60+120+120+120+50 = 480 of 600
    assert row["region"] == pytest.approx(0.8) and row["region_name"] == "London"
    assert row["la"] == pytest.approx(160 / 200)
    # Camden 80/100, Ealing 60/100; Islington (c) and Greenwich (x) not published
    assert row["neighbours_mean"] == pytest.approx(0.7)
    assert (row["neighbours_min"], row["neighbours_max"]) == (pytest.approx(0.6), 0.8)
    assert row["neighbours_n"] == 2 and row["neighbours_asked"] == 4


def test_renamed_columns_between_years_still_read(tmp_path):
    head = HEAD.replace("1-10_days", "1 to 10 days").replace("Same_day", "Same day")
    head = head.replace("new_la_code", "New LA code")
    f = C.read_dfe(_write(tmp_path, head=head))
    assert f.table == "C2"
    assert f.frame.loc[3, "new_la_code"] == "E09000025"


def test_unrecognised_file_is_one_line(tmp_path):
    p = tmp_path / "other.csv"
    p.write_text("time_period,geographic_level,apples\n2025,National,3\n")
    with pytest.raises(C.ComparatorError, match="match no table") as e:
        C.read_dfe(p)
    assert "\n" not in str(e.value)
    q = tmp_path / "x.csv"
    q.write_text("a,b\n1,2\n")
    with pytest.raises(C.ComparatorError, match="not a DfE open-data file"):
        C.read_dfe(q)


def test_c4_icpc_within_15_days(tmp_path):
    head = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,new_la_code,la_name,category,Section47,Section47_child,ICPC,"
        "ICPC_child,Duration_0-10_days,Duration_11-15_days,Duration_16-20_days,"
        "Duration_21+_days,Duration_25th_Percentile,Duration_median,Duration_75th_Percentile\n"
    )
    rows = [
        "2025,Reporting year,National,E92000001,England,,,,,,S47,500,400,100,99,10,70,10,10,13,14,15"
    ]
    v = C.indicator_values(C.read_dfe(_write(tmp_path, "c4.csv", head, rows)))
    assert v["indicator"].iloc[0] == "timeliness.icpc_15wd"
    assert v["value"].iloc[0] == pytest.approx(0.8)  # (10 + 70) / 100


def test_committed_england_figures_match_their_counts():
    eng = C.england_defaults()
    assert set(eng["indicator"]) >= {"timeliness.assessment_45wd", "timeliness.icpc_15wd"}
    shares = eng[eng["unit"] == "share"]
    assert (shares["value"] - shares["numerator"] / shares["denominator"]).abs().max() < 5e-5
    assert eng["source"].str.len().min() > 40 and eng["table"].notna().all()
    a = eng.set_index("indicator").loc["timeliness.assessment_45wd"]
    assert round(a["value"] * 100, 1) == 85.7 and a["year"] == "2024-25"


def test_folder_rows_override_committed_england_and_empty_folder(tmp_path):
    assert set(C.load_folder(tmp_path / "none")["table"]) >= {"C2", "C4"}
    assert len(C.load_folder(tmp_path / "none")) == len(C.england_defaults())
    folder = tmp_path / "comparators"
    added, problems = C.add_files([_write(tmp_path), tmp_path / "missing.csv"], folder)
    assert [a["table"] for a in added] == ["C2"] and problems == [
        f"{tmp_path / 'missing.csv'}: no such file"
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest[0]["years"] == ["2024", "2025"] and manifest[0]["rows_rejected"] == 1
    vals = C.load_folder(folder)
    eng25 = vals[
        (vals["indicator"] == "timeliness.assessment_45wd")
        & (vals["geographic_level"] == "National")
        & (vals["time_period"] == "2025")
    ]
    assert len(eng25) == 1 and eng25["value"].iloc[0] == pytest.approx(0.8)


def test_year_window_ends_31_march():
    assert C.year_window(2025) == (pd.Timestamp("2024-04-01"), pd.Timestamp("2025-03-31"))
    assert C.year_window("202425") == (pd.Timestamp("2024-04-01"), pd.Timestamp("2025-03-31"))
    with pytest.raises(C.ComparatorError):
        C.year_window("last year")


def test_committed_figures_alone_give_england_and_not_set():
    from audit_lib import indicators

    t = C.comparator_table(C.load_folder(None), la_code=None, neighbours=[])
    row = t.set_index("indicator").loc["timeliness.icpc_15wd"]
    assert round(row["england"], 3) == 0.814 and row["england_year"] == "2024-25"
    assert "C4" in row["england_source"] and pd.isna(row["region"])
    table = pd.DataFrame({"key": ["timeliness.icpc_15wd", "timeliness.cp_review"]})
    own = pd.DataFrame(
        {"measure": ["icpc_15wd"], "numerator": [80], "denominator": [100], "year": ["2024-25"]}
    )
    out = indicators.comparator_columns(table, t, own)
    assert out["England"].tolist() == ["81.4% (2024-25)", "not published"]
    assert out["Region"].tolist() == ["not set", "not published"]
    assert out["Neighbours (mean, range)"].tolist() == ["not set", "not published"]
    assert out["Borough, same year (DfE definition)"].tolist() == [
        "80.0% (2024-25)",
        "no comparator",
    ]
    small = own.assign(numerator=97)  # 3 late: the share would give a count of 1-5 back
    assert (
        indicators.comparator_columns(table, t, small)["Borough, same year (DfE definition)"].iloc[
            0
        ]
        == "c (2024-25)"
    )


def test_reference_line_label_and_national():
    eng = C.england_defaults()
    value, label = C.reference_of(eng, "timeliness.assessment_45wd")
    assert round(value, 3) == 0.857 and label == "England 2024-25"
    assert C.reference_of(eng, "timeliness.cp_review") is None
    assert C.national(eng)["icpc_15wd"][1] == "England 2024-25"


def test_spc_chart_draws_england_as_labelled_reference():
    import numpy as np

    from audit_lib import charts

    series = pd.DataFrame(
        {"month": [f"2025-{m:02d}" for m in range(1, 13)], "value": np.linspace(0.7, 0.8, 12)}
    )
    fig = charts.spc_chart(series, "t", reference=(0.857, "England 2024-25"))
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "England 2024-25" in labels
    line = ax.get_lines()[labels.index("England 2024-25")]
    assert line.get_ydata()[0] == pytest.approx(0.857)
    assert "England 2024-25" not in [
        x.get_label() for x in charts.spc_chart(series, "t").axes[0].get_lines()
    ]


def test_summary_columns_with_region_neighbours_and_own_published_row(tmp_path):
    from audit_lib import indicators

    v = C.indicator_values(C.read_dfe(_write(tmp_path)))
    t = C.comparator_table(v, la_code="316", neighbours=["E09000007", 303, "202"])
    table = pd.DataFrame({"key": ["timeliness.assessment_45wd"]})
    own = pd.DataFrame(
        {
            "measure": ["assessment_45wd"],
            "numerator": [70],
            "denominator": [100],
            "year": ["2024-25"],
        }
    )
    out = indicators.comparator_columns(table, t, own).iloc[0]
    assert out["England"] == "80.0% (2024-25)" and out["Region"] == "80.0% (2024-25)"
    # authorities, not children, but "2 of 3" would read as a small count on the page
    assert out["Neighbours (mean, range)"] == "70.0% (60.0% to 80.0%; published for 2/3; 2024-25)"
    assert out["Borough, same year (DfE definition)"] == (
        "70.0% (2024-25); DfE published 80.0% (2024-25)"
    )


def test_cli_add_reports_each_file_and_unrecognised_in_one_line(tmp_path, capsys):
    from audit_lib.cli import main

    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    assert main(["comparators", "add", str(_write(tmp_path)), "--dir", str(tmp_path / "c")]) == 0
    assert "table C2" in capsys.readouterr().out
    assert main(["comparators", "add", str(junk), "--dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.csv: not a DfE open-data file" in err
    assert junk.read_text() == "a,b\n1,2\n"  # the user's file is never written
    # some added, some not: 1, so a partial add is told from a usage error
    good = _write(tmp_path, name="c2_again.csv")
    assert main(["comparators", "add", str(good), str(junk), "--dir", str(tmp_path / "c")]) == 1


def test_part_year_is_never_put_beside_a_published_year():
    from audit_lib.reconcile import own_year_figures

    tables: dict = {}  # not reached: the guard answers first
    for start, extract in (
        (pd.Timestamp("2024-06-01"), pd.Timestamp("2026-01-01")),  # starts after 1 April
        (pd.Timestamp("2020-01-01"), pd.Timestamp("2025-02-28")),  # extract before 31 March
        (None, pd.Timestamp("2026-01-01")),
    ):
        assert own_year_figures(tables, "2025", start, extract).empty


# Looked-after tables: long layout (filter columns, one count column), as the data sets
# "Placement stability by local authority" (2024, number / percentage) and "CLA -
# placement stability - by local authority" (2025, children_count / children_percent).
LONG_AREA = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,la_name,new_la_code,cla_group,placement_stability,"
)
ST_HEAD = LONG_AREA + "number,percentage\n"
LT = "Children looked after continuously for at least 2.5 years on 31 March aged under 16 years"
SAME = "Living with the same carer for at least 2 years"
NEWHAM = "E12000007,London,316,Newham,E09000025"


def _stab_rows(area: str, total: str, same: str, cla: str, three: str) -> list[str]:
    return [
        f"{area},{LT},{SAME},{same},",
        f"{area},{LT},Total children,{total},100",
        f"{area},CLA on 31 March,Total children,{cla},100",
        f"{area},CLA on 31 March,With 3 or more placements during the year,{three},",
    ]


ENG = "2024,Reporting year,National,E92000001,England,,,,,"
LON = "2024,Reporting year,Regional,E92000001,England,E12000007,London,,,"


def _la(code: str) -> str:
    return f"2024,Reporting year,Local authority,E92000001,England,{code}"


ST_ROWS = [
    *_stab_rows(ENG, "29000", "19750", "83630", "8360"),
    *_stab_rows(LON, "3000", "1950", "9000", "900"),
    *_stab_rows(_la(NEWHAM), "100", "70", "300", "30"),
    *_stab_rows(_la("E12000007,London,206,Camden,E09000007"), "50", "25", "200", "40"),
    *_stab_rows(_la("E12000007,London,202,Islington,E09000019"), "40", "c", "150", "c"),
    *_stab_rows(_la("E12000007,London,303,Ealing,E09000009"), "80", "60", "250", "k"),
    *_stab_rows(_la("E12000007,London,209,Greenwich,E09000011"), "x", "x", "x", "x"),
    "2024,Reporting year,Ward,E92000001,England,,,,,,CLA on 31 March,Total children,5,100",
]


def test_placement_stability_read_and_worked_by_hand(tmp_path):
    f = C.read_dfe(_write(tmp_path, "stability.csv", ST_HEAD, ST_ROWS))
    assert f.table == "CLA_STABILITY" and f.years == ["2024"]
    assert f.rows_read == len(f.frame) + len(f.rejected) == 29
    assert f.manifest()["publication"].startswith("Stability measures")
    v = C.indicator_values(f)
    eng = v[(v["geographic_level"] == "National")].set_index("indicator")
    # England: 19,750 of 29,000 living with the same carer; 8,360 of 83,630 with 3+
    assert eng.loc["permanence.long_term_stability", "value"] == pytest.approx(19750 / 29000)
    assert eng.loc["permanence.long_term_stability", "denominator"] == 29000
    assert eng.loc["permanence.three_plus_placements", "value"] == pytest.approx(8360 / 83630)
    assert (v["unit"] == "share").all()
    # region, LA and neighbours for long-term stability, by hand:
    # London 1950/3000 = 0.65; Newham 70/100; Camden 25/50 = 0.5, Ealing 60/80 = 0.75,
    # Islington (c) and Greenwich (x) not published: mean 0.625 over 2 of 4
    t = C.comparator_table(v, la_code="316", neighbours=["E09000007", "202", "303", "209"])
    row = t.set_index("indicator").loc["permanence.long_term_stability"]
    assert row["england"] == pytest.approx(19750 / 29000) and row["england_year"] == "2023-24"
    assert row["region"] == pytest.approx(0.65) and row["region_name"] == "London"
    assert row["la"] == pytest.approx(0.7)
    assert row["neighbours_mean"] == pytest.approx(0.625)
    assert (row["neighbours_min"], row["neighbours_max"]) == (pytest.approx(0.5), 0.75)
    assert row["neighbours_n"] == 2 and row["neighbours_asked"] == 4


def test_looked_after_suppression_is_not_published_never_zero(tmp_path):
    v = C.indicator_values(C.read_dfe(_write(tmp_path, "stability.csv", ST_HEAD, ST_ROWS)))
    v = v.set_index(["name", "indicator"])
    isl = v.loc[("Islington", "permanence.long_term_stability")]
    assert pd.isna(isl["value"]) and isl["status"] == "not published (c)"
    eal = v.loc[("Ealing", "permanence.three_plus_placements")]  # k: rounds to 0, is not 0
    assert pd.isna(eal["value"]) and eal["status"] == "not published (k)"
    gre = v.loc[("Greenwich", "permanence.three_plus_placements")]
    assert pd.isna(gre["value"]) and gre["status"] == "not published (x)"


def test_2025_layout_children_count_reads_the_same(tmp_path):
    head = ST_HEAD.replace("number,percentage", "children_count,children_percent")
    rows = [r.replace("2024,", "2025,", 1) for r in ST_ROWS[:4]]
    v = C.indicator_values(C.read_dfe(_write(tmp_path, "cla_stability.csv", head, rows)))
    got = v.set_index("indicator")["value"]
    assert got["permanence.long_term_stability"] == pytest.approx(19750 / 29000)
    assert v["year"].iloc[0] == "2024-25"


def test_cla_rates_per_10000(tmp_path):
    head = LONG_AREA.replace("cla_group,placement_stability,", "") + (
        "population_type,population_estimate,children_count,rate_per_10000\n"
    )
    area = "2025,Reporting year,National,E92000001,England,,,,,"
    rows = [
        f"{area},Children ceasing to be looked after each year,12183016,34450,28",
        f"{area},Children looked after on 31 March each year,12183016,81770,67",
        f"2025,Reporting year,Local authority,E92000001,England,{NEWHAM},"
        "Children looked after on 31 March each year,80000,c,c",
    ]
    f = C.read_dfe(_write(tmp_path, "rates.csv", head, rows))
    assert f.table == "CLA_RATES"
    v = C.indicator_values(f)
    assert list(v["indicator"].unique()) == ["permanence.cla_rate_per_10000"]
    eng = v[v["geographic_level"] == "National"].iloc[0]
    assert eng["value"] == 67 and eng["unit"] == "per 10,000" and eng["numerator"] == 81770
    la = v[v["geographic_level"] == "Local authority"].iloc[0]
    assert pd.isna(la["value"]) and la["status"] == "not published (c)"
    assert C.fmt_value(eng["value"], eng["unit"]) == "67.0 per 10,000"
    assert C.fmt_value(0.6855) == "68.5%" and C.fmt_value(None) == "not published"


def test_unrecognised_long_file_is_one_line(tmp_path):
    p = tmp_path / "school.csv"
    p.write_text(LONG_AREA.replace("placement_stability", "school_stability") + "number\n")
    with pytest.raises(C.ComparatorError, match="match no table") as e:
        C.read_dfe(p)
    assert "\n" not in str(e.value) and "CLA_STABILITY" in str(e.value)


def test_committed_looked_after_figures_are_cited():
    eng = C.england_defaults().set_index(["indicator", "time_period"])
    lt = eng.loc[("permanence.long_term_stability", "2024")]
    assert (lt["numerator"], lt["denominator"]) == (19750, 29000)
    assert "Placement stability by local authority" in lt["source"]
    rate = eng.loc[("permanence.cla_rate_per_10000", "2025")]
    assert rate["unit"] == "per 10,000" and rate["value"] == 67
    # the published rate is the rounded count over the population estimate
    assert round(rate["numerator"] / rate["denominator"] * 10_000) == 67
    cla = eng[eng.index.get_level_values("indicator").str.startswith("permanence.")]
    assert len(cla) >= 5 and cla["source"].str.contains("explore-education-statistics").all()


def test_adoption_characteristics_years_months(tmp_path):
    # national layout of "CLA who were adopted or the subject of a SGO during the year -
    # characteristics": averages in the count column as years:months
    head = (
        "time_period,time_identifier,geographic_level,country_code,country_name,cla_group,"
        "characteristic,breakdown,children_count,children_percent\n"
    )
    area = "Reporting year,National,E92000001,England"
    rows = [
        f"2025,{area},Adopted,Age at order,1 to 4 years,2390,79",
        f"2025,{area},Adopted,Age at order,16 years and over,c,c",
        f"2025,{area},Adopted,Age at order,Average age (years:months),3:2,z",
        f"2024,{area},Adopted,Age at order,Average age (years:months),c,z",
        f"2025,{area},SGO,Age at order,Average age (years:months),4:11,z",
    ]
    f = C.read_dfe(_write(tmp_path, "adopted.csv", head, rows))
    assert f.table == "CLA_ADOPTED" and f.levels == ["National"]
    v = C.indicator_values(f).set_index("time_period")
    assert v.loc["2025", "value"] == 3 * 12 + 2 and v.loc["2025", "unit"] == "months"
    assert pd.isna(v.loc["2024", "value"]) and v.loc["2024", "status"] == "not published (c)"
    assert len(v) == 2  # the SGO row is not an adoption
    assert C.fmt_value(38, "months") == "3 years 2 months"
    eng = C.england_defaults().set_index(["indicator", "time_period"])
    assert eng.loc[("permanence.adoption_average_age_months", "2025"), "value"] == 38


def test_england_rates_by_ethnicity_beside_the_borough(tmp_path):
    folder = tmp_path / "comparators"
    folder.mkdir()
    assert C.england_ethnicity_rates(folder).empty  # the committed file holds none
    head = LONG_AREA.replace("cla_group,placement_stability,", "") + (
        "social_care_group,ethnicity,children_count,rate_per_10000\n"
    )
    area = "Reporting year,National,E92000001,England,,,,,"
    rows = [
        f"2025,{area},Children starting to be looked after,White British,18000,22.5",
        f"2025,{area},Children starting to be looked after,"
        '"Black, African, Caribbean or Black British",2500,c',
        f"2025,{area},Initial child protection conferences,Asian or Asian British,4000,18.0",
        f"2024,{area},Children starting to be looked after,White British,17000,21.0",
        f"2025,Reporting year,Local authority,E92000001,England,{NEWHAM},"
        "Children starting to be looked after,White British,40,30.0",
    ]
    _write(folder, "rates_by_ethnicity.csv", head, rows)
    assert C.read_dfe(folder / "rates_by_ethnicity.csv").table == "ETHNICITY_RATES"
    e = C.england_ethnicity_rates(folder).set_index(["stage", "group"])
    assert e.loc[("cla_start", "white_british"), "england_rate"] == 22.5  # 2025, not 2024
    assert e.loc[("cla_start", "white_british"), "england_year"] == "2024-25"
    black = e.loc[("cla_start", "black")]
    assert pd.isna(black["england_rate"]) and black["status"] == "not published (c)"
    assert e.loc[("icpc", "asian"), "england_rate"] == 18.0
    assert len(e) == 3  # the LA row is not England
    comb = pd.DataFrame({"stage": ["cla_start"] * 3, "group": ["white_british", "mixed", "black"]})
    both = C.with_england_rates(comb, C.england_ethnicity_rates(folder))
    assert both["group"].tolist() == ["white_british", "black"]  # none for Mixed
    assert both["england_rate"].iloc[0] == 22.5 and pd.isna(both["england_rate"].iloc[1])
    # a suppressed rate keeps its row, in words, never 0
    assert both["england_text"].tolist() == ["22.5", "not published (c)"]
    # the looked-after comparators ignore this file
    assert "ETHNICITY_RATES" not in set(C.load_folder(folder)["table"])


def test_looked_after_comparison_beside_england(tmp_path):
    from audit_lib import indicators

    v = C.indicator_values(C.read_dfe(_write(tmp_path, "stability.csv", ST_HEAD, ST_ROWS)))
    t = C.comparator_table(v, la_code="E09000025", neighbours=["206", "303"])
    own = pd.DataFrame(
        {
            "measure": ["long_term_stability", "three_plus_placements"],
            "numerator": [60, 3],
            "denominator": [100, 300],
            "value": [0.6, 0.01],
            "unit": ["share", "share"],
            "year": ["2023-24", "2023-24"],
        }
    )
    out = indicators.looked_after_comparison(t, own).set_index("Indicator")
    lt = out.loc[out.index.str.startswith("Long-term")].iloc[0]
    assert lt["Borough, same year (DfE definition)"] == "60.0% (2023-24)"
    assert lt["England"] == "68.1% (2023-24)" and lt["Region"] == "65.0% (2023-24)"
    assert lt["Neighbours (mean, range)"] == "62.5% (50.0% to 75.0%; published for 2/2; 2023-24)"
    # one neighbour's value is that value, not a mean with a range of one point
    one = C.comparator_table(v, la_code="E09000025", neighbours=["206"])
    lt1 = indicators.looked_after_comparison(one, own).set_index("Indicator")
    lt1 = lt1.loc[lt1.index.str.startswith("Long-term")].iloc[0]
    assert lt1["Neighbours (mean, range)"] == "50.0% (one neighbour; published for 1/1; 2023-24)"
    three = out.loc[out.index.str.startswith("3 or more placements in the year")].iloc[0]
    assert three["Borough, same year (DfE definition)"] == "c (2023-24)"  # 3 children
    rate = out.loc[out.index.str.startswith("Children in care per")].iloc[0]
    assert rate["England"] == "not published" and "no citable" in rate["Source"]


def test_beside_published_adds_columns_to_the_stability_table(tmp_path):
    from audit_lib import indicators

    stab = pd.DataFrame({"measure": ["3+", "long"], "numerator": [65, 74]})
    keys = ["permanence.three_plus_placements", "permanence.long_term_stability"]
    own = pd.DataFrame(
        {
            "measure": ["long_term_stability"],
            "numerator": [74],
            "denominator": [267],
            "value": [74 / 267],
            "unit": ["share"],
            "year": ["2024-25"],
        }
    )
    alone = C.comparator_table(C.load_folder(None))
    out = indicators.beside_published(stab, keys, alone, own)
    assert list(out.columns) == [
        "measure",
        "numerator",
        "Borough, same year (DfE definition)",
        "England",
    ]  # no region or neighbours asked for: no columns saying "not set"
    assert out["England"].tolist() == ["not published", "68.5% (2024-25)"]
    assert out["Borough, same year (DfE definition)"].iloc[1] == "27.7% (2024-25)"
    v = C.indicator_values(C.read_dfe(_write(tmp_path, "stability.csv", ST_HEAD, ST_ROWS)))
    asked = C.comparator_table(v, la_code="316", neighbours=["206"])
    cols = indicators.beside_published(stab, keys, asked).columns
    assert "Region" in cols and "Neighbours (mean, range)" in cols


def test_looked_after_findings_read_the_table():
    from audit_lib import indicators

    t = pd.DataFrame(
        {
            "Indicator": ["Long-term stability", "3 or more placements in the year", "Rate"],
            "Borough, same year (DfE definition)": [
                "27.9% (2024-25)",
                "c (2024-25)",
                "data do not cover that year",
            ],
            "England": ["68.5% (2024-25)", "not published", "67.0 per 10,000 (2024-25)"],
        }
    )
    assert indicators.looked_after_findings(t) == [
        "Children looked after, 2024-25, beside England: long-term stability 27.9% (England 68.5%)."
    ]
    assert indicators.looked_after_findings(t.iloc[1:]) == []


def test_same_columns_other_content_is_unrecognised(tmp_path):
    # "CLA on 31 March - combined measures of stability" has the adoption table's columns
    head = (
        "time_period,time_identifier,geographic_level,country_code,country_name,cla_group,"
        "characteristic,breakdown,combined_stability,children_count,children_percent\n"
    )
    row = "2025,Reporting year,National,E92000001,England,CLA 2 years on 31 March,Age group,"
    p = _write(tmp_path, "combined.csv", head, [row + "10 to 15 years,Total children,23110,100"])
    with pytest.raises(C.ComparatorError, match="match no table"):
        C.read_dfe(p)


def test_comparison_sentence_for_adoption():
    from audit_lib import indicators

    compared = C.comparator_table(C.load_folder(None))
    own = pd.DataFrame(
        {
            "measure": ["adoption_average_age_months"],
            "numerator": [20],
            "denominator": [None],
            "value": [53.5],
            "unit": ["months"],
            "year": ["2024-25"],
        }
    )
    key = "permanence.adoption_average_age_months"
    assert indicators.comparison_sentence(compared, own, key) == (
        "Beside England, average age at adoption order (DfE definition): the borough "
        "4 years 5 months (2024-25), England 3 years 2 months (2024-25); source: Children "
        "looked after in England including adoptions (2024-25)."
    )
    few = own.assign(numerator=4)  # four adoptions: the average is not shown
    assert "the borough c," in indicators.comparison_sentence(compared, few, key)


def test_a_report_compares_with_the_years_published_by_its_month(tmp_path):
    # a March 2024 report sees England 2023-24 (900 completed), not the later 2024-25
    folder = tmp_path / "c"
    folder.mkdir()
    _write(folder)
    early = C.comparator_table(C.load_folder(folder, "2024-03"))
    row = early.set_index("indicator").loc["timeliness.assessment_45wd"]
    assert row["england_year"] == "2023-24"
    assert row["england"] == pytest.approx((0 + 90 + 180 * 3 + 90) / 900)
    late = C.comparator_table(C.load_folder(folder, "2026-10"))
    assert (
        late.set_index("indicator").loc["timeliness.assessment_45wd", "england_year"] == "2024-25"
    )
    # before any published year: nothing to compare with, not a later year's figure
    assert C.load_folder(folder, "2023-02").query("indicator == 'timeliness.assessment_45wd'").empty
    # the committed England figures (2024-25) are not shown beside a 2024 report
    assert "timeliness.assessment_45wd" not in C.national(C.load_folder(None, "2024-09"))
    assert C.national(C.load_folder(None, "2025-03"))["assessment_45wd"][1] == "England 2024-25"


def test_the_authority_is_never_its_own_neighbour_and_bad_codes_are_named(tmp_path):
    v = C.indicator_values(C.read_dfe(_write(tmp_path)))
    # 316 is Newham itself (old code); E09000007 and 206 are both Camden; 999 is no LA
    asked = ["E09000007", "316", "206", "999", "303"]
    assert C.usable_neighbours(v, "E09000025", asked) == ["E09000007", "999", "303"]
    row = C.comparator_table(v, la_code="E09000025", neighbours=asked).iloc[0]
    # within 45 working days, by hand: Camden 80 of 100, Ealing 60 of 100
    camden = (0 + 10 + 20 + 20 + 20 + 10) / 100
    ealing = (0 + 0 + 10 + 20 + 20 + 10) / 100
    assert row["neighbours_mean"] == pytest.approx((camden + ealing) / 2)
    assert (row["neighbours_n"], row["neighbours_asked"]) == (2, 3)
    problems = C.code_problems(v, "E09000025", asked)
    assert any("999" in p and "no comparators file" in p for p in problems)
    assert any("316" in p and "206" in p and "Left out" in p for p in problems)
    assert C.code_problems(v, "NOTACODE", [])[0].startswith(
        "The authority's code NOTACODE is in no comparators file for the years"
    )
    assert C.code_problems(v, "316", ["E09000007"]) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "the file is empty"), (HEAD, "a header but no rows"), (b"\xff\xfe\x00PK", "not UTF-8")],
)
def test_empty_header_only_and_binary_files_are_one_line_errors(tmp_path, text, says):
    p = tmp_path / "f.csv"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(C.ComparatorError, match=says):
        C.read_dfe(p)
