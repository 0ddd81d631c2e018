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
    r = spc_rules(x, "higher", FLAT, min_points=0)
    assert r["rule"].tolist()[4] == "outside_limits" and r["signal"][4] == "improvement"
    assert r["rule"].tolist()[7] == "outside_limits" and r["signal"][7] == "concern"
    assert (r["signal"][[0, 1, 2, 3, 5, 6]] == "common_cause").all()


def test_spc_trend_of_seven_and_repeat_breaks_it():
    x = [10, 9, 9.5, 10.1, 10.4, 10.8, 11, 11.2, 10]  # 7 rising from index 1 to 7
    r = spc_rules(x, "lower", FLAT, min_points=0)
    assert (r["rule"][1:8] == "trend").all()
    # NHSRplotthedots labels each special-cause point by its side of the mean: with
    # lower better, the rising trend's points below the mean (9, 9.5) read improvement
    assert r["signal"][1:8].tolist() == ["improvement"] * 2 + ["concern"] * 5
    assert r["rule"][0] == "" and r["rule"][8] == ""
    x2 = [9, 9.5, 10.1, 10.1, 10.4, 10.8, 11, 11.2]  # a repeated value breaks the run
    assert (spc_rules(x2, "lower", FLAT, min_points=0)["rule"] != "trend").all()


def test_spc_two_of_three_near_limit_same_side():
    x = [10, 9, 14.5, 11, 15, 10, 9]
    r = spc_rules(x, "higher", FLAT, min_points=0)
    assert r["rule"].tolist() == ["", "", "two_of_three", "", "two_of_three", "", ""]
    # not all three on the same side: no signal
    x2 = [10, 14.5, 9.5, 15, 10]
    assert (spc_rules(x2, "higher", FLAT, min_points=0)["rule"] == "").all()


def test_spc_shift_of_seven_and_point_on_mean_breaks_it():
    x = [9, 11, 12, 11, 12, 11, 12, 11, 9]
    r = spc_rules(x, "higher", FLAT, min_points=0)
    assert (r["rule"][1:8] == "shift").all() and (r["signal"][1:8] == "improvement").all()
    x2 = [11, 12, 11, 10, 12, 11, 12, 11]  # the 10 sits on the mean
    assert (spc_rules(x2, "higher", FLAT, min_points=0)["rule"] != "shift").all()


def test_spc_precedence_outside_beats_shift():
    x = [11, 12, 11, 12, 11, 12, 17]
    r = spc_rules(x, "higher", FLAT, min_points=0)
    assert r["rule"].iloc[-1] == "outside_limits"
    assert (r["rule"][:6] == "shift").all()


def test_spc_direction_neither():
    r = spc_rules([10, 17], "neither", FLAT, min_points=0)
    assert r["signal"][1] == "special_cause"


def test_spc_fewer_than_12_points_signal_nothing():
    x = [10, 11, 9, 10, 17, 10, 9, 3, 10, 10, 10]
    r = spc_rules(x, "higher", FLAT)
    assert (r["signal"] == "common_cause").all() and r["too_few"].all()
    r12 = spc_rules([*x, 10], "higher", FLAT)
    assert not r12["too_few"].any() and r12["signal"][4] == "improvement"


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


# --- Aalen-Johansen cumulative incidence -------------------------------------------------


def _gray_cinc(y, ic, icc):
    """Line-by-line port of R cmprsk's Fortran ``cinc`` (Gray 2000): times, estimates and
    variances at each event time of the cause of interest. Independent of the vectorised
    code under test; written as loops to follow the published source."""
    order = np.argsort(y, kind="stable")
    y, ic, icc = np.asarray(y, float)[order], np.asarray(ic)[order], np.asarray(icc)[order]
    n = len(y)
    fk, f, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0, 0.0
    out = []
    rs, ll = n, 0
    while ll < n:
        last = ll
        while last + 1 < n and y[last + 1] == y[ll]:
            last += 1
        nd1 = int(sum(icc[ll : last + 1]))
        nd2 = int(sum(ic[ll : last + 1])) - nd1
        nd = nd1 + nd2
        if nd > 0:
            fkn = fk * (rs - nd) / rs
            if nd1 > 0:
                f = f + fk * nd1 / rs
            if nd2 > 0 and fkn > 0:
                t5 = 1 - (nd2 - 1.0) / (rs - 1.0) if nd2 > 1 else 1.0
                t6 = fk * fk * t5 * nd2 / (rs * rs)
                t3, t4 = 1.0 / fkn, f / fkn
                v1 += t4 * t4 * t6
                v2 += t3 * t4 * t6
                v3 += t3 * t3 * t6
            if nd1 > 0:
                t5 = 1 - (nd1 - 1.0) / (rs - 1.0) if nd1 > 1 else 1.0
                t6 = fk * fk * t5 * nd1 / (rs * rs)
                t3 = 1 / fkn if fkn > 0 else 0.0
                t4 = 1 + t3 * f
                v1 += t4 * t4 * t6
                v2 += t3 * t4 * t6
                v3 += t3 * t3 * t6
                out.append((y[last], f, v1 + f * f * v3 - 2 * f * v2))
            fk = fkn
        rs = n - (last + 1)
        ll = last + 1
    return out


