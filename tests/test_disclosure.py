"""The disclosure layer: suppression that cannot be undone, escaping, CSV hardening and
the pseudonym key."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_lib import disclosure as D
from audit_lib import report

ETH_COLS = ("children", "refused", "not_obtained", "missing_or_invalid", "not_known")
ETH_REL = [("sum", "not_known", ["refused", "not_obtained", "missing_or_invalid"])]


def _integer_attack(frame, mask, relations, limit=40):
    """Independent of the LP: enumerate integer values 0..limit of the hidden cells
    and return, per hidden cell, the set of values consistent with every relation."""
    hidden = [(int(i), c) for c in mask.columns for i in np.flatnonzero(mask[c].to_numpy())]
    rels = D._relations(frame, relations)
    seen = {h: set() for h in hidden}
    for vals in itertools.product(range(limit + 1), repeat=len(hidden)):
        v = dict(zip(hidden, vals, strict=True))
        ok = True
        for r in rels:
            parts = sum(v.get(c, frame.at[c[0], c[1]]) for c in r.parts)
            total = (
                v.get(r.total, frame.at[r.total[0], r.total[1]])
                if r.total is not None
                else sum(frame.at[c[0], c[1]] for c in r.parts)
            )
            if parts != total:
                ok = False
                break
        if ok:
            for h, x in v.items():
                seen[h].add(x)
    return seen


def test_primary_suppression_and_zero():
    assert D.suppress_counts([0, 1, 5, 6, None], 5).tolist() == ["0", "c", "c", "6", ""]
    assert D.fmt_count(3) == "c" and D.fmt_count(0) == "0" and D.fmt_count(1234) == "1,234"
    # suppress_max=0: nothing suppressed
    assert D.suppress_counts([1, 2], 0).tolist() == ["1", "2"]


def test_issue_example_refused_cannot_be_recovered_by_subtraction():
    """Issue 13: refused = 13 - 9 - 0 = 4 undid the suppression."""
    f = pd.DataFrame(
        {
            "stage": ["referral"],
            "children": [200],
            "refused": [4],
            "not_obtained": [0],
            "missing_or_invalid": [9],
            "not_known": [13],
        }
    )
    mask = D.protect_table(f, ETH_COLS, 5, relations=ETH_REL)
    assert mask.at[0, "refused"]
    assert mask.at[0, "missing_or_invalid"]  # secondary: the smallest non-zero other cell
    assert not mask.at[0, "not_known"]
    seen = _integer_attack(f, mask, ETH_REL)
    assert all(len(v) > 1 for v in seen.values())
    bounds = D.cell_bounds(f, mask, D._relations(f, ETH_REL))
    assert bounds[(0, "refused")] == (0.0, 13.0)


def test_unprotected_table_is_recoverable():
    """The attack can fail: primary suppression alone leaves the cell pinned."""
    f = pd.DataFrame({"a": [4], "b": [9], "t": [13]})
    rel = D.across(f, "t", ["a", "b"])
    mask = pd.DataFrame({"a": [True], "b": [False], "t": [False]})
    assert D.cell_bounds(f, mask, rel)[(0, "a")] == (4.0, 4.0)


def test_column_with_known_total():
    """Shares of a column reveal its total: one suppressed grade needs a second."""
    f = pd.DataFrame({"grade": ["1", "2", "3", "4"], "audits": [50, 3, 40, 20]})
    mask = D.protect_table(f, ("audits",), 5, relations=[("column", "audits")])
    assert mask["audits"].tolist() == [False, True, False, True]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.integers(0, 12), min_size=3, max_size=3),
        min_size=2,
        max_size=4,
    )
)
def test_recovery_attack_on_random_tables_with_margins(rows):
    """For tables with row totals and a total row, no suppressed cell is pinned."""
    body = pd.DataFrame(rows, columns=["x", "y", "z"])
    body["total"] = body.sum(axis=1)
    f = pd.concat([body, body.sum().to_frame().T], ignore_index=True)
    n = len(f) - 1
    rels = D.across(f, "total", ["x", "y", "z"])
    for c in ("x", "y", "z", "total"):
        rels += D.down(f, c, total=n)
    mask = D.protect(f, ["x", "y", "z", "total"], rels, 5)
    primary = f[["x", "y", "z", "total"]].apply(lambda s: s.between(1, 5))
    assert (mask | ~primary).all().all()  # every primary cell is suppressed
    for cell, (lo, hi) in D.cell_bounds(f, mask, rels).items():
        assert hi - lo >= 1, (cell, lo, hi, f, mask)


def test_rate_and_denominator():
    # numerator small; complement small; both large
    assert D.hide_rate([3, 57, 30], [60, 60, 60], 5).tolist() == [True, True, False]
    f = pd.DataFrame({"n": [57, 30], "d": [60, 60], "share": [0.95, 0.5]})
    m = D.protect_table(f, ("d",), 5, shares={"share": "n"}, denominators={"share": "d"})
    assert m["share"].tolist() == [True, False]


def test_styled_table_escapes_cells_headers_and_caption():
    f = pd.DataFrame({"<b>team</b>": ["<h1>x</h1>", "<script>alert(1)</script>"], "n": [3, 40]})
    html = report.styled_table(f, uuid="t", counts=("n",), caption="<i>cap</i>", hide=()).to_html()
    assert "<h1>" not in html and "<script>" not in html and "<b>team" not in html
    assert "&lt;h1&gt;x&lt;/h1&gt;" in html and "&lt;i&gt;cap" in html
    assert ">c<" in html and ">40<" in html


def test_headline_escaping():
    text = D.escape_text("Team <h1>x</h1> [a](javascript:alert(1)) *b*")
    assert "<" not in text and "\\[a\\](" in text and "\\*b\\*" in text


def test_csv_injection_neutralised(tmp_path):
    f = pd.DataFrame(
        {
            "team": ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "ok"],
            "note": ["-2+3", "\tx", "\rx", "plain"],
            "n": [-1, 2, 3, 4],
        }
    )
    p = D.write_worklist(f, tmp_path / "w.csv", b"k" * 32)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    back = pd.read_csv(p, dtype=str, keep_default_na=False)
    for c in ("team", "note"):
        assert not back[c].str.match(r"^[=+\-@\t\r]").any()
    assert back["n"].tolist() == ["-1", "2", "3", "4"]  # numbers stay numbers
    assert back["key_fingerprint"].nunique() == 1


def _make_key(path):
    return D.local_secret(path).decode()


def test_key_created_atomically_under_contention(tmp_path, monkeypatch):
    monkeypatch.delenv(D.SECRET_ENV, raising=False)
    ctx = mp.get_context("fork")
    paths = [tmp_path / f"k{trial}" / "secret" for trial in range(15)]
    with ctx.Pool(8) as pool:  # 8 warm processes race to create each key
        made = [pool.map(_make_key, [path] * 16, chunksize=1) for path in paths]
    for path, keys in zip(paths, made, strict=True):
        assert all(len(k) == 64 for k in keys)
        assert len(set(keys)) == 1
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not [p for p in path.parent.iterdir() if p.name != "secret"]


def test_empty_key_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv(D.SECRET_ENV, raising=False)
    (tmp_path / "secret").write_text("")
    with pytest.raises(ValueError, match="empty"):
        D.local_secret(tmp_path / "secret")


def test_fingerprint_change_announced(tmp_path):
    a, b = D.key_fingerprint(b"a"), D.key_fingerprint(b"b")
    assert a != b and len(a) == 12 and "a" * 3 not in a
    assert D.remember_fingerprint(tmp_path, a) is None
    assert D.remember_fingerprint(tmp_path, a) is None
    msg = D.remember_fingerprint(tmp_path, b)
    assert msg and a in msg and b in msg


def test_staff_pseudonyms_stable_and_distinct():
    ids = [f"AUD{i:02d}" for i in range(40)]
    p1 = D.staff_pseudonyms(ids, b"key")
    p2 = D.staff_pseudonyms(list(reversed(ids)), b"key")
    assert p1.nunique() == 40
    assert dict(zip(ids, p1, strict=True)) == dict(zip(reversed(ids), p2, strict=True))
    assert p1.str.fullmatch(r"Auditor [A-Z]{3}\d*").all()
    assert not p1.str.contains("AUD").any()
    # the same auditor keeps the name when others join
    assert D.staff_pseudonyms(ids[:5], b"key").tolist() == p1[:5].tolist()
    key = D.staff_key(ids, b"key")
    assert set(key["id"]) == set(ids)


def test_protect_keeps_true_zero_and_missing():
    f = pd.DataFrame({"a": [0, np.nan, 7]})
    assert D.protect(f, ["a"]).to_numpy().sum() == 0


if os.name != "posix":  # pragma: no cover
    pytest.skip("POSIX file modes", allow_module_level=True)


def test_data_quality_headline_agrees_with_the_table():
    """Issue 13: the headline said "not obtained 4" while the table showed c."""
    from audit_lib.measures import data_quality as DQ

    eth = pd.DataFrame(
        {
            "stage": ["referral"],
            "children": [200],
            "refused": [0],
            "not_obtained": [4],
            "missing_or_invalid": [9],
            "not_known": [13],
            "share": [13 / 200],
            "lower": [0.04],
            "upper": [0.1],
        }
    )
    counts = pd.DataFrame(
        {"table": ["children"], "status": ["ok"], "rows_read": [200], "rows_rejected": [3]}
    )
    empty = pd.DataFrame({"rows": pd.Series([], dtype=int)})
    lines = DQ.findings(counts, pd.DataFrame(), empty, empty, eth, pd.DataFrame(), "2019-01")
    text = " ".join(lines)
    assert "not obtained c" in text and "refused 0" in text
    assert "c (c) were rejected" in text  # 3 of 200 rows rejected
    mask = D.protect_table(eth, DQ.ETHNICITY_COUNTS, 5, *DQ.ETHNICITY_RATES, DQ.ETHNICITY_RELATIONS)
    assert mask.at[0, "not_obtained"] and mask.at[0, "missing_or_invalid"]
    assert not mask.at[0, "share"]  # 13 of 200: neither 13 nor 187 is small


def test_data_quality_rows_table_cannot_be_given_back_by_the_headline_totals():
    """A 30-child cut: the headline said "6,853 rows were read" and the table hid only
    cp_reviews (3), so 6,853 minus the rest gave it back. The table now declares its
    column totals (the headline publishes them), and no hidden cell is pinned."""
    from audit_lib.measures import data_quality as DQ

    read = [30, 39, 35, 16, 6, 3, 16, 38, 93, 13, 0, 599, 20, 5945]
    counts = pd.DataFrame(
        {
            "table": [f"t{i}" for i in range(len(read))],
            "status": "ok",
            "rows_read": read,
            "rows_kept": read,
            "rows_rejected": 0,
        }
    )
    none = pd.DataFrame({"rows": [], "stage": []})
    lines = DQ.findings(counts, pd.DataFrame(), none, none, none, pd.DataFrame(), "2026-10")
    assert lines[0].startswith("6,853 rows were read")  # the total a reader has
    cols = ["rows_read", "rows_kept", "rows_rejected"]
    mask = D.protect_table(counts, cols, 5, relations=DQ.COUNT_RELATIONS)
    assert mask.at[5, "rows_read"] and mask["rows_read"].sum() >= 2
    bounds = D.cell_bounds(counts, mask[cols], D._relations(counts, DQ.COUNT_RELATIONS))
    assert all(hi - lo >= 0.5 for lo, hi in bounds.values()), bounds


def test_headlines_hide_small_shares_and_counts():
    from audit_lib.measures import permanence as PM

    flags = pd.DataFrame(
        {"drift_score": [2, 2, 0, 0, 0, 0, 0, 0], **{f: 0 for f in PM.DRIFT_FLAGS}}
    )
    flags.loc[0, list(PM.DRIFT_FLAGS)[0]] = 1
    card = pd.DataFrame(
        {
            "measure": ["a1", "a2"],
            "window": ["rolling_3y"] * 2,
            "threshold": [426, 121],
            "value": [400.0, 150.0],
            "n": [5, 5],
            "lower": [1.0, 1.0],
            "upper": [2.0, 2.0],
        }
    )
    entries = {"permanence.within_12m.rolling_12m": {"numerator": 2, "denominator": 6}}
    text = " ".join(PM.findings(entries, flags, card, "2026-10", 5))
    # 2 of 8: the count and its complement are small, so neither it nor its denominator shows
    assert "c of the children in care" in text and "of 8" not in text
    assert "A1" not in text  # means of 5 adoptions are not shown
    assert "permanence within 12 months" not in text


def test_indicator_status_does_not_judge_a_hidden_share():
    """The synthetic borough's CP reviews: this month 64 of 68 on time, shown "c" (4
    late), but "Below target" (95%) beside it said 4 or 5 were late. The status now
    judges the shown 12-month share instead, and no share when both are hidden."""
    from audit_lib import indicators

    month = {"numerator": 64, "denominator": 68, "value": 64 / 68, "spc_signal": "common_cause"}
    good = {"numerator": 760, "denominator": 791, "value": 760 / 791}
    t = indicators.indicator_table(
        {"timeliness.cp_review.month": month, "timeliness.cp_review.rolling_12m": good}
    ).iloc[0]
    assert t["hide_month"] and t["Status"] == "Meeting target"  # 96% over 12 months
    small = {"numerator": 3, "denominator": 4, "value": 0.75}
    t = indicators.indicator_table(
        {"timeliness.cp_review.month": month, "timeliness.cp_review.rolling_12m": small}
    ).iloc[0]
    assert t["Status"] == "Too few to judge"  # not "Stable": nothing shown was judged
    # nor where no target is set: a 2,000-child cut's permanence within 12 months, "c"
    # over 12 months, no month, not charted, read "Stable"
    t = indicators.indicator_table({"permanence.within_12m.rolling_12m": small}).iloc[0]
    assert t["Status"] == "Too few to judge" and t["Target"] is None
    # and no item in either window is not "Stable" either (a 500-child cut's plan by the
    # second review: "not available | not available | ... | Stable")
    none = {"numerator": 0, "denominator": 0, "value": None}
    key = "permanence.plan_by_second_review.rolling_12m"
    t = indicators.indicator_table({key: none}).iloc[0]
    assert t["Status"] == "No items to judge"


def test_indicator_shares_on_small_numbers_are_hidden():
    from audit_lib import indicators

    m = {
        "timeliness.cp_visit.month": {"numerator": 8, "denominator": 10, "value": 0.8},
        "timeliness.cp_visit.rolling_12m": {"numerator": 239, "denominator": 269, "value": 0.888},
    }
    t = indicators.indicator_table(m)
    assert t["hide_month"].tolist() == [True] and t["hide_12m"].tolist() == [False]
    html = indicators.styled_indicators(t).to_html()
    assert "80.0%" not in html and "88.8%" in html and ">c<" in html


def test_summary_hides_a_mean_of_months_one_of_which_is_hidden():
    """The synthetic borough's summary gave 'Audits graded good or better, 12-month mean
    of months 75.9%' where August 2026 (23 of 27, 4 not good) is hidden: with the other
    months' shares the mean (to 0.1%) pins it. A 30-child cut's mean was 80% of months
    of one audit each."""
    from audit_lib import indicators
    from audit_lib.disclosure import smallest_count
    from audit_lib.measures import timeliness as T

    months = pd.DataFrame({"numerator": [40, 23, 0], "denominator": [50, 27, 30]})
    assert smallest_count(months) == 4  # 27 - 23; 0 is a true zero
    assert smallest_count(months.iloc[[0, 2]]) == 10 and smallest_count(months.iloc[:0]) is None
    month = {"numerator": 30, "denominator": 40, "value": 0.75, "mean_12m": 0.759}
    r12 = {"numerator": 300, "denominator": 400, "value": 0.75}
    key = "plan_quality.good_or_better"
    for count, hidden in ((4, True), (23, False), (None, False)):
        m = {f"{key}.month": {**month, "mean_12m_min_count": count}, f"{key}.rolling_12m": r12}
        t = indicators.indicator_table(m)
        assert t["hide_mean"].tolist() == [hidden] and not t["hide_month"].any()
        html = indicators.styled_indicators(t).to_html()
        assert ("75.9%" in html) is not hidden and "75.0%" in html
    by_month = pd.DataFrame(
        {
            "measure": "cp_visit",
            "month": ["2026-08", "2026-09", "2026-10"],
            "numerator": [40, 23, 45],
            "denominator": [50, 27, 50],
        }
    ).assign(value=lambda f: f["numerator"] / f["denominator"])
    summary = pd.DataFrame(
        {
            "measure": "cp_visit",
            "window": ["month"],
            "numerator": [45],
            "denominator": [50],
            "lower": [0.8],
            "upper": [0.95],
            "median_days": [None],
        }
    )
    e = T.metric_entries(summary, by_month)["timeliness.cp_visit.month"]
    assert e["mean_12m_min_count"] == 4 and e["mean_12m"] == pytest.approx(by_month["value"].mean())


@pytest.mark.parametrize(
    "text",
    [
        "<h1>x</h1>",
        "<script>alert(1)</script>",
        "Team <img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "$\\alpha$ **team** _u_ `code` ~~s~~ |x|",
        '#5 heading? -0.53 grade; 100% & moderators\' "quotes"',
        "- nested",
        "+ nested",
        "1. numbered",
        "2) numbered",
        "![img](x) (parens) {braces} |pipes| x+y!",
        '=HYPERLINK("http://x","y")',
        "see www.evil.example or a@b.example <http://x>",
    ],
)
def test_escaped_headline_renders_as_the_text_itself(text):
    """Through the same Markdown renderer as the pages: shown as written, no element."""
    import lxml.html
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": f"- {D.escape_text(text)}"})
    ]
    nb.cells = [cell]
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    (li,) = lxml.html.fragment_fromstring(body, create_parent="div").iter("li")
    assert len(li) == 0 and li.text_content().strip() == text


def test_key_announced_in_run_log_and_change_warned(tmp_path, monkeypatch):
    """A run logs the key's fingerprint; a run with another key warns of the change."""
    import logging

    from audit_lib import run as R

    monkeypatch.delenv(D.SECRET_ENV, raising=False)
    monkeypatch.setenv("AUDIT_SECRET_FILE", str(tmp_path / "home1" / "secret"))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    R.log.addHandler(handler)
    R.log.setLevel(logging.INFO)
    try:
        R._announce_key(tmp_path)  # a new key: announced
        R._announce_key(tmp_path)  # the same key: no warning
        monkeypatch.setenv("AUDIT_SECRET_FILE", str(tmp_path / "home2" / "secret"))
        R._announce_key(tmp_path)  # another HOME, another key: warned
    finally:
        R.log.removeHandler(handler)
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 3
    assert "creating a new one" in warnings[0] and "creating a new one" in warnings[1]
    assert "has changed" in warnings[2]
    infos = [r.getMessage() for r in records if "fingerprint" in r.getMessage()]
    assert len({m.split("fingerprint ")[1][:12] for m in infos if "(also" in m}) == 2


