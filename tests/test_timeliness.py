"""Timeliness measures: hand-worked cases and the synthetic borough's planted slow team."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_lib.measures import plan_quality as PQ
from audit_lib.measures import timeliness as T
from audit_lib.model import TABLES
from audit_lib.stats import funnel_limits, latest_signal, wilson

from .conftest import DEFAULT_DATA

TS = pd.Timestamp


def tables(**frames) -> dict[str, pd.DataFrame]:
    """Canonical tables, empty unless given (given ones typed as the model declares)."""
    out = {name: t.empty() for name, t in TABLES.items()}
    for name, rows in frames.items():
        frame = pd.DataFrame(rows)
        for col in TABLES[name].columns:
            if col.name not in frame:
                frame[col.name] = None
        out[name] = frame[TABLES[name].column_names].astype(TABLES[name].dtypes)
    return out


def assessment(aid, start, authorised=None, team="A", referral_id=None):
    return {
        "assessment_id": aid,
        "child_id": "c" + aid,
        "start_date": TS(start),
        "authorised_date": TS(authorised) if authorised else pd.NaT,
        "team": team,
        "referral_id": referral_id,
    }


def test_assessment_clock_crosses_easter_and_the_platinum_jubilee():
    # Start Mon 11 Apr 2022. Working days after it: 12-14 Apr (3); Good Friday 15 and
    # Easter Monday 18 Apr are holidays; 19-22 Apr (7); 25-29 Apr (12); 2 May is a bank
    # holiday; 3-6 May (16); 9-13 (21); 16-20 (26); 23-27 (31); 30 May-1 Jun (34);
    # Jubilee 2-3 Jun; 6-10 Jun (39); 13-17 Jun (44); Mon 20 Jun is day 45.
    t = tables(
        assessments=[
            assessment("1", "2022-04-11", "2022-06-20"),  # 45th working day: in time
            assessment("2", "2022-04-11", "2022-06-21"),  # 46th: late
        ]
    )
    items = T.assessments(t, TS("2022-07-31"))
    assert (items["due_date"] == TS("2022-06-20")).all()
    assert items["status"].tolist() == ["in_time", "late"]
    assert items["days_taken"].tolist() == [45, 46]
    assert (items["days_unit"] == "working").all()


def test_open_items_not_yet_due_are_never_in_time():
    t = tables(
        assessments=[
            assessment("1", "2026-10-20"),  # due 22 Dec: not due
            assessment("2", "2026-08-24", team="B"),  # due 27 Oct: overdue
            assessment("3", "2026-09-07"),  # due 9 Nov: within 10 working days of 31 Oct
            assessment("4", "2026-10-01", "2026-11-05"),  # completed after the period end
        ]
    )
    items = T.assessments(t, TS("2026-10-31")).set_index("item_id")
    assert items.loc["1", "status"] == "open_not_due"
    assert items.loc["2", "status"] == "open_overdue"
    assert items.loc["3", "status"] == "open_due_soon"
    assert items.loc["4", "status"] == "open_not_due" and pd.isna(items.loc["4", "completed_date"])
    s = T.summarise(items.reset_index(), "2026-10")
    month = s[(s["measure"] == "assessment_45wd") & (s["window"] == "month")].iloc[0]
    # only the overdue one counts (due 27 Oct); item 4 is due in November
    assert (month["numerator"], month["denominator"]) == (0, 1)
    assert month["open_not_due"] == 2 and month["open_due_soon"] == 1


def test_referral_clock_option():
    t = tables(
        referrals=[
            {"referral_id": "R1", "child_id": "c1", "referral_date": TS("2024-01-02"), "nfa": False}
        ],
        assessments=[assessment("1", "2024-01-10", "2024-03-07", referral_id="R1")],
    )
    t["children"] = pd.DataFrame({"child_id": ["c1"]})
    by_start = T.assessments(t, TS("2024-12-31"))
    by_ref = T.assessments(t, TS("2024-12-31"), clock="referral")
    assert by_start["status"][0] == "in_time" and by_ref["status"][0] == "late"
    assert by_ref["clock_start"][0] == TS("2024-01-02")


def test_icpc_without_strategy_date_is_a_data_quality_finding():
    t = tables(
        s47_enquiries=[
            {
                "s47_id": "S1",
                "child_id": "c1",
                "strategy_date": TS("2023-04-28"),
                "icpc_date": TS("2023-05-19"),
                "team": "A",
            },
            {
                "s47_id": "S2",
                "child_id": "c2",
                "strategy_date": pd.NaT,
                "icpc_date": TS("2023-05-19"),
                "team": "A",
            },
            {
                "s47_id": "S3",
                "child_id": "c3",
                "strategy_date": TS("2023-05-01"),
                "icpc_not_required": True,
                "team": "A",
            },  # no ICPC needed: not an item
        ]
    )
    items = T.icpc(t, TS("2023-05-31")).set_index("item_id")
    assert list(items.index) == ["S1", "S2"]
    # Fri 28 Apr 2023 + 15 wd: 2-5 May (4; 1 May is a holiday), 9-12 May (8; the
    # Coronation holiday is 8 May), 15-19 May (13), 22 May (14), Tue 23 May (15)
    assert items.loc["S1", "due_date"] == TS("2023-05-23")
    assert items.loc["S1", "status"] == "in_time"
    assert items.loc["S2", "status"] == "no_start_date"
    s = T.summarise(items.reset_index(), "2023-05").query("window == 'month'").iloc[0]
    assert (s["numerator"], s["denominator"], s["no_start_date"]) == (1, 1, 1)


def test_icpc_flag_left_blank_is_still_an_item():
    # only an S47 marked "ICPC not required" is left out; a blank flag (CIN census
    # ICPCnotRequired is optional) with no ICPC yet is an item: Mon 12 Sep 2022 + 15 wd,
    # the State Funeral (19 Sep) not counted, is Tue 4 Oct 2022
    t = tables(
        s47_enquiries=[
            {"s47_id": "S1", "child_id": "c1", "strategy_date": TS("2022-09-12"), "team": "A"},
            {"s47_id": "S2", "child_id": "c2", "strategy_date": pd.NaT, "team": "A"},
            {
                "s47_id": "S3",
                "child_id": "c3",
                "strategy_date": TS("2022-09-12"),
                "icpc_not_required": False,
                "team": "A",
            },
            {
                "s47_id": "S4",
                "child_id": "c4",
                "strategy_date": TS("2022-09-12"),
                "icpc_not_required": True,
                "team": "A",
            },
        ]
    )
    items = T.icpc(t, TS("2022-10-31")).set_index("item_id")
    assert list(items.index) == ["S1", "S2", "S3"]
    assert items.loc["S1", "due_date"] == TS("2022-10-04")
    assert items["status"].tolist() == ["open_overdue", "no_start_date", "open_overdue"]


def test_cp_reviews_first_then_six_monthly():
    t = tables(
        cp_plans=[
            {"cp_plan_id": "P1", "child_id": "c1", "start_date": TS("2024-01-10")},
            {
                "cp_plan_id": "P2",
                "child_id": "c2",
                "start_date": TS("2024-01-10"),
                "end_date": TS("2024-03-01"),
            },  # ended before a review was due: no items
            {
                "cp_plan_id": "P3",
                "child_id": "c3",
                "start_date": TS("2024-01-10"),
                "end_date": TS("2024-06-01"),
            },  # ended after the due date with no review: late
        ],
        cp_reviews=[
            {"cp_plan_id": "P1", "review_date": TS("2024-04-05")},  # due 10 Apr: in time
            {"cp_plan_id": "P1", "review_date": TS("2024-10-20")},  # due 5 Oct: late
        ],
    )
    items = T.cp_reviews(t, TS("2025-01-31"))
    p1 = items[items["item_id"].str.startswith("P1")].set_index("sequence")
    assert p1.loc[1, "due_date"] == TS("2024-04-10") and p1.loc[1, "status"] == "in_time"
    assert p1.loc[2, "due_date"] == TS("2024-10-05") and p1.loc[2, "status"] == "late"
    assert p1.loc[3, "due_date"] == TS("2025-04-20") and p1.loc[3, "status"] == "open_not_due"
    assert not items["item_id"].str.startswith("P2").any()
    p3 = items[items["item_id"].str.startswith("P3")]
    assert p3["status"].tolist() == ["late"] and p3["completed_date"].isna().all()


def test_cla_reviews_20_working_days_then_3_then_6_months():
    t = tables(
        cla_episodes=[
            {
                "child_id": "c1",
                "episode_start": TS("2024-12-20"),
                "reason_new_episode": "S",
                "legal_status": "V2",
                "placement_type": "U4",
                "episode_end": TS("2025-02-01"),
                "reason_ceased": "X1",
            },
            {
                "child_id": "c1",
                "episode_start": TS("2025-02-01"),
                "reason_new_episode": "P",
                "legal_status": "V2",
                "placement_type": "U5",
            },
        ],
        cla_reviews=[
            {"child_id": "c1", "review_date": TS("2025-01-22")},  # 20 wd (METRICS.md): in time
            {"child_id": "c1", "review_date": TS("2025-04-23")},  # due 22 Apr: late
        ],
    )
    items = T.cla_reviews(t, TS("2025-06-30")).set_index("sequence")
    assert items.loc[1, "due_date"] == TS("2025-01-22") and items.loc[1, "status"] == "in_time"
    assert items.loc[2, "due_date"] == TS("2025-04-22") and items.loc[2, "status"] == "late"
    assert items.loc[3, "due_date"] == TS("2025-10-23")
    assert len(items) == 3  # the placement change does not restart the review clock


def test_cla_visits_restart_with_each_placement():
    t = tables(
        cla_episodes=[
            {
                "child_id": "c1",
                "episode_start": TS("2025-01-06"),
                "reason_new_episode": "S",
                "legal_status": "C2",
                "placement_type": "U4",
                "episode_end": TS("2025-03-03"),
                "reason_ceased": "X1",
            },
            {
                "child_id": "c1",
                "episode_start": TS("2025-03-03"),
                "reason_new_episode": "P",
                "legal_status": "C2",
                "placement_type": "U5",
            },
        ],
        visits=[
            {"child_id": "c1", "visit_date": TS("2025-01-10"), "visit_type": "cla"},  # day 4
            {
                "child_id": "c1",
                "visit_date": TS("2025-02-25"),
                "visit_type": "cla",
            },  # 46 days: late
            {"child_id": "c1", "visit_date": TS("2025-03-12"), "visit_type": "cla"},  # 9 days: late
            {
                "child_id": "c1",
                "visit_date": TS("2025-03-20"),
                "visit_type": "cp",
            },  # not a CLA visit
        ],
    )
    items = T.cla_visits(t, TS("2025-03-31"))
    assert items["status"].tolist() == ["in_time", "late", "late", "open_not_due"]
    assert items["due_date"].tolist() == [
        TS("2025-01-13"),
        TS("2025-02-21"),
        TS("2025-03-10"),
        TS("2025-04-23"),
    ]


def test_cla_visits_long_term_every_three_calendar_months_after_the_first_year():
    # reg 28: after the placement's first year, a long-term placement (a long-term
    # fostering match) is visited at least every three months: calendar months, as the
    # reviews count them, and a calendar year
    def placed(child, start):
        return {
            "child_id": child,
            "episode_start": TS(start),
            "reason_new_episode": "S",
            "legal_status": "C2",
            "placement_type": "U4",
        }

    def visit(child, day):
        return {"child_id": child, "visit_date": TS(day), "visit_type": "cla"}

    t = tables(
        cla_episodes=[placed("a", "2021-09-01"), placed("b", "2023-03-01")],
        permanence_plans=[
            {
                "child_id": c,
                "decision_date": TS(d),
                "plan": "long_term_fostering",
                "achieved_date": TS(d),
            }
            for c, d in (("a", "2021-10-01"), ("b", "2023-04-01"))
        ],
        visits=[
            visit("a", "2021-09-07"),
            visit("a", "2021-10-15"),
            visit("a", "2022-11-30"),
            # 30 Nov 2022 + 3 months = 28 Feb 2023 (91 days would be 1 Mar): late
            visit("a", "2023-03-01"),
            # 1 Mar 2023 + 3 months = 1 Jun 2023 (91 days: 31 May): in time
            visit("a", "2023-06-01"),
            visit("b", "2023-03-06"),
            visit("b", "2024-02-29"),
            # 29 Feb 2024 is day 365 but still the first year (it ends 1 Mar 2024):
            # 6 weeks, due 11 Apr 2024, so 12 Apr is late
            visit("b", "2024-04-12"),
        ],
    )
    items = T.cla_visits(t, TS("2024-06-30")).set_index("item_id")
    assert items.loc["a/1#4", "due_date"] == TS("2023-02-28")
    assert items.loc["a/1#4", "status"] == "late"
    assert items.loc["a/1#5", "due_date"] == TS("2023-06-01")
    assert items.loc["a/1#5", "status"] == "in_time"
    assert items.loc["b/1#3", "due_date"] == TS("2024-04-11")
    assert items.loc["b/1#3", "status"] == "late"
    assert items.loc["b/1#4", "due_date"] == TS("2024-07-12")  # 12 Apr + 3 months


def test_summary_counts_each_item_once_in_the_right_window():
    t = tables(
        assessments=[
            # due 5 Mar 2024 (45 wd after 2 Jan), done early on 15 Feb: in time
            assessment("1", "2024-01-02", "2024-02-15"),
            # due 8 Jan 2024 (Christmas, Boxing Day and New Year crossed), done 20 Feb: late
            assessment("2", "2023-11-01", "2024-02-20"),
            # due 7 Feb 2024, never done: late
            assessment("3", "2023-12-01"),
            # long before the window
            assessment("4", "2022-06-01", "2022-07-01"),
        ]
    )
    items = T.assessments(t, TS("2024-02-29")).set_index("item_id")
    assert items["due_date"][["1", "2", "3"]].tolist() == [
        TS("2024-03-05"),
        TS("2024-01-08"),
        TS("2024-02-07"),
    ]
    items = items.reset_index()
    # by due date (default): Feb holds item 3 only; item 1 is not yet due
    s = T.summarise(items, "2024-02").set_index("window")
    assert s.loc["month", ["numerator", "denominator"]].tolist() == [0, 1]
    assert s.loc["rolling_12m", ["numerator", "denominator"]].tolist() == [0, 2]
    # by completion: Feb holds the two completed in Feb and the one never done, due Feb
    c = T.summarise(items, "2024-02", count_by="completion").set_index("window")
    assert c.loc["month", ["numerator", "denominator"]].tolist() == [1, 3]
    assert c.loc["rolling_12m", ["numerator", "denominator"]].tolist() == [1, 3]
    lo, hi = wilson(1, 3)
    assert c.loc["month", "lower"] == pytest.approx(lo) and c.loc[
        "month", "upper"
    ] == pytest.approx(hi)
    m = T.monthly(items, "2024-02", months=24).set_index("month")
    assert m.loc["2024-02", "denominator"] == 1 and m.loc["2024-01", "denominator"] == 1
    mc = T.monthly(items, "2024-02", months=24, count_by="completion").set_index("month")
    assert mc.loc["2024-02", "denominator"] == 3 and mc.loc["2022-07", "denominator"] == 1


def test_worklist_is_pseudonymised():
    t = tables(assessments=[assessment("1", "2026-08-24"), assessment("2", "2026-10-20")])
    items = T.assessments(t, TS("2026-10-31"))
    w = T.worklist(items, b"secret")
    assert len(w) == 1 and "child_id" not in w.columns
    assert w["child"][0].startswith("P") and "c1" not in w.to_csv()


@pytest.fixture(scope="module")
def synthetic_items(default_tables):
    t, _ = default_tables
    return T.all_items(t, TS("2026-10-31"))


def test_planted_slow_team_is_below_the_funnel_and_its_share_is_recovered(synthetic_items):
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())["timeliness"]
    teams = T.by_team(synthetic_items, "2026-10", "rolling_12m")
    a = teams[teams["measure"] == "assessment_45wd"].set_index("team")
    p0 = a["numerator"].sum() / a["denominator"].sum()
    lim = funnel_limits(p0, a["denominator"]).set_index(a.index)
    below = a["value"] < lim["lower_998"]
    assert below[truth["slow_team"]]
    assert below.sum() == 1, "only the planted team is an outlier"
    slow = a.loc[truth["slow_team"]]
    assert slow["lower"] <= truth["assessment_45wd_expected_share"]["slow_team"] <= slow["upper"]


def test_every_measure_has_items_on_the_synthetic_borough(synthetic_items):
    s = T.summarise(synthetic_items, "2026-10")
    assert set(s["measure"]) == set(T.MEASURES)
    r12 = s[s["window"] == "rolling_12m"].set_index("measure")
    assert (r12["denominator"] > 100).all()
    assert r12.loc["assessment_45wd", "value"] == pytest.approx(0.79, abs=0.04)


def test_recorded_keys_are_documented(synthetic_items):
    import re

    from .conftest import ROOT

    doc = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"`(timeliness\.[a-z0-9_.]+)`", doc))
    produced = set(T.metric_entries(T.summarise(synthetic_items, "2026-10")))
    assert produced == documented
    entry = T.metric_entries(T.summarise(synthetic_items, "2026-10"))["timeliness.icpc_15wd.month"]
    assert {"numerator", "denominator", "value", "lower", "upper"} <= set(entry)


def test_worklist_counts_by_measure_and_status():
    work = pd.DataFrame(
        {
            "measure": ["cla_visit", "cla_visit", "cp_review", "cla_visit"],
            "status": ["overdue", "due_soon", "overdue", "overdue"],
        }
    )
    c = T.worklist_counts(work).set_index("measure")
    assert c.loc["cla_visit", "overdue"] == 2 and c.loc["cla_visit", "due_soon"] == 1
    assert c.loc["cp_review", "overdue"] == 1 and c.loc["cp_review", "due_soon"] == 0
    assert list(T.worklist_counts(work.iloc[0:0]).columns) == ["measure"]


def test_all_items_for_named_timescales_only(default_tables):
    t, _ = default_tables
    as_of = TS("2026-03-31")
    full = T.all_items(t, as_of)
    some = T.all_items(t, as_of, measures=["assessment_45wd", "icpc_15wd"])
    want = full[full["measure"].isin(["assessment_45wd", "icpc_15wd"])].reset_index(drop=True)
    assert set(some["measure"]) == {"assessment_45wd", "icpc_15wd"}
    pd.testing.assert_frame_equal(some, want)


def test_event_interval_pairs_are_those_of_a_merge_in_its_order():
    """``_pairs`` gives the (event, interval) rows ``events.merge(intervals, on=key)``
    gives, in its order: repeated keys on both sides, a key with no interval, a missing key."""
    events = pd.Series(["b", "a", "c", None, "b", "a"], dtype="string")
    intervals = pd.Series(["a", "b", "a", "d"], dtype="string")
    e, i = T._pairs(events, intervals)
    left = pd.DataFrame({"key": events, "e": range(len(events))}).dropna()
    merged = left.merge(pd.DataFrame({"key": intervals, "i": range(len(intervals))}), on="key")
    assert e.tolist() == merged["e"].tolist()
    assert i.tolist() == merged["i"].tolist()


def test_item_ids_join_key_and_sequence():
    keys = pd.Series(["0001/2", "P7"], dtype=object)
    assert T._item_ids(keys, pd.Series([1, 12])).tolist() == ["0001/2#1", "P7#12"]


def test_child_team_is_the_team_of_the_latest_referral_to_date():
    """Each child's team as ``groupby().last()`` after the date sort gave it (the same
    lookup, in another order): later referrals and referrals without a team ignored."""
    t = {
        "referrals": pd.DataFrame(
            {
                "child_id": ["c1", "c2", "c1", "c1", "c2"],
                "referral_date": pd.to_datetime(
                    ["2024-01-01", "2024-02-01", "2024-03-01", "2024-05-01", "2024-04-01"]
                ),
                "team": pd.array(["A", "B", "C", "D", None], dtype="string"),
            }
        )
    }
    team = T.child_team(t, TS("2024-04-30"))
    assert team.sort_index().to_dict() == {"c1": "C", "c2": "B"}


def test_days_taken_of_few_items_are_hidden_in_the_table_and_the_chart():
    """A 30-child cut showed "Median days 32, 90th percentile 33" beside "12 months:
    items c", and a box plot of three assessments (its whiskers three children's days)."""
    from audit_lib import charts, report

    items = pd.DataFrame(
        {
            "measure": "assessment_45wd",
            "status": ["in_time"] * 3 + ["overdue"] * 7,
            "due_date": TS("2026-10-10"),
            "completed_date": [TS("2026-10-01")] * 3 + [pd.NaT] * 7,
            "days_taken": [30.0, 32.0, 34.0] + [None] * 7,
        }
    )
    items["status"] = items["status"].where(items["completed_date"].notna(), "late")
    s = T.summarise(items, "2026-10")
    assert s["completed"].tolist() == [3, 3] and s["denominator"].tolist() == [10, 10]
    t = T.summary_table(s)
    html = report.styled_table(
        t,
        uuid="t",
        counts=("Month: items", "12 months: items", "12 months: completed"),
        hidden_with=T.SUMMARY_HIDDEN_WITH,
        hide=("Month: in time, n", "12 months: in time, n", "12 months: completed"),
    ).to_html()
    row = report.format_table(t).iloc[0]  # unprotected: the figures the page must not show
    assert str(row["Median days"]) == "32" and ">32<" not in html and ">33<" not in html
    done = T.completed_in_window(items, "2026-10")
    assert T.distribution_title(done, 5).startswith("Days taken: too few")
    fig = charts.distribution_chart(done, "t", "days_taken", "timescale", suppress_max=5)
    assert not fig.axes[0].get_yticklabels() or "Assessment" not in [
        x.get_text() for x in fig.axes[0].get_yticklabels()
    ]
    assert "Half of assessments" in T.distribution_title(done, 2)


