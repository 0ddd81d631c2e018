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

import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import cache as C
from .model import LOAD_ORDER, TABLES, Column, Table
from .tablefile import (
    ISO_TIME,
    date_part,
    find_table_file,
    normalise_header,
    read_csv_rows,
    read_parquet_text,
    text_frame,
    trailing_note,
)

__all__ = ["DataQualityReport", "LoadError", "load_tables"]

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
    #: where the extract date came from (extract.json and its source, given, or today)
    extract_source: str = ""
    #: one row per table holding rows: the first and last date in it (dates of birth
    #: aside), the dates it covers
    coverage: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["table", "first_date", "last_date"])
    )
    #: the earliest date the data are complete from, where extract.json records it
    data_start: pd.Timestamp | None = None

    @property
    def data_end(self) -> pd.Timestamp | None:
        """The latest date in any table (dates of birth aside)."""
        last = pd.to_datetime(self.coverage["last_date"]).max()
        return None if pd.isna(last) else last

    @property
    def empty_required(self) -> list[str]:
        """Required tables that keep no rows (nothing can be reported without them)."""
        req = {n for n, t in TABLES.items() if t.required}
        s = self.summary
        return s.loc[s["table"].isin(req) & (s["rows_kept"] == 0), "table"].tolist()

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
            lines.append(
                f"Extract date: {self.extract_date:%Y-%m-%d}"
                + (f" ({self.extract_source})" if self.extract_source else "")
            )
        cov = self.summary.merge(self.coverage, on="table", how="left").fillna({"first_date": ""})
        cov["last_date"] = cov["last_date"].fillna("")
        lines.append(cov.to_string(index=False))
        n_err, n_warn = len(self.errors), len(self.warnings)
        lines.append("")
        if self.findings.empty:
            lines.append("No findings.")
        else:
            lines.append(f"Findings: {n_err} error checks, {n_warn} warning checks")
            lines.extend(_finding_lines(self.findings, width))
        if self.unusable:
            lines.append("")
            lines.append("UNUSABLE: " + ", ".join(self.unusable))
        if self.empty_required:
            lines.append("")
            lines.append("NO ROWS KEPT in required table(s): " + ", ".join(self.empty_required))
        return "\n".join(lines)

    def brief(self) -> str:
        """One line per unusable table with its reason, or one "usable" line."""
        if not self.unusable:
            kept = int(self.summary["rows_kept"].sum())
            return (
                f"usable: {kept:,} rows kept in {int((self.summary['rows_read'] > 0).sum())} tables"
            )
        errors = self.findings[
            self.findings["table"].isin(self.unusable) & (self.findings["severity"] == "error")
        ]
        lines = []
        for table in self.unusable:
            why = errors.loc[errors["table"] == table, "message"].head(1).tolist()
            lines.append(f"unusable: {table}: {why[0] if why else 'no rows could be kept'}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready form (counts and findings; rejected rows are not included)."""
        return {
            "extract_date": None if self.extract_date is None else f"{self.extract_date:%Y-%m-%d}",
            "extract_source": self.extract_source,
            "coverage": self.coverage.to_dict(orient="records"),
            "summary": self.summary.to_dict(orient="records"),
            "findings": self.findings.to_dict(orient="records"),
        }


def _finding_lines(findings: pd.DataFrame, width: int = 100) -> list[str]:
    """Each finding as a heading line and its message and examples wrapped to ``width``
    columns at word boundaries (never cut mid-word), indented under the heading."""
    import textwrap

    out = []
    indent = " " * 4
    for f in findings.itertuples(index=False):  # one line per check, not per row
        where = f"{f.table}.{f.column}" if getattr(f, "column", "") else f"{f.table}"
        head = f"{str(f.severity).upper():8}{where}: {f.check} ({int(f.rows):,} rows)"
        out.append("")
        out.extend(textwrap.wrap(head, width, subsequent_indent=indent, break_long_words=False))
        for label, text in (("", f.message), ("examples: ", getattr(f, "examples", ""))):
            if isinstance(text, str) and text:
                out.extend(
                    textwrap.wrap(
                        label + text,
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent + " " * len(label),
                        break_long_words=True,
                        break_on_hyphens=False,
                    )
                )
    return out


# --------------------------------------------------------------------------------------
# Checking one table
# --------------------------------------------------------------------------------------


class _Checker:
    """Accumulates findings and per-row error reasons for one table.

    ``text`` holds the table's stripped text, one Arrow array per column; ``raw``, the
    same as a frame, is built only when an example or the exact-duplicate check needs
    it."""

    def __init__(self, table: Table, text: dict[str, pa.Array], lines: np.ndarray):
        self.table = table
        self.text = text
        self.lines = lines
        self.findings: list[dict] = []
        self._reasons = np.full(len(lines), "", dtype=object)

    @functools.cached_property
    def raw(self) -> pd.DataFrame:
        """The stripped text as a frame of Arrow strings (rows numbered from 0)."""
        return pd.DataFrame(
            {c: pd.arrays.ArrowStringArray(a) for c, a in self.text.items()},
            index=pd.RangeIndex(len(self.lines)),
        )

    def add(self, column, check, severity, message, mask=None, values=None) -> None:
        """Record a finding; with a mask of rows, count them and (for errors) reject them.

        ``values`` shows the examples: a callable taking the example rows' positions (so
        costly text is built for three rows, not all), or else the column's text.
        """
        row = dict(table=self.table.name, column=column or "", check=check, severity=severity)
        if mask is None:
            self.findings.append({**row, "rows": 0, "message": message, "examples": ""})
            return
        at = np.flatnonzero(mask)
        if not len(at):
            return
        first = at[:EXAMPLES]
        if callable(values):
            shown = values(first).tolist()
        elif column in self.text:
            shown = self.text[column].take(first).to_pylist()
        else:
            shown = None
        examples = "; ".join(
            f"line {self.lines[p]}" + (f": {shown[k]!s}" if shown is not None else "")
            for k, p in enumerate(first)
        )
        self.findings.append({**row, "rows": len(at), "message": message, "examples": examples})
        if severity == "error":
            reason = f"{check}: {column}" if column else check
            r = self._reasons[at]
            self._reasons[at] = np.where(r == "", reason, r + "; " + reason)

    @property
    def reasons(self) -> np.ndarray:
        """Each row's reasons for rejection, "" where none."""
        return self._reasons

    @property
    def rejected(self) -> np.ndarray:
        """The rows rejected so far (those with a reason)."""
        return self._reasons != ""


def take(codes: np.ndarray, values: np.ndarray, missing) -> np.ndarray:
    """``values[codes]`` with ``missing`` where the code is -1 (``pd.factorize``'s codes
    mapped back to what was computed once per distinct value)."""
    if not len(values):
        return np.full(len(codes), missing, dtype=values.dtype)
    return np.where(codes >= 0, values[np.maximum(codes, 0)], missing)


def _stripped(raw: pd.DataFrame, names: list[str]) -> dict[str, pa.Array]:
    """Columns ``names`` of ``raw`` as Arrow text without leading or trailing white
    space (as ``Series.str.strip`` strips it), "" where no value was read."""
    out = {c: pc.utf8_trim_whitespace(_arrow_text(raw[c])) for c in names}
    return {c: pc.fill_null(a, "") if a.null_count else a for c, a in out.items()}


def _arrow_text(s: pd.Series) -> pa.Array:
    """A text column as one Arrow array of large strings (no copy for Arrow text in
    one chunk)."""
    text = pa.array(s.array, pa.large_string())
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def _isin(text: pa.Array, values) -> np.ndarray:
    """Which of ``text`` are among ``values`` (a set of strings)."""
    return pc.is_in(text, value_set=pa.array(sorted(values), text.type)).to_numpy(
        zero_copy_only=False
    )


def _parse_column(
    col: Column,
    s: pa.Array,
    blank: np.ndarray,
    chk: _Checker,
    dates: tuple[np.ndarray, np.ndarray] | None,
) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Parse one column of text (stripped; ``blank`` where "") into an array of its
    canonical dtype, recording problems. ``dates``: a date column's dates and which
    were written day first, as ``_read_date_columns`` read them."""
    if col.required:
        chk.add(col.name, "missing value", "error", f"required value {col.name} is blank", blank)
    present = ~blank

    if col.kind in ("id", "str"):
        return C.python_text(_nulled(s, blank))

    if col.kind == "code":
        norm = {"upper": pc.utf8_upper, "lower": pc.utf8_lower}.get(col.case, lambda x: x)(s)
        if col.codes is not None:
            unknown = present & ~_isin(norm, col.codes)
            sev = "error" if col.strict else "warning"
            note = "row rejected" if col.strict else "value kept as written"
            chk.add(
                col.name,
                "unknown code",
                sev,
                f"{col.name} not in the DfE/canonical code list ({note})",
                unknown,
            )
        return C.python_text(_nulled(norm, blank))

    if col.kind == "date":
        values, day_first = dates
        chk.add(
            col.name,
            "dd/mm/YYYY date",
            "warning",
            f"{col.name} written dd/mm/YYYY, read day first",
            day_first,
        )
        bad = present & np.isnat(values)
        chk.add(col.name, "unreadable date", "error", f"{col.name} is not a date", bad)
        return values

    if col.kind == "bool":
        low = pc.utf8_lower(s)
        true, false = _isin(low, _TRUE), _isin(low, _FALSE)
        chk.add(
            col.name,
            "unreadable yes/no",
            "error",
            f"{col.name} is not true/false, yes/no or 1/0",
            present & ~(true | false),
        )
        return pd.arrays.BooleanArray(true, ~(true | false))

    if col.kind == "int":
        num, bad = _read_ints(s, blank)
        chk.add(col.name, "unreadable number", "error", f"{col.name} is not a whole number", bad)
        values = num.to_numpy(dtype="int64", na_value=0)
        out_of_range = np.zeros(len(num), dtype=bool)
        if col.min is not None:
            out_of_range |= values < col.min
        if col.max is not None:
            out_of_range |= values > col.max
        chk.add(
            col.name,
            "out of range",
            "error",
            f"{col.name} outside {col.min}..{col.max}",
            out_of_range & ~num.isna(),
        )
        return num

    raise ValueError(f"unknown column kind {col.kind}")  # pragma: no cover - model bug


def _nulled(s: pa.Array, blank: np.ndarray) -> pa.Array:
    """``s`` with a missing value where ``blank``."""
    return pc.if_else(pa.array(blank), pa.scalar(None, s.type), s)


#: a whole number that int64 holds, as ``pd.to_numeric`` reads it
_PLAIN_INT = r"^-?\d{1,18}$"


def _read_ints(s: pa.Array, blank: np.ndarray) -> tuple[pd.arrays.IntegerArray, np.ndarray]:
    """Whole numbers (``Int64``; missing where blank or unreadable) of text ``s``, and
    which present values are not whole numbers (``pd.to_numeric``: ``1e3`` and ``4.0``
    are whole)."""
    if (num := _plain_ints(s, blank)) is not None:
        return num, np.zeros(len(blank), dtype=bool)
    present = pd.Series(~blank)
    num = pd.to_numeric(pd.Series(pd.arrays.ArrowStringArray(s)).where(present), errors="coerce")
    bad = present & (num.isna() | (num % 1 != 0))
    return num.where(~bad).round().astype("Int64").array, bad.to_numpy()


def _plain_ints(s: pa.Array, blank: np.ndarray) -> pd.arrays.IntegerArray | None:
    """The whole numbers of text ``s`` (missing where blank) when every other value is
    plain digits that int64 holds, cast by Arrow (as ``pd.to_numeric`` reads them);
    None when any value is not."""
    plain = pc.match_substring_regex(s, _PLAIN_INT).to_numpy(zero_copy_only=False)
    if not (plain | blank).all():
        return None
    ints = pc.cast(pc.if_else(pa.array(plain), s, pa.scalar(None, s.type)), pa.int64())
    return pd.arrays.IntegerArray(pc.fill_null(ints, 0).to_numpy(), ~plain)


def _read_date_columns(text: dict[str, pa.Array], cols: list[str]) -> dict[str, tuple]:
    """Each date column's dates and which were written day first (``_read_dates``):
    dates repeat, within a column and across a table's columns, so each distinct text
    is read once."""
    if not cols:
        return {}
    encoded = pc.dictionary_encode(pa.concat_arrays([text[c] for c in cols]))
    distinct = encoded.dictionary
    dates = _plain_dates(distinct)
    if dates is not None:
        day_first = np.zeros(len(distinct), dtype=bool)
    else:
        dates, day_first = _read_dates(pd.Series(pd.arrays.ArrowStringArray(distinct)))
        dates = dates.to_numpy(dtype="datetime64[ns]")
    codes = encoded.indices.to_numpy()
    dates = take(codes, dates, np.datetime64("NaT"))
    day_first = take(codes, day_first, False)
    n = len(text[cols[0]])
    return {
        c: (dates[i * n : (i + 1) * n], day_first[i * n : (i + 1) * n]) for i, c in enumerate(cols)
    }


#: the years every day of which pandas' nanosecond dates hold
_NS_YEARS = (1678, 2261)


def _plain_dates(text: pa.Array) -> np.ndarray | None:
    """The dates of ``text`` (NaT where "") when every other value is a real date
    written YYYY-MM-DD in full in one of ``_NS_YEARS``, which ``_read_dates`` reads as
    written; None when any value is not (``_read_dates`` then reads them all)."""
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    year = pc.year(parsed)
    ok = pc.and_(  # Arrow reads 2024-02-30 as 1 March and 2024-2-1 too: write it back
        pc.equal(pc.cast(pc.cast(parsed, pa.date32()), text.type), text),
        pc.and_(pc.greater_equal(year, _NS_YEARS[0]), pc.less_equal(year, _NS_YEARS[1])),
    )
    if not pc.all(pc.or_(pc.fill_null(ok, False), pc.equal(text, ""))).as_py():
        return None
    return pc.cast(parsed, pa.timestamp("ns")).to_numpy(zero_copy_only=False)


def _read_dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(dates, written day first) of text dates: ISO (a time of day or zone dropped),
    else dd/mm/YYYY; NaT where blank or unreadable."""
    present = s != ""
    long = s.str.len() > 10  # a time of day or zone: read the date written
    if long.any():
        s = s.where(~long, date_part(s[long]))
    with warnings.catch_warnings():  # mixed time zones: handled below
        warnings.simplefilter("ignore", FutureWarning)
        iso = pd.to_datetime(s.where(present), format="ISO8601", errors="coerce")
    if not pd.api.types.is_datetime64_dtype(iso):  # a zone on a date: the date as written
        plain = s.where(present).str.replace(ISO_TIME, r"\1", regex=True)
        iso = pd.to_datetime(plain, format="ISO8601", errors="coerce")
    left = present & iso.isna()
    ok_dmy = np.zeros(len(s), dtype=bool)
    if left.any():
        dmy = pd.to_datetime(s.where(left), format="%d/%m/%Y", errors="coerce")
        ok_dmy = (left & dmy.notna()).to_numpy(dtype=bool)
        iso = iso.where(~ok_dmy, dmy)
    return iso.dt.normalize().astype("datetime64[ns]"), ok_dmy


def _found(keys: list, known: list) -> np.ndarray:
    """Which rows of the key columns ``keys`` are a row of ``known`` (the same number
    of columns, in the same order)."""
    if len(keys) == 1:  # one column: no MultiIndex to build
        return np.asarray(pd.array(keys[0], copy=False).isin(known[0]), dtype=bool)
    return pd.MultiIndex.from_arrays(keys).isin(pd.MultiIndex.from_arrays(known))


def _row_ids(columns: list) -> np.ndarray:
    """A whole number per row, the same for rows equal in every one of ``columns``
    (missing equal to missing, as ``DataFrame.duplicated`` compares them)."""
    ids = None
    for col in columns:
        codes, distinct = pd.factorize(col, use_na_sentinel=False)
        ids = codes if ids is None else pd.factorize(ids * len(distinct) + codes)[0]
    return ids


def _repeated(ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` (whole numbers from 0) occur more than once."""
    return np.bincount(ids)[ids] > 1 if len(ids) else np.zeros(0, dtype=bool)


def _later(ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` repeat an earlier one (``duplicated(keep="first")``)."""
    out = np.ones(len(ids), dtype=bool)
    out[np.unique(ids, return_index=True)[1]] = False
    return out


def _repeats(raw: pd.DataFrame, candidates: np.ndarray) -> np.ndarray:
    """``raw.duplicated(keep="first")``, compared only among ``candidates``: the rows
    whose key repeats. Rows equal as written are equal once typed, so an exact repeat
    and the row it repeats are both candidates (a key repeats in far fewer rows than
    there are)."""
    out = np.zeros(len(raw), dtype=bool)
    out[candidates] = raw[candidates].duplicated(keep="first").to_numpy()
    return out


def _birth_dates(ids, children: pd.DataFrame) -> np.ndarray:
    """Each child's date of birth in ``children`` (its ``child_id`` unique), NaT where
    the child is not there."""
    at = pd.Index(children["child_id"]).get_indexer(ids)
    return take(
        at, children["date_of_birth"].to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT")
    )


def _check_table(
    table: Table,
    text: dict[str, pa.Array],
    lines: np.ndarray,
    parents: dict[str, pd.DataFrame],
    extract_date: pd.Timestamp,
) -> tuple[pd.DataFrame, _Checker]:
    """The table typed (every row) and its checker, from its stripped text ``text``
    (every column of the table)."""
    chk = _Checker(table, text, lines)
    blank = {c: pc.equal(a, "").to_numpy(zero_copy_only=False) for c, a in text.items()}
    if blank:  # a value not read (a short line) counts as blank here
        blank_row = np.logical_and.reduce(list(blank.values()))
        chk.add(None, "blank row", "error", "row has no values", blank_row, values=None)

    dated = _read_date_columns(text, table.columns_of("date"))
    typed = {
        col.name: _parse_column(col, text[col.name], blank[col.name], chk, dated.get(col.name))
        for col in table.columns
    }
    _check_dates(table, typed, chk, parents, extract_date)
    _check_keys(table, typed, chk, parents)
    return pd.DataFrame(typed, index=pd.RangeIndex(len(lines))), chk


def _check_dates(
    table: Table,
    typed: dict,
    chk: _Checker,
    parents: dict[str, pd.DataFrame],
    extract_date: pd.Timestamp,
) -> None:
    """Date orders, dates after the extract and events before the child's birth."""
    for rule in table.date_orders:
        bad = typed[rule.later] < typed[rule.earlier]  # NaT: False
        chk.add(
            f"{rule.earlier}/{rule.later}",
            "end before start",
            rule.severity,
            f"{rule.later} is before {rule.earlier}",
            bad,
            values=lambda at, r=rule: chk.raw.loc[at, r.earlier] + " > " + chk.raw.loc[at, r.later],
        )

    last = extract_date.to_datetime64()
    for name in table.columns_of("date"):
        chk.add(
            name,
            "date after extract",
            "error",
            f"{name} is after the extract date {extract_date:%Y-%m-%d}",
            typed[name] > last,
        )

    if table.event_dates and "children" in parents and table.name != "children":
        dob = _birth_dates(typed["child_id"], parents["children"])
        for name in table.event_dates:
            msg = f"{name} is before the child's date of birth" + (
                " (kept: work before birth is possible)" if table.prebirth == "warning" else ""
            )
            chk.add(name, "before birth", table.prebirth, msg, typed[name] < dob)


def _check_keys(table: Table, typed: dict, chk: _Checker, parents: dict[str, pd.DataFrame]) -> None:
    """Orphan keys, then exact duplicate rows and duplicate keys."""
    for fk in table.foreign_keys:
        parent = parents.get(fk.ref_table)
        if parent is None:
            continue
        cols = list(fk.columns)
        keys = [typed[c] for c in cols]
        has_key = np.logical_and.reduce([~pd.isna(k) for k in keys])
        found = _found(keys, [parent[c].array for c in fk.ref_columns])
        chk.add(
            ",".join(cols),
            "orphan key",
            "error",
            f"{','.join(cols)} not found in {fk.ref_table} (or that row was rejected)",
            has_key & ~found,
        )

    # Duplicates are judged among rows that are otherwise valid, so a rejected row
    # never causes a good one to be rejected as its duplicate.
    key = list(table.key)
    ids = _row_ids([typed[c] for c in key])
    candidates = _repeated(ids)
    if not candidates.any():
        return
    ok = ~chk.rejected
    exact = ok & _repeats(chk.raw, candidates)

    def key_text(at: np.ndarray) -> pd.Series:
        return chk.raw.loc[at, key].astype(str).agg("|".join, axis=1)

    chk.add(
        ",".join(key),
        "exact duplicate row",
        "error",
        "row repeats an earlier row",
        exact,
        values=key_text,
    )
    ok = ~chk.rejected
    dup = np.zeros(len(ids), dtype=bool)
    dup[ok] = _later(ids[ok])
    chk.add(
        ",".join(key),
        "duplicate key",
        "error",
        f"key ({', '.join(key)}) repeats an earlier row with different values; first kept",
        dup,
        values=key_text,
    )


def _load_one(
    table: Table,
    path: Path | None,
    parents: dict[str, pd.DataFrame],
    extract_date: pd.Timestamp,
    written: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict, list[dict], pd.DataFrame | None]:
    """Load and check one table. Returns (typed frame, summary row, findings, rejected
    rows; None when the table could not be read or was not supplied, or none was
    rejected).

    ``written``: the text of the CSV at ``path`` as reading it gives it (written by this
    process), checked instead of reading the file back."""
    name = table.name
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
                None,
            )
        summary["status"] = "missing"
        return (
            table.empty(),
            summary,
            [finding("missing table", "info", f"optional table {name} not supplied")],
            None,
        )

    summary["file"] = path.name
    findings: list[dict] = []
    try:
        if path.stat().st_size == 0:
            raise ValueError("file is empty (0 bytes)")
        if path.suffix.lower() == ".parquet":
            raw, bad_lines, encoding, quote = read_parquet_text(path), [], "parquet", None
        elif written is not None:
            raw, bad_lines, encoding, quote = text_frame(written), [], "utf-8", None
        else:
            raw, bad_lines, encoding, quote = read_csv_rows(path)
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
            None,
        )
    except Exception as exc:  # pyarrow and friends raise their own types
        summary["status"] = "unusable"
        return (
            table.empty(),
            summary,
            [finding("unreadable file", "error", f"{path.name}: {type(exc).__name__}: {exc}")],
            None,
        )

    if encoding not in ("utf-8", "parquet"):
        sev = "warning" if encoding == "cp1252" else "info"
        findings.append(finding("encoding", sev, f"{path.name} read as {encoding}"))
    if trailing := raw.attrs.get("trailing_blank_rows"):
        findings.append(
            finding("trailing empty fields", "info", trailing_note(trailing), rows=trailing)
        )

    # header line is line 1; data rows follow (blank lines are skipped by the reader)
    lines = np.arange(2, len(raw) + 2)
    for n in raw.attrs.get("skipped_lines", []):  # ascending: later rows move down
        lines[lines >= n] += 1
    raw = raw.reset_index(drop=True)
    original = list(raw.columns)
    renamed = {c: normalise_header(c) for c in original}
    changed = [f"'{c}' as '{n}'" for c, n in renamed.items() if c != n]
    if changed:
        findings.append(finding("header normalised", "info", "read " + ", ".join(changed)))
        raw = raw.rename(columns=renamed)
    if raw.columns.has_duplicates:
        raw = raw.loc[:, ~raw.columns.duplicated()]

    rows_read = len(raw) + len(bad_lines)
    summary["rows_read"] = rows_read
    if quote is not None:
        findings.append(
            finding(
                "unclosed quote",
                "error",
                f"{path.name} line {quote}: a quote is opened and never closed; the file "
                "was read line by line with quotes as written, and that row rejected",
                rows=1,
            )
        )
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

    typed, chk = _check_table(
        table, _stripped(raw, table.column_names), lines, parents, extract_date
    )
    findings.extend(chk.findings)
    rejected_mask = chk.rejected
    kept = typed.loc[~rejected_mask].reset_index(drop=True) if rejected_mask.any() else typed
    rejected = None
    if rejected_mask.any() or bad_lines:
        rejected = raw.loc[rejected_mask].assign(
            line=lines[rejected_mask], reason=chk.reasons[rejected_mask]
        )
    if bad_lines:
        rejected = pd.concat(
            [rejected, pd.DataFrame({"line": pd.NA, "reason": "malformed line", "raw": bad_lines})],
            ignore_index=True,
        )
    summary["rows_kept"] = len(kept)
    summary["rows_rejected"] = 0 if rejected is None else len(rejected)
    sev = {f["severity"] for f in findings}
    summary["status"] = "errors" if "error" in sev else "warnings" if "warning" in sev else "ok"
    assert summary["rows_read"] == summary["rows_kept"] + summary["rows_rejected"]
    have = dict(zip(kept.columns, kept.dtypes, strict=True))
    retype = {c: d for c, d in table.dtypes.items() if have[c] != _pandas_dtype(d)}
    return kept.astype(retype) if retype else kept, summary, findings, rejected


