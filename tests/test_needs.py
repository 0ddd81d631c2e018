"""Not available, never 0%: each measure declares the tables it needs (audit_lib.needs)."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_lib import indicators, needs
from audit_lib.measures import data_quality as DQ
from audit_lib.measures import disproportionality as D
from audit_lib.measures import permanence as PM
from audit_lib.measures import timeliness as T
from audit_lib.model import TABLES
from audit_lib.report import format_table

PERIOD = "2026-10"
AS_OF = pd.Timestamp("2026-10-31")


def without(tables: dict, *names: str) -> dict:
    """The tables with ``names`` replaced by empty frames, as load_tables gives them."""
    return {k: (TABLES[k].empty() if k in names else v) for k, v in tables.items()}


@pytest.fixture(scope="module")
def tables(default_tables):
    return default_tables[0]


def test_every_table_named_in_a_need_is_canonical():
    for key, need in needs.NEEDS.items():
        assert set(need.tables) <= set(TABLES), key
        assert set(need.history) <= set(need.tables), key
    assert set(needs.DATE_COLUMN) <= set(TABLES)
    for t, col in needs.DATE_COLUMN.items():
        assert col in TABLES[t].empty().columns, (t, col)


def test_everything_is_available_on_the_synthetic_borough(tables):
    a = needs.availability(tables, AS_OF)
    assert len(a) == len(needs.NEEDS) and a["available"].all()
    assert T.unavailable(tables, AS_OF) == {}


def test_reasons_name_the_missing_table_the_snapshot_and_the_late_start(tables):
    need = needs.NEEDS["timeliness.cla_visit"]
    assert needs.reason(without(tables, "visits"), need) == "not available: needs visits"
    # one visit per child and type, as Annex A's "date of last visit" gives
    v = tables["visits"].sort_values("visit_date").drop_duplicates(["child_id", "visit_type"])
    snap = {**tables, "visits": v}
    assert "history of visits" in needs.reason(snap, need)
    # a period before the table's first record
    early = pd.Timestamp("2000-01-31")
    assert "starts on" in needs.reason(tables, need, early)
    assert needs.reason(tables, need, AS_OF) is None


def test_903_only_timeliness_has_no_visit_figure_and_no_worklist_rows(tables):
    t = without(
        tables,
        "referrals",
        "assessments",
        "s47_enquiries",
        "cp_plans",
        "cp_reviews",
        "cin_plans",
        "visits",
        "permanence_plans",
        "case_audits",
        "population",
    )
    missing = T.unavailable(t, AS_OF)
    assert missing["cla_visit"] == "not available: needs visits"
    assert set(missing) == {"assessment_45wd", "icpc_15wd", "cp_review", "cla_visit", "cp_visit"}
    items = T.all_items(t, AS_OF)
    assert set(items["measure"]) == {"cla_review"}  # no cla_visit items, so no 0%
    summary = T.summarise(items, PERIOD)
    entries = T.metric_entries(summary, T.monthly(items, PERIOD), missing)
    e = entries["timeliness.cla_visit.rolling_12m"]
    assert e["value"] is None and e["status"] == "not_available" and "visits" in e["reason"]
    assert entries["timeliness.cla_review.rolling_12m"]["denominator"] > 0
    work = T.worklist(items, b"k")
    assert set(work["measure"]) <= {"cla_review"}
    table = T.summary_table(summary, missing)
    row = table.set_index("Timescale").loc[T.MEASURES["cla_visit"][0]]
    assert pd.isna(row["12 months: in time"]) and row["Note"] == "not available: needs visits"
    shown = format_table(table).set_index("Timescale")  # as the page shows it
    assert shown.loc[T.MEASURES["cla_visit"][0], "Note"] == "not available: needs visits"
    assert shown.loc[T.MEASURES["cla_review"][0], "Note"] == ""  # measured: nothing to note
    lines = T.findings(
        summary, T.monthly(items, PERIOD), T.by_team(items, PERIOD), PERIOD, {}, 5, missing
    )
    text = " ".join(lines)
    assert "looked-after visits on time (not available: needs visits)" in text
    assert "0%" not in text.replace("10%", "")


def test_no_table_at_all_gives_empty_items_with_the_item_columns(tables):
    t = without(tables, *[k for k in tables if k != "children"])
    items = T.all_items(t, AS_OF)
    assert items.empty and list(items.columns) == T.ITEM_COLUMNS
    assert T.summarise(items, PERIOD).empty


def test_summary_page_says_not_available_instead_of_a_value():
    from audit_lib.needs import not_available

    metrics = {
        "timeliness.cla_visit.month": not_available("not available: needs visits"),
        "timeliness.cla_visit.rolling_12m": not_available("not available: needs visits"),
        "timeliness.cla_review.rolling_12m": {"value": 0.5, "numerator": 5, "denominator": 10},
    }
    table = indicators.indicator_table(metrics)
    row = table.set_index("key").loc["timeliness.cla_visit"]
    assert row["status"] == "not_available" and row["Status"] == "Not available: needs visits"
    assert pd.isna(row["Last 12 months"])
    assert any("needs visits" in line for line in indicators.findings(table, PERIOD))
    assert "Looked-after visits on time: not available: needs visits" in indicators.headline_line(
        metrics, "timeliness"
    )


def test_disproportionality_stage_without_its_table_has_no_rates(tables):
    t = without(tables, "cp_plans")
    out = D.table(t, PERIOD)
    comb = D.combined(out)
    assert "cp_plan" not in set(comb["stage"]) and "referral" in set(comb["stage"])
    missing = dict(zip(out["not_available"]["stage"], out["not_available"]["reason"], strict=True))
    assert missing == {"cp_plan": "not available: needs cp_plans"}
    lines = D.findings(comb, "white_british", "bh", 5, "cp_plan", missing)
    assert lines[0] == "Child protection plan: not available: needs cp_plans."
    entries = D.metric_entries(comb, missing)
    assert entries["disproportionality.stage.cp_plan"]["value"] is None
    assert not any(k.startswith("disproportionality.rate_ratio.cp_plan.") for k in entries)


def test_permanence_flags_without_permanence_plans_are_not_raised(tables):
    t = without(tables, "permanence_plans")
    outcomes = PM.spell_outcomes(t, AS_OF)
    flags = PM.drift_flags(t, outcomes, AS_OF)
    assert not flags["no_plan_by_second_review"].any()
    assert set(flags.attrs["not_available"]) == {
        "no_plan_by_second_review",
        "plan_changed_twice",
        "ltf_not_matched_6m",
    }
    counts = PM.flag_counts(flags)
    assert PM.FLAG_LABELS["no_plan_by_second_review"] not in set(counts["Flag"])
    entries = PM.metric_entries(t, outcomes, PERIOD, flags)
    assert entries["permanence.plan_by_second_review.rolling_12m"]["value"] is None
    assert entries["permanence.drift.no_plan_by_second_review"]["status"] == "not_available"


def test_data_quality_page_lists_what_each_measure_needs(tables):
    a = DQ.measure_availability(without(tables, "visits"), PERIOD)
    off = a[a["Status"] != "Available"]
    assert set(off["Measure"]) == {"Looked-after visits", "CP visits"}
    assert set(off["Status"]) == {"Not available: needs visits"}


def test_care_histories_from_one_episode_per_child_are_not_available(tables):
    """Annex A gives each child in care one (current) episode: time to permanence and
    placement stability cannot be measured from it, and say so instead of reading
    "not reached" and 0% moves."""
    assert PM.history_gap(tables, AS_OF) == {}
    eps = tables["cla_episodes"]
    current = eps.sort_values("episode_start").drop_duplicates("child_id", keep="last")
    snap = {**tables, "cla_episodes": current.reset_index(drop=True)}
    gaps = PM.history_gap(snap, AS_OF)
    assert set(gaps) == {"time_to_permanence", "placement_stability"}
    assert all("needs a history of cla_episodes" in why for why in gaps.values())
    outcomes = PM.spell_outcomes(snap, AS_OF)
    flags = PM.drift_flags(snap, outcomes, AS_OF)
    entries = PM.metric_entries(snap, outcomes, PERIOD, flags)
    for key in (
        "permanence.median_days",
        "permanence.within_365d",
        "permanence.within_12m.rolling_12m",
        "permanence.three_plus_placements",
        "permanence.long_term_stability",
    ):
        assert entries[key]["status"] == "not_available" and entries[key]["value"] is None, key
    card = PM.adoption_scorecard(snap, PERIOD)
    lines = PM.findings(entries, flags, card, PERIOD)
    assert any(line.startswith("Time to permanence not available") for line in lines)
    assert any(line.startswith("Placement stability: not available") for line in lines)
    assert not any("0%" in line and "placements" in line for line in lines)


def test_snapshot_or_history_on_large_tables():
    from audit_lib.needs import _SNAPSHOT_PROBE, _is_snapshot

    n = _SNAPSHOT_PROBE * 2
    ids = pd.Series([f"c{i}" for i in range(n)], dtype="string")
    snapshot = pd.DataFrame({"child_id": ids})
    assert _is_snapshot(snapshot, ("child_id",))
    late_repeat = pd.DataFrame({"child_id": pd.concat([ids, ids.tail(1)], ignore_index=True)})
    assert not _is_snapshot(late_repeat, ("child_id",))  # the repeat is past the probe
    early_repeat = pd.DataFrame({"child_id": pd.concat([ids.head(1), ids], ignore_index=True)})
    assert not _is_snapshot(early_repeat, ("child_id",))
    two_keys = pd.DataFrame({"child_id": ids.head(1).repeat(n).to_numpy(), "visit_type": ids})
    assert _is_snapshot(two_keys, ("child_id", "visit_type"))


def test_a_completion_date_blank_in_every_record_is_not_available_not_0_percent(tables):
    """A CIN census whose assessments carry no AssessmentAuthorisationDate (optional in
    the XML) and whose S47s carry no DateOfInitialCPC: before, every assessment and ICPC
    counted as late, "0% (0 of 132)", "Below target" and the furthest from target."""
    a = tables["assessments"].assign(authorised_date=pd.NaT)
    s = tables["s47_enquiries"].assign(icpc_date=pd.NaT)
    t = {**tables, "assessments": a, "s47_enquiries": s}
    missing = T.unavailable(t, AS_OF)
    assert missing["assessment_45wd"] == (
        "not available: assessments.authorised_date is blank in every record"
    )
    assert missing["icpc_15wd"] == "not available: s47_enquiries.icpc_date is blank in every record"
    assert set(missing) == {"assessment_45wd", "icpc_15wd"}
    items = T.all_items(t, AS_OF)
    assert not items["measure"].isin(["assessment_45wd", "icpc_15wd"]).any()
    assert needs.reason(t, needs.NEEDS["disproportionality.icpc"]).endswith("blank in every record")
    one = {**t, "assessments": a.assign(authorised_date=tables["assessments"]["authorised_date"])}
    assert "assessment_45wd" not in T.unavailable(one, AS_OF)
