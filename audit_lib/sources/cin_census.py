"""DfE CIN census XML -> canonical tables.

Every module is mapped: child identifiers and characteristics -> children; CIN details ->
referrals; assessments, Section 47 enquiries (with their ICPC), child protection plans
(with review dates) and CIN plans to their tables. Several files (years) may be given;
children are matched on LAchildID and records repeated across files are merged.
Unknown elements and stray text between elements are reported, never fatal. Uses the
standard library's ElementTree (streamed per child).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pandas as pd

from ..model import TABLES

__all__ = ["KNOWN_ELEMENTS", "read_cin"]

SEX = {"1": "M", "2": "F", "0": "U", "9": "U", "M": "M", "F": "F", "U": "U"}
KNOWN_ELEMENTS = {
    "Message",
    "Header",
    "CollectionDetails",
    "Collection",
    "Year",
    "ReferenceDate",
    "Source",
    "SourceLevel",
    "LEA",
    "SoftwareCode",
    "Release",
    "SerialNo",
    "DateTime",
    "Children",
    "Child",
    "ChildIdentifiers",
    "LAchildID",
    "UPN",
    "FormerUPN",
    "UPNunknown",
    "PersonBirthDate",
    "ExpectedPersonBirthDate",
    "GenderCurrent",
    "Sex",
    "PersonDeathDate",
    "ChildCharacteristics",
    "Ethnicity",
    "Disabilities",
    "Disability",
    "CINdetails",
    "CINreferralDate",
    "ReferralSource",
    "PrimaryNeedCode",
    "CINclosureDate",
    "ReasonForClosure",
    "DateOfInitialCPC",
    "ReferralNFA",
    "Assessments",
    "AssessmentActualStartDate",
    "AssessmentInternalReviewDate",
    "AssessmentAuthorisationDate",
    "FactorsIdentifiedAtAssessment",
    "AssessmentFactors",
    "CINPlanDates",
    "CINPlanStartDate",
    "CINPlanEndDate",
    "Section47",
    "S47ActualStartDate",
    "InitialCPCtarget",
    "ICPCnotRequired",
    "ChildProtectionPlans",
    "CPPstartDate",
    "CPPendDate",
    "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse",
    "NumberOfPreviousCPP",
    "Reviews",
    "CPPreviewDate",
}


def _t(el: ET.Element | None, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(tag)
    if child is None or child.text is None:
        return None
    text = child.text.strip()
    return text or None


def _bool(v: str | None) -> bool | None:
    if v is None:
        return None
    return v.strip().lower() in ("1", "true", "y", "yes")


def read_cin(
    paths: list[str | Path],
) -> tuple[dict[str, pd.DataFrame], list[dict], list[dict], list[dict]]:
    """Read CIN census XML files. Returns (tables, files, mapping report, findings)."""
    rows: dict[str, list[dict]] = {
        k: []
        for k in (
            "children",
            "referrals",
            "assessments",
            "s47_enquiries",
            "cp_plans",
            "cp_reviews",
            "cin_plans",
        )
    }
    files, findings = [], []
    unknown, stray = Counter(), 0
    for path in paths:
        p = Path(path)
        try:
            tree = ET.parse(p)
        except (ET.ParseError, OSError) as exc:
            files.append({"file": str(p), "children": 0, "error": f"unreadable: {exc}"})
            continue
        root = tree.getroot()
        namespaces = {
            el.tag.split("}")[0].lstrip("{") for el in root.iter() if el.tag.startswith("{")
        }
        if namespaces:  # read elements by local name whatever namespace they carry
            findings.append(
                {
                    "file": p.name,
                    "finding": "XML namespace ignored",
                    "detail": ", ".join(sorted(namespaces)),
                }
            )
            for el in root.iter():
                el.tag = el.tag.split("}")[-1]
        for el in root.iter():
            tag = el.tag.split("}")[-1]
            if tag not in KNOWN_ELEMENTS:
                unknown[tag] += 1
            if el.tail and el.tail.strip():
                stray += 1
        n = 0
        for child in root.iter("Child"):
            n += 1
            ids = child.find("ChildIdentifiers")
            chars = child.find("ChildCharacteristics")
            cid = _t(ids, "LAchildID")
            if cid is None:
                findings.append({"file": p.name, "finding": "child without LAchildID skipped"})
                continue
            disab = [d.text.strip() for d in child.iter("Disability") if d.text and d.text.strip()]
            rows["children"].append(
                {
                    "child_id": cid,
                    "sex": SEX.get((_t(ids, "Sex") or _t(ids, "GenderCurrent") or "").upper()),
                    "date_of_birth": _t(ids, "PersonBirthDate")
                    or _t(ids, "ExpectedPersonBirthDate"),
                    "ethnicity": (_t(chars, "Ethnicity") or "").upper() or None,
                    "disability": (any(d.upper() != "NONE" for d in disab) if disab else None),
                    "_file": p.name,
                }
            )
            for i, d in enumerate(child.findall("CINdetails"), start=1):
                ref_date = _t(d, "CINreferralDate")
                rid = f"{cid}-{ref_date}-{i}"
                rows["referrals"].append(
                    {
                        "referral_id": rid,
                        "child_id": cid,
                        "referral_date": ref_date,
                        "referral_source": _t(d, "ReferralSource"),
                        "primary_need": _t(d, "PrimaryNeedCode"),
                        "nfa": _bool(_t(d, "ReferralNFA")),
                        "closure_date": _t(d, "CINclosureDate"),
                        "closure_reason": _t(d, "ReasonForClosure"),
                    }
                )
                for j, a in enumerate(d.findall("Assessments"), start=1):
                    factors = [
                        f.text.strip()
                        for f in a.iter("AssessmentFactors")
                        if f.text and f.text.strip()
                    ]
                    rows["assessments"].append(
                        {
                            "assessment_id": f"{rid}-A{j}",
                            "child_id": cid,
                            "referral_id": rid,
                            "start_date": _t(a, "AssessmentActualStartDate"),
                            "authorised_date": _t(a, "AssessmentAuthorisationDate"),
                            "factors": ",".join(factors) or None,
                        }
                    )
                for j, s in enumerate(d.findall("Section47"), start=1):
                    rows["s47_enquiries"].append(
                        {
                            "s47_id": f"{rid}-S{j}",
                            "child_id": cid,
                            "referral_id": rid,
                            "strategy_date": _t(s, "S47ActualStartDate"),
                            "icpc_not_required": _bool(_t(s, "ICPCnotRequired")),
                            "icpc_date": _t(s, "DateOfInitialCPC"),
                        }
                    )
                for j, c in enumerate(d.findall("ChildProtectionPlans"), start=1):
                    pid = f"{rid}-P{j}"
                    rows["cp_plans"].append(
                        {
                            "cp_plan_id": pid,
                            "child_id": cid,
                            "start_date": _t(c, "CPPstartDate"),
                            "end_date": _t(c, "CPPendDate"),
                            "initial_category": _t(c, "InitialCategoryOfAbuse"),
                            "latest_category": _t(c, "LatestCategoryOfAbuse"),
                        }
                    )
                    for r in c.iter("CPPreviewDate"):
                        if r.text and r.text.strip():
                            rows["cp_reviews"].append(
                                {"cp_plan_id": pid, "review_date": r.text.strip()}
                            )
                for j, c in enumerate(d.findall("CINPlanDates"), start=1):
                    rows["cin_plans"].append(
                        {
                            "cin_plan_id": f"{rid}-C{j}",
                            "child_id": cid,
                            "start_date": _t(c, "CINPlanStartDate"),
                            "end_date": _t(c, "CINPlanEndDate"),
                        }
                    )
        if n == 0:
            findings.append({"file": p.name, "finding": "no Child elements found"})
        files.append({"file": str(p), "children": n})
    if unknown:
        findings.append(
            {
                "finding": "unknown elements (ignored)",
                "detail": ", ".join(f"{k} x{v}" for k, v in unknown.most_common()),
            }
        )
    if stray:
        findings.append(
            {"finding": "stray text between elements (ignored)", "detail": f"{stray} place(s)"}
        )

    tables, mapping = {}, []
    for name, data in rows.items():
        frame = pd.DataFrame(data)
        read = len(frame)
        if name == "children" and read:
            dob = frame.groupby("child_id")["date_of_birth"].nunique()
            if (dob > 1).any():
                findings.append(
                    {
                        "finding": "children with different dates of birth across files",
                        "detail": f"{int((dob > 1).sum())} child(ren); the last file's kept",
                    }
                )
            frame = frame.drop_duplicates("child_id", keep="last")
        elif read:
            frame = frame.drop_duplicates()
        table = TABLES[name]
        for c in table.column_names:
            if c not in frame:
                frame[c] = None
        tables[name] = frame[table.column_names]
        mapping.append(
            {
                "source": name,
                "rows_read": read,
                "rows_mapped": len(frame),
                "repeats_merged": read - len(frame),
                "detail": "",
            }
        )
    return tables, files, mapping, findings
