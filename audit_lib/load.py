"""Read a canonical data folder into typed tables, with a data-quality report.

``load_tables(path)`` reads one CSV or Parquet file per canonical table (model.TABLES),
checks every row and returns the tables with proper dtypes together with a
``DataQualityReport``. The rules:

- an *error* rejects the row (a required value missing or unreadable, an unknown code
  in a column whose codes drive logic, an end before its start, an event in the future,
  a duplicate key, an orphan key); a *warning* keeps it (an unknown code elsewhere, a
  date in dd/mm/YYYY, work with an unborn child);
- for every table, rows read = rows kept + rows rejected, and each rejected row carries
  its reason(s), its line in the file and its original values;
- a table is *unusable* when it cannot be read at all (unreadable or empty file, a
  required column missing): all its rows are rejected and ``report.unusable`` names it;
- a missing optional table is reported as missing and returned empty with its dtypes.

Plain pandas is used rather than a schema library: the checks are relational (orphans,
pre-birth events, cascades) and each must yield a per-row reason and a count, which
reads more directly as masks over typed columns than as schema callbacks.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import cache as C
from .model import LOAD_ORDER, TABLES, Column, Table

__all__ = ["DataQualityReport", "LoadError", "load_tables", "read_text"]

EXAMPLES = 3
FINDING_COLUMNS = ["table", "column", "check", "severity", "rows", "message", "examples"]
SUMMARY_COLUMNS = ["table", "status", "file", "rows_read", "rows_kept", "rows_rejected"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class LoadError(Exception):
    """The data folder itself cannot be read (it does not exist or is not a folder)."""


@dataclass
class DataQualityReport:
    """What ``load_tables`` found.

    Attributes
    ----------
    summary : one row per canonical table: status (ok, warnings, errors, missing,
        unusable), file, rows read, kept and rejected.
    findings : one row per (table, column, check): severity, rows affected, message and
        up to three examples (``line N: value``).
    rejected : per table, the rejected rows as read (strings), with ``line`` and ``reason``.
    """

    summary: pd.DataFrame
    findings: pd.DataFrame
    rejected: dict[str, pd.DataFrame] = field(default_factory=dict)
    extract_date: pd.Timestamp | None = None

    @property
    def unusable(self) -> list[str]:
        """Tables that could not be used at all."""
        return self.summary.loc[self.summary["status"] == "unusable", "table"].tolist()

    @property
    def errors(self) -> pd.DataFrame:
        return self.findings[self.findings["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.findings[self.findings["severity"] == "warning"]

    def to_text(self, width: int = 100) -> str:
        """The report as plain text: a per-table summary, then every finding."""
        lines = []
        if self.extract_date is not None:
            lines.append(f"Extract date: {self.extract_date:%Y-%m-%d}")
        lines.append(self.summary.to_string(index=False))
        n_err, n_warn = len(self.errors), len(self.warnings)
        lines.append("")
        if self.findings.empty:
            lines.append("No findings.")
        else:
            lines.append(f"Findings: {n_err} error checks, {n_warn} warning checks")
            shown = self.findings.assign(
                examples=self.findings["examples"].str.slice(0, 60),
                message=self.findings["message"].str.slice(0, 70),
            )
            lines.append(shown.to_string(index=False, max_colwidth=70))
        if self.unusable:
            lines.append("")
            lines.append("UNUSABLE: " + ", ".join(self.unusable))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready form (counts and findings; rejected rows are not included)."""
        return {
            "extract_date": None if self.extract_date is None else f"{self.extract_date:%Y-%m-%d}",
            "summary": self.summary.to_dict(orient="records"),
            "findings": self.findings.to_dict(orient="records"),
        }


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------


def read_text(path: Path) -> tuple[str, str]:
    """Decode a text file, detecting UTF-8, UTF-8 with BOM, UTF-16 and Windows-1252.

    Returns the text and the encoding used. Never raises on content; an OS error
    (permissions, a folder) propagates.
    """
    raw = Path(path).read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    head = raw[:2000]
    if head and head.count(b"\x00") > len(head) // 4:  # UTF-16 without a BOM
        enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return raw.decode(enc, errors="replace"), enc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def _normalise_header(name: str) -> str:
    name = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-./]+", "_", name)


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[str], str]:
    """Read a CSV as strings. Returns (frame, malformed lines, encoding)."""
    text, encoding = read_text(path)
    opts = dict(
        dtype="string[pyarrow]", keep_default_na=False, na_filter=False, skip_blank_lines=True
    )
    try:
        return pd.read_csv(io.StringIO(text), **opts), [], encoding
    except pd.errors.ParserError:
        bad: list[str] = []

        def keep_bad(fields: list[str]) -> None:
            bad.append(",".join(fields))
            return None

        frame = pd.read_csv(io.StringIO(text), engine="python", on_bad_lines=keep_bad, **opts)
        return frame, bad, encoding


