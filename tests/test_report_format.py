"""Tables and charts read like a report: human headers, rounded numbers, words not NaN."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit_lib import charts, report
from audit_lib.model import category_label, category_rank, column_label
from audit_lib.nbclean import clean_notebook


def test_format_table_labels_rounds_and_names_blanks():
    f = pd.DataFrame(
        {
            "stage": ["cp_plan", "cp_plan", "cp_plan"],
            "group": ["white_british", "black", "white_other"],
            "population": [39428.0, 8000.0, 5000.0],
            "rate_per_10k": [41.23456, 90.0, np.nan],
            "rate_ratio": [1.0, 2.1849, np.nan],
            "lower": [np.nan, 1.5, np.nan],
            "upper": [np.nan, 3.14159, np.nan],
            "p_adjusted": [np.nan, 0.0000001, 0.5678],
            "median_days": [320.0, np.inf, np.nan],
        }
    )
    out = report.format_table(f)
    assert list(out.columns) == [
        "Stage",
        "Group",
        "Population under 18",
        "Rate per 10,000",
        "Rate ratio",
        "95% CI",
        "p-value (adjusted)",
        "Median days",
    ]
    # natural order: White British, White Other, Black
    assert out["Group"].tolist() == ["White British", "White Other", "Black"]
    assert out["Stage"].iloc[0] == "Child Protection Plan"
    black = out.iloc[2]
    assert black["Population under 18"] == "8,000"
    assert black["Rate per 10,000"] == "90.0"
    assert black["Rate ratio"] == "2.18"
    assert black["95% CI"] == "1.50 to 3.14"
    assert black["p-value (adjusted)"] == "< 0.001"
    assert black["Median days"] == "not reached"  # inf
    ref = out.iloc[0]
    assert ref["95% CI"] == "reference group" and ref["p-value (adjusted)"] == "reference group"
    other = out.iloc[1]
    assert other["p-value (adjusted)"] == "0.568"
    assert other["Rate ratio"] == "no children"
    assert other["Median days"] == "not reached"
    text = out.to_string()
    for bad in ("nan", "NaN", "inf", "None", "0.000000"):
        assert bad not in text


def test_a_blank_note_is_left_blank_whatever_its_case():
    """The timeliness table's "Note" column (set when some timescale is not available)
    said "not available" beside every timescale that was available."""
    from audit_lib.measures import timeliness as T

    summary = pd.DataFrame(
        {
            "measure": ["assessment_45wd"] * 2,
            "window": ["month", "rolling_12m"],
            "numerator": [40, 400],
            "denominator": [50, 500],
            "value": [0.8, 0.8],
            "lower": [0.7, 0.76],
            "upper": [0.9, 0.84],
            "median_days": [30.0, 31.0],
            "p90_days": [50.0, 52.0],
            "completed": [45, 450],
            "open_overdue": [7, 7],
            "open_due_soon": [9, 9],
        }
    )
    t = T.summary_table(summary, {"cp_review": "not available: needs cp_reviews"})
    out = report.format_table(t).set_index("Timescale")["Note"]
    assert out.iloc[0] == ""  # assessments: available
    assert out.iloc[2] == "not available: needs cp_reviews"
    # a measured timescale with no item due in a window has 0 items there, not "not
    # available" (a 500-child cut: no assessment fell due in October 2026)
    items = report.format_table(t).set_index("Timescale")["Month: items"]
    assert items.iloc[0] == "50" and items.iloc[1] == "0"  # ICPCs: measured, none due
    assert items.iloc[2] == "not available"  # CP reviews: not measured for this data


def test_format_table_keeps_suppressed_intervals_and_formatted_columns():
    f = pd.DataFrame({"share": ["c", "12.0%"], "lower": ["c", "10.0%"], "upper": ["c", "14.0%"]})
    out = report.format_table(f, formatted=("share", "lower", "upper"))
    assert out["95% CI"].tolist() == ["c", "10.0% to 14.0%"]
    assert list(out.columns) == ["Share", "95% CI"]


def test_age_bands_sort_by_age_not_text():
    v = pd.Series(["16-17", "10-15", "0-4", "5-9"])
    assert v.iloc[np.argsort(category_rank(v).to_numpy(), kind="stable")].tolist() == [
        "0-4",
        "5-9",
        "10-15",
        "16-17",
    ]
    f = pd.DataFrame({"age_at_entry": ["10-15", "under 1", "1-4", "5-9"], "n": [1, 2, 3, 4]})
    assert report.format_table(f).iloc[:, 0].tolist() == ["Under 1", "1-4", "5-9", "10-15"]
    f = pd.DataFrame({"group": ["black|10-15", "black|0-4", "white_british|5-9"], "n": [7, 8, 9]})
    out = report.format_table(f)
    assert out.iloc[:, 0].tolist() == ["White British, 5-9", "Black, 0-4", "Black, 10-15"]


def test_labels_come_from_one_map():
    assert column_label("rate_per_10k") == "Rate per 10,000"
    assert column_label("rows_read") == "Rows read"
    assert column_label("Month: in time") == "Month: in time"
    assert category_label("white_british") == "White British"
    assert category_label("some free text") == "some free text"


@pytest.mark.parametrize("n, text", [(0, "0 fields"), (1, "1 field"), (8, "8 fields")])
def test_plural(n, text):
    assert report.plural(n, "field") == text
    assert report.plural(2, "child", "children") == "2 children"


def test_every_chart_carries_alt_text_stating_its_title_and_a_caption_saying_how_to_read_it():
    f = pd.DataFrame(
        {"item": ["A", "B"], "value": [0.5, 0.6], "lower": [0.4, 0.5], "upper": [0.6, 0.7]}
    )
    fig = charts.interval_chart(f, "item", "B is highest")
    assert fig.alt_text == "B is highest."
    assert fig.how_to_read.startswith("How to read this: dots are estimates")
    assert "dotted" not in fig.how_to_read  # no reference line drawn, none mentioned
    assert not [t for t in fig.texts if "How to read" in t.get_text()]  # not in the image
    html = report.figure_html(fig)
    assert 'alt="B is highest."' in html and "data:image/png;base64," in html
    assert html.endswith(
        "<figcaption>How to read this: dots are estimates, bars their 95% intervals; "
        "intervals that do not overlap are a real difference.</figcaption></figure>"
    )
    fig = charts.interval_chart(f, "item", "t", reference=0.5)
    assert "dotted line" in fig.how_to_read
    f["threshold"] = [0.55, 0.65]
    fig = charts.interval_chart(f, "item", "t", thresholds="threshold")
    assert "dotted marks" in fig.how_to_read
    fig = charts.interval_chart(f, "item", "t", how_to_read="<b>Read</b> me")
    assert "<figcaption>&lt;b&gt;Read&lt;/b&gt; me</figcaption>" in report.figure_html(fig)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_a_long_caption_leaves_the_chart_its_own_width():
    """The "how to read this" line drawn into the image made SPC charts up to 1,481 px
    wide, printed at 60%; as a caption, the image is the chart's own size."""
    import base64
    import re
    import struct

    s = pd.DataFrame(
        {"month": [f"2026-{m:02d}" for m in range(1, 13)], "value": np.linspace(0.7, 0.8, 12)}
    )
    fig = charts.spc_chart(s, "t", target=0.9, reference=(0.85, "England 2024-25"))
    assert len(fig.how_to_read) > 150
    png = base64.b64decode(re.search(r"base64,([^\"]+)", report.figure_html(fig)).group(1))
    width, height = struct.unpack(">II", png[16:24])
    assert 800 < width <= 1050 and height < 400, (width, height)


