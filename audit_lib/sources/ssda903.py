"""SSDA903 (children looked after return) CSVs -> canonical tables.

Tables are recognised by their header sets (extra columns allowed), so file names do not
matter. Several years may be given: rows are merged and episodes repeated across returns
are de-duplicated (the latest return's version of an episode is kept). Sex is read from
the 903's 1/2 codes or M/F/U; dates from dd/mm/YYYY or ISO; child ids stay text.

Mapped: header -> children; episodes -> cla_episodes; reviews -> cla_reviews; AD1 and
placed_for_adoption -> adoptions (with placement order, placement and order dates taken
from the episodes); uasc -> children.uasc. Reported but not mapped (no canonical home):
missing, oc2, oc3, previous_permanence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..load import take
from ..model import ADOPTION_PLACEMENTS, TABLES
from ..tablefile import date_part, read_csv_rows, trailing_note
from . import REF, collection_year_end, newest

__all__ = ["IMPORT_TABLES", "Import903", "read_903", "to_canonical"]

#: 903 table -> the header columns that identify it (most specific first).
IMPORT_TABLES: dict[str, set[str]] = {
    "episodes": {"CHILD", "DECOM", "RNE", "LS", "PLACE"},
    "header": {"CHILD", "SEX", "DOB", "ETHNIC"},
    "ad1": {"CHILD", "DATE_INT", "DATE_MATCH", "FOSTER_CARE"},
    "placed_for_adoption": {"CHILD", "DATE_PLACED", "DATE_PLACED_CEASED"},
    "reviews": {"CHILD", "REVIEW"},
    "uasc": {"CHILD", "DUC"},
    "missing": {"CHILD", "MISSING", "MIS_START"},
    "oc2": {"CHILD", "SDQ_SCORE"},
    "oc3": {"CHILD", "IN_TOUCH"},
    "previous_permanence": {"CHILD", "PREV_PERM"},
}
NOT_MAPPED = {"missing", "oc2", "oc3", "previous_permanence"}
#: the event dates of each 903 table that place a file in its collection year (UASC's DUC
#: is a future date, the 18th birthday, and previous permanence dates are historical)
EVENT_DATES = {
    "episodes": ("DECOM", "DEC"),
    "reviews": ("REVIEW",),
    "ad1": ("DATE_INT", "DATE_MATCH"),
    "placed_for_adoption": ("DATE_PLACED", "DATE_PLACED_CEASED"),
    "missing": ("MIS_START", "MIS_END"),
}
#: tables of events that recur through a year for every child in care (a review at least
#: every six months): a file of them whose latest is in an earlier year is out of place
RECURRING = ("reviews",)
#: an episode start this many days after every other date of its file is a typed year
TYPED_AHEAD_DAYS = 5 * 365
SEX_CODES = {"1": "M", "2": "F", "M": "M", "F": "F", "U": "U", "0": "U", "9": "U"}


@dataclass
class Import903:
    """What was read: raw frames per 903 table, and the findings."""

    raw: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    #: 903 table -> rows rejected as read (more fields than the header, an unclosed quote)
    malformed: dict[str, int] = field(default_factory=dict)
    #: (table, column) -> what ``_dates`` read from it, so each is read once
    parsed: dict[tuple[str, str], tuple[pd.Series, pd.Series]] = field(default_factory=dict)

    def dates(self, table: str, column: str) -> tuple[pd.Series, pd.Series]:
        """(dates, written) of a date column of a 903 table (``_dates``), read once; a
        column the files do not have is blank."""
        if (table, column) not in self.parsed:
            frame = self.raw[table]
            values = frame[column] if column in frame else pd.Series("", index=frame.index)
            self.parsed[table, column] = _dates(values)
        return self.parsed[table, column]


def _distinct(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values stripped): ``s`` is ``values[codes]``, -1 for missing.
    A return repeats its codes and dates thousands of times, so text work is done once
    per distinct value."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    return codes, pd.Series(uniq, dtype=object).str.strip()


def _codes(s: pd.Series) -> pd.Series:
    """Code values stripped and upper-cased (missing stays missing)."""
    codes, u = _distinct(s)
    values = u.str.upper().astype(object).to_numpy()
    return pd.Series(take(codes, values, None), index=s.index, dtype=object)


#: dd/mm/YYYY written in full
_DMY = r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$"


def _dmy_as_iso(u: pd.Series) -> pd.Series:
    """Text dates written dd/mm/YYYY in full rewritten YYYY-mm-dd, the rest as they are:
    pandas reads ISO dates several times faster than it matches them to a format, and
    reads these exactly as ``%d/%m/%Y`` would (an impossible date is NaT either way)."""
    text = pa.array(u.to_numpy(dtype=object), type=pa.string())
    iso = pc.replace_substring_regex(text, _DMY, r"\3-\2-\1")
    return pd.Series(iso.to_numpy(zero_copy_only=False), index=u.index, dtype=object)


def _dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(dates, written): dd/mm/YYYY (the 903's own), else ISO, a time of day or time zone
    dropped; ``written`` marks the non-blank values (a written value left NaT is
    unreadable)."""
    codes, u = _distinct(s)
    out = pd.to_datetime(_dmy_as_iso(u), format="%Y-%m-%d", errors="coerce")
    left = out.isna() & (u != "")
    if left.any():  # anything else: as written (1/2/2024), then without a time of day
        rest = u[left]
        day_first = pd.to_datetime(rest, format="%d/%m/%Y", errors="coerce")
        rest = date_part(rest)
        out[left] = day_first.fillna(
            pd.to_datetime(rest, format="%d/%m/%Y", errors="coerce").fillna(
                pd.to_datetime(rest, format="ISO8601", errors="coerce")
            )
        )
    values = out.to_numpy(dtype="datetime64[ns]")
    parsed = take(codes, values, np.datetime64("NaT"))
    written = take(codes, (u.notna() & (u != "")).to_numpy(dtype=bool), False)
    return (
        pd.Series(parsed, index=s.index, dtype="datetime64[ns]"),
        pd.Series(written, index=s.index, dtype=bool),
    )


