"""Readers of the statutory returns, each producing canonical tables.

``ssda903`` (children looked after CSVs) and ``cin_census`` (CIN census XML); Annex A is
still to come. ``merge_into`` writes a source's tables into a canonical folder, merging
with what another source already put there.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..load import write_csv
from ..model import TABLES

__all__ = ["merge_into"]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    buf = io.StringIO()
    tmp = frame.copy()
    for name, col in tmp.items():
        if TABLES_KIND.get(name) == "date":
            tmp[name] = pd.to_datetime(col, errors="coerce")
    write_csv_like(tmp, buf)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False)


TABLES_KIND = {c.name: c.kind for t in TABLES.values() for c in t.columns}


def write_csv_like(frame: pd.DataFrame, buf) -> None:
    out = frame.copy()
    for name, col in out.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
            out[name] = col.map({True: "true", False: "false"})
    out.to_csv(buf, index=False, lineterminator="\n")


def merge_into(folder: Path, tables: dict[str, pd.DataFrame]) -> list[dict]:
    """Write ``tables`` into ``folder`` as canonical CSVs; where a table is already there
    (from another source), rows are merged on the table's key and children whose dates of
    birth disagree between the sources are reported. Returns the findings."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    findings = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            write_csv(frame, path)
            continue
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
        new = _as_text(frame)
        key = list(TABLES[name].key)
        if name == "children":
            both = old.merge(new, on="child_id", suffixes=("_old", "_new"))
            clash = both[
                (both["date_of_birth_old"] != both["date_of_birth_new"])
                & (both["date_of_birth_old"] != "")
                & (both["date_of_birth_new"] != "")
            ]
            if len(clash):
                findings.append(
                    {
                        "finding": "children matched on child_id with different dates of birth",
                        "detail": f"{len(clash)} child(ren); the existing record kept",
                    }
                )
            findings.append(
                {
                    "finding": "children matched across sources on child_id",
                    "detail": f"{len(both)} matched, {len(new) - len(both)} new",
                }
            )
        merged = pd.concat([old, new], ignore_index=True).drop_duplicates(key, keep="first")
        merged.to_csv(path, index=False, lineterminator="\n")
    return findings