def test_aalen_johansen_by_hand_events_before_censorings():
    from audit_lib.stats import aalen_johansen, step_at, step_median

    # worked by hand: n=6; day 1 cause 1 (F=1/6, S=5/6); day 2 cause 2 (S=4/6); day 3 a
    # cause-1 event and a censoring: the censored child is at risk on day 3, so
    # F = 1/6 + 4/6 * 1/4 = 1/3 (censoring first would give 1/6 + 4/6 * 1/3 = 0.389);
    # day 4 (n=2): F = 1/3 + 3/6 * 1/2 = 0.5833.
    t = [1, 2, 3, 3, 4, 5]
    for perm in ([0, 1, 2, 3, 4, 5], [0, 1, 3, 2, 4, 5]):  # row order must not matter
        c = np.array([1, 2, 1, 0, 1, 0])[perm]
        cur = aalen_johansen(np.array(t)[perm], c, 1)
        assert cur["incidence"].tolist() == pytest.approx([1 / 6, 1 / 3, 7 / 12])
    assert step_at(cur, 3)["incidence"] == pytest.approx(1 / 3)  # the horizon day counts
    assert step_at(cur, 2.9)["incidence"] == pytest.approx(1 / 6)
    assert step_at(cur, 0.5)["incidence"] == 0.0
    assert step_median(cur)["value"] == 4.0


@pytest.mark.parametrize("seed", range(20))
def test_aalen_johansen_equals_gray_cmprsk_port(seed):
    from audit_lib.stats import aalen_johansen

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    t = rng.integers(0, 40, n)  # many ties on purpose
    c = rng.integers(0, 3, n)
    ref = _gray_cinc(t, c > 0, c == 1)
    got = aalen_johansen(t, c, 1)
    assert len(got) == len(ref)
    if ref:
        rt, rf, rv = map(np.array, zip(*ref, strict=True))
        assert np.allclose(got["days"], rt)
        assert np.allclose(got["incidence"], rf, atol=1e-12)
        assert np.allclose(got["variance"], rv, atol=1e-12)
        lo, hi = got["lower"].to_numpy(), got["upper"].to_numpy()
        f = got["incidence"].to_numpy()
        assert ((lo <= f + 1e-12) & (f <= hi + 1e-12)).all()


def test_aalen_johansen_estimate_matches_lifelines_without_ties():
    from lifelines import AalenJohansenFitter

    from audit_lib.stats import aalen_johansen

    rng = np.random.default_rng(3)
    t = rng.permutation(np.arange(1, 201)).astype(float)  # no ties: no jitter needed
    c = rng.integers(0, 3, 200)
    ajf = AalenJohansenFitter(calculate_variance=False).fit(t, c, event_of_interest=1)
    ref = ajf.cumulative_density_.iloc[:, 0]
    got = aalen_johansen(t, c, 1).set_index("days")["incidence"]
    assert np.allclose(got.to_numpy(), ref.reindex(got.index).to_numpy(), atol=1e-12)


def test_aalen_johansen_degenerate_inputs_are_values():
    from audit_lib.stats import aalen_johansen, step_at, step_median

    assert aalen_johansen([], [], 1).empty
    none = aalen_johansen([3, 4, 5], [0, 2, 0], 1)  # no event of interest
    assert none.empty
    assert step_at(none, 365)["incidence"] == 0.0
    assert step_median(none) == {"value": None, "lower": None, "upper": None}
    everyone = aalen_johansen([1, 2], [1, 1], 1)
    assert everyone["incidence"].iloc[-1] == 1.0
    assert everyone["upper"].iloc[-1] == 1.0


