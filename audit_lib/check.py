"""``audit check REPORT_DIR``: scan a finished report folder before it is sent on.

The rules (docs/disclosure.md) are the disclosure layer's, applied to what was written:

- ``small-count``: a count from 1 to ``suppress_max`` in page text ("2 children",
  "(3 of 40)", "5 audits; 1 moderated") or in a count column of a table;
- ``staff-id``: a staff id (default patterns ``AUD01``, ``W0708``; with ``--data``, every
  auditor and worker id in the data) anywhere on a page;
- ``raw-output``: a printed dict, list or DataFrame repr, or any ``<pre>`` output;
- ``warning``: a Python warning, traceback or server file path on a page;
- ``markup``: live markup from the data: script, iframe, object, embed, form, base,
  event-handler attributes, ``javascript:`` links, elements inside table cells;
- ``formula``: a worklist CSV cell that a spreadsheet would run (OWASP CSV injection);
- ``child-level``: a file that can hold child-level data outside ``worklists/``
  (pickles, parquet, CSV, spreadsheets, caches), or a raw ``child_id`` column in a
  worklist.

Each finding names the file, the rule and the offending text. ``check()`` returns the
findings; the command prints them and exits 1 if there are any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Finding", "check", "page_problems", "scrub_notebook"]

#: Words after a number that make it a count of people or records.
COUNT_NOUNS = (
    r"children|child|young people|people|audits?|audited cases|cases?|items?|moderated"
    r"|referrals?|assessments?|ICPCs?|enquiries|plans?|reviews?|visits?|families|rows?"
    r"|auditors?|workers?|teams? with|adoptions?|placements?|spells?|episodes?"
)
SMALL_COUNT_TEXT = (
    # "(3 of 40)", "3 of 40 children", "c of 6" (a small denominator)
    r"(?<![\d.,%])\b([1-{k}]) of [\d,]+\b",
    r"\bof ([1-{k}])\b(?! (?:the|these|those|\d))(?![\d.,%])",
    # "2 children in care", "5 audits; 1 moderated"
    r"(?<![\d.,%£$-])\b([1-{k}]) (?:(?:more |fewer |other |open |moderated |audited )?"
    r"(?:" + COUNT_NOUNS + r"))\b",
)
COUNT_HEADER = re.compile(
    r"\b(count|children|audits|items|rows|events|numerator|denominator|overdue|due soon"
    r"|refused|not.obtained|not.known|missing|n|moderated|previous.count|in time, n)\b",
    re.I,
)
STAFF_PATTERNS = (r"\bAUD\d{2,}\b", r"\bW\d{4}\b")
RAW_OUTPUT = (
    r"\{'[^']*': ",
    r'\{"[^"]*": ',
    r"\bdtype: (?:int|float|object)",
    r"<(?:pandas|matplotlib|audit_lib)\.[\w.]+ object at 0x",
    r"\[\d+ rows x \d+ columns\]",
)
WARNINGS = (
    r"\b\w*Warning\b:",
    r"Traceback \(most recent call last\)",
    r"(?:/[\w.-]+){2,}\.py(?::\d+)?",
    r"site-packages",
)
BAD_ELEMENTS = ("script", "iframe", "object", "embed", "form", "input", "base", "link", "meta")
CHILD_LEVEL_SUFFIXES = {
    ".pkl",
    ".pickle",
    ".parquet",
    ".feather",
    ".arrow",
    ".csv",
    ".xlsx",
    ".xls",
    ".xml",
    ".sqlite",
    ".db",
    ".npy",
    ".npz",
    ".h5",
}
ALLOWED_TOP = {".html", ".ipynb", ".json", ".log", ".key_fingerprint"}
FORMULA = re.compile(r"^(?:[=+@\t\r]|-(?!\d+(?:\.\d+)?$))")


@dataclass
class Finding:
    file: str
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}: {self.rule}: {self.text}"


def _excerpt(text: str, m: re.Match, width: int = 40) -> str:
    a, b = max(m.start() - width, 0), min(m.end() + width, len(text))
    return " ".join(text[a:b].split())


def _styler_css(css: str) -> bool:
    """A <style> written by pandas' Styler: every selector is ``#T_<uuid>...``."""
    selectors = re.findall(r"([^{}]+)\{", css)
    return all(sel.strip().startswith("#T_") for sel in selectors)


def _in_styler_table(el) -> bool:
    """Inside a table written by pandas' Styler (id ``T_<uuid>``): its cells hold text
    only, so any element there came from the data."""
    for parent in el.iterancestors("table"):
        return str(parent.get("id", "")).startswith("T_")
    return False


def scrub_notebook(nb) -> tuple[list[str], list[str]]:
    """Before a notebook becomes a page: remove stderr streams (warnings) and raw
    values (an execute_result with only text/plain, e.g. a dict), in place.

    Returns (warnings, raw): text for run.log (warnings, and what each raw value was),
    and a description of each raw value without its content, which fails the page.
    """
    warnings, raw = [], []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        keep = []
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream" and o.get("name") == "stderr":
                warnings.append(" ".join(str(o.get("text", "")).split())[:500])
                continue
            if kind == "stream":  # print(): pages show displayed results only
                where = f"cell {cell.get('execution_count') or i}"
                raw.append(f"{where} printed text (not shown)")
                warnings.append(
                    f"{where} printed: " + " ".join(str(o.get("text", "")).split())[:200]
                )
                continue
            if kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                shown = set(data) - {"text/plain"}
                if not shown:
                    where = f"cell {cell.get('execution_count') or i}"
                    raw.append(f"{where} printed a raw value (not shown)")
                    text = " ".join(str(data.get("text/plain", "")).split())
                    warnings.append(f"{where} printed a raw value: {text[:200]}")
                    continue
            keep.append(o)
        cell["outputs"] = keep
    return warnings, raw


