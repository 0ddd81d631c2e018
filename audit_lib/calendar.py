"""English working days, vectorised.

A working day is Monday to Friday, excluding England & Wales bank holidays, including
one-off days such as the 2022 Platinum Jubilee, the State Funeral of 19 September 2022
and the Coronation bank holiday of 8 May 2023. Holidays come from the maintained
``holidays`` package (country GB, subdivision ENG), so the list never needs refreshing
by hand; the package also lists the weekend date beside each substitute day, and those
are filtered out here.

"Within N working days of day 0" means on or before the Nth working day after day 0,
day 0 itself not counted (METRICS.md, "Working days").
"""

from __future__ import annotations

from functools import cache

import holidays
import numpy as np
import pandas as pd

__all__ = [
    "add_working_days",
    "bank_holidays",
    "is_working_day",
    "working_days_between",
]

#: Years covered by the holiday calendar. Wide enough for any date a case record holds.
FIRST_YEAR = 1995
LAST_YEAR = 2045


@cache
def _holiday_array(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> np.ndarray:
    cal = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    days = np.array(sorted(cal.keys()), dtype="datetime64[D]")
    return days[np.is_busday(days)]  # drop the weekend date listed beside a substitute day


@cache
def _calendar() -> np.busdaycalendar:
    return np.busdaycalendar(weekmask="1111100", holidays=_holiday_array())


def bank_holidays(first_year: int, last_year: int) -> pd.DatetimeIndex:
    """England & Wales bank holidays falling on weekdays, ``first_year`` to ``last_year``.

    Source: the ``holidays`` package, GB/ENG, which follows the gov.uk list.
    """
    days = _holiday_array()
    years = days.astype("datetime64[Y]").astype(int) + 1970
    return pd.DatetimeIndex(days[(years >= first_year) & (years <= last_year)])


def _to_days(values) -> tuple[np.ndarray, np.ndarray, pd.Index | None, bool]:
    """Return (day array with NaT as a sentinel, NaT mask, index, was_scalar)."""
    scalar = np.ndim(values) == 0
    index = values.index if isinstance(values, pd.Series) else None
    ts = pd.Series([values]) if scalar else pd.Series(np.asarray(values))
    if not pd.api.types.is_datetime64_any_dtype(ts.dtype):  # parse only what needs it
        ts = pd.to_datetime(ts)
    mask = ts.isna().to_numpy()
    days = ts.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    days[mask] = np.datetime64("2000-01-03")  # any working day; masked again afterwards
    return days, mask, index, scalar


def _wrap(days: np.ndarray, mask: np.ndarray, index, scalar: bool):
    values = days.astype("datetime64[ns]")
    values[mask] = np.datetime64("NaT")  # on the array: no Series assignment per call
    out = pd.Series(values, index=index)
    return out.iloc[0] if scalar else out


def add_working_days(dates, n) -> pd.Series:
    """The date ``n`` working days after each date (England & Wales calendar).

    Day 0 is not counted; if day 0 is itself a weekend or bank holiday, the first
    working day after it is day 1; zero days after a date is the date itself. So ``add_working_days(d, 45)`` is the last day on
    which an assessment started on ``d`` is still within 45 working days (Working
    Together to Safeguard Children; DfE CIN census measure). NaT gives NaT.

    Parameters
    ----------
    dates : scalar, array-like or Series of dates
    n : int or array-like of int, broadcast against ``dates``; may be negative.

    Returns
    -------
    Series of datetime64 (a Timestamp for scalar input), with the input's index.
    """
    days, mask, index, scalar = _to_days(dates)
    n_arr = np.broadcast_to(np.asarray(n, dtype="int64"), days.shape)
    # roll backward first: from a non-working day 0, one working day on is the next
    # working day (numpy's "forward" roll would skip it and count one too many).
    backward = n_arr >= 0
    out = np.empty_like(days)
    for direction, sel in (("backward", backward), ("forward", ~backward)):
        if sel.all():  # the usual case: one direction, no selection to copy
            out = np.busday_offset(days, n_arr, roll=direction, busdaycal=_calendar())
        elif sel.any():
            out[sel] = np.busday_offset(
                days[sel], n_arr[sel], roll=direction, busdaycal=_calendar()
            )
    out = np.where(n_arr == 0, days, out)  # zero working days after d is d itself
    return _wrap(out, mask, index, scalar)


def working_days_between(start, end) -> pd.Series:
    """Working days after ``start`` up to and including ``end``: the count in (start, end].

    ``working_days_between(d, add_working_days(d, n)) == n``. If ``end`` is before
    ``start`` the result is negative (minus the count in (end, start]). Either date
    missing gives <NA>. Source: METRICS.md "Working days".

    Returns
    -------
    Series of nullable Int64 (a scalar for scalar input), with the index of ``start``
    (or of ``end`` if only that is a Series).
    """
    s, smask, sindex, sscalar = _to_days(start)
    e, emask, eindex, escalar = _to_days(end)
    s, e = np.broadcast_arrays(s, e)
    smask, emask = np.broadcast_arrays(smask, emask)
    # numpy counts [begin, end) and, when end < begin, minus the count in (end, begin]:
    # so (start, end] is [start + 1, end + 1), and minus (end, start] is (start, end)
    # passed as they are
    one = np.timedelta64(np.int64(1), "D") * (e >= s)
    counts = np.busday_count(s + one, e + one, busdaycal=_calendar())
    counts = pd.arrays.IntegerArray(counts.astype("int64"), smask | emask)  # masked: <NA>
    out = pd.Series(counts, index=sindex if sindex is not None else eindex)
    return out.iloc[0] if (sscalar and escalar) else out


def is_working_day(dates) -> pd.Series:
    """True where the date is a Monday-Friday that is not an England & Wales bank holiday."""
    days, mask, index, scalar = _to_days(dates)
    out = pd.Series(np.is_busday(days, busdaycal=_calendar()), index=index, dtype="boolean")
    out[mask] = pd.NA
    return out.iloc[0] if scalar else out


def add_working_days_np(days: np.ndarray, n) -> np.ndarray:
    """``add_working_days`` on a datetime64[D] array without NaT (fast path, n >= 0)."""
    days = np.asarray(days).astype("datetime64[D]")
    return np.busday_offset(days, n, roll="backward", busdaycal=_calendar())