@functools.cache
def _pandas_dtype(name: str) -> object:
    """The pandas dtype named ``name`` (parsed once)."""
    return pd.api.types.pandas_dtype(name)


def ensure_cached(
    path: str | Path, cache: str | Path | None = None, jobs: int | None = None
) -> Path:
    """Validate ``path`` into the table cache (audit_lib.cache) unless an up-to-date
    entry is already there; returns the entry.

    The tables are validated in a pool of ``jobs`` forked processes (default: one per
    core), each table as soon as the tables its checks read are stored (see
    :func:`_validate_parts`); the entry holds the same tables and report as
    ``load_tables`` makes in one process. The memory the checks take goes back to the
    system with the pool."""
    folder = Path(path)
    if not folder.is_dir():
        raise LoadError(f"data folder not found: {folder}")
    extract, source, start = extract_info(folder, None)
    target = C.entry_path(folder, extract, cache)
    if not (target / "manifest.json").is_file():
        with C.building(target) as tmp:
            parts = _validate_parts(folder, extract, tmp, jobs or os.cpu_count() or 1)
            report = _report(parts, extract, source, start)
            C.finish(tmp, target, report, folder, list(LOAD_ORDER))
    C.touch(target)
    return target


@dataclass
class _Part:
    """What validating one table gives the report: its summary row, findings, rejected
    rows and coverage row (None when it holds no dates)."""

    summary: dict
    findings: list[dict]
    rejected: pd.DataFrame | None
    coverage: dict | None


