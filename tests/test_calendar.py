"""Working days (METRICS.md "Working days")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_lib.calendar import (
    add_working_days,
    bank_holidays,
    is_working_day,
    working_days_between,
)

# England and Wales bank holidays as published on gov.uk (www.gov.uk/bank-holidays),
# 2019-2027, including the one-off days: VE Day moved to 8 May 2020, the Platinum
# Jubilee (2 and 3 June 2022), the State Funeral (19 September 2022) and the
# Coronation (8 May 2023).
GOV_UK = {
    2019: ["01-01", "04-19", "04-22", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2020: ["01-01", "04-10", "04-13", "05-08", "05-25", "08-31", "12-25", "12-28"],
    2021: ["01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28"],
    2022: [
        "01-03",
        "04-15",
        "04-18",
        "05-02",
        "06-02",
        "06-03",
        "08-29",
        "09-19",
        "12-26",
        "12-27",
    ],
    2023: ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"],
    2024: ["01-01", "03-29", "04-01", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2025: ["01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26"],
    2026: ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"],
    2027: ["01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-27", "12-28"],
}


@pytest.mark.parametrize("year", sorted(GOV_UK))
def test_bank_holidays_match_gov_uk(year):
    expected = pd.DatetimeIndex([f"{year}-{md}" for md in GOV_UK[year]])
    got = bank_holidays(year, year)
    assert list(got.strftime("%Y-%m-%d")) == list(expected.strftime("%Y-%m-%d"))


# METRICS.md "Reference values": deadlines reproduced with numpy busday_offset and the
# England & Wales calendar.
@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        ("2023-04-03", 45, "2023-06-12"),
        ("2022-11-21", 45, "2023-01-26"),
        ("2022-09-12", 15, "2022-10-04"),  # State Funeral 19 Sep 2022
        ("2023-04-28", 20, "2023-05-31"),  # Coronation 8 May 2023
        ("2024-12-20", 20, "2025-01-22"),
    ],
)
def test_add_working_days_reference_values(start, n, due):
    assert add_working_days(pd.Timestamp(start), n) == pd.Timestamp(due)
    assert working_days_between(start, due) == n


def test_working_days_between_reference_values():
    assert working_days_between("2023-04-03", "2023-06-12") == 45
    assert working_days_between("2022-12-23", "2023-01-03") == 4  # 28, 29, 30 Dec, 3 Jan


def test_day_zero_on_a_weekend_counts_from_the_next_working_day():
    # Saturday 6 Jan 2024: the first working day after it is Monday 8 Jan
    assert add_working_days(pd.Timestamp("2024-01-06"), 1) == pd.Timestamp("2024-01-08")
    assert working_days_between("2024-01-06", "2024-01-08") == 1
    # Good Friday 2024 (29 Mar) to Tuesday 2 Apr: Easter Monday is not a working day
    assert working_days_between("2024-03-29", "2024-04-02") == 1


def test_zero_days_and_same_day():
    assert add_working_days(pd.Timestamp("2024-01-10"), 0) == pd.Timestamp("2024-01-10")
    assert working_days_between("2024-01-10", "2024-01-10") == 0


def test_end_before_start_is_negative():
    assert working_days_between("2024-01-15", "2024-01-08") == -5


def test_end_before_start_counts_end_excluded_start_included():
    # minus the working days in (end, start]: (Fri 3 Jun 2022, Mon 6 Jun] holds Sat 4,
    # Sun 5 and Mon 6, one working day (3 Jun, the Platinum Jubilee, is not in it; numpy
    # alone counted (4 Jun, 7 Jun]: Mon 6 and Tue 7, two)
    assert working_days_between("2022-06-06", "2022-06-03") == -1
    assert working_days_between("2022-06-03", "2022-06-06") == 1
    # (Wed 1 Jun, Tue 7 Jun]: Mon 6, Tue 7 -> 2 either way round
    assert working_days_between("2022-06-07", "2022-06-01") == -2
    assert working_days_between("2022-06-01", "2022-06-07") == 2


def test_vectorised_with_nat_and_index():
    s = pd.Series(pd.to_datetime(["2023-04-03", None, "2022-09-12"]), index=[10, 11, 12])
    out = add_working_days(s, pd.Series([45, 45, 15], index=s.index).to_numpy())
    assert list(out.index) == [10, 11, 12]
    assert out[10] == pd.Timestamp("2023-06-12")
    assert pd.isna(out[11])
    assert out[12] == pd.Timestamp("2022-10-04")
    counts = working_days_between(s, out)
    assert counts.dtype == "Int64"
    assert counts[10] == 45 and pd.isna(counts[11]) and counts[12] == 15


def test_is_working_day():
    s = pd.Series(pd.to_datetime(["2022-09-19", "2022-09-20", "2022-09-24", None]))
    assert is_working_day(s).tolist() == [False, True, False, pd.NA]


dates = st.dates(
    min_value=pd.Timestamp("2015-01-01").date(), max_value=pd.Timestamp("2035-12-31").date()
)


@settings(max_examples=300, deadline=None)
@given(d=dates, n=st.integers(min_value=0, max_value=400))
def test_counting_back_gives_n(d, n):
    due = add_working_days(pd.Timestamp(d), n)
    assert working_days_between(pd.Timestamp(d), due) == n


@settings(max_examples=300, deadline=None)
@given(d=dates, n=st.integers(min_value=1, max_value=400))
def test_result_is_a_working_day_and_the_last_one(d, n):
    due = add_working_days(pd.Timestamp(d), n)
    assert due.weekday() < 5
    assert is_working_day(due)
    # the day before the due date is one working day fewer (or the same if not working)
    assert working_days_between(pd.Timestamp(d), due - pd.Timedelta(days=1)) == n - 1


@settings(max_examples=200, deadline=None)
@given(a=dates, b=dates, c=dates)
def test_between_is_additive(a, b, c):
    a, b, c = sorted([pd.Timestamp(a), pd.Timestamp(b), pd.Timestamp(c)])
    assert working_days_between(a, c) == working_days_between(a, b) + working_days_between(b, c)


def test_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    starts = pd.Series(
        pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 3000, 500), "D")
    )
    n = rng.integers(0, 60, 500)
    vec = add_working_days(starts, n)
    for i in range(0, 500, 50):
        assert vec.iloc[i] == add_working_days(starts.iloc[i], int(n[i]))


def test_clock_starting_on_a_bank_holiday_across_easter_2025():
    # Statutory reading (METRICS.md "Working days"): day 0 is the start date even when it
    # is a weekend or bank holiday; the next working day is day 1. Easter 2025: Good Friday
    # 18 Apr, Easter Monday 21 Apr; Early May bank holiday 5 May. Worked by hand:
    # day 1 = Tue 22 Apr, ..., day 9 = Fri 2 May, day 10 = Tue 6 May, day 15 = Tue 13 May.
    for day0 in ("2025-04-18", "2025-04-19", "2025-04-20", "2025-04-21"):
        assert add_working_days(pd.Timestamp(day0), 1) == pd.Timestamp("2025-04-22")
        assert add_working_days(pd.Timestamp(day0), 15) == pd.Timestamp("2025-05-13")
        assert working_days_between(day0, "2025-05-13") == 15
        assert working_days_between(day0, "2025-04-22") == 1
    # Maundy Thursday is a working day 0 with the same day 1 (nothing works in between)
    assert add_working_days(pd.Timestamp("2025-04-17"), 15) == pd.Timestamp("2025-05-13")
    # the other reading (the next working day as day 0) would give 14 May: not used
    assert add_working_days(pd.Timestamp("2025-04-22"), 15) == pd.Timestamp("2025-05-14")
