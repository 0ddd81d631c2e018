"""Readers of the statutory returns, each producing canonical tables.

``ssda903`` (children looked after CSVs), ``cin_census`` (CIN census XML) and ``annex_a``
(Ofsted Annex A workbook). Every row a reader returns carries ``_ref``, the reference
date of the return it came from (ISO text). ``merge_into`` writes a source's tables into
a canonical folder, merging with what earlier imports put there.

The merge rule (docs/import.md): rows are matched on the table's key; for each record,
each field takes its value from the newest return (latest reference date) that gives
one. The folder therefore depends only on the set of returns imported, never on the
order: the rows of every import are kept in ``<folder>/.import/<table>.csv`` with their
reference dates, and the canonical tables are rebuilt from them, sorted by key.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..model import TABLES

__all__ = ["REF", "collection_year_end", "merge_into", "newest", "write_extract"]

#: the column carrying each row's reference date (ISO text) until it is merged
REF = "_ref"
#: the hidden folder of provenance rows inside a canonical folder
STORE = ".import"
#: the care episodes' fields that give an adoption's dates (``finalise``)
EPISODE_FIELDS = (
    "child_id",
    "episode_start",
    "episode_end",
    "legal_status",
    "placement_type",
    "reason_ceased",
)


def collection_year_end(dates: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """The 31 March on or after each date: the end of its DfE collection year."""
    d = pd.to_datetime(dates)
    if isinstance(d, pd.Timestamp):
        year = d.year + (1 if (d.month, d.day) > (3, 31) else 0)
        return pd.Timestamp(year=year, month=3, day=31)
    after = (d.dt.month > 3).astype("Int64")
    year = d.dt.year.astype("Int64") + after
    return pd.to_datetime(year.astype("string") + "-03-31", errors="coerce")


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as text, the way it is written to CSV: ISO dates, true/false, "" missing."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            iso = np.datetime_as_string(col.to_numpy(dtype="datetime64[D]"), unit="D")
            iso = iso.astype(object)
            iso[col.isna().to_numpy()] = ""
            out[name] = pd.Series(iso, index=col.index)
        elif pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
            out[name] = col.map({True: "true", False: "false"}).astype(object).fillna("")
        elif col.dtype == object and pd.api.types.infer_dtype(col, skipna=False) in (
            "string",
            "empty",
        ):
            out[name] = col  # already text
        else:
            text = col.astype("string").astype(object)
            out[name] = text.where(col.notna(), "")
    return pd.DataFrame(out, index=frame.index)


def _ascending(frame: pd.DataFrame, key: list[str]) -> bool:
    """Whether each row's key is above the one before (text compared as text, dates as
    dates), so that the keys are unique and sorting by them changes nothing. False
    where a key is missing or of another kind: sorting decides then."""
    above = np.zeros(max(len(frame) - 1, 0), dtype=bool)  # decided by an earlier column
    tied = ~above
    for c in key:
        values = frame[c].to_numpy()
        if values.dtype.kind == "M":
            if np.isnat(values).any():
                return False
        elif pd.api.types.infer_dtype(values, skipna=False) != "string":
            return False
        before, after = values[:-1], values[1:]
        above |= tied & (before < after)
        tied &= before == after
    return bool(above.all())


def newest(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """One row per key: each field from the newest row (by ``_ref``) that gives a value.

    Ties on ``_ref`` are broken by the values themselves, so the result does not depend on
    the order of the rows. ``frame`` may be text ("" missing) or typed (NA missing); the
    result keeps its dtypes and is sorted by key. Only keys that repeat are grouped.
    """
    frame = frame.reset_index(drop=True)
    if frame.empty or _ascending(frame, key):
        return frame
    cols = list(frame.columns)
    repeats = frame.duplicated(key, keep=False).to_numpy()
    out = frame
    if repeats.any():
        out = frame[~repeats]
        rep = frame[repeats]
        text = _text(rep)
        order = text.sort_values([REF] + [c for c in cols if c != REF], kind="stable").index
        is_text = all(rep[c].dtype == object for c in cols) and text.equals(rep)
        ordered = rep.loc[order].replace("", None) if is_text else rep.loc[order]
        merged = ordered.groupby(key, sort=False, dropna=False).last().reset_index()[cols]
        if is_text:
            merged = merged.fillna("").astype(str)
        out = pd.concat([out, merged.astype(rep.dtypes.to_dict(), errors="ignore")])
    return out.sort_values(key, kind="stable", na_position="first").reset_index(drop=True)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A file beside ``path`` to write, renamed over ``path`` when the block ends (and
    removed if it fails), so that an import that stops half-way (Ctrl-C, a full disk)
    never leaves a table, the store of earlier imports or extract.json half written.
    A file replaced keeps its permissions (case data made private stays private), also
    while it is written."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if path.exists():
            tmp.touch(mode=0o600)  # then opened for writing: its mode stays
            shutil.copymode(path, tmp)
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(frame: pd.DataFrame, path: Path, chunk: int = 100_000) -> bool:
    """Write a table of text (every value a str) as ``frame.to_csv(path, index=False,
    lineterminator="\\n")`` writes it, byte for byte (``csv_text``), in chunks of rows;
    whole or not at all (:func:`replacing`).

    Returns whether reading the file back (``load``) gives ``frame`` itself: the text
    holds no quote (nothing needed quoting), carriage return or NUL, and every line is a
    row with a comma in it."""
    rows = frame.to_numpy(dtype=object)
    plain = len(frame.columns) > 1
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, max(len(rows), 1), chunk):
            lines = rows[start : start + chunk].tolist()
            text = csv_text([list(frame.columns)] + lines if start == 0 else lines)
            plain = plain and not any(c in text for c in '"\r\x00')
            fh.write(text)
    return plain


def csv_text(rows: list[list]) -> str:
    """Rows as the ``csv`` module writes them (as pandas' ``to_csv`` does: minimal
    quoting, "\\n" line ends). Rows of two or more fields, none holding a comma, quote or
    line break, are joined with commas directly, several times faster; others go through
    the module."""
    width = len(rows[0]) if rows else 0
    try:
        text = "\n".join(map(",".join, rows)) + "\n" if rows else ""
    except TypeError:  # a value that is not text
        text = None
    if (
        text is None
        or width < 2
        or '"' in text
        or "\r" in text
        or text.count("\n") != len(rows)
        or text.count(",") != len(rows) * (width - 1)
    ):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        text = buf.getvalue()
    return text


def _read_store(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / STORE / f"{name}.csv"
    if path.is_file():
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    legacy = folder / f"{name}.csv"  # a folder written before reference dates were kept
    if legacy.is_file():
        return pd.read_csv(legacy, dtype=str, keep_default_na=False).assign(**{REF: ""})
    return None


def merge_into(
    folder: Path, tables: dict[str, pd.DataFrame]
) -> tuple[list[dict], list[dict], dict[str, pd.DataFrame]]:
    """Merge ``tables`` (each with a ``_ref`` column) into the canonical ``folder``.

    Returns (findings, changes, written): ``changes`` has one row per table with the
    records ``added`` (key new to the folder), ``updated`` (a field changed) and
    ``unchanged``; ``written`` holds each table as its CSV now holds it (text), where
    reading the file back gives that frame (``write_text``), so that ``finalise`` and
    the validation need not read back what was just written.
    """
    folder = Path(folder)
    (folder / STORE).mkdir(parents=True, exist_ok=True)
    findings: list[dict] = []
    changes: list[dict] = []
    written: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        table = TABLES[name]
        key = list(table.key)
        cols = table.column_names + [REF]
        new = _text(frame if list(frame.columns) == cols else frame.reindex(columns=cols))
        new_records = newest(new, key)
        old = _read_store(folder, name)
        before = None
        if old is not None:
            old = old.reindex(columns=cols, fill_value="")
            before = newest(old, key)
            if name == "children":
                findings += _dob_clash(before, new_records)
            stored = pd.concat([old, new], ignore_index=True).drop_duplicates()
            merged = newest(stored, key)
        elif len(new_records) == len(new):
            # nothing to merge with and no key repeated: every row is a record, already
            # sorted by key (text holds no NA, so sorting by key and _ref is the same)
            stored = merged = new_records
        else:
            stored, merged = new.drop_duplicates(), new_records
        if stored is not merged:
            stored = stored.sort_values(key + [REF], kind="stable")
        changes.append(_changes(name, key, before, merged, new_records))
        write_text(stored, folder / STORE / f"{name}.csv")
        canonical = merged[table.column_names]
        if write_text(canonical, folder / f"{name}.csv"):
            written[name] = canonical
    return findings, changes, written


def _dob_clash(old: pd.DataFrame, new: pd.DataFrame) -> list[dict]:
    both = old.merge(new, on="child_id", suffixes=("_old", "_new"))
    clash = both[
        (both["date_of_birth_old"] != both["date_of_birth_new"])
        & (both["date_of_birth_old"] != "")
        & (both["date_of_birth_new"] != "")
    ]
    out = [
        {
            "finding": "children matched across sources on child_id",
            "detail": f"{len(both)} matched, {len(new) - len(both)} new",
        }
    ]
    if len(clash):
        out.append(
            {
                "finding": "children matched on child_id with different dates of birth",
                "detail": f"{len(clash)} child(ren); the newer return's kept",
            }
        )
    return out


def _changes(
    name: str, key: list[str], before: pd.DataFrame | None, after: pd.DataFrame, new: pd.DataFrame
) -> dict:
    """Records of ``new`` added to, updated in or unchanged in the folder."""
    if before is None or before.empty:
        return {"table": name, "added": len(new), "updated": 0, "unchanged": 0}
    fields = TABLES[name].column_names

    def keyed(f: pd.DataFrame) -> pd.DataFrame:
        k = f[key[0]].astype(str).str.cat([f[c].astype(str) for c in key[1:]], sep="\x1f")
        return f[fields].set_axis(k.to_numpy(), axis=0)

    b, a, n = keyed(before), keyed(after), keyed(new)
    known = n.index.isin(b.index)
    k = n.index[known]
    unchanged = int((a.loc[k].to_numpy() == b.loc[k].to_numpy()).all(axis=1).sum())
    return {
        "table": name,
        "added": int((~known).sum()),
        "updated": len(k) - unchanged,
        "unchanged": unchanged,
    }


def write_extract(folder: Path, returns: list[dict], given: str | None = None) -> dict:
    """Record the returns imported into ``folder`` and the folder's extract date.

    ``returns``: one dict per return (format, reference_date, date_source, data_start,
    files). The extract date is the latest reference date, or ``given`` (--extract-date).
    Written to ``extract.json``; returns what was written.
    """
    path = Path(folder) / "extract.json"
    known: list[dict] = []
    if path.is_file():
        try:
            known = json.loads(path.read_text()).get("returns", [])
        except (ValueError, AttributeError):
            known = []
    seen = {json.dumps(r, sort_keys=True) for r in known}
    known += [r for r in returns if json.dumps(r, sort_keys=True) not in seen]
    known = sorted(known, key=lambda r: json.dumps(r, sort_keys=True))
    dated = [r for r in known if r.get("reference_date")]
    meta: dict = {"returns": known}
    if given:
        meta["extract_date"] = f"{pd.Timestamp(given):%Y-%m-%d}"
        meta["date_source"] = "--extract-date given to audit import"
    elif dated:
        last = max(dated, key=lambda r: r["reference_date"])
        meta["extract_date"] = last["reference_date"]
        meta["date_source"] = f"{last['format']}: {last['date_source']}"
    starts = [r["data_start"] for r in known if r.get("data_start")]
    if starts:
        meta["data_start"] = min(starts)
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def finalise(
    folder: Path, meta: dict, written: dict[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """Derive what a return leaves to the folder as a whole: for a folder holding a 903
    return, the adoptions' placement order, placement and order dates from the merged
    care episodes (rebuilt from the stored rows each time, so import order cannot
    matter). ``written``: the tables ``merge_into`` just wrote, used instead of reading
    them back. Returns ``written`` brought up to date: with the adoptions as now
    written, or without them if their file would not read back as the frame."""
    folder = Path(folder)
    written = dict(written or {})
    if not any(r.get("format") == "ssda903" for r in meta.get("returns", [])):
        return written
    table = TABLES["adoptions"]
    ad = written.get("adoptions")
    if ad is None:
        stored = _read_store(folder, "adoptions")
        if stored is None:
            return written
        cols = table.column_names + [REF]
        ad = newest(stored.reindex(columns=cols, fill_value=""), list(table.key))
    ep = written.get("cla_episodes")
    if ep is None:
        episodes = folder / "cla_episodes.csv"
        if not episodes.is_file():
            return written
        ep = pd.read_csv(episodes, dtype=str, keep_default_na=False)
    from .ssda903 import adoption_dates

    ep = ep[list(EPISODE_FIELDS)].replace("", None)  # what adoption_dates reads
    filled = _text(adoption_dates(ad.replace("", None), ep))
    filled = filled[table.column_names]
    written.pop("adoptions", None)
    if write_text(filled, folder / "adoptions.csv"):
        written["adoptions"] = filled
    return written
