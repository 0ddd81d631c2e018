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
from ..tablefile import date_part
from . import REF, collection_year_end, newest

__all__ = ["KNOWN_ELEMENTS", "read_cin", "reference"]

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


def _bool(v: str | None) -> str | None:
    if v is None:
        return None
    return "true" if v.strip().lower() in ("1", "true", "y", "yes") else "false"


class _Ids:
    """Record ids from the data (parent id + date), with -2, -3 on a repeat."""

    def __init__(self) -> None:
        self.seen: Counter = Counter()

    def __call__(self, base: str) -> str:
        self.seen[base] += 1
        n = self.seen[base]
        return base if n == 1 else f"{base}-{n}"


def _file_reference(root: ET.Element) -> tuple[str, str, str]:
    """(reference date, where it came from, earliest referral date) of one census."""
    refs = [
        t
        for t in (
            date_part(pd.Series([el.text or ""])).iloc[0].strip()
            for el in root.iter("ReferenceDate")
        )
        if t
    ]
    dates = pd.to_datetime(
        date_part(
            pd.Series(
                [
                    el.text.strip()
                    for el in root.iter()
                    if el.tag.endswith("Date")
                    and el.tag
                    not in (
                        "PersonBirthDate",
                        "ExpectedPersonBirthDate",
                        "PersonDeathDate",
                        "ReferenceDate",
                    )
                    and el.text
                    and el.text.strip()
                ],
                dtype="string",
            )
        ),
        format="ISO8601",
        errors="coerce",
    )
    referral = pd.to_datetime(
        date_part(
            pd.Series(
                [
                    el.text.strip()
                    for el in root.iter("CINreferralDate")
                    if el.text and el.text.strip()
                ],
                dtype="string",
            )
        ),
        format="ISO8601",
        errors="coerce",
    )
    first = "" if referral.dropna().empty else f"{referral.min():%Y-%m-%d}"
    ref = pd.to_datetime(refs[0], format="ISO8601", errors="coerce") if refs else pd.NaT
    if pd.notna(ref):
        return f"{ref:%Y-%m-%d}", "CIN census header ReferenceDate", first
    if dates.notna().any():
        latest = dates.max()
        return (
            f"{collection_year_end(latest):%Y-%m-%d}",
            f"no ReferenceDate: end of the collection year (31 March) of the latest date, "
            f"{latest:%Y-%m-%d}",
            first,
        )
    return "", "no ReferenceDate and no dates", first


