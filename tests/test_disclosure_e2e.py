"""End to end: a 300-child authority with hostile team, worker and auditor names gives
pages with no small count, staff id, warning, raw output or live markup, worklists with
no live formula, and nothing child-level beside the pages; `audit check` finds each kind
of problem when it is there."""

from __future__ import annotations

import io
import json
import re

import lxml.html
import pandas as pd
import pytest

from audit_lib.check import FORMULA, check, page_problems
from audit_lib.cli import main
from audit_lib.pages import render_page
from audit_lib.run import run

from .conftest import DEFAULT_DATA
from .hostile import HOSTILE_TEAMS, hostile_copy


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, warm_pool):
    data = hostile_copy(DEFAULT_DATA, tmp_path_factory.mktemp("hostile-data"))
    out = tmp_path_factory.mktemp("hostile-reports")
    result = run(data=data, out=out, pool=warm_pool)  # 300 children: one warm kernel
    return result, out, data


def test_hostile_authority_every_page_renders_and_passes_check(hostile_run):
    result, out, data = hostile_run
    assert {n.name: n.status for n in result.notebooks} == dict.fromkeys(
        [
            "data_quality",
            "disproportionality",
            "permanence",
            "plan_quality",
            "summary",
            "timeliness",
        ],
        "ok",
    ), [(n.name, n.error) for n in result.notebooks]
    assert result.disclosure == []
    assert check(result.folder, data_dir=data) == []
    assert main(["check", str(result.folder), "--data", str(data)]) == 0


def test_hostile_names_are_shown_as_text_never_markup(hostile_run):
    result, _, _ = hostile_run
    pages = sorted(result.folder.glob("*.html"))
    seen_escaped = False
    for page in pages:
        raw = page.read_text()
        body = lxml.html.document_fromstring(raw).find("body")
        assert not list(body.iter("script", "iframe")), page.name
        for img in body.iter("img"):  # charts only: embedded PNGs
            assert img.get("src", "").startswith("data:image/png;base64,"), page.name
        assert len(list(body.iter("h1"))) <= 2, page.name  # the page's and the notebook's
        for el in body.iter():
            assert not any(a.startswith("on") for a in el.attrib), page.name
            assert "javascript:" not in str(el.get("href", "")), page.name
        for name in ("<h1>x</h1>", "<script>alert(1)</script>", "<img src=x"):
            assert name not in raw, (page.name, name)
        seen_escaped |= "&lt;h1&gt;x&lt;/h1&gt;" in raw
    assert seen_escaped  # the names do reach the pages, as text


def test_no_staff_id_on_pages_and_a_key_for_analysts(hostile_run):
    result, _, data = hostile_run
    auditors = set(pd.read_csv(data / "case_audits.csv", dtype=str)["auditor_id"].dropna())
    text = " ".join(
        lxml.html.document_fromstring(p.read_text()).find("body").text_content()
        for p in result.folder.glob("*.html")
    )
    assert not re.search(r"AUD\d\d|W\d{4}", text)
    key = pd.read_csv(result.folder / "worklists" / "staff_key.csv", dtype=str)
    # the key holds every auditor, neutralised ("<b>AUD01</b>" is not a formula)
    assert {i for i in key["id"]} >= auditors
    assert key["pseudonym"].str.fullmatch(r"(Auditor|Worker) [A-Z]{3}\d*").all()


def test_worklists_hold_no_live_formula_and_name_the_key(hostile_run):
    result, _, _ = hostile_run
    csvs = sorted((result.folder / "worklists").glob("*.csv"))
    assert len(csvs) >= 3
    hostile_seen = False
    for path in csvs:
        f = pd.read_csv(path, dtype=str, keep_default_na=False)
        for c in f.columns:
            assert not f[c].str.match(FORMULA).any(), (path.name, c)
            hostile_seen |= f[c].str.contains("HYPERLINK|SUM\\(|cmd\\|", regex=True).any()
        assert f["key_fingerprint"].nunique() == 1
        assert "child_id" not in f.columns
        assert (path.stat().st_mode & 0o077) == 0
    assert hostile_seen  # the formulas were there to neutralise
    log = (result.folder / "run.log").read_text()
    fp = pd.read_csv(csvs[0], dtype=str)["key_fingerprint"].iloc[0]
    assert f"fingerprint {fp}" in log


def test_no_child_level_file_beside_the_pages(hostile_run):
    result, out, _ = hostile_run
    problems = [p for p in check(out) if p.rule == "child-level"]
    assert problems == []  # the run's table cache lives in the user cache directory
    assert not any(p.suffix in (".arrow", ".pkl", ".feather") for p in out.rglob("*"))


def test_no_warning_or_raw_output_on_pages(hostile_run):
    result, _, _ = hostile_run
    for page in result.folder.glob("*.html"):
        text = lxml.html.document_fromstring(page.read_text()).find("body").text_content()
        assert "Warning" not in text and "site-packages" not in text, page.name
        assert not re.search(r"\{'[a-z_.]+': ", text), page.name