def test_interval_chart_leaves_out_small_rows():
    from audit_lib import charts

    f = pd.DataFrame(
        {
            "auditor_id": ["Auditor AAA", "Auditor BBB"],
            "mean_difference": [0.1, -0.5],
            "lower": [0.0, -0.9],
            "upper": [0.2, -0.1],
            "audits": [3, 30],
        }
    )
    fig = charts.interval_chart(
        f, "auditor_id", "t", value="mean_difference", percent=False, n="audits"
    )
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Auditor BBB"]


def test_protect_with_missing_cells_and_a_known_column_total():
    f = pd.DataFrame({"open": [40, np.nan, 3, 0, 12]})
    mask = D.protect(f, ["open"], D.down(f, "open"), 5)
    assert mask["open"].tolist() == [False, False, True, False, True]
    bounds = D.cell_bounds(f, mask, D.down(f, "open"))
    assert all(hi - lo >= 1 for lo, hi in bounds.values())


def test_heatmap_hides_cells_on_small_numbers():
    from audit_lib import charts

    f = pd.DataFrame(
        {
            "team": ["A", "A", "B", "B"],
            "anchor": ["x", "y", "x", "y"],
            "numerator": [5, 30, 2, 20],
            "denominator": [7, 40, 2, 40],
        }
    ).assign(value=lambda d: d["numerator"] / d["denominator"])
    fig = charts.heatmap(f, "team", "anchor", "value", "t")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["50%", "75%", "c", "c"]