def read_903(paths: list[str | Path]) -> Import903:
    """Read 903 CSVs (any names, any years), recognising each by its header. A row with
    more fields than its header, or holding a quote never closed, is rejected and
    counted (``Import903.malformed``); the rest of the file is read."""
    res = Import903()
    for path in paths:
        p = Path(path)
        try:
            # every value as the text written (object: a quarter faster than strings here)
            frame, bad, encoding, quote = read_csv_rows(p, dtype=object)
        except (
            OSError,
            ValueError,
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeError,
        ) as exc:
            res.files.append(
                {"file": str(p), "table": None, "rows": 0, "error": f"unreadable: {exc}"}
            )
            continue
        frame.columns = [str(c).strip().upper() for c in frame.columns]
        cols = set(frame.columns)
        table = next((t for t, need in IMPORT_TABLES.items() if need <= cols), None)
        if table is None:
            res.files.append(
                {
                    "file": str(p),
                    "table": None,
                    "rows": len(frame),
                    "error": "header not recognised: " + ", ".join(frame.columns[:8]),
                }
            )
            continue
        extra = sorted(cols - IMPORT_TABLES[table] - _KNOWN.get(table, set()))
        res.files.append(
            {
                "file": str(p),
                "table": table,
                "rows": len(frame),
                "encoding": encoding,
                "unrecognised_columns": extra,
            }
        )
        if trailing := frame.attrs.get("trailing_blank_rows"):
            res.findings.append({"finding": f"{p.name}: {trailing_note(trailing)}"})
        if bad:
            res.malformed[table] = res.malformed.get(table, 0) + len(bad)
            res.findings.append(_malformed_finding(p.name, bad, quote))
        elif frame.empty:
            res.findings.append({"finding": f"{p.name}: {table} table has a header but no rows"})
        frame["_order"] = len(res.files)
        res.raw[table] = pd.concat([res.raw.get(table, pd.DataFrame()), frame], ignore_index=True)
    _event_dates(res)
    _undated_files(res)
    return res


