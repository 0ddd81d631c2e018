"""The monthly run end to end: pages, indexes, metrics.json, failures, skips, browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.pages import sparkline
from audit_lib.run import RunError, notebook_meta, run

from .conftest import CHROMIUM_ARGS, DEFAULT_DATA, ROOT, block_network

ARTIFACTS = ROOT / "reports" / "test-artifacts"


@pytest.fixture
def full_run(default_run):
    """The session's run over the committed borough (conftest), read, never changed."""
    return default_run


def test_run_writes_every_page_index_and_metrics(full_run):
    result, out = full_run
    assert result.ok and result.period == "2026-10"
    folder = out / "2026-10"
    names = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if notebook_meta(p)["monthly"]}
    assert "explore_disproportionality" not in names  # the research workspace is not monthly
    assert not (folder / "explore_disproportionality.html").exists()
    for name in names:
        assert (folder / f"{name}.html").exists() and (folder / f"{name}.ipynb").exists()
        assert (folder / f"{name}.html").stat().st_size < 3e6
    assert (folder / "index.html").exists() and (out / "index.html").exists()
    assert (folder / "run.log").read_text().count(": ok in") == len(names)
    assert list((folder / "worklists").glob("*.csv"))
    # the run's table cache (child-level) lives in the user cache directory, not here
    assert not [p for p in out.rglob("*") if p.suffix in {".pkl", ".arrow", ".feather"}]
    assert not (out / ".cache").exists()
    doc = json.loads((folder / "metrics.json").read_text())
    assert doc["period"] == "2026-10" and set(doc["notebooks"]) == names
    assert all(v["status"] == "ok" for v in doc["notebooks"].values())
    share = doc["metrics"]["timeliness.assessment_45wd.rolling_12m"]
    assert {"numerator", "denominator", "value", "lower", "upper"} <= set(share)
    assert share["lower"] <= share["value"] <= share["upper"]


def test_every_metric_key_is_documented(full_run):
    """docs/metrics.md lists every key (with <stage>/<group> placeholders) and no more."""
    _, out = full_run
    doc = json.loads((out / "2026-10" / "metrics.json").read_text())
    text = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"`([a-z_]+\.[a-z0-9_.<>]+)`", text))
    patterns = {
        d: re.compile(
            "^"
            + re.sub(
                r"<[a-z]+>", "[a-z0-9_]+", re.escape(d).replace("\\<", "<").replace("\\>", ">")
            )
            + "$"
        )
        for d in documented
    }
    produced = set(doc["metrics"])
    unmatched = {k for k in produced if not any(p.match(k) for p in patterns.values())}
    # keys recorded only when a measure is not available do not appear on the synthetic data
    only_when_absent = set(re.findall(r"\| `([a-z_]+\.[a-z0-9_.<>]+)` \| not available \|", text))
    unused = {
        d
        for d, p in patterns.items()
        if d not in only_when_absent and not any(p.match(k) for k in produced)
    }
    assert unmatched == set() and unused == set()


def test_pages_are_self_contained_and_hold_no_child_ids(full_run):
    _, out = full_run
    ids = set(json_ids())
    for page in (out / "2026-10").glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), page.name
        assert "<script" not in html.lower(), page.name  # no require.js, MathJax, CDN
        tokens = set(re.findall(r"\b\d{7}\b", html))
        assert not tokens & ids, f"child ids in {page.name}"


def json_ids() -> list[str]:
    import pandas as pd

    return pd.read_csv(DEFAULT_DATA / "children.csv", dtype=str)["child_id"].tolist()


def test_failure_is_isolated_and_named(tmp_path, warm_pool):
    # a bad parameter makes the timeliness notebook raise; data quality still renders,
    # even in the same worker (one job: the failed notebook's kernel is not reused)
    result = run(
        data=DEFAULT_DATA,
        out=tmp_path,
        only=["timeliness", "data_quality"],
        params=["assessment_clock=bogus"],
        pool=warm_pool,
    )
    status = {n.name: n for n in result.notebooks}
    assert status["data_quality"].status == "ok"
    t = status["timeliness"]
    assert t.status == "failed" and "clock must be" in t.error and t.cell is not None
    index = (tmp_path / "2026-10" / "index.html").read_text()
    assert "Failed" in index and "clock must be" in index
    page = (tmp_path / "2026-10" / "timeliness.html").read_text()
    assert "This report failed in cell" in page and "Traceback" not in page
    assert (
        main(
            [
                "run",
                "--data",
                str(DEFAULT_DATA),
                "--out",
                str(tmp_path),
                "--only",
                "timeliness",
                "-p",
                "assessment_clock=bogus",
            ]
        )
        == 1
    )


