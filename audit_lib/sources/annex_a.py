"""Ofsted Annex A workbook (Lists 1-11) -> canonical tables.

Sheets and headers are found by name, tolerantly (case, spacing, punctuation, known
variants), never by position; lettered values such as ``a) WBRI`` or
``f) U6: Foster placement`` are read as their codes; dates may be datetimes, Excel serial
numbers or dd/mm/YYYY text; ``#N/A`` and blanks are missing; formula cells are read by
their cached values (python-calamine reads the workbook).

Mapped: List 3 -> referrals; 4 -> assessments; 5 -> s47_enquiries; 6 -> visits (last
seen, CIN); 7 -> cp_plans, cp_reviews (latest) and visits (last, CP); 8 -> cla_episodes
(the current episode only), cla_reviews (latest) and visits (last, CLA); 10 -> adoptions;
every list's child details -> children. Lists 1 (contacts), 2 (early help), 9 (care
leavers) and 11 (adopters) have no canonical home and are reported as such.

Annex A holds the last visit and latest review rather than histories, so an Annex A-only
import supports: assessment and ICPC timeliness, CP plan counts and categories,
disproportionality at referral, assessment, S47, ICPC and CP plan (with a population
table), and adoption A2; not review or visit timeliness (one date each), permanence
(no episode histories) or plan quality (no case audits). See docs/import.md.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..load import take
from ..model import TABLES
from . import REF, newest

__all__ = ["MAX_INFLATED_BYTES", "read_annex_a", "reference"]

#: A workbook whose parts inflate past this many bytes is refused (a decompression bomb
#: guard): a real Annex A of a large authority inflates to a few tens of megabytes.
MAX_INFLATED_BYTES = 256 * 1024 * 1024

NOT_MAPPED = {1: "contacts", 2: "early help", 9: "care leavers", 11: "adopters"}

#: canonical field -> header variants (normalised: lower case, letters and digits only)
FIELDS = {
    "child_id": ["childuniqueid", "childid", "uniqueid", "childuniqueidentifier"],
    "sex": ["gender", "sex"],
    "ethnicity": ["ethnicity"],
    "date_of_birth": ["dateofbirth", "dob"],
    "disability": ["doesthechildhaveadisability", "disability"],
    "referral_date": ["dateofreferral", "referraldate"],
    "referral_source": ["referralsource"],
    "nfa": ["referralnfa", "nfa"],
    "team": ["allocatedteam", "team"],
    "worker_id": ["allocatedworker", "worker"],
    "start_date": ["continuousassessmentstartdate", "assessmentstartdate"],
    "child_seen": ["childseenduringcontinuousassessment", "childseen"],
    "authorised_date": [
        "continuousassessmentdateofauthorisation",
        "assessmentauthoriseddate",
        "dateofauthorisation",
    ],
    "needs_support": ["wasthechildassessedasrequiringlachildrenssocialcaresupport"],
    "strategy_date": [
        "strategydiscussioninitiatingsection47enquirystartdate",
        "section47enquirystartdate",
        "strategydiscussiondate",
    ],
    "icpc_not_required": ["wasaninitialchildprotectionconferencedeemedunnecessary"],
    "icpc_date": ["dateofinitialchildprotectionconference", "icpcdate"],
    "icpc_result_plan": ["didtheinitialchildprotectionconferenceresultinachildprotectionplan"],
    "last_seen": [
        "datechildwaslastseen",
        "dateofthelaststatutoryvisit",
        "dateoflastsocialworkvisit",
        "dateoflaststatutoryvisit",
    ],
    "seen_alone": ["wasthechildseenalone"],
    "cp_start": ["childprotectionplanstartdate"],
    "cp_end": ["childprotectionplanenddate"],
    "initial_category": ["initialcategoryofabuse"],
    "latest_category": ["latestcategoryofabuse"],
    "latest_review": ["dateoflatestreviewconference", "dateoflateststatutoryreview"],
    "cla_start": ["datestartedtobelookedafter"],
    "category_of_need": ["childscategoryofneed"],
    "legal_status": ["childslegalstatus"],
    "legal_start": ["startdateofcurrentlegalstatus"],
    "placement_type": ["placementtype", "childsplacementtype"],
    "placement_start": [
        "dateofcurrentplacementstart",
        "placementstartdate",
        "startdateofmostrecentplacement",
    ],
    "placement_provider": ["placementprovider"],
    "episode_end": ["dateceasedtobelookedafter"],
    "reason_ceased": ["reasonceasedtobelookedafter"],
    "uasc": ["unaccompaniedasylumseekingchilduascwithinthelast12monthsyn"],
    "decision_date": ["dateofdecisionthatchildshouldbeplacedforadoption"],
    "placement_order_date": ["dateofplacementorder"],
    "matched_date": ["dateofmatchingchildandprospectiveadopters"],
    "placed_date": ["dateplacedforadoption"],
    "adoption_order_date": ["dateofadoptionorder"],
    "plan_ceased_date": ["dateofdecisionthatchildshouldnolongerbeplacedforadoption"],
}
_ALIAS = {v: k for k, vs in FIELDS.items() for v in vs}
CATEGORY = {
    "neglect": "NEG",
    "physical abuse": "PHY",
    "emotional abuse": "EMO",
    "sexual abuse": "SAB",
    "multiple": "MUL",
}
SEX = {"male": "M", "female": "F", "m": "M", "f": "F"}


#: the fields holding events (not dates of birth) that place a workbook in time
_EVENT_FIELDS = {
    k
    for k in FIELDS
    if k.endswith("_date") or k in ("last_seen", "cp_start", "cp_end", "latest_review")
} - {"date_of_birth"} | {"cla_start", "legal_start", "placement_start", "episode_end"}
_DATE_FIELDS = _EVENT_FIELDS | {"date_of_birth"}


def _norm(h) -> str:
    return re.sub(r"[^a-z0-9]", "", str(h).lower()) if h is not None else ""


def _code(v):
    """``a) WBRI`` -> WBRI; ``f) U6: Foster placement`` -> U6; ``N1 - Abuse`` -> N1."""
    if v is None:
        return None
    s = str(v).strip()
    if not s or s.upper() in ("#N/A", "N/A", "NA"):
        return None
    s = re.sub(r"^[a-z]{1,2}\)\s*", "", s, flags=re.I)
    s = re.split(r"\s*[:]\s*|\s+-\s+", s, maxsplit=1)[0]
    return s.strip() or None


_TYPE = np.frompyfunc(type, 1, 1)


def _per_value(values: pd.Series, fn) -> pd.Series:
    """``values.map(fn)``, calling ``fn`` once per distinct value (a list repeats its
    codes thousands of times). Booleans are kept apart from 1 and 0, which hash alike;
    a missing value gives ``fn(None)``."""
    arr = values.to_numpy(dtype=object)
    out = np.empty(len(arr), dtype=object)
    is_bool = np.equal(_TYPE(arr), bool).astype(bool) if len(arr) else np.zeros(0, bool)
    if is_bool.any():
        both = np.empty(2, dtype=object)
        both[0], both[1] = fn(False), fn(True)
        out[is_bool] = both[arr[is_bool].astype(bool).astype(int)]
    codes, uniq = pd.factorize(arr[~is_bool], use_na_sentinel=True)
    done = np.empty(len(uniq) + 1, dtype=object)
    for i, u in enumerate(uniq):
        done[i] = fn(u)
    done[-1] = fn(None)
    out[~is_bool] = done[codes]  # code -1 (missing) takes the last
    return pd.Series(out, index=values.index, dtype=object)


def _date(values: pd.Series) -> pd.Series:
    """Cells as dates: datetimes, Excel serial numbers (1 to 80000 days after
    1899-12-30), dd/mm/YYYY or ISO text; a time of day or zone is dropped. Each
    distinct value is read once."""
    if pd.api.types.is_datetime64_any_dtype(values):  # read already (_read_dates)
        return values.astype("datetime64[ns]")
    codes, uniq = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    if not len(uniq):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    v = pd.Series(uniq, dtype=object)
    is_num = v.map(lambda x: isinstance(x, (int, float)) and not isinstance(x, bool))
    num = pd.to_numeric(v.where(is_num), errors="coerce")
    serial = pd.Timestamp("1899-12-30") + pd.to_timedelta(
        num.where((num > 1) & (num < 80000)), unit="D"
    )
    text = v.where(~is_num & v.notna()).astype("string").str.strip()
    text = text.str.replace(r"^(\S+)[T ]\d.*$", r"\1", regex=True)
    parsed = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce").fillna(
        pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    )
    dates = parsed.fillna(serial).dt.normalize().to_numpy(dtype="datetime64[ns]")
    return pd.Series(
        take(codes, dates, np.datetime64("NaT")), index=values.index, dtype="datetime64[ns]"
    )


def _read_dates(lists: dict[int, pd.DataFrame]) -> None:
    """Read every list's date columns as dates, in one pass over the workbook (on small
    lists the cost is per call, not per row)."""
    cols = [(n, c) for n, f in lists.items() for c in f.columns if c in _DATE_FIELDS]
    if not cols:
        return
    parsed = _date(pd.concat([lists[n][c] for n, c in cols], ignore_index=True)).to_numpy()
    at = 0
    for n, c in cols:
        k = len(lists[n])
        lists[n][c] = pd.Series(parsed[at : at + k], index=lists[n].index)
        at += k


def _yes(values: pd.Series) -> pd.Series:
    s = _per_value(values, _code).astype("string").str.lower()
    return s.map({"yes": True, "y": True, "no": False, "n": False}).astype("boolean")


def _sheet_list(name: str) -> int | None:
    m = re.search(r"list\s*_?(\d+)", str(name), flags=re.I)
    return int(m.group(1)) if m else None


def _last_visit(f: pd.DataFrame, get, visit_type: str) -> pd.DataFrame:
    """A list's "date of last visit" column as canonical visits (one per child seen)."""
    out = pd.DataFrame(
        {"child_id": f["child_id"], "visit_date": _date(get("last_seen")), "visit_type": visit_type}
    )
    if "seen_alone" in f:
        out["seen_alone"] = _yes(get("seen_alone"))
    return out.dropna(subset=["visit_date"])


