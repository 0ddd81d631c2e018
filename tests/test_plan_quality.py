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
