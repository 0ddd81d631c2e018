"""Shared statistics (audit_lib.stats) against published worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_lib.stats import funnel_limits, overdispersion, spc_rules, wilson, xmr_limits


@pytest.mark.parametrize(
    ("x", "n", "lo", "hi"),
    [  # Newcombe (1998), Table I, method 3 (Wilson score)
        (81, 263, 0.255289, 0.366210),
        (15, 148, 0.062386, 0.160487),
        (0, 20, 0.0, 0.161125),
        (1, 29, 0.006113, 0.171755),
    ],
)
def test_wilson_newcombe(x, n, lo, hi):
    got = wilson(x, n)
    assert got[0] == pytest.approx(lo, abs=1e-6)
    assert got[1] == pytest.approx(hi, abs=1e-6)


@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_bounds_contain_the_share(n, data):
    x = data.draw(st.integers(0, n))
    lo, hi = wilson(x, n)
    assert 0 <= lo <= x / n <= hi <= 1


def test_wilson_zero_denominator_is_nan():
    lo, hi = wilson(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_xmr_limits_nhsrplotthedots():
    # R: set.seed(123); rnorm(20) (NHSRplotthedots test snapshot)
    x = [
        -0.56047565,
        -0.23017749,
        1.55870831,
        0.07050839,
        0.12928774,
        1.71506499,
        0.46091621,
        -1.26506123,
        -0.68685285,
        -0.44566197,
        1.22408180,
        0.35981383,
        0.40077145,
        0.11068272,
        -0.55584113,
        1.78691314,
        0.49785048,
        -1.96661716,
        0.70135590,
        -0.47279141,
    ]
    lim = xmr_limits(x)
    assert lim["centre"] == pytest.approx(0.1416238, abs=1e-6)
    assert lim["lower"] == pytest.approx(-3.01138, abs=1e-5)
    assert lim["upper"] == pytest.approx(3.294627, abs=1e-5)


FLAT = {"centre": 10.0, "lower": 4.0, "upper": 16.0, "near_lower": 6.0, "near_upper": 14.0}


def test_spc_outside_limits():
    x = [10, 11, 9, 10, 17, 10, 9, 3]
    r = spc_rules(x, "higher", FLAT)
    assert r["rule"].tolist()[4] == "outside_limits" and r["signal"][4] == "improvement"
    assert r["rule"].tolist()[7] == "outside_limits" and r["signal"][7] == "concern"
    assert (r["signal"][[0, 1, 2, 3, 5, 6]] == "common_cause").all()


def test_spc_trend_of_seven_and_repeat_breaks_it():
    x = [10, 9, 9.5, 10.1, 10.4, 10.8, 11, 11.2, 10]  # 7 rising from index 1 to 7
    r = spc_rules(x, "lower", FLAT)
    assert (r["rule"][1:8] == "trend").all() and (r["signal"][1:8] == "concern").all()
    assert r["rule"][0] == "" and r["rule"][8] == ""
    x2 = [9, 9.5, 10.1, 10.1, 10.4, 10.8, 11, 11.2]  # a repeated value breaks the run
    assert (spc_rules(x2, "lower", FLAT)["rule"] != "trend").all()


def test_spc_two_of_three_near_limit_same_side():
    x = [10, 9, 14.5, 11, 15, 10, 9]
    r = spc_rules(x, "higher", FLAT)
    assert r["rule"].tolist() == ["", "", "two_of_three", "", "two_of_three", "", ""]
    # not all three on the same side: no signal
    x2 = [10, 14.5, 9.5, 15, 10]
    assert (spc_rules(x2, "higher", FLAT)["rule"] == "").all()


def test_spc_shift_of_seven_and_point_on_mean_breaks_it():
    x = [9, 11, 12, 11, 12, 11, 12, 11, 9]
    r = spc_rules(x, "higher", FLAT)
    assert (r["rule"][1:8] == "shift").all() and (r["signal"][1:8] == "improvement").all()
    x2 = [11, 12, 11, 10, 12, 11, 12, 11]  # the 10 sits on the mean
    assert (spc_rules(x2, "higher", FLAT)["rule"] != "shift").all()


def test_spc_precedence_outside_beats_shift():
    x = [11, 12, 11, 12, 11, 12, 17]
    r = spc_rules(x, "higher", FLAT)
    assert r["rule"].iloc[-1] == "outside_limits"
    assert (r["rule"][:6] == "shift").all()


def test_spc_direction_neither():
    r = spc_rules([10, 17], "neither", FLAT)
    assert r["signal"][1] == "special_cause"


def test_funnel_normal_limits_by_hand():
    # p0 = 0.8, n = 100: 0.8 ± 1.959964 * 0.04 and ± 3.090232 * 0.04
    lim = funnel_limits(0.8, [100], exact=False)
    assert lim["lower_95"][0] == pytest.approx(0.8 - 1.959964 * 0.04, abs=1e-6)
    assert lim["upper_998"][0] == pytest.approx(0.8 + 3.090232 * 0.04, abs=1e-6)


def test_funnel_exact_limits_close_to_normal_for_large_n_and_ordered():
    n = np.array([20, 50, 200, 5000])
    ex = funnel_limits(0.8, n)
    nm = funnel_limits(0.8, n, exact=False)
    assert np.all(ex["lower_998"] < ex["lower_95"]) and np.all(ex["upper_95"] < ex["upper_998"])
    assert ex["lower_95"].iloc[-1] == pytest.approx(nm["lower_95"].iloc[-1], abs=0.002)
    # limits narrow as n grows
    assert np.all(np.diff(ex["lower_998"]) > 0)


def test_overdispersion_is_one_without_extra_variation():
    n = np.full(30, 400)
    x = np.round(n * 0.8).astype(int)
    assert overdispersion(x, n, 0.8) == 1.0
    x2 = (n * np.linspace(0.6, 0.95, 30)).astype(int)
    assert overdispersion(x2, n, 0.8) > 5


def test_binomial_quantile_matches_scipy_stats():
    from scipy import stats as st

    from audit_lib.stats import _binom_ppf

    n = np.array([1, 5, 20, 57, 300, 4000])
    for q in (0.001, 0.025, 0.5, 0.975, 0.999):
        for p in (0.05, 0.5, 0.8, 0.97):
            assert np.array_equal(_binom_ppf(q, n, p), st.binom.ppf(q, n, p)), (q, p)


def test_spc_baseline_fixes_limits_so_a_step_shows():
    x = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9, 14, 15, 14, 15, 14, 15, 14]
    whole = spc_rules(x, "higher")
    fixed = spc_rules(x, "higher", baseline=12)
    assert fixed["centre"][0] == pytest.approx(10.0)
    assert (fixed["signal"][12:] == "improvement").all()
    assert whole["centre"][0] > 11  # without a baseline the step drags the mean up
