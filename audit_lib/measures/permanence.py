"""Permanence drift for children looked after (METRICS.md "Permanence drift").

Episodes become spells (audit_lib.spells). For each spell, the outcome is the first of:
return home (REC E4A), adoption order (E11, E12), special guardianship order (E43-E46),
child arrangements order (E41), or a long-term fostering match confirmed (a
long_term_fostering plan's achieved date in permanence_plans). Children still in care
are censored at the period end; other exits (E13, E3, E17, ...) are competing risks.
Kaplan-Meier and Aalen-Johansen estimates come from lifelines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..calendar import add_working_days
from ..model import PERMANENCE_EXIT, ethnic_group
from ..spells import mark_spells, placements, spells
from ..stats import wilson
from .timeliness import period_bounds

__all__ = [
    "OUTCOMES",
    "adoption_scorecard",
    "cumulative_incidence",
    "drift_flags",
    "episode_findings",
    "kaplan_meier",
    "plan_by_second_review",
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
    dob = sp["child_id"].map(kids["date_of_birth"])
    age = ((sp["start"] - dob).dt.days // 365.25).astype("Int64")
    sp["age_at_entry"] = pd.cut(
        age.astype(float), [-1, 0, 4, 9, 15, 18], labels=["under 1", "1-4", "5-9", "10-15", "16-17"]
    ).astype(str)
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


def kaplan_meier(outcomes: pd.DataFrame, by: str | None = None, horizon: int = 365) -> pd.DataFrame:
    """Kaplan-Meier estimate of time to any permanence (other exits censored), overall or
    by a column: n, events, median days with 95% interval, and the share achieving
    permanence within ``horizon`` days (1 − S(horizon)) with its 95% interval."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    rows = []
    groups = [("all", outcomes)] if by is None else list(outcomes.groupby(by))
    for name, f in groups:
        if len(f) < 2:
            continue
        event = f["outcome_code"].between(1, 5)
        kmf = KaplanMeierFitter().fit(f["days"], event, label="km")
        med = kmf.median_survival_time_
        ci = median_survival_times(kmf.confidence_interval_)
        s = kmf.survival_function_at_times(horizon).iloc[0]
        band = kmf.confidence_interval_survival_function_
        at = band[band.index <= horizon].iloc[-1] if (band.index <= horizon).any() else band.iloc[0]
        rows.append(
            {
                "group": name,
                "n": len(f),
                "events": int(event.sum()),
                "median_days": float(med),
                "median_lower": float(ci.iloc[0, 0]),
                "median_upper": float(ci.iloc[0, 1]),
                "within": 1 - float(s),
                "within_lower": 1 - float(at.iloc[1]),
                "within_upper": 1 - float(at.iloc[0]),
            }
        )
    return pd.DataFrame(rows)


def km_curve(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The Kaplan-Meier curve of time to permanence: days, share achieved, 95% band."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(outcomes["days"], outcomes["outcome_code"].between(1, 5))
    band = kmf.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "days": kmf.survival_function_.index,
            "achieved": 1 - kmf.survival_function_.iloc[:, 0].to_numpy(),
            "lower": 1 - band.iloc[:, 1].to_numpy(),
            "upper": 1 - band.iloc[:, 0].to_numpy(),
        }
    )


