"""The run's table cache: validated tables read once per run, kept out of the reports.

``audit run`` validates the data folder once, in its own process, and every notebook
then reads the validated tables from here instead of parsing and checking the CSVs
again. Each entry is a private folder (mode 0700, files 0600) in the user cache
directory (``platformdirs.user_cache_dir("audit_lib")/tables``, or ``$AUDIT_CACHE_HOME``),
never beside the pages, because the tables are child-level data:

- one uncompressed Arrow IPC (Feather v2) file per table, read memory-mapped, so a
  notebook's load is a copy out of the page cache, not a parse; dtypes round-trip;
- ``report.pkl``: the data-quality report (summary, findings, rejected rows);
- ``manifest.json``: the data folder it came from and when it was written.

Entries are keyed by the data files' names, sizes and modification times, the extract
date and this code, so a changed file or a new version is a new entry. ``prune`` keeps
the newest ``KEEP`` entries no older than ``MAX_AGE_DAYS`` and deletes the rest; the run
calls it every time. A run holds its entry (``in_use``: a shared ``flock`` on the entry's
folder) until it ends, and ``prune`` leaves an entry that is held, so one run never
deletes the tables another run's notebooks are still reading; a process that reads an
entry (a notebook's kernel) holds it too, while any of the tables it read from it may
still be converted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

__all__ = [
    "CACHE_ENV",
    "HOME_ENV",
    "cache_root",
    "building",
    "entry_path",
    "finish",
    "fingerprint",
    "in_use",
    "prune",
    "python_text",
    "read",
    "to_pandas",
    "with_table",
    "write",
    "write_table",
]

#: set by ``audit run`` for its notebooks: ``load_tables`` reads and writes entries there
CACHE_ENV = "AUDIT_CACHE_DIR"
#: where ``audit run`` keeps entries, if not the user cache directory
HOME_ENV = "AUDIT_CACHE_HOME"
#: entries kept after a run (the newest first) and their greatest age
KEEP = 2
MAX_AGE_DAYS = 7
_HERE = Path(__file__).resolve().parent


def cache_root(root: str | Path | None = None) -> Path:
    """The folder holding cache entries: ``root``, else ``$AUDIT_CACHE_HOME``, else the
    user cache directory."""
    if root:
        return Path(root)
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("audit_lib", appauthor=False)) / "tables"


def fingerprint(folder: Path, extract: pd.Timestamp) -> str:
    """Identifies a folder's contents cheaply: each file's name, size and mtime, the
    extract date, and the code that validates and stores the tables."""
    from . import __version__

    h = hashlib.sha256(f"{folder.resolve()}|{extract}|{__version__}".encode())
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    for name in ("load.py", "tablefile.py", "model.py", "cache.py"):
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()[:32]


def entry_path(folder: Path, extract: pd.Timestamp, root: str | Path | None = None) -> Path:
    """Where the validated tables of ``folder`` are (or would be) cached."""
    return cache_root(root) / fingerprint(folder, extract)


#: tables kept in memory after a read, so a kernel that runs several notebooks (a warm
#: kernel of ``audit run``) converts each table once; callers get copies. Small data only:
#: larger entries keep only their memory-mapped Arrow tables and convert on each use.
MEMO_MAX_BYTES = 256 * 2**20
_MEMO: dict = {}


class Tables(dict):
    """Table name -> DataFrame, each table converted from the entry's memory-mapped Arrow
    file the first time it is asked for. It behaves as a plain dict of DataFrames (every
    name is a key from the start; ``dict(tables)``, ``{**tables}``, ``items()`` and
    ``values()`` give the DataFrames), but a notebook that never looks at a table never
    pays to convert it, nor keeps it in memory (at 1,000,000 children the visits alone
    are millions of rows)."""

    def __init__(self, names, convert) -> None:
        super().__init__(dict.fromkeys(names))
        self._pending = set(names)
        self._convert = convert

    def __getitem__(self, name):
        if name in self._pending:
            dict.__setitem__(self, name, self._convert(name))
            self._pending.discard(name)
        return dict.__getitem__(self, name)

    def __setitem__(self, name, value) -> None:
        self._pending.discard(name)
        dict.__setitem__(self, name, value)

    def __delitem__(self, name) -> None:
        self._pending.discard(name)
        dict.__delitem__(self, name)

    def __iter__(self):  # also makes dict(t) and {**t} read values through __getitem__
        return dict.__iter__(self)

    def get(self, name, default=None):
        return self[name] if name in self else default  # noqa: SIM401 (dict.get skips __getitem__)

    def items(self):
        return [(k, self[k]) for k in self]

    def values(self):
        return [self[k] for k in self]

    def pop(self, name, *default):
        if name in self:
            value = self[name]
            del self[name]
            return value
        if default:
            return default[0]
        raise KeyError(name)

    def update(self, *args, **kw) -> None:
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def setdefault(self, name, default=None):
        if name not in self:
            self[name] = default
        return self[name]

    def copy(self) -> dict:
        return dict(self)

    def __eq__(self, other) -> bool:
        return dict(self) == other

    __hash__ = None

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self):
        return (dict, (dict(self),))


def with_table(tables: dict, name: str, frame: pd.DataFrame) -> dict:
    """``tables`` with ``frame`` as table ``name``, as ``{**tables, name: frame}``, but a
    :class:`Tables` stays lazy: the new mapping converts its other tables only when asked
    for, and through ``tables`` (``{**tables}`` would convert every one of them)."""
    if not isinstance(tables, Tables):
        return {**tables, name: frame}
    out = Tables(list(tables), tables.__getitem__)
    out[name] = frame
    return out


def read(entry: Path):
    """``(tables, report)`` from a cache entry, or None if it is absent or damaged.

    ``tables`` is a :class:`Tables`: each DataFrame is made from its memory-mapped Arrow
    file when first used (the files' footers are checked here). The frames returned are
    the caller's own: changing them never changes what the next read returns.

    The process holds the entry (a shared lock, as :func:`in_use`) while the tables of
    any read of it may still be converted (until they, and the kernel's memo of this
    entry, are gone), so ``prune`` in another process (a second run) never deletes
    tables that are still to be converted.
    """
    import copy

    import pyarrow as pa

    manifest = entry / "manifest.json"
    try:
        stamp = (str(entry), manifest.stat().st_mtime_ns)
    except OSError:
        return None
    if _MEMO.get("stamp") != stamp:
        hold = _take(entry, exclusive=False)  # prune leaves an entry that is held
        if hold is None:
            return None
        try:
            names = json.loads(manifest.read_text())["tables"]
            size = 0
            for name in names:
                path = entry / f"{name}.arrow"
                with pa.memory_map(str(path)) as src:
                    pa.ipc.open_file(src)  # a damaged file fails here (its footer)
                size += path.stat().st_size  # uncompressed: about its size in memory
            with (entry / "report.pkl").open("rb") as fh:
                report = pickle.load(fh)
        except (OSError, KeyError, ValueError, pa.ArrowException, pickle.UnpicklingError, EOFError):
            _release(hold)  # absent (pruned meanwhile) or damaged: the caller rebuilds it
            return None
        _MEMO.clear()
        small = size <= MEMO_MAX_BYTES
        _MEMO.update(
            stamp=stamp, names=names, report=report, frames={} if small else None, hold=_Held(hold)
        )
    frames, held = _MEMO["frames"], _MEMO["hold"]

    def convert(name: str, held: _Held = held) -> pd.DataFrame:  # held while convertible
        if frames is not None and name in frames:
            return frames[name].copy()
        with pa.memory_map(str(entry / f"{name}.arrow")) as src:
            frame = to_pandas(pa.ipc.open_file(src).read_all())
        if frames is not None:  # small: kept for the kernel's next notebook
            frames[name] = frame.copy()
        return frame

    return Tables(_MEMO["names"], convert), copy.deepcopy(_MEMO["report"])


class _Held:
    """A shared lock on an entry (:func:`_take`'s descriptor), released when the last
    reader that may still convert its tables lets go of it."""

    def __init__(self, fd: int | None) -> None:
        weakref.finalize(self, _release, fd)


def to_pandas(table) -> pd.DataFrame:
    """A stored table as a DataFrame: what ``table.to_pandas()`` gives (the same values
    and dtypes), but each distinct text in a ``string`` column is one Python object
    shared by its rows, where pandas would make one per row (at a million children,
    the visits' ids and codes alone were 0.4 GB and 2 CPU s)."""
    import pyarrow as pa

    meta = {
        c["name"]: c["numpy_type"] for c in (table.schema.pandas_metadata or {}).get("columns", [])
    }
    text = [
        f.name for f in table.schema if pa.types.is_string(f.type) and meta.get(f.name) == "string"
    ]
    frame = table.drop_columns(text).to_pandas()
    for name in text:  # in column order
        frame.insert(table.column_names.index(name), name, python_text(table.column(name)))
    return frame


def python_text(values) -> pd.api.extensions.ExtensionArray:
    """Arrow text (an Arrow array, or a Series of Arrow strings) as pandas' ``string``
    array (Python storage), with one Python object per distinct value, shared by the
    rows that hold it."""
    import pyarrow as pa

    arrow = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    return pd.array(arrow.to_pandas(deduplicate_objects=True).to_numpy(), dtype="string")


@contextlib.contextmanager
def building(entry: Path) -> Iterator[Path]:
    """A fresh private folder beside ``entry`` (mode 0700) to write an entry into with
    :func:`write_table` and :func:`finish`; removed if the block fails, and if
    :func:`finish` was not reached."""
    root = entry.parent
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))  # created 0700
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone once renamed: nothing to do


def write_table(tmp: Path, name: str, frame: pd.DataFrame) -> None:
    """One table of an entry being built, as an uncompressed Arrow IPC file."""
    import pyarrow.feather as feather

    feather.write_feather(frame, tmp / f"{name}.arrow", compression="uncompressed")


def finish(tmp: Path, entry: Path, report, source: Path, names: list[str]) -> None:
    """Complete the entry built in ``tmp`` (its tables ``names`` written) with the report
    and manifest, make every file 0600 and rename it into place as ``entry``. If another
    process got there first, its entry is kept."""
    with (tmp / "report.pkl").open("wb") as fh:
        pickle.dump(report, fh, protocol=pickle.HIGHEST_PROTOCOL)
    doc = {"source": str(source), "written": time.time(), "tables": list(names)}
    (tmp / "manifest.json").write_text(json.dumps(doc))
    for p in tmp.iterdir():
        os.chmod(p, 0o600)
    with contextlib.suppress(OSError):  # an entry of the same key appeared meanwhile
        tmp.rename(entry)


def write(entry: Path, tables: dict[str, pd.DataFrame], report, source: Path) -> None:
    """Store ``tables`` and ``report`` as ``entry``, atomically and privately.

    The files are written into a fresh private folder beside ``entry`` (mode 0700,
    files 0600) and the folder is renamed into place, so a concurrent reader never sees
    half an entry. If another process got there first, its entry is kept.
    """
    with building(entry) as tmp:
        for name, frame in tables.items():
            write_table(tmp, name, frame)
        finish(tmp, entry, report, source, list(tables))


def _take(entry: Path, exclusive: bool) -> int | None:
    """Lock the folder ``entry`` (``flock``): shared, waiting while an exclusive holder
    deletes it; or exclusive, not waiting. Returns the open descriptor that holds the
    lock (release it with :func:`_release`), or None if the folder is gone or another
    process holds it. Where ``flock`` does not exist (not POSIX), returns -1 if the
    folder exists."""
    try:
        import fcntl
    except ImportError:
        return -1 if entry.is_dir() else None
    try:
        fd = os.open(entry, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
    except OSError:  # a run is reading it
        os.close(fd)
        return None
    return fd


def _release(fd: int | None) -> None:
    """Release a lock taken by :func:`_take` (nothing for None or -1)."""
    if fd is not None and fd >= 0:
        os.close(fd)


@contextlib.contextmanager
def _lock(entry: Path, exclusive: bool):
    """:func:`_take` for a block: yields whether the lock was taken."""
    fd = _take(entry, exclusive)
    try:
        yield fd is not None
    finally:
        _release(fd)


@contextlib.contextmanager
def in_use(entry: Path):
    """Hold ``entry`` while a run reads it: a shared lock on its folder, which ``prune``
    (in this or another process) will not delete. Released when the block ends or the
    process dies. Yields False if the entry is gone (pruned before it was held)."""
    with _lock(entry, exclusive=False) as held:
        yield held and (entry / "manifest.json").exists()


def prune(
    root: str | Path | None = None,
    keep: int = KEEP,
    max_age_days: float = MAX_AGE_DAYS,
    now: float | None = None,
) -> list[Path]:
    """Delete all but the newest ``keep`` entries, and any older than ``max_age_days``
    (and unfinished writes older than an hour), except entries a run holds
    (:func:`in_use`). Returns what was deleted."""
    base = cache_root(root)
    if not base.is_dir():
        return []
    now = time.time() if now is None else now
    entries, gone = [], []
    for p in base.iterdir():
        if not p.is_dir():
            continue
        age = now - p.stat().st_mtime
        if p.name.startswith(".tmp-"):
            if age > 3600:
                gone.append(p)
        else:
            entries.append((p.stat().st_mtime, p))
    entries.sort(reverse=True)
    for i, (mtime, p) in enumerate(entries):
        if i >= keep or now - mtime > max_age_days * 86400:
            gone.append(p)
    deleted = []
    for p in gone:
        with _lock(p, exclusive=True) as free:  # not while a run holds it
            if free:
                shutil.rmtree(p, ignore_errors=True)
                deleted.append(p)
    return deleted


def touch(entry: Path) -> None:
    """Mark an entry as just used (pruning keeps the most recently used)."""
    with contextlib.suppress(OSError):
        os.utime(entry)
