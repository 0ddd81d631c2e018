"""Statutory timescales: one function per timescale, a summary, a worklist.

Each timescale function returns a tidy frame, one row per item (``ITEM_COLUMNS``), as
at ``as_of`` (the period end: later completions are not yet known). Status is one of

- ``in_time`` / ``late``: completed by ``as_of``, on or before / after the due date;
- ``open_overdue``: not completed and already past the due date (counted as late);
- ``open_due_soon``: not completed, due within ``soon_wd`` working days of ``as_of``;
- ``open_not_due``: not completed and not yet due: neither in time nor late;
- ``no_start_date``: the clock start is missing, a data-quality finding, not counted.

Counting window (``count_by``): by default an item counts in the month its *due date*
falls, once that date has passed. Every such item's status is settled at the period
end (done by the due date, or not), so the latest month is not biased by items still
open. ``count_by="completion"`` counts completed items in the month of completion
(the DfE CIN census convention for assessments) and items never completed in the
month their due date passed. Each item is counted once either way. Definitions:
METRICS.md "Timeliness".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..calendar import add_working_days, working_days_between
from ..disclosure import pseudonymise
from ..metrics import share
from ..spells import placements, spells
from ..stats import wilson

__all__ = [
    "worklist_counts",
    "ITEM_COLUMNS",
    "MEASURES",
    "all_items",
    "assessments",
    "by_team",
    "cla_reviews",
    "cla_visits",
    "cp_reviews",
    "cp_visits",
    "icpc",
    "monthly",
    "period_bounds",
    "summarise",
    "unavailable",
    "worklist",
]

ITEM_COLUMNS = [
    "measure",
    "item_id",
    "child_id",
    "team",
    "worker_id",
    "sequence",
    "clock_start",
    "due_date",
    "completed_date",
    "status",
    "days_taken",
    "days_unit",
]
COUNTED = ("in_time", "late", "open_overdue")

#: Measure key -> (label, default timescale in words).
MEASURES: dict[str, tuple[str, str]] = {
    "assessment_45wd": ("Assessments authorised within 45 working days", "45 working days"),
    "icpc_15wd": ("ICPCs within 15 working days of the strategy discussion", "15 working days"),
    "cp_review": ("CP reviews on time (first 3 months, then 6-monthly)", "3 / 6 months"),
    "cla_review": (
        "Looked-after reviews on time (20 wd, 3 months, 6-monthly)",
        "20 wd / 3 / 6 months",
    ),
    "cla_visit": ("Looked-after visits on time (1 week, then 6-weekly)", "1 week / 6 weeks"),
    "cp_visit": ("CP visits on time (every 10 working days)", "10 working days"),
}


def period_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a YYYY-MM period."""
    p = pd.Period(period, freq="M")
    return p.start_time.normalize(), p.end_time.normalize()


#: an item's status, in the order ``_status`` decides it
STATUSES = ("no_start_date", "in_time", "late", "open_overdue", "open_due_soon", "open_not_due")


def _status(due: pd.Series, completed: pd.Series, as_of: pd.Timestamp, soon_wd: int) -> pd.Series:
    done = completed.notna() & (completed <= as_of)
    soon = add_working_days(as_of, soon_wd)
    words = np.array(STATUSES, dtype=object)  # one text object per status, shared by rows
    choice = np.select(
        [
            due.isna(),
            done & (completed <= due),
            done,
            due < as_of,
            due <= soon,
        ],
        range(5),
        default=5,
    )
    return pd.Series(pd.array(words[choice], dtype="string"), index=due.index)


def _finish(
    frame: pd.DataFrame, measure: str, as_of: pd.Timestamp, soon_wd: int, working: bool
) -> pd.DataFrame:
    """Add status and days taken; order the columns. ``frame`` is the caller's own
    (built for this call), so it is changed in place, not copied."""
    f = frame
    done = f["completed_date"].notna() & (f["completed_date"] <= as_of)
    f.loc[~done, "completed_date"] = pd.NaT
    if "status" in f:  # missed: an interval that ended without the event
        missed = f["status"].eq("late")
        status = _status(f["due_date"], f["completed_date"], as_of, soon_wd)
        f["status"] = status.where(~missed, "late")
    else:
        f["status"] = _status(f["due_date"], f["completed_date"], as_of, soon_wd)
    if working:
        f["days_taken"] = working_days_between(f["clock_start"], f["completed_date"]).astype(
            "Float64"
        )
    else:
        f["days_taken"] = (f["completed_date"] - f["clock_start"]).dt.days.astype("Float64")
    f["days_unit"] = "working" if working else "calendar"
    f["measure"] = measure
    for c in ("team", "worker_id", "item_id"):
        if c not in f:
            f[c] = pd.NA
    if "sequence" not in f:
        f["sequence"] = 1
    out = f[ITEM_COLUMNS].reset_index(drop=True)
    out["sequence"] = out["sequence"].astype("Int64")
    for c in ("item_id", "child_id", "team", "worker_id"):
        out[c] = out[c].astype("string")
    return out