def _validate(
    name: str,
    folder: Path,
    parents: dict[str, pd.DataFrame],
    extract: pd.Timestamp,
    written: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, _Part]:
    """Validate table ``name`` of ``folder`` against its parent tables' kept rows;
    ``written``: its text as this process wrote it to ``<name>.csv`` (``load_tables``),
    used where that is the file validated."""
    path = find_table_file(folder, name)
    given = written if path is not None and path.name == f"{name}.csv" else None
    frame, summary, findings, rejected = _load_one(TABLES[name], path, parents, extract, given)
    return frame, _Part(summary, findings, rejected, _coverage_row(name, frame))


def _parents(name: str) -> dict[str, list[str]]:
    """The tables whose kept rows the checks of table ``name`` read, and their columns
    read: its foreign keys' tables, and the children's dates of birth."""
    table = TABLES[name]
    out: dict[str, list[str]] = {}
    if "child_id" in table.column_names and name != "children":
        out["children"] = ["child_id", "date_of_birth"]
    for fk in table.foreign_keys:
        out[fk.ref_table] = list(dict.fromkeys([*out.get(fk.ref_table, []), *fk.ref_columns]))
    return out


#: a forked worker's parent tables, read once from the entry being built
_STORED: dict[tuple[str, str], pd.DataFrame] = {}


