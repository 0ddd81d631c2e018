"""Write canonical tables out as statutory returns, so pipelines can be tested end to end.

``to_ssda903`` writes the 903 CSVs (header, episodes, reviews, uasc, placed_for_adoption,
ad1) for the children looked after in the tables, with the 903's own conventions:
dd/mm/YYYY dates and sex as 1/2. Importing the result with ``audit import ssda903``
gives back the same canonical rows for every field the 903 carries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["collection_year", "to_cin_census", "to_ssda903"]

SEX_903 = {"M": "1", "F": "2"}


def _d(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%d/%m/%Y").fillna("")


def _s(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("")


def to_ssda903(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write 903 CSVs for the children with care episodes; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    e = tables["cla_episodes"]
    kids = tables["children"]
    kids = kids[kids["child_id"].isin(e["child_id"])]
    dob = kids.set_index("child_id")["date_of_birth"]
    files = {
        "header.csv": pd.DataFrame(
            {
                "CHILD": kids["child_id"],
                "SEX": kids["sex"].map(SEX_903).fillna(_s(kids["sex"])),
                "DOB": _d(kids["date_of_birth"]),
                "ETHNIC": _s(kids["ethnicity"]),
                "UPN": "",
                "MOTHER": "",
                "MC_DOB": "",
            }
        ),
        "episodes.csv": pd.DataFrame(
            {
                "CHILD": e["child_id"],
                "DECOM": _d(e["episode_start"]),
                "RNE": _s(e["reason_new_episode"]),
                "LS": _s(e["legal_status"]),
                "CIN": _s(e["category_of_need"]),
                "PLACE": _s(e["placement_type"]),
                "PLACE_PROVIDER": _s(e["placement_provider"]),
                "DEC": _d(e["episode_end"]),
                "REC": _s(e["reason_ceased"]),
                "REASON_PLACE_CHANGE": _s(e["reason_place_change"]),
                "HOME_POST": "",
                "PL_POST": "",
                "URN": "",
            }
        ),
        "reviews.csv": pd.DataFrame(
            {
                "CHILD": tables["cla_reviews"]["child_id"],
                "DOB": _d(tables["cla_reviews"]["child_id"].map(dob)),
                "REVIEW": _d(tables["cla_reviews"]["review_date"]),
                "REVIEW_CODE": "PN1",
            }
        ),
    }
    u = kids[kids["uasc"].fillna(False).astype(bool)]
    files["uasc.csv"] = pd.DataFrame(
        {
            "CHILD": u["child_id"],
            "SEX": u["sex"].map(SEX_903).fillna(""),
            "DOB": _d(u["date_of_birth"]),
            "DUC": "",
        }
    )
    a = tables["adoptions"]
    files["placed_for_adoption.csv"] = pd.DataFrame(
        {
            "CHILD": a["child_id"],
            "DOB": _d(a["child_id"].map(dob)),
            "DATE_PLACED": _d(a["decision_date"]),
            "DATE_PLACED_CEASED": _d(a["plan_ceased_date"]),
            "REASON_PLACED_CEASED": "",
        }
    )
    done = a[a["adoption_order_date"].notna()]
    files["ad1.csv"] = pd.DataFrame(
        {
            "CHILD": done["child_id"],
            "DOB": _d(done["child_id"].map(dob)),
            "DATE_INT": _d(done["decision_date"]),
            "DATE_MATCH": _d(done["matched_date"]),
            "FOSTER_CARE": done["fostering_for_adoption"].map({True: "1", False: "0"}).fillna("0"),
            "NB_ADOPTR": "",
            "SEX_ADOPTR": "",
            "LS_ADOPTR": "",
        }
    )
    paths = []
    for name, frame in files.items():
        path = out / name
        frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths


def _attach(events: pd.DataFrame, date_col: str, referrals: pd.DataFrame) -> pd.Series:
    """The referral each event belongs to: the child's latest referral on or before it."""
    r = (
        referrals[["child_id", "referral_id", "referral_date"]]
        .dropna()
        .sort_values("referral_date")
    )
    e = events.reset_index().sort_values(date_col)
    m = pd.merge_asof(
        e, r, left_on=date_col, right_on="referral_date", by="child_id", direction="backward"
    )
    first = r.drop_duplicates("child_id").set_index("child_id")["referral_id"]
    m["referral_id"] = m["referral_id"].fillna(m["child_id"].map(first))
    return m.set_index("index")["referral_id"].reindex(events.index)


