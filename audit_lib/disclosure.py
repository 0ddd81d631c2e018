"""Disclosure control: the one layer every figure shown to managers goes through.

- **Primary suppression** (DfE statistical disclosure policy for children's social care
  statistics): counts from 1 to ``suppress_max`` (default 5) are shown as "c"; 0 is a
  true zero.
- **Secondary suppression** (DfE policy; ONS "Disclosure control guidance for tables
  produced from administrative sources"): where a suppressed cell could be recovered by
  subtraction from a total, a complement or a rate and its denominator, the next smallest
  cell of the same relation is suppressed too, until no suppressed cell can be pinned
  down (checked by linear programming, :func:`cell_bounds`).
- **Rates**: a rate is hidden where its numerator, or the complement (denominator minus
  numerator), is suppressed; a rate whose denominator is suppressed is hidden too.
- **Text**: every string from the data is HTML- and Markdown-escaped before it reaches a
  page (:func:`escape_text`, :func:`escape_frame`).
- **Worklists**: keyed pseudonyms (HMAC-SHA256 with a local key, created atomically),
  staff pseudonyms for manager pages, and CSV cells neutralised against formula
  injection (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "SUPPRESSED",
    "Relation",
    "across",
    "cell_bounds",
    "down",
    "escape_frame",
    "escape_text",
    "fmt_count",
    "fmt_row_share",
    "fmt_share",
    "hidden_shares",
    "hide_rate",
    "is_suppressed",
    "key_fingerprint",
    "key_path",
    "local_secret",
    "merge_small_groups",
    "neutralise_csv",
    "plain_title",
    "protect",
    "protect_table",
    "pseudonymise_staff",
    "pseudonymise",
    "smallest_count",
    "remember_fingerprint",
    "staff_pseudonyms",
    "suppress_counts",
    "write_worklist",
]

SUPPRESSED = "c"
SECRET_ENV = "AUDIT_SECRET"
#: The public key the committed notebooks and the tests pseudonymise the synthetic
#: borough with, so their outputs are the same on every machine. Never for real data:
#: a real run uses $AUDIT_SECRET or the private key file.
EXAMPLE_SECRET = "synthetic borough only: a public example key"
SECRET_FILE = Path.home() / ".config" / "audit_lib" / "secret"
log = logging.getLogger("audit.disclosure")


# --------------------------------------------------------------------------------------
# Primary suppression
# --------------------------------------------------------------------------------------


def is_suppressed(counts, suppress_max: int = 5) -> np.ndarray:
    """True where a count is primary-suppressed: 1 <= count <= ``suppress_max``."""
    s = pd.to_numeric(pd.Series(counts), errors="coerce")
    return s.between(1, suppress_max).to_numpy() if suppress_max >= 1 else np.zeros(len(s), bool)


def fmt_count(n, suppress_max: int = 5) -> str:
    """A count for managers: 1..``suppress_max`` shown as "c" (DfE convention); missing
    is blank."""
    if n is None or pd.isna(n):
        return ""
    n = int(n)
    return SUPPRESSED if 1 <= n <= suppress_max else f"{n:,}"


def suppress_counts(counts, suppress_max: int = 5) -> pd.Series:
    """Counts as text, with 1..``suppress_max`` shown as "c" (DfE convention).

    Missing counts stay missing (blank); 0 is shown as 0.
    """
    s = pd.Series(counts)
    out = s.map(lambda v: "" if pd.isna(v) else f"{int(v):,}").astype(object)
    out[is_suppressed(s, suppress_max)] = SUPPRESSED
    return out


def _parts(parts, suppress_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Count ``parts`` as numbers (blank: 0) and which of them a table hides."""
    s = pd.to_numeric(pd.Series(parts), errors="coerce").fillna(0).to_numpy(dtype=float)
    return s, is_suppressed(s, suppress_max)


def shown_total(parts, suppress_max: int = 5) -> int | None:
    """The sum of count ``parts`` to quote beside them, or None where it gives a "c" back.

    With the total and the shown parts, a reader has the sum of the hidden parts (each
    1..``suppress_max``): it must not itself be 1..``suppress_max`` (one hidden part, or
    a few small ones) nor pin every hidden part at ``suppress_max``.
    """
    s, hidden = _parts(parts, suppress_max)
    rest = s[hidden].sum()
    if hidden.any() and (rest <= suppress_max or rest >= hidden.sum() * suppress_max):
        return None
    return int(s.sum())