def _stored(tmp: Path, name: str, columns: list[str]) -> pd.DataFrame:
    """``columns`` of table ``name`` as stored in the entry being built (memory-mapped)."""
    key = (str(tmp / name), ",".join(columns))
    if key not in _STORED:
        with pa.memory_map(str(tmp / f"{name}.arrow")) as src:
            _STORED[key] = C.to_pandas(pa.ipc.open_file(src).read_all().select(columns))
    return _STORED[key]


def _validate_into(name: str, folder: Path, extract: pd.Timestamp, tmp: Path) -> _Part:
    """Validate table ``name`` in a worker and store its kept rows in the entry being
    built at ``tmp``; the report's part goes back to the caller."""
    parents = {p: _stored(tmp, p, cols) for p, cols in _parents(name).items()}
    frame, part = _validate(name, folder, parents, extract)
    C.write_table(tmp, name, frame)
    return part


def _cost(folder: Path, name: str) -> int:
    """A table's size as text, to validate the largest first: a CSV's bytes; for
    Parquet, rows x columns x 6 bytes (about a CSV cell's)."""
    path = find_table_file(folder, name)
    if path is None:
        return 0
    if path.suffix.lower() != ".parquet":
        return path.stat().st_size
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # unreadable: its worker reports it
        return path.stat().st_size
    return meta.num_rows * meta.num_columns * 6