def page_problems(
    html_text: str, suppress_max: int = 5, staff_ids: set[str] | None = None
) -> list[tuple[str, str]]:
    """The (rule, excerpt) problems of one rendered page."""
    import lxml.html

    out: list[tuple[str, str]] = []
    doc = lxml.html.document_fromstring(html_text)
    body = doc.find("body")
    if body is None:
        return out
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in BAD_ELEMENTS:
            out.append(("markup", f"<{tag}> element in the page body"))
        if tag == "style" and not _styler_css(el.text_content()):
            out.append(("markup", "<style> element in the page body"))
        for attr, value in el.attrib.items():
            if attr.lower().startswith("on"):
                out.append(("markup", f"<{tag} {attr}=...> event handler"))
            if "javascript:" in str(value).lower():
                out.append(("markup", f"<{tag} {attr}={value[:40]}>"))
        if tag in ("td", "th", "caption") and len(el) and _in_styler_table(el):
            out.append(("markup", f"<{el[0].tag}> inside a table cell: {el.text_content()[:40]}"))
        if tag == "pre":
            out.append(("raw-output", " ".join(el.text_content().split())[:80]))
    # tables: counts 1..k in count columns
    if suppress_max >= 1:
        for table in body.iter("table"):
            heads = [" ".join(th.text_content().split()) for th in table.iter("th")]
            header_row = table.find(".//thead/tr")
            names = (
                [" ".join(th.text_content().split()) for th in header_row]
                if header_row is not None
                else heads
            )
            for tr in table.iter("tr"):
                cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
                if not cells or all(c.tag == "th" for c in cells):
                    continue
                for name, cell in zip(names, cells, strict=False):
                    v = cell.text_content().strip()
                    if re.fullmatch(rf"[1-{min(suppress_max, 9)}]", v) and COUNT_HEADER.search(
                        name
                    ):
                        out.append(("small-count", f"{v} in table column {name!r}"))
    text = " ".join(body.text_content().split())
    if suppress_max >= 1:
        k = min(suppress_max, 9)
        for pat in SMALL_COUNT_TEXT:
            for m in re.finditer(pat.replace("{k}", str(k)), text):
                out.append(("small-count", _excerpt(text, m)))
    if suppress_max >= 1:  # "c of 6": with a share beside it, the c comes back
        for m in re.finditer(r"\bc of ([\d,]+)\b", text):
            if int(m.group(1).replace(",", "")) <= 2 * suppress_max:
                out.append(("small-count", _excerpt(text, m)))
    for pat in STAFF_PATTERNS:
        for m in re.finditer(pat, text):
            out.append(("staff-id", _excerpt(text, m)))
    if staff_ids:
        words = set(re.findall(r"[\w-]+", text))
        for sid in sorted(words & staff_ids):
            out.append(("staff-id", sid))
    for pat in RAW_OUTPUT:
        for m in re.finditer(pat, text):
            out.append(("raw-output", _excerpt(text, m)))
    for pat in WARNINGS:
        for m in re.finditer(pat, text):
            out.append(("warning", _excerpt(text, m)))
    return out


def _staff_ids(data_dir: Path) -> set[str]:
    from .model import TABLES
    from .tablefile import read_table_text

    staff = ("auditor_id", "worker_id", "moderator_id", "social_worker")
    ids: set[str] = set()
    for name, table in TABLES.items():
        if not set(staff) & set(table.column_names):
            continue
        f = read_table_text(data_dir, name)  # CSV or Parquet, as the loader reads them
        for c in (c for c in staff if f is not None and c in f):
            ids |= set(f[c].astype(str))
    return {i for i in ids if len(i) >= 3}


def check(
    folder: str | Path, suppress_max: int = 5, data_dir: str | Path | None = None
) -> list[Finding]:
    """Every finding in a finished report folder (a period folder or the whole output
    folder)."""
    folder = Path(folder)
    staff = _staff_ids(Path(data_dir)) if data_dir else None
    found: list[Finding] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        in_worklists = "worklists" in rel.parts
        suffix = path.suffix.lower()
        if any(part in (".cache",) for part in rel.parts):
            found.append(Finding(str(rel), "child-level", "cache file beside the pages"))
            continue
        if in_worklists:
            if suffix == ".csv":
                found += _check_csv(path, rel)
            continue
        if suffix in CHILD_LEVEL_SUFFIXES:
            found.append(Finding(str(rel), "child-level", f"{suffix} file outside worklists/"))
            continue
        if suffix == ".html":
            text = path.read_text(errors="replace")
            for rule, excerpt in page_problems(text, suppress_max, staff):
                found.append(Finding(str(rel), rule, excerpt))
        elif suffix not in ALLOWED_TOP and path.name not in ALLOWED_TOP:
            found.append(Finding(str(rel), "child-level", "unexpected file beside the pages"))
    return found


def _check_csv(path: Path, rel: Path) -> list[Finding]:
    out = []
    try:
        f = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # an unreadable CSV is itself a finding
        return [Finding(str(rel), "formula", f"unreadable CSV: {exc}")]
    if "child_id" in f.columns:
        out.append(Finding(str(rel), "child-level", "raw child_id column in a worklist"))
    for c in [c for c in f.columns if FORMULA.match(str(c))]:
        out.append(Finding(str(rel), "formula", f"column name {c[:40]!r}"))
    for c in f.columns:
        bad = f[c][f[c].str.match(FORMULA)]
        if len(bad):
            out.append(
                Finding(
                    str(rel), "formula", f"{len(bad)} cell(s) in {c!r}, e.g. {bad.iloc[0][:40]!r}"
                )
            )
    return out
