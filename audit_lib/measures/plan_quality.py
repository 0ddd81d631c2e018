"""Plan quality from case-file audits: grades, practice anchors, plan checklists and
moderation agreement (METRICS.md "Plan quality").

Grades run 1 outstanding, 2 good, 3 requires improvement, 4 inadequate; "good or
better" is grade 1 or 2. An audit counts in the month of its audit date. The six
anchors are those of the practice framework (Confidence, Clarity, Community,
Co-production, Curiosity, Compassion).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..disclosure import fmt_row_share
from ..metrics import share
from ..model import ANCHORS, CASE_TYPE, GRADE_LABELS, PLAN_CHECKLIST
from ..stats import wilson
from .timeliness import period_bounds

__all__ = [
    "MIN_MODERATED",
    "agreement_findings",
    "anchor_summary",
    "checklist_summary",
    "coverage",
    "grade_distribution",
    "kappa_reason",
    "good_or_better",
    "leniency",
    "moderation_agreement",
    "monthly_good_or_better",
    "window",
]

#: Fewer moderated audits than this and agreement is not estimated.
MIN_MODERATED = 10
CHECKLIST_LABELS = {
    "plan_smart": "SMART outcomes",
    "plan_timescales": "Timescales",
    "plan_contingency": "Contingency plan",
    "plan_child_voice": "Child's voice",
    "plan_coproduced": "Co-produced with the family",
    "plan_written_for_child": "Written for the child",
}
ANCHOR_LABELS = {a: a.replace("coproduction", "co-production").capitalize() for a in ANCHORS}


def window(audits: pd.DataFrame, period: str, name: str = "rolling_12m") -> pd.DataFrame:
    """Audits dated in the period month (``month``) or the 12 months to it (``rolling_12m``)."""
    first, last = period_bounds(period)
    if name == "rolling_12m":
        first = (pd.Period(period, freq="M") - 11).start_time.normalize()
    elif name != "month":
        raise ValueError("window must be 'month' or 'rolling_12m'")
    return audits[audits["audit_date"].between(first, last)]


def _shares(flags: pd.Series, keys: list) -> pd.DataFrame:
    g = flags.astype(float).groupby(keys, observed=True) if keys else None
    if g is None:
        num, den = pd.Series([flags.sum()]), pd.Series([flags.notna().sum()])
        out = pd.DataFrame({"numerator": num.astype(int), "denominator": den.astype(int)})
    else:
        out = pd.DataFrame(
            {"numerator": g.sum().astype(int), "denominator": g.count()}
        ).reset_index()
    out["value"] = out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = wilson(out["numerator"], out["denominator"])
    return out


def good_or_better(audits: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Share of audits graded good or better (overall grade 1-2), with Wilson 95% interval,
    overall or by any of team, case_type, month."""
    a = audits.assign(month=audits["audit_date"].dt.to_period("M").astype(str))
    good = a["overall_grade"].le(2).where(a["overall_grade"].notna())
    return _shares(good, [a[k] for k in by])


def monthly_good_or_better(audits: pd.DataFrame, period: str, months: int = 36) -> pd.DataFrame:
    """Monthly share good or better for the ``months`` up to the period (for the SPC chart)."""
    end = pd.Period(period, freq="M")
    first = (end - (months - 1)).start_time
    a = audits[audits["audit_date"].between(first, end.end_time)]
    out = good_or_better(a, by=("month",))
    return out.rename(columns={"month": "month"})


def grade_distribution(audits: pd.DataFrame) -> pd.DataFrame:
    """Audits by overall grade: grade, label, count and share."""
    counts = audits["overall_grade"].value_counts().reindex(list(GRADE_LABELS), fill_value=0)
    out = pd.DataFrame(
        {
            "grade": list(GRADE_LABELS),
            "label": list(GRADE_LABELS.values()),
            "audits": counts.to_numpy(),
        }
    )
    out["share"] = out["audits"] / out["audits"].sum() if out["audits"].sum() else np.nan
    return out