def test_spc_chart_draws_target_and_says_so():
    s = pd.DataFrame(
        {"month": [f"2026-{m:02d}" for m in range(1, 13)], "value": np.linspace(0.7, 0.8, 12)}
    )
    fig = charts.spc_chart(s, "t", target=0.9)
    assert "target (90%)" in fig.how_to_read
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "Target" in labels
    fig = charts.spc_chart(s, "t")
    assert "target" not in fig.how_to_read
    import matplotlib.pyplot as plt

    plt.close("all")


def test_spc_chart_leaves_a_month_the_tables_hide_as_a_gap():
    """A 200-child cut plotted October 2026 at 0% of 2 assessments beside "c" in the
    table: a point's share and its month's items give the count back. Such a month is a
    gap (not 0), unmarked even where it signals; the mean and limits are as before."""
    import matplotlib.pyplot as plt

    from audit_lib.stats import spc_rules

    num = np.array([40, 41, 39, 42, 40, 38, 41, 40, 39, 42, 3, 0, 0])
    den = np.array([50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 4, 2, 40])
    s = pd.DataFrame(
        {
            "month": [f"2026-{m:02d}" for m in range(1, 14)],
            "numerator": num,
            "denominator": den,
            "value": num / den,
        }
    )
    fig = charts.spc_chart(s, "t", suppress_max=5)
    ax = fig.axes[0]
    line = next(x for x in ax.get_lines() if x.get_label() == "Monthly value")
    y = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(y[[10, 11]]).all()  # 3 of 4 (1 late) and 0 of 2: gaps, not 0
    assert y[12] == 0 and np.allclose(y[:10], s["value"][:10])  # 0 of 40 is a true zero
    rules = spc_rules(s["value"].to_numpy())  # limits from every month, as before
    levels = {round(x.get_ydata()[0], 9) for x in ax.get_lines()[1:]}
    assert {round(rules[c].iloc[0], 9) for c in ("centre", "lower", "upper")} <= levels
    marked = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    assert rules.loc[11, "signal"] == "concern" and 11 not in marked and 12 in marked
    assert "A gap is a month not shown (c)" in fig.how_to_read
    from audit_lib.check import page_problems

    assert page_problems(f"<html><body>{report.figure_html(fig)}</body></html>") == []
    off = charts.spc_chart(s, "t", suppress_max=0)  # suppression off: every month drawn
    y = next(x for x in off.axes[0].get_lines() if x.get_label() == "Monthly value").get_ydata()
    assert not np.isnan(np.asarray(y, dtype=float)).any() and "gap" not in off.how_to_read
    plain = charts.spc_chart(s[["month", "value"]], "t")  # no counts: nothing to hide
    assert "gap" not in plain.how_to_read
    few = charts.spc_chart(s.iloc[10:12], "t")  # every month hidden: no lines alone
    assert "no month with enough items to show its share" in few.alt_text
    plt.close("all")


