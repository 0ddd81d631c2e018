"""A canonical table's file as text: reading a CSV (any of the encodings an authority's
systems write, malformed rows taken out and returned, never shifting a column) or a
Parquet file, as the strings a CSV of it would hold; and writing a table back as the
same text (ISO dates, lower-case booleans). :mod:`audit_lib.load` checks what is read."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "CSV_OPTIONS",
    "TEXT",
    "date_part",
    "find_table_file",
    "read_csv_rows",
    "read_parquet_text",
    "read_table_text",
    "read_text",
    "text_frame",
    "trailing_note",
    "write_csv",
    "write_parquet",
]

#: the dtype of a table's text as read
TEXT = "string[pyarrow]"
#: how ``pd.read_csv`` reads a table's CSV: every value the text written, "" for blank
CSV_OPTIONS = dict(dtype=TEXT, keep_default_na=False, na_filter=False, skip_blank_lines=True)


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


_TIME_PART = r"^(\d{4}-\d{2}-\d{2}|\d{8}|\d{1,2}/\d{1,2}/\d{4})[T ]\d.*$"
#: an ISO date (extended or compact) and the time (and zone) after it
ISO_TIME = r"^(\d{4}-?\d{2}-?\d{2})[T ].*$"


def date_part(s: pd.Series) -> pd.Series:
    """Text dates without their time of day or time zone: ``2024-05-01T10:00:00+01:00``,
    ``20240501T100000Z`` and ``01/05/2024 10:00`` are read as the date written, 1 May
    2024."""
    return s.str.replace(_TIME_PART, r"\1", regex=True)


def normalise_header(name: str) -> str:
    name = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-./]+", "_", name)


def unclosed_quote(text: str) -> int | None:
    """The line on which a quote opens and never closes on that line, or None.

    Counting quote characters per physical line: where the running count turns odd, a
    quoted field runs past the end of its line. These tables hold no line breaks inside
    fields, so that is an unclosed quote, which would swallow the rows after it."""
    if '"' not in text:
        return None
    counts = pd.Series(text.split("\n")).str.count('"')
    odd = (counts.cumsum() % 2).to_numpy()
    if not odd.any():
        return None
    return int(np.argmax(odd)) + 1


def read_csv_rows(
    path: Path, dtype: str | type = TEXT
) -> tuple[pd.DataFrame, list[str], str, int | None]:
    """Read a CSV as strings (``dtype``: Arrow strings, or ``object``). Returns (frame,
    malformed lines, encoding, the line of an unclosed quote or None).

    A row with more fields than the header is a malformed line, taken out (never read
    as the index, which would shift every column, nor failing the file). A file with an
    unclosed quote is read line by line with quotes taken as written, so no row is
    swallowed; the row holding the quote is returned as a malformed line.

    Rows whose extra fields are all empty (the trailing comma some exports add to every
    row) are read without them; ``frame.attrs["trailing_blank_rows"]`` counts them."""
    text, encoding = read_text(path)
    trailing = 0
    if (frame := read_plain_csv(text)) is None:  # rows of another length: trim first
        text, trailing = drop_trailing_blank_fields(text)
    frame, bad, line = _csv_rows(text, dtype, frame)
    if trailing:
        frame.attrs["trailing_blank_rows"] = trailing
    return frame, bad, encoding, line


def trailing_note(rows: int) -> str:
    """The finding for rows read without the empty fields after their last column."""
    return (
        f"{rows:,} row(s) end in empty fields beyond the header's columns (a trailing "
        "comma): read without them"
    )


#: a field of one line: quoted (a doubled quote inside), or without commas or quotes
_FIELD = r'(?:"(?:[^"\r\n]|"")*"|[^,"\r\n]*)'


def drop_trailing_blank_fields(text: str) -> tuple[str, int]:
    """``text`` with the empty fields after each row's last header field taken off, and
    how many rows had them. The header is the first line that is not blank, its fields
    counted as a CSV reader counts them (a quoted field may hold commas); a row with
    anything but commas beyond the header stays long."""
    if ",\n" not in text and ",\r\n" not in text and not text.endswith(","):
        return text, 0
    header = re.search(r"[^\r\n]+", text)
    n = len(next(csv.reader([header.group(0)]))) - 1
    f = _FIELD if '"' in text else r"[^,\r\n]*"  # the simpler pattern is faster
    fields = re.compile(rf"^((?:{f},){{{n}}}{f}),+(?=\r?$)", re.M)
    return fields.subn(r"\1", text)


def _csv_rows(
    text: str, dtype: str | type, frame: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str], int | None]:
    """:func:`read_csv_rows` on the file's text: (frame, malformed lines, unclosed
    quote); ``frame`` is :func:`read_plain_csv`'s, if already read."""
    if frame is not None or (frame := read_plain_csv(text)) is not None:
        frame = frame if dtype == TEXT else frame.astype(dtype)
        frame.attrs["skipped_lines"] = []
        return frame, [], None
    opts = dict(CSV_OPTIONS, dtype=dtype)
    if (line := unclosed_quote(text)) is not None:
        opts["quoting"] = csv.QUOTE_NONE
        opts["engine"] = "python"
        bad: list[str] = []

        def keep(fields: list[str]) -> None:
            bad.append(",".join(fields))
            return None

        frame = pd.read_csv(io.StringIO(text), on_bad_lines=keep, **opts)
        at = line - 2  # the header is line 1
        if 0 <= at < len(frame):
            bad.insert(0, ",".join(frame.iloc[at].astype(str)))
            frame = frame.drop(index=frame.index[at]).reset_index(drop=True)
        return frame, bad, line
    # pandas reads the first columns as an index when the first row has more fields than
    # the header (every column shifts): such leading rows are malformed lines, taken out
    long = _long_first_rows(text)
    physical = text.split("\n", long[-1]) if long else []
    bad = [physical[n - 1].rstrip("\r") for n in long]
    if long:
        opts["skiprows"] = [n - 1 for n in long]
    try:
        frame = pd.read_csv(io.StringIO(text), **opts)
        frame.attrs["skipped_lines"] = long  # so the rows after keep their line numbers
        return frame, bad, None
    except pd.errors.ParserError:

        def keep_bad(fields: list[str]) -> None:
            bad.append(",".join(fields))
            return None

        frame = pd.read_csv(io.StringIO(text), engine="python", on_bad_lines=keep_bad, **opts)
        return frame, bad, None


