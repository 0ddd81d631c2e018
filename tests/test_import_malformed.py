"""A corpus of malformed inputs: each gives a finding or a clear error, never a traceback."""

from __future__ import annotations

import shutil
import zipfile

import openpyxl
import pytest

from audit_lib.cli import main

EP = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
HEAD = "CHILD,SEX,DOB,ETHNIC\n"


def _csv(name, text, encoding="utf-8"):
    def make(d):
        (d / name).write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        if name != "header.csv":
            (d / "header.csv").write_text(HEAD + "1,1,01/01/2015,WBRI\n")
        return d

    return make


def _xml(text):
    def make(d):
        p = d / "cin.xml"
        p.write_bytes(text.encode() if isinstance(text, str) else text)
        return p

    return make


def _xlsx(build):
    def make(d):
        p = d / "annex.xlsx"
        build(p)
        return p

    return make


def _book(sheets):
    def build(p):
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows, merge in sheets:
            ws = wb.create_sheet(title)
            for r in rows:
                ws.append(r)
            if merge:
                ws.merge_cells(merge)
        wb.save(p)

    return build


def _truncated_xlsx(p):
    _book([("List 3", [["Child Unique ID", "Date of Referral"], [1, "01/01/2024"]], None)])(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _zip_not_xlsx(p):
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "not a workbook")


CASES = {
    # SSDA903 CSVs
    "903 zero-byte file": ("ssda903", _csv("episodes.csv", b"")),
    "903 truncated mid-row": (
        "ssda903",
        _csv("episodes.csv", EP + "1,01/02/2020,S,C2,N1,U4,PR1,02/0"),
    ),
    "903 header only": ("ssda903", _csv("episodes.csv", EP)),
    "903 unrecognised header": ("ssda903", _csv("episodes.csv", "A,B,C\n1,2,3\n")),
    "903 mixed date formats": (
        "ssda903",
        _csv(
            "episodes.csv",
            EP
            + "1,01/02/2020,S,C2,N1,U4,PR1,,,\n1,2020-03-01,P,C2,N1,U5,PR1,,,\n1,March 2020,P,C2,N1,U5,PR1,,,\n",
        ),
    ),
    "903 bad sex code": ("ssda903", _csv("header.csv", HEAD + "1,7,01/01/2015,WBRI\n")),
    "903 binary garbage": ("ssda903", _csv("episodes.csv", bytes(range(256)) * 4)),
    "903 no CHILD column": (
        "ssda903",
        _csv("episodes.csv", EP.replace("CHILD,", "KID,") + "1,01/02/2020,S,C2,N1,U4,PR1,,,\n"),
    ),
    "903 ragged rows": (
        "ssda903",
        _csv("episodes.csv", EP + "1,01/02/2020,S,C2\n1,01/03/2020,P,C2,N1,U4,PR1,,,,extra,more\n"),
    ),
    "903 unknown codes": ("ssda903", _csv("episodes.csv", EP + "1,01/02/2020,Q,ZZ,N1,Q9,PR1,,,\n")),
    # CIN census XML
    "CIN zero-byte file": ("cin_census", _xml(b"")),
    "CIN truncated XML": (
        "cin_census",
        _xml("<Message><Children><Child><ChildIdentifiers><LAchildID>1</LAch"),
    ),
    "CIN not XML at all": ("cin_census", _xml("CHILD,SEX\n1,2\n")),
    "CIN wrong namespace": (
        "cin_census",
        _xml(
            '<m:Message xmlns:m="urn:other"><m:Children><m:Child><m:ChildIdentifiers><m:LAchildID>9</m:LAchildID><m:PersonBirthDate>2015-01-01</m:PersonBirthDate><m:Sex>1</m:Sex></m:ChildIdentifiers></m:Child></m:Children></m:Message>'
        ),
    ),
    "CIN child without id": (
        "cin_census",
        _xml(
            "<Message><Children><Child><ChildIdentifiers><Sex>1</Sex></ChildIdentifiers></Child></Children></Message>"
        ),
    ),
    "CIN no children": ("cin_census", _xml("<Message><Header/></Message>")),
    "CIN bad dates": (
        "cin_census",
        _xml(
            "<Message><Children><Child><ChildIdentifiers><LAchildID>1</LAchildID><PersonBirthDate>31/02/2015</PersonBirthDate><Sex>1</Sex></ChildIdentifiers><CINdetails><CINreferralDate>yesterday</CINreferralDate></CINdetails></Child></Children></Message>"
        ),
    ),
    # Annex A workbooks
    "Annex A non-xlsx renamed": ("annex_a", _xlsx(lambda p: p.write_text("just text"))),
    "Annex A zero-byte": ("annex_a", _xlsx(lambda p: p.write_bytes(b""))),
    "Annex A zip but not a workbook": ("annex_a", _xlsx(_zip_not_xlsx)),
    "Annex A truncated": ("annex_a", _xlsx(_truncated_xlsx)),
    "Annex A wrong sheet names": (
        "annex_a",
        _xlsx(_book([("Sheet1", [["Child Unique ID"], [1]], None)])),
    ),
    "Annex A missing header row": (
        "annex_a",
        _xlsx(_book([("List 3", [[1, "01/01/2024", "No"], [2, "02/01/2024", "Yes"]], None)])),
    ),
    "Annex A merged header cell": (
        "annex_a",
        _xlsx(
            _book(
                [
                    (
                        "List 3",
                        [["Child Unique ID", None, "Date of Referral"], [1, None, "01/01/2024"]],
                        "A1:B1",
                    )
                ]
            )
        ),
    ),
    "Annex A mixed date formats": (
        "annex_a",
        _xlsx(
            _book(
                [
                    (
                        "List 3",
                        [
                            [
                                "Child Unique ID",
                                "Gender",
                                "Ethnicity",
                                "Date of Birth",
                                "Date of Referral",
                                "Referral NFA?",
                            ],
                            [1, "a) Male", "a) WBRI", 40000, "01/01/2024", "No"],
                            [2, "b) Female", "k) APKN", "2015-01-01", 45000, "No"],
                            [3, "Male", "x) ???", "#N/A", "soon", "maybe"],
                        ],
                        None,
                    )
                ]
            )
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_gives_a_finding_or_a_clear_error(case, tmp_path, capsys):
    fmt, make = CASES[case]
    src = tmp_path / "in"
    src.mkdir()
    target = make(src)
    code = main(
        ["import", fmt, str(target), "--out", str(tmp_path / "out"), "--extract-date", "2026-11-01"]
    )
    captured = capsys.readouterr()
    text = (captured.out + captured.err).lower()
    assert code in (0, 1, 2)
    assert "traceback" not in text
    if code == 2:
        assert captured.err.strip().count("\n") == 0  # one line
        assert captured.err.strip()
    else:
        import json

        report = json.loads((tmp_path / "out" / "import_report.json").read_text())
        flagged = (
            report["findings"]
            or any(f.get("error") or f.get("unrecognised_columns") for f in report["files"])
            or any(f["severity"] in ("error", "warning") for f in report["validation"]["findings"])
        )
        assert flagged, case
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_corpus_has_at_least_twenty_variants():
    assert len(CASES) >= 20
