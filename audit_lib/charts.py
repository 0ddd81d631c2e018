"""Charts shared by the audits: SPC (XmR) charts, funnel plots, distributions.

Every chart takes tidy frames from audit_lib, a title that states the finding, and
returns a matplotlib Figure. Colours are the Okabe-Ito colour-blind-safe palette;
signals are also marked by shape, never by colour alone.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from .disclosure import hidden_shares, plain_title
from .model import category_label
from .stats import MIN_SPC_POINTS, funnel_limits, spc_rules

__all__ = [
    "PALETTE",
    "distribution_chart",
    "funnel_plot",
    "heatmap",
    "interval_chart",
    "spc_chart",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
SIGNAL_STYLE = {
    "improvement": (PALETTE["blue"], "^", "Improvement"),
    "concern": (PALETTE["orange"], "v", "Concern"),
    "special_cause": (PALETTE["purple"], "D", "Special cause"),
}


def _style(ax, title: str, how_to_read: str | None) -> None:
    """Title the chart (its finding) and record its alt text (the title) and its "how to
    read this" line, which :func:`report.figure_html` prints under the image as a
    caption: text that wraps to the page, where drawn into the image it made wide
    charts print small."""
    ax.set_title(plain_title(title), loc="left", fontsize=11, fontweight="bold", wrap=True)
    ax.figure.alt_text = title.rstrip(".") + "."
    ax.figure.how_to_read = how_to_read
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _finish(fig: Figure) -> Figure:
    fig.tight_layout()
    return fig


def _empty(title: str, what: str = "items") -> Figure:
    """A small figure saying there is nothing to draw (the data lack the table or rows)."""
    fig, ax = plt.subplots(figsize=(8, 1.4), dpi=100)
    fig.alt_text = f"{title.rstrip('.')}. Not available: no {what} in this data."
    ax.axis("off")
    ax.set_title(plain_title(title), loc="left", fontsize=11, fontweight="bold")
    ax.text(
        0,
        0.3,
        f"Not available: no {what} in this data.",
        fontsize=10,
        color="#444444",
        transform=ax.transAxes,
    )
    return fig


def spc_chart(
    series: pd.DataFrame,
    title: str,
    direction: str = "higher",
    target: float | None = None,
    percent: bool = True,
    x: str = "month",
    y: str = "value",
    ylabel: str = "Share in time",
    baseline: int | None = None,
    reference: tuple[float, str] | None = None,
    suppress_max: int = 5,
) -> Figure:
    """XmR chart of a monthly series with Making Data Count special-cause markers.

    ``series`` has one row per month (``x``) and the value (``y``). Points flagged by
    ``stats.spc_rules`` are drawn as triangles (up: improvement, down: concern).
    ``reference`` (value, label), e.g. (0.857, "England 2024-25"), draws a published
    comparator as a labelled line (:func:`comparators.reference_of`). A month whose
    share the tables hide (:func:`disclosure.hidden_shares`) is a gap, unmarked; the mean, limits
    and signals still use every month, as before; with every month hidden the chart says
    so instead.
    """
    if len(series) < 2:
        return _empty(title, "months with items")
    hidden = hidden_shares(series, suppress_max)
    if hidden.all():  # nothing but lines to draw
        return _empty(title, "month with enough items to show its share")
    rules = spc_rules(series[y].to_numpy(), direction=direction, baseline=baseline)
    xs = np.arange(len(series))
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=100)
    ax.plot(
        xs,
        rules["value"].mask(hidden),
        color=PALETTE["grey"],
        linewidth=1.2,
        marker="o",
        markersize=3.5,
        markerfacecolor=PALETTE["grey"],
        label="Monthly value",
        zorder=2,
    )
    ax.axhline(rules["centre"].iloc[0], color=PALETTE["black"], linewidth=1, label="Mean")
    for col in ("lower", "upper"):
        ax.axhline(
            rules[col].iloc[0],
            color=PALETTE["black"],
            linewidth=0.8,
            linestyle="--",
            label="Process limits" if col == "lower" else None,
        )
    if target is not None:
        ax.axhline(target, color=PALETTE["green"], linewidth=1.2, linestyle=":", label="Target")
    if reference is not None:
        _reference_line(ax, reference)
    for signal, (colour, marker, label) in SIGNAL_STYLE.items():
        sel = (rules["signal"] == signal) & ~hidden
        if sel.any():
            ax.scatter(
                xs[sel],
                rules.loc[sel, "value"],
                color=colour,
                marker=marker,
                s=60,
                zorder=3,
                label=label,
                edgecolor="black",
                linewidth=0.5,
            )
    step = max(1, len(xs) // 12)
    ax.set_xticks(xs[::step], series[x].astype(str).iloc[::step], rotation=0, fontsize=8)
    ax.set_ylabel(ylabel)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _style(
        ax,
        title,
        (
            f"Too few points for SPC (fewer than {MIN_SPC_POINTS}): no special cause is marked."
            if rules["too_few"].iloc[0]
            else "How to read this: points outside the dashed limits, or runs of points "
            "(seven rising, seven on one side, two of three near a limit), are real change, "
            "not noise"
            + (
                f"; the dotted green line is the target ({target:.0%})."
                if target is not None and percent
                else "; the dotted green line is the target."
                if target is not None
                else "."
            )
        )
        + _reference_caption(reference, lead=" ")
        + _gaps_caption(hidden),
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def _gaps_caption(hidden: np.ndarray) -> str:
    """The caption's sentence for months left out as gaps, or "" when none is (no count
    in it: `audit check` reads "3 of 48" as a small count)."""
    if not hidden.any():
        return ""
    return (
        " A gap is a month not shown (c), as the tables hide it: too few items, or too few "
        "in or out of the share; the mean and limits still count every month."
    )


def _reference_caption(reference: tuple[float, str] | None, lead: str = "") -> str:
    """The caption's sentence for a reference line, or "" when none is drawn."""
    if reference is None:
        return ""
    return f"{lead}The orange dash-dot line is {reference[1]} (published; year to 31 March)."