def fmt_total(parts, suppress_max: int = 5) -> str:
    """The total of count ``parts`` for a sentence: the total where :func:`shown_total`
    allows it, else "at least" the shown parts plus 1 for each hidden one (what the
    table itself gives), or "c" where that too is 1..``suppress_max``."""
    total = shown_total(parts, suppress_max)
    if total is not None:
        return fmt_count(total, suppress_max)
    s, hidden = _parts(parts, suppress_max)
    least = int(s[~hidden].sum() + hidden.sum())
    return SUPPRESSED if least <= suppress_max else f"at least {least:,}"


def fmt_share(numerator, denominator, suppress_max: int = 5, digits: int = 0) -> str:
    """A share for a sentence: "c" where :func:`hide_rate` hides it, else a percentage."""
    if hide_rate([numerator], [denominator], suppress_max)[0]:
        return SUPPRESSED
    if not denominator or pd.isna(denominator):
        return ""
    return f"{numerator / denominator:.{digits}%}"


def fmt_row_share(row, suppress_max: int = 5) -> str:
    """:func:`fmt_share` of a row's ``numerator`` and ``denominator`` (a month of a
    monthly frame, a checklist item), as the table beside the sentence shows it."""
    return fmt_share(row["numerator"], row["denominator"], suppress_max)


def hide_rate(numerator, denominator, suppress_max: int = 5) -> np.ndarray:
    """True where a rate numerator/denominator must not be shown: the numerator, the
    complement (denominator - numerator) or the denominator is 1..``suppress_max``.

    With the denominator shown, a rate gives its numerator and its complement back by
    multiplication (DfE policy: no suppressed figure derivable from published ones).
    """
    n = pd.to_numeric(pd.Series(numerator), errors="coerce").to_numpy(dtype=float)
    d = pd.to_numeric(pd.Series(denominator), errors="coerce").to_numpy(dtype=float)
    return (
        is_suppressed(n, suppress_max)
        | is_suppressed(d - n, suppress_max)
        | is_suppressed(d, suppress_max)
    )


def hidden_shares(frame: pd.DataFrame, suppress_max: int = 5) -> np.ndarray:
    """True for each row of a frame of shares (a month of an SPC series) that a table
    shows as "c" (:func:`hide_rate` of its numerator and denominator): the share and the
    row's items give the count back. A frame without both columns hides nothing."""
    if not {"numerator", "denominator"} <= set(frame.columns):
        return np.zeros(len(frame), bool)
    return hide_rate(frame["numerator"], frame["denominator"], suppress_max)


def smallest_count(frame: pd.DataFrame) -> int | None:
    """The smallest numerator, complement or denominator of at least 1 in a frame of
    shares, None if there is none: a figure built on them all (a mean of monthly shares)
    is hidden where it is 1..``suppress_max`` (:func:`is_suppressed`), as a table hides a
    share (:func:`hide_rate`). Recorded in metrics.json, it lets a page apply any
    ``suppress_max``."""
    n = frame["numerator"].to_numpy(dtype=float)
    d = frame["denominator"].to_numpy(dtype=float)
    counts = np.concatenate([n, d - n, d])
    counts = counts[counts >= 1]
    return int(counts.min()) if len(counts) else None


# --------------------------------------------------------------------------------------
# Secondary suppression
# --------------------------------------------------------------------------------------

Cell = tuple[int, str]  # (row position, column)


@dataclass(frozen=True)
class Relation:
    """A published linear relation between count cells: ``sum(parts) == total``.

    ``total`` is a cell of the table, or None when the total is known to a reader some
    other way (printed elsewhere, or derivable from shown shares).
    """

    parts: tuple[Cell, ...]
    total: Cell | None = None

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.parts + ((self.total,) if self.total is not None else ())