_TEAM_CACHE: dict[tuple[int, pd.Timestamp], pd.Series] = {}


def child_team(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.Series:
    """Each child's team: the team of their latest referral on or before ``as_of``."""
    r = tables["referrals"]
    key = (id(r), as_of)
    if key not in _TEAM_CACHE:  # every timescale asks; work it out once per table
        r = r[(r["referral_date"] <= as_of) & r["team"].notna()]
        _TEAM_CACHE.clear()
        # the last row per child after the sort, as groupby().last() takes it, without
        # sorting the children's text ids (a lookup for ``map``: its order does not matter)
        last = r.sort_values("referral_date").drop_duplicates("child_id", keep="last")
        _TEAM_CACHE[key] = last.set_index("child_id")["team"]
    return _TEAM_CACHE[key]


def assessments(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    clock: str = "start",
    days: int = 45,
    soon_wd: int = 10,
) -> pd.DataFrame:
    """Assessments authorised within ``days`` (45) working days.

    ``clock="start"`` counts from the assessment start (DfE CIN census measure,
    "Characteristics of children in need"); ``clock="referral"`` from the referral date,
    as Working Together to Safeguard Children words it. Completion is the authorised date.
    """
    if clock not in ("start", "referral"):
        raise ValueError("clock must be 'start' or 'referral'")
    a = tables["assessments"]
    a = a[a["start_date"] <= as_of]
    if clock == "start":
        start = a["start_date"]
    else:
        ref = tables["referrals"].set_index("referral_id")["referral_date"]
        start = a["referral_id"].map(ref).astype("datetime64[ns]")
    f = pd.DataFrame(
        {
            "item_id": a["assessment_id"],
            "child_id": a["child_id"],
            "team": a["team"],
            "worker_id": a["worker_id"],
            "clock_start": start,
            "due_date": add_working_days(start, days),
            "completed_date": a["authorised_date"],
        }
    )
    return _finish(f, "assessment_45wd", as_of, soon_wd, working=True)


def icpc(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, days: int = 15, soon_wd: int = 10
) -> pd.DataFrame:
    """ICPCs held within ``days`` (15) working days of the strategy discussion that
    started the S47 enquiry (Working Together; DfE CIN census S47ActualStartDate).

    S47 enquiries marked ICPC not required, with no ICPC date, are not items; one whose
    flag is blank is (an ICPC may still be due). A missing strategy date gives status
    ``no_start_date`` (a data-quality finding).
    """
    s = tables["s47_enquiries"]
    not_required = s["icpc_not_required"].fillna(False).astype(bool)  # blank: not marked
    needed = s["icpc_date"].notna() | ~not_required
    s = s[needed & (s["strategy_date"].isna() | (s["strategy_date"] <= as_of))]
    team = s["team"].fillna(s["child_id"].map(child_team(tables, as_of)))
    f = pd.DataFrame(
        {
            "item_id": s["s47_id"],
            "child_id": s["child_id"],
            "team": team,
            "clock_start": s["strategy_date"],
            "due_date": add_working_days(s["strategy_date"], days),
            "completed_date": s["icpc_date"],
        }
    )
    return _finish(f, "icpc_15wd", as_of, soon_wd, working=True)


def _recurring(
    intervals: pd.DataFrame,
    events: pd.DataFrame,
    key: str,
    as_of: pd.Timestamp,
    due: Callable[[pd.DataFrame], pd.Series],
) -> pd.DataFrame:
    """Items of a repeating timescale inside intervals (a plan, a spell, a placement).

    ``intervals`` has ``key``, child_id, start, end (NaT = open) and any columns the due
    rule needs; ``events`` has ``key`` (or child_id), date and optionally worker_id. Each
    event on or after the interval start completes the current item and starts the next
    clock; after the last event one item is open. An interval that ended before its open
    item fell due needs nothing more; one that ended after it, without the event, is late.
    """
    iv = intervals[intervals["start"] <= as_of].copy()
    iv["stop"] = iv["end"].where(iv["end"].notna() & (iv["end"] <= as_of), as_of)
    iv["closed"] = iv["end"].notna() & (iv["end"] <= as_of)
    # each interval's rank in the order of its key: sorting and grouping on these whole
    # numbers orders the items exactly as the text keys would, without hashing text
    iv["_k"] = pd.factorize(iv[key], sort=True)[0]
    on = key if key in events else "child_id"
    worker = [c for c in ("worker_id",) if c in events]  # the only other column used
    ev = _events_in(events[["date", *worker]], *_pairs(events[on], iv[on]), iv)
    ev = ev.sort_values(["_k", "date"], kind="stable").drop_duplicates(["_k", "date"])
    k = ev["_k"].to_numpy()
    first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, dtype=bool)
    pos = np.arange(len(k))
    run_start = np.maximum.accumulate(np.where(first, pos, 0)) if len(k) else pos
    ev["sequence"] = pos - run_start + 1
    previous = ev["date"].shift()
    ev["clock_start"] = previous.where(~first, ev["start"])
    done = ev[["_k", "sequence", "clock_start", "date", *worker]]

    last_rows = ev[np.r_[first[1:], True]] if len(k) else ev  # each interval's last event
    last = pd.DataFrame(
        {"n": last_rows["sequence"].to_numpy(), "last_date": last_rows["date"].to_numpy()},
        index=pd.Index(last_rows["_k"].to_numpy(), name="_k"),
    )
    open_ = iv.set_index("_k").join(last)
    open_["sequence"] = open_["n"].fillna(0).astype(int) + 1
    open_["clock_start"] = open_["last_date"].fillna(open_["start"])
    open_["completed_date"] = pd.NaT
    open_ = open_.reset_index()

    cols = ["_k", "sequence", "clock_start", "completed_date"]
    extra = [c for c in iv.columns if c not in ("_k", "stop", "closed", "end")]
    done = done.set_axis([*cols, *worker], axis=1)  # the event's date completes the item
    items = pd.concat([done, open_[cols]], ignore_index=True)
    # each item's interval: ``_k`` is unique per interval (a key names one interval)
    about = iv.set_index("_k")[[*extra, "end", "closed"]].reindex(items.pop("_k"))
    items = pd.concat([items, about.reset_index(drop=True)], axis=1)
    items["due_date"] = due(items)
    is_open = items["completed_date"].isna()
    not_needed = is_open & items["closed"] & (items["end"] <= items["due_date"])
    items = items[~not_needed].copy()
    missed = items["completed_date"].isna() & items["closed"]
    items["status"] = np.where(missed, "late", "")
    items["item_id"] = _item_ids(items[key], items["sequence"])
    return items


