"""The run's table cache: private, outside the reports, typed round trip, pruned."""

from __future__ import annotations

import os
import stat
import time

import pandas as pd
import pytest

from audit_lib import cache as C
from audit_lib.load import ensure_cached, load_tables
from audit_lib.model import TABLES
from audit_lib.tablefile import read_table_text

from .conftest import DEFAULT_DATA


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_entry_round_trips_every_table_with_its_dtypes(tmp_path, default_tables):
    fresh, report = default_tables  # the session's load, never changed by a test
    entry = ensure_cached(DEFAULT_DATA, tmp_path / "c")
    tables, cached_report = C.read(entry)
    assert set(tables) == set(fresh) == set(TABLES)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(tables[name], frame, check_exact=True)
    pd.testing.assert_frame_equal(cached_report.summary, report.summary)
    pd.testing.assert_frame_equal(cached_report.findings, report.findings)
    assert cached_report.extract_date == report.extract_date
    # load_tables with the cache reads the entry rather than the CSVs
    again, _ = load_tables(DEFAULT_DATA, cache=tmp_path / "c")
    pd.testing.assert_frame_equal(again["visits"], fresh["visits"])


def test_entry_is_private(tiny_dir, tmp_path):
    entry = ensure_cached(tiny_dir, tmp_path / "c")
    assert _mode(entry.parent) == 0o700 and _mode(entry) == 0o700
    files = list(entry.iterdir())
    assert files and all(_mode(p) == 0o600 for p in files)


