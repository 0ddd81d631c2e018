"""Loading and validating a canonical data folder (audit_lib.load)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from audit_lib import tablefile
from audit_lib.cli import main
from audit_lib.load import LoadError, load_tables
from audit_lib.model import TABLES


@pytest.fixture
def data(tiny_dir, tmp_path) -> Path:
    """A fresh copy to corrupt."""
    dst = tmp_path / "data"
    shutil.copytree(tiny_dir, dst)
    return dst


def check_invariants(report):
    s = report.summary
    assert (s["rows_read"] == s["rows_kept"] + s["rows_rejected"]).all()
    for name, rej in report.rejected.items():
        assert len(rej) == s.set_index("table").loc[name, "rows_rejected"]
        assert rej["reason"].astype(str).str.len().gt(0).all()


def finding(report, table, check):
    f = report.findings
    return f[(f["table"] == table) & (f["check"] == check)]


def rewrite(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def first_data_line(path: Path) -> str:
    return path.read_text().splitlines()[1]


# --------------------------------------------------------------------------------------


def test_clean_folder_has_no_errors(tiny_dir):
    tables, report = load_tables(tiny_dir)
    check_invariants(report)
    assert report.errors.empty, report.to_text()
    assert report.unusable == []
    assert set(tables) == set(TABLES)
    for name, frame in tables.items():
        assert list(frame.columns) == TABLES[name].column_names
        assert {c: str(t) for c, t in frame.dtypes.items()} == TABLES[name].dtypes
    # ids are text and keep their leading zeros
    assert tables["children"]["child_id"].str.startswith("0").any()


def test_default_synthetic_data_validates_with_zero_errors(default_tables):
    tables, report = default_tables
    check_invariants(report)
    assert report.errors.empty, report.to_text()
    assert (report.summary["status"] == "ok").all(), report.to_text()
    assert len(tables["children"]) > 10_000


def test_1_wrong_header_makes_table_unusable(data):
    path = data / "referrals.csv"
    rewrite(path, "referral_id,child_id,", "referral_id,childid,")
    tables, report = load_tables(data)
    check_invariants(report)
    assert report.unusable == ["referrals"]
    f = finding(report, "referrals", "missing column")
    assert f["column"].iloc[0] == "child_id"
    assert "childid" in finding(report, "referrals", "unrecognised column")["message"].iloc[0]
    assert tables["referrals"].empty
    # the assessments that pointed at those referrals are now orphans, and say so
    assert not finding(report, "assessments", "orphan key").empty
    assert main(["validate", str(data)]) == 1


def test_2_bad_date_rejects_the_row(data):
    path = data / "assessments.csv"
    line = first_data_line(path)
    start = line.split(",")[3]
    rewrite(path, line, line.replace(start, "2023-13-45"))
    _, report = load_tables(data)
    check_invariants(report)
    f = finding(report, "assessments", "unreadable date")
    assert f["rows"].iloc[0] == 1 and "2023-13-45" in f["examples"].iloc[0]
    assert "line 2" in f["examples"].iloc[0]
    assert report.rejected["assessments"]["reason"].iloc[0] == "unreadable date: start_date"
    assert main(["validate", str(data)]) == 0  # a bad row is not a bad table


def test_3_end_before_start(data):
    plans = pd.read_csv(data / "cp_plans.csv", dtype=str, keep_default_na=False)
    i = plans.index[plans["end_date"] != ""][0]
    plans.loc[i, "end_date"] = "2000-01-01"
    plans.to_csv(data / "cp_plans.csv", index=False)
    tables, report = load_tables(data)
    check_invariants(report)
    f = finding(report, "cp_plans", "end before start")
    assert f["rows"].iloc[0] == 1 and f["severity"].iloc[0] == "error"
    assert plans.loc[i, "cp_plan_id"] not in set(tables["cp_plans"]["cp_plan_id"])
    # its reviews are now orphans: rejected with a reason, not dropped silently
    reviews = pd.read_csv(data / "cp_reviews.csv", dtype=str)
    n_reviews = int((reviews["cp_plan_id"] == plans.loc[i, "cp_plan_id"]).sum())
    assert report.summary.set_index("table").loc["cp_reviews", "rows_rejected"] == n_reviews
    if n_reviews:
        assert finding(report, "cp_reviews", "orphan key")["rows"].iloc[0] == n_reviews


def test_4_duplicate_id(data):
    path = data / "assessments.csv"
    lines = path.read_text().splitlines()
    a, b = lines[1].split(","), lines[2].split(",")
    b[0] = a[0]
    lines[2] = ",".join(b)
    path.write_text("\n".join(lines) + "\n")
    tables, report = load_tables(data)
    check_invariants(report)
    f = finding(report, "assessments", "duplicate key")
    assert f["rows"].iloc[0] == 1
    assert (tables["assessments"]["assessment_id"] == a[0]).sum() == 1
    # an exact repeat is named as such
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    _, report = load_tables(data)
    assert finding(report, "assessments", "exact duplicate row")["rows"].iloc[0] == 1


def test_5_unknown_codes(data):
    rewrite(
        data / "children.csv",
        first_data_line(data / "children.csv"),
        first_data_line(data / "children.csv").replace(
            first_data_line(data / "children.csv").split(",")[3], "XXXX"
        ),
    )
    visits = data / "visits.csv"
    line = first_data_line(visits)
    vtype = line.split(",")[2]
    rewrite(visits, line, line.replace(f",{vtype},", ",home,"))
    tables, report = load_tables(data)
    check_invariants(report)
    eth = finding(report, "children", "unknown code")
    assert eth["severity"].iloc[0] == "warning" and "XXXX" in eth["examples"].iloc[0]
    assert "XXXX" in set(tables["children"]["ethnicity"])  # kept as written
    vt = finding(report, "visits", "unknown code")
    assert vt["severity"].iloc[0] == "error"  # visit type drives the timescale: rejected


def test_6_orphan_key(data):
    path = data / "referrals.csv"
    line = first_data_line(path)
    child = line.split(",")[1]
    rewrite(path, line, line.replace(f",{child},", ",9999999,"))
    tables, report = load_tables(data)
    check_invariants(report)
    f = finding(report, "referrals", "orphan key")
    assert f["rows"].iloc[0] == 1
    assert "9999999" not in set(tables["referrals"]["child_id"])


def test_7_empty_file(data):
    (data / "cla_reviews.csv").write_bytes(b"")
    tables, report = load_tables(data)
    check_invariants(report)
    assert report.unusable == ["cla_reviews"]
    assert "empty" in finding(report, "cla_reviews", "unreadable file")["message"].iloc[0]
    assert tables["cla_reviews"].empty and list(tables["cla_reviews"].columns) == [
        "child_id",
        "review_date",
    ]


def test_8_utf8_bom(data):
    path = data / "children.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    tables, report = load_tables(data)
    check_invariants(report)
    assert report.errors.empty
    assert "utf-8-sig" in finding(report, "children", "encoding")["message"].iloc[0]
    assert "child_id" in tables["children"].columns


def test_9_cp1252_text(data):
    path = data / "children.csv"
    text = path.read_text()
    locality = text.splitlines()[1].split(",")[-1]
    path.write_bytes(text.replace(locality, "Café – Bow", 1).encode("cp1252"))
    tables, report = load_tables(data)
    check_invariants(report)
    assert report.errors.empty
    assert finding(report, "children", "encoding")["severity"].iloc[0] == "warning"
    assert "Café – Bow" in set(tables["children"]["locality"])


def test_10_ddmmyyyy_dates(data):
    path = data / "referrals.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    iso = frame["referral_date"].iloc[0]
    frame["referral_date"] = pd.to_datetime(frame["referral_date"]).dt.strftime("%d/%m/%Y")
    frame.to_csv(path, index=False)
    tables, report = load_tables(data)
    check_invariants(report)
    f = finding(report, "referrals", "dd/mm/YYYY date")
    assert f["severity"].iloc[0] == "warning" and f["rows"].iloc[0] == len(frame)
    assert tables["referrals"]["referral_date"].iloc[0] == pd.Timestamp(iso)
    assert report.errors.empty


def test_utf16_file(data):
    path = data / "cp_plans.csv"
    path.write_bytes(path.read_text().encode("utf-16"))
    tables, report = load_tables(data)
    assert report.errors.empty
    assert len(tables["cp_plans"]) > 0


def test_future_and_prebirth_dates(data):
    path = data / "cla_reviews.csv"
    line = first_data_line(path)
    child, date = line.split(",")
    rewrite(path, line, f"{child},2030-01-01")
    children = pd.read_csv(data / "children.csv", dtype=str).set_index("child_id")
    dob = pd.Timestamp(children.loc[child, "date_of_birth"])
    with path.open("a") as fh:
        fh.write(f"{child},{(dob - pd.Timedelta(days=30)).date()}\n")
    _, report = load_tables(data)
    check_invariants(report)
    assert finding(report, "cla_reviews", "date after extract")["rows"].iloc[0] == 1
    assert finding(report, "cla_reviews", "before birth")["severity"].iloc[0] == "error"


def test_malformed_and_blank_rows(data):
    path = data / "cp_reviews.csv"
    with path.open("a") as fh:
        fh.write("CP0000001,2024-01-01,extra,fields\n")
        fh.write(",\n")
    _, report = load_tables(data)
    check_invariants(report)
    assert finding(report, "cp_reviews", "malformed line")["rows"].iloc[0] == 1
    assert finding(report, "cp_reviews", "blank row")["rows"].iloc[0] == 1


def test_missing_optional_and_required_tables(data):
    (data / "case_audits.csv").unlink()
    tables, report = load_tables(data)
    row = report.summary.set_index("table").loc["case_audits"]
    assert row["status"] == "missing" and report.unusable == []
    assert tables["case_audits"].empty
    (data / "children.csv").unlink()
    _, report = load_tables(data)
    assert "children" in report.unusable


def test_parquet_is_read_like_csv(data, tiny_dir):
    frame, _ = load_tables(tiny_dir)
    frame["cla_episodes"].to_parquet(data / "cla_episodes.parquet")
    (data / "cla_episodes.csv").unlink()
    tables, report = load_tables(data)
    assert report.errors.empty
    pd.testing.assert_frame_equal(tables["cla_episodes"], frame["cla_episodes"])


def test_header_variants_are_normalised(data):
    path = data / "cp_plans.csv"
    rewrite(path, "cp_plan_id,child_id,start_date", "CP Plan ID, Child_ID ,Start-Date")
    _, report = load_tables(data)
    assert report.errors.empty
    assert "header normalised" in set(report.findings["check"])


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(LoadError, match="not found"):
        load_tables(tmp_path / "nope")
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "data folder not found" in capsys.readouterr().err


def test_validate_prints_a_readable_table(tiny_dir, capsys, tmp_path):
    assert main(["validate", str(tiny_dir), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "rows_read" in out and "children" in out and "No findings." in out
    assert (tmp_path / "r.json").read_text().startswith("{")


def test_a_table_as_parquet_reads_as_its_csv(tiny_dir, tmp_path):
    # the committed borough keeps its visits as Parquet: the same text, the same table
    from audit_lib.check import _staff_ids
    from audit_lib.tablefile import read_table_text, write_parquet

    data = tmp_path / "data"
    shutil.copytree(tiny_dir, data)
    csv_tables, _ = load_tables(data)
    text = read_table_text(data, "visits")
    write_parquet(csv_tables["visits"], data / "visits.parquet")
    (data / "visits.csv").unlink()
    pd.testing.assert_frame_equal(read_table_text(data, "visits"), text)
    pq_tables, report = load_tables(data)
    pd.testing.assert_frame_equal(pq_tables["visits"], csv_tables["visits"])
    assert report.errors.empty
    # the staff-id check of `audit check` reads the Parquet table too
    workers = set(text["worker_id"]) - {""}
    assert workers and workers <= _staff_ids(data)


def test_written_frames_are_checked_as_their_files(data):
    """load_tables(written=...) checks the frames instead of reading the files back, and
    reports exactly what reading them gives (here with problems to find)."""
    rewrite(data / "children.csv", ",M,", ",X,")
    rewrite(data / "referrals.csv", "20", "2O")  # unreadable dates
    text = {
        n: pd.read_csv(data / f"{n}.csv", dtype=str, keep_default_na=False)
        for n in ("children", "referrals")
    }
    read, by_file = load_tables(data)
    given, in_memory = load_tables(data, written=text)
    assert in_memory.to_dict() == by_file.to_dict()
    assert in_memory.to_text() == by_file.to_text()
    for name in read:
        pd.testing.assert_frame_equal(given[name], read[name])
    for name in by_file.rejected:
        pd.testing.assert_frame_equal(in_memory.rejected[name], by_file.rejected[name])


def test_dates_read_once_per_distinct_text_across_columns(data):
    """A table's date columns are read together; each column keeps its own findings."""
    path = data / "cla_episodes.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "episode_start"] = "05/01/2020"  # day first: 5 January
    frame.loc[0, "episode_end"] = "2020-01-05T10:30:00+01:00"  # a time and zone: dropped
    frame.loc[1, "episode_end"] = "31/02/2020"  # no such day
    frame.to_csv(path, index=False)
    tables, report = load_tables(data, extract_date="2030-01-01")
    check_invariants(report)
    assert finding(report, "cla_episodes", "dd/mm/YYYY date")[
        ["column", "rows"]
    ].values.tolist() == [["episode_start", 1]]
    bad = finding(report, "cla_episodes", "unreadable date")
    assert bad[["column", "rows"]].values.tolist() == [["episode_end", 1]]
    kept = tables["cla_episodes"].set_index(["child_id"])
    first = kept.loc[[frame.loc[0, "child_id"]]]
    assert (first["episode_start"] == pd.Timestamp("2020-01-05")).any()
    assert (first["episode_end"] == pd.Timestamp("2020-01-05")).any()


