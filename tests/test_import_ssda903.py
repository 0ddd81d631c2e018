"""SSDA903 CSVs into canonical tables (audit_lib.sources.ssda903)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.sources.ssda903 import read_903, to_canonical

from .conftest import EXTERNAL, EXTERNAL_MISSING

FAKE = EXTERNAL / "ssda903-fake"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_two_years_merge_and_codes(tmp_path):
    y1 = tmp_path / "2023"
    y2 = tmp_path / "2024"
    y1.mkdir(), y2.mkdir()
    write(
        y1 / "a.csv", "CHILD,SEX,DOB,ETHNIC,UPN\n007,1,01/02/2015,WBRI,x\n008,2,03/04/2016,BAFR,y\n"
    )
    write(y2 / "b.csv", "CHILD,SEX,DOB,ETHNIC\n007,1,01/02/2015,WBRI\n")
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,EXTRA\n"
    write(y1 / "e.csv", ep + "007,01/06/2022,S,C2,N1,U4,PR1,,,,z\n", "cp1252")
    write(y2 / "e.csv", ep + "007,01/06/2022,S,C2,N1,U4,PR1,01/09/2023,E4A,,z\n")
    write(y2 / "notes.csv", "foo,bar\n1,2\n")
    res = read_903(sorted(y1.glob("*.csv")) + sorted(y2.glob("*.csv")))
    files = {f["file"].split("/")[-1] + f["file"].split("/")[-2]: f for f in res.files}
    assert (
        files["notes.csv2024"]["table"] is None
        and "not recognised" in files["notes.csv2024"]["error"]
    )
    assert files["e.csv2023"]["unrecognised_columns"] == ["EXTRA"]
    tables, mapping = to_canonical(res)
    kids = tables["children"].set_index("child_id")
    assert sorted(kids.index) == ["007", "008"]  # leading zeros kept, repeats merged
    assert kids.loc["007", "sex"] == "M" and kids.loc["008", "sex"] == "F"
    assert kids.loc["008", "date_of_birth"] == pd.Timestamp("2016-04-03")
    e = tables["cla_episodes"]
    assert len(e) == 1 and e["reason_ceased"].iloc[0] == "E4A"  # the later return's version
    m = {r["source"]: r for r in mapping}
    assert m["episodes"]["rows_read"] == 2 and m["episodes"]["repeats_merged"] == 1


@pytest.mark.skipif(not FAKE.exists(), reason=EXTERNAL_MISSING)
def test_external_903_fake_imports_and_validates(tmp_path, capsys):
    out = tmp_path / "canonical"
    assert main(["import", "ssda903", str(FAKE), "--out", str(out)]) == 0
    report = json.loads((out / "import_report.json").read_text())
    tables = {f["table"] for f in report["files"]}
    assert {"header", "episodes", "reviews", "ad1", "placed_for_adoption", "uasc"} <= tables
    mapped = {r["source"]: r for r in report["mapping"]}
    assert mapped["oc2"]["rows_mapped"] == 0 and "not imported" in mapped["oc2"]["detail"]
    for r in report["mapping"]:
        if r["rows_mapped"]:  # mapped tables account for every row read
            assert r["rows_read"] == r["rows_mapped"] + r["repeats_merged"]
    ep = mapped["episodes"]
    assert ep["rows_read"] == 5050 == ep["rows_mapped"] + ep["repeats_merged"]
    val = {s["table"]: s for s in report["validation"]["summary"]}["cla_episodes"]
    assert val["rows_read"] == val["rows_kept"] + val["rows_rejected"] == ep["rows_mapped"]
    t, dq = load_tables(out)
    assert dq.unusable == []
    raw = pd.read_csv(FAKE / "header.csv", dtype=str)
    assert len(t["children"]) == raw["CHILD"].nunique()
    assert "rows_read" in capsys.readouterr().out


def test_unreadable_or_missing_input_is_one_line(tmp_path, capsys):
    assert (
        main(["import", "ssda903", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    )
    assert "no such file" in capsys.readouterr().err


@pytest.mark.skipif(not FAKE.exists(), reason=EXTERNAL_MISSING)
def test_audit_run_on_an_imported_903_folder(tmp_path, warm_pool):
    from audit_lib.run import RunError, run

    data = tmp_path / "canonical"
    assert main(["import", "ssda903", str(FAKE), "--out", str(data)]) == 0
    # the period comes from the data (the return's collection year ends 31 March 2018);
    # a period after the data is refused in one line
    with pytest.raises(RunError, match="after the data end"):
        run(data=data, out=tmp_path / "reports", period="2026-10", pool=warm_pool)
    result = run(data=data, out=tmp_path / "reports", pool=warm_pool)
    assert result.period == "2018-03"
    status = {n.name: n.status for n in result.notebooks}
    assert status["timeliness"] == "ok" and status["permanence"] == "ok"
    assert status["plan_quality"] == "skipped" and status["disproportionality"] == "skipped"
    assert result.ok
    page = (tmp_path / "reports" / "2018-03" / "disproportionality.html").read_text()
    assert "needs table" in page and "population" in page


def test_903_dates_day_first_else_as_written(tmp_path):
    """dd/mm/YYYY in full is read day first; anything else as before (1/2/2016 day
    first, ISO, a time dropped); impossible or unreadable dates are left blank and
    reported."""
    from audit_lib.sources.ssda903 import _dates

    text = ["15/02/2016", "1/2/2016", "2016-02-15", "2016-02-15T10:00", "31/02/2016", "", "x"]
    dates, written = _dates(pd.Series(text))
    assert dates.tolist()[:4] == [
        pd.Timestamp("2016-02-15"),
        pd.Timestamp("2016-02-01"),
        pd.Timestamp("2016-02-15"),
        pd.Timestamp("2016-02-15"),
    ]
    assert dates[4:].isna().all()
    assert written.tolist() == [True] * 5 + [False, True]


@pytest.mark.parametrize("bad_row", [0, 7])
def test_a_row_with_more_fields_than_the_header_is_rejected_not_the_file(tmp_path, bad_row):
    """One row with an extra field (a stray comma) is rejected and counted: before, in
    the middle of a file it made the whole file unreadable (every episode dropped,
    exit 0), and as the first row it shifted every column (dates read as child ids)."""
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    rows = [f"{i:03d},01/02/2020,S,C2,N1,U4,PR1,,," for i in range(12)]
    rows[bad_row] += ",x"
    write(tmp_path / "episodes.csv", ep + "\n".join(rows) + "\n")
    write(tmp_path / "reviews.csv", "CHILD,DOB,REVIEW\n001,01/01/2015,01/05/2020\n")
    res = read_903([tmp_path / "episodes.csv", tmp_path / "reviews.csv"])
    tables, mapping = to_canonical(res)
    e = tables["cla_episodes"]
    assert sorted(e["child_id"]) == [f"{i:03d}" for i in range(12) if i != bad_row]
    assert (e["episode_start"] == pd.Timestamp("2020-02-01")).all()
    m = {r["source"]: r for r in mapping}
    assert (m["episodes"]["rows_read"], m["episodes"]["rows_rejected"]) == (12, 1)
    assert "1 malformed row(s) rejected" in m["episodes"]["detail"]
    assert (m["reviews"]["rows_read"], m["reviews"]["rows_rejected"]) == (1, 0)
    (f,) = [f for f in res.findings if "more fields than the header" in f["finding"]]
    assert f["file"] == "episodes.csv" and f"{bad_row:03d},01/02/2020" in f["detail"]


def test_last_years_reviews_among_this_years_files_are_a_warning(tmp_path):
    """A folder is one return: a reviews file whose latest review is in an earlier
    collection year than the folder's episodes takes the folder's date, as before, and
    now says so (every review of the year would otherwise look missed, without a word)."""
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    write(
        tmp_path / "episodes.csv",
        ep + "1,01/02/2024,S,C2,N1,U4,PR1,,,\n1,01/06/2025,P,C2,N1,U5,PR1,,,\n",
    )
    write(
        tmp_path / "reviews.csv",
        "CHILD,DOB,REVIEW\n1,01/01/2015,01/03/2024\n1,01/01/2015,20/08/2024\n",
    )
    res = read_903([tmp_path / "episodes.csv", tmp_path / "reviews.csv"])
    (f,) = [f for f in res.findings if "another year" in f["finding"]]
    assert f["file"] == "reviews.csv" and f["severity"] == "warning"
    assert "latest review (2024-08-20)" in f["finding"] and "ends 2026-03-31" in f["finding"]
    assert {x["reference_date"] for x in res.files} == {"2026-03-31"}
    write(tmp_path / "reviews.csv", "CHILD,DOB,REVIEW\n1,01/01/2015,01/05/2025\n")
    res = read_903([tmp_path / "episodes.csv", tmp_path / "reviews.csv"])
    assert not [f for f in res.findings if "another year" in f["finding"]]


def test_an_episode_start_typed_decades_ahead_does_not_date_the_return(tmp_path):
    """DECOM 26/06/2052 for 2025 made the return's date 31 March 2053 (and the default
    period March 2053). A start years after every other date of its file is left out
    of the file's date, with a warning; validation still reports its row."""
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    rows = [f"{i},01/0{1 + i % 9}/2025,S,C2,N1,U4,PR1,,," for i in range(10)]
    rows.append("10,26/06/2052,P,C2,N1,U5,PR1,14/08/2025,X1,")
    write(tmp_path / "episodes.csv", ep + "\n".join(rows) + "\n")
    res = read_903([tmp_path / "episodes.csv"])
    (f,) = [f for f in res.findings if "typed wrongly" in f["finding"]]
    assert f["detail"] == "1 in episodes.csv, e.g. 2052-06-26" and f["severity"] == "warning"
    assert (
        res.files[0]["reference_date"] == "2026-03-31"
        and res.files[0]["latest_event"] == "2025-09-01"
    )
    write(
        tmp_path / "episodes.csv", ep + "\n".join(rows[:-1]) + "\n1,01/06/2026,P,C2,N1,U5,PR1,,,\n"
    )
    res = read_903([tmp_path / "episodes.csv"])  # nine months on: a later year, not a typo
    assert res.files[0]["reference_date"] == "2027-03-31"
    assert not [f for f in res.findings if "typed wrongly" in f["finding"]]


def test_rows_ending_in_a_trailing_comma_are_read_without_it(tmp_path):
    """An export that ends every row with a comma the header lacks: the empty extra field
    is dropped and every row read (it had made every row 'malformed' and rejected); a
    row whose extra field holds something is still rejected and counted."""
    ep = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\r\n"
    rows = [f"{i:03d},01/02/2020,S,C2,N1,U4,PR1,,,," for i in range(12)]
    rows[5] += ",x"
    write(tmp_path / "episodes.csv", ep + "\r\n".join(rows) + "\r\n")
    res = read_903([tmp_path / "episodes.csv"])
    tables, mapping = to_canonical(res)
    e = tables["cla_episodes"]
    assert sorted(e["child_id"]) == [f"{i:03d}" for i in range(12) if i != 5]
    assert (e["placement_type"] == "U4").all() and e["reason_ceased"].isna().all()
    m = {r["source"]: r for r in mapping}
    assert (m["episodes"]["rows_read"], m["episodes"]["rows_rejected"]) == (12, 1)
    assert any("11 row(s) end in empty fields" in f["finding"] for f in res.findings)