def read_plain_csv(text: str) -> pd.DataFrame | None:
    """The frame ``pd.read_csv`` reads (with ``CSV_OPTIONS``) from a CSV without
    quotes, NUL characters or carriage returns outside CRLF line ends, whose first line
    is its header of two or more distinct names and whose every row has as many
    fields, read by Arrow's parser (several times faster); None for any other CSV,
    which pandas reads.

    Arrow fails on a row of any other length, a blank line of spaces or tabs among
    them (pandas skips those), and then pandas reads the file."""
    if '"' in text or "\x00" in text or text[:1] in ("", "\n", "\r", " ", "\t"):
        return None
    if "\r" in text and text.count("\r") != text.count("\r\n"):  # pandas' reading varies
        return None
    names = re.match(r"[^\r\n]*", text).group(0).split(",")
    if len(names) < 2 or len(set(names)) < len(names) or "" in names:
        return None
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pcsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeError):
        return None
    return pd.DataFrame(
        {n: pd.arrays.ArrowStringArray(table.column(i)) for i, n in enumerate(names)}
    )


def _long_first_rows(text: str) -> list[int]:
    """The lines of the data rows at the top of a CSV that have more fields than its
    header (blank lines passed over); empty when the first data row fits."""
    rows = csv.reader(io.StringIO(text))
    header = next((row for row in rows if row), None)  # blank lines before it passed over
    if header is None:
        return []
    long = []
    for row in rows:
        if not row:  # a blank line
            continue
        if len(row) <= len(header):
            break
        long.append(rows.line_num)
    return long


def read_parquet_text(path: Path, dtype: str | type = TEXT) -> pd.DataFrame:
    """A Parquet table as the text a CSV of it would hold: ISO dates, whole numbers
    without ``.0``, blanks for missing; every column of ``dtype``. Text columns are read
    straight into Arrow strings (no Python object per value)."""
    import pyarrow.parquet as pq

    text = pd.StringDtype("pyarrow")
    frame = pq.read_table(path).to_pandas(
        types_mapper={pa.string(): text, pa.large_string(): text}.get
    )
    out = {}
    for name, col in frame.items():
        if isinstance(col.dtype, pd.StringDtype):
            pass
        elif pd.api.types.is_datetime64_any_dtype(col):
            col = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
            col = col.astype("Int64").astype("string")
        else:
            col = col.astype("string")
        out[name] = col.fillna("").astype(dtype)
    return pd.DataFrame(out, index=frame.index)


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.astype(TEXT)``; a column of ``str`` (and missing values) is handed to
    Arrow whole, without pandas' check of each value."""
    if frame.columns.has_duplicates:
        return frame.astype(TEXT)
    try:
        return pd.DataFrame(
            {
                c: pd.arrays.ArrowStringArray(
                    pa.array(col.to_numpy(dtype=object), pa.large_string(), from_pandas=True)
                )
                for c, col in frame.items()
            },
            index=frame.index,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value that is not text
        return frame.astype(TEXT)


def find_table_file(folder: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``folder`` (.parquet preferred over .csv), or None."""
    found: dict[str, Path] = {}
    for p in folder.iterdir():  # names in any case; of two, the later listed
        if (low := p.name.lower()) in (f"{name}.parquet", f"{name}.csv") and p.is_file():
            found[low] = p
    return found.get(f"{name}.parquet") or found.get(f"{name}.csv")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical table as its file text: ISO dates, lower-case booleans."""
    out = frame.copy()
    for name, col in out.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
            out[name] = col.map({True: "true", False: "false"})
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a canonical table as CSV: ISO dates, lower-case booleans, blanks for missing."""
    _as_text(frame).to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a canonical table as Parquet holding the same text as :func:`write_csv`
    (every column a string, blanks for missing), zstd-compressed; byte-identical for the
    same table."""
    out = _as_text(frame)
    out = out.astype(object).where(out.notna(), "").astype(str)
    out.to_parquet(path, index=False, compression="zstd")


def read_table_text(folder: Path, name: str) -> pd.DataFrame | None:
    """Table ``name`` of a canonical folder as text, unvalidated, whichever file holds it
    (:func:`find_table_file`); None when the folder has none."""
    path = find_table_file(Path(folder), name)
    if path is None:
        return None
    if path.suffix.lower() == ".parquet":
        return read_parquet_text(path, str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)