def _reference_line(ax, reference: tuple[float, str]) -> None:
    """A published comparator as a dash-dot orange line labelled with its name and year."""
    value, label = reference
    ax.axhline(value, color=PALETTE["orange"], linewidth=1.4, linestyle="-.", label=label)


def funnel_plot(
    units: pd.DataFrame,
    title: str,
    label: str = "team",
    ylabel: str = "Share in time",
    p0: float | None = None,
    suppress_max: int = 5,
) -> Figure:
    """Funnel plot of a proportion by unit (Spiegelhalter 2005) with 95% and 99.8% limits.

    ``units`` has ``label``, numerator and denominator. Units outside the 99.8% limits are
    named on the chart. Units whose numerator, complement or denominator is 1..
    ``suppress_max`` are merged into "Other teams" (:func:`disclosure.merge_small_groups`).
    """
    from .disclosure import merge_small_groups

    if suppress_max:  # small teams are not plotted at their exact position
        units = merge_small_groups(units, label, suppress_max=suppress_max)
    if units.empty:
        return _empty(title, "teams with enough items to show")
    n = units["denominator"].to_numpy(dtype=float)
    p = units["numerator"].to_numpy(dtype=float) / n
    p0 = float(units["numerator"].sum() / units["denominator"].sum()) if p0 is None else p0
    grid = np.unique(np.linspace(max(1, n.min() * 0.5), n.max() * 1.15, 200).astype(int))
    lim = funnel_limits(p0, grid)
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    ax.plot(grid, lim["lower_95"], color=PALETTE["sky"], linestyle="--", label="95% limits")
    ax.plot(grid, lim["upper_95"], color=PALETTE["sky"], linestyle="--")
    ax.plot(grid, lim["lower_998"], color=PALETTE["blue"], label="99.8% limits")
    ax.plot(grid, lim["upper_998"], color=PALETTE["blue"])
    ax.axhline(p0, color=PALETTE["black"], linewidth=1, label=f"Overall {p0:.0%}")
    at = funnel_limits(p0, n)
    out = (p < at["lower_998"].to_numpy()) | (p > at["upper_998"].to_numpy())
    ax.scatter(
        n[~out],
        p[~out],
        color=PALETTE["grey"],
        edgecolor="black",
        linewidth=0.5,
        s=40,
        label="Within limits",
        zorder=3,
    )
    ax.scatter(
        n[out],
        p[out],
        color=PALETTE["vermillion"],
        marker="D",
        edgecolor="black",
        linewidth=0.5,
        s=55,
        label="Outside 99.8%",
        zorder=3,
    )
    for name, xi, yi in zip(units[label][out], n[out], p[out], strict=True):
        ax.annotate(
            plain_title(name), (xi, yi), xytext=(6, -4), textcoords="offset points", fontsize=9
        )
    ax.set_xlabel("Number of items")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _style(
        ax,
        title,
        "How to read this: a team outside the solid funnel differs from the "
        "overall rate by more than chance would explain for its size.",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def distribution_chart(
    values: pd.DataFrame,
    title: str,
    value: str,
    group: str,
    limit_by_group: dict[str, float] | None = None,
    xlabel: str = "Days taken",
    suppress_max: int = 0,
) -> Figure:
    """Horizontal box plots of ``value`` by ``group``, with each group's timescale marked.

    Groups of 1 to ``suppress_max`` values are left out: their whiskers and median would
    be a few children's own figures."""
    sizes = values.dropna(subset=[value])[group].value_counts()
    groups = [g for g in values[group].dropna().unique() if sizes.get(g, 0) > suppress_max]
    if not groups:
        return _empty(title, "completed items")
    data = [values.loc[values[group] == g, value].dropna().astype(float).to_numpy() for g in groups]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(groups) + 1.6), dpi=100)
    ax.boxplot(
        data,
        orientation="horizontal",
        tick_labels=groups,
        showfliers=False,
        widths=0.5,
        medianprops={"color": PALETTE["vermillion"], "linewidth": 2},
        boxprops={"color": PALETTE["blue"]},
        whiskerprops={"color": PALETTE["blue"]},
        capprops={"color": PALETTE["blue"]},
    )
    drawn = [g for g in groups if limit_by_group and g in limit_by_group]
    for i, g in enumerate(groups, start=1):
        if g in drawn:
            ax.plot(
                [limit_by_group[g]] * 2,
                [i - 0.35, i + 0.35],
                color=PALETTE["black"],
                linestyle=":",
                linewidth=1.5,
            )
    ax.set_xlabel(xlabel)
    _style(
        ax,
        title,
        "How to read this: boxes span the middle half of items, the thick line "
        "is the median, whiskers the usual range"
        + ("; dotted lines mark the timescale." if drawn else "."),
    )
    return _finish(fig)