def test_spc_title_hides_a_month_the_table_hides():
    """A 30-child cut: the table showed "Month: in time c" but the chart title said
    "October 2026 at 0%" (none of c items in time)."""
    series = pd.DataFrame(
        {
            "month": ["2026-08", "2026-09", "2026-10"],
            "numerator": [40, 45, 0],
            "denominator": [50, 50, 3],
        }
    ).assign(value=lambda f: f["numerator"] / f["denominator"])
    title = T.spc_title(series, "Assessments", "2026-10", 5)
    assert title.startswith("Assessments: October 2026 at c, ") and " 0%" not in title
    assert "October 2026 at 0% is" in T.spc_title(series, "Assessments", "2026-10", 0)


def test_spc_title_does_not_judge_a_month_the_chart_leaves_out():
    """A hidden month is a gap on the chart; its title said "October 2026 at c is a real
    deterioration (below the lower limit)", so the 0 of 2 late items were both late."""
    num = [40, 41, 39, 42, 40, 38, 41, 40, 39, 42, 40, 41, 0]
    den = [50] * 12 + [2]
    series = pd.DataFrame(
        {
            "month": [f"2025-{m:02d}" for m in range(10, 13)]
            + [f"2026-{m:02d}" for m in range(1, 11)]
        }
    ).assign(numerator=num, denominator=den, value=lambda f: f["numerator"] / f["denominator"])
    title = T.spc_title(series, "Assessments", "2026-10", 5)
    assert title == "Assessments: October 2026 at c, too few items to judge"
    mid = series.assign(denominator=[50] * 5 + [41] + [50] * 6 + [40], numerator=num[:12] + [30])
    mid = mid.assign(value=mid["numerator"] / mid["denominator"])  # March 2026: 38 of 41
    assert T.spc_title(mid, "A", "2026-10", 5) == "A: October 2026 at 75% is " + (
        T.signal_phrase(*latest_signal(mid["value"].to_numpy(), "higher"))
    )  # no mean: with the other months it would give March back
    assert "(mean " in T.spc_title(mid, "A", "2026-10", 0)
    off = T.spc_title(series, "Assessments", "2026-10", 0)
    assert "at 0% is a real deterioration (outside the process limits)" in off
    assert PQ.spc_title(series, "2026-10", None, 5).endswith(
        "October 2026 at c, too few audits to judge"
    )
    assert "deteriorat" in PQ.spc_title(series, "2026-10", None, 0)


def test_days_taken_chart_and_table_quote_the_same_items(synthetic_items):
    """The box plot's title and the summary table gave two medians of the same 12 months
    (synthetic borough: table 90th percentile 54, title 'took more than 55'; a 2,000-child
    cut: median 35 against 33): the chart took items completed in the window, the table
    items due in it. Both now use the items due in the window."""
    s = T.summarise(synthetic_items, "2026-10")
    row = s[(s["measure"] == "assessment_45wd") & (s["window"] == "rolling_12m")].iloc[0]
    done = T.completed_in_window(synthetic_items, "2026-10")
    a = done.loc[done["measure"] == "assessment_45wd", "days_taken"]
    assert len(a) == row["completed"]
    assert a.median() == row["median_days"] and a.quantile(0.9) == row["p90_days"]
    title = T.distribution_title(done)
    assert f"within {row['median_days']:.0f} working days" in title
    assert f"more than {row['p90_days']:.0f} " in title