def _pairs(event_keys: pd.Series, interval_keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Every (event row, interval row) pair with the same key, as row positions in
    the order ``events.merge(intervals, on=key)`` gives them (events' order first).

    The text keys are hashed once, into whole-number codes, and only the positions are
    joined, so no column is copied for pairs that the dates then rule out."""
    codes, uniques = pd.factorize(interval_keys)
    event_codes = pd.Index(uniques).get_indexer(event_keys)
    left = pd.DataFrame({"c": event_codes[event_codes >= 0], "e": np.flatnonzero(event_codes >= 0)})
    right = pd.DataFrame({"c": codes, "i": np.arange(len(codes))})
    both = left.merge(right, on="c")
    return both["e"].to_numpy(), both["i"].to_numpy()


def _events_in(
    events: pd.DataFrame, e: np.ndarray, i: np.ndarray, iv: pd.DataFrame
) -> pd.DataFrame:
    """The paired events dated within their interval (start to stop), each with the
    interval's ``_k``, start and stop (the pairs from ``_pairs``)."""
    date = events["date"].to_numpy()[e]
    keep = (date >= iv["start"].to_numpy()[i]) & (date <= iv["stop"].to_numpy()[i])
    e, i = e[keep], i[keep]
    ev = events.iloc[e].reset_index(drop=True)
    for c in ("_k", "start", "stop"):
        ev[c] = iv[c].to_numpy()[i]
    return ev


def _item_ids(keys: pd.Series, sequence: pd.Series) -> np.ndarray:
    """``<key>#<sequence>`` for each item, joined by Arrow (text objects made once)."""
    text = pc.binary_join_element_wise(
        pa.array(keys.astype(str), pa.string()), pc.cast(pa.array(sequence), pa.string()), "#"
    )
    return text.to_numpy(zero_copy_only=False)


def cp_reviews(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    first_months: int = 3,
    later_months: int = 6,
    soon_wd: int = 10,
) -> pd.DataFrame:
    """Child protection reviews: the first within 3 months of the plan starting (the
    ICPC), later ones within 6 months of the previous (Working Together)."""
    p = tables["cp_plans"].rename(columns={"start_date": "start", "end_date": "end"})
    p = p.assign(team=p["child_id"].map(child_team(tables, as_of)))
    ev = tables["cp_reviews"].rename(columns={"review_date": "date"})

    def due(f: pd.DataFrame) -> pd.Series:
        first = f["clock_start"] + pd.DateOffset(months=first_months)
        later = f["clock_start"] + pd.DateOffset(months=later_months)
        return first.where(f["sequence"] == 1, later)

    items = _recurring(
        p[["cp_plan_id", "child_id", "start", "end", "team"]], ev, "cp_plan_id", as_of, due
    )
    return _finish(items, "cp_review", as_of, soon_wd, working=False)


def cla_reviews(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    first_wd: int = 20,
    second_months: int = 3,
    later_months: int = 6,
    soon_wd: int = 10,
) -> pd.DataFrame:
    """Looked-after reviews: within 20 working days of becoming looked after, the second
    within 3 months of the first, later ones within 6 months (Care Planning, Placement
    and Case Review (England) Regulations 2010, reg 33). One clock per care spell."""
    sp = spells(tables["cla_episodes"])
    sp = sp.assign(spell_id=sp["child_id"] + "/" + sp["spell"].astype(str))
    sp = sp.assign(team=sp["child_id"].map(child_team(tables, as_of)))
    ev = tables["cla_reviews"].rename(columns={"review_date": "date"})

    def due(f: pd.DataFrame) -> pd.Series:
        first = add_working_days(f["clock_start"], first_wd)
        second = f["clock_start"] + pd.DateOffset(months=second_months)
        later = f["clock_start"] + pd.DateOffset(months=later_months)
        return first.where(f["sequence"] == 1, second.where(f["sequence"] == 2, later))

    items = _recurring(
        sp[["spell_id", "child_id", "start", "end", "team"]], ev, "spell_id", as_of, due
    )
    return _finish(items, "cla_review", as_of, soon_wd, working=False)


def cla_visits(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    first_days: int = 7,
    interval_days: int = 42,
    long_term_months: int = 3,
    soon_wd: int = 10,
) -> pd.DataFrame:
    """Looked-after visits (reg 28): within 1 week of each placement starting, then at
    most every 6 weeks in the placement's first year; after the first year, at most
    every 3 months where the placement is long-term (a long-term fostering match
    confirmed in permanence_plans), else every 6 weeks. One clock per placement.

    The first year and the 3 months are calendar ones, as for reviews (a visit on 30
    November is next due by 28 February, or 29 in a leap year), not 365 and 91 days."""
    pl = placements(tables["cla_episodes"])
    pl = pl.assign(
        placement_id=pl["child_id"] + "/" + pl["placement"].astype(str),
        team=pl["child_id"].map(child_team(tables, as_of)),
    )
    pp = tables["permanence_plans"]
    ltf = pp[pp["plan"].eq("long_term_fostering") & pp["achieved_date"].notna()]
    pl["long_term_from"] = pl["child_id"].map(ltf.groupby("child_id")["achieved_date"].min())
    v = tables["visits"]
    # isin: one hash lookup per row; eq on text also scans the column for missing values
    ev = v.loc[v["visit_type"].isin(["cla"]), ["child_id", "visit_date", "worker_id"]].rename(
        columns={"visit_date": "date"}
    )

    def due(f: pd.DataFrame) -> pd.Series:
        clock = f["clock_start"]
        long_term = (clock >= f["start"] + pd.DateOffset(years=1)) & (
            clock >= f["long_term_from"]
        ).fillna(False)
        weeks = clock + pd.to_timedelta(
            np.where(f["sequence"] == 1, first_days, interval_days), "D"
        )
        months = clock + pd.DateOffset(months=long_term_months)
        return months.where(long_term & (f["sequence"] != 1), weeks)

    cols = ["placement_id", "child_id", "start", "end", "team", "long_term_from"]
    items = _recurring(pl[cols], ev, "placement_id", as_of, due)
    return _finish(items, "cla_visit", as_of, soon_wd, working=False)


def cp_visits(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, interval_wd: int = 10, soon_wd: int = 10
) -> pd.DataFrame:
    """Child protection visits at most every ``interval_wd`` working days from the plan
    start (a local practice standard; default 10 working days)."""
    p = tables["cp_plans"].rename(columns={"start_date": "start", "end_date": "end"})
    p = p.assign(team=p["child_id"].map(child_team(tables, as_of)))
    v = tables["visits"]
    ev = v.loc[v["visit_type"].isin(["cp"]), ["child_id", "visit_date", "worker_id"]].rename(
        columns={"visit_date": "date"}
    )

    def due(f: pd.DataFrame) -> pd.Series:
        return add_working_days(f["clock_start"], interval_wd)

    items = _recurring(
        p[["cp_plan_id", "child_id", "start", "end", "team"]], ev, "cp_plan_id", as_of, due
    )
    return _finish(items, "cp_visit", as_of, soon_wd, working=True)


def unavailable(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, str]:
    """Timescales that cannot be measured from ``tables`` (a needed table absent, empty,
    a snapshot rather than a history, or starting after ``as_of``): measure -> reason,
    e.g. ``{"cla_visit": "not available: needs visits"}``. See ``audit_lib.needs``."""
    from ..needs import unavailable as _unavailable

    keys = [f"timeliness.{m}" for m in MEASURES]
    return {k.split(".", 1)[1]: why for k, why in _unavailable(tables, keys, as_of).items()}


def all_items(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    assessment_clock: str = "start",
    measures: Iterable[str] | None = None,
    **kw,
) -> pd.DataFrame:
    """Every timescale's items in one frame (``measure`` names the timescale); only the
    timescales named in ``measures``, if given (e.g. the two the DfE publishes).

    Timescales that are not available (``unavailable``) give no items, so a missing
    table is never a 0% nor a worklist of every child."""
    soon = {"soon_wd": kw.get("soon_wd", 10)}
    makers = {
        "assessment_45wd": lambda: assessments(tables, as_of, clock=assessment_clock, **soon),
        "icpc_15wd": lambda: icpc(tables, as_of, **soon),
        "cp_review": lambda: cp_reviews(tables, as_of, **soon),
        "cla_review": lambda: cla_reviews(tables, as_of, **soon),
        "cla_visit": lambda: cla_visits(tables, as_of, **soon),
        "cp_visit": lambda: cp_visits(tables, as_of, interval_wd=kw.get("cp_visit_wd", 10), **soon),
    }
    skip = unavailable(tables, as_of)
    wanted = set(makers) if measures is None else set(measures)
    frames = [make() for m, make in makers.items() if m not in skip and m in wanted]
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=_ITEM_DTYPES.get(c, "object")) for c in ITEM_COLUMNS}
        )
    return pd.concat(frames, ignore_index=True)


