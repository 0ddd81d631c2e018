"""Display helpers for notebooks: periods, headline findings and styled tables.

Notebooks hold narrative and calls only; formatting rules (percentages, small-number
suppression, fixed Styler uuids so re-runs are stable) live here.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from . import disclosure
from .disclosure import SUPPRESSED, fmt_count  # noqa: F401  (fmt_count: re-exported)

__all__ = ["fmt_pct", "headlines", "resolve_period", "show_figure", "styled_table"]

NATIONAL = {
    # DfE, Characteristics of children in need, 2025 (ICPC: 2025)
    "assessment_45wd": (0.857, "England 2025"),
    "icpc_15wd": (0.814, "England 2025"),
}


def resolve_period(period: str | None, extract_date: pd.Timestamp | None) -> str:
    """The period to report: ``period`` if given (validated YYYY-MM), else the latest
    complete month before the extract date."""
    if period:
        import re

        m = re.fullmatch(r"(\d{4})-(\d{2})", str(period).strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"period must be YYYY-MM, not {period!r}")
        return f"{m.group(1)}-{m.group(2)}"
    when = extract_date if extract_date is not None else pd.Timestamp.today()
    return str(pd.Period(when, freq="M") - 1)


def month_label(period: str) -> str:
    return pd.Period(period, freq="M").strftime("%B %Y")


def fmt_pct(x: float, digits: int = 0) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}%}"


def headlines(lines: list[str]) -> None:
    """Show headline findings as a bulleted list; each line is escaped (HTML and
    Markdown), so names from the data are shown as written, never rendered."""
    display(Markdown("\n".join(f"- {disclosure.escape_text(line)}" for line in lines)))


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
    relations: tuple[str, ...] | list = (),
    denominators: dict[str, str] | None = None,
    hidden_with: dict[str, str] | None = None,
) -> Styler:
    """A Styler with a fixed uuid: percentages, suppressed counts, no index.

    Suppression goes through :func:`audit_lib.disclosure.protect_table`: counts 1..
    ``suppress_max`` and any cell recoverable from ``relations`` show as "c";
    ``shares`` maps a percentage column to its numerator count column and
    ``denominators`` to its denominator column (the percentage is hidden where either,
    or the complement, is suppressed); ``hidden_with`` hides a column wherever another
    one is. Every string from the data is HTML-escaped.
    """
    hidden = disclosure.protect_table(
        frame, counts, suppress_max, shares, denominators, relations, hidden_with
    )
    f = disclosure.escape_frame(frame.reset_index(drop=True))
    hidden.columns = list(disclosure.escape_frame(hidden).columns)
    counts = tuple(disclosure.escape_html(c) for c in counts)
    percent = tuple(disclosure.escape_html(c) for c in percent)
    hide = tuple(disclosure.escape_html(c) for c in hide)
    decimals = tuple(disclosure.escape_html(c) for c in decimals)
    for c in counts:
        f[c] = f[c].map(lambda v: "" if pd.isna(v) else f"{int(v):,}").astype(object)
    for c in percent:
        f[c] = f[c].map(lambda v: fmt_pct(v, 1)).astype(object)
    for c in hidden.columns:
        if c in f:
            f[c] = f[c].astype(object).where(~hidden[c].to_numpy(), SUPPRESSED)
    sty = f.style.set_uuid(uuid).hide(axis="index")
    if hide:
        sty = sty.hide(subset=list(hide), axis="columns")
    fmt = {}
    fmt.update({c: _whole for c in decimals})
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
        sty = sty.set_caption(disclosure.escape_html(caption))
    return sty


def _whole(v) -> str:
    """A number with no decimals; text (a suppressed "c") as it is."""
    return v if isinstance(v, str) else f"{v:.0f}"


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
    """A paragraph of plain text (escaped: names from the data are shown as written)."""
    display(HTML(f"<p style='color:#444'>{disclosure.escape_html(text)}</p>"))