def cumulative_incidence(
    outcomes: pd.DataFrame, horizon: int = 365
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aalen-Johansen cumulative incidence of each outcome, the others competing.

    Returns (curves: days, outcome, incidence; at_horizon: outcome, incidence and 95%
    interval at ``horizon`` days)."""
    from lifelines import AalenJohansenFitter

    curves, at = [], []
    jitter = outcomes["days"] + 1e-6 * np.arange(len(outcomes)) / max(len(outcomes), 1)
    for code, name in OUTCOMES.items():
        if not (outcomes["outcome_code"] == code).any():
            continue
        ajf = AalenJohansenFitter(calculate_variance=True)
        ajf.fit(jitter, outcomes["outcome_code"], event_of_interest=code)
        cif = ajf.cumulative_density_
        curves.append(
            pd.DataFrame(
                {"days": cif.index, "outcome": name, "incidence": cif.iloc[:, 0].to_numpy()}
            )
        )
        ci = ajf.confidence_interval_
        sel = cif.index <= horizon
        value = float(cif.iloc[:, 0][sel].iloc[-1]) if sel.any() else 0.0
        lo = float(ci.iloc[:, 0][sel].iloc[-1]) if sel.any() else 0.0
        hi = float(ci.iloc[:, 1][sel].iloc[-1]) if sel.any() else 0.0
        at.append({"outcome": name, "incidence": value, "lower": lo, "upper": hi})
    return pd.concat(curves, ignore_index=True), pd.DataFrame(at)


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


def drift_flags(
    tables: dict[str, pd.DataFrame], outcomes: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Drift flags for each child in care at ``as_of`` (their current spell), and the drift
    score: the number of flags raised (0-7).

    Flags: no permanence plan by the second review; plan changed two or more times in the
    spell; in care 12, 18 and 24 months with permanence not achieved; a long-term
    fostering plan not matched within 6 months of the decision; an adoption plan with no
    match within 121 days of the placement order.
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
    days = (as_of - open_["start"]).dt.days.to_numpy()
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
    for months in (12, 18, 24):
        f[f"in_care_{months}m_no_permanence"] = (days >= months * 30.44) & ~achieved
    ltf = latest["plan"].eq("long_term_fostering").to_numpy()
    f["ltf_not_matched_6m"] = (
        ltf
        & latest["achieved_date"].isna().to_numpy()
        & ((as_of - latest["decision_date"]).dt.days.to_numpy() > 182)
    )
    ad = tables["adoptions"].merge(open_[["child_id", "start"]], on="child_id")
    ad = ad[ad["decision_date"] >= ad["start"]]
    late = ad["placement_order_date"].notna() & (
        (ad["matched_date"].isna() & ((as_of - ad["placement_order_date"]).dt.days > 121))
        | ((ad["matched_date"] - ad["placement_order_date"]).dt.days > 121)
    )
    f["adoption_no_match_121d"] = f["child_id"].isin(ad.loc[late, "child_id"]).to_numpy()
    for c in DRIFT_FLAGS:
        f[c] = f[c].astype(bool)
    absent = unavailable_flags(tables, as_of)
    f[list(absent)] = False  # a flag that cannot be measured raises nothing
    f.attrs["not_available"] = absent
    f["drift_score"] = f[list(DRIFT_FLAGS)].sum(axis=1).astype(int)
    from .timeliness import child_team

    f["team"] = f["child_id"].map(child_team(tables, as_of)).fillna("not known")
    return f


def unavailable_flags(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, str]:
    """Drift flags that cannot be measured from ``tables``: flag -> reason, e.g.
    ``{"no_plan_by_second_review": "not available: needs permanence_plans"}``
    (declarations in ``audit_lib.needs``). Such a flag is never raised, is not counted,
    and is recorded in metrics.json as not available."""
    from ..needs import unavailable

    keys = [f"permanence.{flag}" for flag in DRIFT_FLAGS]
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
    from the start of the placement before the adoptive placement, looking back through
    legal-status-only episodes (DfE adoption scorecard)."""
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
    prev = pl.set_index(["child_id", "placement"])["start"]
    before = prev.reindex(
        pd.MultiIndex.from_arrays([rows["child_id"], rows["placement"] - 1])
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
    eligible = sp[
        ((as_of - dob).dt.days < 16 * 365.25) & ((as_of - sp["start"]).dt.days >= 2.5 * 365.25)
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
    stable = ((as_of - pd.Series(pd.to_datetime(since))).dt.days >= 2 * 365.25).sum()
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


def metric_entries(tables, outcomes, period: str, flags: pd.DataFrame) -> dict[str, dict]:
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
    km = kaplan_meier(outcomes)
    if len(km):
        k = km.iloc[0]
        out["permanence.median_days"] = {
            "value": k["median_days"],
            "lower": k["median_lower"],
            "upper": k["median_upper"],
            "n": int(k["n"]),
            "method": "Kaplan-Meier, other exits censored",
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
    return out


def findings(
    entries: dict, flags: pd.DataFrame, card: pd.DataFrame, period: str, suppress_max: int = 5
) -> list[str]:
    """Headline findings in plain English from the recorded figures."""
    from ..report import fmt_count, fmt_pct, month_label

    lines = []
    w = entries.get("permanence.within_12m.rolling_12m")
    if w and w["denominator"]:
        lines.append(
            f"Of children who entered care a year earlier, {fmt_pct(w['value'])} reached "
            f"permanence within 12 months (95% CI {fmt_pct(w['lower'])} to {fmt_pct(w['upper'])})."
        )
    p = entries.get("permanence.plan_by_second_review.rolling_12m")
    if p and p.get("denominator"):
        lines.append(
            f"{fmt_pct(p['value'])} of children entering care in the 12 months to "
            f"{month_label(period)} had a permanence plan by their second review."
        )
    elif p and p.get("status") == "not_available":
        lines.append(f"Permanence plan by the second review: {p['reason']}.")
    two = int((flags["drift_score"] >= 2).sum())
    top = flags[list(DRIFT_FLAGS)].sum().idxmax() if len(flags) else None
    lines.append(
        f"{fmt_count(two, suppress_max)} of {len(flags):,} children in care have two or more drift "
        f'flags; the commonest flag is "{FLAG_LABELS[top].lower()}".'
        if top
        else "No children in care."
    )
    c = card.set_index(["measure", "window"])
    if ("a1", "rolling_3y") in c.index and pd.notna(c.loc[("a1", "rolling_3y"), "value"]):
        a1, a2 = c.loc[("a1", "rolling_3y")], c.loc[("a2", "rolling_3y")]
        lines.append(
            f"Adoption (3 years): A1 averaged {a1['value']:.0f} days (threshold {a1['threshold']:.0f}), "
            f"A2 {a2['value']:.0f} days (threshold {a2['threshold']:.0f})."
        )
    s = entries.get("permanence.three_plus_placements")
    if s and s["denominator"]:
        lines.append(
            f"{fmt_pct(s['value'])} of children in care had 3 or more placements in the last 12 "
            f"months (England 2024: 10%)."
        )
    return lines