def test_a_long_first_row_is_malformed_not_an_index(data):
    """pandas reads the first columns as an index when the first data row has more
    fields than the header, shifting every column; it is a malformed line instead, and
    the rows after it keep their own line numbers."""
    path = data / "children.csv"
    text = path.read_text().splitlines()
    first = text[1]
    text[1] = first + ",extra,fields"
    text[2] = text[2].split(",")[0]  # a short row: blank required values
    path.write_text("\n".join(text) + "\n")
    tables, report = load_tables(data)
    check_invariants(report)
    assert finding(report, "children", "malformed line")["rows"].iloc[0] == 1
    assert finding(report, "children", "malformed line")["examples"].iloc[0].startswith(first)
    miss = finding(report, "children", "missing value")
    assert miss["examples"].str.startswith("line 3").all() and (miss["rows"] == 1).all()
    assert finding(report, "children", "unknown code").empty  # no column shifted
    row = report.summary.set_index("table").loc["children"]
    assert row["rows_read"] == len(text) - 1 and row["rows_rejected"] == 2


def test_a_compact_or_zoned_timestamp_is_read_as_its_date(data, monkeypatch):
    path = data / "cla_episodes.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    was = frame.loc[[0, 1], "episode_start"].tolist()
    frame.loc[0, "episode_start"] = was[0].replace("-", "") + "T100000Z"  # compact ISO, UTC
    frame.loc[1, "episode_start"] = was[1].replace("-", "") + "T233000-0500"
    frame.to_csv(path, index=False)
    tables, report = load_tables(data, extract_date="2030-01-01")
    check_invariants(report)
    assert finding(report, "cla_episodes", "unreadable date").empty
    kept = tables["cla_episodes"]
    for i in (0, 1):
        hit = kept[
            (kept["child_id"] == frame.loc[i, "child_id"])
            & (kept["episode_start"] == pd.Timestamp(was[i]))
        ]
        assert len(hit) == 1, (i, was[i])
    # a zone the time-of-day rule did not take off still reads as the date written
    import audit_lib.load as L

    monkeypatch.setattr(L, "date_part", lambda s: s)
    dates, _ = L._read_dates(pd.Series(["2024-01-21T23:30:00-05:00", "2024-01-22", ""]))
    assert dates.tolist()[:2] == [pd.Timestamp("2024-01-21"), pd.Timestamp("2024-01-22")]
    assert pd.isna(dates.iloc[2])


