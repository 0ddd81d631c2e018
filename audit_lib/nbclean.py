"""Stable committed notebooks: strip what changes from one execution to the next.

Executing a notebook records timestamps and durations (papermill and the kernel), the
Python version, object addresses in plain-text reprs (``<... at 0x7f3a...>``) and, for
cells that lack one, random cell ids. None of it is a result, and all of it makes
``git status`` dirty after re-running on unchanged data. ``clean_notebook`` removes or
fixes each, so the committed outputs differ only where a figure, table or chart does.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat

__all__ = ["clean_notebook", "clean_file"]

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
#: What addresses become: the same token notebooks/sanitize.cfg gives nbval.
ADDRESS = "0xADDRESS"
#: Cell metadata keys written by execution (timings, status), never by an author.
VOLATILE_CELL_KEYS = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def _stable_id(index: int, source: str, taken: set[str]) -> str:
    base = hashlib.sha1(f"{index}:{source}".encode()).hexdigest()[:8]
    cid, n = base, 0
    while cid in taken:
        n += 1
        cid = f"{base}-{n}"
    return cid


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution timings and versions, fix ids and object addresses, in place.

    Kept: cell sources, tags, outputs (addresses in ``text/plain`` reprs become
    ``0xADDRESS``, as nbval's sanitizer writes them), execution counts, and the
    notebook's ``audit`` and ``kernelspec`` metadata.
    Cell ids already present are kept (so authors' edits merge); missing or papermill-
    injected ones become a hash of the cell's position and source.
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    info = nb.metadata.get("language_info")
    if info is not None:
        info.pop("version", None)
    taken: set[str] = set()
    for i, cell in enumerate(nb.cells):
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        tags = cell.metadata.get("tags")
        if tags == []:
            cell.metadata.pop("tags")
        injected = "injected-parameters" in (tags or [])
        cid = cell.get("id")
        if injected:
            cid = "injected-parameters"
        if not cid or cid in taken:
            cid = _stable_id(i, cell.source, taken)
        cell["id"] = cid
        taken.add(cid)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/plain")
            if isinstance(text, str):
                data["text/plain"] = _ADDRESS.sub(ADDRESS, text)
            elif isinstance(text, list):
                data["text/plain"] = [_ADDRESS.sub(ADDRESS, t) for t in text]
            out.get("metadata", {}).pop("execution", None)
    if nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    return nb


def clean_file(path: str | Path) -> bool:
    """Clean one notebook file in place; True when it changed."""
    path = Path(path)
    before = path.read_text()
    nb = nbformat.reads(before, as_version=4)
    after = nbformat.writes(clean_notebook(nb))
    if after != before:
        path.write_text(after)
        return True
    return False
