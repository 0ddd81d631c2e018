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
    "funnel_limits",
    "spc_rules",
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


def xmr_limits(values, screen: bool = False) -> dict[str, float]:
    """XmR (individuals) chart centre and limits (NHS England "Making Data Count").

    centre = mean; limits = mean ± 2.66 × mean moving range. With ``screen``, moving
    ranges of 3.267 × the mean moving range or more are left out of the mean first.
    Reference: NHSRplotthedots, rnorm(20) with set.seed(123): mean 0.1416238,
    limits (-3.01138, 3.294627).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    mr = np.abs(np.diff(x))
    mr_mean = mr.mean() if len(mr) else np.nan
    if screen and len(mr):
        mr = mr[mr < 3.267 * mr_mean]
        mr_mean = mr.mean()
    centre = x.mean()
    return {
        "centre": float(centre),
        "lower": float(centre - 2.66 * mr_mean),
        "upper": float(centre + 2.66 * mr_mean),
        "near_lower": float(centre - 2 / 3 * 2.66 * mr_mean),
        "near_upper": float(centre + 2 / 3 * 2.66 * mr_mean),
        "mean_moving_range": float(mr_mean),
    }


def _runs(flags: np.ndarray, length: int) -> np.ndarray:
    """Mark every point belonging to a run of at least ``length`` consecutive True."""
    flags = np.asarray(flags, dtype=bool)
    out = np.zeros(len(flags), dtype=bool)
    # run id increments at each False; count run lengths with a cumulative trick
    idx = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(~flags, idx, -1))
    run_len = np.where(flags, idx - last_false, 0)
    ends = np.flatnonzero(run_len >= length)
    for e in ends:  # at most len(series) iterations over points, not rows of data
        out[e - run_len[e] + 1 : e + 1] = True
    return out


def spc_rules(
    values,
    direction: Direction = "higher",
    limits: dict[str, float] | None = None,
    run_length: int = 7,
    baseline: int | None = None,
) -> pd.DataFrame:
    """Special-cause variation on an XmR chart (NHS "Making Data Count").

    Rules, in order of precedence (the first that applies names the point):

    1. ``outside_limits``: a point above the upper or below the lower limit.
    2. ``trend``: 7 points all rising or all falling (a repeated value breaks it).
    3. ``two_of_three``: 2 of 3 consecutive points beyond the near limit (2/3 of the way
       to the limit), with all 3 on the same side of the mean.
    4. ``shift``: 7 points in a row on one side of the mean (a point on the mean breaks it).

    These follow NHSRplotthedots. ``baseline`` fixes the centre and limits on the first
    ``baseline`` points (NHSRplotthedots ``fix_after_n_points``), so that a change after
    them shows as a signal instead of widening the limits. Each flagged point is labelled ``improvement`` or
    ``concern`` from the measure's good ``direction`` (higher or lower is better); with
    ``neither`` it is ``special_cause``.

    Returns
    -------
    DataFrame with value, centre, lower, upper, rule (or ""), signal
    (improvement/concern/special_cause/common_cause).
    """
    x = np.asarray(values, dtype=float)
    lim = limits or xmr_limits(x[:baseline] if baseline else x)
    c = lim["centre"]
    n = len(x)
    above, below = x > c, x < c

    outside_hi, outside_lo = x > lim["upper"], x < lim["lower"]

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

    near_hi, near_lo = x > lim["near_upper"], x < lim["near_lower"]
    two3_hi = np.zeros(n, dtype=bool)
    two3_lo = np.zeros(n, dtype=bool)
    for start in range(max(n - 2, 0)):
        w = slice(start, start + 3)
        if above[w].all() and near_hi[w].sum() >= 2:
            two3_hi[w] |= near_hi[w]
        if below[w].all() and near_lo[w].sum() >= 2:
            two3_lo[w] |= near_lo[w]

    shift_hi = _runs(above, run_length)
    shift_lo = _runs(below, run_length)

    rule = np.full(n, "", dtype=object)
    side = np.zeros(n, dtype=int)  # +1 high, -1 low
    for name, hi, lo in (
        ("shift", shift_hi, shift_lo),
        ("two_of_three", two3_hi, two3_lo),
        ("trend", trend_up, trend_down),
        ("outside_limits", outside_hi, outside_lo),
    ):  # later rules overwrite earlier ones: highest precedence last
        rule = np.where(hi | lo, name, rule)
        side = np.where(hi, 1, np.where(lo, -1, side))
    if direction == "higher":
        signal = np.where(side > 0, "improvement", "concern")
    elif direction == "lower":
        signal = np.where(side < 0, "improvement", "concern")
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
    p0 = float(x.sum() / n.sum()) if p0 is None else p0
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