def across(frame: pd.DataFrame, total: str | None, parts: Sequence[str]) -> list[Relation]:
    """Row relations: in every row, ``total`` = sum of ``parts`` (``total`` None: the
    row total is known to the reader though not a column)."""
    return [
        Relation(tuple((i, c) for c in parts), (i, total) if total else None)
        for i in range(len(frame))
    ]


def down(
    frame: pd.DataFrame, column: str, rows: Iterable[int] | None = None, total: int | None = None
) -> list[Relation]:
    """A column relation: the cells of ``column`` in ``rows`` (default all but ``total``)
    sum to the cell in row ``total``, or to a total known to the reader (``total`` None:
    e.g. shown shares of a column reveal its total)."""
    rows = [r for r in (range(len(frame)) if rows is None else rows) if r != total]
    return [
        Relation(tuple((r, column) for r in rows), (total, column) if total is not None else None)
    ]


def _values(frame: pd.DataFrame, cells: Sequence[Cell]) -> np.ndarray:
    cols = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for _, c in cells}
    return np.array([cols[c][i] for i, c in cells], dtype=float)


def _known(frame: pd.DataFrame, cells: Sequence[Cell]) -> np.ndarray:
    """Shown values for the attack: a missing (blank) cell counts as 0."""
    return np.nan_to_num(_values(frame, cells))


def cell_bounds(
    frame: pd.DataFrame,
    mask: pd.DataFrame,
    relations: Sequence[Relation],
    targets: Sequence[Cell] | None = None,
) -> dict[Cell, tuple[float, float]]:
    """The recovery attack: the least and greatest value each suppressed cell can take
    given every shown cell and the relations (non-negative reals; linear programming).

    A cell whose bounds coincide is recoverable. ``mask`` is True where a cell is shown
    as "c".
    """
    from scipy.optimize import linprog

    hidden = [(i, c) for c in mask.columns for i in np.flatnonzero(mask[c].to_numpy())]
    hidden = [(int(i), c) for i, c in hidden]
    if not hidden:
        return {}
    pos = {cell: k for k, cell in enumerate(hidden)}
    a_eq, b_eq = [], []
    for rel in relations:
        if not any(c in pos for c in rel.cells):
            continue
        row = np.zeros(len(hidden))
        rhs = 0.0
        for cell, sign in [(p, 1.0) for p in rel.parts] + (
            [(rel.total, -1.0)] if rel.total is not None else []
        ):
            if cell in pos:
                row[pos[cell]] += sign
            else:
                rhs -= sign * float(_known(frame, [cell])[0])
        if rel.total is None:  # the total is known: move it to the right-hand side
            rhs += float(_known(frame, rel.parts).sum())
        a_eq.append(row)
        b_eq.append(rhs)
    out = {}
    for cell in targets or hidden:
        k = pos[cell]
        bounds = []
        for sign in (1.0, -1.0):
            cvec = np.zeros(len(hidden))
            cvec[k] = sign
            res = linprog(
                cvec,
                A_eq=np.array(a_eq) if a_eq else None,
                b_eq=np.array(b_eq) if b_eq else None,
                bounds=[(0, None)] * len(hidden),
                method="highs",
            )
            bounds.append(sign * res.fun if res.status == 0 else (np.inf if sign < 0 else 0.0))
        out[cell] = (bounds[0], bounds[1])
    return out


