"""CIN census XML into canonical tables, and merging two sources into one folder."""

from __future__ import annotations

import json

import pytest

from audit_lib.cli import main
from audit_lib.load import load_tables
from audit_lib.sources.cin_census import read_cin

from .conftest import EXTERNAL, EXTERNAL_MISSING

CIN = EXTERNAL / "cin-census" / "CIN_Census_2024.xml"

XML = """<Message><Header><CollectionDetails><Year>2024</Year></CollectionDetails></Header>
<Children><Child>
 <ChildIdentifiers><LAchildID>00042</LAchildID><PersonBirthDate>{dob}</PersonBirthDate><Sex>2</Sex></ChildIdentifiers>
 <ChildCharacteristics><Ethnicity>bafr</Ethnicity><Disabilities><Disability>NONE</Disability></Disabilities></ChildCharacteristics>
 <CINdetails><CINreferralDate>2024-01-05</CINreferralDate><ReferralNFA>false</ReferralNFA>
  <Assessments><AssessmentActualStartDate>2024-01-08</AssessmentActualStartDate>
   <AssessmentAuthorisationDate>2024-02-20</AssessmentAuthorisationDate>
   <FactorsIdentifiedAtAssessment><AssessmentFactors>3A</AssessmentFactors><AssessmentFactors>21</AssessmentFactors></FactorsIdentifiedAtAssessment></Assessments>
  <Section47><S47ActualStartDate>2024-01-10</S47ActualStartDate><DateOfInitialCPC>2024-01-30</DateOfInitialCPC><ICPCnotRequired>false</ICPCnotRequired></Section47>
  <ChildProtectionPlans><CPPstartDate>2024-01-30</CPPstartDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
   <Reviews><CPPreviewDate>2024-04-20</CPPreviewDate></Reviews></ChildProtectionPlans>
  <Shoesize>5</Shoesize>stray
 </CINdetails>
</Child></Children></Message>"""


def test_every_module_maps_and_oddities_are_reported(tmp_path):
    a = tmp_path / "a.xml"
    a.write_text(XML.format(dob="2015-06-01"))
    b = tmp_path / "b.xml"
    b.write_text(XML.format(dob="2015-07-01"))
    tables, files, mapping, findings = read_cin([a, b])
    kids = tables["children"]
    assert kids["child_id"].tolist() == ["00042"] and kids["sex"].iloc[0] == "F"
    assert kids["ethnicity"].iloc[0] == "BAFR" and kids["disability"].iloc[0] == "false"
    assert tables["assessments"]["factors"].iloc[0] == "3A,21"
    assert tables["s47_enquiries"]["icpc_date"].iloc[0] == "2024-01-30"
    assert tables["cp_reviews"]["review_date"].tolist() == ["2024-04-20"]
    text = json.dumps(findings)
    assert "Shoesize" in text and "stray text" in text and "different dates of birth" in text
    m = {r["source"]: r for r in mapping}
    # the same referral in two years' files is one referral
    assert m["referrals"]["rows_read"] == 2 and m["referrals"]["repeats_merged"] == 1
    broken = tmp_path / "broken.xml"
    broken.write_text("<Message><Children>")
    _, files, _, _ = read_cin([broken])
    assert "unreadable" in files[0]["error"]


def test_returns_of_two_authorities_are_a_warning(tmp_path):
    """LAchildIDs are an authority's own: two authorities' censuses (two files, or two
    LEAs in one header) merged children with the same id without a word."""
    source = "<Source><SourceLevel>L</SourceLevel><LEA>{}</LEA></Source>"
    xml = XML.format(dob="2015-06-01")
    for name, lea in (("a.xml", "201"), ("b.xml", "202"), ("c.xml", "201")):
        (tmp_path / name).write_text(xml.replace("</Header>", source.format(lea) + "</Header>"))
    two = xml.replace("</Header>", source.format("201") + source.format("316") + "</Header>")
    (tmp_path / "two.xml").write_text(two)
    for files, said in (
        (["a.xml", "b.xml"], "LEA 201: a.xml; LEA 202: b.xml"),
        (["two.xml"], "LEA 201: two.xml; LEA 316: two.xml"),
    ):
        _, _, _, findings = read_cin([tmp_path / f for f in files])
        (f,) = [f for f in findings if "more than one authority" in f["finding"]]
        assert f["detail"] == said and f["severity"] == "warning"
    _, _, _, findings = read_cin([tmp_path / "a.xml", tmp_path / "c.xml"])
    assert not [f for f in findings if "more than one authority" in f["finding"]]


@pytest.mark.skipif(not CIN.exists(), reason=EXTERNAL_MISSING)
def test_external_cin_sample_and_merge_with_903(tmp_path):
    out = tmp_path / "canonical"
    fake903 = EXTERNAL / "ssda903-fake"
    assert main(["import", "ssda903", str(fake903), "--out", str(out)]) == 0
    assert main(["import", "cin_census", str(CIN), "--out", str(out)]) == 0
    report = json.loads((out / "import_report_cin_census.json").read_text())
    assert any("stray text" in f["finding"] for f in report["findings"])
    assert any("matched across sources" in f["finding"] for f in report["findings"])
    t, dq = load_tables(out)
    assert "DfEX0000001" in set(t["children"]["child_id"])
    assert len(t["cla_episodes"]) > 5000 and len(t["referrals"]) >= 1
    # the sample's deliberate error: an assessment starting after its authorisation
    f = dq.findings
    assert ((f["table"] == "assessments") & (f["check"] == "end before start")).any()