#: Below this much text in all (bytes, :func:`_cost`) the tables are validated one after
#: another in this process: forking a pool costs more than it saves on a small folder.
PARALLEL_MIN_BYTES = 4 * 2**20


def _validate_parts(folder: Path, extract: pd.Timestamp, tmp: Path, jobs: int) -> list[_Part]:
    """Every table's part of the report, in LOAD_ORDER, each table validated and stored
    in ``tmp`` by a pool of ``jobs`` forked workers (in this process, in LOAD_ORDER, for
    one job or under ``PARALLEL_MIN_BYTES`` of text).

    A table starts once the tables it reads are stored (:func:`_parents`); of those
    ready, the one that gates most text (its own and its dependants') goes first, and
    no more are queued than there are workers, so the next choice is made when one is
    free."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait

    from . import workers

    needs = {name: set(_parents(name)) for name in LOAD_ORDER}
    cost = {name: _cost(folder, name) for name in LOAD_ORDER}
    if jobs == 1 or sum(cost.values()) < PARALLEL_MIN_BYTES:
        try:  # LOAD_ORDER stores every table before the tables that read it
            return [_validate_into(name, folder, extract, tmp) for name in LOAD_ORDER]
        finally:
            _STORED.clear()
    weight = {name: cost[name] + sum(cost[d] for d in _dependants(name, needs)) for name in cost}
    parts: dict[str, _Part] = {}
    running: dict = {}
    with workers.pool(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        while len(parts) < len(LOAD_ORDER):
            busy = set(running.values())
            ready = [
                n for n in LOAD_ORDER if n not in parts and n not in busy and needs[n] <= set(parts)
            ]
            for name in sorted(ready, key=lambda n: -weight[n])[: jobs - len(running)]:
                running[pool.submit(_validate_into, name, folder, extract, tmp)] = name
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                parts[running.pop(fut)] = fut.result()
    return [parts[name] for name in LOAD_ORDER]


def _dependants(name: str, needs: dict[str, set[str]]) -> set[str]:
    """The tables whose checks read ``name``, directly or through others."""
    direct = {n for n, parents in needs.items() if name in parents}
    return direct.union(*(_dependants(n, needs) for n in direct))


def _report(
    parts: list[_Part], extract: pd.Timestamp, source: str, start: pd.Timestamp | None
) -> DataQualityReport:
    """The data-quality report from every table's part, in LOAD_ORDER."""
    return DataQualityReport(
        summary=pd.DataFrame([p.summary for p in parts], columns=SUMMARY_COLUMNS),
        findings=pd.DataFrame([f for p in parts for f in p.findings], columns=FINDING_COLUMNS),
        rejected={
            name: p.rejected.reset_index(drop=True)
            for name, p in zip(LOAD_ORDER, parts, strict=True)
            if p.rejected is not None and len(p.rejected)
        },
        extract_date=extract,
        extract_source=source,
        coverage=pd.DataFrame(
            [p.coverage for p in parts if p.coverage is not None],
            columns=["table", "first_date", "last_date"],
        ),
        data_start=start,
    )


