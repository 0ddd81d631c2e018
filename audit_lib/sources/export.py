"""Write canonical tables out as statutory returns, so pipelines can be tested end to end.

``to_ssda903`` writes the 903 CSVs (header, episodes, reviews, uasc, placed_for_adoption,
ad1) for the children looked after in the tables, with the 903's own conventions:
dd/mm/YYYY dates and sex as 1/2. Importing the result with ``audit import ssda903``
gives back the same canonical rows for every field the 903 carries.
"""

from __future__ import annotations

from pathlib import Path

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


def to_cin_census(
    tables: dict[str, pd.DataFrame],
    path: str | Path,
    year: int = 2026,
    reference_date: str | None = None,
) -> Path:
    """Write a CIN census XML of every child with a referral. CP and CIN plans sit under
    the referral they follow. Dates ISO; sex 1/2; booleans true/false. The header's
    ReferenceDate is ``reference_date`` (default 31 March of ``year``)."""
    import xml.etree.ElementTree as ET

    def iso(v):
        return None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")

    def sub(parent, tag, value):
        if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
            return None
        el = ET.SubElement(parent, tag)
        el.text = value if isinstance(value, str) else str(value)
        return el

    def tf(v):
        return None if pd.isna(v) else ("true" if bool(v) else "false")

    ref = tables["referrals"]
    cp = tables["cp_plans"].assign(referral_id=lambda f: _attach(f, "start_date", ref))
    cin = tables["cin_plans"].assign(referral_id=lambda f: _attach(f, "start_date", ref))
    by_ref = {
        name: dict(tuple(f.groupby("referral_id")))
        for name, f in (
            ("a", tables["assessments"]),
            ("s", tables["s47_enquiries"]),
            ("p", cp),
            ("c", cin),
        )
    }
    reviews = dict(tuple(tables["cp_reviews"].groupby("cp_plan_id")))
    refs_by_child = dict(tuple(ref.groupby("child_id")))
    root = ET.Element("Message")
    header = ET.SubElement(ET.SubElement(root, "Header"), "CollectionDetails")
    sub(header, "Collection", "CIN")
    sub(header, "Year", str(year))
    sub(header, "ReferenceDate", reference_date or f"{year}-03-31")
    children = ET.SubElement(root, "Children")
    kids = tables["children"][tables["children"]["child_id"].isin(ref["child_id"])]
    for k in kids.itertuples(index=False):  # building XML is one element per record
        child = ET.SubElement(children, "Child")
        ids = ET.SubElement(child, "ChildIdentifiers")
        sub(ids, "LAchildID", k.child_id)
        sub(ids, "PersonBirthDate", iso(k.date_of_birth))
        sub(ids, "Sex", SEX_903.get(k.sex, "0"))
        chars = ET.SubElement(child, "ChildCharacteristics")
        sub(chars, "Ethnicity", k.ethnicity)
        dis = ET.SubElement(chars, "Disabilities")
        sub(dis, "Disability", "DDA" if (not pd.isna(k.disability) and k.disability) else "NONE")
        for r in refs_by_child[k.child_id].itertuples(index=False):
            d = ET.SubElement(child, "CINdetails")
            sub(d, "CINreferralDate", iso(r.referral_date))
            sub(d, "ReferralSource", r.referral_source)
            sub(d, "PrimaryNeedCode", r.primary_need)
            sub(d, "CINclosureDate", iso(r.closure_date))
            sub(d, "ReasonForClosure", r.closure_reason)
            sub(d, "ReferralNFA", tf(r.nfa))
            for a in by_ref["a"].get(r.referral_id, pd.DataFrame()).itertuples(index=False):
                el = ET.SubElement(d, "Assessments")
                sub(el, "AssessmentActualStartDate", iso(a.start_date))
                sub(el, "AssessmentAuthorisationDate", iso(a.authorised_date))
                if isinstance(a.factors, str):
                    fa = ET.SubElement(el, "FactorsIdentifiedAtAssessment")
                    for f in a.factors.split(","):
                        sub(fa, "AssessmentFactors", f)
            for c in by_ref["c"].get(r.referral_id, pd.DataFrame()).itertuples(index=False):
                el = ET.SubElement(d, "CINPlanDates")
                sub(el, "CINPlanStartDate", iso(c.start_date))
                sub(el, "CINPlanEndDate", iso(c.end_date))
            for s in by_ref["s"].get(r.referral_id, pd.DataFrame()).itertuples(index=False):
                el = ET.SubElement(d, "Section47")
                sub(el, "S47ActualStartDate", iso(s.strategy_date))
                sub(el, "DateOfInitialCPC", iso(s.icpc_date))
                sub(el, "ICPCnotRequired", tf(s.icpc_not_required))
            for p in by_ref["p"].get(r.referral_id, pd.DataFrame()).itertuples(index=False):
                el = ET.SubElement(d, "ChildProtectionPlans")
                sub(el, "CPPstartDate", iso(p.start_date))
                sub(el, "CPPendDate", iso(p.end_date))
                sub(el, "InitialCategoryOfAbuse", p.initial_category)
                sub(el, "LatestCategoryOfAbuse", p.latest_category)
                rv = reviews.get(p.cp_plan_id)
                if rv is not None:
                    rs = ET.SubElement(el, "Reviews")
                    for v in rv["review_date"]:
                        sub(rs, "CPPreviewDate", iso(v))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
