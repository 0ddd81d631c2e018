"""Permanence drift for children looked after (METRICS.md "Permanence drift").

Episodes become spells (audit_lib.spells). For each spell, the outcome is the first of:
return home (REC E4A), adoption order (E11, E12), special guardianship order (E43-E48),
child arrangements order (E41), or a long-term fostering match confirmed (a
long_term_fostering plan's achieved date in permanence_plans). Children still in care
are censored at the period end; other exits (E13, E3, E17, ...) are competing risks.
The headline is the Aalen-Johansen cumulative incidence of permanence (audit_lib.stats);
Kaplan-Meier (lifelines) is kept, labelled "if no other exit occurred".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..calendar import add_working_days
from ..model import PERMANENCE_EXIT, age_in_years, ethnic_group
from ..spells import mark_spells, placements, spells
from ..stats import aalen_johansen, step_at, step_median, wilson
from .timeliness import period_bounds

__all__ = [
    "adoption_chart",
    "adoption_relations",
    "cohort_shares",
    "stability_table",
    "OUTCOMES",
    "adoption_by_group",
    "adoption_scorecard",
    "competing_risks",
    "complete_cohorts",
    "cumulative_incidence",
    "drift_flags",
    "episode_findings",
    "kaplan_meier",
    "large_routes",
    "plan_by_second_review",
    "shown_curve",
    "spell_outcomes",
    "stability",
    "unavailable_flags",
]

#: Outcome codes: 0 still in care (censored), 1-5 permanence, 6 another exit (competing).
OUTCOMES = {
    1: "return_home",
    2: "adoption",
    3: "sgo",
    4: "cao",
    5: "long_term_fostering",
    6: "other_exit",
}
_CODE = {v: k for k, v in OUTCOMES.items()}
#: The team of a child in care whose team the data do not record (a column of the drift
#: table by team: "not known" there read as a team of that name).
NO_TEAM = "no team recorded"

DRIFT_FLAGS = (
    "no_plan_by_second_review",
    "plan_changed_twice",
    "in_care_12m_no_permanence",
    "in_care_18m_no_permanence",
    "in_care_24m_no_permanence",
    "ltf_not_matched_6m",
    "adoption_no_match_121d",
)


def episode_findings(episodes: pd.DataFrame) -> pd.DataFrame:
    """Data-quality findings in a child's episodes: duplicates (same start) and overlaps
    (an episode starting before the previous one ended). One row per finding."""
    e = episodes.sort_values(["child_id", "episode_start"], kind="stable")
    same = e["child_id"].eq(e["child_id"].shift())
    dup = same & e["episode_start"].eq(e["episode_start"].shift())
    prev_end = e["episode_end"].shift()
    overlap = same & ~dup & (prev_end.isna() | (e["episode_start"] < prev_end))
    out = pd.concat(
        [
            e[dup].assign(finding="duplicate episode start"),
            e[overlap].assign(finding="overlaps the previous episode"),
        ]
    )
    return out[["child_id", "episode_start", "finding"]].reset_index(drop=True)


def _first_after(events: pd.DataFrame, sp: pd.DataFrame, date_col: str) -> pd.Series:
    """For each spell, the first ``date_col`` of ``events`` (by child) inside the spell."""
    m = (
        events[["child_id", date_col]]
        .dropna()
        .merge(sp[["child_id", "spell", "start", "stop"]], on="child_id")
    )
    m = m[(m[date_col] >= m["start"]) & (m[date_col] <= m["stop"])]
    return m.groupby(["child_id", "spell"])[date_col].min()


def age_at_entry(date_of_birth: pd.Series, entered: pd.Series) -> pd.Series:
    """Age band at entering care (under 1, 1-4, 5-9, 10-15, 16-17), from age in completed
    years on the calendar; unknown or out-of-range ages give "not known"."""
    age = age_in_years(date_of_birth, entered).astype(float)
    bands = pd.cut(age, [-1, 0, 4, 9, 15, 17], labels=["under 1", "1-4", "5-9", "10-15", "16-17"])
    return bands.astype(object).where(bands.notna(), "not known").astype(str)


def spell_outcomes(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per care spell starting on or before ``as_of``, with its outcome as at
    ``as_of``: outcome code and name, days to the outcome or to censoring, and the
    child's age at entry, ethnic group, entry cohort (financial year) and first plan."""
    sp = spells(tables["cla_episodes"])
    sp = sp[sp["start"] <= as_of].copy()
    sp["end_as_of"] = sp["end"].where(sp["end"] <= as_of)
    sp["stop"] = sp["end_as_of"].fillna(as_of)
    pp = tables["permanence_plans"]
    ltf = pp[pp["plan"].eq("long_term_fostering") & (pp["achieved_date"] <= as_of)]
    match = _first_after(ltf, sp, "achieved_date")
    key = pd.MultiIndex.from_frame(sp[["child_id", "spell"]])
    sp["ltf_match"] = match.reindex(key).to_numpy()
    exit_outcome = sp["reason_ceased"].map(PERMANENCE_EXIT).where(sp["end_as_of"].notna())
    code = np.zeros(len(sp), dtype=int)
    when = sp["stop"].copy()
    perm_exit = exit_outcome.notna().to_numpy()
    ltf_first = sp["ltf_match"].notna().to_numpy() & (
        ~perm_exit | (sp["ltf_match"] < sp["end_as_of"]).fillna(False).to_numpy()
    )
    code[perm_exit] = exit_outcome[perm_exit].map(_CODE).to_numpy()
    other = sp["end_as_of"].notna().to_numpy() & ~perm_exit
    code[other] = 6
    code[ltf_first] = 5
    when[ltf_first] = sp.loc[ltf_first, "ltf_match"]
    sp["outcome_code"] = code
    sp["outcome"] = pd.Series(code).map({0: "in_care", **OUTCOMES}).to_numpy()
    sp["days"] = (when - sp["start"]).dt.days.clip(lower=0)
    kids = tables["children"].set_index("child_id")
    sp["age_at_entry"] = age_at_entry(sp["child_id"].map(kids["date_of_birth"]), sp["start"])
    sp["group"] = ethnic_group(sp["child_id"].map(kids["ethnicity"]))
    fy = (sp["start"] - pd.DateOffset(months=3)).dt.year  # financial year, April to March
    sp["entry_cohort"] = fy.astype(str) + "-" + ((fy + 1) % 100).astype(str).str.zfill(2)
    first_plan = pp.merge(sp[["child_id", "spell", "start", "stop"]], on="child_id")
    first_plan = first_plan[
        first_plan["decision_date"].between(first_plan["start"], first_plan["stop"])
    ]
    fp = first_plan.sort_values("decision_date").groupby(["child_id", "spell"])["plan"].first()
    sp["plan"] = fp.reindex(key).fillna("no plan").to_numpy()
    return sp.reset_index(drop=True)