def collection_year(tables: dict[str, pd.DataFrame], year_end: str) -> dict[str, pd.DataFrame]:
    """The canonical tables as a return for the collection year ending ``year_end``
    (a 31 March) would hold them: records started by the year end and not ended before
    the year began; outcomes after the year end not yet known (blank)."""
    from ..model import TABLES

    end = pd.Timestamp(year_end)
    start = end - pd.DateOffset(years=1) + pd.Timedelta(days=1)
    out = {}
    for name, frame in tables.items():
        table = TABLES.get(name)
        if table is None or not table.event_dates:
            out[name] = frame
            continue
        f = frame[(frame[list(table.event_dates)] <= end).all(axis=1)].copy()
        for rule in table.date_orders:
            if rule.earlier in table.event_dates:
                f = f[~(f[rule.later] < start)]
        for col in table.columns:
            if col.outcome and col.kind == "date":
                later = f[col.name] > end
                f.loc[later, col.name] = pd.NaT
                if name == "cla_episodes" and col.name == "episode_end":
                    f.loc[later, "reason_ceased"] = None
                if name == "referrals" and col.name == "closure_date":
                    f.loc[later, "closure_reason"] = None
        out[name] = f
    if "cp_reviews" in tables and "cp_plans" in out:
        rv = tables["cp_reviews"]
        out["cp_reviews"] = rv[
            rv["cp_plan_id"].isin(out["cp_plans"]["cp_plan_id"]) & (rv["review_date"] <= end)
        ]
    return out


def _xml_text(s: pd.Series) -> pd.Series:
    """Each value as XML character data ("" where missing): &, < and > escaped."""
    t = s.astype(object).where(s.notna(), "").astype(str)
    for ch, ent in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        t = t.str.replace(ch, ent, regex=False)
    return t