def test_a_short_row_after_a_long_one_is_blank_not_a_traceback(data):
    """A file with a long row further down is read by pandas' Python parser, which
    leaves a short row's missing fields missing, not blank: they are blank values all
    the same (they were a traceback). (That parser's line numbers after a malformed
    line are one short, as they were.)"""
    path = data / "children.csv"
    text = path.read_text().splitlines()
    text[5] += ",extra"
    text[6] = text[6].split(",")[0]
    path.write_text("\n".join(text) + "\n")
    tables, report = load_tables(data)
    check_invariants(report)
    assert finding(report, "children", "malformed line")["rows"].iloc[0] == 1
    miss = finding(report, "children", "missing value")
    assert len(miss) and (miss["rows"] == 1).all()
    assert report.summary.set_index("table").loc["children", "rows_rejected"] == 2


def test_plain_csv_is_read_by_arrow_as_pandas_reads_it():
    """``read_plain_csv`` gives pandas' frame for every CSV it takes (random texts of
    commas, line ends, spaces, tabs, quotes, NULs and text), as the loader and the 903
    reader read them, and leaves the rest to pandas."""
    import io
    import random

    rng = random.Random(16)
    cells = ["", "a", "0012", " b ", "é", "NA", "null", "\t", "x y", "1.5", "-"]
    odd = ['"q"', 'a"b', "\x00", "\r"]
    ends = ["\n", "\n", "\r\n", "\r", "\n\n", "\n \n", "\n\t\n", "\r\n\r\n"]
    headers = ["c0,c0", "c0,,c1", " c0,c1", "c0", "\nc0,c1"]

    def cell() -> str:
        return rng.choice(odd) if rng.random() < 0.02 else rng.choice(cells)

    taken = 0
    for _ in range(1500):
        width = rng.choice([2, 3, 4])
        header = ",".join(f"c{i}" for i in range(width))
        if rng.random() < 0.1:
            header = rng.choice(headers)
        rows = [
            ",".join(cell() for _ in range(width + (rng.random() < 0.05) * rng.choice([-1, 1])))
            for _ in range(rng.randint(0, 5))
        ]
        eol = rng.choice(ends) if rng.random() < 0.3 else "\n"
        text = header + "".join(eol + r for r in rows) + rng.choice(["", eol])
        fast = tablefile.read_plain_csv(text)
        if fast is None:
            continue
        taken += 1
        pd.testing.assert_frame_equal(fast, pd.read_csv(io.StringIO(text), **tablefile.CSV_OPTIONS))
        as_object = pd.read_csv(io.StringIO(text), dtype=object, na_filter=False)  # 903 files
        pd.testing.assert_frame_equal(fast.astype(object), as_object)
    assert 500 < taken < 1400