def test_missing_table_gives_a_not_available_page(tmp_path, warm_pool):
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA, data)
    (data / "case_audits.csv").unlink()
    result = run(data=data, out=tmp_path / "out", only=["plan_quality"], pool=warm_pool)
    (t,) = result.notebooks
    assert t.status == "skipped" and result.ok
    page = (tmp_path / "out" / "2026-10" / "plan_quality.html").read_text()
    assert "Not available: needs table case_audits" in page


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(RunError, match="data folder not found"):
        run(data=tmp_path / "nope", out=tmp_path)
    with pytest.raises(RunError, match="period must be YYYY-MM"):
        run(period="October", data=DEFAULT_DATA, out=tmp_path)
    with pytest.raises(RunError, match=r"unknown parameter 'colour'; valid: .*assessment_clock"):
        run(data=DEFAULT_DATA, out=tmp_path, params=["colour=blue"])
    assert main(["run", "--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "data folder not found" in err


def test_period_index_links_to_the_previous_period(tmp_path, warm_pool):
    run(period="2026-09", data=DEFAULT_DATA, out=tmp_path, only=["data_quality"], pool=warm_pool)
    run(period="2026-10", data=DEFAULT_DATA, out=tmp_path, only=["data_quality"], pool=warm_pool)
    assert 'href="../2026-09/index.html"' in (tmp_path / "2026-10" / "index.html").read_text()
    top = (tmp_path / "index.html").read_text()
    assert "2026-09/index.html" in top and "2026-10/index.html" in top


def test_sparkline_svg():
    svg = sparkline([0.5, None, 0.7, 0.6])
    assert svg.startswith("<svg") and svg.count(",") == 3 and "circle" in svg
    assert sparkline([None, None]) == ""


def test_top_index_hides_the_shares_its_periods_hide(tmp_path):
    """A 30-child cut's reports/index.html quoted "Audits graded good or better 67%" (2
    of 3) and "Assessments within 45 working days 80%", which its pages show as "c"."""
    from audit_lib.pages import top_index

    def period(p, num, den, **params):
        metrics = {
            "plan_quality.good_or_better.rolling_12m": {
                "numerator": num,
                "denominator": den,
                "value": num / den,
            }
        }
        nbs = {"plan_quality": {"status": "ok", "parameters": params}}
        (tmp_path / p).mkdir()
        (tmp_path / p / "metrics.json").write_text(
            json.dumps({"period": p, "notebooks": nbs, "metrics": metrics})
        )

    period("2026-08", 300, 400)
    period("2026-09", 2, 3)
    period("2026-10", 40, 60, suppress_max=0)  # suppression off for this run
    html = top_index(tmp_path).read_text()
    assert "67%" in html  # 40 of 60, shown: suppression was off
    (tmp_path / "2026-10" / "metrics.json").unlink()
    html = top_index(tmp_path).read_text()
    assert "<td>c</td>" in html and "67%" not in html
    assert html.count(",") >= 1  # the sparkline still draws the shown period


@pytest.mark.browser
def test_reports_in_a_real_browser(full_run):
    """Headless Chromium opens the index and follows every link (DESIGN.md "Testing")."""
    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    assert chromium.exists(), "Debian's chromium is needed: `make test` installs it"
    _, out = full_run
    start = out / "2026-10" / "index.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        outside = block_network(page)
        page.goto(start.as_uri())
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert len(links) >= 4
        seen = set()
        for url in links:
            if url in seen:
                continue
            seen.add(url)
            page.goto(url)
            broken = page.eval_on_selector_all(
                "img", "els => els.filter(i => !(i.complete && i.naturalWidth > 0)).length"
            )
            assert broken == 0, url
            if url.endswith("summary.html"):
                page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)
        browser.close()
    assert outside == [], outside
    assert errors == [], errors
    assert (ARTIFACTS / "summary.png").stat().st_size > 10_000


def test_resolve_period():
    import pandas as pd

    from audit_lib.report import resolve_period

    assert resolve_period(None, pd.Timestamp("2026-11-01")) == "2026-10"
    assert resolve_period(None, pd.Timestamp("2026-01-15")) == "2025-12"
    assert resolve_period(" 2024-03 ", None) == "2024-03"
    for bad in ("October", "2024-13", "2024/03", "24-03"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            resolve_period(bad, None)


def test_full_run_passes_audit_check(full_run):
    """The synthetic borough's pages pass every disclosure rule (docs/disclosure.md)."""
    from audit_lib.check import check

    result, out = full_run
    assert result.disclosure == []
    assert check(result.folder, data_dir=DEFAULT_DATA) == []
    log = (result.folder / "run.log").read_text()
    assert "pseudonym key fingerprint" in log and "audit check:" not in log
    for page in result.folder.glob("*.html"):
        text = page.read_text()
        assert "Warning" not in text and "{'" not in text, page.name


def test_coverage_note_counts_the_months_the_data_cover():
    from audit_lib.run import coverage_note

    start = pd.Timestamp("2021-04-01")
    assert coverage_note("2022-03", start) == ""  # April 2021 to March 2022: all 12
    note = coverage_note("2021-06", start)
    assert "April 2021" in note and "only 3 months of data" in note
    assert "only 1 month of data" in coverage_note("2021-04", start)
    assert coverage_note("2021-06", None) == ""


def test_a_period_early_in_the_data_says_how_much_it_covers(tmp_path, warm_pool):
    result = run(
        data=DEFAULT_DATA,
        out=tmp_path / "r",
        period="2021-06",
        only=["data_quality"],
        pool=warm_pool,
    )
    page = (result.folder / "data_quality.html").read_text()
    assert "hold only 3 months of data" in page
    assert "3 months of data" in (result.folder / "run.log").read_text()
