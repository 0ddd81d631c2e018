"""The pages a run writes: each notebook's self-contained HTML page inside the
project's page shell (``templates/page.html.j2``, ``style.css``), the period's index,
and ``reports/index.html`` with every period and the headline indicators' sparklines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import __version__
from .indicators import INDICATORS, headline_line
from .report import fmt_pct, month_label, plural

if TYPE_CHECKING:
    from .run import NotebookResult

__all__ = ["SUMMARY", "notebook_body", "period_index", "render_page", "sparkline", "top_index"]

#: The summary notebook's name: first in every index, linked from every page.
SUMMARY = "summary"


def _env():
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(["html", "j2"]))
    return env


def _template(name: str) -> str:
    return files("audit_lib").joinpath("templates", name).read_text()


def _css() -> str:
    return _template("style.css")


_EXPORTER: list = []  # one nbconvert exporter per process: its templates load once


def notebook_body(nb) -> str:
    """The notebook's outputs as HTML: no input, no prompts (nbconvert ``basic``)."""
    import warnings

    from nbconvert import HTMLExporter

    warnings.filterwarnings("ignore", message="Your element with mimetype")
    if not _EXPORTER:
        exporter = HTMLExporter(template_name="basic")
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        exporter.exclude_markdown = False
        _EXPORTER.append(exporter)
    body, _ = _EXPORTER[0].from_notebook_node(nb)
    return body


def print_header_css(text: str) -> str:
    """``@page`` rules that print ``text`` (the report and period) at the top of every
    printed page and "page n of m" at the bottom. Only letters, digits and plain
    punctuation reach the CSS string, so no data can break out of it."""
    import re

    safe = re.sub(r"[^\w ,.:;()'·–-]", "", text)
    return (
        '@page { @top-left { content: "' + safe + '"; font-size: 9pt; color: #555; } '
        '@bottom-right { content: "Page " counter(page) " of " counter(pages); '
        "font-size: 9pt; color: #555; } }"
    )


def warm_exporter() -> None:
    """Load nbconvert's templates and Markdown renderer once, before the first page."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# warm *up*"), nbformat.v4.new_code_cell("1")]
    notebook_body(nb)


def render_page(
    title: str,
    body: str,
    period: str,
    data_name: str,
    status: str,
    banner: str = "",
    suppress_max: int = 5,
) -> str:
    from markupsafe import Markup

    words = {"ok": "Complete", "failed": "Failed", "skipped": "Not available"}
    return (
        _env()
        .from_string(_template("page.html.j2"))
        .render(
            title=title,
            body=Markup(body),
            css=Markup(_css()),
            print_css=Markup(print_header_css(f"{title} · {month_label(period)}")),
            period_label=month_label(period),
            data_name=data_name,
            status=status,
            status_word=words.get(status, status),
            banner=banner,
            nav=[("Index", "index.html"), ("Summary", f"{SUMMARY}.html")],
            version=__version__,
            generated=datetime.now(UTC).strftime("%d %B %Y %H:%M UTC"),
            suppress_max=suppress_max,
        )
    )


def period_index(folder: Path, period: str, results: list[NotebookResult], out: Path) -> Path:

    order = {SUMMARY: 0, "data_quality": 1}
    reports = []
    for r in sorted(results, key=lambda r: (order.get(r.name, 2), r.name)):
        reports.append(
            {
                "href": f"{r.name}.html",
                "title": r.title,
                "status": r.status,
                "status_word": {"ok": "Complete", "failed": "Failed", "skipped": "Not available"}[
                    r.status
                ],
                "error": (f"cell {r.cell}: " if r.cell else "") + r.error
                if r.status != "ok"
                else "",
                "seconds": f"{r.seconds:.1f} s" if r.seconds else "",
                "headlines": headline_line(r.metrics, r.name),
            }
        )
    prev = str(pd.Period(period, freq="M") - 1)
    nav = [("All periods", "../index.html")]
    if (out / prev / "index.html").exists():
        nav.append((f"Previous: {month_label(prev)}", f"../{prev}/index.html"))
    return _write_index(
        folder / "index.html",
        title=f"Monthly audit: {month_label(period)}",
        subtitle="Start with the summary; read the data-quality page before sending figures on.",
        reports=reports,
        nav=nav,
    )


def _write_index(path: Path, **context) -> Path:
    """Render ``index.html.j2`` with ``context`` (and the shell's style, version and
    time of writing) to ``path``."""
    from markupsafe import Markup

    html = (
        _env()
        .from_string(_template("index.html.j2"))
        .render(
            **context,
            css=Markup(_css()),
            version=__version__,
            generated=datetime.now(UTC).strftime("%d %B %Y %H:%M UTC"),
        )
    )
    path.write_text(html)
    return path


def sparkline(values: list[float | None], width: int = 120, height: int = 28) -> str:
    """An inline SVG line of the values (None gaps are skipped), with the last point marked."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return ""
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    xy = [(2 + i / n * (width - 4), height - 3 - (v - lo) / span * (height - 6)) for i, v in pts]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    x, y = xy[-1]
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img" '
        f'aria-label="trend"><polyline fill="none" stroke="#0072B2" stroke-width="1.5" '
        f'points="{line}"/><circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#D55E00"/></svg>'
    )


def _share_hidden(entry: dict, run: dict) -> bool:
    """True where a period's pages show ``entry``'s share as "c" (its numerator,
    complement or denominator is 1 to the run's ``suppress_max``)."""
    from .indicators import entry_hidden

    params = [nb.get("parameters") or {} for nb in run.get("notebooks", {}).values()]
    k = next((p["suppress_max"] for p in params if "suppress_max" in p), 5)
    try:
        return entry_hidden(entry, int(k))
    except (TypeError, ValueError):
        return entry_hidden(entry, 5)


def top_index(out: Path) -> Path:
    """reports/index.html: every period run, with sparklines of the headline indicators."""
    from markupsafe import Markup

    periods = []
    for p in sorted(out.glob("*/metrics.json")):
        try:
            periods.append(json.loads(p.read_text()))
        except json.JSONDecodeError:
            continue
    periods.sort(key=lambda m: m.get("period", ""))
    rows, spark = [], []
    for m in reversed(periods):
        nbs = m.get("notebooks", {})
        ok = sum(1 for v in nbs.values() if v.get("status") == "ok")
        rows.append(
            {
                "href": f"{m['period']}/index.html",
                "label": month_label(m["period"]),
                "summary": f"{ok} of {len(nbs)} complete",
                "cells": [],
            }
        )
    for ind in INDICATORS:
        entries = [m.get("metrics", {}).get(f"{ind.key}.rolling_12m", {}) for m in periods]
        vals = [e.get("value") for e in entries]
        if any(v is not None for v in vals):
            # a share its period's pages hide ("c") is neither drawn nor quoted
            shown = [
                None if _share_hidden(e, m) else v
                for e, m, v in zip(entries, periods, vals, strict=True)
            ]
            last = max(i for i, v in enumerate(vals) if v is not None)
            latest = "c" if shown[last] is None else fmt_pct(vals[last])
            spark.append({"label": ind.label, "svg": Markup(sparkline(shown)), "latest": latest})
    return _write_index(
        out / "index.html",
        title="Monthly audits",
        subtitle=f"{plural(len(periods), 'period')} run",
        periods=rows,
        trend_labels=[],
        sparklines=spark,
        nav=[],
    )