def _malformed_finding(name: str, bad: list[str], quote: int | None) -> dict:
    """The finding for a file's rows rejected as read: how many, and the first ones."""
    why = f"unclosed quote on line {quote}: that row rejected, the rest read line by line"
    if quote is None or len(bad) > 1:
        why = f"{len(bad)} row(s) with more fields than the header rejected" + (
            f" (and the unclosed quote on line {quote})" if quote is not None else ""
        )
    return {
        "file": name,
        "finding": f"{name}: {why}",
        "detail": "; ".join(b[:60] for b in bad[:3]),
        "severity": "error",
    }


def _event_dates(res: Import903) -> None:
    """Each file's first and latest event date and the reference date they give (the
    end of the collection year of the latest), from its rows' event dates."""
    for table, frame in res.raw.items():
        cols = [c for c in EVENT_DATES.get(table, ()) if c in frame]
        if not cols or frame.empty:
            continue
        dates = pd.concat([res.dates(table, c)[0] for c in cols])
        files = pd.concat([frame["_order"]] * len(cols))
        # an episodes file's year is that of its latest episode start (an end date or a
        # review after the year end is an error for validation to find, not a later year)
        anchor = res.dates(table, cols[0])[0] if table == "episodes" else dates
        if table == "episodes":
            ahead = _typed_ahead(anchor, dates, frame["_order"], files)
            if ahead.any():
                res.findings.append(
                    _typed_ahead_finding(anchor[ahead], frame["_order"][ahead], res)
                )
                anchor = anchor.mask(ahead)
        latest = anchor.groupby(frame["_order"] if table == "episodes" else files).max()
        first = dates.groupby(files).min()
        for order, last in latest.dropna().items():
            f = res.files[order - 1]
            f["first_event"] = f"{first[order]:%Y-%m-%d}"
            f["latest_event"] = f"{last:%Y-%m-%d}"
            f["reference_date"] = f"{collection_year_end(last):%Y-%m-%d}"


def _typed_ahead(
    starts: pd.Series, dates: pd.Series, order: pd.Series, files: pd.Series
) -> pd.Series:
    """Episode starts more than ``TYPED_AHEAD_DAYS`` after every other date of their
    file (starts and ends): a year typed wrongly (2052 for 2025), left out of the file's
    date. A return's episodes are open in its year, so its latest start is never years
    clear of all the others."""
    ahead = pd.Series(False, index=starts.index)
    for f in order.unique():  # a file or two per folder, not a row loop
        mine = order.eq(f) & starts.notna()
        others = dates[files.eq(f)].dropna().sort_values()
        while mine.any():
            last = starts[mine].max()
            rest = others[others < last]
            if len(rest) == 0 or (last - rest.iloc[-1]).days <= TYPED_AHEAD_DAYS:
                break
            ahead |= mine & starts.eq(last)
            mine &= starts.ne(last)
            others = rest
    return ahead


def _typed_ahead_finding(starts: pd.Series, order: pd.Series, res: Import903) -> dict:
    """The warning for episode starts left out of their file's date (``_typed_ahead``)."""
    names = sorted({Path(res.files[o - 1]["file"]).name for o in order})
    return {
        "finding": "episode starts years after every other date of their file "
        "left out of the return's date: typed wrongly? (validation reports them)",
        "detail": f"{len(starts)} in {', '.join(names)}, e.g. {starts.max():%Y-%m-%d}",
        "severity": "warning",
    }


