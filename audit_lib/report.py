"""Display helpers for notebooks: periods, headline findings and styled tables.

Notebooks hold narrative and calls only; formatting rules (percentages, small-number
suppression, fixed Styler uuids so re-runs are stable) live here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from . import disclosure
from .disclosure import SUPPRESSED, fmt_count  # noqa: F401  (fmt_count: re-exported)
from .model import column_label

__all__ = [
    "fmt_pct",
    "format_table",
    "headlines",
    "plural",
    "resolve_period",
    "sentence",
    "show_figure",
    "styled_table",
]


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


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` with the right noun: ``plural(1, "field")`` is "1 field", ``plural(8, "field")``
    "8 fields"; ``many`` for irregular plurals (``plural(2, "child", "children")``)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


#: Text for a blank cell, by column; other columns say "not available".
MISSING_TEXT: dict[str, str] = {
    "median_days": "not reached",
    "median_lower": "not reached",
    "median_upper": "not reached",
    "rate_ratio": "no children",
    "representation_index": "no children",
    "decision_ratio": "no children",
    "per_100_previous": "no children",
    "note": "",  # nothing to note: left blank
    "Note": "",
    "label": "no clear difference",  # disproportionality: neither over nor under
    "Target": "none set",  # summary: a target is a local choice, not every indicator has one
}
#: Decimals for float columns by name; p-values print as "< 0.001" or to 3 places.
DECIMALS: dict[str, int] = {
    "population": 0,
    "per_100_referred": 1,
    "rate_per_10k": 1,
    "per_100_previous": 1,
    "rate_ratio": 2,
    "representation_index": 2,
    "decision_ratio": 2,
    "adjusted_ratio": 2,
    "crude_ratio": 2,
    "mean_grade": 2,
    "mean_difference": 2,
    "coef": 3,
    "std_err": 3,
}
#: Tables up to this many rows print whole (CSS ``table.keep-whole``); longer ones split
#: between rows, repeating their header.
KEEP_WHOLE_ROWS = 25
P_VALUE_COLUMNS = frozenset({"p", "p_value", "p_adjusted", "p_raw"})
#: (lower, upper) column pairs shown as one "a to b" interval column.
INTERVAL_SUFFIXES = (("lower", "upper"), ("_lower", "_upper"), ("dp_lower", "dp_upper"))


def fmt_p(p: float) -> str:
    """A p-value for a report: "< 0.001" below 0.001, else three decimals."""
    if pd.isna(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_number(x: object, digits: int | None = None) -> str:
    """A number for a report: integers with thousands separators, floats to ``digits``
    places (default: 0 when whole, else 2), blank for NaN, "not reached" for infinity."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return "Yes" if x else "No"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        if np.isinf(x):
            return "not reached" if x > 0 else "not available"
        if digits is None:
            digits = 0 if float(x).is_integer() else 2
        return f"{x:,.{digits}f}"
    return str(x)


def _interval_pairs(columns: list[str]) -> list[tuple[str, str, str]]:
    """(lower, upper, label) for every pair of interval columns present."""
    pairs = []
    cols = set(columns)
    for c in columns:
        for lo, hi in INTERVAL_SUFFIXES:
            if c.endswith(lo) and c[: len(c) - len(lo)] + hi in cols:
                stem = c[: len(c) - len(lo)]
                head = stem.rstrip("_")
                head = column_label(head) if head and head != "dp" else ""
                pairs.append((c, stem + hi, f"{head}, 95% CI" if head else "95% CI"))
                break
    return pairs