def _run_like(nb, stamp: str, address: str):
    """What an execution leaves in a notebook: timings, versions, addresses."""
    import nbformat

    nb.metadata["papermill"] = {"start_time": stamp, "duration": 1.0}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11." + stamp[-1]}
    for c in nb.cells:
        c.metadata["papermill"] = {"start_time": stamp}
        c.metadata["execution"] = {"iopub.execute_input": stamp}
        c.metadata["tags"] = []
        if c.cell_type == "code":
            c.outputs = [
                nbformat.from_dict(
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": f"<Styler at {address}>", "text/html": "<b>1</b>"},
                    }
                )
            ]
    return nb


def test_clean_notebook_makes_reruns_identical():
    import nbformat

    def fresh():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")]
        nb.cells[0]["id"] = "keep-me"
        del nb.cells[1]["id"]
        return nb

    a = clean_notebook(_run_like(fresh(), "2026-11-22T20:46:56", "0x7f3a11"))
    b = clean_notebook(_run_like(fresh(), "2026-11-23T09:00:01", "0x7fbb22"))
    assert nbformat.writes(a) == nbformat.writes(b)
    text = nbformat.writes(a)
    assert "2026-11" not in text and "0x7f" not in text and "papermill" not in text
    assert a.cells[0]["id"] == "keep-me"  # authors' ids survive
    html = json.loads(text)["cells"][1]["outputs"][0]["data"]["text/html"]
    assert "".join(html) == "<b>1</b>"


def test_every_cli_option_has_help_with_its_default():
    import argparse

    from audit_lib.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (name, action.dest)
            if action.option_strings and not action.required:
                assert "default" in sub._get_formatter()._get_help_string(action), (
                    name,
                    action.dest,
                )
        assert "(default: data/synthetic)" in " ".join(text.split()) or name in (
            "validate",
            "import",
            "notebooks",
            "check",
            "comparators",
        )


def test_validate_findings_wrap_to_100_columns_at_word_boundaries():
    from audit_lib.load import _finding_lines

    words = "the referral date is after the extract date of the data so it cannot be right"
    f = pd.DataFrame(
        {
            "table": ["referrals"],
            "column": ["referral_date"],
            "check": ["date after extract"],
            "severity": ["error"],
            "rows": [1234],
            "message": [words + " " + words],
            "examples": ["line 2: 2031-01-01, line 9: 2030-05-05, " * 5],
        }
    )
    lines = _finding_lines(f, 100)
    assert max(len(line) for line in lines) <= 100
    body = " ".join(line.strip() for line in lines)
    assert words + " " + words in body  # whole words, in order, nothing cut
    assert "1,234 rows" in body