def test_hostile_names_reach_headline_and_table_escaped():
    # a unit check of the same path without a run: a team name in a headline
    from audit_lib import report

    html = report.styled_table(
        pd.DataFrame({"team": HOSTILE_TEAMS, "audits": range(10, 20)}), uuid="x", counts=("audits",)
    ).to_html()
    assert page_problems(f"<html><body>{html}</body></html>") == []


# --------------------------------------------------------------------------------------
# audit check finds what is there
# --------------------------------------------------------------------------------------


def _page(body: str, suppress_max: int = 5) -> str:
    return render_page("T", body, "2026-10", "data", "ok", suppress_max=suppress_max)


@pytest.mark.parametrize(
    "body, rule",
    [
        ("<ul><li>2 children in care have two or more drift flags</li></ul>", "small-count"),
        ("<p>50% of ICPCs were in time (c of 6)</p>", "small-count"),
        ("<p>5 audits in the last 12 months; 1 moderated.</p>", "small-count"),
        ("<p>In time: 40% (2 of 41)</p>", "small-count"),
        (
            '<table id="T_t"><thead><tr><th>team</th><th>children</th></tr></thead>'
            "<tbody><tr><td>A</td><td>3</td></tr></tbody></table>",
            "small-count",
        ),
        ("<p>Auditors beyond chance: AUD05 (more generous)</p>", "staff-id"),
        ("<pre>{'plan_quality.x': {'numerator': 3}}</pre>", "raw-output"),
        ("<p>{'timeliness.a': {'numerator': 3}}</p>", "raw-output"),
        (
            "<p>/srv/x/.venv/lib/python3.11/site-packages/m/cbook.py:1811: FutureWarning: x</p>",
            "warning",
        ),
        ('<table id="T_t"><tr><td><h1>x</h1></td></tr></table>', "markup"),
        ("<script>alert(1)</script>", "markup"),
        ('<a href="javascript:alert(1)">x</a>', "markup"),
        ('<img src="data:," onerror="alert(1)">', "markup"),
    ],
)
def test_check_rules_catch_each_problem(body, rule):
    rules = {r for r, _ in page_problems(_page(body))}
    assert rule in rules, (body, rules)


def test_check_passes_clean_text():
    body = (
        "<p>In the 12 months to October 2026, 76% of 466 audited cases were graded good or "
        "better (95% CI 72% to 80%). Assessments within 45 working days; 3 or more "
        "placements; grade 1 or 2; Counts from 1 to 5 are shown as c.</p>"
    )
    assert page_problems(_page(body)) == []


def test_footer_never_contradicts_itself():
    assert "Counts from 1 to 5" in _page("", 5)
    zero = _page("", 0)
    assert "1 to 0" not in zero and "No counts are suppressed" in zero


def test_check_folder_csv_and_child_level_files(tmp_path, capsys):
    (tmp_path / "worklists").mkdir()
    (tmp_path / "page.html").write_text(_page("<p>fine</p>"))
    pd.DataFrame({"team": ['=HYPERLINK("x")'], "child_id": ["0000001"]}).to_csv(
        tmp_path / "worklists" / "w.csv", index=False
    )
    (tmp_path / "tables.pkl").write_bytes(b"x")
    (tmp_path / "children.csv").write_text("child_id\n1\n")
    rules = sorted({(f.file, f.rule) for f in check(tmp_path)})
    assert rules == [
        ("children.csv", "child-level"),
        ("tables.pkl", "child-level"),
        ("worklists/w.csv", "child-level"),
        ("worklists/w.csv", "formula"),
    ]
    assert main(["check", str(tmp_path)]) == 1
    assert "do NOT send" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "nope")]) == 2


