"""Plan quality: hand-worked shares, kappa against published values, planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit_lib.measures import plan_quality as PQ
from audit_lib.stats import spc_rules, wilson

from .conftest import DEFAULT_DATA

TS = pd.Timestamp


def audits(grades, moderated=None, auditors=None, dates=None, team="A"):
    n = len(grades)
    return pd.DataFrame(
        {
            "audit_id": [f"a{i}" for i in range(n)],
            "child_id": "c",
            "audit_date": pd.to_datetime(dates or ["2025-06-15"] * n),
            "auditor_id": auditors or ["X"] * n,
            "team": team,
            "case_type": "cp",
            "overall_grade": pd.array(grades, dtype="Int64"),
            **{a: pd.array(grades, dtype="Int64") for a in PQ.ANCHORS},
            **{
                p: pd.array([True, False] * (n // 2) + [True] * (n % 2), dtype="boolean")
                for p in PQ.PLAN_CHECKLIST
            },
            "moderated_grade": pd.array(moderated or [None] * n, dtype="Int64"),
        }
    )


def test_good_or_better_share_by_hand():
    a = audits([1, 2, 2, 3, 4])  # 3 of 5 good or better
    r = PQ.good_or_better(a).iloc[0]
    assert (r["numerator"], r["denominator"]) == (3, 5)
    lo, hi = wilson(3, 5)
    assert r["lower"] == pytest.approx(lo) and r["upper"] == pytest.approx(hi)
    d = PQ.grade_distribution(a).set_index("grade")
    assert d["audits"].tolist() == [1, 2, 1, 1]
    anchors = PQ.anchor_summary(a).set_index("anchor")
    assert anchors.loc["clarity", "mean_grade"] == pytest.approx(2.4)
    items = PQ.checklist_summary(a).set_index("item")
    assert (items["numerator"] == 3).all() and (items["denominator"] == 5).all()


def test_weighted_kappa_matches_published_example():
    # vcd::SexualFun (Agresti): quadratic weighted kappa 0.3320 (METRICS.md reference values)
    table = np.array([[7, 7, 2, 3], [2, 8, 3, 7], [1, 5, 4, 9], [2, 8, 9, 14]])
    husband = np.repeat(np.repeat([[1], [2], [3], [4]], 4, axis=1).ravel(), table.ravel())
    wife = np.repeat(np.tile([1, 2, 3, 4], 4), table.ravel())
    a = audits(husband.tolist(), moderated=wife.tolist())
    k = PQ.moderation_agreement(a)
    assert k["weighted_kappa"] == pytest.approx(0.3320, abs=5e-5)
    assert k["kappa_lower"] < 0.3320 < k["kappa_upper"]
    assert k["exact_agreement"] == pytest.approx((7 + 8 + 4 + 14) / 91)  # 91 couples
    assert (k["table"] == table).all()


def test_agreement_not_estimated_below_ten_moderated():
    a = audits([1, 2, 3, 2, 2, 3, 4, 1, 2], moderated=[1, 2, 3, 3, 2, 3, 4, 2, 2])
    k = PQ.moderation_agreement(a)
    assert k == {"moderated": 9, "estimable": False}
    assert not any(
        key.startswith("plan_quality.moderation") for key in PQ.metric_entries(a, "2025-06")
    )


def test_leniency_by_hand():
    a = audits([1, 1, 2, 2, 3, 3], moderated=[2, 2, 3, 3, 3, 3], auditors=["L"] * 4 + ["F"] * 2)
    lenient = PQ.leniency(a, adjust=False).set_index("auditor_id")
    assert lenient.loc["L", "mean_difference"] == -1.0
    assert lenient.loc["F", "mean_difference"] == 0.0


def test_coverage():
    a = audits([2, 2, 3], dates=["2025-06-02", "2025-06-03", "2025-05-01"])
    cover = PQ.coverage(a, "2025-06", target_per_team=3, teams=["A", "B"])
    assert cover["teams"]["audits"].tolist() == [2, 0] and not cover["teams"]["met"].any()
    assert cover["unaudited_case_types"] == ["care_leaver", "cin", "cla"]


@pytest.fixture(scope="module")
def synthetic(default_tables):
    t, _ = default_tables
    return t["case_audits"], json.loads((DEFAULT_DATA / "truth.json").read_text())["plan_quality"]


def test_planted_step_change_flagged_within_two_months(synthetic):
    a, truth = synthetic
    monthly = PQ.monthly_good_or_better(a, "2026-10", months=48)
    r = spc_rules(monthly["value"].to_numpy(), "higher", baseline=12)
    step = pd.Period(truth["grade_step_month"], freq="M")
    months = pd.PeriodIndex(monthly["month"], freq="M")
    near = (months >= step - 2) & r["signal"].eq("improvement").to_numpy()
    first = months[near][0]
    assert abs((first - step).n) <= 2
    assert not r["signal"].eq("improvement").to_numpy()[months < step - 2].any()


def test_planted_lenient_auditor_is_the_only_one(synthetic):
    a, truth = synthetic
    lenient = PQ.leniency(PQ.recent(a, "2026-10", 24))
    flagged = lenient.loc[lenient["upper"] < 0, "auditor_id"].tolist()
    assert flagged == [truth["lenient_auditor"]]
    assert not (lenient["lower"] > 0).any()


def test_metric_keys(synthetic):
    a, _ = synthetic
    keys = set(PQ.metric_entries(a, "2026-10"))
    assert {
        "plan_quality.good_or_better.month",
        "plan_quality.good_or_better.rolling_12m",
        "plan_quality.moderation.weighted_kappa.rolling_12m",
        "plan_quality.moderation.exact_agreement.rolling_12m",
    } <= keys
    assert {f"plan_quality.anchor.{x}.rolling_12m" for x in PQ.ANCHORS} <= keys
    assert {f"plan_quality.checklist.{x}.rolling_12m" for x in PQ.PLAN_CHECKLIST} <= keys


# --- degenerate results are values; one SPC reading (issues 12 and 14) --------------------


def test_kappa_all_grades_identical_cannot_be_estimated():
    a = audits([2] * 12, moderated=[2] * 12)
    k = PQ.moderation_agreement(a)
    assert k["estimable"] and k["exact_agreement"] == 1.0  # agreement itself is a value
    assert not k["kappa_estimable"] and k["weighted_kappa"] is None
    assert "same grade from both readers" in k["kappa_reason"]
    lines = PQ.agreement_findings(k)
    assert lines[1].startswith("Weighted kappa cannot be estimated")


def test_kappa_one_rater_constant_cannot_be_estimated():
    # statsmodels gives kappa 0 with interval (0, 0) here: no information, not "no agreement"
    k = PQ.moderation_agreement(audits([1, 2, 3, 4] * 3, moderated=[2] * 12))
    assert not k["kappa_estimable"] and "moderators gave every" in k["kappa_reason"]
    k = PQ.moderation_agreement(audits([3] * 12, moderated=[1, 2, 3, 4] * 3))
    assert not k["kappa_estimable"] and "auditors gave every" in k["kappa_reason"]
    e = PQ.metric_entries(audits([3] * 12, moderated=[1, 2, 3, 4] * 3), "2025-06")
    entry = e["plan_quality.moderation.weighted_kappa.rolling_12m"]
    assert entry["value"] is None and entry["estimable"] is False and entry["reason"]


def test_kappa_estimable_when_both_raters_vary():
    k = PQ.moderation_agreement(audits([1, 2, 3, 4] * 3, moderated=[1, 2, 4, 4] * 3))
    assert k["kappa_estimable"] and 0 < k["weighted_kappa"] <= 1


def test_no_audits_in_the_window_gives_sentences_not_errors(synthetic):
    a, _ = synthetic
    period = "2019-01"  # before the first audit
    r12 = PQ.window(a, period)
    assert r12.empty
    monthly = PQ.monthly_good_or_better(a, period, months=48)
    lenient = PQ.leniency(PQ.recent(a, period, 24))
    lines = PQ.findings(a, period, monthly, 12, lenient)
    assert lines == ["No case-file audit with a grade is dated in the 12 months to January 2019."]
    heat = PQ.anchor_summary(r12, by=("team",))
    assert "no graded anchors" in PQ.heatmap_title(heat)
    assert "no audited plans" in PQ.checklist_title(PQ.checklist_summary(r12))
    agree = PQ.moderation_agreement(r12)
    assert PQ.agreement_findings(agree)[0].startswith("Agreement cannot be estimated: no ")
    e = PQ.metric_entries(a, period, monthly, 12)
    assert e["plan_quality.good_or_better.rolling_12m"]["value"] is None


def test_small_counts_not_shown_in_agreement_sentence():
    k = PQ.moderation_agreement(audits([1, 2, 3], moderated=[1, 2, 3]))
    assert "only c moderated" in PQ.agreement_findings(k)[0]


def test_too_few_auditor_audits_are_not_called_lenient():
    a = audits([1, 2, 3, 2], moderated=[3, 2, 3, 2], auditors=["X", "Y", "Y", "Y"])
    lenient = PQ.leniency(a)
    assert lenient.set_index("auditor_id").loc["X", "reading"] == "too few"
    monthly = PQ.monthly_good_or_better(a, "2025-06")
    lines = PQ.findings(a, "2025-06", monthly, 12, lenient)
    assert not any("Auditors whose grades differ" in line for line in lines)


def test_one_spc_reading_for_chart_metrics_and_summary(synthetic):
    from audit_lib.indicators import indicator_table

    a, _ = synthetic
    monthly = PQ.monthly_good_or_better(a, "2026-10", months=48)
    chart = spc_rules(monthly["value"].to_numpy(), "higher", baseline=12)  # as spc_chart
    e = PQ.metric_entries(a, "2026-10", monthly, 12)
    m = e["plan_quality.good_or_better.month"]
    assert m["spc_signal"] == chart["signal"].iloc[-1] and m["spc_baseline_months"] == 12
    assert m["spc_rule"] == chart["rule"].iloc[-1]
    row = indicator_table(e).set_index("key").loc["plan_quality.good_or_better"]
    want = {"improvement": "improving", "concern": "concern"}.get(m["spc_signal"])
    assert want is None or row["status"] == want
    title = PQ.spc_title(monthly, "2026-10", 12)
    assert ("improvement" in title) == (m["spc_signal"] == "improvement")


def test_summary_says_when_an_older_signal_happened():
    from audit_lib.indicators import indicator_table, signal_words

    entry = {
        "value": 0.70,
        "spc_signal": "common_cause",
        "spc_last_signal": "improvement",
        "spc_last_signal_month": "2024-09",
        "spc_too_few": False,
    }
    assert signal_words(entry).endswith("Improved in Sep 2024")
    t = indicator_table({"plan_quality.good_or_better.month": entry}).iloc[0]
    assert t["status"] == "below_target"  # the latest point is common cause: not "Improving"
    assert signal_words({"spc_signal": "common_cause", "spc_too_few": True}).startswith("Too few")


def test_titles_and_headlines_hide_shares_the_tables_hide():
    """A 30-child cut: the anchors table hid every share ("c"), but the headline said
    "Weakest practice anchor: Co-production (33% good or better); strongest: Confidence
    (67%)" (1 and 2 of 3), the checklist title "(0% met)" and the SPC title "September
    2026 at 100%" of a month's one or two audits."""
    a = audits([1, 3, 2], dates=["2025-05-10", "2025-06-10", "2025-06-20"])
    monthly = PQ.monthly_good_or_better(a, "2025-06")
    lines = PQ.findings(a, "2025-06", monthly, None, PQ.leniency(a), 5)
    text = " ".join(lines)
    assert "%" not in text, lines
    assert "(c good or better); strongest" in text and "(c of plans)" in text
    assert PQ.spc_title(monthly, "2025-06", None, 5).startswith(
        "Audits graded good or better: June 2025 at c"
    )
    assert PQ.checklist_title(PQ.checklist_summary(a), 5).endswith("(c met)")
    assert "at 50%" in PQ.spc_title(monthly, "2025-06", None, 0)  # suppression off