def _undated_files(res: Import903) -> None:
    """Files in one folder are one return: each file takes the reference date of the
    folder's episodes (the latest, if several), else its own, else the latest of the
    folder's files, else of all the files read. Then every row is marked."""

    def folder(f: dict) -> str:
        return str(Path(f["file"]).parent)

    dated = [f for f in res.files if f.get("reference_date")]
    overall = max((f["reference_date"] for f in dated), default="")
    episodes: dict[str, str] = {}
    latest: dict[str, str] = {}
    for f in dated:
        latest[folder(f)] = max(latest.get(folder(f), ""), f["reference_date"])
        if f.get("table") == "episodes":
            episodes[folder(f)] = max(episodes.get(folder(f), ""), f["reference_date"])
    for f in res.files:
        if not f.get("table"):
            continue
        d = folder(f)
        if f.get("table") == "episodes" and f.get("reference_date"):
            continue
        own = f.get("reference_date")
        f["reference_date"] = episodes.get(d) or own or latest.get(d, overall)
        if f["table"] in RECURRING and own and own < f["reference_date"]:
            res.findings.append(_other_year_finding(f, own))
    refs = np.array([""] + [f.get("reference_date", "") for f in res.files], dtype=object)
    for frame in res.raw.values():
        frame[REF] = refs[frame["_order"].to_numpy()]


def _other_year_finding(f: dict, own: str) -> dict:
    """A file of events that recur through the year whose latest falls in an earlier
    collection year than its folder's return: last year's file among this year's?"""
    name = Path(f["file"]).name
    return {
        "file": name,
        "finding": f"{name}: its latest {f['table'][:-1]} ({f['latest_event']}) is in the "
        f"collection year ending {own}, but the folder's return ends {f['reference_date']}: "
        "a file of another year? (read as this return's)",
        "severity": "warning",
    }


def reference(res: Import903) -> list[dict]:
    """The returns read, one per reference date (collection year), for extract.json."""
    groups: dict[str, list[dict]] = {}
    for f in res.files:
        if f.get("table"):
            groups.setdefault(f.get("reference_date", ""), []).append(f)
    out = []
    for ref, files in sorted(groups.items()):
        latest = max(
            (f.get("latest_event", "") for f in files if f["table"] == "episodes"),
            default=max((f.get("latest_event", "") for f in files), default=""),
        )
        first = min((f["first_event"] for f in files if f.get("first_event")), default="")
        out.append(
            {
                "format": "ssda903",
                "reference_date": ref,
                "date_source": (
                    f"end of the collection year (31 March) of the latest episode start, {latest}"
                    if ref and latest
                    else "no event dates in the files"
                ),
                "data_start": first,
                "files": sorted(Path(f["file"]).name for f in files),
            }
        )
    return out