def reference(files: list[dict]) -> list[dict]:
    """The returns read (one per file), for extract.json."""
    return [
        {
            "format": "cin_census",
            "reference_date": f.get("reference_date", ""),
            "date_source": f.get("date_source", ""),
            "data_start": f.get("data_start", ""),
            "files": [Path(f["file"]).name],
        }
        for f in files
        if "error" not in f
    ]


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
    authorities: dict[str, set[str]] = {}  # the header's LEA code(s) -> the files giving it
    for path in paths:
        p = Path(path)
        try:
            tree = ET.parse(p)
        except (ET.ParseError, OSError) as exc:
            files.append({"file": str(p), "children": 0, "error": f"unreadable: {exc}"})
            continue
        root = tree.getroot()
        uid = _Ids()
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
        ref_date, ref_source, first = _file_reference(root)
        for code in {(e.text or "").strip() for e in root.iter("LEA")} - {""}:
            authorities.setdefault(code, set()).add(p.name)
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
                    "disability": (
                        ("true" if any(d.upper() != "NONE" for d in disab) else "false")
                        if disab
                        else None
                    ),
                    REF: ref_date,
                }
            )
            for d in child.findall("CINdetails"):
                rid = uid(f"{cid}-{_t(d, 'CINreferralDate')}")
                rows["referrals"].append(
                    {
                        "referral_id": rid,
                        "child_id": cid,
                        "referral_date": _t(d, "CINreferralDate"),
                        "referral_source": _t(d, "ReferralSource"),
                        "primary_need": _t(d, "PrimaryNeedCode"),
                        "nfa": _bool(_t(d, "ReferralNFA")),
                        "closure_date": _t(d, "CINclosureDate"),
                        "closure_reason": _t(d, "ReasonForClosure"),
                        REF: ref_date,
                    }
                )
                for a in d.findall("Assessments"):
                    factors = [
                        f.text.strip()
                        for f in a.iter("AssessmentFactors")
                        if f.text and f.text.strip()
                    ]
                    rows["assessments"].append(
                        {
                            "assessment_id": uid(f"{rid}-A{_t(a, 'AssessmentActualStartDate')}"),
                            "child_id": cid,
                            "referral_id": rid,
                            "start_date": _t(a, "AssessmentActualStartDate"),
                            "authorised_date": _t(a, "AssessmentAuthorisationDate"),
                            "factors": ",".join(factors) or None,
                            REF: ref_date,
                        }
                    )
                for s in d.findall("Section47"):
                    rows["s47_enquiries"].append(
                        {
                            "s47_id": uid(f"{rid}-S{_t(s, 'S47ActualStartDate')}"),
                            "child_id": cid,
                            "referral_id": rid,
                            "strategy_date": _t(s, "S47ActualStartDate"),
                            "icpc_not_required": _bool(_t(s, "ICPCnotRequired")),
                            "icpc_date": _t(s, "DateOfInitialCPC"),
                            REF: ref_date,
                        }
                    )
                for c in d.findall("ChildProtectionPlans"):
                    pid = uid(f"{rid}-P{_t(c, 'CPPstartDate')}")
                    rows["cp_plans"].append(
                        {
                            "cp_plan_id": pid,
                            "child_id": cid,
                            "start_date": _t(c, "CPPstartDate"),
                            "end_date": _t(c, "CPPendDate"),
                            "initial_category": _t(c, "InitialCategoryOfAbuse"),
                            "latest_category": _t(c, "LatestCategoryOfAbuse"),
                            REF: ref_date,
                        }
                    )
                    for r in c.iter("CPPreviewDate"):
                        if r.text and r.text.strip():
                            rows["cp_reviews"].append(
                                {"cp_plan_id": pid, "review_date": r.text.strip(), REF: ref_date}
                            )
                for c in d.findall("CINPlanDates"):
                    rows["cin_plans"].append(
                        {
                            "cin_plan_id": uid(f"{rid}-C{_t(c, 'CINPlanStartDate')}"),
                            "child_id": cid,
                            "start_date": _t(c, "CINPlanStartDate"),
                            "end_date": _t(c, "CINPlanEndDate"),
                            REF: ref_date,
                        }
                    )
        if n == 0:
            findings.append({"file": p.name, "finding": "no Child elements found"})
        files.append(
            {
                "file": str(p),
                "children": n,
                "reference_date": ref_date,
                "date_source": ref_source,
                "data_start": first,
            }
        )
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
    if len(authorities) > 1:
        findings.append(
            {
                "finding": "returns of more than one authority: children are matched on "
                "LAchildID alone, so one id in two authorities is taken as one child",
                "detail": "; ".join(
                    f"LEA {code}: {', '.join(sorted(f))}" for code, f in sorted(authorities.items())
                ),
                "severity": "warning",
            }
        )

    tables, mapping = {}, []
    for name, data in rows.items():
        table = TABLES[name]
        frame = pd.DataFrame(data).reindex(columns=table.column_names + [REF])
        read = len(frame)
        if name == "children" and read:
            dob = frame.groupby("child_id")["date_of_birth"].nunique()
            if (dob > 1).any():
                findings.append(
                    {
                        "finding": "children with different dates of birth across files",
                        "detail": f"{int((dob > 1).sum())} child(ren); the newest census's kept",
                    }
                )
        if read:
            frame = newest(frame.fillna("").astype(str), list(table.key))
        tables[name] = frame
        mapping.append(
            {
                "source": name,
                "table": name,
                "rows_read": read,
                "rows_mapped": len(frame),
                "repeats_merged": read - len(frame),
                "rows_rejected": 0,
                "detail": "",
            }
        )
    return tables, files, mapping, findings
