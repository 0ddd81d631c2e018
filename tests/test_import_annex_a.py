"""Ofsted Annex A workbook into canonical tables (audit_lib.sources.annex_a)."""

from __future__ import annotations

import json
from datetime import datetime

import openpyxl
import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.sources.annex_a import _code, read_annex_a

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