def heatmap(
    frame: pd.DataFrame,
    row: str,
    col: str,
    value: str,
    title: str,
    col_order=None,
    fmt: str = "{:.0%}",
    how_to_read: str | None = None,
    n: str | None = "denominator",
    suppress_max: int = 5,
) -> Figure:
    """A row x column grid of a share, in a colour-blind-safe sequential map, each cell
    labelled with its value (so colour is not the only cue). A cell built on 1..
    ``suppress_max`` cases (column ``n``), or whose numerator or complement is that
    small, is blank and labelled "c"."""
    from .disclosure import SUPPRESSED, hide_rate, is_suppressed

    frame = frame.copy()
    if n and n in frame and "numerator" in frame:  # a share: numerator and complement too
        small = hide_rate(frame["numerator"], frame[n], suppress_max)
    elif n and n in frame:
        small = is_suppressed(frame[n], suppress_max)
    else:
        small = np.zeros(len(frame), bool)
    frame.loc[small, value] = np.nan
    frame["_small"] = small
    grid = frame.pivot(index=row, columns=col, values=value)
    hidden = frame.pivot(index=row, columns=col, values="_small").fillna(False).astype(bool)
    if col_order is not None:
        grid = grid.reindex(columns=[c for c in col_order if c in grid.columns])
        hidden = hidden.reindex(columns=grid.columns, fill_value=False)
    grid.index = [plain_title(i) for i in grid.index]
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2.5, 0.42 * grid.shape[0] + 1.8), dpi=100)
    im = ax.imshow(grid.to_numpy(dtype=float), cmap="cividis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c).capitalize() for c in grid.columns], fontsize=9)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=9)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if hidden.iat[i, j]:
                ax.text(j, i, SUPPRESSED, ha="center", va="center", fontsize=8, color="black")
            elif pd.notna(v):
                ax.text(
                    j,
                    i,
                    fmt.format(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v < 0.55 else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.03, format=PercentFormatter(1.0, decimals=0))
    _style(
        ax,
        title,
        how_to_read
        or "How to read this: each cell is the share graded good or "
        "better; darker cells are weaker practice.",
    )
    ax.grid(False)
    return _finish(fig)


def interval_chart(
    frame: pd.DataFrame,
    label: str,
    title: str,
    value: str = "value",
    lower: str = "lower",
    upper: str = "upper",
    percent: bool = True,
    reference: float | None = None,
    xlabel: str = "Share",
    highlight=None,
    how_to_read: str | None = None,
    thresholds: str | None = None,
    threshold_label: str = "threshold",
    n: str | None = None,
    suppress_max: int = 5,
    mark_labels: str | None = None,
) -> Figure:
    """Point estimates with 95% intervals, one row per item (checklists, auditors).

    ``reference`` draws a dotted vertical line (parity, zero); ``thresholds`` names a
    column of per-row thresholds (the DfE adoption scorecard's), each drawn as a dotted
    mark on its own row. Captions mention a line only when it is drawn. With ``n`` (a
    count column), rows built on 1..``suppress_max`` cases are left out: an estimate from
    two audits shows what those audits said. ``mark_labels`` names a column of text
    written beside each row's mark (a published comparator's name and year).
    """
    import textwrap

    from .disclosure import is_suppressed

    f = frame.reset_index(drop=True)
    marked = np.zeros(len(f), dtype=bool) if highlight is None else np.asarray(highlight, bool)
    if n is not None and n in f:
        keep = ~is_suppressed(f[n], suppress_max)
        f, marked = f[keep].reset_index(drop=True), marked[keep]
    if f.empty:
        return _empty(title, "rows with enough cases")
    ys = np.arange(len(f))[::-1]
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.45 * len(f) + 1.9)), dpi=100)
    for mark, colour, shape in ((False, PALETTE["blue"], "o"), (True, PALETTE["vermillion"], "D")):
        sel = marked == mark
        v = f.loc[sel, value].to_numpy(dtype=float)  # arrays: no float() on a Series
        ax.errorbar(
            v,
            ys[sel],
            xerr=[
                v - f.loc[sel, lower].to_numpy(dtype=float),
                f.loc[sel, upper].to_numpy(dtype=float) - v,
            ],
            fmt=shape,
            color=colour,
            ecolor=colour,
            capsize=3,
            markersize=6,
        )
    if reference is not None:
        ax.axvline(reference, color=PALETTE["black"], linewidth=1, linestyle=":")
    marks = thresholds is not None and f[thresholds].notna().any()
    if marks:
        for y, t in zip(ys, f[thresholds], strict=True):
            if pd.notna(t):
                ax.plot([t, t], [y - 0.35, y + 0.35], color=PALETTE["black"], linestyle=":", lw=1.5)
        if mark_labels is not None:
            for y, t, text in zip(ys, f[thresholds], f[mark_labels], strict=True):
                if pd.notna(t) and text:
                    ax.annotate(str(text), (t, y + 0.37), fontsize=8, ha="center", va="bottom")
        ax.set_ylim(-0.6, len(f) - 0.4)
    ax.set_yticks(ys, [textwrap.fill(str(v), 38) for v in f[label]])
    ax.set_xlabel(xlabel)
    if percent:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if how_to_read is None:
        how_to_read = "How to read this: dots are estimates, bars their 95% intervals"
        if reference is not None:
            how_to_read += "; an interval that does not cross the dotted line is a real difference."
        elif marks:
            how_to_read += f"; dotted marks are each row's {threshold_label}."
        else:
            how_to_read += "; intervals that do not overlap are a real difference."
    _style(ax, title, how_to_read)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    return _finish(fig)


