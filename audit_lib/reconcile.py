"""Reconciliation: the borough's published-year figures recomputed from its own data by
the DfE's definitions, and compared with its row in the DfE's published tables.

Definitions ("Characteristics of children in need" methodology):

- C2: assessments completed (authorised) in the year 1 April to 31 March, by working
  days from the assessment's actual start to its authorisation, in the published bins
  (same day, 1-10, ..., 41-45, 46-50, 51-60, 61+). Within 45 working days = same day
  to 41-45. Counted by completion, so assessments still open at 31 March are not in it.
- C4: initial child protection conferences held in the year, by working days from the
  start of the section 47 enquiry (the strategy discussion) to the conference, in bins
  0-10, 11-15, 16-20, 21+. Within 15 working days = 0-10 and 11-15.

The borough's monthly timeliness pages count by due date over rolling windows; these
functions give the DfE-definition figure for the matching financial year, which is the
one to put next to a published comparator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .calendar import working_days_between
from .comparators import TABLES, ComparatorError, indicator_values, read_dfe, year_window

__all__ = [
    "ReconcileError",
    "dfe_definition_figures",
    "dfe_measures",
    "looked_after_figures",
    "looked_after_for",
    "own_year_figures",
    "published_rows",
    "reconcile",
]

C2_BINS = [
    ("Same_day", 0, 0),
    ("1-10_days", 1, 10),
    ("11-20_days", 11, 20),
    ("21-30_days", 21, 30),
    ("31-40_days", 31, 40),
    ("41-45_days", 41, 45),
    ("46-50_days", 46, 50),
    ("51-60_days", 51, 60),
    ("61+_days", 61, np.inf),
]
C4_BINS = [
    ("Duration_0-10_days", 0, 10),
    ("Duration_11-15_days", 11, 15),
    ("Duration_16-20_days", 16, 20),
    ("Duration_21+_days", 21, np.inf),
]
#: table -> (canonical table, clock start, event, bins, category, count column, median column)
_SOURCES = {
    "C2": (
        "assessments",
        "start_date",
        "authorised_date",
        C2_BINS,
        "Duration of assessment",
        "Assessments_completed",
        "Median_days",
    ),
    "C4": (
        "s47_enquiries",
        "strategy_date",
        "icpc_date",
        C4_BINS,
        "Section 47s and Initial Child Protection Conferences",
        "ICPC",
        "Duration_median",
    ),
}


class ReconcileError(ValueError):
    """A reconciliation that cannot run (one line)."""


def _in_year(dates: pd.Series, time_period: str) -> pd.Series:
    first, last = year_window(time_period)
    return (dates >= first) & (dates <= last)


def _binned(days: pd.Series, bins: list[tuple[str, float, float]]) -> dict[str, int]:
    d = days.dropna().astype(float)
    d = d[d >= 0]  # a conference dated before its enquiry is left out, as the DfE does
    return {name: int(((d >= lo) & (d <= hi)).sum()) for name, lo, hi in bins}


def published_rows(
    tables: dict[str, pd.DataFrame],
    time_period: str,
    la_code: str = "",
    la_name: str = "",
    old_la_code: str = "",
    region_code: str = "",
    region_name: str = "",
) -> dict[str, pd.DataFrame]:
    """The borough's rows for ``time_period`` (e.g. "2025") in the layout of the DfE's
    C2 and C4 open-data files, computed by the DfE definitions from canonical tables.

    Returns {"C2": one-row frame, "C4": one-row frame}; a table whose source is empty
    gives no entry.
    """
    area = {
        "time_period": str(time_period),
        "time_identifier": "Reporting year",
        "geographic_level": "Local authority",
        "country_code": "E92000001",
        "country_name": "England",
        "region_code": region_code,
        "region_name": region_name,
        "old_la_code": old_la_code,
        "new_la_code": la_code,
        "la_name": la_name,
    }
    out = {}
    for key, (name, start, done, bins, category, count, median) in _SOURCES.items():
        f = tables.get(name)
        if f is None or not len(f):
            continue
        f = f[f[done].notna() & _in_year(f[done], time_period)]
        days = working_days_between(f[start], f[done])
        counts = _binned(days, bins)
        row = {
            **area,
            "category": category,
            count: len(f),
            **counts,
            median: float(days.dropna().astype(float).median()) if len(f) else np.nan,
        }
        out[key] = pd.DataFrame([row])
    return out


def dfe_measures() -> list[str]:
    """The timescales the DfE publishes for every authority (those of the comparator
    tables), e.g. ``["assessment_45wd", "icpc_15wd"]``."""
    return [t.indicator.split(".")[1] for t in TABLES.values()]


def dfe_definition_figures(items: pd.DataFrame, time_period: str) -> pd.DataFrame:
    """The DfE-definition share for the financial year from the audit's own timeliness
    items (``timeliness.all_items``): items completed in the year, in time / all
    completed. Columns: measure, numerator, denominator, value, year."""
    done = items[items["completed_date"].notna() & _in_year(items["completed_date"], time_period)]
    done = done[done["measure"].isin(dfe_measures())]
    g = done.assign(in_time=done["status"].eq("in_time")).groupby("measure")["in_time"]
    out = pd.DataFrame({"numerator": g.sum().astype(int), "denominator": g.size()}).reset_index()
    out["value"] = out["numerator"] / out["denominator"]
    start, end = year_window(time_period)
    out["year"] = f"{start.year}-{str(end.year)[2:]}"
    return out


def reconcile(
    data: str | Path | None,
    comparators_dir: str | Path,
    la_code: str | None,
    year: str | None = None,
) -> pd.DataFrame:
    """Each published count of the authority's DfE rows against the same count
    recomputed from its canonical data (e.g. a CIN census import).

    Columns: table, year, column, published, recomputed, difference, status
    ("matches", "differs", "not published (c)"). Published England and regional totals
    are rounded to the nearest 10; LA rows are not, so LA counts are compared exactly.
    """
    from .load import LoadError, load_tables

    if not data or not la_code:
        raise ReconcileError("give --data (a CIN census import) and --la-code")
    try:
        tables, dq = load_tables(data)
    except LoadError as exc:
        raise ReconcileError(str(exc)) from None
    folder = Path(comparators_dir)
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    rows = []
    for p in files:
        try:
            f = read_dfe(p)
        except ComparatorError:
            continue
        if f.table not in TABLES:  # looked-after tables: compared on the pages, not here
            continue
        v = indicator_values(f)
        mine = (v["code"] == la_code) | (v["old_la_code"] == la_code)
        mine &= v["geographic_level"] == "Local authority"
        if not mine.any():
            continue
        years = sorted(v.loc[mine, "time_period"].unique())
        y = str(year) if year else years[-1]
        hit = mine & (v["time_period"] == y)
        if not hit.any():
            continue
        i = hit[hit].index[0]
        year_end = year_window(y)[1]
        # a year the data do not reach is not recomputed: its zeros are not differences
        short = dq.extract_date is not None and pd.Timestamp(dq.extract_date) < year_end
        ours = None if short else published_rows(tables, y).get(f.table)
        t = TABLES[f.table]
        for name in [*t.within, *t.beyond]:
            published = f.frame.at[i, name]
            symbol = f.symbols.at[i, name]
            col = _published_column(f.table, name)
            recomputed = float(ours[col].iloc[0]) if ours is not None else np.nan
            if pd.isna(published):
                status = f"not published ({symbol})"
            elif short:
                status = (
                    f"data end {pd.Timestamp(dq.extract_date):%d %B %Y}, before the year "
                    f"does ({year_end:%d %B %Y}): not recomputed"
                )
            elif pd.isna(recomputed):
                status = "no data to recompute"
            else:
                status = "matches" if published == recomputed else "differs"
            rows.append(
                {
                    "table": f.table,
                    "year": y,
                    "column": col,
                    "published": published,
                    "recomputed": recomputed,
                    "difference": recomputed - published,
                    "status": status,
                }
            )
    if not rows:
        raise ReconcileError(
            f"no DfE C2 or C4 row for {la_code} in {folder} (add the files with "
            "`audit comparators add`)"
        )
    return pd.DataFrame(rows)


def _published_column(table: str, logical: str) -> str:
    """The published header for a logical bin name (C2: d1_10 -> 1-10_days)."""
    bins = C2_BINS if table == "C2" else C4_BINS
    names = [n for n, _, _ in bins]
    t = TABLES[table]
    return names[[*t.within, *t.beyond].index(logical)]


def own_year_figures(
    tables: dict[str, pd.DataFrame],
    time_period: str,
    data_start: pd.Timestamp | None,
    extract_date: pd.Timestamp | None,
) -> pd.DataFrame:
    """The borough's DfE-definition figures for a published year, only where its data
    cover the whole year (first date on or before 1 April, extract on or after
    31 March); otherwise no rows: a part-year is never put beside a published year."""
    from .measures import timeliness as T

    first, last = year_window(time_period)
    cols = ["measure", "numerator", "denominator", "value", "year"]
    if data_start is None or extract_date is None or data_start > first or extract_date < last:
        return pd.DataFrame(columns=cols)
    items = T.all_items(tables, last, measures=dfe_measures())
    return dfe_definition_figures(items, time_period)[cols]


#: Months of care history before 31 March each looked-after measure needs.
_HISTORY_MONTHS = {
    "three_plus_placements": 12,
    "long_term_stability": 30,
    "cla_rate_per_10000": 0,
    "adoption_average_age_months": 12,
}
#: Legal statuses of short breaks, which the DfE leaves out of children looked after.
SHORT_BREAKS = ("V3", "V4")


def looked_after_figures(
    tables: dict[str, pd.DataFrame],
    time_period: str,
    data_start: pd.Timestamp | None,
    extract_date: pd.Timestamp | None,
) -> pd.DataFrame:
    """The borough's looked-after figures on 31 March of a published year, by the
    definitions of "Children looked after in England including adoptions":

    - three_plus_placements: children looked after on 31 March with 3 or more placements
      during the year (:func:`audit_lib.measures.permanence.stability`);
    - long_term_stability: under 16, looked after continuously for 2.5 years or more on
      31 March, living with the same carer (placement) for 2 years or more;
    - cla_rate_per_10000: children looked after on 31 March (short breaks, legal status V3
      and V4, left out) per 10,000 children under 18 in the population table's mid-year
      before that 31 March (nearest year available);
    - adoption_average_age_months: children adopted in the year (adoption order made
      1 April to 31 March), mean age on the order date in months (days / 30.4375).

    Only measures whose history the data cover (data start early enough, extract on or
    after 31 March, episode histories present) get a row; columns measure, numerator,
    denominator, value, unit, year.
    """
    from .cache import with_table
    from .measures import permanence as PM

    cols = ["measure", "numerator", "denominator", "value", "unit", "year"]
    _, as_of = year_window(time_period)
    if extract_date is None or extract_date < as_of or "cla_episodes" not in tables:
        return pd.DataFrame(columns=cols)
    eps = tables["cla_episodes"]
    if eps.empty:
        return pd.DataFrame(columns=cols)
    year = f"{as_of.year - 1}-{str(as_of.year)[2:]}"
    covered = {
        m: data_start is None or data_start <= as_of - pd.DateOffset(months=k)
        for m, k in _HISTORY_MONTHS.items()
    }
    rows = []
    short = eps["legal_status"].isin(SHORT_BREAKS)
    cla = with_table(tables, "cla_episodes", eps[~short])  # converts no other table
    if "placement_stability" not in PM.history_gap(cla, as_of):
        st = PM.stability(cla, as_of)
        for m, key in (
            ("three_plus_placements", "three_plus"),
            ("long_term_stability", "long_term"),
        ):
            r = st[key]
            if covered[m] and r["denominator"]:
                rows.append([m, r["numerator"], r["denominator"], r["value"], "share", year])
    pop = tables.get("population")
    if pop is not None and len(pop):
        open_ = (eps["episode_start"] <= as_of) & (
            eps["episode_end"].isna() | (eps["episode_end"] > as_of)
        )
        n = int(eps.loc[open_ & ~short, "child_id"].nunique())
        years = pop["year"].unique()
        mid = min(years, key=lambda y: (abs(int(y) - (as_of.year - 1)), -int(y)))
        under18 = float(pop.loc[pop["year"] == mid, "children"].sum())
        if under18 > 0:
            rows.append(
                ["cla_rate_per_10000", n, under18, n / under18 * 10_000, "per 10,000", year]
            )
    ad = tables.get("adoptions")
    if ad is not None and len(ad) and covered["adoption_average_age_months"]:
        orders = ad["adoption_order_date"]
        inyear = ad[_in_year(orders, time_period) & orders.notna()]
        dob = inyear["child_id"].map(tables["children"].set_index("child_id")["date_of_birth"])
        age = ((inyear["adoption_order_date"] - dob).dt.days / (365.25 / 12)).dropna()
        if len(age):
            rows.append(
                ["adoption_average_age_months", len(age), np.nan, age.mean(), "months", year]
            )
    return pd.DataFrame(rows, columns=cols)


def _england_years(compared: pd.DataFrame) -> list[str]:
    """The published ``time_period`` of each England year in a comparator table."""
    return sorted(
        {f"{int(y[:4]) + 1}" for y in compared.get("england_year", []) if isinstance(y, str)}
    )


def looked_after_for(
    tables: dict[str, pd.DataFrame], data_dir: str | Path, compared: pd.DataFrame
) -> pd.DataFrame:
    """:func:`looked_after_figures` for each England year in ``compared``, from tables
    already loaded (the data start and extract date read from ``data_dir``)."""
    from .load import LoadError, extract_info

    cols = ["measure", "numerator", "denominator", "value", "unit", "year"]
    try:
        extract, _, start = extract_info(Path(data_dir), None)
    except LoadError:
        return pd.DataFrame(columns=cols)
    frames = [looked_after_figures(tables, y, start, extract) for y in _england_years(compared)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def own_year_for(data_dir: str | Path, compared: pd.DataFrame) -> pd.DataFrame:
    """:func:`own_year_figures` for each year England is published in ``compared``
    (:func:`comparators.comparator_table`), read from the data folder; no rows where the
    data cannot give it (folder unreadable, year not wholly covered)."""
    from .load import LoadError, extract_info, load_tables

    cols = ["measure", "numerator", "denominator", "value", "year"]
    years = _england_years(compared)
    if not years:
        return pd.DataFrame(columns=cols)
    try:
        tables, dq = load_tables(data_dir)
        _, _, start = extract_info(Path(data_dir), None)
    except LoadError:
        return pd.DataFrame(columns=cols)
    if start is None:  # no recorded start: the earliest clock start in the data
        dates = [
            tables["assessments"].get("start_date"),
            tables["s47_enquiries"].get("strategy_date"),
        ]
        found = [d.min() for d in dates if d is not None and d.notna().any()]
        start = min(found) if found else None
    frames = [own_year_figures(tables, y, start, dq.extract_date) for y in years]
    frames += [looked_after_figures(tables, y, start, dq.extract_date) for y in years]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