#: Fewer spells than this in a group and nothing is estimated for it.
MIN_SPELLS = 2
_TIME_COLUMNS = [
    "group",
    "n",
    "events",
    "events_within",
    "estimable",
    "median_days",
    "median_lower",
    "median_upper",
    "within",
    "within_lower",
    "within_upper",
    "note",
]


def _groups(outcomes: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [("all", outcomes)]
    return [(str(k), f) for k, f in outcomes.groupby(by, observed=True, sort=True) if len(f)]


def _not_estimable(name, n: int, events: int, reason: str) -> dict:
    row = dict.fromkeys(_TIME_COLUMNS)
    row.update(group=name, n=n, events=events, estimable=False, note=reason)
    return row


def _no_spells(by: str | None) -> pd.DataFrame:
    """Overall: one row saying why nothing is estimated; by a column: no groups, no rows."""
    if by is not None:
        return pd.DataFrame(columns=_TIME_COLUMNS)
    return pd.DataFrame([_not_estimable("all", 0, 0, "cannot be estimated: no care spells")])


def _time_row(name, f: pd.DataFrame, curve: pd.DataFrame, horizon: int, min_n: int) -> dict:
    """One row of a time-to-permanence table from an estimated 'achieved' step curve."""
    n, events = len(f), int(f["outcome_code"].between(1, 5).sum())
    if n == 0:
        return _not_estimable(name, 0, 0, "cannot be estimated: no care spells")
    if n < min_n:
        return _not_estimable(name, n, events, "cannot be estimated: too few spells")
    at = step_at(curve, horizon, ("achieved", "lower", "upper"))
    med = step_median(curve, "achieved")
    notes = []
    if med["value"] is None:
        notes.append("median not reached: fewer than half have, so far")
    if events == 0:
        notes.append("no child has reached permanence")
        at["lower"] = at["upper"] = None
    return {
        "group": name,
        "n": n,
        "events": events,
        "events_within": int((f["outcome_code"].between(1, 5) & (f["days"] <= horizon)).sum()),
        "estimable": True,
        "median_days": med["value"],
        "median_lower": med["lower"],
        "median_upper": med["upper"],
        "within": at["achieved"],
        "within_lower": at["lower"],
        "within_upper": at["upper"],
        "note": "; ".join(notes),
    }


def permanence_curve(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Cumulative incidence of any permanence (Aalen-Johansen), other exits competing:
    days, achieved, lower, upper (95%, log(-log), Gray's variance as R cmprsk). Empty
    when no child has reached permanence."""
    cause = np.where(
        outcomes["outcome_code"].between(1, 5), 1, np.where(outcomes["outcome_code"] == 6, 2, 0)
    )
    c = aalen_johansen(outcomes["days"].to_numpy(dtype=float), cause, 1)
    return c.rename(columns={"incidence": "achieved"})[["days", "achieved", "lower", "upper"]]


def competing_risks(
    outcomes: pd.DataFrame, by: str | None = None, horizon: int = 365, min_n: int = MIN_SPELLS
) -> pd.DataFrame:
    """Time to any permanence with other exits as competing risks (the headline).

    Aalen-Johansen cumulative incidence of permanence (any of the five routes), other
    exits competing, children still in care censored: the share achieving permanence
    within ``horizon`` days (events on day ``horizon`` included) and the median (the day
    the cumulative incidence reaches one half; "not reached" while fewer than half have),
    each with a 95% interval (log(-log) transform of Gray's variance, as R
    ``cmprsk::cuminc``; the median's interval where the band reaches one half). One row
    per group (overall: ``all``); a group that cannot be estimated says why in ``note``.
    """
    groups = _groups(outcomes, by)
    if not groups:
        return _no_spells(by)
    rows = [
        _time_row(name, f, permanence_curve(f), horizon, min_n)
        for name, f in groups  # one fit per group (a handful), vectorised inside
    ]
    return pd.DataFrame(rows, columns=_TIME_COLUMNS)


_MEDIANS, _WITHIN = (
    ("median_days", "median_lower", "median_upper"),
    ("within", "within_lower", "within_upper"),
)
#: How a table of :func:`competing_risks` by group is shown (``styled_table(**TIME_TABLE)``):
#: the columns of spells and of permanent outcomes sum to totals a reader has (the page
#: gives the spells; every breakdown gives the outcomes); the share within the horizon is
#: hidden as a rate of the outcomes by then (``events_within``, not shown) over the
#: spells (0.7% of 160 spells was 1 child), and the median with either count.
TIME_TABLE = {
    "counts": ("n", "events", "events_within"),
    "decimals": _MEDIANS,
    "percent": _WITHIN,
    "relations": [("column", "n"), ("column", "events")],
    "shares": dict.fromkeys(_WITHIN, "events_within"),
    "denominators": dict.fromkeys(_WITHIN, "n"),
    "hidden_with": dict.fromkeys(_MEDIANS, ("n", "events")),
    "hide": ("events_within",),
}


def km_curve(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier share achieving permanence *if no other exit occurred* (other exits
    censored): days, achieved, lower, upper (95%, log(-log) Greenwood, lifelines). Empty
    for no spells or no permanence."""
    from lifelines import KaplanMeierFitter

    event = outcomes["outcome_code"].between(1, 5)
    if len(outcomes) == 0 or not event.any():
        return pd.DataFrame(columns=["days", "achieved", "lower", "upper"], dtype=float)
    kmf = KaplanMeierFitter().fit(outcomes["days"], event)
    band = kmf.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "days": kmf.survival_function_.index,
            "achieved": 1 - kmf.survival_function_.iloc[:, 0].to_numpy(),
            "lower": 1 - band.iloc[:, 1].to_numpy(),
            "upper": 1 - band.iloc[:, 0].to_numpy(),
        }
    )


def kaplan_meier(
    outcomes: pd.DataFrame, by: str | None = None, horizon: int = 365, min_n: int = MIN_SPELLS
) -> pd.DataFrame:
    """Kaplan-Meier time to permanence *if no other exit occurred* (other exits censored).

    Overstates permanence where children leave care by other routes: the headline is
    ``competing_risks``. Same columns; degenerate groups give a row saying why.
    """
    groups = _groups(outcomes, by)
    if not groups:
        return _no_spells(by)
    rows = [_time_row(name, f, km_curve(f), horizon, min_n) for name, f in groups]
    return pd.DataFrame(rows, columns=_TIME_COLUMNS)


def cumulative_incidence(
    outcomes: pd.DataFrame, horizon: int = 365
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aalen-Johansen cumulative incidence of each outcome, the others competing.

    Returns (curves: days, outcome, incidence; at_horizon: outcome, incidence, 95%
    interval, events, and events by ``horizon`` days, events on that day included). With no exits
    at all, curves is empty and every outcome is at 0 with no interval.
    """
    curves, at = [], []
    days = outcomes["days"].to_numpy(dtype=float)
    code = outcomes["outcome_code"].to_numpy()
    for k, name in OUTCOMES.items():
        c = aalen_johansen(days, code, k)
        if len(c):
            curves.append(c.assign(outcome=name)[["days", "outcome", "incidence"]])
        v = step_at(c, horizon)
        if c.empty:
            v["lower"] = v["upper"] = None
        within = int(((code == k) & (days <= horizon)).sum())
        at.append({"outcome": name, "events": int((code == k).sum()), "events_within": within, **v})
    cols = ["days", "outcome", "incidence"]
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=cols)
    return curves, pd.DataFrame(at)


def _days(x) -> str:
    return f"{x:,.0f}"


def _too_few(row: dict | pd.Series, suppress_max: int) -> bool:
    """True where a row of :func:`competing_risks` has 1 to ``suppress_max`` spells
    (``n``) or permanent outcomes (``events``): the tables hide its median
    (:data:`TIME_TABLE`), and its curve's steps are a few children's days."""
    from ..disclosure import is_suppressed

    return bool(is_suppressed([row.get("n"), row.get("events")], suppress_max).any())


def median_sentence(row: dict | pd.Series, suppress_max: int = 5) -> str:
    """Plain-English headline for the time to permanence, for any result (chart title).
    The median is not given where the row's spells (``n``) or permanent outcomes
    (``events``) are 1 to ``suppress_max``, as the tables hide it (:data:`TIME_TABLE`)."""
    row = dict(row)
    if not row.get("estimable"):
        return f"Time to permanence {row.get('note') or 'cannot be estimated'}"
    if _too_few(row, suppress_max):
        return (
            "Time to permanence is not shown: too few children to show it without identifying them"
        )
    lead = "Half of children reach permanence within"
    if row.get("median_days") is None or pd.isna(row.get("median_days")):
        return f"{lead} ... (not reached: fewer than half have, so far)"
    lo, hi = row.get("median_lower"), row.get("median_upper")
    if lo is None or pd.isna(lo):
        ci = ""
    elif hi is None or pd.isna(hi):
        ci = f" (95% CI {_days(lo)} days to not yet reached)"
    else:
        ci = f" (95% CI {_days(lo)} to {_days(hi)})"
    return f"{lead} {_days(row['median_days'])} days of entering care{ci}"


def incidence_sentence(at_horizon: pd.DataFrame, suppress_max: int = 5) -> str:
    """Chart title for the routes out of care: the commonest route within a year (its
    share "c" when 1 to ``suppress_max`` children took it by then)."""
    from ..disclosure import SUPPRESSED, is_suppressed
    from ..report import fmt_pct

    seen = at_horizon[at_horizon["events"] > 0]
    if seen.empty:
        return "No child in these spells has left care yet: routes cannot be compared"
    top = seen.sort_values("incidence", ascending=False).iloc[0]
    few = is_suppressed([top.get("events_within")], suppress_max)[0]
    return (
        f"Within a year, {top['outcome'].replace('_', ' ')} is the commonest route "
        f"({SUPPRESSED if few else fmt_pct(top['incidence'])} of children)"
    )


def shown_curve(curve: pd.DataFrame, row: dict | pd.Series, suppress_max: int = 5) -> pd.DataFrame:
    """The overall curve of :func:`permanence_curve`, empty where its row of
    :func:`competing_risks` has 1 to ``suppress_max`` permanent outcomes or spells: each
    step is a child's day and share (the tables hide the median beside so few; the
    routes chart leaves such a route out, :func:`large_routes`)."""
    return curve.iloc[:0] if _too_few(row, suppress_max) else curve


def large_routes(curves: pd.DataFrame, at_horizon: pd.DataFrame, suppress_max: int = 5):
    """The curves of :func:`cumulative_incidence` without the routes 1 to
    ``suppress_max`` children took: each step of such a curve is a child's day and share
    (a 30-child cut drew 2 returns home, the table beside it "c")."""
    from ..disclosure import is_suppressed

    few = at_horizon.loc[is_suppressed(at_horizon["events"], suppress_max), "outcome"]
    return curves[~curves["outcome"].isin(few)]


def complete_cohorts(
    outcomes: pd.DataFrame, as_of: pd.Timestamp, horizon: int = 365
) -> pd.DataFrame:
    """Spells of entry cohorts (financial years) whose last entrant has been followed for
    ``horizon`` days by ``as_of``: only these can show "within 12 months" in full."""
    fy = outcomes["entry_cohort"].str[:4].astype(int)
    cohort_end = pd.to_datetime((fy + 1).astype(str) + "-03-31")
    return outcomes[(cohort_end + pd.Timedelta(days=horizon)) <= as_of]


def _second(rv: pd.DataFrame) -> pd.Series:
    """Each spell's second review date (reviews sorted by date), without a per-group loop."""
    rv = rv.sort_values("review_date", kind="stable")
    nth = rv.groupby(["child_id", "spell"]).cumcount()
    return rv[nth == 1].set_index(["child_id", "spell"])["review_date"]


def plan_by_second_review(
    tables: dict[str, pd.DataFrame], outcomes: pd.DataFrame, period: str
) -> pd.DataFrame:
    """Spells that started in the 12 months to ``period`` and have reached their second
    review (held, or due: 20 working days plus 3 months after entry) by the period end,
    and whether a permanence plan was recorded by then. One row per spell."""
    first, as_of = (pd.Period(period, freq="M") - 11).start_time, period_bounds(period)[1]
    sp = outcomes[outcomes["start"].between(first, as_of)].copy()
    rv = tables["cla_reviews"].merge(sp[["child_id", "spell", "start", "stop"]], on="child_id")
    rv = rv[rv["review_date"].between(rv["start"], rv["stop"])].sort_values("review_date")
    key = pd.MultiIndex.from_frame(sp[["child_id", "spell"]])
    held = _second(rv)
    due = add_working_days(sp["start"], 20) + pd.DateOffset(months=3)
    sp["second_review"] = held.reindex(key).to_numpy()
    sp["second_review"] = sp["second_review"].fillna(due)
    sp = sp[sp["second_review"] <= as_of]
    pp = tables["permanence_plans"].merge(
        sp[["child_id", "spell", "start", "second_review"]], on="child_id"
    )
    ok = pp[pp["decision_date"].between(pp["start"], pp["second_review"])]
    has = ok.groupby(["child_id", "spell"]).size()
    sp["plan_by_second_review"] = (
        has.reindex(pd.MultiIndex.from_frame(sp[["child_id", "spell"]])).notna().to_numpy()
    )
    return sp


def _known(dates: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """``dates`` as known at ``as_of``: a later date has not happened yet (NaT)."""
    return dates.where(dates <= as_of)


def drift_flags(
    tables: dict[str, pd.DataFrame], outcomes: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Drift flags for each child in care at ``as_of`` (their current spell), and the drift
    score: the number of flags raised (0-7). Dates after ``as_of`` (a match made later)
    are not yet known, as for a run at the time.

    Flags: no permanence plan by the second review; plan changed two or more times in the
    spell; in care 12, 18 and 24 months with permanence not achieved; a long-term
    fostering plan not matched within 6 calendar months of the decision; an adoption
    plan with no match within 121 days of the placement order.
    """
    open_ = outcomes[outcomes["end_as_of"].isna()].copy()
    pp = tables["permanence_plans"].merge(open_[["child_id", "spell", "start"]], on="child_id")
    pp = pp[pp["decision_date"].between(pp["start"], as_of)].sort_values("decision_date")
    key = pd.MultiIndex.from_frame(open_[["child_id", "spell"]])
    g = pp.groupby(["child_id", "spell"])
    n_plans = g.size().reindex(key).fillna(0).to_numpy()
    first_plan = g["decision_date"].min().reindex(key).to_numpy()
    latest = g.tail(1).set_index(["child_id", "spell"]).reindex(key)
    rv = tables["cla_reviews"].merge(open_[["child_id", "spell", "start"]], on="child_id")
    rv = rv[rv["review_date"].between(rv["start"], as_of)].sort_values("review_date")
    second = _second(rv).reindex(key).to_numpy()
    due = (add_working_days(open_["start"], 20) + pd.DateOffset(months=3)).to_numpy()
    second = np.where(pd.isna(second), due, second)
    achieved = open_["outcome_code"].between(1, 5).to_numpy()
    f = pd.DataFrame(
        {
            "child_id": open_["child_id"].to_numpy(),
            "spell": open_["spell"].to_numpy(),
            "start": open_["start"].to_numpy(),
            "group": open_["group"].to_numpy(),
        }
    )
    f["no_plan_by_second_review"] = (second <= as_of) & (
        pd.isna(first_plan) | (first_plan > second)
    )
    f["plan_changed_twice"] = n_plans >= 3
    for months in (12, 18, 24):  # calendar months: the anniversary itself counts
        reached = (open_["start"] + pd.DateOffset(months=months)).to_numpy() <= np.datetime64(as_of)
        f[f"in_care_{months}m_no_permanence"] = reached & ~achieved
    ltf = latest["plan"].eq("long_term_fostering").to_numpy()
    f["ltf_not_matched_6m"] = (
        ltf
        & _known(latest["achieved_date"], as_of).isna().to_numpy()
        & ((latest["decision_date"] + pd.DateOffset(months=6)) < as_of).to_numpy()
    )
    ad = tables["adoptions"].merge(open_[["child_id", "start"]], on="child_id")
    ad = ad[ad["decision_date"] >= ad["start"]]
    order = _known(ad["placement_order_date"], as_of)
    matched = _known(ad["matched_date"], as_of)
    late = order.notna() & (
        (matched.isna() & ((as_of - order).dt.days > 121)) | ((matched - order).dt.days > 121)
    )
    f["adoption_no_match_121d"] = f["child_id"].isin(ad.loc[late, "child_id"]).to_numpy()
    for c in DRIFT_FLAGS:
        f[c] = f[c].astype(bool)
    absent = unavailable_flags(tables, as_of)
    f[list(absent)] = False  # a flag that cannot be measured raises nothing
    f.attrs["not_available"] = absent
    f["drift_score"] = f[list(DRIFT_FLAGS)].sum(axis=1).astype(int)
    from .timeliness import child_team

    f["team"] = f["child_id"].map(child_team(tables, as_of)).fillna(NO_TEAM)
    return f


def unavailable_flags(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, str]:
    """Drift flags that cannot be measured from ``tables``: flag -> reason, e.g.
    ``{"no_plan_by_second_review": "not available: needs permanence_plans"}``
    (declarations in ``audit_lib.needs``). Such a flag is never raised, is not counted,
    and is recorded in metrics.json as not available."""
    from ..needs import unavailable

    keys = [f"permanence.{flag}" for flag in DRIFT_FLAGS]
    return {k.split(".", 1)[1]: why for k, why in unavailable(tables, keys, as_of).items()}


def history_gap(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, str]:
    """Measures built on care histories that ``tables`` cannot support: ``"time_to_permanence"``
    and ``"placement_stability"`` -> reason. Both need episode histories (declarations in
    ``audit_lib.needs``): with only each child's current, open episode, as an Annex A import
    gives, every spell is censored and every child has one placement, so the figures would
    read "not reached" and 0% where the truth is unknown."""
    from ..needs import unavailable

    keys = ("permanence.time_to_permanence", "permanence.placement_stability")
    return {k.split(".", 1)[1]: why for k, why in unavailable(tables, keys, as_of).items()}


def _mean_ci(x: pd.Series) -> dict:
    x = x.dropna().astype(float)
    n = len(x)
    if n == 0:
        return {"value": None, "n": 0, "lower": None, "upper": None}
    m = float(x.mean())
    if n < 2:
        return {"value": m, "n": n, "lower": None, "upper": None}
    h = float(special.stdtrit(n - 1, 0.975) * x.std(ddof=1) / np.sqrt(n))
    return {"value": m, "n": n, "lower": m - h, "upper": m + h}


def adoption_days(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per adopted child (adoption order made): A1, A2 and A10 in days.

    A1: entering care (the spell start) to moving in with the adoptive family (the
    adoptive placement's start). A2: placement order to match (0 if matched first).
    A10: A1, but for foster-carer adoptions (placement A3/A5 or fostering for adoption)
    from the start of the placement before the adoptive placement in the same spell,
    looking back through legal-status-only episodes (DfE adoption scorecard)."""
    ad = tables["adoptions"].dropna(subset=["adoption_order_date"])
    e = mark_spells(tables["cla_episodes"])
    pl = placements(tables["cla_episodes"])
    adoptive = pl[pl["placement_type"].isin(["A3", "A4", "A5", "A6"])]
    adoptive = adoptive.sort_values("start").groupby("child_id").last()
    sp_start = e.groupby(["child_id", "spell"])["episode_start"].min()
    rows = ad[
        [
            "child_id",
            "placement_order_date",
            "matched_date",
            "fostering_for_adoption",
            "adoption_order_date",
        ]
    ].merge(
        adoptive[["spell", "placement", "start", "placement_type"]],
        left_on="child_id",
        right_index=True,
    )
    rows["entered"] = sp_start.reindex(
        pd.MultiIndex.from_frame(rows[["child_id", "spell"]])
    ).to_numpy()
    rows["a1"] = (rows["start"] - rows["entered"]).dt.days
    rows["a2"] = (rows["matched_date"] - rows["placement_order_date"]).dt.days.clip(lower=0)
    # the placement before, in the same spell: an adoptive placement that begins a spell
    # was moved into on entering care (an earlier spell's carer would put the move-in
    # before the clock starts)
    prev = pl.set_index(["child_id", "spell", "placement"])["start"]
    before = prev.reindex(
        pd.MultiIndex.from_arrays([rows["child_id"], rows["spell"], rows["placement"] - 1])
    ).to_numpy()
    carer = rows["placement_type"].isin(["A3", "A5"]) | rows["fostering_for_adoption"].fillna(
        False
    ).astype(bool)
    moved_in = np.where(carer & pd.notna(before), before, rows["start"])
    rows["a10"] = (pd.to_datetime(moved_in) - rows["entered"]).dt.days
    return rows


def adoption_scorecard(
    tables: dict[str, pd.DataFrame], period: str, thresholds=(426, 121, 426)
) -> pd.DataFrame:
    """Average A1, A2 and A10 (days, 95% t interval) for adoptions (orders made) in the
    rolling 3 years (as DfE publishes the scorecard) and rolling 12 months to the period,
    against the thresholds (DfE aspirations: 426, 121, 426 days)."""
    days = adoption_days(tables)
    _, last = period_bounds(period)
    rows = []
    for window, months in (("rolling_3y", 36), ("rolling_12m", 12)):
        first = (pd.Period(period, freq="M") - (months - 1)).start_time
        w = days[days["adoption_order_date"].between(first, last)]
        for m, thr in zip(("a1", "a2", "a10"), thresholds, strict=True):
            rows.append({"measure": m, "window": window, "threshold": thr, **_mean_ci(w[m])})
    return pd.DataFrame(rows)


def group_difference(days: pd.DataFrame, tables, group: str, measure: str = "a1") -> dict:
    """Mean difference in an adoption measure between a group and everyone else, with a
    Welch 95% interval."""
    g = ethnic_group(days["child_id"].map(tables["children"].set_index("child_id")["ethnicity"]))
    a, b = days.loc[g == group, measure].dropna(), days.loc[g != group, measure].dropna()
    if len(a) < 2 or len(b) < 2:
        return {
            "difference": None,
            "lower": None,
            "upper": None,
            "n_group": len(a),
            "n_rest": len(b),
        }
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    h = float(special.stdtrit(df, 0.975) * np.sqrt(va + vb))
    d = float(a.mean() - b.mean())
    return {"difference": d, "lower": d - h, "upper": d + h, "n_group": len(a), "n_rest": len(b)}


#: Characteristics adoption timeliness is broken down by, and their metrics.json prefixes.
ADOPTION_BREAKDOWNS = {"ethnic_group": "", "sex": "sex_", "age_at_entry": "age_"}
ADOPTION_CAPTIONS = {
    "ethnic_group": "Adoption timeliness by ethnic group (last 3 years)",
    "sex": "Adoption timeliness by sex (last 3 years)",
    "age_at_entry": "Adoption timeliness by age at entering care (last 3 years)",
}


def adoption_by_group(
    tables: dict[str, pd.DataFrame],
    period: str,
    suppress_max: int = 5,
    thresholds=(426, 121, 426),
    months: int = 36,
) -> pd.DataFrame:
    """A1, A2 and A10 (DfE adoption scorecard) by ethnic group, sex and age at entering
    care, for adoption orders in the ``months`` to the period (36: as DfE publishes).

    Per group: adoptions (n), mean days with a 95% t interval, and the difference from
    all other adopted children with a Welch 95% interval (``difference``, ``diff_lower``,
    ``diff_upper``). Groups of 1 to ``suppress_max`` adoptions are suppressed: no value
    or interval, ``note`` says so. Vectorised over groups (sums and sums of squares).
    """
    days = adoption_days(tables)
    _, last = period_bounds(period)
    first = (pd.Period(period, freq="M") - (months - 1)).start_time
    w = days[days["adoption_order_date"].between(first, last)].copy()
    kids = tables["children"].set_index("child_id")
    w["ethnic_group"] = ethnic_group(w["child_id"].map(kids["ethnicity"])).astype(str)
    w["sex"] = w["child_id"].map(kids["sex"]).fillna("not known").astype(str)
    w["age_at_entry"] = age_at_entry(w["child_id"].map(kids["date_of_birth"]), w["entered"])
    cols = [
        "breakdown", "group", "measure", "threshold", "n", "value", "lower", "upper",
        "difference", "diff_lower", "diff_upper", "note",
    ]  # fmt: skip
    measures, dims = ("a1", "a2", "a10"), list(ADOPTION_BREAKDOWNS)
    # one long frame: a row per adoption, measure and breakdown (measure-major)
    n, k = len(w), len(dims)
    x = np.repeat(np.stack([w[m].to_numpy(dtype=float, na_value=np.nan) for m in measures]), k, 0)
    long = pd.DataFrame(
        {
            "measure": pd.Categorical(np.repeat(measures, k * n), categories=measures),
            "breakdown": pd.Categorical(np.tile(np.repeat(dims, n), 3), categories=dims),
            "group": np.tile(np.concatenate([w[d].to_numpy(dtype=object) for d in dims]), 3),
            "x": x.ravel(),
        }
    ).dropna(subset=["x"])
    if long.empty:
        return pd.DataFrame(columns=cols)
    long["q"] = long["x"] ** 2
    f = long.groupby(["measure", "breakdown", "group"], observed=True).agg(
        n=("x", "size"), s=("x", "sum"), q=("q", "sum")
    )
    # all other adopted children: the measure's totals (each breakdown covers everyone)
    tot = (
        long[long["breakdown"] == dims[0]]
        .groupby("measure", observed=True)
        .agg(n=("x", "size"), s=("x", "sum"), q=("q", "sum"))
        .reindex(f.index.get_level_values("measure"))
    )
    tot_n, tot_s, tot_q = (tot[c].to_numpy() for c in ("n", "s", "q"))
    f["value"] = f["s"] / f["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (f["q"] - f["n"] * f["value"] ** 2) / (f["n"] - 1)
        h = special.stdtrit((f["n"] - 1).clip(lower=1), 0.975) * np.sqrt(var / f["n"])
        rn = tot_n - f["n"]
        rmean = (tot_s - f["s"]) / rn
        rvar = ((tot_q - f["q"]) - rn * rmean**2) / (rn - 1)
        va, vb = var / f["n"], rvar / rn
        dof = (va + vb) ** 2 / (va**2 / (f["n"] - 1) + vb**2 / (rn - 1))
        dh = special.stdtrit(dof.fillna(1).clip(lower=1), 0.975) * np.sqrt(va + vb)
    enough = (f["n"] >= 2) & (rn >= 2)
    f["lower"] = (f["value"] - h).where(f["n"] >= 2)
    f["upper"] = (f["value"] + h).where(f["n"] >= 2)
    f["difference"] = (f["value"] - rmean).where(enough)
    f["diff_lower"] = (f["difference"] - dh).where(enough)
    f["diff_upper"] = (f["difference"] + dh).where(enough)
    f = f.reset_index()
    small = f["n"].between(1, suppress_max)
    hidden = _hidden_groups(f, suppress_max)
    f.loc[hidden, ["value", "lower", "upper", "difference", "diff_lower", "diff_upper"]] = np.nan
    f["note"] = np.where(small, f"suppressed: {suppress_max} or fewer adoptions", "")
    f["note"] = f["note"].mask(hidden & ~small, "suppressed: hidden with a smaller group")
    f["note"] = f["note"].where(hidden | (f["n"] >= 2), "too few for an interval")
    f[["measure", "breakdown"]] = f[["measure", "breakdown"]].astype(str)
    f["threshold"] = f["measure"].map(dict(zip(measures, thresholds, strict=True)))
    return f[cols]


def stability(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict:
    """Placement stability of children looked after at ``as_of`` (DfE, Children looked
    after in England): the share with 3 or more placements in the last 12 months, and
    long-term stability: of children under 16 looked after for 2.5 years or more, the
    share in the same placement for 2 years or more (or placed for adoption with the two
    placements together lasting 2 years or more)."""
    pl = placements(tables["cla_episodes"])
    pl = pl[pl["start"] <= as_of]
    open_pl = pl[pl["end"].isna() | (pl["end"] > as_of)]
    year_ago = as_of - pd.DateOffset(months=12)
    recent = pl[pl["end"].isna() | (pl["end"] > year_ago)]
    recent = recent[recent["child_id"].isin(open_pl["child_id"])]
    counts = recent.groupby("child_id").size()
    three = int((counts >= 3).sum())
    n = len(counts)
    sp = spells(tables["cla_episodes"])
    sp = sp[(sp["start"] <= as_of) & (sp["end"].isna() | (sp["end"] > as_of))]
    dob = sp["child_id"].map(tables["children"].set_index("child_id")["date_of_birth"])
    # calendar offsets, not 365.25-day years: exact at the anniversary
    eligible = sp[
        ((dob + pd.DateOffset(years=16)) > as_of)
        & ((sp["start"] + pd.DateOffset(months=30)) <= as_of)
    ]
    # overlapping episodes can leave two placements open: the latest is the current one
    cur = (
        open_pl.sort_values("start").drop_duplicates("child_id", keep="last").set_index("child_id")
    )
    cur_start = eligible["child_id"].map(cur["start"])
    cur_type = eligible["child_id"].map(cur["placement_type"])
    prev = pl.set_index(["child_id", "placement"])["start"]
    cur_no = eligible["child_id"].map(cur["placement"])
    prev_start = prev.reindex(
        pd.MultiIndex.from_arrays([eligible["child_id"], cur_no - 1])
    ).to_numpy()
    since = np.where(
        cur_type.isin(["A3", "A4", "A5", "A6"]) & pd.notna(prev_start), prev_start, cur_start
    )
    stable = ((pd.Series(pd.to_datetime(since)) + pd.DateOffset(years=2)) <= as_of).sum()
    m = len(eligible)
    lo3, hi3 = wilson(three, n)
    lol, hil = wilson(int(stable), m)
    return {
        "three_plus": {
            "numerator": three,
            "denominator": n,
            "value": three / n if n else None,
            "lower": float(lo3),
            "upper": float(hi3),
        },
        "long_term": {
            "numerator": int(stable),
            "denominator": m,
            "value": stable / m if m else None,
            "lower": float(lol),
            "upper": float(hil),
        },
    }


#: The published indicators (:mod:`audit_lib.comparators`) of :func:`stability_table`'s rows.
STABILITY_KEYS = ("permanence.three_plus_placements", "permanence.long_term_stability")


def stability_table(st: dict) -> pd.DataFrame:
    """The two stability measures of :func:`stability` as rows (measure, numerator,
    denominator, value, lower, upper) for a table or an interval chart."""
    return pd.DataFrame(
        [
            {"measure": "3 or more placements in the last 12 months", **st["three_plus"]},
            {
                "measure": "Long-term stability (under 16, in care 2.5 years, "
                "same placement 2 years)",
                **st["long_term"],
            },
        ]
    )


#: How a table of :func:`adoption_by_group` hides its figures (``styled_table(hidden_with=)``):
#: with the group's count, so a hidden group reads "c" throughout, not "not available".
ADOPTION_HIDDEN_WITH = dict.fromkeys(
    ("value", "lower", "upper", "difference", "diff_lower", "diff_upper"), "n"
)


def adoption_relations(frame: pd.DataFrame) -> list:
    """The relations a table of :func:`adoption_by_group` publishes: each measure's (and
    breakdown's) group counts ``n`` sum to the measure's adoptions, which the scorecard
    shows (for :func:`audit_lib.disclosure.protect` and ``styled_table(relations=)``)."""
    from ..disclosure import down

    keys = [c for c in ("measure", "breakdown") if c in frame]
    rows = frame.reset_index(drop=True).groupby(keys, observed=True).indices.values()
    return [rel for idx in rows for rel in down(frame, "n", rows=idx.tolist())]


def _hidden_groups(f: pd.DataFrame, suppress_max: int) -> np.ndarray:
    """Groups whose figures are suppressed: 1..``suppress_max`` adoptions, and the next
    smallest beside a lone one (the published total would give it back)."""
    from ..disclosure import protect

    return protect(f, ["n"], adoption_relations(f), suppress_max)["n"].to_numpy()


def adoption_chart(card: pd.DataFrame, suppress_max: int = 5) -> tuple[pd.DataFrame, str]:
    """The 3-year rows of :func:`adoption_scorecard` that have a value from more than
    ``suppress_max`` adoptions (the table hides the others), labelled with their
    threshold, and a chart title naming the measures above their DfE threshold."""
    c3 = card[(card["window"] == "rolling_3y") & (card["n"] > suppress_max)]
    c3 = c3.dropna(subset=["value"])
    c3 = c3.assign(
        label=c3["measure"].str.upper() + " (threshold " + c3["threshold"].astype(str) + ")"
    )
    over = c3.loc[c3["value"] > c3["threshold"], "measure"].str.upper().tolist()
    state = ", ".join(over) + " above threshold" if over else "within the thresholds"
    return c3, f"Adoption timeliness, last 3 years: {state}"


def cohort_shares(outcomes: pd.DataFrame, as_of: pd.Timestamp, suppress_max: int = 5):
    """Share reaching permanence within 12 months by financial year of entry (competing
    risks), for cohorts followed a full year with more than ``suppress_max`` children and
    an estimate whose share the tables would show (:data:`TIME_TABLE`); columns value,
    lower, upper for an interval chart."""
    from ..disclosure import hide_rate

    cohorts = competing_risks(complete_cohorts(outcomes, as_of), by="entry_cohort").rename(
        columns={"within": "value", "within_lower": "lower", "within_upper": "upper"}
    )
    shown = ~hide_rate(cohorts["events_within"], cohorts["n"], suppress_max)
    return cohorts[shown & (cohorts["n"] > suppress_max) & cohorts["estimable"]]


def cohort_note(outcomes: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """Why the cohort chart is empty (:func:`cohort_shares` gave no row): no cohort yet
    followed for a full year, or every such cohort's share hidden as its table hides it."""
    if complete_cohorts(outcomes, as_of).empty:
        return "No entry cohort has yet been followed for a full year in this data."
    return (
        "Not shown: each entry cohort followed for a full year has too few children, or "
        "too few reaching permanence or not, to show its share without identifying them "
        '(shown as "c" in the table above).'
    )


def stability_title(st: dict, suppress_max: int = 5) -> str:
    """Chart title for placement stability, for any result (no children: says so); a share
    whose numerator or complement is 1..``suppress_max`` shows as "c"."""
    from ..disclosure import fmt_share

    three, long_ = st["three_plus"], st["long_term"]
    parts = []
    if three["denominator"]:
        parts.append(
            f"{fmt_share(three['numerator'], three['denominator'], suppress_max)} of children "
            "in care moved 3 or more times in a year"
        )
    if long_["denominator"]:
        parts.append(
            f"{fmt_share(long_['numerator'], long_['denominator'], suppress_max)} are in "
            "long-term stable placements"
        )
    return (
        "; ".join(parts) if parts else "Placement stability: no children in care at the period end"
    )


#: Planning flags (the drift mechanisms); the duration flags follow from them.
PROCESS_FLAGS = (
    "no_plan_by_second_review",
    "plan_changed_twice",
    "ltf_not_matched_6m",
    "adoption_no_match_121d",
)
FLAG_LABELS = {
    "no_plan_by_second_review": "No plan by the second review",
    "plan_changed_twice": "Plan changed two or more times",
    "in_care_12m_no_permanence": "12 months in care, no permanence",
    "in_care_18m_no_permanence": "18 months in care, no permanence",
    "in_care_24m_no_permanence": "24 months in care, no permanence",
    "ltf_not_matched_6m": "Long-term fostering not matched in 6 months",
    "adoption_no_match_121d": "No adoption match 121 days after the placement order",
}


def within_12_months(outcomes: pd.DataFrame, period: str) -> dict:
    """Children who entered care in the 12 months ending 12 months before the period end,
    and the share who achieved permanence within 12 months of entering (every child in
    the cohort has a full year of follow-up; compare US CFSR round 4 "permanency in 12
    months for children entering care")."""
    end = pd.Period(period, freq="M") - 12
    first, last = (end - 11).start_time, end.end_time.normalize()
    c = outcomes[outcomes["start"].between(first, last)]
    hit = int((c["outcome_code"].between(1, 5) & (c["days"] <= 365)).sum())
    lo, hi = wilson(hit, len(c))
    return {
        "numerator": hit,
        "denominator": len(c),
        "value": hit / len(c) if len(c) else None,
        "lower": float(lo),
        "upper": float(hi),
        "cohort": f"{first:%Y-%m} to {last:%Y-%m}",
    }


def group_findings(entries: dict) -> list[str]:
    """Sentences for ethnic groups whose average A1 (3 years) differs from other adopted
    children beyond chance, or one sentence saying none does."""
    return _group_findings(entries) or [
        "No ethnic group's average time from entering care to moving in with an adoptive "
        "family (A1, 3 years) differs from other adopted children's beyond chance."
    ]


def _group_findings(entries: dict) -> list[str]:
    """Sentences for ethnic groups whose average A1 (3 years) differs from other adopted
    children beyond chance (Welch 95% interval excluding 0); suppressed groups never."""
    from ..model import ETHNIC_GROUP_LABELS, ETHNIC_GROUPS

    out = []
    for g in ETHNIC_GROUPS:
        e = entries.get(f"permanence.a1_days.{g}.rolling_3y")
        if not e or e.get("difference_lower") is None or pd.isna(e["difference_lower"]):
            continue
        lo, hi, d = e["difference_lower"], e["difference_upper"], e["difference_from_rest"]
        if lo > 0 or hi < 0:
            label = ETHNIC_GROUP_LABELS.get(g, g)
            more = "longer" if d > 0 else "less"
            out.append(
                f"{label} children adopted in the last 3 years waited on average "
                f"{abs(d):,.0f} days {more} than other adopted children from entering care "
                f"to moving in with their adoptive family (A1; 95% CI {min(abs(lo), abs(hi)):,.0f} "
                f"to {max(abs(lo), abs(hi)):,.0f} days)."
            )
    return out


def worklist(flags: pd.DataFrame, secret: bytes, min_flags: int = 2) -> pd.DataFrame:
    """Children in care with ``min_flags`` or more drift flags, pseudonymised, for analysts."""
    from ..disclosure import pseudonymise

    w = flags[flags["drift_score"] >= min_flags].copy()
    w.insert(0, "child", pseudonymise(w["child_id"], secret).to_numpy())
    cols = ["child", "team", "start", "drift_score", *DRIFT_FLAGS]
    return (
        w[[c for c in cols if c in w]]
        .sort_values("drift_score", ascending=False)
        .reset_index(drop=True)
    )


def flag_counts(flags: pd.DataFrame, by: str = "team") -> pd.DataFrame:
    """Children in care with each drift flag, by team (counts; suppress before showing)."""
    long = flags.melt(id_vars=[by], value_vars=list(DRIFT_FLAGS), var_name="flag", value_name="on")
    t = long[long["on"].astype(bool)].groupby(["flag", by]).size().unstack(fill_value=0)
    t = t.reindex([f for f in DRIFT_FLAGS if f not in flags.attrs.get("not_available", {})])
    t = t.fillna(0).astype(int)
    t.index = [FLAG_LABELS[f] for f in t.index]
    return t.rename_axis("Flag").reset_index()


def _key(label: str) -> str:
    """A metrics.json key part from a group label ("under 1" -> "under_1", "1-4" -> "1_4")."""
    return str(label).strip().lower().replace(" ", "_").replace("-", "_")


def metric_entries(
    tables, outcomes, period: str, flags: pd.DataFrame, suppress_max: int = 5
) -> dict[str, dict]:
    """metrics.json entries ``permanence.*``."""
    from ..metrics import share

    _, as_of = period_bounds(period)
    pb = plan_by_second_review(tables, outcomes, period)
    out = {
        "permanence.plan_by_second_review.rolling_12m": share(
            int(pb["plan_by_second_review"].sum()), len(pb)
        )
    }
    w = within_12_months(outcomes, period)
    out["permanence.within_12m.rolling_12m"] = share(
        w["numerator"], w["denominator"], cohort=w["cohort"]
    )
    method = (
        "Aalen-Johansen cumulative incidence of permanence, other exits competing; 95% "
        "interval: log(-log) transform of Gray's variance (R cmprsk cuminc); median "
        "interval where the band reaches one half"
    )
    cr = competing_risks(outcomes).iloc[0]
    km = kaplan_meier(outcomes).iloc[0]
    for key, r, how in (
        ("permanence.median_days", cr, method),
        (
            "permanence.median_days_if_no_other_exit",
            km,
            "Kaplan-Meier, other exits censored: time to permanence if no other exit "
            "occurred (overstates permanence); 95% interval log(-log) Greenwood",
        ),
    ):
        out[key] = {
            "value": r["median_days"],
            "lower": r["median_lower"],
            "upper": r["median_upper"],
            "n": int(r["n"]),
            "events": int(r["events"]),
            "estimable": bool(r["estimable"]),
            "status": "not reached" if r["estimable"] and pd.isna(r["median_days"]) else "",
            "reason": r["note"] or "",
            "method": how,
        }
    out["permanence.within_365d"] = {
        "value": cr["within"],
        "lower": cr["within_lower"],
        "upper": cr["within_upper"],
        "n": int(cr["n"]),
        "estimable": bool(cr["estimable"]),
        "reason": cr["note"] or "",
        "method": method + "; events on day 365 included",
    }
    card = adoption_scorecard(tables, period).set_index(["measure", "window"])
    for m in ("a1", "a2", "a10"):
        r = card.loc[(m, "rolling_3y")]
        out[f"permanence.{m}_days.rolling_3y"] = {
            "value": r["value"],
            "lower": r["lower"],
            "upper": r["upper"],
            "n": int(r["n"]),
            "threshold": int(r["threshold"]),
        }
    groups = adoption_by_group(tables, period, suppress_max)
    for r in groups.itertuples():
        name = ADOPTION_BREAKDOWNS[r.breakdown] + _key(r.group)
        out[f"permanence.{r.measure}_days.{name}.rolling_3y"] = {
            "value": r.value,
            "lower": r.lower,
            "upper": r.upper,
            "n": None if r.note.startswith("suppressed") else int(r.n),
            "difference_from_rest": r.difference,
            "difference_lower": r.diff_lower,
            "difference_upper": r.diff_upper,
            "threshold": int(r.threshold),
            "note": r.note,
        }
    st = stability(tables, as_of)
    out["permanence.three_plus_placements"] = share(
        st["three_plus"]["numerator"], st["three_plus"]["denominator"]
    )
    out["permanence.long_term_stability"] = share(
        st["long_term"]["numerator"], st["long_term"]["denominator"]
    )
    out["permanence.drift.two_plus_flags"] = share(
        int((flags["drift_score"] >= 2).sum()), len(flags)
    )
    from ..needs import not_available

    for flag, why in unavailable_flags(tables, as_of).items():
        out[f"permanence.drift.{flag}"] = not_available(why)
        if flag == "no_plan_by_second_review":
            out["permanence.plan_by_second_review.rolling_12m"] = not_available(why)
    gaps = history_gap(tables, as_of)
    for what, keys in (
        (
            "time_to_permanence",
            (
                "permanence.median_days",
                "permanence.median_days_if_no_other_exit",
                "permanence.within_365d",
                "permanence.within_12m.rolling_12m",
            ),
        ),
        (
            "placement_stability",
            ("permanence.three_plus_placements", "permanence.long_term_stability"),
        ),
    ):
        if what in gaps:
            out.update({k: not_available(gaps[what]) for k in keys})
    return out


def _commonest_flag(flags: pd.DataFrame, suppress_max: int = 5) -> str | None:
    """ "the commonest flag is ..." among the flags the data can measure, or that none
    is raised (the first flag in order is not the commonest of none); None where the
    drift table shows a team's count of that flag as "c" (ranking the flags ranks sums of
    hidden counts)."""
    from ..disclosure import is_suppressed

    counts = flags[[f for f in DRIFT_FLAGS if f not in flags.attrs.get("not_available", {})]].sum()
    if not len(counts) or counts.max() == 0:
        return "no child has a drift flag"
    top = FLAG_LABELS[counts.idxmax()]
    shown = flag_counts(flags).set_index("Flag").loc[top] if "team" in flags else counts.max()
    if is_suppressed(np.atleast_1d(shown), suppress_max).any():
        return None
    return f'the commonest flag is "{top.lower()}"'


def findings(
    entries: dict, flags: pd.DataFrame, card: pd.DataFrame, period: str, suppress_max: int = 5
) -> list[str]:
    """Headline findings in plain English from the recorded figures."""
    from ..disclosure import hide_rate
    from ..report import fmt_count, fmt_pct, month_label

    def shown(e) -> bool:
        return bool(
            e
            and e.get("denominator")
            and not hide_rate([e["numerator"]], [e["denominator"]], suppress_max)[0]
        )

    lines = []
    m = entries.get("permanence.median_days")
    if m:
        row = {
            "estimable": m.get("estimable"),
            "note": m.get("reason"),
            "n": m.get("n"),
            "events": m.get("events"),
            "median_days": m.get("value"),
            "median_lower": m.get("lower"),
            "median_upper": m.get("upper"),
        }
        competing = m.get("estimable") and not _too_few(row, suppress_max)
        lines.append(
            median_sentence(row, suppress_max)
            + (" (other exits from care counted as competing)." if competing else ".")
        )
    w = entries.get("permanence.within_12m.rolling_12m")
    if shown(w):
        lines.append(
            f"Of children who entered care a year earlier, {fmt_pct(w['value'])} reached "
            f"permanence within 12 months (95% CI {fmt_pct(w['lower'])} to {fmt_pct(w['upper'])})."
        )
    p = entries.get("permanence.plan_by_second_review.rolling_12m")
    if shown(p):
        lines.append(
            f"{fmt_pct(p['value'])} of children entering care in the 12 months to "
            f"{month_label(period)} had a permanence plan by their second review."
        )
    elif p and p.get("status") == "not_available":
        lines.append(f"Permanence plan by the second review: {p['reason']}.")
    two = int((flags["drift_score"] >= 2).sum())
    # a hidden count goes without its denominator: "c of 7" gives too much away
    of_all = (
        "c of the"
        if hide_rate([two], [len(flags)], suppress_max)[0]
        else f"{fmt_count(two, suppress_max)} of {fmt_count(len(flags), suppress_max)}"
    )
    commonest = _commonest_flag(flags, suppress_max) if len(flags) else None
    lines.append(
        f"{of_all} children in care have two or more drift flags"
        + (f"; {commonest}." if commonest else ".")
        if len(flags)
        else "No children in care."
    )
    c = card.set_index(["measure", "window"])
    if (
        ("a1", "rolling_3y") in c.index
        and pd.notna(c.loc[("a1", "rolling_3y"), "value"])
        and c.loc[("a1", "rolling_3y"), "n"] > suppress_max
        and c.loc[("a2", "rolling_3y"), "n"] > suppress_max
    ):
        a1, a2 = c.loc[("a1", "rolling_3y")], c.loc[("a2", "rolling_3y")]
        a2_text = (
            f"A2 {a2['value']:.0f} days (threshold {a2['threshold']:.0f})"
            if pd.notna(a2["value"])
            else "A2 cannot be estimated (no matches with a placement order)"
        )
        lines.append(
            f"Adoption (3 years): A1 averaged {a1['value']:.0f} days (threshold "
            f"{a1['threshold']:.0f}), {a2_text}."
        )
    lines.extend(_group_findings(entries))
    s = entries.get("permanence.three_plus_placements")
    if shown(s):
        lines.append(
            f"{fmt_pct(s['value'])} of children in care had 3 or more placements in the last 12 "
            "months."
        )
    elif s and s.get("status") == "not_available":
        lines.append(f"Placement stability: {s['reason']}.")
    return lines