def test_a_very_long_name_cannot_stretch_a_chart():
    """A 3,000-character team name (no spaces) drew the heatmap 21,831 pixels wide and
    the funnel plot, which names it in the title and beside its point, 30,095."""
    import io

    from audit_lib import charts
    from audit_lib.disclosure import plain_title

    long = "L" * 3000
    assert plain_title(long) == "L" * 39 + "\u2026" and plain_title("$x$ a b") == r"\$x\$ a b"
    assert plain_title("Forest Gate") == "Forest Gate"
    f = pd.DataFrame(
        {
            "team": [long, long, "B", "B"],
            "anchor": ["x", "y", "x", "y"],
            "numerator": [25, 30, 20, 20],
            "denominator": [40, 40, 40, 40],
        }
    ).assign(value=lambda d: d["numerator"] / d["denominator"])
    fig = charts.heatmap(f, "team", "anchor", "value", f"{long} is weakest")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    from PIL import Image

    assert Image.open(buf).size[0] < 1500


def test_bidi_controls_from_the_data_cannot_reverse_a_sentence():
    """A team named "Forest Gate\u202e" (right-to-left override, never closed) showed the
    rest of its headline backwards; Hebrew or Arabic letters themselves stay."""
    line = "Below the funnel: Forest Gate\u202e (52%). This is more than chance."
    for out in (D.escape_text(line), D.escape_html(line), D.escape_html("\u2067x\u2069")):
        assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f]", out), out
    assert "(52%)" in D.escape_text(line)
    assert D.escape_html("\u05e9\u05dc\u05d5\u05dd team") == "\u05e9\u05dc\u05d5\u05dd team"