def protect(
    frame: pd.DataFrame,
    counts: Sequence[str],
    relations: Sequence[Relation] = (),
    suppress_max: int = 5,
    keep: Sequence[Cell] = (),
) -> pd.DataFrame:
    """Which count cells to show as "c": primary (1..``suppress_max``) and secondary.

    Secondary suppression (DfE policy, ONS guidance for tables of counts): while a
    relation has exactly one suppressed cell, suppress its smallest other non-zero cell
    (a zero only if there is none); then, while the recovery attack
    (:func:`cell_bounds`) still pins a suppressed cell, suppress the smallest shown cell
    of a relation it is in. Cells in ``keep`` (a reference group, whose hiding hides
    every ratio against it) are chosen only after every other non-zero cell. Returns a
    boolean frame over ``counts`` (True: show "c").
    """
    frame = frame.reset_index(drop=True)
    mask = pd.DataFrame(
        {c: is_suppressed(frame[c], suppress_max) for c in counts}, index=frame.index
    )
    if suppress_max < 1 or not relations or not mask.to_numpy().any():
        return mask
    rels = [r for r in relations if all(c in mask.columns for _, c in r.cells)]
    kept = set(keep)
    value = {
        cell: v for r in rels for cell, v in zip(r.cells, _values(frame, r.cells), strict=True)
    }

    def pick(candidates: list[Cell]) -> Cell | None:
        shown = [
            c for c in candidates if not mask.at[c[0], c[1]] and not np.isnan(value.get(c, np.nan))
        ]
        if not shown:
            return None
        parts_first = sorted(shown, key=lambda c: (value[c] == 0, c in kept, value[c]))
        return parts_first[0]

    for _ in range(10 * len(value) + 10):
        changed = False
        for r in rels:
            hidden = [c for c in r.cells if mask.at[c[0], c[1]]]
            if len(hidden) == 1:
                # prefer a part over the total, so the table keeps its margins
                cell = pick([c for c in r.parts if c not in hidden]) or pick(
                    [c for c in r.cells if c not in hidden]
                )
                if cell is not None:
                    mask.at[cell[0], cell[1]] = True
                    changed = True
        if changed:
            continue
        bounds = cell_bounds(frame, mask, rels)
        pinned = [cell for cell, (lo, hi) in bounds.items() if hi - lo < 0.5]
        if not pinned:
            break
        for cell in pinned:
            near = [c for r in rels if cell in r.cells for c in r.cells]
            extra = pick(near)
            if extra is not None:
                mask.at[extra[0], extra[1]] = True
                changed = True
        if not changed:  # nothing left to suppress beside it: hide what is in its relations
            break
    return mask


def _relations(frame: pd.DataFrame, specs) -> list[Relation]:
    """Relations from :class:`Relation` objects or compact specs: ``("sum", total,
    parts)`` (row sums; ``total`` None: known row total) or ``("column", col)`` (the
    column's total is known to the reader, e.g. from shown shares)."""
    out: list[Relation] = []
    for spec in specs or ():
        if isinstance(spec, Relation):
            out.append(spec)
        elif isinstance(spec, list | tuple) and spec and isinstance(spec[0], Relation):
            out.extend(spec)
        elif spec[0] == "sum":
            out.extend(across(frame, spec[1], spec[2]))
        elif spec[0] == "column":
            out.extend(down(frame, spec[1]))
        else:
            raise ValueError(f"unknown relation {spec!r}")
    return out


