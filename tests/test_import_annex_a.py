"""Ofsted Annex A workbook into canonical tables (audit_lib.sources.annex_a)."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.sources.annex_a import _cell, _code, _per_value, read_annex_a, read_sheets

from .conftest import EXTERNAL, EXTERNAL_MISSING

ANNEX = EXTERNAL / "annex-a" / "Annex_A.xlsx"


def test_lettered_codes():
    assert _code("a) WBRI") == "WBRI"
    assert _code("f) U6: Foster placement") == "U6"
    assert _code("N1 - Abuse or Neglect") == "N1"
    assert _code("#N/A") is None and _code("  ") is None


def test_tolerant_headers_dates_and_missing_values(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "list_3 referrals"
    ws.append(["Title row the workbook sometimes has"])
    ws.append(
        [
            "Date of  Referral",
            "Extra col",
            "CHILD UNIQUE ID",
            "gender",
            "Ethnicity",
            "Date-of-Birth",
            "Referral NFA?",
        ]
    )
    ws.append(["05/03/2024", "x", "00123", "b) Female", "k) APKN", 41000, "No"])  # text, serial
    ws.append([datetime(2024, 3, 6), "y", 124.0, "Male", "#N/A", "#N/A", "Yes"])
    path = tmp_path / "annex.xlsx"
    wb.save(path)
    tables, files, mapping, findings = read_annex_a(path)
    r = tables["referrals"]
    assert r["referral_date"].tolist() == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")]
    kids = tables["children"].set_index("child_id")
    assert kids.loc["00123", "date_of_birth"] == pd.Timestamp("2012-04-01")  # Excel serial 41000
    assert kids.loc["00123", "sex"] == "F" and kids.loc["00123", "ethnicity"] == "APKN"
    assert pd.isna(kids.loc["124", "ethnicity"])  # #N/A is missing, and 124.0 reads as 124
    assert r["nfa"].tolist() == [False, True]
    assert any("Extra col" in f.get("detail", "") for f in findings)


@pytest.mark.skipif(not ANNEX.exists(), reason=EXTERNAL_MISSING)
def test_external_annex_a(tmp_path):
    out = tmp_path / "canonical"
    assert main(["import", "annex_a", str(ANNEX), "--out", str(out)]) == 0
    report = json.loads((out / "import_report.json").read_text())
    by_source = {m["source"]: m for m in report["mapping"]}
    assert (
        by_source["List 1"]["rows_mapped"] == 0
        and "no canonical table" in by_source["List 1"]["detail"]
    )
    assert by_source["List 3"]["rows_mapped"] == by_source["List 3"]["rows_read"] > 0
    t, dq = load_tables(out)
    assert dq.unusable == []
    assert len(t["referrals"]) > 0 and len(t["cp_plans"]) > 0 and len(t["adoptions"]) > 0
    # read = kept + rejected, and the workbook's deliberate errors are findings, not crashes
    s = dq.summary
    assert (s["rows_read"] == s["rows_kept"] + s["rows_rejected"]).all()


def test_unreadable_workbook_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    assert main(["import", "annex_a", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.xlsx" in err


def test_cells_are_read_once_per_value_with_booleans_kept_apart():
    # True == 1 == 1.0 in Python and they hash alike: a per-value cache must not merge them
    values = pd.Series([True, 1, 1.0, "1", None, False, 0, 2.5, ""], dtype=object)
    got = _per_value(values, _cell).tolist()
    assert got == [True, 1, 1, "1", None, False, 0, 2.5, None]
    assert [type(v) for v in got[:3]] == [bool, int, int]
    assert _per_value(values, _code).tolist() == [
        "True",
        "1",
        "1",
        "1",
        None,
        "False",
        "0",
        "2.5",
        None,
    ]
    assert _per_value(pd.Series([], dtype=object), _code).tolist() == []


def test_reader_sees_every_row_and_the_declared_size(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "List 3"
    ws["C3"] = "Child Unique ID"  # data away from A1, a merged title above it
    ws["C1"] = "title"
    ws.merge_cells("C1:D1")
    for i in range(40):
        ws.cell(row=4 + i, column=3, value=f"C{i}")
        ws.cell(row=4 + i, column=4, value=i)
    wb.create_chartsheet("Chart")
    path = tmp_path / "a.xlsx"
    wb.save(path)
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stale, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', data)
            dst.writestr(item, data)
    for book, declared in ((path, "C1:D43"), (stale, "A1:B2")):
        sheets = read_sheets(book)
        assert [(name, size) for name, _, size in sheets] == [("List 3", declared)]  # no chart
        rows = sheets[0][1]
        assert len(rows) == 43 and rows[0][:3] == ["", "", "title"]  # from A1, merged: top-left
        assert rows[-1][2:] == ["C39", 39.0]


@pytest.mark.skipif(not ANNEX.exists(), reason=EXTERNAL_MISSING)
def test_reader_reads_the_sample_as_openpyxl_does():
    """python-calamine against openpyxl's full read (data_only): the same cells, except
    that blanks and error cells (#N/A) are None, numbers are whole where openpyxl gave
    ints, and date cells may be dates rather than midnight datetimes."""
    ob = openpyxl.load_workbook(ANNEX, data_only=True, read_only=True)
    ours = {name: rows for name, rows, _ in read_sheets(ANNEX)}
    assert list(ours) == [ws.title for ws in ob.worksheets]
    for ws in ob.worksheets:
        ws.reset_dimensions()
        theirs = [list(r) for r in ws.iter_rows(values_only=True)]
        mine = [[_cell(c) for c in r] for r in ours[ws.title]]
        assert len(mine) == len(theirs)
        for a, b in zip(theirs, mine, strict=True):
            a = [None if v in ("", "#N/A") else v for v in a]
            b = [datetime.combine(v, datetime.min.time()) if type(v) is date else v for v in b]
            a, b = a + [None] * (len(b) - len(a)), b + [None] * (len(a) - len(b))  # ragged
            assert a == b, ws.title
    ob.close()