GROUP_COLOURS = [
    PALETTE[k]
    for k in ("black", "orange", "sky", "green", "blue", "vermillion", "purple", "grey", "yellow")
]
GROUP_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h"]


def _natural_groups(frame: pd.DataFrame, by: str) -> list[tuple[object, pd.DataFrame]]:
    """``frame`` split by ``by`` with groups in their natural order (ethnic groups as DfE
    publishes them, age bands by age), so legends read like the tables."""
    from .model import category_rank

    groups = list(frame.groupby(by, sort=True))
    keys = category_rank(pd.Series([g for g, _ in groups], dtype=object))
    order = sorted(range(len(groups)), key=lambda i: keys.iloc[i])
    return [groups[i] for i in order]


def _plain_log_ticks(axis) -> None:
    """Plain numbers (1, 10, 100, 1,000; 2, 5 between) on a log axis, not 10¹ and 10²."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def stage_funnel(rates: pd.DataFrame, title: str, stage_labels: dict[str, str]) -> Figure:
    """Rate per 10,000 children at each stage, one line per group (log scale), each group
    with its own colour and marker."""
    if rates.empty or rates["rate_per_10k"].isna().all():
        return _empty(title, "group large enough to show")
    fig, ax = plt.subplots(figsize=(9, 4.4), dpi=100)
    stages = list(stage_labels)
    for i, (group, f) in enumerate(_natural_groups(rates, "group")):
        f = f.set_index("stage").reindex(stages)
        if f["rate_per_10k"].isna().all():
            continue
        ax.plot(
            range(len(stages)),
            f["rate_per_10k"],
            marker=GROUP_MARKERS[i % 9],
            color=GROUP_COLOURS[i % 9],
            label=str(category_label(group)),
            linewidth=1.4,
        )
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_xticks(range(len(stages)), [stage_labels[s] for s in stages], fontsize=8, rotation=15)
    ax.set_ylabel("Children per 10,000 (log scale)")
    _style(
        ax,
        title,
        "How to read this: each line follows one group from referral to care; "
        "lines that stay apart show a gap that persists, lines that converge one that closes.",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def forest_plot(frame: pd.DataFrame, title: str, row: str = "label") -> Figure:
    """Crude and adjusted ratios with intervals side by side, one row per stage and group,
    on a log scale with the line of no difference at 1. Rows with neither ratio (no
    children, or hidden) are left out; with none left, a figure says so."""
    drawn = frame["rate_ratio"].notna() & frame["lower"].notna()
    if "adjusted_ratio" in frame:
        drawn |= frame["adjusted_ratio"].notna() & frame["adj_lower"].notna()
    f = frame[drawn].reset_index(drop=True)
    if f.empty:
        return _empty(title, "ratio with enough children to show")
    ys = np.arange(len(f))[::-1] * 1.0
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(f) + 1.8), dpi=100)
    for col, lo, hi, dy, colour, marker, lab in (
        ("rate_ratio", "lower", "upper", 0.15, PALETTE["blue"], "o", "Crude"),
        (
            "adjusted_ratio",
            "adj_lower",
            "adj_upper",
            -0.15,
            PALETTE["vermillion"],
            "D",
            "Adjusted for deprivation",
        ),
    ):
        ok = (f[col].notna() & f[lo].notna()).to_numpy()
        mid, low, high = (f.loc[ok, c].to_numpy(dtype=float) for c in (col, lo, hi))
        ax.errorbar(
            mid,
            ys[ok] + dy,
            xerr=[mid - low, high - mid],
            fmt=marker,
            color=colour,
            ecolor=colour,
            capsize=2,
            markersize=4,
            label=lab,
        )
    ax.axvline(1, color=PALETTE["black"], linewidth=1, linestyle=":")
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ticks = [0.125, 0.25, 0.5, 1, 2, 4, 8]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_yticks(ys, f[row], fontsize=8)
    ax.set_xlabel("Rate ratio against the reference group (log scale)")
    _style(
        ax,
        title,
        "How to read this: right of the dotted line is over-representation; "
        "a bar that crosses it is not a clear difference.",
    )
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def trend_chart(
    frame: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    title: str,
    ylabel: str,
    reference: float | None = 1.0,
    how_to_read: str | None = None,
) -> Figure:
    """A value over periods (or stages), one line per group; ``reference`` draws a dotted
    parity line, and the caption mentions it only when drawn."""
    if frame.empty or frame[y].isna().all():
        return _empty(title, "group large enough to show")
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=100)
    for i, (g, f) in enumerate(_natural_groups(frame, group)):
        ax.plot(
            f[x].astype(str),
            f[y],
            marker=GROUP_MARKERS[i % 9],
            color=GROUP_COLOURS[i % 9],
            label=str(category_label(g)),
        )
    if reference is not None:
        ax.axhline(reference, color=PALETTE["black"], linewidth=1, linestyle=":")
    ax.set_ylabel(ylabel)
    if how_to_read is None:
        how_to_read = (
            "How to read this: each line is one group's ratio to the reference "
            "group in that year; the dotted line is parity."
            if reference is not None
            else "How to read this: each line follows one group; lines that stay apart "
            "show a gap that persists."
        )
    _style(ax, title, how_to_read)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def incidence_chart(curves: pd.DataFrame, title: str, horizon_days: int = 365 * 3) -> Figure:
    """Cumulative incidence of each outcome over days since entering care (step lines)."""
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    for i, (name, f) in enumerate(curves.groupby("outcome", sort=False)):
        f = f[f["days"] <= horizon_days]
        ax.step(
            f["days"],
            f["incidence"],
            where="post",
            color=GROUP_COLOURS[(i + 1) % 9],
            linestyle=["-", "--", "-.", ":"][i % 4],
            label=str(category_label(name)).replace("_", " ").capitalize(),
        )
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))  # a share from 0, where the steps start higher
    ax.set_xlabel("Days since entering care")
    ax.set_ylabel("Cumulative share")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _style(
        ax,
        title,
        "How to read this: each line is the share of children who have left care "
        "(or been matched) by that route by each day; the routes compete.",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)


def km_chart(curve: pd.DataFrame, title: str, horizon_days: int = 365 * 3) -> Figure:
    """Kaplan-Meier share achieving permanence, with its 95% band."""
    f = curve[curve["days"] <= horizon_days]
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    ax.step(
        f["days"], f["achieved"], where="post", color=PALETTE["blue"], label="Achieved permanence"
    )
    ax.fill_between(
        f["days"],
        f["lower"],
        f["upper"],
        step="post",
        color=PALETTE["sky"],
        alpha=0.3,
        label="95% interval",
    )
    ax.axvline(365, color=PALETTE["black"], linestyle=":", linewidth=1)
    ax.set_xlabel("Days since entering care")
    ax.set_ylabel("Share achieved")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _style(
        ax,
        title,
        "How to read this: the line rises as children reach permanence; children "
        "still in care count until the period end and then drop out of the estimate (censoring).",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _finish(fig)
