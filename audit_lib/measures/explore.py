"""Disproportionality research beyond the monthly page (the exploration notebook).

Thin views over ``measures.disproportionality``: any stage by any pair of
characteristics, the funnel from referral to care for each group, and how the rate
ratios move with the choice of reference group and of population year. Definitions are
those of ``disproportionality.rates`` (rates per 10,000 children, Katz rate ratios);
METRICS.md, "Disproportionality".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import disproportionality as D

__all__ = [
    "by_pair",
    "denominator_sensitivity",
    "funnel",
    "funnel_title",
    "hide_small",
    "rates_title",
    "reference_sensitivity",
]

#: Columns built on a count: hidden with it when it is 1..suppress_max.
DERIVED = ("rate_per_10k", "rate_ratio", "lower", "upper", "representation_index", "p_value")


def hide_small(frame: pd.DataFrame, suppress_max: int = 5, count: str = "count") -> pd.DataFrame:
    """A copy with every figure built on a count of 1..``suppress_max`` blanked (the count
    itself is shown as "c" by ``report.styled_table``)."""
    f = frame.copy()
    small = f[count].between(1, suppress_max)
    cols = [c for c in (*DERIVED, "per_100_referred") if c in f]
    f[cols] = f[cols].astype(float)
    f.loc[small, cols] = np.nan
    return f


def by_pair(
    tables: dict[str, pd.DataFrame],
    period: str,
    stage: str,
    pair: tuple[str, str] | list[str],
    reference: str = "white_british",
    count: str = "children",
) -> pd.DataFrame:
    """Rates per 10,000 and rate ratios at one ``stage`` for every cell of two crossed
    characteristics (any of ``disproportionality.ATTRIBUTES``), each cell against the
    ``reference`` value of the first at the same level of the second.

    Returns ``disproportionality.rates`` columns for the stage, with the two
    characteristics as columns. Disability has no population: counts only.
    """
    pair = list(pair)
    if len(pair) != 2 or pair[0] == pair[1]:
        raise ValueError("pair must name two different characteristics")
    unknown = [p for p in pair if p not in D.ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown characteristic {unknown[0]!r}; choose from {D.ATTRIBUTES}")
    if stage not in D.STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose from {tuple(D.STAGES)}")
    out = D.table(tables, period, by=pair, reference=reference, count=count)["rates"]
    cols = ["stage", *pair, "group", "count", "population", "rate_per_10k"]
    cols += ["rate_ratio", "lower", "upper", "representation_index", "p_value"]
    return out.loc[out["stage"] == stage, cols].reset_index(drop=True)


def funnel(
    tables: dict[str, pd.DataFrame],
    period: str,
    by: str = "ethnicity",
    count: str = "children",
) -> pd.DataFrame:
    """The funnel from referral to care for each group: children (or events) at each
    stage in the 12 months to ``period``, per 10,000 of the group's population and per
    100 referred in the same window.

    Per 100 referred compares counts in one window, not one cohort followed through
    (a child starting care this year may have been referred last year), as the DfE's
    published stage rates do.
    """
    r = D.table(tables, period, by=[by], reference=None, count=count)["rates"]
    f = r[["stage", "group", "count", "population", "rate_per_10k"]].copy()
    referred = f[f["stage"] == "referral"].set_index("group")["count"]
    f["per_100_referred"] = f["count"] / f["group"].map(referred).replace(0, np.nan) * 100
    f["stage"] = pd.Categorical(f["stage"], list(D.STAGES), ordered=True)
    f = f.sort_values(["group", "stage"], kind="stable")
    f["stage"] = f["stage"].astype(str)
    return f.reset_index(drop=True)


def reference_sensitivity(
    tables: dict[str, pd.DataFrame],
    period: str,
    stage: str,
    references: list[str],
    by: str = "ethnicity",
    count: str = "children",
) -> pd.DataFrame:
    """Rate ratios at ``stage`` against each of ``references`` in turn (long form:
    reference, group, count, rate_ratio, lower, upper). A finding that holds against
    every reference does not depend on which group the authority compares with."""
    ev = D.events(tables, period, count=count)
    pop = D.population_for_window(tables["population"], period)
    frames = []
    for ref in references:  # a handful of reference groups, each one vectorised
        r = D.rates(ev, pop, [by], ref)
        r = r[r["stage"] == stage].assign(reference_group=ref)
        frames.append(r[["reference_group", "group", "count", "rate_ratio", "lower", "upper"]])
    return pd.concat(frames, ignore_index=True)


def denominator_sensitivity(
    tables: dict[str, pd.DataFrame],
    period: str,
    stage: str,
    years: list[int] | None = None,
    by: str = "ethnicity",
    reference: str = "white_british",
    count: str = "children",
) -> pd.DataFrame:
    """Rates and ratios at ``stage`` with the population of each single mid-year in
    ``years`` (default: every year in the population table) as the denominator, against
    the default that averages the years the window touches ("window").

    Long form: population_year, group, count, population, rate_per_10k, rate_ratio, lower,
    upper. Large moves mean the finding rests on the population estimate.
    """
    population = tables["population"]
    years = sorted(population["year"].unique().tolist()) if years is None else list(years)
    ev = D.events(tables, period, count=count)
    frames = []
    pops = [("window", D.population_for_window(population, period))]
    pops += [
        (str(y), D.population_for_window(population[population["year"] == y], period))
        for y in years
        if (population["year"] == y).any()
    ]
    for name, pop in pops:
        r = D.rates(ev, pop, [by], reference)
        r = r[r["stage"] == stage].assign(population_year=name)
        frames.append(
            r[
                [
                    "population_year",
                    "group",
                    "count",
                    "population",
                    "rate_per_10k",
                    "rate_ratio",
                    "lower",
                    "upper",
                ]
            ]
        )
    return pd.concat(frames, ignore_index=True)


def funnel_title(frame: pd.DataFrame, suppress_max: int = 5, last: str = "cla_start") -> str:
    """A title stating the funnel's finding: which known groups are most and least
    likely, per 100 referred, to reach the ``last`` stage (counts above ``suppress_max``)."""
    from ..model import category_label

    end = frame[
        (frame["stage"] == last)
        & (frame["count"] > suppress_max)
        & ~frame["group"].astype(str).str.startswith(D.NOT_KNOWN)
    ].dropna(subset=["per_100_referred"])
    stage = D.STAGES[last][2].lower()
    if len(end) < 2:
        return f"Per 100 children referred, too few groups reach the {stage} stage to compare"
    hi = end.loc[end["per_100_referred"].idxmax()]
    lo = end.loc[end["per_100_referred"].idxmin()]
    return (
        f"Per 100 referred in the same 12 months, {category_label(hi['group'])} children most "
        f'often reach "{stage}" ({hi["per_100_referred"]:.1f}), '
        f"{category_label(lo['group'])} children least often ({lo['per_100_referred']:.1f})"
    )


def rates_title(frame: pd.DataFrame, last: str = "cla_start") -> str:
    """A title for the chart of rates at each stage stating its finding: the groups with
    the highest and lowest rate per 10,000 at the ``last`` stage, and how many times the
    one is the other. ``frame`` holds only what may be shown (counts above the
    suppression threshold, known groups)."""
    from ..model import category_label

    end = frame[frame["stage"] == last].dropna(subset=["rate_per_10k"])
    end = end[end["rate_per_10k"] > 0]
    stage = D.STAGES[last][2].lower()
    if len(end) < 2:
        return f"Rates per 10,000 children at each stage (too few groups to compare at {stage})"
    hi = end.loc[end["rate_per_10k"].idxmax()]
    lo = end.loc[end["rate_per_10k"].idxmin()]
    times = hi["rate_per_10k"] / lo["rate_per_10k"]
    return (
        f"{D.STAGES[last][2]}: the rate for {category_label(hi['group'])} children is "
        f"{times:.1f} times that for {category_label(lo['group'])} children "
        f"({hi['rate_per_10k']:.0f} and {lo['rate_per_10k']:.0f} per 10,000)"
    )