def load_tables(
    path: str | Path,
    extract_date: str | pd.Timestamp | None = None,
    cache: str | Path | None = None,
    written: dict[str, pd.DataFrame] | None = None,
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
    written : tables this process has just written as ``<table>.csv`` in the folder,
        each as text exactly as reading its file gives it (``audit import``: see
        ``sources.write_text``); checked instead of reading the files back.

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
    extract, source, start = extract_info(folder, extract_date)
    root = cache or os.environ.get(C.CACHE_ENV)
    cached = C.entry_path(folder, extract, root) if root else None
    if cached is not None:
        hit = C.read(cached)
        if hit is not None:
            return hit  # a damaged or absent entry is rebuilt below
    tables: dict[str, pd.DataFrame] = {}
    parts = []
    for name in LOAD_ORDER:
        tables[name], part = _validate(name, folder, tables, extract, (written or {}).get(name))
        parts.append(part)
    report = _report(parts, extract, source, start)
    if cached is not None:
        C.write(cached, tables, report, folder)
    return tables, report


def _coverage_row(name: str, frame: pd.DataFrame) -> dict | None:
    """The first and last date in table ``name`` (dates of birth aside), or None when
    it holds none."""
    cols = [c for c in TABLES[name].columns_of("date") if c != "date_of_birth"]
    if frame.empty or not cols:
        return None
    dates = np.concatenate([frame[c].to_numpy(dtype="datetime64[ns]") for c in cols])
    dates = dates[~np.isnat(dates)]
    if not len(dates):
        return None
    first, last = pd.Timestamp(dates.min()), pd.Timestamp(dates.max())
    return {"table": name, "first_date": f"{first:%Y-%m-%d}", "last_date": f"{last:%Y-%m-%d}"}


def extract_info(folder: Path, given=None) -> tuple[pd.Timestamp, str, pd.Timestamp | None]:
    """The folder's extract date, where it came from, and the data start if recorded.

    ``given`` wins; else ``extract.json`` (written by ``audit import`` from the returns'
    reference dates, or by the synthetic generator); else today, as the latest date a
    record could carry. An ``extract.json`` that cannot be read is a LoadError."""
    if given is not None:
        try:
            return pd.Timestamp(given).normalize(), "given", None
        except ValueError:
            raise LoadError(f"extract date is not a date: {given!r}") from None
    meta = Path(folder) / "extract.json"
    if meta.is_file():
        import json

        try:
            info = json.loads(meta.read_text())
            date = pd.Timestamp(info["extract_date"]).normalize()
            if pd.isna(date):
                raise ValueError("blank")
            start = info.get("data_start")
            start = pd.Timestamp(start) if start else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise LoadError(
                f"{meta}: cannot read the extract date ({reason}); fix the file, or give "
                "--extract-date"
            ) from None
        source = info.get("date_source") or info.get("source") or ""
        return date, "extract.json" + (f": {source}" if source else ""), start
    return pd.Timestamp.today().normalize(), "no extract.json: today", None


def _extract_date(folder: Path, given) -> pd.Timestamp:
    return extract_info(folder, given)[0]