_KNOWN = {
    "header": {"UPN", "MOTHER", "MC_DOB"},
    "episodes": {
        "CIN",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    },
    "reviews": {"DOB", "REVIEW_CODE"},
    "uasc": {"SEX", "DOB"},
    "ad1": {"DOB", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"},
    "placed_for_adoption": {"DOB", "REASON_PLACED_CEASED"},
}


def to_canonical(res: Import903) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Map the 903 tables to canonical ones. Returns (tables, per-table mapping report).

    Each report row: source table, rows read, rows mapped, rows dropped as repeats of the
    same record in another return, and what happened to the rest."""
    out: dict[str, pd.DataFrame] = {}
    report: list[dict] = []
    raw = res.raw

    def _date(table: str, column: str) -> pd.Series:
        parsed, written = res.dates(table, column)
        bad = parsed.isna() & written
        if bad.any():
            values = raw[table][column]
            res.findings.append(
                {
                    "finding": f"unreadable dates in {table} {column} (left blank)",
                    "detail": f"{int(bad.sum())} value(s), e.g. {values[bad].iloc[0].strip()!r}",
                }
            )
        return parsed

    def note(source, read, mapped, repeats=0, detail="", rejected=0, table=None):
        """One accounting line: rows read = mapped + repeats merged + rejected (with the
        rows rejected as read, ``Import903.malformed``)."""
        assert read == mapped + repeats + rejected, (source, read, mapped, repeats, rejected)
        if bad := res.malformed.get(source, 0):
            read, rejected = read + bad, rejected + bad
            detail = "; ".join(filter(None, [detail, f"{bad} malformed row(s) rejected"]))
        report.append(
            {
                "source": source,
                "table": table,
                "rows_read": read,
                "rows_mapped": mapped,
                "repeats_merged": repeats,
                "rows_rejected": rejected,
                "detail": detail,
            }
        )

    if "header" in raw:
        h = raw["header"]
        kids = pd.DataFrame(
            {
                "child_id": h["CHILD"].str.strip(),
                "sex": _codes(h["SEX"]).map(SEX_CODES).fillna(h["SEX"].str.strip()),
                "date_of_birth": _date("header", "DOB"),
                "ethnicity": _codes(h["ETHNIC"]),
                REF: h[REF],
            }
        )
        n_conf = 0
        if not kids["child_id"].is_unique:  # a child in several returns
            conflicts = kids.groupby("child_id")["date_of_birth"].nunique()
            n_conf = int((conflicts > 1).sum())
        kids = newest(kids, ["child_id"])
        kids["uasc"] = False
        out["children"] = kids
        note(
            "header",
            len(h),
            len(kids),
            len(h) - len(kids),
            f"{n_conf} children with different dates of birth across returns (newest kept)"
            if n_conf
            else "",
            table="children",
        )
        if "uasc" in raw:
            u = raw["uasc"]["CHILD"].str.strip()
            known = u.isin(kids["child_id"])
            flagged = set(u[known])
            kids["uasc"] = kids["child_id"].isin(flagged)
            n_rej = int((~known).sum())
            note(
                "uasc",
                len(u),
                len(flagged),
                int(known.sum()) - len(flagged),
                "mapped to children.uasc"
                + (f"; {n_rej} row(s) rejected: child not in the header" if n_rej else ""),
                rejected=n_rej,
                table="children",
            )
    if "episodes" in raw:
        e = raw["episodes"]
        blank = pd.Series("", index=e.index)
        ep = pd.DataFrame(
            {
                "child_id": e["CHILD"].str.strip(),
                "episode_start": _date("episodes", "DECOM"),
                "reason_new_episode": _codes(e["RNE"]),
                "legal_status": _codes(e["LS"]),
                "category_of_need": _codes(e.get("CIN", blank)),
                "placement_type": _codes(e["PLACE"]),
                "placement_provider": _codes(e.get("PLACE_PROVIDER", blank)),
                "episode_end": _date("episodes", "DEC"),
                "reason_ceased": _codes(e.get("REC", blank)),
                "reason_place_change": _codes(e.get("REASON_PLACE_CHANGE", blank)),
                REF: e[REF],
            }
        ).replace({"": None})
        before = len(ep)
        # the same episode in several years' returns: the newest return's values win
        ep = newest(ep, ["child_id", "episode_start"])
        out["cla_episodes"] = ep
        note("episodes", before, len(ep), before - len(ep), table="cla_episodes")
    if "reviews" in raw:
        r = raw["reviews"]
        rv = pd.DataFrame(
            {
                "child_id": r["CHILD"].str.strip(),
                "review_date": _date("reviews", "REVIEW"),
                REF: r[REF],
            }
        )
        before = len(rv)
        rv = newest(rv, ["child_id", "review_date"])
        out["cla_reviews"] = rv
        note("reviews", before, len(rv), before - len(rv), table="cla_reviews")
    adopt = []
    if "placed_for_adoption" in raw:
        placed = raw["placed_for_adoption"]
        adopt.append(
            pd.DataFrame(
                {
                    "child_id": placed["CHILD"].str.strip(),
                    "decision_date": _date("placed_for_adoption", "DATE_PLACED"),
                    "plan_ceased_date": _date("placed_for_adoption", "DATE_PLACED_CEASED"),
                    REF: placed[REF],
                    "_from": "placed_for_adoption",
                }
            )
        )
    if "ad1" in raw:
        a = raw["ad1"]
        adopt.append(
            pd.DataFrame(
                {
                    "child_id": a["CHILD"].str.strip(),
                    "decision_date": _date("ad1", "DATE_INT"),
                    "matched_date": _date("ad1", "DATE_MATCH"),
                    "fostering_for_adoption": a["FOSTER_CARE"].str.strip().eq("1"),
                    REF: a[REF],
                    "_from": "ad1",
                }
            )
        )
    if adopt:
        ad = pd.concat(adopt, ignore_index=True)
        no_date = ad["decision_date"].isna()
        cols = [c for c in ad.columns if c != "_from"]
        merged = newest(ad.loc[~no_date, cols], ["child_id", "decision_date"])
        key = ad["child_id"] + "|" + ad["decision_date"].dt.strftime("%Y-%m-%d")
        in_pa = key.isin(key[(ad["_from"] == "placed_for_adoption") & ~no_date])
        for src in ("placed_for_adoption", "ad1"):
            mine = ad["_from"] == src
            if not mine.any():
                continue
            n_rej = int((mine & no_date).sum())
            # an AD1 row whose record placed_for_adoption also gives is merged into it
            new = mine & ~no_date & (~in_pa if src == "ad1" else True)
            n_map = int(key[new].nunique())
            note(
                src,
                int(mine.sum()),
                n_map,
                int(mine.sum()) - n_map - n_rej,
                "decision and ceased dates"
                if src == "placed_for_adoption"
                else "decision and match dates, merged with placed_for_adoption on child and "
                "decision date; FOSTER_CARE 1 = foster-carer adoption",
                rejected=n_rej,
                table="adoptions",
            )
        if no_date.any():
            res.findings.append(
                {
                    "finding": "adoption rows without a decision date rejected",
                    "detail": f"{int(no_date.sum())} row(s): the decision date is the key",
                }
            )
        out["adoptions"] = merged
    for t in sorted(NOT_MAPPED & set(raw)):  # a set: sorted, so the report is stable
        note(t, len(raw[t]), 0, 0, "no canonical table: not imported", rejected=len(raw[t]))
    for name, frame in out.items():
        table = TABLES[name]
        for c in table.column_names:
            if c not in frame:
                frame[c] = None
        out[name] = frame[table.column_names + [REF]]
    return out, report


def adoption_dates(adoptions: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Fill an adoption's placement order, placement and order dates from the child's
    care episodes (the 903's AD1 does not carry them): the first episode with legal
    status E1, the first in an adoption placement, the latest ending E11/E12.
    Dates already given are kept."""
    ep = episodes.assign(
        episode_start=pd.to_datetime(episodes["episode_start"], errors="coerce"),
        episode_end=pd.to_datetime(episodes["episode_end"], errors="coerce"),
    )
    derived = {
        "placement_order_date": ep[ep["legal_status"] == "E1"]
        .groupby("child_id")["episode_start"]
        .min(),
        "placed_date": ep[ep["placement_type"].isin(ADOPTION_PLACEMENTS)]
        .groupby("child_id")["episode_start"]
        .min(),
        "adoption_order_date": ep[ep["reason_ceased"].isin(["E11", "E12"])]
        .groupby("child_id")["episode_end"]
        .max(),
    }
    ad = adoptions.copy()
    for col, by_child in derived.items():
        given = (
            pd.to_datetime(ad[col], errors="coerce")
            if col in ad
            else pd.Series(pd.NaT, index=ad.index)
        )
        ad[col] = given.fillna(ad["child_id"].map(by_child))
    return ad