_ITEM_DTYPES = {
    "item_id": "string",
    "child_id": "string",
    "team": "string",
    "worker_id": "string",
    "sequence": "Int64",
    "clock_start": "datetime64[ns]",
    "due_date": "datetime64[ns]",
    "completed_date": "datetime64[ns]",
    "status": "string",
    "days_taken": "Float64",
    "measure": "object",
    "days_unit": "object",
}


#: the dates ``_count_date`` reads
_DATES = ["due_date", "completed_date"]


def _count_date(items: pd.DataFrame, count_by: str) -> pd.Series:
    if count_by == "due":
        return items["due_date"]
    if count_by == "completion":
        return items["completed_date"].fillna(items["due_date"])
    raise ValueError("count_by must be 'due' or 'completion'")


def _window_mask(items: pd.DataFrame, period: str, window: str, count_by: str) -> pd.Series:
    first, last = period_bounds(period)
    if window == "rolling_12m":
        first = (pd.Period(period, freq="M") - 11).start_time.normalize()
    elif window != "month":
        raise ValueError("window must be 'month' or 'rolling_12m'")
    when = _count_date(items, count_by)
    return items["status"].isin(COUNTED) & (when >= first) & (when <= last)


def summarise(
    items: pd.DataFrame,
    period: str,
    windows: tuple[str, ...] = ("month", "rolling_12m"),
    by=(),
    count_by: str = "due",
) -> pd.DataFrame:
    """Share in time per measure and window, with a Wilson 95% interval.

    Numerator: items completed in time. Denominator: items completed, plus items not
    completed whose due date has passed, counted in the window of their completion
    (or, if not completed, their due date). Also: median and 90th-percentile days taken
    (of the ``completed`` items), and as at the period end the open items overdue, due
    soon, not yet due, and items without a clock start.
    """
    by = list(by)
    rows = []
    _, as_of = period_bounds(period)
    used = list(dict.fromkeys(["measure", *by, "status", "days_taken"]))  # copy no more
    for window in windows:
        f = items.loc[_window_mask(items, period, window, count_by), used]
        f = f.assign(in_time=f["status"].eq("in_time"), days=f["days_taken"].astype(float))
        g = f.groupby(["measure", *by], observed=True)
        agg = pd.DataFrame(
            {
                "numerator": g["in_time"].sum().astype(int),
                "denominator": g.size(),
                "median_days": g["days"].median(),
                "p90_days": g["days"].quantile(0.9),
                "completed": g["days"].count(),
            }
        ).reset_index()
        agg["window"] = window
        rows.append(agg)
    out = pd.concat(rows, ignore_index=True)
    out["value"] = out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = wilson(out["numerator"], out["denominator"])
    snap = (
        items.groupby(["measure", *by], observed=True)["status"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(
            columns=["open_overdue", "open_due_soon", "open_not_due", "no_start_date"], fill_value=0
        )
        .reset_index()
    )
    out = out.merge(snap, on=["measure", *by], how="left")
    order = {m: i for i, m in enumerate(MEASURES)}
    out = out.sort_values(
        ["window", "measure"], key=lambda s: s.map(order) if s.name == "measure" else s
    )
    cols = [
        "measure",
        *by,
        "window",
        "numerator",
        "denominator",
        "value",
        "lower",
        "upper",
        "median_days",
        "p90_days",
        "completed",
        "open_overdue",
        "open_due_soon",
        "open_not_due",
        "no_start_date",
    ]
    return out[cols].reset_index(drop=True)


def by_team(
    items: pd.DataFrame, period: str, window: str = "rolling_12m", count_by: str = "due"
) -> pd.DataFrame:
    """Share in time per measure and team in the window (for funnel plots)."""
    out = summarise(items, period, (window,), by=("team",), count_by=count_by)
    return out.drop(columns=["open_overdue", "open_due_soon", "open_not_due", "no_start_date"])


def monthly(
    items: pd.DataFrame, period: str, months: int = 24, count_by: str = "due"
) -> pd.DataFrame:
    """Share in time per measure and calendar month, for the ``months`` up to the period."""
    end = pd.Period(period, freq="M")
    f = items.loc[items["status"].isin(COUNTED), ["measure", "status", *_DATES]]
    when = _count_date(f, count_by).dt.to_period("M")
    f = f.assign(month=when)
    f = f[(f["month"] > end - months) & (f["month"] <= end)]
    g = f.assign(in_time=f["status"].eq("in_time")).groupby(["measure", "month"])["in_time"]
    out = pd.DataFrame({"numerator": g.sum().astype(int), "denominator": g.size()})
    out = out.reset_index()
    out["value"] = out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = wilson(out["numerator"], out["denominator"])
    out["month"] = out["month"].astype(str)
    return out


def worklist(items: pd.DataFrame, secret: bytes) -> pd.DataFrame:
    """Open items overdue or due soon, for analysts: pseudonymised child, never raw ids.

    Sorted by due date, most overdue first.
    """
    w = items[items["status"].isin(["open_overdue", "open_due_soon"])].copy()
    w.insert(0, "child", pseudonymise(w["child_id"], secret).to_numpy())
    out = w[
        ["child", "measure", "team", "worker_id", "sequence", "clock_start", "due_date", "status"]
    ]
    return out.sort_values(["due_date", "measure", "team"], kind="stable").reset_index(drop=True)


def worklist_counts(work: pd.DataFrame) -> pd.DataFrame:
    """Worklist rows by measure (rows) and status (columns: overdue, due soon): what the
    analysts' list holds, for the page (suppress before showing)."""
    if work.empty:
        return pd.DataFrame(columns=["measure"])
    return work.groupby(["measure", "status"]).size().unstack(fill_value=0).reset_index()


def metric_entries(
    summary: pd.DataFrame,
    monthly_frame: pd.DataFrame | None = None,
    unavailable: dict[str, str] | None = None,
) -> dict[str, dict]:
    """metrics.json entries ``timeliness.<measure>.<window>`` from ``summarise``.

    With ``monthly_frame`` the month entries also carry the SPC reading of the latest
    month (``spc_signal``, ``spc_rule``), the mean of the last 12 monthly shares
    (``mean_12m``) and the smallest count it rests on (``mean_12m_min_count``,
    :func:`disclosure.smallest_count`), which the summary page shows (or hides) without
    recomputing anything.
    Measures in ``unavailable`` (measure -> reason) get an entry with no value and the
    reason (``audit_lib.needs.not_available``).
    """
    from ..disclosure import smallest_count
    from ..needs import not_available
    from ..stats import latest_signal

    out = {}
    for m, why in (unavailable or {}).items():
        for w in ("month", "rolling_12m"):
            out[f"timeliness.{m}.{w}"] = not_available(why)
    for r in summary.itertuples(index=False):
        extra = {"median_days": None if pd.isna(r.median_days) else float(r.median_days)}
        if monthly_frame is not None and r.window == "month":
            months = monthly_frame[monthly_frame["measure"] == r.measure]
            series = months["value"].to_numpy()
            if len(series) >= 2:
                rule, signal = latest_signal(series, "higher")
                extra.update(spc_signal=signal, spc_rule=rule, mean_12m=float(series[-12:].mean()))
                extra["mean_12m_min_count"] = smallest_count(months.iloc[-12:])
        out[f"timeliness.{r.measure}.{r.window}"] = share(
            r.numerator, r.denominator, float(r.lower), float(r.upper), **extra
        )
    return out


_RULE_WORDS = {
    "outside_limits": "outside the process limits",
    "trend": "part of a run of 7 rising or falling months",
    "two_of_three": "two of three months near a process limit",
    "shift": "part of a run of 7 months on one side of the average",
}


def signal_phrase(rule: str, signal: str) -> str:
    """Plain-English reading of an SPC signal for the latest month."""
    if signal == "common_cause":
        return "within normal month-to-month variation"
    word = {"improvement": "a real improvement", "concern": "a real deterioration"}.get(
        signal, "a real change"
    )
    return f"{word} ({_RULE_WORDS.get(rule, rule)})"


def findings(
    summary: pd.DataFrame,
    monthly_frame: pd.DataFrame,
    teams: pd.DataFrame,
    period: str,
    national: dict[str, tuple[float, str]] | None = None,
    suppress_max: int = 5,
    unavailable: dict[str, str] | None = None,
) -> list[str]:
    """Three to six headline findings in plain English, from the tested frames.

    Counts from 1 to ``suppress_max`` are shown as "c". Timescales in ``unavailable``
    (measure -> reason) are named as not available, with the reason, never as 0%.
    """
    from ..disclosure import fmt_total, hide_rate, merge_small_groups
    from ..report import fmt_pct, lower_first, month_label
    from ..stats import funnel_position, latest_signal

    def hidden(r) -> bool:
        return bool(hide_rate([r["numerator"]], [r["denominator"]], suppress_max)[0])

    national = national or {}
    month = month_label(period)
    s = summary.set_index(["measure", "window"])
    unavailable = unavailable or {}
    lines = []
    for m, noun in (("assessment_45wd", "assessments"), ("icpc_15wd", "ICPCs")):
        if m in unavailable:
            continue
        if (m, "rolling_12m") not in s.index:
            lines.append(f"No {noun} fell in the 12 months to {month}.")
            continue
        r = s.loc[(m, "rolling_12m")]
        if hidden(r):
            lines.append(
                f"In the 12 months to {month}, the share of {noun} in time is not shown: "
                "the numbers are small enough to identify children."
            )
            continue
        text = (
            f"In the 12 months to {month}, {fmt_pct(r['value'])} of {noun} were in time "
            f"({int(r['numerator']):,} of {int(r['denominator']):,}; "
            f"95% CI {fmt_pct(r['lower'])} to {fmt_pct(r['upper'])})"
        )
        if m in national:
            text += f", against {fmt_pct(national[m][0], 1)} in {national[m][1]}"
        series = monthly_frame[monthly_frame["measure"] == m]
        if (m, "month") in s.index and len(series) >= 2 and not hidden(s.loc[(m, "month")]):
            mr = s.loc[(m, "month")]
            rule, signal = latest_signal(series["value"].to_numpy(), "higher")
            text += f". {month} alone: {fmt_pct(mr['value'])}, {signal_phrase(rule, signal)}"
        lines.append(text + ".")
    for m, noun in (("assessment_45wd", "assessments"), ("icpc_15wd", "ICPCs")):
        units = merge_small_groups(teams[teams["measure"] == m], "team", suppress_max=suppress_max)
        if len(units) < 2:
            continue
        pos = funnel_position(units)
        low = pos[pos["position"] == "below"]
        if len(low):
            names = ", ".join(
                f"{t} ({fmt_pct(v)})" for t, v in zip(low["team"], low["value"], strict=True)
            )
            lines.append(
                f"Below the 99.8% funnel limit for {noun} (overall {fmt_pct(pos['p0'].iloc[0])}): "
                f"{names}. This is more than chance would explain for the team's size."
            )
    rest = [
        (lower_first(label.split(" (")[0]), s.loc[(m, "rolling_12m")])
        for m, (label, _) in MEASURES.items()
        if m not in ("assessment_45wd", "icpc_15wd") and (m, "rolling_12m") in s.index
    ]
    # a hidden share is named among those not shown, not quoted as "on time c"
    shown = [f"{name} {fmt_pct(r['value'])}" for name, r in rest if not hidden(r)]
    few = [name for name, r in rest if hidden(r)]
    if few:
        names = ", ".join(few[:-1]) + (" and " if len(few) > 1 else "") + few[-1]
        shown.append(f"{names}: not shown, the numbers are small enough to identify children")
    if shown:
        lines.append("Over the last 12 months, " + "; ".join(shown) + ".")
    if unavailable:
        lines.append(
            "Not measured for this data: "
            + "; ".join(
                f"{lower_first(MEASURES[m][0].split(' (')[0])} ({why})"
                for m, why in unavailable.items()
            )
            + "."
        )
    # the totals with the table's shown rows must not give its hidden ones back
    open_items = summary.drop_duplicates("measure")
    overdue, soon = (
        fmt_total(open_items[c], suppress_max) for c in ("open_overdue", "open_due_soon")
    )
    lines.append(
        f"At the end of {month}, {overdue} items were overdue and "
        f"{soon} due within 10 working days; analysts have the worklist."
    )
    return lines


#: Summary-table columns hidden with another (``styled_table(hidden_with=)``): the
#: interval with its share, and the days taken with the completed items they are of
#: (a median of 1 to ``suppress_max`` items is nearly a child's own figure).
SUMMARY_HIDDEN_WITH = {
    "12 months: 95% CI": "12 months: in time",
    "Median days": "12 months: completed",
    "90th percentile days": "12 months: completed",
}


def summary_table(summary: pd.DataFrame, unavailable: dict[str, str] | None = None) -> pd.DataFrame:
    """Every timescale for the month and the rolling 12 months, one row per timescale.

    The ``..., n`` columns are the numerators, for suppressing a share whose numerator
    is small, and ``12 months: completed`` the items the days are of, for hiding days
    of few items (:data:`SUMMARY_HIDDEN_WITH`; hide them in display). Where some timescale is in ``unavailable``
    (measure -> reason), a ``Note`` column gives the reason and its figures are blank."""
    unavailable = unavailable or {}
    s = summary.set_index(["measure", "window"])
    rows = []
    for m, (label, scale) in MEASURES.items():
        row = {"Timescale": label, "Standard": scale}
        for w, name in (("month", "Month"), ("rolling_12m", "12 months")):
            r = s.loc[(m, w)] if (m, w) in s.index else None
            row[f"{name}: in time"] = None if r is None else r["value"]
            # no item fell due: 0 items (its share cannot be given), not "not available"
            none = None if m in unavailable else 0
            row[f"{name}: items"] = none if r is None else r["denominator"]
            row[f"{name}: in time, n"] = None if r is None else r["numerator"]
        r = s.loc[(m, "rolling_12m")] if (m, "rolling_12m") in s.index else None
        row["12 months: 95% CI"] = "" if r is None else f"{r['lower']:.0%} to {r['upper']:.0%}"
        row["Median days"] = None if r is None else r["median_days"]
        row["90th percentile days"] = None if r is None else r["p90_days"]
        row["12 months: completed"] = None if r is None else r["completed"]
        snap = summary[summary["measure"] == m]
        row["Open, overdue"] = int(snap["open_overdue"].iloc[0]) if len(snap) else 0
        row["Open, due soon"] = int(snap["open_due_soon"].iloc[0]) if len(snap) else 0
        if m in unavailable:
            row["Open, overdue"] = row["Open, due soon"] = None
        if unavailable:
            row["Note"] = unavailable.get(m, "")
        rows.append(row)
    return pd.DataFrame(rows)


def latest_share(series: pd.DataFrame, suppress_max: int = 5) -> str:
    """The last month's share of a monthly frame for a title: "c" where its numerator,
    complement or denominator is 1..``suppress_max``, as the tables beside it show it."""
    from ..disclosure import fmt_row_share

    return fmt_row_share(series.iloc[-1], suppress_max)


def spc_title(series: pd.DataFrame, noun: str, period: str, suppress_max: int = 5) -> str:
    """A chart title that states the SPC finding for the latest month charted, naming
    that month (which is not the period when nothing fell due in the period); its share
    is "c" where :func:`latest_share` hides it, and then it is not judged either (the
    chart leaves it out: "below the lower limit" beside 2 items says they were late).
    The mean of the months is not quoted where any month is hidden: with the others
    shown it gives the hidden months' shares back ("mean 100%" of three months of one
    item each said every item was in time)."""
    from ..disclosure import SUPPRESSED, hidden_shares
    from ..report import fmt_pct, month_label
    from ..stats import latest_signal

    if len(series) < 2:
        return f"{noun}: too few months to chart"
    rule, signal = latest_signal(series["value"].to_numpy(), "higher")
    last = str(series["month"].iloc[-1])
    none = "" if last == str(period) else f"; none due in {month_label(period)}"
    share = latest_share(series, suppress_max)
    reading = (
        ", too few items to judge" if share == SUPPRESSED else f" is {signal_phrase(rule, signal)}"
    )
    mean = (
        ""
        if hidden_shares(series, suppress_max).any()
        else f" (mean {fmt_pct(series['value'].mean())})"
    )
    return f"{noun}: {month_label(last)} at {share}{reading}{mean}{none}"


def funnel_title(units: pd.DataFrame, noun: str, suppress_max: int = 5) -> str:
    """A funnel-plot title naming the teams outside the 99.8% limits, if any (small teams
    merged into "Other teams", as the funnel plot shows them)."""
    from ..disclosure import merge_small_groups
    from ..stats import funnel_position

    units = merge_small_groups(units, "team", suppress_max=suppress_max)
    if units.empty or units["denominator"].sum() == 0:
        return f"{noun}: no team had enough items in the last 12 months to compare"
    pos = funnel_position(units)
    low = pos.loc[pos["position"] == "below", "team"].tolist()
    high = pos.loc[pos["position"] == "above", "team"].tolist()
    parts = []
    if low:
        parts.append(f"{', '.join(low)} {'is' if len(low) == 1 else 'are'} below the funnel")
    if high:
        parts.append(f"{', '.join(high)} {'is' if len(high) == 1 else 'are'} above it")
    if not parts:
        return f"{noun}: every team is within the 99.8% funnel limits"
    return f"{noun}: " + "; ".join(parts) + " (99.8% limits, last 12 months)"


_TIMESCALE_NAMES = {"assessment_45wd": "Assessment", "icpc_15wd": "ICPC", "cp_visit": "CP visit"}


def completed_in_window(
    items: pd.DataFrame, period: str, measures: tuple[str, ...] = tuple(_TIMESCALE_NAMES)
) -> pd.DataFrame:
    """Completed working-day items due in the last 12 months, with a ``timescale`` label:
    the items whose median and 90th percentile the summary table gives (:func:`summarise`)."""
    f = items[
        items["measure"].isin(measures)
        & _window_mask(items, period, "rolling_12m", "due")
        & items["days_taken"].notna()
    ]
    return f.assign(timescale=f["measure"].map(_TIMESCALE_NAMES))


def distribution_title(done: pd.DataFrame, suppress_max: int = 5) -> str:
    """Title stating the median assessment time against its 45-day timescale (not for 1
    to ``suppress_max`` assessments, which the chart leaves out)."""
    a = done.loc[done["measure"] == "assessment_45wd", "days_taken"]
    if a.empty:
        return "Days taken: no completed assessments in the last 12 months"
    if len(a) <= suppress_max:
        return "Days taken: too few completed assessments in the last 12 months to show"
    return (
        f"Half of assessments were authorised within {a.median():.0f} working days; "
        f"1 in 10 took more than {a.quantile(0.9):.0f} (timescale 45)"
    )