def test_plain_dates_are_read_as_read_dates_reads_them():
    """``_plain_dates`` reads a column of real YYYY-MM-DD dates as ``_read_dates`` does,
    and declines anything else (invalid days, short forms, times, zones, dd/mm/YYYY,
    dates pandas cannot hold)."""
    import pyarrow as pa

    import audit_lib.load as L

    days = pd.date_range("1678-01-01", "2261-12-31", freq="37D").strftime("%Y-%m-%d")
    good = [*days, "2024-02-29", "2000-02-29", ""]
    text = pa.array(good, pa.large_string())
    dates, day_first = L._read_dates(pd.Series(good, dtype=tablefile.TEXT))
    assert not day_first.any()
    assert (L._plain_dates(text) == dates.to_numpy(dtype="datetime64[ns]")).sum() == len(days) + 2
    odd = ["2023-02-29", "1900-02-29", "2024-1-05", "20240105", "2024-01-05T10:00", "2024-01-05Z"]
    odd += ["05/01/2024", " 2024-01-05", "2024-01-05 ", "1677-12-31", "2262-01-01", "0001-01-01"]
    odd += ["9999-12-31", "2024-13-01", "2024-00-10", "2024-01-32", "x", "+2024-01-05"]
    for value in odd:
        assert L._plain_dates(pa.array(["2024-01-05", value], pa.large_string())) is None, value