def test_hidden_with_a_flag_column_holding_none_warns_nothing():
    """The summary's flag columns hold None where a row has no share: pandas warned
    (FutureWarning, downcasting on fillna) into run.log on every small authority."""
    import warnings

    f = pd.DataFrame({"v": [0.5, 0.6, 0.7], "flag": [True, None, False]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask = D.protect_table(f, (), 5, hidden_with={"v": "flag"})
    assert mask["v"].tolist() == [True, False, False]


def test_funnel_merges_small_teams():
    f = pd.DataFrame(
        {"team": ["A", "B", "C", "D"], "numerator": [40, 3, 30, 20], "denominator": [50, 4, 60, 30]}
    )
    m = D.merge_small_groups(f, "team")
    assert m["team"].tolist() == ["A", "C", "Other teams"]
    assert m.iloc[-1][["numerator", "denominator"]].tolist() == [23, 34]  # B and D


def test_agreement_headline_hides_a_small_disagreement():
    from audit_lib.measures import plan_quality as PQ

    base = {"estimable": True, "weighted_kappa": 0.9, "kappa_lower": 0.8, "kappa_upper": 1.0}
    few = PQ.agreement_findings(
        {
            **base,
            "moderated": 40,
            "agree": 37,
            "exact_agreement": 37 / 40,
            "exact_lower": 0.8,
            "exact_upper": 0.97,
        },
        10,
    )
    assert "92%" not in few[0] and "not shown" in few[0]
    ok = PQ.agreement_findings(
        {
            **base,
            "moderated": 40,
            "agree": 30,
            "exact_agreement": 0.75,
            "exact_lower": 0.6,
            "exact_upper": 0.86,
        },
        10,
    )
    assert ok[0].startswith("Exact agreement: 75% of 40")
    assert "only c moderated" in PQ.agreement_findings({"moderated": 3, "estimable": False}, 10)[0]


def test_spc_signal_phrases_do_not_read_as_small_counts():
    # "2 of 3 months near a process limit" failed `audit check` on a 1,000,000-child run
    from audit_lib.check import page_problems
    from audit_lib.measures.timeliness import _RULE_WORDS, signal_phrase

    for rule in _RULE_WORDS:
        for signal in ("improvement", "concern"):
            text = (
                f"<html><body><p>October 2026 is {signal_phrase(rule, signal)}.</p></body></html>"
            )
            assert page_problems(text) == [], (rule, signal)


def test_worklist_text_loses_bidi_controls_and_hidden_formulas(tmp_path):
    """A team ending in U+202E showed the worklist's next cells backwards in a
    spreadsheet, and one starting U+202E '=' hid a formula behind the control; object
    cells that are not text (None, numbers) are kept as they are."""
    f = pd.DataFrame(
        {
            "team": ["North \u202e", "\u202e=1+1", None, "\u05e9\u05dc\u05d5\u05dd"],
            "days": pd.array([1, None, 3, 4], dtype=object),
        }
    )
    back = D.neutralise_csv(f)
    assert back["team"].tolist() == ["North ", "'=1+1", None, "\u05e9\u05dc\u05d5\u05dd"]
    assert back["days"].tolist() == [1, None, 3, 4]


def test_shown_total_never_gives_a_hidden_part_back():
    """A total quoted beside its parts hides where the parts shown as "c" follow from it
    (the timeliness headline's items due soon on a 2,000-child cut: 9 beside c, c, 7, so
    both c were 1)."""
    assert D.shown_total([2, 0, 0, 0, 0, 7]) is None  # hidden sum 2: both 1
    assert D.shown_total([30, 3, 0, 11, 20, 23]) is None  # one hidden part: 3
    assert D.shown_total([30, 1, 2, 11, 20, 23]) is None  # hidden sum 3 of two parts
    assert D.shown_total([5, 5, 40]) is None  # hidden sum 10 of two parts: both 5
    assert D.shown_total([3, 4, 40]) == 47  # hidden sum 7 of two parts: 2..5 each
    assert D.shown_total([30, 0, 11, 20]) == 61  # nothing hidden
    assert D.shown_total([0, 0]) == 0
    assert D.shown_total([2, 40], suppress_max=0) == 42  # no suppression
    # in a sentence: what the table gives, each hidden part at least 1
    assert D.fmt_total([30, 3, 2, 11, 20, 23]) == "at least 86"
    assert D.fmt_total([30, 0, 11, 20]) == "61"
    assert D.fmt_total([1, 1, 0]) == "c"


def test_timeliness_headline_totals_do_not_give_hidden_rows_back():
    """The headline's overdue and due-soon totals with the table's shown rows gave its
    "c" rows back (2,000-child cut: 'c items were overdue and 9 due within 10 working
    days' beside due-soon rows c, 0, 0, 0, c, 7)."""
    from audit_lib.measures import timeliness as T

    measures = ["assessment_45wd", "icpc_15wd", "cp_review", "cla_review", "cla_visit", "cp_visit"]
    summary = pd.DataFrame(
        {
            "measure": measures,
            "window": "rolling_12m",
            "numerator": [69, 60, 100, 90, 96, 162],
            "denominator": [94, 70, 120, 100, 110, 179],
            "open_overdue": [1, 0, 0, 0, 0, 0],
            "open_due_soon": [1, 0, 0, 0, 1, 7],
        }
    )
    summary["value"] = summary["numerator"] / summary["denominator"]
    summary["lower"], summary["upper"] = summary["value"] - 0.05, summary["value"] + 0.05
    last = T.findings(summary, summary.iloc[:0], summary.iloc[:0], "2026-10")[-1]
    assert last.startswith("At the end of October 2026, c items were overdue and at least 9 due ")
    summary["open_due_soon"] = [0, 0, 0, 0, 20, 7]
    last = T.findings(summary, summary.iloc[:0], summary.iloc[:0], "2026-10")[-1]
    assert "c items were overdue and 27 due within 10 working days" in last


def test_timeliness_headline_names_hidden_shares_in_words():
    """A 500-child cut: 'Over the last 12 months, CP reviews on time c; looked-after
    reviews on time c; looked-after visits on time c; CP visits on time 92%.' The hidden
    ones are named together, with why, instead of 'on time c'."""
    from audit_lib.measures import timeliness as T

    summary = pd.DataFrame(
        {
            "measure": ["cp_review", "cla_review", "cla_visit", "cp_visit"],
            "window": "rolling_12m",
            "numerator": [6, 5, 22, 96],
            "denominator": [8, 7, 25, 104],
            "open_overdue": 0,
            "open_due_soon": 0,
        }
    )
    summary["value"] = summary["numerator"] / summary["denominator"]
    summary["lower"], summary["upper"] = summary["value"] - 0.05, summary["value"] + 0.05
    lines = T.findings(summary, summary.iloc[:0], summary.iloc[:0], "2026-10")
    (line,) = [x for x in lines if x.startswith("Over the last 12 months")]
    assert line == (
        "Over the last 12 months, CP visits on time 92%; CP reviews on time, looked-after "
        "reviews on time and looked-after visits on time: not shown, the numbers are small "
        "enough to identify children."
    )


def test_worklist_cells_are_neutralised_whatever_the_index():
    """The vectorised check put the quoted cells back by index label: a frame with a
    repeated index (two lists concatenated) failed with InvalidIndexError, where the
    cell-by-cell check it replaced wrote it."""
    f = pd.DataFrame({"team": ["=a", "b", "\u202e=c", "+d", 5]}, index=[0, 0, 1, 1, 2])
    back = D.neutralise_csv(f)
    assert back["team"].tolist() == ["'=a", "b", "'=c", "'+d", 5]
    assert back.index.tolist() == [0, 0, 1, 1, 2]