# --- SPC against a port of NHSRplotthedots' point-type rules --------------------------------
# Loop-for-loop ports of NHSRplotthedots (NHS-R community, R/ptd_spc_standard.R and
# R/ptd_calculate_point_type.R), written to follow the published R, independent of the
# vectorised code under test. R vectors are 1-based; the ports use 0-based lists.


def _ptd_seven_point_one_side_mean(v):
    vp = [0] * 6 + list(v)
    return [
        float(all(vp[i] == vp[i - k] for k in range(1, 7)) and vp[i] != 0)
        for i in range(6, len(vp))
    ]


def _ptd_part_of_seven_trend(v):
    vp = list(v) + [0] * 6
    return [float(any(vp[i + k] == 1 for k in range(7))) for i in range(len(v))]


def _ptd_seven_point_trend(y):
    if len(y) < 7:
        return [0.0] * len(y)
    out = [0.0] * 6
    for i in range(6, len(y)):
        w = [y[i - k] for k in range(7)]  # y[i - 0:6], newest first
        d = [-np.sign(w[k + 1] - w[k]) for k in range(6)]
        out.append(1.0 if all(x == 1 for x in d) else -1.0 if all(x == -1 for x in d) else 0.0)
    return out


def _ptd_two_in_three(v, rtm):
    vp = [0, 0, *v, 0, 0]
    rp = [0, 0, *rtm, 0, 0]
    out = []
    for i in range(len(v)):
        hit = False
        for s in (0, 1, 2):
            if sum(vp[i + s : i + s + 3]) >= 2 and abs(sum(rp[i + s : i + s + 3])) == 3:
                hit = True
        out.append(float(hit))
    return out


def _ptd_part_of_two_in_three(v, x):
    return [float(a == 1 and abs(b) == 1) for a, b in zip(v, x, strict=True)]


def _ptd_point_types(y, improvement_direction, screen=True, fix_after=None):
    """NHSRplotthedots ptd_spc_standard + ptd_calculate_point_type for one series."""
    y = [float(v) for v in y]
    fix = y[:fix_after] if fix_after else y
    mean = sum(fix) / len(fix)
    mr = [abs(fix[i] - fix[i - 1]) for i in range(1, len(fix))]
    amr = sum(mr) / len(mr)
    if screen:
        mr = [m for m in mr if m < 3.267 * amr]
        amr = sum(mr) / len(mr)
    limit, close = 2.66, 2 * (2.66 / 3)
    lpl, upl = mean - limit * amr, mean + limit * amr
    nlpl, nupl = mean - close * amr, mean + close * amr
    outside = [v > upl or v < lpl for v in y]
    rtm = [float(np.sign(v - mean)) for v in y]
    close_to = [float(not o and (v < nlpl or v > nupl)) for v, o in zip(y, outside, strict=True)]
    p1 = _ptd_part_of_seven_trend(_ptd_seven_point_one_side_mean(rtm))
    p2 = _ptd_part_of_seven_trend([abs(t) for t in _ptd_seven_point_trend(y)])
    p3 = _ptd_part_of_two_in_three(_ptd_two_in_three(close_to, rtm), close_to)
    out = []
    for i in range(len(y)):
        flag = outside[i] or p1[i] == 1 or p2[i] == 1 or p3[i] == 1
        if not flag:
            out.append("common_cause")
        elif rtm[i] == improvement_direction:
            out.append("improvement")
        else:
            out.append("concern")
    return out


def test_port_matches_nhsrplotthedots_published_unit_examples():
    # tests/testthat/test-ptd_calculate_point_type.R (NHSRplotthedots)
    assert _ptd_seven_point_one_side_mean([1] * 8 + [-1]) == [0] * 6 + [1, 1, 0]
    assert _ptd_seven_point_one_side_mean([1] * 6 + [-1]) == [0] * 7
    assert _ptd_seven_point_trend(list(range(1, 8))) == [0] * 6 + [1]
    assert _ptd_seven_point_trend([2, *range(1, 8), 3]) == [0] * 7 + [1, 0]
    assert _ptd_seven_point_trend(list(range(7, 0, -1))) == [0] * 6 + [-1]
    assert _ptd_seven_point_trend([1, 2, 3, 3, 4, 5, 6]) == [0] * 7
    assert _ptd_two_in_three([1, 0, 1], [1, 1, 1]) == [1, 1, 1]
    assert _ptd_two_in_three([0, 0, 1, 0, 1, 0, 0], [1] * 7) == [0, 0, 1, 1, 1, 0, 0]
    assert _ptd_two_in_three([0, 0, 1, 1, 0, 0, 0], [1] * 7) == [0, 1, 1, 1, 1, 0, 0]
    iv = [1, 0, 0, 1, 1]
    assert _ptd_part_of_two_in_three(_ptd_two_in_three(iv, [1] * 5), iv) == [0, 0, 0, 1, 1]