def test_plain_whole_numbers_are_read_as_to_numeric_reads_them():
    """``_plain_ints`` casts plain digits as ``pd.to_numeric`` reads them, and declines
    anything else (signs, decimals, exponents, spaces, too many digits)."""
    import numpy as np
    import pyarrow as pa

    import audit_lib.load as L

    values = ["0", "7", "007", "-0", "-12", "999999999999999999", "-999999999999999999", ""]
    text = pa.array(values, pa.large_string())
    blank = np.array([v == "" for v in values])
    fast = L._plain_ints(text, blank)
    series = pd.to_numeric(pd.Series(values, dtype=tablefile.TEXT).where(~blank), errors="coerce")
    pd.testing.assert_extension_array_equal(fast, series.round().astype("Int64").array)
    for value in ["+1", "1.0", "1e3", " 1", "1 ", "0x10", "1_000", "1234567890123456789", "٣"]:
        assert L._plain_ints(pa.array(["1", value]), np.zeros(2, dtype=bool)) is None, value


def test_trailing_commas_on_every_row_are_read_not_rejected(data):
    """Every row of children.csv ends in a comma the header lacks (an export's habit):
    the rows are read as they would be without it, with an info finding saying so."""
    path = data / "children.csv"
    before, _ = load_tables(data)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    after, report = load_tables(data)
    pd.testing.assert_frame_equal(after["children"], before["children"])
    (f,) = finding(report, "children", "trailing empty fields").to_dict("records")
    assert f["severity"] == "info" and f["rows"] == len(lines) - 1
    assert finding(report, "children", "malformed line").empty


