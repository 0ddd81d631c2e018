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

import pandas as pd

from ..load import read_text
from ..model import ADOPTION_PLACEMENTS, TABLES

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
SEX_CODES = {"1": "M", "2": "F", "M": "M", "F": "F", "U": "U", "0": "U", "9": "U"}


@dataclass
class Import903:
    """What was read: raw frames per 903 table, and the findings."""

    raw: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)


def _parse_date(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    out = pd.to_datetime(s, format="%d/%m/%Y", errors="coerce")
    return out.fillna(pd.to_datetime(s, format="ISO8601", errors="coerce"))


def read_903(paths: list[str | Path]) -> Import903:
    """Read 903 CSVs (any names, any years), recognising each by its header."""
    import io

    res = Import903()
    for path in paths:
        p = Path(path)
        try:
            text, encoding = read_text(p)
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
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
        if frame.empty:
            res.findings.append({"finding": f"{p.name}: {table} table has a header but no rows"})
        frame["_source"] = p.name
        frame["_order"] = len(res.files)
        res.raw[table] = pd.concat([res.raw.get(table, pd.DataFrame()), frame], ignore_index=True)
    return res


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

    def _date(values: pd.Series, where: str = "") -> pd.Series:
        parsed = _parse_date(values)
        text = values.astype("string").str.strip()
        bad = parsed.isna() & text.notna() & (text != "")
        if bad.any():
            res.findings.append(
                {
                    "finding": f"unreadable dates in {where} (left blank)",
                    "detail": f"{int(bad.sum())} value(s), e.g. {text[bad].iloc[0]!r}",
                }
            )
        return parsed

    def note(source, read, mapped, repeats=0, detail=""):
        report.append(
            {
                "source": source,
                "rows_read": read,
                "rows_mapped": mapped,
                "repeats_merged": repeats,
                "detail": detail,
            }
        )

    if "header" in raw:
        h = raw["header"].sort_values("_order")
        kids = pd.DataFrame(
            {
                "child_id": h["CHILD"].str.strip(),
                "sex": h["SEX"].str.strip().str.upper().map(SEX_CODES).fillna(h["SEX"].str.strip()),
                "date_of_birth": _date(h["DOB"], "header DOB"),
                "ethnicity": h["ETHNIC"].str.strip().str.upper(),
            }
        )
        conflicts = kids.groupby("child_id")["date_of_birth"].nunique()
        n_conf = int((conflicts > 1).sum())
        kids = kids.drop_duplicates("child_id", keep="last")
        uasc = set(raw["uasc"]["CHILD"].str.strip()) if "uasc" in raw else set()
        kids["uasc"] = kids["child_id"].isin(uasc)
        out["children"] = kids
        note(
            "header",
            len(h),
            len(kids),
            len(h) - len(kids),
            f"{n_conf} children with different dates of birth across returns (latest kept)"
            if n_conf
            else "",
        )
        if "uasc" in raw:
            note("uasc", len(raw["uasc"]), len(uasc), 0, "mapped to children.uasc")
    if "episodes" in raw:
        e = raw["episodes"].sort_values("_order")
        ep = pd.DataFrame(
            {
                "child_id": e["CHILD"].str.strip(),
                "episode_start": _date(e["DECOM"], "episodes DECOM"),
                "reason_new_episode": e["RNE"].str.strip().str.upper(),
                "legal_status": e["LS"].str.strip().str.upper(),
                "category_of_need": e.get("CIN", pd.Series("", index=e.index))
                .str.strip()
                .str.upper(),
                "placement_type": e["PLACE"].str.strip().str.upper(),
                "placement_provider": e.get("PLACE_PROVIDER", pd.Series("", index=e.index))
                .str.strip()
                .str.upper(),
                "episode_end": _date(e.get("DEC", pd.Series("", index=e.index)), "episodes DEC"),
                "reason_ceased": e.get("REC", pd.Series("", index=e.index)).str.strip().str.upper(),
                "reason_place_change": e.get("REASON_PLACE_CHANGE", pd.Series("", index=e.index))
                .str.strip()
                .str.upper(),
            }
        ).replace({"": None})
        before = len(ep)
        # the same episode in several years' returns: the latest return is the fullest
        ep = ep.drop_duplicates(["child_id", "episode_start"], keep="last")
        out["cla_episodes"] = ep
        note("episodes", before, len(ep), before - len(ep))
    if "reviews" in raw:
        r = raw["reviews"]
        rv = pd.DataFrame(
            {
                "child_id": r["CHILD"].str.strip(),
                "review_date": _date(r["REVIEW"], "reviews REVIEW"),
            }
        )
        before = len(rv)
        rv = rv.drop_duplicates()
        out["cla_reviews"] = rv
        note("reviews", before, len(rv), before - len(rv))
    adopt = []
    if "placed_for_adoption" in raw:
        pa = raw["placed_for_adoption"]
        adopt.append(
            pd.DataFrame(
                {
                    "child_id": pa["CHILD"].str.strip(),
                    "decision_date": _date(pa["DATE_PLACED"]),
                    "plan_ceased_date": _date(pa["DATE_PLACED_CEASED"]),
                }
            )
        )
        note("placed_for_adoption", len(pa), len(pa), 0, "decision and ceased dates")
    if "ad1" in raw:
        a = raw["ad1"]
        adopt.append(
            pd.DataFrame(
                {
                    "child_id": a["CHILD"].str.strip(),
                    "decision_date": _date(a["DATE_INT"]),
                    "matched_date": _date(a["DATE_MATCH"]),
                    "fostering_for_adoption": a["FOSTER_CARE"].str.strip().eq("1"),
                }
            )
        )
        note(
            "ad1",
            len(a),
            len(a),
            0,
            "decision and match dates; FOSTER_CARE 1 = foster-carer adoption",
        )
    if adopt:
        ad = pd.concat(adopt, ignore_index=True)
        ad = ad.groupby(["child_id", "decision_date"], as_index=False).first()
        if "cla_episodes" in out:
            ep = out["cla_episodes"]
            po = ep[ep["legal_status"] == "E1"].groupby("child_id")["episode_start"].min()
            placed = (
                ep[ep["placement_type"].isin(ADOPTION_PLACEMENTS)]
                .groupby("child_id")["episode_start"]
                .min()
            )
            order = (
                ep[ep["reason_ceased"].isin(["E11", "E12"])]
                .groupby("child_id")["episode_end"]
                .max()
            )
            ad["placement_order_date"] = ad["child_id"].map(po)
            ad["placed_date"] = ad["child_id"].map(placed)
            ad["adoption_order_date"] = ad["child_id"].map(order)
        out["adoptions"] = ad
    for t in NOT_MAPPED & set(raw):
        note(t, len(raw[t]), 0, 0, "no canonical table: not imported")
    for name, frame in out.items():
        table = TABLES[name]
        for c in table.column_names:
            if c not in frame:
                frame[c] = None
        out[name] = frame[table.column_names]
    return out, report
