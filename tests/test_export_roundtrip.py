"""Round trip: the synthetic borough out as 903 CSVs and back gives the same rows."""

from __future__ import annotations

import pandas as pd

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.sources.export import to_ssda903


def _same(a: pd.DataFrame, b: pd.DataFrame, key: list[str], cols: list[str]) -> None:
    a = a[cols].sort_values(key).reset_index(drop=True)
    b = b[cols].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_ssda903_round_trip(small_tables, tmp_path):
    t, _ = small_tables
    to_ssda903(t, tmp_path / "903")
    out = tmp_path / "canonical"
    assert (
        main(
            [
                "import",
                "ssda903",
                str(tmp_path / "903"),
                "--out",
                str(out),
                "--extract-date",
                "2026-11-01",
            ]
        )
        == 0
    )
    back, dq = load_tables(out, extract_date="2026-11-01")
    assert dq.errors.empty, dq.to_text()
    ep_cols = [c for c in t["cla_episodes"].columns]
    _same(t["cla_episodes"], back["cla_episodes"], ["child_id", "episode_start"], ep_cols)
    kids = t["children"][t["children"]["child_id"].isin(t["cla_episodes"]["child_id"])]
    _same(kids, back["children"], ["child_id"], ["child_id", "sex", "date_of_birth", "ethnicity"])
    assert (
        back["children"].set_index("child_id")["uasc"]
        == kids.set_index("child_id")["uasc"]
        .reindex(back["children"]["child_id"])
        .fillna(False)
        .to_numpy()
    ).all()
    _same(
        t["cla_reviews"].drop_duplicates(),
        back["cla_reviews"],
        ["child_id", "review_date"],
        ["child_id", "review_date"],
    )
    _same(
        t["adoptions"],
        back["adoptions"],
        ["child_id", "decision_date"],
        ["child_id", "decision_date", "plan_ceased_date"],
    )
    # the 903 reports a match date only for children adopted in the year (AD1)
    adopted = t["adoptions"][t["adoptions"]["adoption_order_date"].notna()]
    back_adopted = back["adoptions"][back["adoptions"]["child_id"].isin(adopted["child_id"])]
    _same(
        adopted,
        back_adopted,
        ["child_id", "decision_date"],
        ["child_id", "decision_date", "matched_date", "fostering_for_adoption"],
    )


def test_cin_census_round_trip(small_tables, tmp_path):
    from audit_lib.sources.export import to_cin_census

    t, _ = small_tables
    xml = to_cin_census(t, tmp_path / "cin.xml")
    out = tmp_path / "canonical"
    assert (
        main(["import", "cin_census", str(xml), "--out", str(out), "--extract-date", "2026-11-01"])
        == 0
    )
    back, dq = load_tables(out, extract_date="2026-11-01")
    assert dq.errors.empty, dq.to_text()
    kids = t["children"][t["children"]["child_id"].isin(t["referrals"]["child_id"])]
    _same(
        kids,
        back["children"],
        ["child_id"],
        ["child_id", "sex", "date_of_birth", "ethnicity", "disability"],
    )
    rcols = [
        "child_id",
        "referral_date",
        "referral_source",
        "primary_need",
        "nfa",
        "closure_date",
        "closure_reason",
    ]
    _same(t["referrals"], back["referrals"], ["child_id", "referral_date"], rcols)
    acols = ["child_id", "start_date", "authorised_date", "factors"]
    _same(t["assessments"], back["assessments"], ["child_id", "start_date"], acols)
    scols = ["child_id", "strategy_date", "icpc_not_required", "icpc_date"]
    _same(t["s47_enquiries"], back["s47_enquiries"], ["child_id", "strategy_date"], scols)
    pcols = ["child_id", "start_date", "end_date", "initial_category", "latest_category"]
    _same(t["cp_plans"], back["cp_plans"], ["child_id", "start_date"], pcols)
    _same(
        t["cin_plans"],
        back["cin_plans"],
        ["child_id", "start_date"],
        ["child_id", "start_date", "end_date"],
    )
    assert len(back["cp_reviews"]) == len(t["cp_reviews"])


def test_cin_census_export_escapes_text_and_keeps_empty_elements(small_tables, tmp_path):
    """Text with markup characters survives as text; a record with nothing to say is
    still an element (the census layout), and a child's referrals stay in their order."""
    import xml.etree.ElementTree as ET

    from audit_lib.sources.export import to_cin_census

    t, _ = small_tables
    kid = t["children"].iloc[[0]]
    refs = t["referrals"][t["referrals"]["child_id"] == kid["child_id"].iloc[0]].head(1)
    refs = pd.concat([refs, refs.assign(referral_id="R-extra")], ignore_index=True)
    refs["referral_source"] = ["<b>&amp;", "a > b"]
    refs["closure_reason"] = pd.array([None, None], dtype="string")
    one = {name: frame.iloc[0:0] for name, frame in t.items()}
    asmt = (
        t["assessments"]
        .iloc[[0, 0]]
        .assign(referral_id=refs["referral_id"].iloc[0], factors=pd.array(["", "2A,&x,"], "string"))
    )
    one.update(children=kid, referrals=refs, assessments=asmt)
    root = ET.parse(to_cin_census(one, tmp_path / "cin.xml")).getroot()
    (child,) = root.iter("Child")
    details = child.findall("CINdetails")
    assert [d.findtext("ReferralSource") for d in details] == ["<b>&amp;", "a > b"]
    assert all(d.find("ReasonForClosure") is None for d in details)
    facs = [a.find("FactorsIdentifiedAtAssessment") for a in details[0].iter("Assessments")]
    assert len(facs[0]) == 0  # empty list written as an empty element
    assert [f.text for f in facs[1]] == ["2A", "&x"]
    assert details[1].find("Assessments") is None