def format_table(
    frame: pd.DataFrame,
    formatted: tuple[str, ...] = (),
    decimals: tuple[str, ...] = (),
    hide: tuple[str, ...] = (),
    missing: dict[str, str] | None = None,
    order: bool = True,
) -> pd.DataFrame:
    """A report-ready copy of ``frame``: every cell text, every header a human label.

    - headers from ``model.column_label`` (one label map, in the model);
    - category values (ethnic groups, stages, sexes, plans) named by
      ``model.category_label``; rows in their natural order when ``order`` (age bands by
      age, groups as DfE publishes them), sorting by each category column in turn;
    - integers with thousands separators; ``decimals`` columns to 0 places, known rates
      and ratios to ``DECIMALS``; p-values as "< 0.001";
    - each lower/upper pair as one "1.5 to 3.1" interval column;
    - blank, NaN and infinite cells as words (``MISSING_TEXT``, ``missing``), never
      "nan", "inf" or "None".

    ``formatted`` columns are already text (counts, percentages): only relabelled.
    """
    from .model import category_label, category_rank, is_category

    words = {**MISSING_TEXT, **(missing or {})}
    f = frame.drop(columns=[c for c in hide if c in frame.columns]).copy()
    if order and len(f) > 1:
        keys = []
        for c in f.columns:
            if c in formatted or (f[c].dtype.kind not in "OU" and str(f[c].dtype) != "string"):
                continue
            known = f[c].map(is_category)
            if known.mean() >= 0.5:
                ranks = category_rank(f[c])
                keys.append(ranks.map({r: i for i, r in enumerate(sorted(set(ranks)))}))
        if keys:
            f = f.iloc[np.lexsort([k.to_numpy() for k in reversed(keys)])]
    # the reference group's own row: ratio exactly 1, no interval or test, by definition
    reference = pd.Series(False, index=f.index)
    for ratio, lo in (("rate_ratio", "lower"), ("decision_ratio", "dp_lower")):
        if ratio in f and lo in f:
            reference |= f[ratio].eq(1.0) & f[lo].isna()
    out = pd.DataFrame(index=f.index)
    for c in f.columns:
        col = f[c]
        if c in formatted:
            text = col.astype(object).where(col.notna(), "")
        elif c in P_VALUE_COLUMNS:
            text = col.map(fmt_p)
        elif col.dtype.kind in "fiub" or str(col.dtype) in ("Int64", "Float64", "boolean"):
            digits = 0 if c in decimals else DECIMALS.get(c)
            text = col.astype(object).map(lambda v, d=digits: fmt_number(v, d))
        else:
            text = (
                col.astype(object)
                .map(category_label)
                .map(
                    lambda v: (
                        ""
                        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                        else str(v)
                    )
                )
            )
            text = disclosure.shorten_words(text.astype(str))
        out[c] = text.astype(object)
    labels: dict[str, str] = {}  # interval columns: "__<lower>" -> "..., 95% CI"
    for lo, hi, label in _interval_pairs(list(out.columns)):
        a, b = out[lo], out[hi]
        both = (a != "") & (b != "")
        joined = (a + " to " + b).where(both, "")
        same_word = both & (a == b) & ~a.str[:1].str.isdigit()
        joined = joined.where(~same_word, a)  # "not reached", not "not reached to not reached"
        joined = joined.where(~((a == SUPPRESSED) | (b == SUPPRESSED)), SUPPRESSED)
        pos = list(out.columns).index(lo)
        out = out.drop(columns=[lo, hi])
        out.insert(pos, f"__{lo}", joined)
        labels[f"__{lo}"] = label
    for c in out.columns:
        blank = out[c] == ""
        if blank.any():
            key = c[2:] if c.startswith("__") else c
            out.loc[blank, c] = words.get(key, "not available")
            if key in (*P_VALUE_COLUMNS, "lower", "dp_lower", "label"):
                out.loc[blank & reference, c] = "reference group"
    out.columns = [labels.get(c, column_label(c)) for c in out.columns]
    return out.reset_index(drop=True)


def lower_first(text: str) -> str:
    """``text`` to follow other words in a sentence: its first letter lower-cased unless
    it begins an acronym ("CP reviews", "ICPCs" and "Annex A" inside stay as written)."""
    text = str(text)
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


def sentence(text: str) -> str:
    """``text`` as a sentence: first letter capitalised (the rest as written), full stop."""
    text = str(text).strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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
    formatted = [*counts, *percent]
    for c in hidden.columns:
        if c not in f or not hidden[c].any():
            continue
        if c not in formatted:
            if f[c].dtype.kind in "fiub":  # a rate hidden with its numerator: format first
                d = 0 if c in decimals else DECIMALS.get(c)
                f[c] = f[c].astype(object).map(lambda v, d=d: fmt_number(v, d))
            formatted.append(c)
        f[c] = f[c].astype(object).where(~hidden[c].to_numpy(), SUPPRESSED)
    f = format_table(f, formatted=tuple(formatted), decimals=decimals, hide=hide)
    sty = f.style.set_uuid(uuid).hide(axis="index")
    if len(f) <= KEEP_WHOLE_ROWS:  # print: a short table is never split across pages
        sty = sty.set_table_attributes('class="keep-whole"')
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


def figure_html(fig, alt: str | None = None, caption: str | None = None) -> str:
    """A figure as an ``<img>`` with alt text and the PNG inline (no external file),
    and a caption under it.

    ``alt`` defaults to the text the chart function recorded (``fig.alt_text``: its
    title, which states the finding), so every image on a page says what it shows to a
    screen reader instead of "No description has been provided". ``caption`` defaults
    to the chart's "how to read this" line (``fig.how_to_read``), printed as text so it
    wraps to the page and is read aloud once.
    """
    import base64
    import io
    from html import escape

    import matplotlib.pyplot as plt

    text = alt or getattr(fig, "alt_text", "") or _figure_title(fig)
    caption = caption or getattr(fig, "how_to_read", None)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    below = f"<figcaption>{disclosure.escape_html(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="chart"><img alt="{escape(text, quote=True)}" '
        f'src="data:image/png;base64,{data}">{below}</figure>'
    )


def _figure_title(fig) -> str:
    titles = [ax.get_title(loc="left") or ax.get_title() for ax in fig.axes]
    return next((t for t in titles if t), "Chart")


class _Figure:
    """An embedded chart: HTML (img with alt text) for pages, the alt text as plain text."""

    def __init__(self, html: str, alt: str) -> None:
        self.html, self.alt = html, alt

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.alt


def show_figure(fig, alt: str | None = None) -> None:
    """Display a figure as an embedded PNG with alt text and its "how to read this"
    caption (whatever the backend), and free it; as plain text, the two lines."""
    text = alt or getattr(fig, "alt_text", "") or _figure_title(fig)
    caption = getattr(fig, "how_to_read", None)
    plain = f"{text}\n{caption}" if caption else text
    display(_Figure(figure_html(fig, text, caption), plain))


def note(text: str) -> None:
    """A paragraph of plain text (escaped: names from the data are shown as written)."""
    display(HTML(f"<p style='color:#444'>{disclosure.escape_html(text)}</p>"))