def protect_table(
    frame: pd.DataFrame,
    counts: Sequence[str] = (),
    suppress_max: int = 5,
    shares: dict[str, str] | None = None,
    denominators: dict[str, str] | None = None,
    relations=(),
    hidden_with: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Every cell of a table to show as "c" (True), for count and rate columns.

    Counts: :func:`protect` (primary and secondary suppression over ``relations``).
    Rates: ``shares`` maps a rate column to its numerator count column, ``denominators``
    to its denominator column; a rate is hidden where its numerator or denominator is
    suppressed, or where the complement (denominator - numerator) is 1..``suppress_max``
    (:func:`hide_rate`). ``hidden_with`` maps a column to another it is hidden with
    (e.g. an interval bound with its rate), or to a boolean column of ``frame`` saying
    where to hide it, or to a tuple of these (hidden wherever any one is).
    """
    frame = frame.reset_index(drop=True)
    shares, denominators = dict(shares or {}), dict(denominators or {})
    extra = [c for c in {*shares.values(), *denominators.values()} if c not in counts]
    mask = protect(frame, [*counts, *extra], _relations(frame, relations), suppress_max)
    for rc in {*shares, *denominators}:
        hide = np.zeros(len(frame), bool)
        num, den = shares.get(rc), denominators.get(rc)
        if num is not None:
            hide |= mask[num].to_numpy()
        if den is not None:
            hide |= mask[den].to_numpy()
        if num is not None and den is not None:
            hide |= hide_rate(frame[num], frame[den], suppress_max)
        mask[rc] = hide
    for c, others in (hidden_with or {}).items():
        flag = mask[c].to_numpy() if c in mask else np.zeros(len(frame), bool)
        for other in [others] if isinstance(others, str) else others:
            # ``other`` is a protected column, or a boolean column of the frame itself
            hit = mask[other] if other in mask else frame[other].eq(True)  # None: shown
            flag = flag | hit.to_numpy()
        mask[c] = flag
    return mask.drop(columns=[c for c in extra if c not in counts])


def merge_small_groups(
    units: pd.DataFrame,
    label: str,
    numerator: str = "numerator",
    denominator: str = "denominator",
    suppress_max: int = 5,
    other: str = "Other teams",
) -> pd.DataFrame:
    """Groups whose numerator, complement or denominator is 1..``suppress_max`` merged
    into one ``other`` group (sums), for charts that place each group at its count.

    The merged group holds at least two groups (else one more, the smallest, joins, so
    the overall rate cannot give the lone group back) and is itself not small; if it
    cannot be made safe it is left out. Other columns are dropped from merged rows.
    """
    u = units.reset_index(drop=True)
    small = hide_rate(u[numerator], u[denominator], suppress_max)
    if not small.any():
        return units
    order = np.argsort(u[denominator].to_numpy(dtype=float), kind="stable")
    merged = set(np.flatnonzero(small).tolist())
    for i in order:
        n_ = u.loc[sorted(merged), numerator].sum()
        d_ = u.loc[sorted(merged), denominator].sum()
        if len(merged) >= 2 and not hide_rate([n_], [d_], suppress_max)[0]:
            break
        merged.add(int(i))
    keep = u.drop(index=sorted(merged))
    n_ = u.loc[sorted(merged), numerator].sum()
    d_ = u.loc[sorted(merged), denominator].sum()
    if len(merged) < 2 or hide_rate([n_], [d_], suppress_max)[0] or len(keep) == 0:
        return keep.reset_index(drop=True)
    row = {label: other, numerator: n_, denominator: d_}
    if "value" in u:
        row["value"] = n_ / d_ if d_ else np.nan
    return pd.concat([keep, pd.DataFrame([row])], ignore_index=True)


# --------------------------------------------------------------------------------------
# Text from the data
# --------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]~$])")  # emphasis, code, links, strike, math


#: Unicode controls that reorder the text after them (bidi embeddings, overrides,
#: isolates and marks): a team name ending in U+202E showed the rest of its sentence
#: backwards ("(52%)" as "(%25)"). Letters of right-to-left scripts are kept.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_text(value) -> str:
    """A string from the data made inert for HTML and Markdown: ``<>&`` become
    entities and Markdown punctuation is backslash-escaped, so a team called
    ``<h1>x</h1>`` or ``[x](javascript:...)`` is shown as written, never rendered;
    bidi controls are dropped."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = html.escape(_BIDI_CONTROLS.sub("", str(value)), quote=False)  # no Markdown in entities
    text = _MD_SPECIAL.sub(r"\\\1", text).replace("://", ":\\/\\/")  # no autolinks
    if text[:1] in ("#", "-", "+"):  # no heading or nested list
        text = "\\" + text
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # no nested numbered list


def escape_html(value) -> str:
    """A string from the data made inert for HTML (Styler cells, headers, captions), its
    bidi controls dropped."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(_BIDI_CONTROLS.sub("", str(value)), quote=True)


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every string cell, column name and index value
    HTML-escaped (Styler renders cells and headers as raw HTML)."""
    f = frame.copy()
    for c in f.columns:
        if f[c].dtype == object or isinstance(f[c].dtype, pd.StringDtype):
            f[c] = f[c].map(lambda v: escape_html(v) if isinstance(v, str) else v)
        elif isinstance(f[c].dtype, pd.CategoricalDtype):
            f[c] = f[c].astype(object).map(lambda v: escape_html(v) if isinstance(v, str) else v)
    f.columns = [escape_html(c) if isinstance(c, str) else c for c in f.columns]
    if f.index.dtype == object:
        f.index = [escape_html(v) if isinstance(v, str) else v for v in f.index]
    return f


#: A run of this many characters or more without a space is no word of a real name.
_LONG_WORD = re.compile(r"\S{41,}")


def plain_title(text) -> str:
    """A chart title or label from the data, inert for matplotlib: ``$`` (mathtext) is
    escaped, and a run of more than 40 characters without a space is cut to 40 with an
    ellipsis (a title cannot wrap it: a 3,000-character team name drew a funnel plot
    30,000 pixels wide)."""
    text = "" if text is None else str(text)
    return _LONG_WORD.sub(_cut_word, text).replace("$", r"\$")


def _cut_word(m: re.Match) -> str:
    return m.group(0)[:39] + "\u2026"


#: a character of escaped HTML as shown: an entity (``&amp;``, ``&#x27;``) or one other
_SHOWN_CHAR = r"&(?:#\w+|\w+);|\S"
_LONG_ESCAPED = re.compile(rf"(?:{_SHOWN_CHAR}){{41,}}")


def _cut_escaped(m: re.Match) -> str:
    return "".join(re.findall(_SHOWN_CHAR, m.group(0))[:39]) + "\u2026"


def shorten_words(text: pd.Series) -> pd.Series:
    """Escaped HTML text cells with every run of more than 40 characters without a space
    cut to 40 with an ellipsis, as :func:`plain_title` cuts chart labels (a table cannot
    wrap such a run: a 3,000-character team name made its page's table a sliver when
    printed). An entity counts as the one character it shows, and is never cut."""
    return text.str.replace(_LONG_ESCAPED, _cut_escaped, regex=True)


# --------------------------------------------------------------------------------------
# Pseudonyms and the key
# --------------------------------------------------------------------------------------


def _write_key_atomically(path: Path) -> None:
    """Create the key file with a fresh random key: temp file (0600) then a hard link,
    so the key appears whole or not at all and a concurrent creator never overwrites it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key first
            log.warning("created a new pseudonym key at %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def key_path() -> Path:
    """Where the pseudonym key file is: $AUDIT_SECRET_FILE, else
    ~/.config/audit_lib/secret."""
    return Path(os.environ.get("AUDIT_SECRET_FILE") or SECRET_FILE)


def local_secret(path: str | Path | None = None) -> bytes:
    """The pseudonym key: $AUDIT_SECRET, else the file ``path`` (default
    ~/.config/audit_lib/secret), created atomically (mode 0600) with a random key on
    first use. An empty key is an error, never used.

    The key never leaves the machine and is never committed; keep it to get the same
    pseudonyms month after month (its fingerprint is in run.log and on the worklists).
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode()
    path = Path(path) if path else key_path()
    if not path.exists():
        _write_key_atomically(path)
    key = path.read_text().strip().encode()
    if not key:
        raise ValueError(f"the pseudonym key {path} is empty; restore it from a backup")
    return key


def key_fingerprint(secret: bytes) -> str:
    """A short public fingerprint of the key (not the key): 12 hex digits of
    SHA-256 over a fixed label and the key."""
    return hashlib.sha256(b"audit_lib key fingerprint\0" + secret).hexdigest()[:12]


def remember_fingerprint(folder: str | Path, fingerprint: str) -> str | None:
    """Record the key fingerprint used for an output folder; return a warning if it
    differs from the last one used there (every pseudonym will have changed)."""
    path = Path(folder) / ".key_fingerprint"
    before = path.read_text().strip() if path.exists() else None
    path.write_text(fingerprint + "\n")
    if before and before != fingerprint:
        return (
            f"the pseudonym key has changed since the last run in {folder} "
            f"(fingerprint {before} -> {fingerprint}): every pseudonym differs from "
            "earlier worklists"
        )
    return None


def pseudonymise(ids, secret: bytes, length: int = 12) -> pd.Series:
    """Keyed pseudonyms: "P" and the first ``length`` hex digits of
    HMAC-SHA256(secret, id). Stable for the same secret; not reversible without it."""
    s = pd.Series(ids)
    uniq = pd.unique(s.dropna())
    mapping = {
        v: "P" + hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest()[:length]
        for v in uniq
    }  # one hash per distinct id, not per row
    return s.map(mapping)


_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O


def staff_pseudonyms(ids, secret: bytes, role: str = "Auditor") -> pd.Series:
    """Stable staff pseudonyms for manager pages, e.g. "Auditor KQX": three letters
    from HMAC-SHA256(secret, role + id), the same every month for the same key; a
    clash within the set gets a digit. Missing ids stay missing."""
    s = pd.Series(ids)
    uniq = sorted(pd.unique(s.dropna()).tolist(), key=str)
    mapping, used = {}, set()
    for v in uniq:
        h = int.from_bytes(hmac.new(secret, f"{role}\0{v}".encode(), hashlib.sha256).digest()[:8])
        code = "".join(_LETTERS[(h // len(_LETTERS) ** k) % len(_LETTERS)] for k in range(3))
        name, n = f"{role} {code}", 2
        while name in used:
            name, n = f"{role} {code}{n}", n + 1
        used.add(name)
        mapping[v] = name
    return s.map(mapping)


def staff_key(ids, secret: bytes, role: str = "Auditor") -> pd.DataFrame:
    """The key from staff pseudonyms back to ids, for analysts (kept beside the
    worklists, never on a page)."""
    uniq = pd.Series(sorted(pd.unique(pd.Series(ids).dropna()).tolist(), key=str))
    return pd.DataFrame({"pseudonym": staff_pseudonyms(uniq, secret, role), "id": uniq})


#: Staff id columns and the role word their pseudonyms take.
STAFF_ROLES = {"auditor_id": "Auditor", "worker_id": "Worker", "moderator_id": "Moderator"}


def pseudonymise_staff(
    frame: pd.DataFrame,
    secret: bytes,
    key_path: str | Path | None = None,
    roles: dict[str, str] | None = None,
) -> pd.DataFrame:
    """``frame`` with every staff id column (``auditor_id``, ``worker_id``, ...) replaced
    by stable pseudonyms (:func:`staff_pseudonyms`). With ``key_path``, the key back to
    the ids is written there for analysts (CSV, hardened, mode 0600; keep it beside the
    worklists, never beside the pages)."""
    roles = roles or STAFF_ROLES
    out = frame.copy()
    keys = []
    for col, role in roles.items():
        if col in out:
            out[col] = staff_pseudonyms(out[col], secret, role).to_numpy()
            keys.append(staff_key(frame[col], secret, role).assign(column=col))
    if key_path is not None and keys:
        write_worklist(pd.concat(keys, ignore_index=True), key_path, secret)
    return out


# --------------------------------------------------------------------------------------
# CSV hardening
# --------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) cannot run as spreadsheet formulas
    (OWASP "CSV Injection"): a cell beginning with ``=``, ``+``, ``-``, ``@``, tab or
    carriage return is prefixed with a single quote. Text also loses its bidi controls
    (as on the pages: a name ending in U+202E showed the cells after it backwards, and
    one could hide an ``=`` at its start). Numbers are left as numbers. Vectorised."""

    def fix(s: pd.Series) -> pd.Series:
        s = s.astype(object)
        try:
            clean = s.str.replace(_BIDI_CONTROLS, "", regex=True)
        except AttributeError:  # no text in the column
            return s
        s = clean.where(clean.notna(), s.to_numpy())  # non-text cells as they were
        formula = s.str.startswith(_FORMULA_START).eq(True)
        return s.mask(formula, ("'" + s.astype(str)).to_numpy())  # by position: any index

    f = frame.copy()
    for c in f.columns:
        if f[c].dtype == object or isinstance(f[c].dtype, (pd.StringDtype, pd.CategoricalDtype)):
            f[c] = fix(f[c])
    f.columns = fix(pd.Series(f.columns, dtype=object)).tolist()
    return f


def write_worklist(frame: pd.DataFrame, path: str | Path, secret: bytes | None = None) -> Path:
    """Write an analysts' worklist CSV: cells neutralised against formula injection,
    a ``key_fingerprint`` column naming the pseudonym key, mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = neutralise_csv(frame)
    if secret is not None:
        f["key_fingerprint"] = key_fingerprint(secret)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as fh:
        f.to_csv(fh, index=False, quoting=csv.QUOTE_NONNUMERIC)  # text quoted: CR/LF safe
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