def _iso(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna("")


def _true_false(s: pd.Series) -> pd.Series:
    flag = s.astype(object).where(s.notna(), False).astype(bool)
    return pd.Series(np.where(s.isna(), "", np.where(flag, "true", "false")), index=s.index)


def _el(tag: str, text: pd.Series) -> pd.Series:
    """``<tag>text</tag>`` per row; nothing where the text is empty (a missing value)."""
    return (f"<{tag}>" + text + f"</{tag}>").where(text != "", "")


def _box(tag: str, inner: pd.Series) -> pd.Series:
    """``<tag>inner</tag>`` per row, ``<tag />`` where there is nothing inside."""
    return (f"<{tag}>" + inner + f"</{tag}>").where(inner != "", f"<{tag} />")


def _per(frag: pd.Series, key: pd.Series, keys: pd.Series) -> pd.Series:
    """The fragments of each of ``keys`` joined in row order ("" for a key with none)."""
    ok = key.notna().to_numpy()
    joined = frag[ok].groupby(key[ok].to_numpy(), sort=False).agg("".join)
    return keys.map(joined).fillna("").astype(str)


#: The census elements of each record, in the census order: (element, column, kind).
REFERRAL = (
    ("CINreferralDate", "referral_date", "date"),
    ("ReferralSource", "referral_source", "text"),
    ("PrimaryNeedCode", "primary_need", "text"),
    ("CINclosureDate", "closure_date", "date"),
    ("ReasonForClosure", "closure_reason", "text"),
    ("ReferralNFA", "nfa", "bool"),
)
ASSESSMENT = (
    ("AssessmentActualStartDate", "start_date", "date"),
    ("AssessmentAuthorisationDate", "authorised_date", "date"),
)
CIN_PLAN = (("CINPlanStartDate", "start_date", "date"), ("CINPlanEndDate", "end_date", "date"))
SECTION_47 = (
    ("S47ActualStartDate", "strategy_date", "date"),
    ("DateOfInitialCPC", "icpc_date", "date"),
    ("ICPCnotRequired", "icpc_not_required", "bool"),
)
CP_PLAN = (
    ("CPPstartDate", "start_date", "date"),
    ("CPPendDate", "end_date", "date"),
    ("InitialCategoryOfAbuse", "initial_category", "text"),
    ("LatestCategoryOfAbuse", "latest_category", "text"),
)


def _fields(frame: pd.DataFrame, spec) -> pd.Series:
    """Each row's elements named in ``spec`` ((element, column, kind) with kind date, text
    or bool), concatenated; a missing value writes no element."""
    convert = {"date": _iso, "text": _xml_text, "bool": _true_false}
    out = pd.Series("", index=frame.index, dtype=object)
    for tag, column, kind in spec:
        out = out + _el(tag, convert[kind](frame[column]))
    return out


def to_cin_census(
    tables: dict[str, pd.DataFrame],
    path: str | Path,
    year: int = 2026,
    reference_date: str | None = None,
) -> Path:
    """Write a CIN census XML of every child with a referral. CP and CIN plans sit under
    the referral they follow. Dates ISO; sex 1/2; booleans true/false. The header's
    ReferenceDate is ``reference_date`` (default 31 March of ``year``).

    Built column-wise: each record's element is a string made for all rows at once and
    joined under its parent, so a national extract takes seconds, not an element per row.
    """
    ref = tables["referrals"]
    cp = tables["cp_plans"].assign(referral_id=lambda f: _attach(f, "start_date", ref))
    cin = tables["cin_plans"].assign(referral_id=lambda f: _attach(f, "start_date", ref))
    a, s, rv = tables["assessments"], tables["s47_enquiries"], tables["cp_reviews"]

    fac = _xml_text(a["factors"])
    fac = (
        "<AssessmentFactors>"
        + fac.str.replace(",", "</AssessmentFactors><AssessmentFactors>", regex=False)
        + "</AssessmentFactors>"
    ).str.replace("<AssessmentFactors></AssessmentFactors>", "", regex=False)
    fac = _box("FactorsIdentifiedAtAssessment", fac).where(a["factors"].notna(), "")
    assessments = _box("Assessments", _fields(a, ASSESSMENT) + fac)
    cin_plans = _box("CINPlanDates", _fields(cin, CIN_PLAN))
    s47 = _box("Section47", _fields(s, SECTION_47))
    reviews = _per(
        _el("CPPreviewDate", _iso(rv["review_date"])), rv["cp_plan_id"], cp["cp_plan_id"]
    )
    has_review = cp["cp_plan_id"].isin(rv["cp_plan_id"]) & cp["cp_plan_id"].notna()
    plans = _box(
        "ChildProtectionPlans",
        _fields(cp, CP_PLAN) + _box("Reviews", reviews).where(has_review, ""),
    )
    rid = ref["referral_id"]
    details = _box(
        "CINdetails",
        _fields(ref, REFERRAL)
        + _per(assessments, a["referral_id"], rid)
        + _per(cin_plans, cin["referral_id"], rid)
        + _per(s47, s["referral_id"], rid)
        + _per(plans, cp["referral_id"], rid),
    )
    k = tables["children"]
    k = k[k["child_id"].isin(ref["child_id"])]
    disabled = k["disability"].astype(object).where(k["disability"].notna(), False).astype(bool)
    child = (
        "<Child><ChildIdentifiers>"
        + _el("LAchildID", _xml_text(k["child_id"]))
        + _el("PersonBirthDate", _iso(k["date_of_birth"]))
        + _el("Sex", k["sex"].map(SEX_903).fillna("0").astype(str))
        + "</ChildIdentifiers><ChildCharacteristics>"
        + _el("Ethnicity", _xml_text(k["ethnicity"]))
        + "<Disabilities><Disability>"
        + pd.Series(np.where(disabled, "DDA", "NONE"), index=k.index)
        + "</Disability></Disabilities></ChildCharacteristics>"
        + _per(details, ref["child_id"], k["child_id"])
        + "</Child>"
    )
    head = "".join(
        f"<{tag}>{_xml_text(pd.Series([v])).iloc[0]}</{tag}>"
        for tag, v in (
            ("Collection", "CIN"),
            ("Year", str(year)),
            ("ReferenceDate", reference_date or f"{year}-03-31"),
        )
    )
    body = "".join(child)
    doc = (
        "<?xml version='1.0' encoding='utf-8'?>\n<Message><Header><CollectionDetails>"
        + head
        + "</CollectionDetails></Header>"
        + (f"<Children>{body}</Children>" if body else "<Children />")
        + "</Message>"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="xmlcharrefreplace") as f:
        f.write(doc)
    return path