def _random_series(rng, kind):
    n = int(rng.integers(12, 61))
    x = rng.normal(0, 1, n)
    if kind == 1:  # occasional outliers (the moving-range screen matters)
        hit = rng.random(n) < 0.08
        x[hit] += rng.choice([-1, 1], hit.sum()) * rng.uniform(3, 8, hit.sum())
    elif kind == 2:  # a step change
        x[n // 2 :] += rng.uniform(0.5, 2.5)
    elif kind == 3:  # a drift
        x += np.linspace(0, rng.uniform(1, 4), n)
    elif kind == 4:  # coarse values: ties and points on the mean
        x = np.round(x * 2) / 2
    return x


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_spc_labels_equal_nhsrplotthedots_defaults_on_random_series(direction):
    rng = np.random.default_rng(20241)
    sign = 1 if direction == "higher" else -1
    for i in range(750):
        x = _random_series(rng, i % 5)
        for fix in (None, 12):
            ref = _ptd_point_types(x, sign, screen=True, fix_after=fix)
            got = spc_rules(x, direction, baseline=fix)["signal"].tolist()
            assert got == ref, (i, fix, x.tolist())


def test_spc_two_of_three_ignores_points_beyond_the_limit():
    # issue example: the -6 is beyond the limit, so it is not "near"; only -3 is near
    x = [0.5, -0.5] * 8 + [-6, -3.0, 0, 0.5, -0.5, 0.5]
    r = spc_rules(x, "higher")
    assert r["rule"][16] == "outside_limits"
    assert r["rule"][17] == ""  # not a 2-of-3 concern
    assert r["signal"].tolist() == _ptd_point_types(x, 1)


def test_spc_screen_outliers_on_by_default():
    x = [10, 11, 10, 11, 10, 11, 10, 30, 10, 11, 10, 11, 10, 11]
    assert xmr_limits(x)["mean_moving_range"] < xmr_limits(x, screen=False)["mean_moving_range"]
    assert spc_rules(x, "higher")["upper"][0] == pytest.approx(xmr_limits(x)["upper"])


def test_spc_reading_latest_point_and_older_signal():
    from audit_lib.stats import spc_reading

    x = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9, 30, 10, 11, 9]
    months = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 5)]
    rd = spc_reading(x, months, "higher")
    assert rd["signal"] == "common_cause" and not rd["too_few"]
    assert rd["last_signal"] == "improvement" and rd["last_signal_at"] == "2025-01"
    few = spc_reading(x[:5], months[:5], "higher")
    assert few["too_few"] and few["last_signal"] is None
    assert spc_reading([], [], "higher")["too_few"]


def test_nhsrplotthedots_published_examples():
    # tests/testthat/test-ptd_spc_standard.R: symmetrical data, then two successive points
    # close to the limits on opposite sides of the mean -> both common cause
    x = [1.0, -1.0] * 8
    x[14], x[15] = 5.5, -5.5
    r = spc_rules(x, "higher")
    assert r["signal"].tolist()[-2:] == ["common_cause", "common_cause"]
    assert r["signal"].tolist() == _ptd_point_types(x, 1)
    # same file: rnorm(20) with set.seed(123) and y[15] = 10; screening the moving ranges
    # narrows the limits (screened range < unscreened range), and both differ from the
    # original series' limits
    y = np.array(
        [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499,
         0.46091621, -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383,
         0.40077145, 0.11068272, -0.55584113, 1.78691314, 0.49785048, -1.96661716,
         0.70135590, -0.47279141]
    )  # fmt: skip
    y2 = y.copy()
    y2[14] = 10
    screened, raw = xmr_limits(y2), xmr_limits(y2, screen=False)
    assert raw["upper"] - raw["lower"] > screened["upper"] - screened["lower"]
    assert screened["lower"] != xmr_limits(y)["lower"] != raw["lower"]