def test_empty_and_partial_folders_round_trip(tmp_path):
    """A 903-only style folder: most tables absent (empty, typed), one present."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n0000001,M,2015-01-02,WBRI\n0000002,F,2016-03-04,\n"
    )
    fresh, _ = load_tables(data, extract_date="2026-10-31")
    entry = C.entry_path(data, pd.Timestamp("2026-10-31"), tmp_path / "c")
    load_tables(data, extract_date="2026-10-31", cache=tmp_path / "c")
    tables, _ = C.read(entry)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(tables[name], frame, check_exact=True)
    assert "0000001" in tables["children"]["child_id"].tolist()  # leading zeros kept


def test_a_changed_file_is_a_new_entry_and_a_damaged_entry_is_rebuilt(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-02,WBRI\n"
    )
    root = tmp_path / "c"
    first = ensure_cached(data, root)
    (data / "children.csv").write_text(
        "child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-02,WBRI\n2,F,2016-01-02,WBRI\n"
    )
    second = ensure_cached(data, root)
    assert first != second
    (second / "children.arrow").write_bytes(b"not arrow")
    assert C.read(second) is None
    tables, _ = load_tables(data, cache=root)
    assert len(tables["children"]) == 2


def test_prune_keeps_the_newest_and_drops_the_old(tmp_path):
    root = tmp_path / "c"
    now = time.time()
    ages = {"a": 0, "b": 60, "c": 120, "d": 8 * 86400}
    for name, age in ages.items():
        (root / name).mkdir(parents=True)
        os.utime(root / name, (now - age, now - age))
    (root / ".tmp-x").mkdir()
    os.utime(root / ".tmp-x", (now - 7200, now - 7200))
    gone = C.prune(root, keep=2, max_age_days=7, now=now)
    assert {p.name for p in gone} == {"c", "d", ".tmp-x"}
    assert sorted(p.name for p in root.iterdir()) == ["a", "b"]


def test_cache_root_defaults_to_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(C.HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.cache_root() == tmp_path / "xdg" / "audit_lib" / "tables"
    monkeypatch.setenv(C.HOME_ENV, str(tmp_path / "env"))
    assert C.cache_root() == tmp_path / "env"


@pytest.mark.parametrize("bad", ["manifest.json", "report.pkl"])
def test_missing_parts_read_as_absent(tiny_dir, tmp_path, bad):
    entry = ensure_cached(tiny_dir, tmp_path / "c")
    (entry / bad).unlink()
    assert C.read(entry) is None


def test_a_second_read_is_a_private_copy(tiny_dir, tmp_path):
    """A warm kernel reads an entry once; what a notebook changes stays in it."""
    entry = ensure_cached(tiny_dir, tmp_path / "c")
    first, report = C.read(entry)
    expected = first["children"].copy()
    first["children"].loc[:, "sex"] = "U"
    first["visits"].loc[:, "child_id"] = "x"
    report.summary.loc[:, "rows_kept"] = -1
    second, report2 = C.read(entry)
    pd.testing.assert_frame_equal(second["children"], expected)
    assert (second["visits"]["child_id"] != "x").all()
    assert (report2.summary["rows_kept"] >= 0).all()


@pytest.mark.parametrize("memo_bytes", [C.MEMO_MAX_BYTES, 0])  # small entry; large entry
def test_tables_are_converted_when_first_used_and_act_as_a_dict(
    tmp_path, tiny_dir, monkeypatch, memo_bytes
):
    monkeypatch.setattr(C, "MEMO_MAX_BYTES", memo_bytes)
    C._MEMO.clear()
    entry = ensure_cached(tiny_dir, tmp_path / "c")
    C._MEMO.clear()
    tables, _ = C.read(entry)
    assert set(tables) == set(TABLES) and len(tables) == len(TABLES) and "visits" in tables
    assert tables._pending == set(TABLES)  # nothing converted yet
    children = tables["children"]
    assert tables._pending == set(TABLES) - {"children"} and tables["children"] is children
    assert tables.get("children") is children and tables.get("nope", 1) == 1
    plain = dict(tables)  # every table, converted on the way
    assert all(isinstance(v, pd.DataFrame) for v in plain.values()) and not tables._pending
    assert {**tables}.keys() == plain.keys() and list(tables.values())[0] is plain[
        next(iter(plain))
    ]
    assert [k for k, _ in tables.items()] == list(plain) and tables == plain
    again, _ = C.read(entry)
    pd.testing.assert_frame_equal(again["visits"], plain["visits"])
    assert again["visits"] is not plain["visits"]
    assert again.pop("visits") is not None and "visits" not in again
    again["extra"] = children
    assert again["extra"] is children and again.copy()["extra"] is children


def _dirty_copy(source, dest):
    """``source`` with findings of every kind in tables at every depth of the checks
    (children, their referrals and the referrals' assessments, plans and reviews, the
    Parquet visits): unknown codes, unreadable and future dates, blank and malformed
    rows, orphans, duplicates, an extra column and a missing table."""
    import shutil

    shutil.copytree(source, dest)

    def edit(name, change):
        frame = pd.read_csv(dest / f"{name}.csv", dtype=str, keep_default_na=False)
        change(frame)
        frame.to_csv(dest / f"{name}.csv", index=False)

    def children(f):
        f.loc[1:3, "sex"] = "x"
        f.loc[4, "date_of_birth"] = "not a date"
        f.loc[5, "date_of_birth"] = "2099-01-01"
        f["extra"] = "z"

    def referrals(f):
        f.loc[0:1, "child_id"] = "NOPE"
        f.loc[2, "closure_date"] = "2000-01-01"

    edit("children", children)
    edit("referrals", referrals)
    with (dest / "assessments.csv").open("a") as fh:
        fh.write(",,,,,,,,,\n")
    with (dest / "cp_reviews.csv").open("a") as fh:
        fh.write("CPX,2024-01-01,extra,fields\nCPX,2024-01-01\n")
    visits = read_table_text(dest, "visits")
    visits.loc[0, "visit_type"] = "nope"
    (dest / "visits.csv").unlink(missing_ok=True)
    pd.concat([visits, visits.iloc[[3]]]).to_parquet(dest / "visits.parquet", index=False)
    (dest / "case_audits.csv").unlink()
    return dest


def test_an_entry_validated_in_parallel_is_the_one_made_in_one_process(
    tiny_dir, tmp_path, monkeypatch
):
    import audit_lib.load as L

    data = _dirty_copy(tiny_dir, tmp_path / "data")
    fresh, report = load_tables(data)
    monkeypatch.setattr(L, "PARALLEL_MIN_BYTES", 0)  # a pool even for this small folder
    entry = ensure_cached(data, tmp_path / "c", jobs=2)
    tables, cached = C.read(entry)
    assert list(tables) == list(fresh)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(tables[name], frame, check_exact=True)
    assert len(report.findings) > 8 and report.unusable == []
    for part in ("summary", "findings", "coverage"):
        pd.testing.assert_frame_equal(getattr(cached, part), getattr(report, part))
    assert cached.rejected.keys() == report.rejected.keys() >= {"children", "visits"}
    for name, rejected in report.rejected.items():
        pd.testing.assert_frame_equal(cached.rejected[name], rejected)
    assert cached.to_text() == report.to_text()
    monkeypatch.undo()
    one = ensure_cached(data, tmp_path / "one", jobs=2)  # small: one process after all
    for name in fresh:
        assert (one / f"{name}.arrow").read_bytes() == (entry / f"{name}.arrow").read_bytes()


def test_a_stored_table_converts_as_arrow_does_sharing_each_distinct_text(tiny_dir, tmp_path):
    import pyarrow as pa

    entry = ensure_cached(tiny_dir, tmp_path / "c")
    for name in TABLES:
        with pa.memory_map(str(entry / f"{name}.arrow")) as src:
            table = pa.ipc.open_file(src).read_all()
        frame = C.to_pandas(table)
        pd.testing.assert_frame_equal(frame, table.to_pandas(), check_exact=True)
    codes = C.to_pandas(pa.ipc.open_file(str(entry / "visits.arrow")).read_all())
    for col in ("child_id", "visit_type"):
        objects = {id(v) for v in codes[col].dropna()}
        assert len(objects) == codes[col].nunique() < len(codes)


def test_with_table_converts_no_other_table(tmp_path):
    entry = ensure_cached(DEFAULT_DATA, tmp_path / "c")
    tables, _ = C.read(entry)
    episodes = tables["cla_episodes"].head(3)
    out = C.with_table(tables, "cla_episodes", episodes)
    assert out["cla_episodes"] is episodes and set(out) == set(TABLES)
    assert out._pending == set(TABLES) - {"cla_episodes"}
    assert tables._pending == set(TABLES) - {"cla_episodes"}
    assert out["children"] is tables["children"]  # converted once, through ``tables``
    plain = C.with_table({"a": 1}, "b", 2)
    assert plain == {"a": 1, "b": 2} and type(plain) is dict


def test_prune_leaves_an_entry_a_run_holds(tmp_path):
    """Two runs at once: the one that prunes never deletes the tables the other's
    notebooks are still reading (its entry is held with ``in_use``)."""
    root = tmp_path / "cache"
    now = time.time()
    entries = []
    for i in range(4):
        e = root / f"entry{i}"
        e.mkdir(parents=True)
        (e / "manifest.json").write_text("{}")
        os.utime(e, (now - 100 * (4 - i), now - 100 * (4 - i)))  # entry3 newest
        entries.append(e)
    with C.in_use(entries[0]) as held:
        assert held
        gone = C.prune(root, keep=2, now=now)
        assert gone == [entries[1]] and entries[0].is_dir()
    assert C.prune(root, keep=2, now=now) == [entries[0]]
    with C.in_use(entries[0]) as held:  # pruned before it was held: the run rebuilds it
        assert not held


def test_a_reader_holds_its_entry_while_its_tables_can_be_converted(tiny_dir, tmp_path):
    """A notebook's kernel converts its tables lazily, after ``read``: a second run's
    prune in the meantime must not delete them (it did: an nbval kernel failed with
    FileNotFoundError on ``visits.arrow`` while another test's run pruned the cache).
    The entry stays held while any tables read from it may still be converted, even
    after the process has read another entry."""
    import gc

    root = tmp_path / "c"
    first = ensure_cached(tiny_dir, root)
    tables, _ = C.read(first)
    assert C.prune(root, keep=0) == [] and first.is_dir()
    assert len(tables["children"]) > 0  # converted after the prune
    other = tmp_path / "other"
    other.mkdir()
    (other / "children.csv").write_text("child_id,sex,date_of_birth,ethnicity\n1,M,2015-01-02,\n")
    second = ensure_cached(other, root)
    again, _ = C.read(second)  # the kernel moves on, but the first tables are still in use
    assert C.prune(root, keep=0) == [] and first.is_dir()
    assert len(tables["referrals"]) > 0  # still convertible
    del tables
    gc.collect()
    assert C.prune(root, keep=0) == [first] and not first.exists()  # let go: deleted
    assert C.read(first) is None  # gone: load_tables rebuilds it
    assert list(again["children"].columns)[0] == "child_id"  # the second is still readable