def test_pages_show_no_raw_reprs_or_warnings():
    import nbformat

    from audit_lib.check import scrub_notebook

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("record_all(x)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="FutureWarning: ..."),
        nbformat.v4.new_output("stream", name="stdout", text="shown"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "{'a.b.c': 1}"}),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>t</b>", "text/plain": "t"}),
    ]
    nb.cells = [cell]
    warned, raw = scrub_notebook(nb)
    kept = nb.cells[0].outputs
    assert [o.get("name", o["output_type"]) for o in kept] == ["display_data"]
    assert len(raw) == 2 and any("FutureWarning" in w for w in warned)


def test_spc_title_names_the_month_it_quotes():
    from audit_lib.measures.timeliness import spc_title

    months = [f"2026-{m:02d}" for m in range(1, 10)]  # nothing fell due in October
    s = pd.DataFrame({"month": months, "value": [0.8, 0.7, 0.9, 0.8, 0.75, 0.85, 0.8, 0.7, 1.0]})
    s = s.assign(denominator=100, numerator=(s["value"] * 100).round())
    title = spc_title(s, "ICPCs within 15 working days", "2026-10")
    assert "September 2026 at 100%" in title and "none due in October 2026" in title
    assert "October 2026 at" not in title
    last = {"month": ["2026-10"], "value": [0.9], "numerator": [90], "denominator": [100]}
    s = pd.concat([s, pd.DataFrame(last)])
    assert "October 2026 at 90%" in spc_title(s, "ICPCs", "2026-10")


def test_the_time_to_permanence_caption_censors_at_the_period_end_not_today():
    """A report on last year's return is not censored at today: the caption said
    "children still in care count until today"."""
    import matplotlib.pyplot as plt

    curve = pd.DataFrame(
        {"days": [0, 100, 400], "achieved": [0, 0.2, 0.5], "lower": [0, 0.1, 0.4]}
    ).assign(upper=[0, 0.3, 0.6])
    fig = charts.km_chart(curve, "t")
    assert "today" not in fig.how_to_read and "until the period end" in fig.how_to_read
    plt.close("all")


def test_headline_lists_keep_acronyms_as_written():
    """The timeliness headline said "cp reviews on time 90%; ... cp visits on time 88%",
    and the summary "(... as annex a gives)"."""
    from audit_lib import indicators
    from audit_lib.measures import timeliness as T

    assert report.lower_first("CP reviews on time") == "CP reviews on time"
    assert report.lower_first("Looked-after visits") == "looked-after visits"
    summary = pd.DataFrame(
        {
            "measure": ["cp_review", "cla_visit"],
            "window": "rolling_12m",
            "numerator": [711, 6415],
            "denominator": [791, 7052],
            "value": [711 / 791, 6415 / 7052],
            "open_overdue": 0,
            "open_due_soon": 0,
        }
    )
    text = " ".join(T.findings(summary, summary.iloc[:0], summary.iloc[:0], "2026-10"))
    assert "CP reviews on time 90%; looked-after visits on time 91%" in text
    why = "not available: needs a history of cp_reviews (as Annex A gives)"
    from audit_lib.needs import not_available

    table = indicators.indicator_table({"timeliness.cp_review.month": not_available(why)})
    lines = indicators.findings(table, "2026-10")
    assert any("as Annex A gives" in line for line in lines), lines


def test_a_very_long_name_cannot_stretch_a_table():
    """A 3,000-character team name without a space made its table thousands of pixels
    wide (a sliver when printed); it is cut to 40 characters as chart labels are, and
    ordinary names, numbers and words stay whole."""
    from audit_lib.report import format_table

    frame = pd.DataFrame({"team": ["L" * 3000, "North East", "x" * 40], "count": [12, 30, 7]})
    out = format_table(frame)
    assert out.iloc[0, 0] == "L" * 39 + "\u2026"
    assert out.iloc[1:, 0].tolist() == ["North East", "x" * 40]
    assert out.iloc[:, 1].tolist() == ["12", "30", "7"]


def test_a_long_name_is_cut_as_shown_not_inside_its_escaped_characters():
    """Tables are cut after HTML escaping: an entity counted as up to six characters
    and could be cut through ("aaaa'''..." showed "&#x…"), and a name of apostrophes
    was cut to far fewer than 40 characters. A shown character counts once."""
    import lxml.html

    names = ["aaaa" + "'" * 40, "O'Brien-" * 6, "a<b>" * 12, "x" * 40]
    html = report.styled_table(pd.DataFrame({"team": names}), uuid="t").to_html()
    shown = [td.text_content() for td in lxml.html.fromstring(html).iter("td")]
    assert shown == [*(n[:39] + "\u2026" for n in names[:3]), "x" * 40]
