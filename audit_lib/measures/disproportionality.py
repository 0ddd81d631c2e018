"""Disproportionality: over- and under-representation of groups of children at each stage
from referral to care (METRICS.md "Disproportionality").

Stages: referral, assessment, S47, ICPC, CP plan, starting to be looked after. By default
each stage counts *children* with at least one event in the window (``count="children"``);
``count="events"`` counts events instead. Groups are the ethnicity roll-up (model.ETHNICITY_
GROUP) or sex, age band, disability or IDACI decile, or two of these crossed. Rates use
population denominators of the same years: when the 12-month window spans two calendar
years, the mean of those years' mid-year populations.

For each stage and group: rate per 10,000; rate ratio against a reference group with the
Katz log interval; representation index; decision-point ratio (the stage per 100 of the
previous stage, relative to the reference); deprivation-standardised ratio (indirect
standardisation by IDACI decile, exact Poisson interval) and its ratio to the reference
group's; and, as a second view, adjusted rate ratios from a Poisson regression of stage
counts on group and decile with the population as offset. A zero count gives no ratio and
no significance label. p-values are adjusted for the many groups x stages tested, by
Benjamini-Hochberg (shown) and Holm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..model import age_band, age_in_years, ethnic_group
from .timeliness import period_bounds

__all__ = [
    "march_ends",
    "ATTRIBUTES",
    "STAGES",
    "adjust_pvalues",
    "against_small_reference",
    "decision_points",
    "chart_rates",
    "check_reference",
    "count_hidden",
    "flag_hidden",
    "forest_rows",
    "hidden_at",
    "ratio_hidden",
    "regression_flagged",
    "scope_note",
    "events",
    "conditional_rate_ratio_interval",
    "exact_poisson_ratio",
    "katz_rate_ratio",
    "poisson_regression",
    "population_for_window",
    "rates",
    "standardised",
    "unavailable_stages",
]

#: Stage -> (table, date column, label).
STAGES: dict[str, tuple[str, str, str]] = {
    "referral": ("referrals", "referral_date", "Referral"),
    "assessment": ("assessments", "start_date", "Assessment"),
    "s47": ("s47_enquiries", "strategy_date", "S47 enquiry"),
    "icpc": ("s47_enquiries", "icpc_date", "Initial child protection conference"),
    "cp_plan": ("cp_plans", "start_date", "Child protection plan"),
    "cla_start": ("cla_episodes", "episode_start", "Started to be looked after"),
}
#: Grouping attributes; population denominators exist for all but disability.
ATTRIBUTES = ("ethnicity", "sex", "age_band", "disability", "idaci_decile")
NOT_KNOWN = "not_known"
Z95 = 1.959963984540054


def katz_rate_ratio(a, n1, b, n2, level: float = 0.95) -> pd.DataFrame:
    """Rate (risk) ratio (a/n1)/(b/n2) with the Katz log interval.

    ln RR ± z sqrt(1/a − 1/n1 + 1/b − 1/n2) (Katz et al. 1978). A zero count gives NaN
    (no ratio, no interval, no significance), never a "significant" label. Also returns
    the two-sided Wald p-value on the log scale.
    Reference: 10 of 75 vs 12 of 225 -> 2.5 (1.1261564, 5.5498508) (scipy.stats.
    contingency.relative_risk documentation).
    """
    a, n1, b, n2 = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(x, dtype=float)) for x in (a, n1, b, n2))
    )
    z = special.ndtri(0.5 + level / 2)
    ok = (a > 0) & (b > 0) & (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(ok, (a / n1) / (b / n2), np.nan)
        se = np.where(ok, np.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2), np.nan)
        lo, hi = rr * np.exp(-z * se), rr * np.exp(z * se)
        p = np.where(ok, 2 * special.ndtr(-np.abs(np.log(rr) / se)), np.nan)
    return pd.DataFrame({"ratio": rr, "lower": lo, "upper": hi, "p_value": p})


def conditional_rate_ratio_interval(a, n1, b, n2, level: float = 0.95) -> pd.DataFrame:
    """Exact conditional (binomial) interval for the rate ratio (a/n1)/(b/n2).

    Given a + b = m events, a ~ Binomial(m, π) with π = n1 RR / (n1 RR + n2); the
    Clopper-Pearson limits for π map to RR = π / (1 − π) × n2 / n1. Defined when a is 0
    (lower 0: "no ratio", but the data still rule out ratios above the upper bound) or b
    is 0 (upper infinite). NaN where m = 0. Reference: 0 of 1,000 against 10 of 1,000 ->
    (0, 0.446): π_U = 1 − 0.025^(1/10) = 0.3085, 0.3085 / 0.6915 = 0.446.
    """
    a, n1, b, n2 = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(x, dtype=float)) for x in (a, n1, b, n2))
    )
    alpha = 1 - level
    m = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        p_lo = np.where(a > 0, special.betaincinv(a, m - a + 1, alpha / 2), 0.0)
        p_hi = np.where(a < m, special.betaincinv(a + 1, m - a, 1 - alpha / 2), 1.0)
        scale = n2 / n1
        lower = p_lo / (1 - p_lo) * scale
        upper = np.where(p_hi < 1, p_hi / (1 - p_hi) * scale, np.inf)
    bad = (m <= 0) | ~(n1 > 0) | ~(n2 > 0)
    return pd.DataFrame(
        {"exact_lower": np.where(bad, np.nan, lower), "exact_upper": np.where(bad, np.nan, upper)}
    )


def exact_poisson_ratio(observed, expected, level: float = 0.95) -> pd.DataFrame:
    """Standardised ratio O/E with the exact Poisson (Garwood) interval.

    lower = chi2(α/2; 2O)/2E, upper = chi2(1−α/2; 2O+2)/2E; O = 0 gives lower 0.
    Reference (FunnelPlotR): E = 15, 20, 30 with O = E -> lower 0.5596924, 0.6108260,
    0.6746958; upper 1.649348, 1.544419, 1.427562.
    """
    o, e = np.broadcast_arrays(
        np.atleast_1d(np.asarray(observed, dtype=float)),
        np.atleast_1d(np.asarray(expected, dtype=float)),
    )
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(o > 0, special.chdtri(2 * o, 1 - alpha / 2) / 2 / e, 0.0)
        upper = special.chdtri(2 * o + 2, alpha / 2) / 2 / e
        ratio = np.where(e > 0, o / e, np.nan)
    return pd.DataFrame({"ratio": ratio, "lower": lower, "upper": upper})


def adjust_pvalues(p: pd.Series) -> pd.DataFrame:
    """Holm (step-down) and Benjamini-Hochberg (step-up) adjusted p-values; NaN kept.

    For the m p-values sorted ascending, p(1) <= ... <= p(m): Holm's adjusted p(i) is
    the running maximum of (m - j + 1) p(j) over j <= i, and Benjamini-Hochberg's is the
    running minimum of m p(j) / j over j >= i, each capped at 1 (Holm 1979; Benjamini &
    Hochberg 1995). The same arithmetic as statsmodels' ``multipletests`` (methods
    "holm" and "fdr_bh"), without its import (scipy.stats) and its full garbage
    collection on every call."""
    p = pd.Series(p, dtype=float)
    out = pd.DataFrame({"p_holm": np.nan, "p_bh": np.nan}, index=p.index)
    ok = p.notna().to_numpy()
    if ok.any():
        values = p.to_numpy()[ok]
        order = np.argsort(values)
        ranked = values[order]
        m = len(ranked)
        holm = np.maximum.accumulate(ranked * np.arange(m, 0, -1))
        bh = np.minimum.accumulate((ranked / (np.arange(1, m + 1) / float(m)))[::-1])[::-1]
        for col, adjusted in (("p_holm", holm), ("p_bh", bh)):
            back = np.empty(m)
            back[order] = np.minimum(adjusted, 1.0)
            out.loc[ok, col] = back
    return out


def _window(period: str, months: int = 12) -> tuple[pd.Timestamp, pd.Timestamp]:
    _, last = period_bounds(period)
    first = (pd.Period(period, freq="M") - (months - 1)).start_time.normalize()
    return first, last


def events(
    tables: dict[str, pd.DataFrame],
    period: str,
    count: str = "children",
    months: int = 12,
    stages: list[str] | None = None,
) -> pd.DataFrame:
    """Stage events in the window with each child's attributes at the event.

    Returns one row per event (``count="events"``) or per child and stage, their first
    event in the window (``count="children"``): stage, child_id, date, ethnicity (roll-up),
    ethnicity_code, sex, age_band (at the event), disability, idaci_decile. Only the
    ``stages`` named, if given (their rows are the same as in the whole frame).
    """
    if count not in ("children", "events"):
        raise ValueError("count must be 'children' or 'events'")
    unknown = set(stages or ()) - set(STAGES)
    if unknown:
        raise ValueError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(STAGES)}"
        )
    first, last = _window(period, months)
    frames = []
    for stage, (table, col, _) in STAGES.items():
        if stages is not None and stage not in stages:
            continue
        f = tables[table]
        if stage == "cla_start":
            f = f[f["reason_new_episode"] == "S"]
        f = f.loc[f[col].between(first, last), ["child_id", col]].rename(columns={col: "date"})
        frames.append(f.assign(stage=stage))
    ev = pd.concat(frames, ignore_index=True)
    if count == "children":
        ev = ev.sort_values("date", kind="stable").drop_duplicates(["stage", "child_id"])
    kids = tables["children"].set_index("child_id")
    ev = ev.join(
        kids[["sex", "date_of_birth", "ethnicity", "disability", "idaci_decile"]], on="child_id"
    )
    ev["ethnicity_code"] = ev["ethnicity"]
    ev["ethnicity"] = ethnic_group(ev["ethnicity"])
    age = age_in_years(ev["date_of_birth"], ev["date"]).clip(lower=0)
    ev["age_band"] = age_band(age.astype("float"))
    ev["disability"] = ev["disability"].map({True: "disabled", False: "not_disabled"})
    return ev.drop(columns=["date_of_birth"]).reset_index(drop=True)


def population_for_window(population: pd.DataFrame, period: str, months: int = 12) -> pd.DataFrame:
    """Mid-year populations averaged over the calendar years the window touches (weighted
    by the months of the window in each year), with ethnicity rolled up."""
    first, last = _window(period, months)
    months_in = pd.period_range(first, last, freq="M")
    weights = pd.Series(months_in.year).value_counts(normalize=True)
    years = population["year"].unique()
    missing = [y for y in weights.index if y not in years]
    if missing:  # fall back to the nearest year available
        for y in missing:
            nearest = min(years, key=lambda v: abs(v - y))
            weights[nearest] = weights.get(nearest, 0) + weights.pop(y)
    pop = population[population["year"].isin(weights.index)].copy()
    pop["children"] = pop["children"].astype(float) * pop["year"].map(weights)
    pop["ethnicity"] = ethnic_group(pop["ethnicity"])
    keys = [c for c in ("ethnicity", "age_band", "sex", "idaci_decile") if c in pop]
    return pop.groupby(keys, dropna=False, observed=True)["children"].sum().reset_index()


def _label(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    return frame[by].astype(str).agg("|".join, axis=1) if len(by) > 1 else frame[by[0]].astype(str)


def rates(
    ev: pd.DataFrame,
    pop: pd.DataFrame,
    by: list[str] | str = "ethnicity",
    reference: str = "white_british",
    level: float = 0.95,
) -> pd.DataFrame:
    """Rate per 10,000, rate ratio (Katz) and representation index per stage and group.

    With two attributes crossed, each cell is compared with the reference group's cell at
    the same level of the second attribute (e.g. Black 10-15 against White British 10-15).
    Children whose first attribute is not known are left out of the ratios (see the
    data-quality share); groups without a population (disability) get counts only.
    """
    by = [by] if isinstance(by, str) else list(by)
    counts = ev.groupby(["stage", *by], observed=True, dropna=False).size().rename("count")
    counts = counts.reset_index()
    have_pop = all(b in pop.columns for b in by)
    if have_pop:
        p = pop.groupby(by, observed=True)["children"].sum().rename("population").reset_index()
        for b in by:
            p[b] = p[b].astype(str)
        for b in by:
            counts[b] = counts[b].astype(str)
        grid = pd.MultiIndex.from_product([list(STAGES), p.index], names=["stage", "_p"])
        full = pd.DataFrame(index=grid).reset_index().join(p, on="_p").drop(columns="_p")
        out = full.merge(counts, on=["stage", *by], how="left")
        out["count"] = out["count"].fillna(0).astype(int)
        out["rate_per_10k"] = out["count"] / out["population"] * 1e4
    else:
        out = counts.assign(population=np.nan, rate_per_10k=np.nan)
    out["group"] = _label(out, by)
    first = by[0]
    ref_key = out[by].astype(str).copy()
    ref_key[first] = str(reference)
    out["reference"] = _label(ref_key, by)
    known = out[first].astype(str) != NOT_KNOWN
    ref = out.set_index(["stage", "group"])[["count", "population"]]
    idx = pd.MultiIndex.from_arrays([out["stage"], out["reference"]])
    b = ref["count"].reindex(idx).to_numpy()
    n2 = ref["population"].reindex(idx).to_numpy()
    k = katz_rate_ratio(out["count"], out["population"], b, n2, level)
    out = pd.concat([out, k.rename(columns={"ratio": "rate_ratio"})], axis=1)
    # a zero count has no ratio, but the exact conditional bound says how large a ratio
    # the data can rule out
    ex = conditional_rate_ratio_interval(out["count"], out["population"], b, n2, level)
    out["zero_upper"] = ex["exact_upper"].where(out["count"].eq(0).to_numpy())
    out.loc[
        ~known | (out["group"] == out["reference"]),
        ["rate_ratio", "lower", "upper", "p_value", "zero_upper"],
    ] = np.nan
    out.loc[out["group"] == out["reference"], "rate_ratio"] = 1.0
    # representation: share of the stage's (known) children / share of the population
    tot = out[known].groupby("stage")[["count", "population"]].transform("sum")
    out["representation_index"] = np.nan
    out.loc[known, "representation_index"] = (out.loc[known, "count"] / tot["count"]) / (
        out.loc[known, "population"] / tot["population"]
    )
    return out


def decision_points(rates_frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Stage-to-stage ratios: each stage per 100 of the previous stage, and that ratio
    relative to the reference group (relative rate index at each decision point), with a
    Katz interval treating the previous stage's count as the denominator."""
    stages = list(STAGES)
    f = rates_frame.copy()
    prev = {s: stages[i - 1] for i, s in enumerate(stages) if i}
    f = f[f["stage"].isin(prev)]
    base = rates_frame.set_index(["stage", "group"])["count"]
    f["previous_stage"] = f["stage"].map(prev)
    f["previous_count"] = base.reindex(
        pd.MultiIndex.from_arrays([f["previous_stage"], f["group"]])
    ).to_numpy()
    f["per_100_previous"] = f["count"] / f["previous_count"] * 100
    rb = base.reindex(pd.MultiIndex.from_arrays([f["stage"], f["reference"]])).to_numpy()
    rp = base.reindex(pd.MultiIndex.from_arrays([f["previous_stage"], f["reference"]])).to_numpy()
    k = katz_rate_ratio(f["count"], f["previous_count"], rb, rp, level)
    f["decision_ratio"], f["dp_lower"], f["dp_upper"] = (
        k["ratio"].to_numpy(),
        k["lower"].to_numpy(),
        k["upper"].to_numpy(),
    )
    own = f["group"] == f["reference"]
    f.loc[own, ["decision_ratio", "dp_lower", "dp_upper"]] = [1.0, np.nan, np.nan]
    f.loc[f["group"].str.startswith(NOT_KNOWN), ["decision_ratio", "dp_lower", "dp_upper"]] = np.nan
    return f[
        [
            "stage",
            "previous_stage",
            "group",
            "count",
            "previous_count",
            "per_100_previous",
            "decision_ratio",
            "dp_lower",
            "dp_upper",
        ]
    ].reset_index(drop=True)


