"""Several years' returns into one folder: the newest return wins, whatever the order.

The returns are built from the synthetic borough with the exporters, one per collection
year (records open during the year; outcomes after the year end not yet known), so a
care episode or referral open at one year end and closed in the next changes between
returns.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.report import resolve_period
from audit_lib.sources.export import collection_year, to_cin_census, to_ssda903

YEARS = ["2024-03-31", "2025-03-31", "2026-03-31"]


def _folder(path):
    """Every file of a canonical folder except the per-import reports."""
    return {
        p.name: p.read_text()
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.startswith("import_report")
    }


END = {"cla_episodes": "episode_end", "referrals": "closure_date"}


def _closed_in_folder(years, table, key, folder):
    """Records open at 31 March 2025 and closed in 2025-26 are closed in ``folder``.
    Returns them as the folder holds them."""
    end = END[table]
    old, new = years["2025-03-31"][table], years["2026-03-31"][table]
    closed = new[new[end].notna()].merge(old[old[end].isna()][key], on=key)
    assert len(closed) > 0
    got = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
    got = got.merge(closed[key].astype(str))
    assert len(got) == len(closed) and (got[end] != "").all()
    return got


@pytest.fixture(scope="module")
def returns(small_tables, tmp_path_factory):
    t, _ = small_tables
    root = tmp_path_factory.mktemp("returns")
    out = {}
    for ye in YEARS:
        year = collection_year(t, ye)
        to_ssda903(year, root / f"903-{ye[:4]}")
        to_cin_census(year, root / f"cin-{ye[:4]}.xml", int(ye[:4]), reference_date=ye)
        out[ye] = year
    return root, out


def _import(fmt, paths, out, capsys):
    assert main(["import", fmt, *map(str, paths), "--out", str(out)]) in (0, 1)
    capsys.readouterr()
    return json.loads((out / "import_report.json").read_text())


def test_903_any_order_or_all_at_once_gives_the_same_folder(returns, tmp_path, capsys):
    root, years = returns
    folders = [root / f"903-{ye[:4]}" for ye in YEARS]
    at_once = tmp_path / "at_once"
    _import("ssda903", folders, at_once, capsys)
    forward, backward = tmp_path / "forward", tmp_path / "backward"
    reports = [_import("ssda903", [f], forward, capsys) for f in folders]
    for f in [folders[2], folders[0], folders[1]]:
        _import("ssda903", [f], backward, capsys)
    assert _folder(at_once) == _folder(forward) == _folder(backward)

    meta = json.loads((at_once / "extract.json").read_text())
    assert meta["extract_date"] == "2026-03-31"
    assert "collection year" in meta["date_source"]
    assert [r["reference_date"] for r in meta["returns"]] == YEARS
    _, dq = load_tables(at_once)
    assert dq.extract_date == pd.Timestamp("2026-03-31")
    # 31 March is the last day of March: March is complete and is the default period
    assert resolve_period(None, dq.extract_date) == "2026-03"

    # an episode open at 31 March 2025 and closed in 2025-26 is closed, whatever the order
    closed = _closed_in_folder(years, "cla_episodes", ["child_id", "episode_start"], backward)

    # the 2025-26 import reports what it added, updated (the closures) and left unchanged
    third = {c["table"]: c for c in reports[2]["changes"]}["cla_episodes"]
    assert third["added"] > 0 and third["updated"] >= len(closed) and third["unchanged"] > 0
    first = {c["table"]: c for c in reports[0]["changes"]}["cla_episodes"]
    assert first["added"] == len(years["2024-03-31"]["cla_episodes"]) and first["updated"] == 0


def test_cin_any_order_or_all_at_once_gives_the_same_folder(returns, tmp_path, capsys):
    root, years = returns
    files = [root / f"cin-{ye[:4]}.xml" for ye in YEARS]
    at_once = tmp_path / "at_once"
    _import("cin_census", files, at_once, capsys)
    backward = tmp_path / "backward"
    for f in reversed(files):
        _import("cin_census", [f], backward, capsys)
    assert _folder(at_once) == _folder(backward)
    meta = json.loads((at_once / "extract.json").read_text())
    assert meta["extract_date"] == "2026-03-31"
    assert meta["date_source"] == "cin_census: CIN census header ReferenceDate"

    # a referral open at one census and closed by the next is closed in the folder
    got = _closed_in_folder(years, "referrals", ["child_id", "referral_date"], backward)
    # record ids come from the data: the same referral has the same id in every census
    assert got["referral_id"].is_unique