def anchor_summary(audits: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per practice anchor: audits graded, mean grade and share good or better (Wilson)."""
    long = audits.melt(
        id_vars=list(by), value_vars=list(ANCHORS), var_name="anchor", value_name="grade"
    ).dropna(subset=["grade"])
    long["good"] = long["grade"].le(2)
    keys = [*by, "anchor"]
    g = long.groupby(keys, observed=True)
    out = pd.DataFrame(
        {
            "numerator": g["good"].sum().astype(int),
            "denominator": g.size(),
            "mean_grade": g["grade"].mean().astype(float),
        }
    ).reset_index()
    out["value"] = out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = wilson(out["numerator"], out["denominator"])
    order = {a: i for i, a in enumerate(ANCHORS)}
    return out.sort_values(
        [*by, "anchor"], key=lambda s: s.map(order) if s.name == "anchor" else s, kind="stable"
    ).reset_index(drop=True)


def checklist_summary(audits: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per plan-checklist item: share of audited plans meeting it (Wilson), overall or by
    team or month."""
    a = audits.assign(month=audits["audit_date"].dt.to_period("M").astype(str))
    long = a.melt(
        id_vars=list(by), value_vars=list(PLAN_CHECKLIST), var_name="item", value_name="met"
    ).dropna(subset=["met"])
    long["met"] = long["met"].astype(bool)
    g = long.groupby([*by, "item"], observed=True)["met"]
    out = pd.DataFrame({"numerator": g.sum().astype(int), "denominator": g.size()}).reset_index()
    out["value"] = out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = wilson(out["numerator"], out["denominator"])
    out["label"] = out["item"].map(CHECKLIST_LABELS)
    return out


def moderation_agreement(audits: pd.DataFrame, min_moderated: int = MIN_MODERATED) -> dict:
    """Agreement between auditor and moderator on the overall grade.

    Exact agreement (share of identical grades, Wilson interval) and Cohen's weighted
    kappa with quadratic weights over the four ordinal grades, with its analytic 95%
    interval (asymptotic standard error, Fleiss, Cohen & Everitt 1969, as statsmodels
    computes it). With fewer than ``min_moderated`` moderated audits nothing is
    estimated and ``estimable`` is False.
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    m = audits.dropna(subset=["moderated_grade", "overall_grade"])
    n = len(m)
    out = {"moderated": n, "estimable": n >= min_moderated}
    if not out["estimable"]:
        return out
    a = m["overall_grade"].astype(int).to_numpy()
    b = m["moderated_grade"].astype(int).to_numpy()
    table = np.zeros((4, 4))
    np.add.at(table, (a - 1, b - 1), 1)
    same = int((a == b).sum())
    lo, hi = wilson(same, n)
    out.update(
        exact_agreement=same / n,
        exact_lower=float(lo),
        exact_upper=float(hi),
        agree=same,
        table=table.astype(int),
    )
    reason = kappa_reason(a, b)
    out.update(kappa_estimable=reason == "", kappa_reason=reason)
    if reason:
        out.update(weighted_kappa=None, kappa_lower=None, kappa_upper=None)
        return out
    k = cohens_kappa(table, wt="quadratic")
    out.update(
        weighted_kappa=float(k.kappa),
        kappa_lower=float(k.kappa_low),
        kappa_upper=float(k.kappa_upp),
    )
    return out


def kappa_reason(a: np.ndarray, b: np.ndarray) -> str:
    """Why weighted kappa cannot be estimated for two raters' grades, or "" if it can.

    Kappa compares agreement with the agreement expected by chance from each rater's
    grade distribution. If both raters gave every audit one and the same grade, chance
    agreement is 1 and kappa is 0/0; if one rater gave every audit the same grade, kappa
    is 0 whatever the other did, with no sampling spread: neither says anything about
    agreement.
    """
    one_a, one_b = len(np.unique(a)) == 1, len(np.unique(b)) == 1
    if one_a and one_b:
        return "cannot be estimated: every moderated audit has the same grade from both readers"
    if one_a:
        return "cannot be estimated: the auditors gave every moderated audit the same grade"
    if one_b:
        return "cannot be estimated: the moderators gave every moderated audit the same grade"
    return ""


def agreement_findings(
    agree: dict, min_moderated: int = MIN_MODERATED, suppress_max: int = 5
) -> list[str]:
    """Sentences on moderation agreement for the page, for any result. The exact-agreement
    share and its interval are left out where the audits agreeing, or not, number 1..
    ``suppress_max`` (disclosure.hide_rate); kappa says why it cannot be estimated."""
    from ..disclosure import fmt_count, hide_rate
    from ..report import fmt_pct

    n = agree["moderated"]
    if not agree["estimable"]:
        had = "no" if n == 0 else f"only {fmt_count(n, suppress_max)}"
        return [
            f"Agreement cannot be estimated: {had} moderated audits in the last 12 months "
            f"(at least {min_moderated} are needed)."
        ]
    if hide_rate([agree["agree"]], [n], suppress_max)[0]:
        lines = [
            f"Exact agreement on {n:,} moderated audits is not shown: too few audits "
            "agreed, or disagreed, to show it without identifying them."
        ]
    else:
        lines = [
            f"Exact agreement: {fmt_pct(agree['exact_agreement'])} of {n:,} moderated audits "
            f"(95% CI {fmt_pct(agree['exact_lower'])} to {fmt_pct(agree['exact_upper'])})."
        ]
    if agree.get("kappa_estimable", True):
        lines.append(
            f"Weighted kappa (quadratic): {agree['weighted_kappa']:.2f} (95% CI "
            f"{agree['kappa_lower']:.2f} to {agree['kappa_upper']:.2f})."
        )
    else:
        lines.append(f"Weighted kappa {agree['kappa_reason']}.")
    return lines


def leniency(audits: pd.DataFrame, level: float = 0.95, adjust: bool = True) -> pd.DataFrame:
    """Per auditor: mean of (auditor grade − moderator grade) on moderated audits, with a
    t interval. Negative means the auditor grades more generously (a lower grade is
    better). With ``adjust`` the intervals are Bonferroni-adjusted for the number of
    auditors, so that "excludes zero" holds for all auditors together at ``level``.
    """
    m = audits.dropna(subset=["moderated_grade", "overall_grade"])
    d = (m["overall_grade"] - m["moderated_grade"]).astype(float)
    g = d.groupby(m["auditor_id"])
    out = pd.DataFrame({"audits": g.size(), "mean_difference": g.mean(), "sd": g.std(ddof=1)})
    k = len(out) if adjust else 1
    alpha = (1 - level) / max(k, 1)
    df = (out["audits"] - 1).clip(lower=1)
    t = special.stdtrit(df, 1 - alpha / 2)
    se = out["sd"] / np.sqrt(out["audits"])
    out["lower"] = out["mean_difference"] - t * se
    out["upper"] = out["mean_difference"] + t * se
    out["reading"] = np.select(
        [out["upper"] < 0, out["lower"] > 0], ["more generous", "harsher"], "in line"
    )
    out.loc[out["audits"] < 2, ["lower", "upper"]] = np.nan
    out.loc[out["audits"] < 2, "reading"] = "too few"
    return out.reset_index()


def coverage(audits: pd.DataFrame, period: str, target_per_team: int, teams=None) -> dict:
    """Audits per team in the period month against a target, and case types not audited
    in the last 12 months."""
    month = window(audits, period, "month")
    r12 = window(audits, period, "rolling_12m")
    teams = sorted(set(audits["team"].dropna()) if teams is None else teams)
    per_team = month.groupby("team").size().reindex(teams, fill_value=0)
    table = pd.DataFrame({"team": teams, "audits": per_team.to_numpy(), "target": target_per_team})
    table["met"] = table["audits"] >= table["target"]
    unaudited = sorted(set(CASE_TYPE) - set(r12["case_type"].dropna()))
    return {"teams": table, "unaudited_case_types": unaudited}


def spc_reading(monthly: pd.DataFrame, baseline: int | None) -> dict:
    """The one SPC reading of the monthly share good or better (chart, metrics and
    summary all use it): ``stats.spc_reading`` with the chart's fixed baseline."""
    from ..stats import spc_reading as _reading

    return _reading(monthly["value"].to_numpy(), monthly["month"], "higher", baseline=baseline)


def metric_entries(
    audits: pd.DataFrame,
    period: str,
    monthly: pd.DataFrame | None = None,
    baseline: int | None = 12,
) -> dict:
    """metrics.json entries ``plan_quality.*`` for the period. The SPC reading is the
    chart's (limits fixed on the first ``baseline`` months); ``mean_12m_min_count`` is
    the smallest count the 12-month mean rests on (:func:`disclosure.smallest_count`)."""
    from ..disclosure import smallest_count

    out = {}
    for w in ("month", "rolling_12m"):
        r = good_or_better(window(audits, period, w)).iloc[0]
        extra = {}
        if w == "month" and monthly is not None and len(monthly) >= 2:
            rd = spc_reading(monthly, baseline)
            extra = {
                "spc_signal": rd["signal"],
                "spc_rule": rd["rule"],
                "spc_too_few": rd["too_few"],
                "spc_last_signal": rd["last_signal"],
                "spc_last_signal_month": rd["last_signal_at"],
                "spc_baseline_months": baseline,
                "mean_12m": float(monthly["value"].iloc[-12:].mean()),
                "mean_12m_min_count": smallest_count(monthly.iloc[-12:]),
            }
        out[f"plan_quality.good_or_better.{w}"] = share(r["numerator"], r["denominator"], **extra)
    r12 = window(audits, period)
    for r in anchor_summary(r12).itertuples():
        out[f"plan_quality.anchor.{r.anchor}.rolling_12m"] = share(
            r.numerator, r.denominator, mean_grade=r.mean_grade
        )
    for r in checklist_summary(r12).itertuples():
        out[f"plan_quality.checklist.{r.item}.rolling_12m"] = share(r.numerator, r.denominator)
    agree = moderation_agreement(r12)
    if agree["estimable"]:
        out["plan_quality.moderation.weighted_kappa.rolling_12m"] = {
            "value": agree["weighted_kappa"],
            "lower": agree["kappa_lower"],
            "upper": agree["kappa_upper"],
            "n": agree["moderated"],
            "estimable": agree["kappa_estimable"],
            "reason": agree["kappa_reason"],
            "method": "Cohen's kappa, quadratic weights, analytic 95% interval",
        }
        out["plan_quality.moderation.exact_agreement.rolling_12m"] = share(
            agree["agree"], agree["moderated"]
        )
    return out


def spc_title(
    monthly: pd.DataFrame, period: str, baseline: int | None, suppress_max: int = 5
) -> str:
    """SPC chart title stating where the monthly share good or better now stands (its
    share "c" where the month's numerator, complement or audits are 1..``suppress_max``,
    and then not judged: the chart leaves that month out)."""
    from ..disclosure import SUPPRESSED
    from ..report import month_label
    from .timeliness import latest_share, signal_phrase

    if len(monthly) < 2:
        return "Audits graded good or better: too few months to chart"
    rd = spc_reading(monthly, baseline)
    share = latest_share(monthly, suppress_max)
    head = (
        f"Audits graded good or better: {month_label(str(monthly['month'].iloc[-1]))} at {share}, "
    )
    if rd["too_few"]:
        return head + f"too few points for SPC ({rd['points']} months)"
    if share == SUPPRESSED:
        return head + "too few audits to judge"
    since = ""
    if rd["signal"] == "common_cause" and rd["last_signal"]:
        word = "improved" if rd["last_signal"] == "improvement" else "deteriorated"
        since = f"; last {word} in {month_label(rd['last_signal_at'])}"
    return head + signal_phrase(rd["rule"], rd["signal"]) + since


def findings(
    audits: pd.DataFrame,
    period: str,
    monthly: pd.DataFrame,
    baseline: int | None,
    lenient: pd.DataFrame,
    suppress_max: int = 5,
) -> list[str]:
    """Headline findings in plain English from the tested frames."""
    from ..disclosure import hide_rate, merge_small_groups
    from ..report import fmt_pct, month_label
    from ..stats import funnel_position

    r12 = window(audits, period)
    lines = []
    g = good_or_better(r12).iloc[0]
    if g["denominator"] == 0:
        return [
            f"No case-file audit with a grade is dated in the 12 months to {month_label(period)}."
        ]
    if hide_rate([g["numerator"]], [g["denominator"]], suppress_max)[0]:
        lines.append(
            f"In the 12 months to {month_label(period)}, too few audits were graded to show "
            "the share good or better without identifying cases."
        )
    else:
        lines.append(
            f"In the 12 months to {month_label(period)}, {fmt_pct(g['value'])} of "
            f"{int(g['denominator']):,} audited cases were graded good or better "
            f"(95% CI {fmt_pct(g['lower'])} to {fmt_pct(g['upper'])})."
        )
    lines.append(
        spc_title(monthly, period, baseline, suppress_max).replace(
            "Audits graded good or better: ", "Month by month: "
        )
        + "."
    )
    anchors = anchor_summary(r12)
    if len(anchors):
        weak = anchors.loc[anchors["value"].idxmin()]
        strong = anchors.loc[anchors["value"].idxmax()]
        lines.append(
            f"Weakest practice anchor: {ANCHOR_LABELS[weak['anchor']]} "
            f"({fmt_row_share(weak, suppress_max)} good or better); strongest: "
            f"{ANCHOR_LABELS[strong['anchor']]} ({fmt_row_share(strong, suppress_max)})."
        )
    items = checklist_summary(r12)
    if len(items):
        low = items.loc[items["value"].idxmin()]
        lines.append(
            f"Plan checklist item met least often: {low['label']} "
            f"({fmt_row_share(low, suppress_max)} of plans)."
        )
    teams = merge_small_groups(good_or_better(r12, by=("team",)), "team", suppress_max=suppress_max)
    if len(teams) > 2:
        pos = funnel_position(teams)
        out = pos[pos["position"] != "within"]
        if len(out):
            lines.append(
                "Teams outside the 99.8% funnel: "
                + ", ".join(
                    f"{t} ({fmt_pct(v)}, {p})"
                    for t, v, p in zip(out["team"], out["value"], out["position"], strict=True)
                )
                + "."
            )
    gen = lenient[
        lenient["reading"].isin(["more generous", "harsher"]) & (lenient["audits"] > suppress_max)
    ]
    if len(gen):
        lines.append(
            "Auditors whose grades differ from moderators' beyond chance: "
            + ", ".join(
                f"{a} ({r}, {d:+.2f} grade)"
                for a, r, d in zip(
                    gen["auditor_id"], gen["reading"], gen["mean_difference"], strict=True
                )
            )
            + "."
        )
    return lines[:6]


def heatmap_title(heat: pd.DataFrame) -> str:
    """Heatmap title naming the weakest anchor across teams, for any result."""
    means = heat.dropna(subset=["value"]).groupby("anchor")["value"].mean()
    if means.empty:
        return "Practice anchors by team: no graded anchors in the last 12 months"
    return (
        f"{means.idxmin()} is the weakest anchor across teams "
        "(share good or better, last 12 months)"
    )


def checklist_title(items: pd.DataFrame, suppress_max: int = 5) -> str:
    """Checklist chart title naming the item met least often, for any result (its share
    "c" where its numerator, complement or plans are 1..``suppress_max``)."""
    items = items.dropna(subset=["value"])
    if items.empty:
        return "Plan checklist: no audited plans in the last 12 months"
    low = items.loc[items["value"].idxmin()]
    return f"Plans most often lack: {str(low['label']).lower()} ({fmt_row_share(low, suppress_max)} met)"


def recent(audits: pd.DataFrame, period: str, months: int) -> pd.DataFrame:
    """Audits in the ``months`` months up to and including the period."""
    first = (pd.Period(period, freq="M") - (months - 1)).start_time
    _, last = period_bounds(period)
    return audits[audits["audit_date"].between(first, last)]


def funnel_title(teams: pd.DataFrame, suppress_max: int = 5) -> str:
    """Funnel title naming teams outside the 99.8% limits, if any (small teams merged
    into "Other teams", as the funnel plot shows them)."""
    from ..disclosure import merge_small_groups
    from ..stats import funnel_position

    teams = merge_small_groups(teams, "team", suppress_max=suppress_max)
    if teams.empty:
        return "Audits graded good or better by team: too few audits per team to compare"
    pos = funnel_position(teams)
    out = pos[pos["position"] != "within"]
    if out.empty:
        return "Audits graded good or better by team, last 12 months: every team is within the 99.8% limits"
    names = ", ".join(f"{t} ({p})" for t, p in zip(out["team"], out["position"], strict=True))
    return (
        f"Audits graded good or better by team, last 12 months: outside the 99.8% limits: {names}"
    )