def _read_parquet(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
            out[name] = col.astype("Int64").astype("string")
        else:
            out[name] = col.astype("string")
        out[name] = out[name].fillna("")
    return pd.DataFrame(out, index=frame.index).astype(str)


def find_table_file(folder: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``folder`` (.parquet preferred over .csv), or None."""
    candidates = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    for suffix in (".parquet", ".csv"):
        if name + suffix in candidates:
            return candidates[name + suffix]
    return None


# --------------------------------------------------------------------------------------
# Checking one table
# --------------------------------------------------------------------------------------


class _Checker:
    """Accumulates findings and per-row error reasons for one table."""

    def __init__(self, table: Table, raw: pd.DataFrame, lines: np.ndarray):
        self.table = table
        self.raw = raw
        self.lines = lines
        self.findings: list[dict] = []
        self.reasons = pd.Series("", index=raw.index, dtype=object)

    def add(self, column, check, severity, message, mask=None, values=None) -> None:
        """Record a finding; with a mask of rows, count them and (for errors) reject them.

        ``values`` shows the examples: a Series, a callable taking the example rows'
        index (so costly text is built for three rows, not all), or the column itself.
        """
        row = dict(table=self.table.name, column=column or "", check=check, severity=severity)
        if mask is None:
            self.findings.append({**row, "rows": 0, "message": message, "examples": ""})
            return
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.raw.index)
        n = int(mask.sum())
        if n == 0:
            return
        idx = mask[mask].index[:EXAMPLES]
        if callable(values):
            vals = values(idx)
        else:
            vals = values if values is not None else self.raw.get(column)
        examples = "; ".join(
            f"line {self.lines[self.raw.index.get_loc(i)]}"
            + (f": {vals.loc[i]!s}" if vals is not None else "")
            for i in idx
        )
        self.findings.append({**row, "rows": n, "message": message, "examples": examples})
        if severity == "error":
            reason = f"{check}: {column}" if column else check
            r = self.reasons[mask]
            self.reasons[mask] = np.where(r == "", reason, r + "; " + reason)

    @property
    def rejected(self) -> pd.Series:
        return self.reasons != ""


def _parse_column(col: Column, raw: pd.Series, chk: _Checker) -> pd.Series:
    """Parse one column of strings into its canonical dtype, recording problems."""
    s = raw  # already stripped
    blank = s == ""
    if col.required:
        chk.add(col.name, "missing value", "error", f"required value {col.name} is blank", blank)
    present = ~blank

    if col.kind in ("id", "str"):
        return s.where(present).astype("string")

    if col.kind == "code":
        if col.case == "upper":
            norm = s.str.upper()
        elif col.case == "lower":
            norm = s.str.lower()
        else:
            norm = s
        norm = norm.where(present)
        if col.codes is not None:
            unknown = present & ~norm.isin(col.codes)
            sev = "error" if col.strict else "warning"
            note = "row rejected" if col.strict else "value kept as written"
            chk.add(
                col.name,
                "unknown code",
                sev,
                f"{col.name} not in the DfE/canonical code list ({note})",
                unknown,
            )
        return norm.astype("string")

    if col.kind == "date":
        iso = pd.to_datetime(s.where(present), format="ISO8601", errors="coerce")
        left = present & iso.isna()
        if left.any():
            dmy = pd.to_datetime(s.where(left), format="%d/%m/%Y", errors="coerce")
            ok_dmy = left & dmy.notna()
            chk.add(
                col.name,
                "dd/mm/YYYY date",
                "warning",
                f"{col.name} written dd/mm/YYYY, read day first",
                ok_dmy,
            )
            iso = iso.where(~ok_dmy, dmy)
        bad = present & iso.isna()
        chk.add(col.name, "unreadable date", "error", f"{col.name} is not a date", bad)
        return iso.dt.normalize().astype("datetime64[ns]")

    if col.kind == "bool":
        low = s.str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[low.isin(_TRUE)] = True
        out[low.isin(_FALSE)] = False
        chk.add(
            col.name,
            "unreadable yes/no",
            "error",
            f"{col.name} is not true/false, yes/no or 1/0",
            present & out.isna(),
        )
        return out

    if col.kind == "int":
        num = pd.to_numeric(s.where(present), errors="coerce")
        bad = present & (num.isna() | (num % 1 != 0))
        chk.add(col.name, "unreadable number", "error", f"{col.name} is not a whole number", bad)
        num = num.where(~bad).round().astype("Int64")
        out_of_range = pd.Series(False, index=s.index)
        if col.min is not None:
            out_of_range |= (num < col.min).fillna(False)
        if col.max is not None:
            out_of_range |= (num > col.max).fillna(False)
        chk.add(
            col.name,
            "out of range",
            "error",
            f"{col.name} outside {col.min}..{col.max}",
            out_of_range.to_numpy(),
        )
        return num

    raise ValueError(f"unknown column kind {col.kind}")  # pragma: no cover - model bug


def _check_table(
    table: Table,
    raw: pd.DataFrame,
    lines: np.ndarray,
    parents: dict[str, pd.DataFrame],
    extract_date: pd.Timestamp,
) -> tuple[pd.DataFrame, _Checker]:
    chk = _Checker(table, raw, lines)
    if len(raw.columns):
        blank_row = (raw == "").all(axis=1)
        chk.add(None, "blank row", "error", "row has no values", blank_row, values=None)

    typed = pd.DataFrame(
        {col.name: _parse_column(col, raw[col.name], chk) for col in table.columns},
        index=raw.index,
    )

    for rule in table.date_orders:
        bad = (typed[rule.later] < typed[rule.earlier]).fillna(False)
        chk.add(
            f"{rule.earlier}/{rule.later}",
            "end before start",
            rule.severity,
            f"{rule.later} is before {rule.earlier}",
            bad,
            values=lambda idx, r=rule: raw.loc[idx, r.earlier] + " > " + raw.loc[idx, r.later],
        )

    for name in table.columns_of("date"):
        future = (typed[name] > extract_date).fillna(False)
        chk.add(
            name,
            "date after extract",
            "error",
            f"{name} is after the extract date {extract_date:%Y-%m-%d}",
            future,
        )

    if "child_id" in typed and "children" in parents and table.name != "children":
        dob = typed["child_id"].map(parents["children"].set_index("child_id")["date_of_birth"])
        for name in table.event_dates:
            before = (typed[name] < dob).fillna(False)
            msg = f"{name} is before the child's date of birth" + (
                " (kept: work before birth is possible)" if table.prebirth == "warning" else ""
            )
            chk.add(name, "before birth", table.prebirth, msg, before)

    for fk in table.foreign_keys:
        parent = parents.get(fk.ref_table)
        if parent is None:
            continue
        cols = list(fk.columns)
        has_key = typed[cols].notna().all(axis=1)
        known = pd.MultiIndex.from_frame(parent[list(fk.ref_columns)].set_axis(cols, axis=1))
        found = pd.MultiIndex.from_frame(typed[cols]).isin(known)
        chk.add(
            ",".join(cols),
            "orphan key",
            "error",
            f"{','.join(cols)} not found in {fk.ref_table} (or that row was rejected)",
            has_key & ~found,
        )

    # Duplicates are judged among rows that are otherwise valid, so a rejected row
    # never causes a good one to be rejected as its duplicate.
    ok = ~chk.rejected
    key = list(table.key)
    exact = ok & raw.duplicated(keep="first")

    def key_text(idx: pd.Index) -> pd.Series:
        return raw.loc[idx, key].astype(str).agg("|".join, axis=1)

    chk.add(
        ",".join(key),
        "exact duplicate row",
        "error",
        "row repeats an earlier row",
        exact,
        values=key_text,
    )
    ok = ~chk.rejected
    dup = pd.Series(False, index=raw.index)
    dup[ok] = typed.loc[ok, key].duplicated(keep="first").to_numpy(dtype=bool)
    chk.add(
        ",".join(key),
        "duplicate key",
        "error",
        f"key ({', '.join(key)}) repeats an earlier row with different values; first kept",
        dup,
        values=key_text,
    )

    return typed, chk


def _load_one(
    table: Table,
    path: Path | None,
    parents: dict[str, pd.DataFrame],
    extract_date: pd.Timestamp,
) -> tuple[pd.DataFrame, dict, list[dict], pd.DataFrame]:
    """Load and check one table. Returns (typed frame, summary row, findings, rejected)."""
    name = table.name
    empty_rejected = pd.DataFrame(columns=["line", "reason"])
    summary = dict(table=name, status="ok", file="", rows_read=0, rows_kept=0, rows_rejected=0)

    def finding(check, severity, message, column="", rows=0):
        return dict(
            table=name,
            column=column,
            check=check,
            severity=severity,
            rows=rows,
            message=message,
            examples="",
        )

    if path is None:
        if table.required:
            summary["status"] = "unusable"
            return (
                table.empty(),
                summary,
                [finding("missing table", "error", f"required table {name} has no file")],
                empty_rejected,
            )
        summary["status"] = "missing"
        return (
            table.empty(),
            summary,
            [finding("missing table", "info", f"optional table {name} not supplied")],
            empty_rejected,
        )

    summary["file"] = path.name
    findings: list[dict] = []
    try:
        if path.stat().st_size == 0:
            raise ValueError("file is empty (0 bytes)")
        if path.suffix.lower() == ".parquet":
            raw, bad_lines, encoding = _read_parquet(path), [], "parquet"
        else:
            raw, bad_lines, encoding = _read_csv(path)
    except (
        OSError,
        ValueError,
        UnicodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as exc:
        summary["status"] = "unusable"
        msg = "file is empty" if isinstance(exc, pd.errors.EmptyDataError) else str(exc)
        return (
            table.empty(),
            summary,
            [finding("unreadable file", "error", f"{path.name}: {msg}")],
            empty_rejected,
        )
    except Exception as exc:  # pyarrow and friends raise their own types
        summary["status"] = "unusable"
        return (
            table.empty(),
            summary,
            [finding("unreadable file", "error", f"{path.name}: {type(exc).__name__}: {exc}")],
            empty_rejected,
        )

    if encoding not in ("utf-8", "parquet"):
        sev = "warning" if encoding == "cp1252" else "info"
        findings.append(finding("encoding", sev, f"{path.name} read as {encoding}"))

    # header line is line 1; data rows follow (blank lines are skipped by the reader)
    lines = np.arange(2, len(raw) + 2)
    raw = raw.reset_index(drop=True)
    original = list(raw.columns)
    renamed = {c: _normalise_header(c) for c in original}
    changed = [f"'{c}' as '{n}'" for c, n in renamed.items() if c != n]
    if changed:
        findings.append(finding("header normalised", "info", "read " + ", ".join(changed)))
    raw = raw.rename(columns=renamed)
    raw = raw.loc[:, ~raw.columns.duplicated()]

    rows_read = len(raw) + len(bad_lines)
    summary["rows_read"] = rows_read
    if bad_lines:
        findings.append(
            dict(
                table=name,
                column="",
                check="malformed line",
                severity="error",
                rows=len(bad_lines),
                message="line has a different number of fields from the header",
                examples="; ".join(b[:60] for b in bad_lines[:EXAMPLES]),
            )
        )

    extra = [c for c in raw.columns if c not in table.column_names]
    if extra:
        findings.append(
            finding(
                "unrecognised column",
                "warning",
                "ignored: " + ", ".join(extra),
                column=",".join(extra),
            )
        )
    missing_req = [c for c in table.required_columns if c not in raw.columns]
    if missing_req:
        summary.update(status="unusable", rows_rejected=rows_read)
        reason = f"table unusable: required column(s) {', '.join(missing_req)} missing"
        findings.append(
            finding("missing column", "error", reason, column=",".join(missing_req), rows=rows_read)
        )
        rejected = raw.assign(line=lines, reason=reason)
        return table.empty(), summary, findings, rejected
    for c in table.column_names:
        if c not in raw.columns:
            raw[c] = ""
            findings.append(
                finding(
                    "optional column absent", "info", f"optional column {c} not supplied", column=c
                )
            )

    stripped = raw[table.column_names].apply(lambda c: c.str.strip())
    typed, chk = _check_table(table, stripped, lines, parents, extract_date)
    findings.extend(chk.findings)
    rejected_mask = chk.rejected.to_numpy()
    kept = typed.loc[~rejected_mask].reset_index(drop=True)
    rejected = raw.loc[rejected_mask].assign(
        line=lines[rejected_mask], reason=chk.reasons[rejected_mask]
    )
    if bad_lines:
        rejected = pd.concat(
            [rejected, pd.DataFrame({"line": pd.NA, "reason": "malformed line", "raw": bad_lines})],
            ignore_index=True,
        )
    summary["rows_kept"] = len(kept)
    summary["rows_rejected"] = len(rejected)
    sev = {f["severity"] for f in findings}
    summary["status"] = "errors" if "error" in sev else "warnings" if "warning" in sev else "ok"
    assert summary["rows_read"] == summary["rows_kept"] + summary["rows_rejected"]
    return kept.astype(table.dtypes), summary, findings, rejected


def ensure_cached(path: str | Path, cache: str | Path | None = None) -> Path:
    """Validate ``path`` into the table cache (audit_lib.cache) unless an up-to-date
    entry is already there; returns the entry."""
    folder = Path(path)
    target = C.entry_path(folder, _extract_date(folder, None), cache)
    if not (target / "manifest.json").is_file():
        load_tables(folder, cache=C.cache_root(cache))
    C.touch(target)
    return target


def load_tables(
    path: str | Path,
    extract_date: str | pd.Timestamp | None = None,
    cache: str | Path | None = None,
) -> tuple[dict[str, pd.DataFrame], DataQualityReport]:
    """Read and validate a canonical data folder.

    Parameters
    ----------
    path : folder holding ``<table>.csv`` or ``<table>.parquet`` per canonical table.
    extract_date : dates after this are errors. Defaults to ``extract_date`` in the
        folder's ``extract.json`` if present, else today.
    cache : a folder in which to keep the validated tables (see audit_lib.cache), keyed
        by the data files' names, sizes and modification times (and this code);
        defaults to ``$AUDIT_CACHE_DIR`` if set, else no cache. The monthly run sets it
        to its cache folder in the user cache directory, so the data are read and
        validated once per run, not once per notebook.

    Returns
    -------
    tables : dict of table name -> typed DataFrame (kept rows only; every canonical
        table is present, empty if not supplied).
    report : DataQualityReport.

    Raises
    ------
    LoadError
        If ``path`` does not exist or is not a folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise LoadError(f"data folder not found: {folder}")
    extract = _extract_date(folder, extract_date)
    root = cache or os.environ.get(C.CACHE_ENV)
    cached = C.entry_path(folder, extract, root) if root else None
    if cached is not None:
        hit = C.read(cached)
        if hit is not None:
            return hit  # a damaged or absent entry is rebuilt below
    tables: dict[str, pd.DataFrame] = {}
    summaries, findings, rejected = [], [], {}
    for name in LOAD_ORDER:
        table = TABLES[name]
        frame, summary, fnd, rej = _load_one(table, find_table_file(folder, name), tables, extract)
        tables[name] = frame
        summaries.append(summary)
        findings.extend(fnd)
        if len(rej):
            rejected[name] = rej.reset_index(drop=True)
    report = DataQualityReport(
        summary=pd.DataFrame(summaries, columns=SUMMARY_COLUMNS),
        findings=pd.DataFrame(findings, columns=FINDING_COLUMNS),
        rejected=rejected,
        extract_date=extract,
    )
    if cached is not None:
        C.write(cached, tables, report, folder)
    return tables, report


def _extract_date(folder: Path, given) -> pd.Timestamp:
    if given is not None:
        return pd.Timestamp(given).normalize()
    meta = folder / "extract.json"
    if meta.is_file():
        import json

        try:
            return pd.Timestamp(json.loads(meta.read_text())["extract_date"]).normalize()
        except (ValueError, KeyError, TypeError):
            pass
    return pd.Timestamp.today().normalize()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a canonical table as CSV: ISO dates, lower-case booleans, blanks for missing."""
    out = frame.copy()
    for name, col in out.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
            out[name] = col.map({True: "true", False: "false"})
    out.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