@pytest.mark.parametrize(
    "text",
    [
        '"a","b","c"\r\n"1","2, two","3",\r\n"4","5","6",,\r\n',  # every field quoted, CRLF
        'a,b,c\n1,"2, two",3,\n4,5,6,\n',  # one quoted field with a comma
        '\na,b,c\n1,"2, two",3,\n4,5,6\n',  # a blank line before the header
    ],
)
def test_trailing_commas_are_read_in_quoted_files_and_after_a_blank_line(tmp_path, text):
    """Rows ending in empty fields were all rejected where any field was quoted (an
    export quoting every field), and a blank line before the header made the file read
    as 'file is empty'; the rows are read as written, the trailing empty fields
    counted."""
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame, bad, _, _ = tablefile.read_csv_rows(path)
    assert bad == [] and list(frame.columns) == ["a", "b", "c"]
    assert frame.to_numpy().tolist() == [["1", "2, two", "3"], ["4", "5", "6"]]
    assert frame.attrs["trailing_blank_rows"] == (1 if text[0] == "\n" else 2)


def test_a_row_with_text_beyond_the_header_is_still_rejected_beside_trailing_commas(tmp_path):
    """Trailing empty fields are taken off; a row with anything in its extra fields is a
    malformed line (rows read = kept + rejected)."""
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,"x",3,,\n4,5,6,x\n7,8,9,\n10,11,12\n')
    frame, bad, _, _ = tablefile.read_csv_rows(path)
    assert bad == ["4,5,6,x"] and frame["a"].tolist() == ["1", "7", "10"]
    assert frame.attrs["trailing_blank_rows"] == 2