def _child_id(v) -> str | None:
    """Child ids are text: ``LA.001`` stays as written; a number stored by Excel as
    1234.0 is read 1234."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


def _data_ids(prefix: str, child: pd.Series, date: pd.Series) -> pd.Series:
    """Row ids from the data: list, child id and date (``AA3-123-2024-05-01``), with
    ``-2``, ``-3`` for a child's repeats on the same date."""
    base = prefix + "-" + child.astype(str) + "-" + date.dt.strftime("%Y-%m-%d").fillna("nodate")
    n = base.groupby(base).cumcount() + 1
    return base.where(n == 1, base + "-" + n.astype(str))


def _inflated_size(p: Path) -> int:
    with zipfile.ZipFile(p) as z:
        return sum(i.file_size for i in z.infolist())


def _saved_on(p: Path) -> pd.Timestamp:
    """The day the workbook was last saved (its ``dcterms:modified``), NaT if unrecorded."""
    try:
        with zipfile.ZipFile(p) as z:
            core = z.read("docProps/core.xml").decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return pd.NaT
    m = re.search(r"<dcterms:modified[^>]*>(\d{4}-\d{2}-\d{2})", core)
    return pd.Timestamp(m.group(1)) if m else pd.NaT


def _latest_date(dates: pd.Series, saved: pd.Timestamp) -> tuple[pd.Timestamp, dict | None]:
    """The latest date of the lists, the workbook's reference date, leaving out dates
    after the day it was last saved (a typed year such as 2201 would otherwise date the
    whole return); with a finding naming them. NaT when there is no date."""
    if not dates.notna().any():
        return pd.NaT, None
    after = dates > saved if pd.notna(saved) else pd.Series(False, index=dates.index)
    if not after.any() or after.all():
        return dates.max(), None
    return dates[~after].max(), {
        "finding": f"dates after the workbook was last saved ({saved:%Y-%m-%d}) left out of "
        "its reference date: typed wrongly? (validation rejects their rows)",
        "detail": f"{int(after.sum())} date(s), e.g. {dates[after].max():%Y-%m-%d}",
        "severity": "warning",
    }