def test_runner_fails_a_page_that_prints_a_raw_value(tmp_path):
    """A notebook ending on a value fails its page; its warning goes to run.log."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": 'period = None\ndata_dir = "."\noutput_dir = "."\n',
                "outputs": [],
                "execution_count": None,
                "id": "a",
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": 'import warnings\nwarnings.warn("careful: /srv/secret/path.py")\n'
                "{'raw.metric': {'numerator': 3, 'denominator': 40}}",
                "outputs": [],
                "execution_count": None,
                "id": "b",
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    books = tmp_path / "books"
    books.mkdir()
    (books / "raw.ipynb").write_text(json.dumps(nb))
    result = run(data=DEFAULT_DATA, out=tmp_path / "out", notebooks=books, jobs=1)
    r = result.notebooks[0]
    assert r.status == "failed" and "raw value" in r.error and "numerator" not in r.error
    page = (result.folder / "raw.html").read_text()
    assert "numerator" not in page and "careful" not in page and "secret" not in page
    log = (result.folder / "run.log").read_text()
    assert "careful" in log


def _published(page, uuid):
    """A published Styler table read back from the page: its text cells, as a reader
    sees them."""
    from audit_lib.measures import data_quality as DQ
    from audit_lib.model import column_label

    (t,) = pd.read_html(io.StringIO(page), attrs={"id": f"T_{uuid}"}, keep_default_na=False)
    # headers are shown as human labels: name the columns the attack uses as in the code
    raw = (*DQ.ETHNICITY_COUNTS, "share", "rows_read", "rows_kept", "rows_rejected")
    raw = (*raw, "share_rejected", "audits")
    return t.astype(str).rename(columns={column_label(c): c for c in raw})


def _attack(shown: pd.DataFrame, counts, relations, rates=()) -> list:
    """Try to recover every "c" from what is shown: LP bounds over the relations, and
    numerator = rate x denominator (complement = denominator - numerator)."""
    from audit_lib import disclosure as D

    num = shown[list(counts)].apply(
        lambda s: pd.to_numeric(s.str.replace(",", ""), errors="coerce")
    )
    mask = shown[list(counts)].eq("c")
    frame = num.fillna(0)
    pinned = [
        cell
        for cell, (lo, hi) in D.cell_bounds(frame, mask, D._relations(frame, relations)).items()
        if hi - lo < 0.5
    ]
    for rate, n, d in rates:
        for i in range(len(shown)):
            if shown.at[i, rate] != "c" and shown.at[i, d] != "c" and shown.at[i, n] == "c":
                pinned.append((i, n))
    return pinned


def test_recovery_attack_on_the_published_tables(hostile_run):
    """For the tables whose margins are published, solve for each "c" from the page."""
    from audit_lib.measures import data_quality as DQ

    result, _, _ = hostile_run
    dq = (result.folder / "data_quality.html").read_text()
    dp = (result.folder / "disproportionality.html").read_text()
    pq = (result.folder / "plan_quality.html").read_text()
    suppressed = 0
    for page, uuid in ((dq, "dq_ethnicity"), (dp, "dp_not_known")):
        t = _published(page, uuid)
        suppressed += int(t.eq("c").to_numpy().sum())
        assert (
            _attack(
                t, DQ.ETHNICITY_COUNTS, DQ.ETHNICITY_RELATIONS, [("share", "not_known", "children")]
            )
            == []
        )
    t = _published(dq, "dq_counts")
    rel = [("sum", "rows_read", ["rows_kept", "rows_rejected"])]
    assert (
        _attack(
            t,
            ("rows_read", "rows_kept", "rows_rejected"),
            rel,
            [("share_rejected", "rows_rejected", "rows_read")],
        )
        == []
    )
    # grades: a shown share and its count give the total; then one "c" would be the rest
    g = _published(pq, "pq_grades")
    hidden = g["audits"].eq("c")
    assert hidden.sum() != 1
    assert not (g["share"].ne("c") & hidden).any()
    assert suppressed > 0  # the small authority does have small counts to protect


def test_ethnicity_not_known_cannot_be_worked_out_from_the_groups(hostile_run):
    """A stage's children = its groups' children (the rates table) + those whose
    ethnicity is not known: with every group's count shown, a shown stage total gave a
    hidden not-known count back (seen on a 3,000-child borough: 140 referred, groups
    summing to 136, not known "c" = 4). The total is hidden with the not-known count."""
    result, _, _ = hostile_run
    dp = (result.folder / "disproportionality.html").read_text()
    rates = _published(dp, "dp_rates")
    checked = 0
    for page, uuid in (
        (dp, "dp_not_known"),
        ((result.folder / "data_quality.html").read_text(), "dq_ethnicity"),
    ):
        nk = _published(page, uuid)
        for _, row in nk.iterrows():
            groups = rates[rates.iloc[:, 0].str.lower() == row.iloc[0].lower()]
            if not len(groups) or row["children"] == "c":
                continue
            hidden = int(groups["children"].eq("c").sum()) + int(row["not_known"] == "c")
            assert hidden != 1, (uuid, row.iloc[0])  # one unknown in a known sum: pinned
            checked += 1
    assert checked


def test_ethnicity_table_hides_the_stage_total_with_a_small_not_known_count():
    """The 3,000-child case itself: 140 referred, 4 not known, every group shown on the
    rates table; the table shows neither the 4 nor the 140 (nor the share)."""
    from audit_lib.measures import data_quality as DQ

    nk = pd.DataFrame(
        {
            "stage": ["referral", "assessment"],
            "children": [140, 300],
            "refused": [0, 10],
            "not_obtained": [4, 0],
            "missing_or_invalid": [0, 0],
            "not_known": [4, 10],
            "share": [4 / 140, 10 / 300],
            "lower": [0.01, 0.02],
            "upper": [0.07, 0.06],
        }
    )
    html = DQ.ethnicity_table(nk, "t_nk", 5).to_html()
    t = _published(html, "t_nk")
    assert t.loc[0, ["children", "not_known", "share"]].eq("c").all()
    assert t.loc[1, "children"] == "300" and t.loc[1, "not_known"] == "10"
