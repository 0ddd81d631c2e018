"""Statistics shared by the audits: intervals, funnel limits and SPC rules.

Thin, vectorised wrappers where scipy/statsmodels have the method; our own code only
where they do not (funnel limits, Making Data Count XmR rules), each tested against a
published worked example (METRICS.md "Reference values").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

# scipy.special rather than scipy.stats: the same functions (normal quantile, binomial
# CDF and its inverse) without scipy.stats' import cost in every notebook kernel.

__all__ = [
    "aalen_johansen",
    "funnel_limits",
    "spc_reading",
    "spc_rules",
    "step_at",
    "step_median",
    "wilson",
    "xmr_limits",
]

Direction = Literal["higher", "lower", "neither"]


def wilson(numerator, denominator, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (Newcombe 1998, method 3).

    Vectorised over arrays. A zero denominator gives NaN bounds.
    Reference: 81/263 -> (0.255289, 0.366210); 0/20 -> (0, 0.161125).
    """
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    z = special.ndtri(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        lower = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        upper = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    lower = np.where((x == 0) & (n > 0), 0.0, lower)
    upper = np.where((x == n) & (n > 0), 1.0, upper)
    return lower, upper


def funnel_limits(
    p0: float,
    n,
    levels: tuple[float, ...] = (0.95, 0.998),
    exact: bool = True,
    phi: float = 1.0,
) -> pd.DataFrame:
    """Funnel-plot control limits for a proportion (Spiegelhalter 2005).

    Normal limits are p0 ± z sqrt(phi p0 (1 - p0) / n), z = 1.96 and 3.09. With
    ``exact`` the limits come from the binomial distribution instead (Spiegelhalter's
    interpolated exact limits), which behave properly for small n. ``phi`` is a
    multiplicative over-dispersion factor (see ``overdispersion``); it applies to the
    normal limits.

    Returns
    -------
    DataFrame indexed like ``n`` with columns lower_95, upper_95, lower_998, upper_998
    (named by level).
    """
    n = np.asarray(n, dtype=float)
    out = {}
    for level in levels:
        name = f"{level * 100:g}".replace(".", "")
        z = special.ndtri(0.5 + level / 2)
        if exact and phi == 1.0:
            alpha = (1 - level) / 2
            lo, hi = (_binom_limit(q, n, p0) for q in (alpha, 1 - alpha))
            out[f"lower_{name}"], out[f"upper_{name}"] = lo, hi
        else:
            half = z * np.sqrt(phi * p0 * (1 - p0) / n)
            out[f"lower_{name}"] = np.clip(p0 - half, 0, 1)
            out[f"upper_{name}"] = np.clip(p0 + half, 0, 1)
    return pd.DataFrame(out)


def _binom_ppf(q: float, n: np.ndarray, p: float) -> np.ndarray:
    """Smallest integer r with P(X <= r) >= q, X ~ Binomial(n, p) (vectorised over n)."""
    n = np.asarray(n).astype(np.int64)
    with np.errstate(invalid="ignore"):
        r = np.floor(np.nan_to_num(special.bdtrik(q, n, p), nan=0.0))
    r = np.clip(r, 0, n).astype(np.int64)
    # step to the exact quantile: the continuous inverse can be one off either way
    tol = 1e-10  # cumulative probabilities equal to q up to rounding count as reaching it
    for _ in range(2):
        r = np.where((r > 0) & (special.bdtr(r - 1, n, p) >= q - tol), r - 1, r)
        r = np.where((r < n) & (special.bdtr(r, n, p) < q - tol), r + 1, r)
    return r


def _binom_limit(q: float, n: np.ndarray, p0: float) -> np.ndarray:
    """Spiegelhalter's (2005) interpolated exact binomial limit for a proportion."""
    r = _binom_ppf(q, n, p0)
    n = np.asarray(n).astype(np.int64)
    cdf_r = special.bdtr(r, n, p0)
    cdf_r1 = np.where(r > 0, special.bdtr(r - 1, n, p0), 0.0)
    step = np.where(cdf_r - cdf_r1 > 0, cdf_r - cdf_r1, 1)
    alpha = (cdf_r - q) / step
    return np.clip((r - alpha) / n, 0, 1)


def overdispersion(numerator, denominator, p0: float, trim: float = 0.1) -> float:
    """Multiplicative over-dispersion phi from winsorised z-scores (Spiegelhalter 2005).

    phi = sum(z_w^2) / k with the top and bottom ``trim`` of z-scores winsorised; phi
    below 1 is reported as 1 (no over-dispersion).
    """
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    z = (x / n - p0) / np.sqrt(p0 * (1 - p0) / n)
    lo, hi = np.quantile(z, [trim, 1 - trim])
    zw = np.clip(z, lo, hi)
    return float(max(1.0, np.sum(zw**2) / len(zw)))


#: Fewer points than this and an XmR chart shows no special cause ("too few points for
#: SPC"): NHS England's Making Data Count guidance asks for at least 12 (NHSRplotthedots
#: only warns; here the signals are withheld).
MIN_SPC_POINTS = 12


def xmr_limits(values, screen: bool = True) -> dict[str, float]:
    """XmR (individuals) chart centre and limits (NHS England "Making Data Count").

    centre = mean; limits = mean ± 2.66 × mean moving range; "near" limits at 2/3 of
    that. With ``screen`` (NHSRplotthedots ``screen_outliers``, TRUE by default there and
    here), moving ranges of 3.267 × the mean moving range or more are left out of the
    mean first. Reference: NHSRplotthedots, rnorm(20) with set.seed(123), unscreened:
    mean 0.1416238, limits (-3.01138, 3.294627).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    mr = np.abs(np.diff(x))
    mr_mean = mr.mean() if len(mr) else np.nan
    if screen and len(mr):
        mr = mr[mr < 3.267 * mr_mean]
        mr_mean = mr.mean() if len(mr) else np.nan
    centre = x.mean() if len(x) else np.nan
    return {
        "centre": float(centre),
        "lower": float(centre - 2.66 * mr_mean),
        "upper": float(centre + 2.66 * mr_mean),
        "near_lower": float(centre - 2 * (2.66 / 3) * mr_mean),
        "near_upper": float(centre + 2 * (2.66 / 3) * mr_mean),
        "mean_moving_range": float(mr_mean),
    }


def _runs(flags: np.ndarray, length: int) -> np.ndarray:
    """Mark every point belonging to a run of at least ``length`` consecutive True."""
    flags = np.asarray(flags, dtype=bool)
    n = len(flags)
    idx = np.arange(n)
    last_false = np.maximum.accumulate(np.where(~flags, idx, -1))
    run_len = np.where(flags, idx - last_false, 0)
    # a point is in a long run if its run reaches ``length``: read each run's length at
    # its last point (the one before the next False)
    next_false = np.minimum.accumulate(np.where(~flags, idx, n)[::-1])[::-1]
    final = run_len[np.clip(next_false - 1, 0, None)] if n else run_len
    return flags & (final >= length)


def spc_rules(
    values,
    direction: Direction = "higher",
    limits: dict[str, float] | None = None,
    run_length: int = 7,
    baseline: int | None = None,
    screen: bool = True,
    min_points: int = MIN_SPC_POINTS,
) -> pd.DataFrame:
    """Special-cause variation on an XmR chart (NHS "Making Data Count"), as the NHS-R
    NHSRplotthedots package marks it with its defaults.

    A point is special cause if any of these holds (``rule`` names the first that
    applies, in this order of precedence):

    1. ``outside_limits``: above the upper or below the lower process limit.
    2. ``trend``: part of 7 points all rising or all falling (a repeated value breaks it).
    3. ``two_of_three``: the point lies between the near limit (2/3 of the way) and the
       process limit, and 2 of 3 consecutive points containing it do, with all 3 on the
       same side of the mean (points beyond the process limit do not count as near).
    4. ``shift``: part of 7 points in a row on one side of the mean (a point on the mean
       breaks it).

    ``signal`` follows NHSRplotthedots: a special-cause point is ``improvement`` when it
    lies on the good side of the mean for ``direction``, otherwise ``concern``
    (``special_cause`` for ``neither``). ``screen`` screens moving ranges
    (``screen_outliers``, default TRUE). ``baseline`` fixes centre and limits on the
    first ``baseline`` points (``fix_after_n_points``). With fewer than ``min_points``
    points nothing is signalled and ``too_few`` is True ("too few points for SPC"; a
    departure: NHSRplotthedots only warns).

    Returns
    -------
    DataFrame with value, centre, lower, upper, rule (or ""), signal
    (improvement/concern/special_cause/common_cause), too_few.
    """
    x = np.asarray(values, dtype=float)
    lim = limits or xmr_limits(x[:baseline] if baseline else x, screen=screen)
    c = lim["centre"]
    n = len(x)
    rtm = np.sign(x - c)  # relative to mean: +1, 0, -1 (NaN compares False below)
    above, below = rtm > 0, rtm < 0

    outside_hi, outside_lo = x > lim["upper"], x < lim["lower"]
    outside = outside_hi | outside_lo

    d = np.diff(x)
    rising = _runs(d > 0, run_length - 1)
    falling = _runs(d < 0, run_length - 1)
    trend_up = np.zeros(n, dtype=bool)
    trend_down = np.zeros(n, dtype=bool)
    # a run of k rising differences covers k + 1 points
    trend_up[1:] |= rising
    trend_up[:-1] |= rising
    trend_down[1:] |= falling
    trend_down[:-1] |= falling

    close = ~outside & ((x > lim["near_upper"]) | (x < lim["near_lower"]))
    # windows of 3 (starting at i) with >= 2 close points, all on one side of the mean
    two3 = np.zeros(n, dtype=bool)
    if n >= 3:
        win_close = close[:-2].astype(int) + close[1:-1] + close[2:]
        win_side = np.abs(rtm[:-2] + rtm[1:-1] + rtm[2:])
        hit = (win_close >= 2) & (win_side == 3)
        for k in range(3):  # a point is in the windows starting at i-2, i-1 and i
            two3[k : n - 2 + k] |= hit
        two3 &= close

    shift = _runs(above, run_length) | _runs(below, run_length)

    rule = np.full(n, "", dtype=object)
    for name, flag in (
        ("shift", shift),
        ("two_of_three", two3),
        ("trend", trend_up | trend_down),
        ("outside_limits", outside),
    ):  # later rules overwrite earlier ones: highest precedence last
        rule = np.where(flag, name, rule)
    too_few = int(np.sum(~np.isnan(x))) < min_points
    if too_few:
        rule = np.full(n, "", dtype=object)
    if direction == "higher":
        signal = np.where(above, "improvement", "concern")
    elif direction == "lower":
        signal = np.where(below, "improvement", "concern")
    else:
        signal = np.full(n, "special_cause", dtype=object)
    signal = np.where(rule == "", "common_cause", signal)
    return pd.DataFrame(
        {
            "value": x,
            "centre": c,
            "lower": lim["lower"],
            "upper": lim["upper"],
            "rule": rule,
            "signal": signal,
            "too_few": too_few,
        }
    )


def funnel_position(
    units: pd.DataFrame, p0: float | None = None, level: float = 0.998
) -> pd.DataFrame:
    """Each unit's place on the funnel: its share, the limits at its size, and
    ``position`` (below, within, above) against the ``level`` limits.

    ``units`` has numerator and denominator; ``p0`` defaults to the pooled share.
    """
    n = units["denominator"].to_numpy(dtype=float)
    x = units["numerator"].to_numpy(dtype=float)
    if p0 is None:
        p0 = float(x.sum() / n.sum()) if n.sum() > 0 else float("nan")
    name = f"{level * 100:g}".replace(".", "")
    lim = funnel_limits(p0, n, levels=(level,))
    lo, hi = lim[f"lower_{name}"].to_numpy(), lim[f"upper_{name}"].to_numpy()
    share_ = x / n
    out = units.copy()
    out["p0"] = p0
    out["limit_lower"], out["limit_upper"] = lo, hi
    out["position"] = np.where(share_ < lo, "below", np.where(share_ > hi, "above", "within"))
    return out


def latest_signal(
    values, direction: Direction = "higher", baseline: int | None = None
) -> tuple[str, str]:
    """(rule, signal) of the last point of an XmR chart; ("", "common_cause") if none."""
    r = spc_rules(values, direction, baseline=baseline)
    if r.empty:
        return "", "common_cause"
    return str(r["rule"].iloc[-1]), str(r["signal"].iloc[-1])


def spc_reading(
    values, labels, direction: Direction = "higher", baseline: int | None = None
) -> dict:
    """The one SPC reading of an indicator, shared by its chart title, metrics.json and
    the summary: the latest point's rule and signal, whether there are too few points,
    and the most recent earlier special-cause point (its label and signal), so a page
    can say "Improved in Sep 2024" when the signal is older than the latest month.

    ``labels`` name the points (e.g. months "2024-09"), aligned with ``values``.
    """
    r = spc_rules(values, direction, baseline=baseline)
    labels = list(labels)
    out = {
        "rule": "",
        "signal": "common_cause",
        "too_few": bool(r["too_few"].iloc[0]) if len(r) else True,
        "last_signal": None,
        "last_signal_at": None,
        "points": len(r),
        "baseline": baseline,
    }
    if r.empty:
        return out
    out["rule"], out["signal"] = str(r["rule"].iloc[-1]), str(r["signal"].iloc[-1])
    flagged = np.flatnonzero(r["signal"].to_numpy() != "common_cause")
    if len(flagged):
        out["last_signal"] = str(r["signal"].iloc[flagged[-1]])
        out["last_signal_at"] = str(labels[flagged[-1]])
    return out


def aalen_johansen(time, cause, event_of_interest: int, level: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of one cause, the other causes competing.

    ``time`` is follow-up (days), ``cause`` 0 for censored, otherwise the event type.
    At each distinct time t with n at risk (follow-up >= t), d_k events of the cause of
    interest and d events of any cause, F(t) = F(t-) + S(t-) d_k / n, where S is the
    Kaplan-Meier estimate of remaining event-free. Events count before censorings on the
    same day (a child censored on day t is at risk at t), as in R ``cmprsk::cuminc`` and
    ``survival::survfit``. The variance is Gray's, as ``cmprsk::cuminc`` computes it
    (Aalen-type, with the tie correction); the interval is the log(-log) transform,
    F^exp(±z se / (F log F)).

    Returns
    -------
    DataFrame with one row per distinct event time of the cause of interest: days,
    incidence, variance, lower, upper. Empty when there is no such event.
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cause)
    keep = ~np.isnan(t)
    t, c = t[keep], c[keep]
    cols = ["days", "incidence", "variance", "lower", "upper"]
    if not len(t):
        return pd.DataFrame(columns=cols, dtype=float)
    u, inv = np.unique(t, return_inverse=True)
    n_at = len(t) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
    d1 = np.bincount(inv, weights=(c == event_of_interest)).astype(float)
    dall = np.bincount(inv, weights=(c != 0)).astype(float)
    d2 = dall - d1
    rs = n_at.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - dall / rs)
        fk = np.concatenate([[1.0], surv[:-1]])  # S(t-)
        f = np.cumsum(fk * d1 / rs)
        fkn = surv

        def _t6(d):
            t5 = np.where(d > 1, 1 - (d - 1) / np.where(rs > 1, rs - 1, np.inf), 1.0)
            return fk**2 * t5 * d / rs**2

        # other causes: only where S stays above 0 (cmprsk cinc, label 30)
        ok2 = (d2 > 0) & (fkn > 0)
        t6 = np.where(ok2, _t6(d2), 0.0)
        t3 = np.where(ok2, 1 / fkn, 0.0)
        t4 = np.where(ok2, f / fkn, 0.0)
        v1, v2, v3 = t4 * t4 * t6, t3 * t4 * t6, t3 * t3 * t6
        # cause of interest
        ok1 = d1 > 0
        t6 = np.where(ok1, _t6(d1), 0.0)
        t3 = np.where(ok1 & (fkn > 0), 1 / fkn, 0.0)
        t4 = 1 + t3 * f
        v1 = np.cumsum(v1 + np.where(ok1, t4 * t4 * t6, 0.0))
        v2 = np.cumsum(v2 + np.where(ok1, t3 * t4 * t6, 0.0))
        v3 = np.cumsum(v3 + np.where(ok1, t3 * t3 * t6, 0.0))
        var = v1 + f * f * v3 - 2 * f * v2
    out = pd.DataFrame({"days": u, "incidence": f, "variance": var})[ok1].reset_index(drop=True)
    z = special.ndtri(0.5 + level / 2)
    fv, se = out["incidence"].to_numpy(), np.sqrt(np.clip(out["variance"].to_numpy(), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        k = z * se / (fv * np.log(fv))
        lo, hi = fv ** np.exp(-k), fv ** np.exp(k)
    whole = fv >= 1  # all had the event: no spread on the log(-log) scale
    out["lower"] = np.where(whole, 1.0, np.minimum(lo, hi))
    out["upper"] = np.where(whole, 1.0, np.maximum(lo, hi))
    return out


def step_at(curve: pd.DataFrame, t: float, columns=("incidence", "lower", "upper")) -> dict:
    """Value of a right-continuous step curve (``days`` ascending) at ``t``: the last
    step at or before ``t`` (events on day ``t`` included); 0 before the first step."""
    sel = curve[curve["days"] <= t]
    if sel.empty:
        return dict.fromkeys(columns, 0.0)
    row = sel.iloc[-1]
    return {c: float(row[c]) for c in columns}


def step_median(curve: pd.DataFrame, column: str = "incidence", q: float = 0.5) -> dict:
    """Time at which a rising step curve first reaches ``q``, with its interval from the
    band (the lower limit is where the upper band reaches ``q``, the upper limit where
    the lower band does, as for a Kaplan-Meier median). Each is None when never reached
    ("not reached")."""

    def first(col):
        hit = curve.loc[curve[col] >= q - 1e-12, "days"]
        return float(hit.iloc[0]) if len(hit) else None

    return {"value": first(column), "lower": first("upper"), "upper": first("lower")}