def reference(files: list[dict]) -> list[dict]:
    """The workbooks read, one return each, for extract.json."""
    return [
        {
            "format": "annex_a",
            "reference_date": f.get("reference_date", ""),
            "date_source": "latest date in its lists",
            "data_start": f.get("data_start", ""),
            "files": [Path(f["file"]).name],
        }
        for f in files
        if "error" not in f
    ]


def _declared_sizes(z: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet's declared size (its ``<dimension ref>``), by sheet name.

    Only reported, never trusted: exporters leave it stale. Read from the first few
    kilobytes of each sheet's XML, found through the workbook and its relationships."""
    import xml.etree.ElementTree as ET

    try:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return {}
    target = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for sheet in (e for e in book.iter() if e.tag.rsplit("}", 1)[-1] == "sheet"):
        rid = next((v for k, v in sheet.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
        t = target.get(rid, "")
        part = t.lstrip("/") if t.startswith("/") else "xl/" + t
        try:
            with z.open(part) as f:
                head = f.read(4096)
        except (KeyError, OSError, zipfile.BadZipFile):
            continue
        m = re.search(rb'<(?:\w+:)?dimension ref="([^"]+)"', head)
        if m:
            out[sheet.get("name", "")] = m.group(1).decode("ascii", "replace")
    return out


def read_sheets(path: str | Path) -> list[tuple[str, list[list], str]]:
    """Every worksheet of an xlsx workbook: (name, rows of cell values, declared size).

    Read by python-calamine (Rust): every row is read whatever the sheet declares;
    formula cells give their cached values; error cells (``#N/A``) and blanks are "";
    numbers are floats; date cells are dates or datetimes. Chart sheets are skipped.
    Raises on a file that is not a readable workbook."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    with zipfile.ZipFile(path) as z:
        declared = _declared_sizes(z)
    wb = CalamineWorkbook.from_path(str(path))
    try:
        return [
            (
                m.name,
                wb.get_sheet_by_name(m.name).to_python(skip_empty_area=False),
                declared.get(m.name, ""),
            )
            for m in wb.sheets_metadata
            if m.typ == SheetTypeEnum.WorkSheet
        ]
    finally:
        wb.close()


def _cell(v):
    """A cell as openpyxl would give it: blank or error "" -> None, 12.0 -> 12."""
    if v == "":
        return None
    if type(v) is float and v.is_integer():
        return int(v)
    return v


def read_annex_a(
    path: str | Path,
) -> tuple[dict[str, pd.DataFrame], list[dict], list[dict], list[dict]]:
    """Read an Annex A workbook. Returns (tables, files, mapping report, findings)."""
    p = Path(path)
    findings: list[dict] = []
    try:
        size = _inflated_size(p)
        if size > MAX_INFLATED_BYTES:
            return (
                {},
                [
                    {
                        "file": str(p),
                        "error": f"refused: inflates to {size / 2**20:,.0f} MB, over the "
                        f"{MAX_INFLATED_BYTES / 2**20:,.0f} MB limit for a workbook",
                    }
                ],
                [],
                [],
            )
        sheets = read_sheets(p)
    except Exception as exc:  # zipfile and the reader raise several types for a bad file
        return {}, [{"file": str(p), "error": f"unreadable: {type(exc).__name__}: {exc}"}], [], []
    lists: dict[int, pd.DataFrame] = {}
    for title, rows, declared in sheets:
        n = _sheet_list(title)
        if n is None:
            findings.append({"finding": "sheet not recognised", "detail": title})
            continue
        grid = pd.DataFrame(rows, dtype=object)
        filled = (
            grid.ne("").any(axis=1).to_numpy() if len(grid.columns) else np.zeros(len(grid), bool)
        )
        body_rows = int(filled.sum())
        if declared and declared != "A1:A1":
            m = re.search(r":[A-Z]+(\d+)$", declared)
            if m and int(m.group(1)) < body_rows:
                findings.append(
                    {
                        "finding": f"List {n}: the sheet's declared size is stale (ignored)",
                        "detail": f"declares {declared}; {body_rows} rows with values read",
                    }
                )
        head_i = next((i for i, r in enumerate(rows) if any(_norm(c) in _ALIAS for c in r)), None)
        if head_i is None:
            findings.append({"finding": f"List {n}: no recognised header", "detail": title})
            continue
        heads = [_cell(c) for c in rows[head_i]]
        header = [_ALIAS.get(_norm(c)) for c in heads]
        unknown = [
            str(c) for c, h in zip(heads, header, strict=False) if c is not None and h is None
        ]
        if unknown and n not in NOT_MAPPED:
            findings.append(
                {
                    "finding": f"List {n}: headers not recognised (ignored)",
                    "detail": ", ".join(unknown[:12]),
                }
            )
        body = grid.iloc[head_i + 1 :][filled[head_i + 1 :]].reset_index(drop=True)
        cols = {h: _per_value(body[i], _cell) for i, h in enumerate(header) if h}
        lists[n] = pd.DataFrame(cols, index=body.index)
    _read_dates(lists)

    mapping: list[dict] = []
    tables: dict[str, list[pd.DataFrame]] = {}

    def add(name, frame, source, read):
        """Map one list's rows to ``name``: rows without the key are rejected (a list's
        latest review or last visit is not a record when blank), repeats of a key are
        merged."""
        key = list(TABLES[name].key)
        dropped = (
            "no latest review date"
            if "review" in source
            else "no last-visit date"
            if "visit" in source
            else "no child id or key date"
        )
        frame = frame.assign(**{REF: ref_text})
        ok = frame[key].notna().all(axis=1).to_numpy()
        rejected = int(read - ok.sum())
        kept = newest(frame[ok], key)
        tables.setdefault(name, []).append(kept)
        mapping.append(
            {
                "source": source,
                "table": name,
                "rows_read": read,
                "rows_mapped": len(kept),
                "repeats_merged": int(ok.sum()) - len(kept),
                "rows_rejected": rejected,
                "detail": f"{rejected} rejected: {dropped}" if rejected else "",
            }
        )

    dated = [
        _date(f[c])
        for f in lists.values()
        for c in f.columns
        if c in _EVENT_FIELDS and "child_id" in f
    ]
    all_dates = pd.concat(dated) if dated else pd.Series(dtype="datetime64[ns]")
    latest, late = _latest_date(all_dates, _saved_on(p))
    if late:
        findings.append(late)
    ref_text = "" if pd.isna(latest) else f"{latest:%Y-%m-%d}"
    referrals = (
        _date(lists[3]["referral_date"]) if 3 in lists and "referral_date" in lists[3] else None
    )
    first = (referrals if referrals is not None and referrals.notna().any() else all_dates).min()

    people = []
    for n, f in sorted(lists.items()):
        if n in NOT_MAPPED:
            mapping.append(
                {
                    "source": f"List {n}",
                    "table": None,
                    "rows_read": len(f),
                    "rows_mapped": 0,
                    "repeats_merged": 0,
                    "rows_rejected": len(f),
                    "detail": f"{NOT_MAPPED[n]}: no canonical table",
                }
            )
            continue
        if "child_id" not in f:
            findings.append({"finding": f"List {n}: no child id column; list not used"})
            continue
        f = f.assign(child_id=_per_value(f["child_id"], _child_id))
        kid = pd.DataFrame({"child_id": f["child_id"]})
        kid["sex"] = (
            _per_value(f["sex"], _code).astype("string").str.lower().map(SEX).fillna("U")
            if "sex" in f
            else "U"
        )
        kid["ethnicity"] = _per_value(f["ethnicity"], _code) if "ethnicity" in f else None
        kid["date_of_birth"] = _date(f["date_of_birth"]) if "date_of_birth" in f else pd.NaT
        none = pd.Series(pd.NA, index=f.index, dtype="boolean")
        kid["disability"] = _yes(f["disability"]) if "disability" in f else none
        kid["uasc"] = _yes(f["uasc"]) if "uasc" in f else none
        kid["_list"] = n
        kid[REF] = ref_text
        people.append(kid)
        get = lambda c, ff=f: ff[c] if c in ff else pd.Series([None] * len(ff))  # noqa: E731
        if n == 3:
            add(
                "referrals",
                pd.DataFrame(
                    {
                        "referral_id": _data_ids("AA3", f["child_id"], _date(get("referral_date"))),
                        "child_id": f["child_id"],
                        "referral_date": _date(get("referral_date")),
                        "referral_source": _per_value(get("referral_source"), _code),
                        "nfa": _yes(get("nfa")).fillna(False),
                        "team": get("team"),
                        "worker_id": get("worker_id"),
                    }
                ),
                "List 3",
                len(f),
            )
        elif n == 4:
            add(
                "assessments",
                pd.DataFrame(
                    {
                        "assessment_id": _data_ids("AA4", f["child_id"], _date(get("start_date"))),
                        "child_id": f["child_id"],
                        "start_date": _date(get("start_date")),
                        "authorised_date": _date(get("authorised_date")),
                        "child_seen": _yes(get("child_seen")),
                        "team": get("team"),
                        "worker_id": get("worker_id"),
                    }
                ),
                "List 4",
                len(f),
            )
        elif n == 5:
            add(
                "s47_enquiries",
                pd.DataFrame(
                    {
                        "s47_id": _data_ids("AA5", f["child_id"], _date(get("strategy_date"))),
                        "child_id": f["child_id"],
                        "strategy_date": _date(get("strategy_date")),
                        "icpc_not_required": _yes(get("icpc_not_required")),
                        "icpc_date": _date(get("icpc_date")),
                        "icpc_result_plan": _yes(get("icpc_result_plan")),
                        "team": get("team"),
                    }
                ),
                "List 5",
                len(f),
            )
        elif n == 6:
            add(
                "visits",
                _last_visit(f, get, "cin"),
                "List 6",
                len(f),
            )
        elif n == 7:
            ids = _data_ids("AA7", f["child_id"], _date(get("cp_start")))
            add(
                "cp_plans",
                pd.DataFrame(
                    {
                        "cp_plan_id": ids,
                        "child_id": f["child_id"],
                        "start_date": _date(get("cp_start")),
                        "end_date": _date(get("cp_end")),
                        "initial_category": _per_value(get("initial_category"), _code)
                        .astype("string")
                        .str.lower()
                        .map(CATEGORY),
                        "latest_category": _per_value(get("latest_category"), _code)
                        .astype("string")
                        .str.lower()
                        .map(CATEGORY),
                    }
                ),
                "List 7",
                len(f),
            )
            add(
                "cp_reviews",
                pd.DataFrame(
                    {"cp_plan_id": ids, "review_date": _date(get("latest_review"))}
                ).dropna(subset=["review_date"]),
                "List 7 latest review",
                len(f),
            )
            add(
                "visits",
                _last_visit(f, get, "cp"),
                "List 7 last visit",
                len(f),
            )
        elif n == 8:
            add(
                "cla_episodes",
                pd.DataFrame(
                    {
                        "child_id": f["child_id"],
                        "episode_start": _date(get("cla_start")),
                        "reason_new_episode": "S",
                        "legal_status": _per_value(get("legal_status"), _code),
                        "category_of_need": _per_value(get("category_of_need"), _code),
                        "placement_type": _per_value(get("placement_type"), _code),
                        "placement_provider": _per_value(get("placement_provider"), _code),
                        "episode_end": _date(get("episode_end")),
                        "reason_ceased": _per_value(get("reason_ceased"), _code),
                    }
                ),
                "List 8 (current episode only)",
                len(f),
            )
            add(
                "cla_reviews",
                pd.DataFrame(
                    {"child_id": f["child_id"], "review_date": _date(get("latest_review"))}
                ).dropna(subset=["review_date"]),
                "List 8 latest review",
                len(f),
            )
            add(
                "visits",
                _last_visit(f, get, "cla"),
                "List 8 last visit",
                len(f),
            )
        elif n == 10:
            add(
                "adoptions",
                pd.DataFrame(
                    {
                        "child_id": f["child_id"],
                        "decision_date": _date(get("decision_date")),
                        "placement_order_date": _date(get("placement_order_date")),
                        "matched_date": _date(get("matched_date")),
                        "placed_date": _date(get("placed_date")),
                        "adoption_order_date": _date(get("adoption_order_date")),
                        "plan_ceased_date": _date(get("plan_ceased_date")),
                    }
                ),
                "List 10",
                len(f),
            )
    out: dict[str, pd.DataFrame] = {}
    if people:
        everyone = pd.concat(people, ignore_index=True)
        kids = everyone.dropna(subset=["child_id"])
        clash = kids.dropna(subset=["date_of_birth"]).groupby("child_id")["date_of_birth"].nunique()
        if (clash > 1).any():
            findings.append(
                {
                    "finding": "children with different dates of birth across lists",
                    "detail": f"{int((clash > 1).sum())} child(ren); the first list's kept",
                }
            )
        # prefer a row with a date of birth
        kids = kids.sort_values(["date_of_birth", "_list"], na_position="last").drop_duplicates(
            "child_id"
        )
        out["children"] = kids.drop(columns="_list")
        n_rej = len(everyone) - int(everyone["child_id"].notna().sum())
        mapping.append(
            {
                "source": "child details (every list)",
                "table": "children",
                "rows_read": len(everyone),
                "rows_mapped": len(kids),
                "repeats_merged": int(everyone["child_id"].notna().sum()) - len(kids),
                "rows_rejected": n_rej,
                "detail": f"{n_rej} rejected: no child id" if n_rej else "",
            }
        )
    for name, frames in tables.items():
        out[name] = pd.concat(frames, ignore_index=True)
    for name, frame in out.items():
        out[name] = frame.reindex(columns=TABLES[name].column_names + [REF])
    files = [
        {
            "file": str(p),
            "lists": sorted(lists),
            "reference_date": ref_text,
            "data_start": "" if pd.isna(first) else f"{first:%Y-%m-%d}",
        }
    ]
    return out, files, mapping, findings
