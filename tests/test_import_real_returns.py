"""Real returns in, right answers out: one test per problem seen on outside samples."""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile

import openpyxl
import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.report import resolve_period

from .conftest import EXTERNAL

FAKE903 = EXTERNAL / "ssda903-fake"
CIN = EXTERNAL / "cin-census" / "CIN_Census_2024.xml"
ANNEX = EXTERNAL / "annex-a" / "Annex_A.xlsx"
needs_external = pytest.mark.skipif(not FAKE903.exists(), reason="../shared/external absent")

CIN_XML = """<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2024</Year>
<ReferenceDate>{ref}</ReferenceDate></CollectionDetails></Header><Children><Child>
<ChildIdentifiers><LAchildID>7</LAchildID><PersonBirthDate>2015-06-01</PersonBirthDate><Sex>1</Sex></ChildIdentifiers>
<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
<CINdetails><CINreferralDate>2023-05-01</CINreferralDate><ReferralNFA>false</ReferralNFA>{closure}</CINdetails>
</Child></Children></Message>"""


def _run_import(args, capsys):
    code = main(["import", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _book(path, sheets):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def _list3(path, *rows):
    """A workbook of List 3 (referrals) alone, with these rows under its header."""
    return _book(path, [("List 3", [LIST3, *rows])])


LIST3 = [
    "Child Unique ID",
    "Gender",
    "Ethnicity",
    "Date of Birth",
    "Date of Referral",
    "Referral NFA?",
]


# -- reporting date and period ---------------------------------------------------------


@needs_external
def test_external_samples_date_from_the_data(tmp_path, capsys):
    expected = {  # format, input, reference date, default period
        "ssda903": (FAKE903, "2018-03-31", "2018-03"),
        "cin_census": (CIN, "2024-03-31", "2024-03"),
        "annex_a": (ANNEX, "2021-03-15", "2021-02"),
    }
    for fmt, (src, ref, period) in expected.items():
        out = tmp_path / fmt
        code, _, err = _run_import([fmt, src, "--out", out], capsys)
        assert code == 0, err
        meta = json.loads((out / "extract.json").read_text())
        report = json.loads((out / "import_report.json").read_text())
        assert meta["extract_date"] == report["extract_date"] == ref
        assert meta["date_source"] and report["date_source"] == meta["date_source"]
        _, dq = load_tables(out)
        assert dq.extract_date == pd.Timestamp(ref) and "extract.json" in dq.extract_source
        assert resolve_period(None, dq.extract_date) == period
        # every row read is accounted for: mapped + merged + rejected
        for m in report["mapping"]:
            assert m["rows_read"] == (
                m["rows_mapped"] + m.get("repeats_merged", 0) + m.get("rows_rejected", 0)
            ), (fmt, m)
        s = dq.summary
        assert (s["rows_read"] == s["rows_kept"] + s["rows_rejected"]).all()
        assert len(dq.coverage) > 0  # each table with rows records its date range


def test_cin_reference_date_and_override(tmp_path, capsys):
    xml = tmp_path / "cin.xml"
    xml.write_text(CIN_XML.format(ref="2024-03-31", closure=""))
    out = tmp_path / "out"
    assert _run_import(["cin_census", xml, "--out", out], capsys)[0] == 0
    meta = json.loads((out / "extract.json").read_text())
    assert meta["extract_date"] == "2024-03-31"
    assert meta["date_source"] == "cin_census: CIN census header ReferenceDate"
    out2 = tmp_path / "out2"
    assert (
        _run_import(["cin_census", xml, "--out", out2, "--extract-date", "2024-06-30"], capsys)[0]
        == 0
    )
    meta = json.loads((out2 / "extract.json").read_text())
    assert meta["extract_date"] == "2024-06-30" and "--extract-date" in meta["date_source"]


def test_a_referral_closed_in_the_next_census_is_closed(tmp_path, capsys):
    old = tmp_path / "2024.xml"
    old.write_text(CIN_XML.format(ref="2024-03-31", closure=""))
    new = tmp_path / "2025.xml"
    new.write_text(
        CIN_XML.format(
            ref="2025-03-31",
            closure="<CINclosureDate>2024-09-01</CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>",
        )
    )
    out = tmp_path / "out"
    _run_import(["cin_census", new, "--out", out], capsys)
    code, stdout, _ = _run_import(["cin_census", old, "--out", out], capsys)  # older, later
    ref = pd.read_csv(out / "referrals.csv", dtype=str)
    assert len(ref) == 1 and ref["closure_date"].iloc[0] == "2024-09-01"
    report = json.loads((out / "import_report.json").read_text())
    ch = {c["table"]: c for c in report["changes"]}["referrals"]
    assert ch == {"table": "referrals", "added": 0, "updated": 0, "unchanged": 1}
    assert json.loads((out / "extract.json").read_text())["extract_date"] == "2025-03-31"


def test_unreadable_extract_json_is_one_line(tmp_path, capsys, warm_pool):
    (tmp_path / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-01,WBRI\n"
    )
    (tmp_path / "extract.json").write_text('{"extract_date": "not a date"}')
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "extract.json" in err and err.count("\n") == 0
    from audit_lib.run import RunError, run

    with pytest.raises(RunError, match="extract.json"):
        run(data=tmp_path, out=tmp_path / "reports", pool=warm_pool)


def test_default_period_and_periods_outside_the_data(tmp_path):
    from audit_lib.run import RunError, _period_in_data

    (tmp_path / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-01,WBRI\n"
    )
    (tmp_path / "referrals.csv").write_text(
        "referral_id,child_id,referral_date,nfa\nr1,1,2021-04-03,false\nr2,1,2022-03-20,false\n"
    )
    # no extract.json: the extract date is today, but the default period is in the data
    assert _period_in_data(None, tmp_path) == "2022-02"
    (tmp_path / "extract.json").write_text(
        json.dumps({"extract_date": "2022-03-31", "data_start": "2021-04-01"})
    )
    assert _period_in_data(None, tmp_path) == "2022-03"
    assert _period_in_data("2021-04", tmp_path) == "2021-04"
    with pytest.raises(RunError, match="after the data end"):
        _period_in_data("2026-10", tmp_path)
    with pytest.raises(RunError, match="before the data start"):
        _period_in_data("2021-03", tmp_path)
    assert resolve_period(None, pd.Timestamp("2022-03-31")) == "2022-03"
    assert resolve_period(None, pd.Timestamp("2022-03-30")) == "2022-02"


def test_validate_and_run_refuse_a_required_table_with_no_rows(tmp_path, capsys):
    """The run starts its own workers, then refuses: they stop and nothing hangs."""
    (tmp_path / "children.csv").write_text("child_id,sex,date_of_birth,ethnicity\n")
    (tmp_path / "referrals.csv").write_text(
        "referral_id,child_id,referral_date,nfa\nr1,1,2021-04-03,false\n"
    )
    (tmp_path / "extract.json").write_text('{"extract_date": "2022-03-31"}')
    assert main(["validate", str(tmp_path)]) == 1
    assert "NO ROWS KEPT" in capsys.readouterr().out
    from audit_lib.run import RunError, run

    with pytest.raises(RunError, match="keep no rows"):
        run(data=tmp_path, out=tmp_path / "reports")


# -- nothing read is lost without a word -----------------------------------------------


def test_unclosed_quote_is_an_error_naming_the_line(tmp_path, capsys):
    rows = [f"r{i},1,2021-04-{1 + i % 28:02d},false" for i in range(40)]
    rows[10] = 'r10,1,"2021-04-11,false'
    (tmp_path / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-01,WBRI\n"
    )
    (tmp_path / "referrals.csv").write_text(
        "referral_id,child_id,referral_date,nfa\n" + "\n".join(rows) + "\n"
    )
    _, dq = load_tables(tmp_path, extract_date="2022-03-31")
    s = dq.summary.set_index("table").loc["referrals"]
    assert s["rows_read"] == 40 and s["rows_kept"] == 39 and s["rows_rejected"] == 1
    f = dq.findings[dq.findings["check"] == "unclosed quote"]
    assert len(f) == 1 and f["severity"].iloc[0] == "error" and "line 12" in f["message"].iloc[0]
    # and in a 903 file
    d = tmp_path / "903"
    d.mkdir()
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    body = [f"{i},01/02/2020,S,C2,N1,U4,PR1,,," for i in range(30)]
    body[3] = '3,"01/02/2020,S,C2,N1,U4,PR1,,,'
    (d / "episodes.csv").write_text(ep + "\n".join(body) + "\n")
    code, out, _ = _run_import(["ssda903", d, "--out", tmp_path / "o"], capsys)
    assert "unclosed quote on line 5" in out
    assert len(pd.read_csv(tmp_path / "o" / "cla_episodes.csv")) == 29


def test_time_zoned_timestamps_read_as_their_date(tmp_path, capsys):
    (tmp_path / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-01,WBRI\n"
    )
    (tmp_path / "referrals.csv").write_text(
        "referral_id,child_id,referral_date,nfa\n"
        "r1,1,2024-05-01T10:00:00Z,false\nr2,1,2024-05-02T23:30:00+01:00,false\n"
        "r3,1,2024-05-03 08:00,false\n"
    )
    t, dq = load_tables(tmp_path, extract_date="2024-06-30")
    assert dq.errors.empty, dq.to_text()
    assert t["referrals"]["referral_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-05-01",
        "2024-05-02",
        "2024-05-03",
    ]
    assert main(["validate", str(tmp_path), "--extract-date", "2024-06-30"]) == 0
    d = tmp_path / "903"
    d.mkdir()
    (d / "episodes.csv").write_text(
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
        "1,2024-05-01T10:00:00+01:00,S,C2,N1,U4,PR1,,,\n"
    )
    (d / "header.csv").write_text("CHILD,SEX,DOB,ETHNIC\n1,1,01/01/2015,WBRI\n")
    code, _, err = _run_import(["ssda903", d, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    ep = pd.read_csv(tmp_path / "o" / "cla_episodes.csv", dtype=str)
    assert ep["episode_start"].tolist() == ["2024-05-01"]


@pytest.mark.parametrize(
    "text",
    [
        "<Message><Children><Child><ChildIdentifiers><LAchildID>1</LAch",  # truncated
        "<Message><Children/></Message><junk/>",  # junk after the root
    ],
)
def test_unreadable_cin_exits_non_zero_naming_the_file(tmp_path, capsys, text):
    bad = tmp_path / "census.xml"
    bad.write_text(text)
    code, _, err = _run_import(["cin_census", bad, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "census.xml" in err and err.strip().count("\n") == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_cin_permission_denied_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "census.xml"
    bad.write_text(CIN_XML.format(ref="2024-03-31", closure=""))
    bad.chmod(0)
    code, _, err = _run_import(["cin_census", bad, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "census.xml" in err


def test_annex_a_ids_are_text_and_rows_ids_from_the_data(tmp_path, capsys):
    jan = _book(
        tmp_path / "jan.xlsx",
        [
            (
                "List 3",
                [
                    LIST3,
                    ["LA.001", "Male", "WBRI", "01/01/2015", "05/01/2024", "No"],
                    ["LA.002", "Female", "WBRI", "01/01/2016", "06/01/2024", "No"],
                    ["LA.003", "Male", "WBRI", "01/01/2017", "07/01/2024", "No"],
                    [1234.0, "Male", "WBRI", "01/01/2017", "08/01/2024", "No"],
                ],
            )
        ],
    )
    feb = _book(
        tmp_path / "feb.xlsx",
        [
            (
                "List 3",
                [
                    LIST3,
                    ["LA.001", "Male", "WBRI", "01/01/2015", "05/01/2024", "Yes"],
                    ["LA.004", "Male", "WBRI", "01/01/2015", "03/02/2024", "No"],
                ],
            )
        ],
    )
    out = tmp_path / "out"
    assert _run_import(["annex_a", jan, "--out", out], capsys)[0] == 0
    assert _run_import(["annex_a", feb, "--out", out], capsys)[0] == 0
    kids = pd.read_csv(out / "children.csv", dtype=str)
    assert sorted(kids["child_id"]) == ["1234", "LA.001", "LA.002", "LA.003", "LA.004"]
    ref = pd.read_csv(out / "referrals.csv", dtype=str).set_index("referral_id")
    assert len(ref) == 5  # January's four and February's new one
    assert ref.loc["AA3-LA.001-2024-01-05", "nfa"] == "true"  # February's newer answer
    report = json.loads((out / "import_report.json").read_text())
    ch = {c["table"]: c for c in report["changes"]}["referrals"]
    assert ch == {"table": "referrals", "added": 1, "updated": 1, "unchanged": 0}


def _stale_dimension(path):
    """Rewrite every sheet's <dimension> to A1:I2, as some exporters leave it."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:I2"', data)
            dst.writestr(item, data)
    tmp.replace(path)


def test_annex_a_stale_dimension_and_bomb_limit(tmp_path, capsys, monkeypatch):
    rows = [LIST3] + [
        [f"C{i}", "Male", "WBRI", "01/01/2015", "05/01/2024", "No"] for i in range(100)
    ]
    book = _book(tmp_path / "a.xlsx", [("List 3", rows)])
    _stale_dimension(book)
    out = tmp_path / "out"
    code, stdout, err = _run_import(["annex_a", book, "--out", out], capsys)
    assert code == 0, err
    assert len(pd.read_csv(out / "referrals.csv")) == 100
    assert "declared size is stale" in stdout

    from audit_lib.sources import annex_a

    monkeypatch.setattr(annex_a, "MAX_INFLATED_BYTES", 10_000)
    code, _, err = _run_import(["annex_a", book, "--out", tmp_path / "o2"], capsys)
    assert code == 2 and "a.xlsx" in err and "limit" in err and err.strip().count("\n") == 0


def test_excel_lock_files_are_skipped_with_a_note(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    _book(
        d / "annex.xlsx", [("List 3", [LIST3, ["C1", "Male", "WBRI", "01/01/2015", "05/01/2024"]])]
    )
    (d / "~$annex.xlsx").write_bytes(b"lock")
    code, stdout, err = _run_import(["annex_a", d, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    assert "Excel lock file skipped" in stdout and "~$annex.xlsx" in stdout


@needs_external
def test_external_samples_copied_folder_reads_the_same(tmp_path, capsys):
    """Importing the 903 sample twice changes nothing: every record unchanged."""
    src = tmp_path / "903"
    shutil.copytree(FAKE903, src)
    out = tmp_path / "out"
    _run_import(["ssda903", src, "--out", out], capsys)
    _run_import(["ssda903", src, "--out", out], capsys)
    report = json.loads((out / "import_report.json").read_text())
    for c in report["changes"]:
        assert c["added"] == 0 and c["updated"] == 0, c


def test_a_return_with_no_readable_date_is_one_line_and_writes_nothing(tmp_path, capsys):
    """A return none of whose event dates can be read (Annex A dates typed as serial
    numbers in text cells, a 903 header file alone) or no file at all: one line saying
    so, exit 2, the folder untouched. Before, the import wrote the tables and an
    extract.json without a date, then failed telling the analyst to fix extract.json."""
    book = _list3(tmp_path / "aa.xlsx", ["1", "Male", "WBRI", "42005", "45296", "No"])
    d903 = tmp_path / "903"
    d903.mkdir()
    (d903 / "header.csv").write_text("CHILD,SEX,DOB,ETHNIC\n1,1,01/01/2015,WBRI\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for fmt, src, said in (
        ("annex_a", book, "no event date could be read in aa.xlsx"),
        ("ssda903", d903, "no event date could be read in header.csv"),
        ("ssda903", empty, "no ssda903 file found in"),
    ):
        code, out, err = _run_import([fmt, src, "--out", tmp_path / "o"], capsys)
        assert code == 2 and said in err and err.strip().count("\n") == 0, err
        assert not (tmp_path / "o").exists()
    # into a folder an earlier return dated, the header file is imported as before
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    (tmp_path / "ep").mkdir()
    (tmp_path / "ep" / "episodes.csv").write_text(ep + "1,01/02/2020,S,C2,N1,U4,PR1,,,\n")
    assert _run_import(["ssda903", tmp_path / "ep", "--out", tmp_path / "o"], capsys)[0] == 1
    assert _run_import(["ssda903", d903, "--out", tmp_path / "o"], capsys)[0] == 0
    assert pd.read_csv(tmp_path / "o" / "children.csv")["child_id"].tolist() == [1]


def test_an_annex_a_date_typed_centuries_ahead_does_not_date_the_return(tmp_path, capsys):
    """One referral typed 2201 made the workbook's reference date, the folder's extract
    date and the default period 2201 (a report for August 2201, without a word). Dates
    after the day the workbook was saved are left out of its date, with a warning, and
    validation rejects their rows as after the extract date."""
    book = _list3(
        tmp_path / "aa.xlsx",
        ["1", "Male", "WBRI", "01/01/2015", "05/01/2024", "No"],
        ["2", "Male", "WBRI", "01/01/2015", "16/02/2201", "No"],
    )
    code, out, _ = _run_import(["annex_a", book, "--out", tmp_path / "o"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "o" / "extract.json").read_text())["extract_date"] == "2024-01-05"
    assert "dates after the workbook was last saved" in out and "2201-02-16" in out
    _, dq = load_tables(tmp_path / "o")
    assert dq.summary.set_index("table").loc["referrals", "rows_rejected"] == 1
