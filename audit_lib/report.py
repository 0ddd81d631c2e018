"""Display helpers for notebooks: periods, headline findings and styled tables.

Notebooks hold narrative and calls only; formatting rules (percentages, small-number
suppression, fixed Styler uuids so re-runs are stable) live here.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from .disclosure import SUPPRESSED

__all__ = ["fmt_pct", "headlines", "resolve_period", "show_figure", "styled_table"]

NATIONAL = {
    # DfE, Characteristics of children in need, 2025 (ICPC: 2025)
    "assessment_45wd": (0.857, "England 2025"),
    "icpc_15wd": (0.814, "England 2025"),
}


def resolve_period(
    period: str | None, extract_date: pd.Timestamp | None, data_end: pd.Timestamp | None = None
) -> str:
    """The period to report: ``period`` if given (validated YYYY-MM), else the latest
    complete month inside the data: the month ending on the extract date (the data run to
    the end of that day) or else the month before it. ``data_end`` (the latest date in
    the data), where given, is used when earlier than the extract date."""
    if period:
        import re

        m = re.fullmatch(r"(\d{4})-(\d{2})", str(period).strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"period must be YYYY-MM, not {period!r}")
        return f"{m.group(1)}-{m.group(2)}"
    ends = [pd.Timestamp(d) for d in (extract_date, data_end) if d is not None and pd.notna(d)]
    if not ends:
        raise ValueError("no period given and no extract date or data to take it from")
    when = min(ends).normalize()
    month = pd.Period(when, freq="M")
    return str(month if when == month.end_time.normalize() else month - 1)


def month_label(period: str) -> str:
    return pd.Period(period, freq="M").strftime("%B %Y")


def fmt_pct(x: float, digits: int = 0) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}%}"


def fmt_count(n, suppress_max: int = 5) -> str:
    """A count for managers: 1..suppress_max shown as "c" (DfE convention)."""
    if pd.isna(n):
        return ""
    n = int(n)
    return SUPPRESSED if 1 <= n <= suppress_max else f"{n:,}"


def headlines(lines: list[str]) -> None:
    """Show headline findings as a bulleted list."""
    display(Markdown("\n".join(f"- {line}" for line in lines)))


def styled_table(
    frame: pd.DataFrame,
    uuid: str,
    percent: tuple[str, ...] = (),
    counts: tuple[str, ...] = (),
    decimals: tuple[str, ...] = (),
    suppress_max: int = 5,
    caption: str | None = None,
    shares: dict[str, str] | None = None,
    hide: tuple[str, ...] = (),
) -> Styler:
    """A Styler with a fixed uuid: percentages, suppressed counts, no index.

    ``shares`` maps a percentage column to the count that is its numerator: where that
    count is suppressed (1..``suppress_max``), the percentage is shown as "c" too.
    """
    f = frame.copy()
    hidden = {
        pc: frame[nc].between(1, suppress_max).to_numpy() for pc, nc in (shares or {}).items()
    }
    for c in counts:
        f[c] = f[c].map(lambda v: fmt_count(v, suppress_max))
    for c in percent:
        text = f[c].map(lambda v: fmt_pct(v, 1)).astype(object)
        if c in hidden:
            text[hidden[c]] = SUPPRESSED
        f[c] = text
    sty = f.style.set_uuid(uuid).hide(axis="index")
    if hide:
        sty = sty.hide(subset=list(hide), axis="columns")
    fmt = {}
    fmt.update({c: "{:.0f}" for c in decimals})
    sty = sty.format(fmt, na_rep="")
    sty = sty.set_table_styles(
        [
            {"selector": "th", "props": "background:#f0f0f0; text-align:left; padding:4px 8px;"},
            {"selector": "td", "props": "padding:4px 8px; border-bottom:1px solid #e5e5e5;"},
            {
                "selector": "caption",
                "props": "caption-side:top; text-align:left; font-weight:bold;",
            },
        ]
    )
    if caption:
        sty = sty.set_caption(caption)
    return sty


def show_figure(fig) -> None:
    """Display a figure as an embedded PNG (whatever the backend) and free it."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buf.getvalue(), format="png"))


def note(text: str) -> None:
    display(HTML(f"<p style='color:#444'>{text}</p>"))