def standardised(
    ev: pd.DataFrame, pop: pd.DataFrame, reference: str = "white_british", level: float = 0.95
) -> pd.DataFrame:
    """Deprivation-standardised ratios by ethnic group (indirect standardisation by IDACI
    decile).

    expected_g = Σ_d population_{g,d} × rate_d, with rate_d the all-groups rate in decile d
    (children of unknown ethnicity left out of both). SR = observed / expected, with the
    exact Poisson interval; the adjusted ratio is SR_g / SR_reference with a log-scale
    interval (variance 1/O_g + 1/O_ref). Children without a decile are left out.
    """
    e = ev[(ev["ethnicity"] != NOT_KNOWN) & ev["idaci_decile"].notna()]
    p = pop[(pop["ethnicity"] != NOT_KNOWN) & pop["idaci_decile"].notna()]
    p_gd = p.groupby(["ethnicity", "idaci_decile"])["children"].sum()
    p_d = p.groupby("idaci_decile")["children"].sum()
    rows = []
    for stage in STAGES:
        s = e[e["stage"] == stage]
        o_d = s.groupby("idaci_decile").size().reindex(p_d.index, fill_value=0)
        rate_d = o_d / p_d
        expected = (
            (p_gd * rate_d.reindex(p_gd.index.get_level_values(1)).to_numpy())
            .groupby(level=0)
            .sum()
        )
        observed = s.groupby("ethnicity").size().reindex(expected.index, fill_value=0)
        rows.append(
            pd.DataFrame(
                {
                    "stage": stage,
                    "group": expected.index,
                    "observed": observed.to_numpy(),
                    "expected": expected.to_numpy(),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    sr = exact_poisson_ratio(out["observed"], out["expected"], level)
    out["sr"], out["sr_lower"], out["sr_upper"] = sr["ratio"], sr["lower"], sr["upper"]
    ref = out[out["group"] == reference].set_index("stage")
    o_ref = out["stage"].map(ref["observed"]).astype(float)
    sr_ref = out["stage"].map(ref["sr"])
    z = special.ndtri(0.5 + level / 2)
    ok = (out["observed"] > 0) & (o_ref > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        adj = np.where(ok, out["sr"] / sr_ref, np.nan)
        se = np.where(ok, np.sqrt(1 / out["observed"] + 1 / o_ref), np.nan)
    out["adjusted_ratio"] = adj
    out["adj_lower"], out["adj_upper"] = adj * np.exp(-z * se), adj * np.exp(z * se)
    out["adj_p_value"] = np.where(ok, 2 * special.ndtr(-np.abs(np.log(adj) / se)), np.nan)
    own = out["group"] == reference
    out.loc[own, ["adjusted_ratio", "adj_lower", "adj_upper", "adj_p_value"]] = [
        1.0,
        np.nan,
        np.nan,
        np.nan,
    ]
    return out


def poisson_regression(
    ev: pd.DataFrame, pop: pd.DataFrame, reference: str = "white_british"
) -> pd.DataFrame:
    """Adjusted rate ratios by ethnic group from a Poisson GLM per stage:
    count ~ group + C(decile), offset log(population) (statsmodels). A second view beside
    indirect standardisation; groups with no events are left out of the fit."""
    from types import SimpleNamespace

    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.tools import add_constant

    # the three names used, without importing all of statsmodels.api (twice as slow)
    sm = SimpleNamespace(GLM=GLM, families=families, add_constant=add_constant)

    e = ev[(ev["ethnicity"] != NOT_KNOWN) & ev["idaci_decile"].notna()]
    p = pop[(pop["ethnicity"] != NOT_KNOWN) & pop["idaci_decile"].notna()]
    cells = p.groupby(["ethnicity", "idaci_decile"])["children"].sum().reset_index()
    cells = cells[cells["children"] > 0]
    rows = []
    for stage in STAGES:
        o = e[e["stage"] == stage].groupby(["ethnicity", "idaci_decile"]).size().rename("count")
        d = cells.join(o, on=["ethnicity", "idaci_decile"]).fillna({"count": 0})
        present = d.groupby("ethnicity")["count"].sum()
        groups = [g for g in present.index if present[g] > 0]
        if reference not in groups:
            continue
        d = d[d["ethnicity"].isin(groups)]
        others = [g for g in groups if g != reference]
        X = pd.DataFrame({f"g_{g}": (d["ethnicity"] == g).astype(float) for g in others})
        dec = pd.get_dummies(
            d["idaci_decile"].astype(int), prefix="d", drop_first=True, dtype=float
        )
        X = sm.add_constant(pd.concat([X, dec], axis=1), has_constant="add")
        fit = sm.GLM(
            d["count"].to_numpy(),
            X.to_numpy(),
            family=sm.families.Poisson(),
            offset=np.log(d["children"].to_numpy()),
        ).fit()
        ci = fit.conf_int()
        for i, g in enumerate(others, start=1):
            rows.append(
                {
                    "stage": stage,
                    "group": g,
                    "glm_ratio": float(np.exp(fit.params[i])),
                    "glm_lower": float(np.exp(ci[i, 0])),
                    "glm_upper": float(np.exp(ci[i, 1])),
                    "glm_p_value": float(fit.pvalues[i]),
                }
            )
    return pd.DataFrame(
        rows, columns=["stage", "group", "glm_ratio", "glm_lower", "glm_upper", "glm_p_value"]
    )


def table(
    tables: dict[str, pd.DataFrame],
    period: str,
    by=("ethnicity",),
    reference: str | None = "white_british",
    count: str = "children",
    level: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """Everything the notebook shows, for one period: rates (with adjusted p-values),
    decision points, and (for ethnicity) standardised and regression ratios. A
    ``reference`` that is no value of the first attribute of ``by`` is a ValueError
    (:func:`check_reference`); None asks for counts and rates only (no ratio)."""
    absent = unavailable_stages(tables, period)
    ev = events(tables, period, count=count)
    pop = population_for_window(tables["population"], period)
    if reference is not None:
        check_reference(ev, pop, list(by)[0], reference)
    r = rates(ev, pop, list(by), str(reference), level)
    r = r[~r["stage"].isin(absent)].reset_index(drop=True)
    r = pd.concat([r, adjust_pvalues(r["p_value"])], axis=1)
    out = {"events": ev, "population": pop, "rates": r, "decisions": decision_points(r, level)}
    if list(by) == ["ethnicity"] and reference is not None:
        s = standardised(ev, pop, reference, level)
        s = s[~s["stage"].isin(absent)].reset_index(drop=True)
        s = pd.concat([s, adjust_pvalues(s["adj_p_value"]).add_prefix("adj_")], axis=1)
        out["standardised"] = s
        reg = poisson_regression(ev, pop, reference)
        reg = reg[~reg["stage"].isin(absent)].reset_index(drop=True)
        out["regression"] = pd.concat(
            [reg, adjust_pvalues(reg["glm_p_value"]).add_prefix("glm_")], axis=1
        )
    out["not_available"] = pd.DataFrame(
        {"stage": list(absent), "reason": list(absent.values())}, columns=["stage", "reason"]
    )
    return out


def check_reference(ev: pd.DataFrame, pop: pd.DataFrame, first: str, reference: str) -> None:
    """Raise ValueError unless ``reference`` is a value of ``first`` (in the population,
    or for an attribute without one, the events): a reference group that is none (the
    default White British on a page by sex) gave no ratio at all, under a headline that
    no group differed clearly from it."""
    values = (pop if first in pop else ev)[first].dropna().astype(str).unique()
    if str(reference) not in values:
        raise ValueError(
            f"reference group {reference!r} is not a value of {first}: "
            f"choose one of {', '.join(sorted(values))}"
        )


def unavailable_stages(tables: dict[str, pd.DataFrame], period: str) -> dict[str, str]:
    """Stages that cannot be measured from ``tables`` (their table, or the population,
    absent or empty, or starting after the period): stage -> reason, e.g.
    ``{"referral": "not available: needs referrals"}``. Such a stage gets no rates,
    never a rate of 0 (declarations in ``audit_lib.needs``)."""
    from ..needs import unavailable

    _, as_of = _window(period)
    keys = [f"disproportionality.{stage}" for stage in STAGES]
    return {k.split(".", 1)[1]: why for k, why in unavailable(tables, keys, as_of).items()}


def combined(out: dict[str, pd.DataFrame], adjustment: str = "bh") -> pd.DataFrame:
    """Crude and deprivation-adjusted ratios side by side per stage and group, with the
    chosen adjusted p-value (``bh`` or ``holm``) and a plain label: "over", "under" or ""
    (not clear, or no ratio because a count is zero).

    The headline adjusted ratio (``adjusted_ratio``, ``adj_lower``, ``adj_upper``,
    ``adj_p_adjusted``) is the Poisson regression's (group + IDACI decile, log-population
    offset), which is unbiased; the ratio of indirectly standardised ratios, biased
    toward 1, is kept as a second view (``smr_ratio``, ``smr_lower``, ``smr_upper``)."""
    r = out["rates"].copy()
    col = {"bh": "p_bh", "holm": "p_holm"}[adjustment]
    r["p_adjusted"] = r[col]
    if "standardised" in out:
        s = out["standardised"][
            [
                "stage",
                "group",
                "observed",
                "expected",
                "sr",
                "sr_lower",
                "sr_upper",
                "adjusted_ratio",
                "adj_lower",
                "adj_upper",
                f"adj_{col}",
            ]
        ].rename(columns={f"adj_{col}": "adj_p_adjusted"})
        s = s.rename(
            columns={
                "adjusted_ratio": "smr_ratio",
                "adj_lower": "smr_lower",
                "adj_upper": "smr_upper",
                "adj_p_adjusted": "smr_p_adjusted",
            }
        )
        r = r.merge(s, on=["stage", "group"], how="left")
        g = out["regression"][
            ["stage", "group", "glm_ratio", "glm_lower", "glm_upper", f"glm_{col}"]
        ].rename(
            columns={
                "glm_ratio": "adjusted_ratio",
                "glm_lower": "adj_lower",
                "glm_upper": "adj_upper",
                f"glm_{col}": "adj_p_adjusted",
            }
        )
        r = r.merge(g, on=["stage", "group"], how="left")
        own = r["group"] == r["reference"]
        r.loc[own, "adjusted_ratio"] = 1.0
    clear = (r["p_adjusted"] < 0.05) & r["rate_ratio"].notna()
    r["label"] = np.where(
        clear & (r["rate_ratio"] > 1), "over", np.where(clear & (r["rate_ratio"] < 1), "under", "")
    )
    r["stage_label"] = r["stage"].map({k: v[2] for k, v in STAGES.items()})
    return r


def count_hidden(frame: pd.DataFrame, suppress_max: int = 5) -> np.ndarray:
    """Rows of ``frame`` (``stage``, ``group``, ``count``) whose count a page shows as "c":
    1 to ``suppress_max``, and, by secondary suppression (:func:`disclosure.protect`),
    the next smallest at a stage with a single such count. A stage's groups sum to a total
    a reader knows (its children, on the ethnicity-not-known table), so one hidden count
    would be that total less the shown ones. The reference group is the next smallest
    only where no other group has a count: hiding it hides every ratio at the stage."""
    from ..disclosure import down, protect

    f = frame.reset_index(drop=True)
    stages = f.groupby(f["stage"].to_numpy(), sort=False).indices.values()
    relations = [r for rows in stages for r in down(f, "count", rows=rows.tolist())]
    ref = f["group"].eq(f["reference"]) if "reference" in f else pd.Series(False, f.index)
    keep = [(i, "count") for i in np.flatnonzero(ref.to_numpy())]
    return protect(f, ["count"], relations, suppress_max, keep)["count"].to_numpy()


def _hidden_counts(rates: pd.DataFrame, suppress_max: int) -> pd.Series:
    """:func:`count_hidden` of ``rates``, indexed by (stage, group), for looking up."""
    at = pd.MultiIndex.from_arrays([rates["stage"], rates["group"]])
    return pd.Series(count_hidden(rates, suppress_max), index=at)


def _lookup(hidden: pd.Series, stages, groups) -> np.ndarray:
    """Whether each (stage, group) is hidden in ``hidden`` (absent: not hidden)."""
    key = pd.MultiIndex.from_arrays([stages, groups])
    return hidden.reindex(key).fillna(False).to_numpy(dtype=bool)


def _against_hidden_reference(frame: pd.DataFrame, rates: pd.DataFrame, hidden: pd.Series):
    """Rows of ``frame`` whose reference's count at the stage or previous stage is hidden."""
    refs = rates.set_index(["stage", "group"])["reference"]
    hide = np.zeros(len(frame), bool)
    for col in ("stage", "previous_stage"):
        if col in frame:
            ref = refs.reindex(pd.MultiIndex.from_arrays([frame[col], frame["group"]]))
            hide |= _lookup(hidden, frame[col], ref.to_numpy())
    return hide


def against_small_reference(
    frame: pd.DataFrame, rates_frame: pd.DataFrame | None = None, suppress_max: int = 5
) -> np.ndarray:
    """Rows of ``frame`` (``stage``, ``group``; a decision point also ``previous_stage``)
    whose reference group's count at the stage, or at the previous stage, is hidden in
    ``rates_frame`` (default ``frame``; :func:`count_hidden`): a group's ratio against it,
    beside the group's own count and population, gives that count back (a 200-child cut:
    Black 14 of 17,071, ratio 1.33, so White British 4 of 6,487)."""
    rates = frame if rates_frame is None else rates_frame
    return _against_hidden_reference(frame, rates, _hidden_counts(rates, suppress_max))


def hidden_at(
    frame: pd.DataFrame,
    rates_frame: pd.DataFrame | None = None,
    suppress_max: int = 5,
    stage: str = "stage",
) -> np.ndarray:
    """Rows of ``frame`` whose group's count at the stage in column ``stage`` is hidden
    in ``rates_frame`` (default ``frame``; :func:`count_hidden`): a decision point's
    counts are hidden as the rates table hides them."""
    rates = frame if rates_frame is None else rates_frame
    return _lookup(_hidden_counts(rates, suppress_max), frame[stage], frame["group"])


def ratio_hidden(
    frame: pd.DataFrame, rates_frame: pd.DataFrame | None = None, suppress_max: int = 5
) -> np.ndarray:
    """Rows whose ratio a page hides: the group's own count is hidden (:func:`hidden_at`),
    or its reference's (:func:`against_small_reference`)."""
    rates = frame if rates_frame is None else rates_frame
    hidden = _hidden_counts(rates, suppress_max)
    own = _lookup(hidden, frame["stage"], frame["group"])
    return own | _against_hidden_reference(frame, rates, hidden)


def index_hidden(comb: pd.DataFrame, suppress_max: int = 5) -> np.ndarray:
    """Rows whose stage has a known group's count of 1 to ``suppress_max``: a shown
    representation index gives the stage's total, and the total less the shown counts the
    hidden ones (one hidden count is then given back)."""
    from ..disclosure import is_suppressed

    known = ~comb["group"].astype(str).str.startswith(NOT_KNOWN)
    small = pd.Series(is_suppressed(comb["count"], suppress_max) & known.to_numpy())
    return small.groupby(comb["stage"].to_numpy()).transform("any").to_numpy()


#: How the rates table hides its columns (``styled_table(hidden_with=)``) once
#: :func:`flag_hidden` has added the flags: counts (and their rates) as
#: :func:`count_hidden` says, ratios, p-values and their labels ("over", "under") also
#: where the reference's count is hidden, the index where any count at the stage is small.
#: A count and its rate, as any table of the rates shows them (England's beside ours too).
COUNT_HIDDEN_WITH = {"count": "count_hidden", "rate_per_10k": ("count", "count_hidden")}
RATES_HIDDEN_WITH = {
    **COUNT_HIDDEN_WITH,
    # the description ("over", "under", no clear difference) judges the ratio and p-value
    **dict.fromkeys(
        ("rate_ratio", "lower", "upper", "p_adjusted", "label"), ("count", "ratio_hidden")
    ),
    "representation_index": ("count", "index_hidden"),
}
#: The same for the decision-point table (the previous stage's count as the rates
#: table hides it).
DECISIONS_HIDDEN_WITH = {
    "count": "count_hidden",
    "previous_count": "previous_hidden",
    "per_100_previous": ("count", "count_hidden", "previous_hidden"),
    **dict.fromkeys(("decision_ratio", "dp_lower", "dp_upper"), ("count", "ratio_hidden")),
}
#: The flag columns :func:`flag_hidden` adds (a page's ``styled_table(hide=)``).
FLAGS = ("count_hidden", "ratio_hidden", "index_hidden", "previous_hidden")


def flag_hidden(
    frame: pd.DataFrame, rates_frame: pd.DataFrame | None = None, suppress_max: int = 5
) -> pd.DataFrame:
    """``frame`` with the boolean columns a page hides by (not shown): ``count_hidden``
    (:func:`count_hidden`), ``ratio_hidden`` (:func:`ratio_hidden`), for the rates
    ``index_hidden`` (:func:`index_hidden`), and for decision points (whose counts are
    hidden as ``rates_frame`` hides them) ``previous_hidden``
    (the previous stage's count hidden in ``rates_frame``), which hides the decision
    ratio too: with the count shown, the ratio gives the previous count back."""
    rates = frame if rates_frame is None else rates_frame
    hidden = _hidden_counts(rates, suppress_max)  # secondary suppression: worked out once
    own = _lookup(hidden, frame["stage"], frame["group"])
    out = frame.assign(
        count_hidden=own, ratio_hidden=own | _against_hidden_reference(frame, rates, hidden)
    )
    if "representation_index" in frame:
        out["index_hidden"] = index_hidden(frame, suppress_max)
    if "previous_stage" in frame:
        out["previous_hidden"] = _lookup(hidden, frame["previous_stage"], frame["group"])
        out["ratio_hidden"] |= out["previous_hidden"]
    return out


def chart_rates(comb: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`flag_hidden` rates a chart may draw at their count (the stage
    funnel): known groups with children, whose count the tables show."""
    known = ~comb["group"].astype(str).str.startswith(NOT_KNOWN)
    return comb[known & comb["count"].gt(0) & ~comb["count_hidden"]]


def forest_rows(comb: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The rows of :func:`flag_hidden` rates the forest plot draws: known groups other
    than ``reference`` whose ratio the tables show, labelled "Stage: Group"."""
    from ..model import category_label

    known = ~comb["group"].astype(str).str.startswith(NOT_KNOWN)
    f = comb[(comb["group"] != reference) & known & ~comb["ratio_hidden"]]
    return f.assign(label=f["stage_label"] + ": " + f["group"].map(category_label))


#: How the regression table hides its figures (``styled_table(hidden_with=)``) once
#: :func:`regression_flagged` has added the rates table's flag.
REGRESSION_HIDDEN_WITH = dict.fromkeys(
    ("glm_ratio", "glm_lower", "glm_upper", "glm_p_value", "glm_p_holm", "glm_p_bh"),
    "ratio_hidden",
)


def regression_flagged(regression: pd.DataFrame, comb: pd.DataFrame) -> pd.DataFrame:
    """The regression table (``table(...)["regression"]``) with the rates table's
    ``ratio_hidden`` flag of each stage and group (:func:`flag_hidden` on ``comb``): an
    adjusted ratio's interval gives its count back (its log width is about
    3.92 x sqrt(1/count + 1/reference's count): a 200-child cut's one Mixed S47 enquiry
    read 0.96, 0.06 to 15.7), so it is hidden where the crude ratio is. Only the stages
    ``comb`` holds (the page's) are kept."""
    regression = regression[regression["stage"].isin(comb["stage"])]
    key = comb.set_index(["stage", "group"])["ratio_hidden"]
    at = pd.MultiIndex.from_arrays([regression["stage"], regression["group"]])
    return regression.assign(ratio_hidden=key.reindex(at).fillna(True).to_numpy(dtype=bool))


ADJUSTMENT_NAMES = {"bh": "Benjamini-Hochberg", "holm": "Holm"}


def scope_note(
    period: str,
    count: str,
    by: list[str],
    reference: str,
    adjustment: str | None = None,
    stage: str | None = None,
) -> str:
    """The line under a disproportionality page's heading, in the page's words: the
    12-month window, what is counted, the grouping (column labels, not names), the stage
    if one, the reference group's label (not its code) and the p-value adjustment."""
    from ..model import category_label, column_label
    from ..report import lower_first, month_label

    parts = [f"12 months to {month_label(period)}", f"counting {count}"]
    if stage is not None:
        parts.append(f"stage: {category_label(stage)}")
    parts.append("by " + " and ".join(lower_first(column_label(b)) for b in by))
    parts.append(f"reference group: {category_label(reference)}")
    if adjustment is not None:
        parts.append(f"p-values adjusted by {ADJUSTMENT_NAMES[adjustment]}")
    return "; ".join(parts) + "."


def findings(
    comb: pd.DataFrame,
    reference: str,
    adjustment: str,
    suppress_max: int = 5,
    focus: str = "cp_plan",
    unavailable: dict[str, str] | None = None,
) -> list[str]:
    """Headline findings in plain English, e.g. "Black children were 1.7 times as likely as
    White British children to become subject to a CP plan (95% CI 1.2 to 2.4); after
    adjusting for deprivation, 1.3 (0.9 to 1.8)": up to three, the clear crude ratios first,
    furthest from parity first. Ratios whose count is suppressed are not quoted."""
    from ..model import ETHNIC_GROUP_LABELS as L
    from ..report import plural

    def name(g):
        return L.get(g, str(g).replace("_", " ").replace("|", ", "))

    stage_words = {
        "referral": "be referred",
        "assessment": "be assessed",
        "s47": "be subject to a S47 enquiry",
        "icpc": "have an initial conference",
        "cp_plan": "become subject to a CP plan",
        "cla_start": "start to be looked after",
    }
    unavailable = unavailable or {}
    absent = [f"{STAGES[st][2]} ({why})" for st, why in unavailable.items()]
    absent_line = ["Not available for this data: " + "; ".join(absent) + "."] if absent else []
    if comb.empty:
        return ["No stage can be measured for this data.", *absent_line]
    lines = []
    shown = ~ratio_hidden(comb, suppress_max=suppress_max)
    others = (comb["group"] != reference) & comb["rate_ratio"].notna()
    f = comb[(comb["stage"] == focus) & others & shown]
    # the clearest first: a clear crude ratio before one clear only after adjustment,
    # then the furthest from parity either way (sorting by the ratio alone kept a clear
    # under-representation out of the three lines)
    f = f.assign(_crude=f["label"].eq(""), _gap=-np.log(f["rate_ratio"]).abs())
    for r in f.sort_values(["_crude", "_gap"], kind="stable").itertuples():
        if r.label == "" and not (
            getattr(r, "adj_upper", np.nan) < 1 or getattr(r, "adj_lower", np.nan) > 1
        ):
            continue
        times = f"{r.rate_ratio:.1f} times as likely"
        text = (
            f"{name(r.group)} children were {times} as {name(reference)} children to "
            f"{stage_words[focus]} (95% CI {r.lower:.1f} to {r.upper:.1f})"
        )
        if "adjusted_ratio" in comb and pd.notna(r.adjusted_ratio):
            text += f"; after adjusting for deprivation, {r.adjusted_ratio:.1f} ({r.adj_lower:.1f} to {r.adj_upper:.1f})"
        lines.append(text + ".")
        if len(lines) == 3:
            break
    if "zero_upper" in comb:
        zero = comb[
            (comb["stage"] == focus)
            & comb["zero_upper"].notna()
            & (comb["group"] != reference)
            & ~against_small_reference(comb, suppress_max=suppress_max)
        ]
        for r in zero.itertuples():
            lines.append(
                f"No {name(r.group)} children were recorded to {stage_words[focus]}: no ratio "
                f"can be given, but the data rule out a ratio above {r.zero_upper:.2f} against "
                f"{name(reference)} children (exact conditional 95% bound)."
            )
    # only ratios the tables show are counted: a hidden one is not judged either
    over = (comb["label"] == "over") & shown
    under = (comb["label"] == "under") & shown
    judged = (
        f"clearly lower than for {name(reference)} children "
        f"({ADJUSTMENT_NAMES[adjustment]}-adjusted p < 0.05)."
    )
    few = (
        "too few children in the groups or in the reference group to show one "
        "without identifying them."
    )
    n_shown = int(shown[others].sum())
    if shown[others].all():
        lines.append(
            f"Across all stages, {over.sum()} group-stage rates were clearly higher and "
            f"{under.sum()} {judged}"
        )
    elif n_shown:
        lines.append(
            f"Of the {plural(n_shown, 'group-stage ratio')} shown, {over.sum()} were clearly "
            f"higher and "
            f"{under.sum()} {judged}"
        )
    else:
        lines.append(f"No ratio against {name(reference)} children is shown at any stage: {few}")
    if focus in unavailable:
        lines.insert(0, f"{STAGES[focus][2]}: {unavailable[focus]}.")
    elif not lines[:-1] and n_shown:
        stage = STAGES[focus][2].lower()
        hidden_here = f.empty and (others & (comb["stage"] == focus)).any()
        lines.insert(
            0,
            f"No ratio against {name(reference)} children is shown at the {stage} stage: {few}"
            if hidden_here
            else f"No group differed clearly from {name(reference)} children at the {stage} stage.",
        )
    return lines + [a for a in absent_line if focus not in unavailable or len(unavailable) > 1]


def march_ends(period: str, years: int) -> list[str]:
    """The last ``years`` months of March up to ``period`` ("YYYY-03"), oldest first: the
    ends of the 12-month windows (financial years, as DfE publishes) a trend compares."""
    end = pd.Period(period, freq="M")
    last = end.year if end.month >= 3 else end.year - 1
    return [f"{y}-03" for y in range(last - years + 1, last + 1)] if years > 0 else []


def trend(
    tables: dict[str, pd.DataFrame],
    periods: list[str],
    stage: str = "cp_plan",
    reference: str = "white_british",
    count: str = "children",
) -> pd.DataFrame:
    """Deprivation-adjusted ratios at one stage for each 12-month window ending in
    ``periods``: the headline adjusted ratio, from the Poisson regression on group and
    IDACI decile with a log-population offset (see ``combined``)."""
    cols = ["period", "group", "count", "reference_count"]
    cols += ["adjusted_ratio", "adj_lower", "adj_upper"]
    rows = []
    for p in periods:
        ev = events(tables, p, count=count, stages=[stage])
        pop = population_for_window(tables["population"], p)
        reg = poisson_regression(ev, pop, reference)
        reg = reg[reg["stage"] == stage]
        observed = ev.groupby("ethnicity").size()
        rows.append(
            pd.DataFrame(
                {
                    "period": p,
                    "group": reg["group"].to_numpy(),
                    "count": reg["group"].map(observed).fillna(0).astype(int).to_numpy(),
                    "reference_count": int(observed.get(reference, 0)),
                    "adjusted_ratio": reg["glm_ratio"].to_numpy(),
                    "adj_lower": reg["glm_lower"].to_numpy(),
                    "adj_upper": reg["glm_upper"].to_numpy(),
                }
            )
        )
    rows = [r for r in rows if len(r)]  # a year with no regression adds no row
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def shown_trend(tr: pd.DataFrame, reference: str, suppress_max: int = 5) -> pd.DataFrame:
    """The rows of :func:`trend` a chart may draw: other groups' ratios where the group
    and the reference each had more than ``suppress_max`` children (the rates table hides
    a ratio against a reference of 1 to ``suppress_max``; none, it has no ratio)."""
    keep = (tr["group"] != reference) & (tr["count"] > suppress_max)
    return tr[keep & (tr["reference_count"] > suppress_max)]


def metric_entries(
    comb: pd.DataFrame, unavailable: dict[str, str] | None = None
) -> dict[str, dict]:
    """metrics.json entries for each stage and group (crossed groups are not recorded).

    A stage in ``unavailable`` (stage -> reason) is recorded once, as
    ``disproportionality.stage.<stage>`` with no value and the reason."""
    from ..needs import not_available

    out = {
        f"disproportionality.stage.{st}": not_available(why)
        for st, why in (unavailable or {}).items()
    }
    for r in comb.itertuples():
        if "|" in str(r.group):
            continue
        base = f"{r.stage}.{r.group}.rolling_12m"
        out[f"disproportionality.rate_per_10k.{base}"] = {
            "value": None if pd.isna(r.rate_per_10k) else float(r.rate_per_10k),
            "numerator": int(r.count),
            "denominator": None if pd.isna(r.population) else float(r.population),
        }
        out[f"disproportionality.rate_ratio.{base}"] = {
            "value": None if pd.isna(r.rate_ratio) else float(r.rate_ratio),
            "lower": None if pd.isna(r.lower) else float(r.lower),
            "upper": None if pd.isna(r.upper) else float(r.upper),
            "numerator": int(r.count),
            "reference": str(r.reference),
        }
        if int(r.count) == 0 and pd.notna(getattr(r, "zero_upper", np.nan)):
            entry = out[f"disproportionality.rate_ratio.{base}"]
            entry["upper_bound_exact"] = float(r.zero_upper)
            entry["note"] = "no ratio: zero count; exact conditional (binomial) 95% upper bound"
        if hasattr(r, "adjusted_ratio") and r.group != NOT_KNOWN:
            out[f"disproportionality.adjusted_ratio.{base}"] = {
                "value": None if pd.isna(r.adjusted_ratio) else float(r.adjusted_ratio),
                "lower": None if pd.isna(r.adj_lower) else float(r.adj_lower),
                "upper": None if pd.isna(r.adj_upper) else float(r.adj_upper),
                "observed": None if pd.isna(r.observed) else int(r.observed),
                "expected": None if pd.isna(r.expected) else float(r.expected),
                "reference": str(r.reference),
                "method": "Poisson regression on group and IDACI decile, log-population offset",
            }
            out[f"disproportionality.adjusted_ratio_smr.{base}"] = {
                "value": None if pd.isna(r.smr_ratio) else float(r.smr_ratio),
                "lower": None if pd.isna(r.smr_lower) else float(r.smr_lower),
                "upper": None if pd.isna(r.smr_upper) else float(r.smr_upper),
                "reference": str(r.reference),
                "method": "ratio of indirectly standardised ratios (IDACI decile): second view",
            }
    return out
