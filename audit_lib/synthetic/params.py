"""Defaults and planted effects of the synthetic borough.

Every default rate names its published source and year (docs/synthetic.md keeps the
same table for readers). Figures are rounded; the borough is a simulation calibrated to
the right order, not a copy of any authority's return.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import PERMANENCE_PLANS

# --------------------------------------------------------------------------------------
# Population (Newham-like). Source: ONS Census 2021, ethnic group of usual residents
# aged 0-17, London Borough of Newham (rounded; >70% Asian, Black or Mixed heritage).
# Shares by DfE code; the roll-up is model.ETHNICITY_GROUP.
# --------------------------------------------------------------------------------------
ETHNIC_MIX: dict[str, float] = {
    "WBRI": 0.075,
    "WIRI": 0.004,
    "WOTH": 0.100,
    "WIRT": 0.002,
    "WROM": 0.014,
    "MWBC": 0.022,
    "MWBA": 0.012,
    "MWAS": 0.010,
    "MOTH": 0.026,
    "AIND": 0.120,
    "APKN": 0.100,
    "ABAN": 0.170,
    "AOTH": 0.060,
    "CHNE": 0.005,
    "BCRB": 0.040,
    "BAFR": 0.130,
    "BOTH": 0.030,
    "OOTH": 0.080,
}

#: Share of each roll-up group living in IDACI deciles 1..10 (1 = most deprived).
#: Newham has no neighbourhood above decile 7 and most in deciles 1-3 (English
#: Indices of Deprivation 2019, IDACI); groups differ, so deprivation explains part
#: of the crude disproportionality.
DEPRIVATION_MIX: dict[str, tuple[float, ...]] = {
    "white_british": (0.16, 0.20, 0.20, 0.16, 0.12, 0.09, 0.07, 0.0, 0.0, 0.0),
    "white_other": (0.22, 0.24, 0.20, 0.14, 0.10, 0.06, 0.04, 0.0, 0.0, 0.0),
    "mixed": (0.28, 0.25, 0.19, 0.12, 0.08, 0.05, 0.03, 0.0, 0.0, 0.0),
    "asian": (0.22, 0.25, 0.21, 0.14, 0.09, 0.06, 0.03, 0.0, 0.0, 0.0),
    "black": (0.34, 0.27, 0.17, 0.10, 0.06, 0.04, 0.02, 0.0, 0.0, 0.0),
    "other": (0.26, 0.25, 0.20, 0.13, 0.08, 0.05, 0.03, 0.0, 0.0, 0.0),
}
#: Rate multiplier per IDACI decile step (log-linear): decile 1 has exp(6 x 0.16) =
#: 2.6 times the rate of decile 7. The social gradient in intervention rates
#: (Bywaters et al., Child Welfare Inequalities Project, 2020) is of this order.
DEPRIVATION_LOG_SLOPE = 0.16
#: Share of boys (ONS mid-year estimates: about 51% of under-18s).
MALE_SHARE = 0.512
#: Share of children with a disability (population); disabled children are referred
#: at DISABILITY_RR times the rate.
DISABILITY_SHARE = 0.04
DISABILITY_RR = 2.0
#: Share of children in need whose ethnicity is recorded as REFU or NOBT.
ETHNICITY_NOT_RECORDED = 0.03

# --------------------------------------------------------------------------------------
# Journeys. England rates from DfE "Characteristics of children in need" (year ending
# 31 March 2024 unless stated) and "Children looked after in England" (2024).
# --------------------------------------------------------------------------------------
#: Referrals per 10,000 children per year (England 2024: 544.9; London is lower).
REFERRALS_PER_10K = 520.0
#: Referral leads to an assessment (England: about 9 in 10 referrals are assessed).
P_ASSESSMENT = 0.88
#: Assessment leads to a S47 enquiry (England 2024: S47 rate about 170 per 10,000,
#: about a third of the referral rate).
P_S47 = 0.36
#: S47 leads to an initial child protection conference (England: about 4 in 10).
P_ICPC = 0.40
#: ICPC results in a CP plan (England: about 8 in 10 ICPCs).
P_CP_PLAN = 0.78
#: CP plan ends with the child becoming looked after.
P_CLA_FROM_CP = 0.20
#: Referral leads straight to care without a CP plan (calibrated so that children
#: starting to be looked after are about 25 per 10,000 a year; England 2024: 28).
P_CLA_DIRECT = 0.024
#: Assessment duration in working days: lognormal with this median and log-sd gives
#: about 85% within 45 working days (England 2025: 85.7%, median 33 days).
ASSESSMENT_MEDIAN_WD = 31.0
ASSESSMENT_LOG_SD = 0.40
#: Strategy discussion to ICPC in working days: about 80% within 15 (England 2025: 81.4%).
ICPC_MEDIAN_WD = 11.0
ICPC_LOG_SD = 0.36
#: CP plan duration, days (England: median a little under 9 months).
CP_PLAN_MEDIAN_DAYS = 250.0
#: CIN plan duration, days.
CIN_PLAN_MEDIAN_DAYS = 200.0
#: Share of CP and looked-after reviews held late; share of visits late.
P_REVIEW_LATE = 0.08
P_VISIT_LATE = 0.12
#: CP visit standard (working days) and CIN visit interval (working days).
CP_VISIT_WD = 10
CIN_VISIT_WD = 20
#: Placement types at entry (Children looked after in England 2024: about 68% foster
#: care, 17% children's homes and semi-independent, 6% placed with parents).
PLACEMENT_MIX: dict[str, float] = {
    "U1": 0.05,
    "U2": 0.04,
    "U3": 0.05,
    "U4": 0.20,
    "U5": 0.18,
    "U6": 0.16,
    "K2": 0.10,
    "H5": 0.07,
    "R1": 0.06,
    "P2": 0.03,
    "K1": 0.01,
    "Z1": 0.05,
}
#: Legal status at entry.
LEGAL_STATUS_MIX: dict[str, float] = {"V2": 0.45, "C1": 0.40, "L1": 0.08, "L2": 0.04, "J2": 0.03}
#: Placement moves per year in care (gives about 10% of children in care at 31 March
#: with 3+ placements in the year;
#: England 2024: 10%).
MOVES_PER_YEAR = 0.60
#: Permanence plan by age at entry: (return_home, adoption, sgo, cao,
#: long_term_fostering, residential, independence).
PLAN_BY_AGE: dict[str, tuple[float, ...]] = {
    "0-4": (0.30, 0.33, 0.20, 0.05, 0.12, 0.00, 0.00),
    "5-9": (0.40, 0.02, 0.15, 0.05, 0.33, 0.05, 0.00),
    "10-15": (0.38, 0.00, 0.07, 0.03, 0.32, 0.15, 0.05),
    "16-17": (0.30, 0.00, 0.02, 0.00, 0.08, 0.20, 0.40),
}
PLAN_NAMES = PERMANENCE_PLANS[:7]  # every plan but "other"
#: Median days from entering care to each permanence outcome (achieved).
PERMANENCE_MEDIAN_DAYS: dict[str, float] = {
    "return_home": 240.0,
    "sgo": 420.0,
    "cao": 380.0,
    "long_term_fostering": 200.0,  # match confirmed
}
#: Adoption: ADM decision to placement order, placement order to match (A2), match to
#: placement, placement to order, in days. A1 in England averaged about 450 days over
#: 2019-22 (Adoption and special guardianship leadership board, ASGLB data).
ADOPTION_DAYS = {"po": 150.0, "match": 110.0, "placed": 25.0, "order": 240.0}
#: Fostering for adoption (placed early with carers who go on to adopt).
P_FOSTERING_FOR_ADOPTION = 0.15
#: Share of adoption plans that cease before an order.
P_ADOPTION_PLAN_CEASES = 0.08

# --------------------------------------------------------------------------------------
# Teams, workers, audits
# --------------------------------------------------------------------------------------
TEAMS: tuple[str, ...] = (
    "Beckton",
    "Canning Town",
    "Custom House",
    "East Ham",
    "Forest Gate",
    "Green Street",
    "Little Ilford",
    "Manor Park",
    "Plaistow",
    "Royal Docks",
    "Stratford",
    "West Ham",
)
WORKERS_PER_TEAM = 8
AUDITORS: tuple[str, ...] = tuple(f"AUD{i:02d}" for i in range(1, 9))
AUDITS_PER_MONTH = 40
MODERATED_SHARE = 0.20
CASE_TYPE_MIX: dict[str, float] = {"cin": 0.40, "cp": 0.25, "cla": 0.30, "care_leaver": 0.05}


# --------------------------------------------------------------------------------------
# Planted effects (written to truth.json)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Planted:
    """Known effects the audits must find."""

    #: Decision multipliers by roll-up group at each stage, conditional on reaching the
    #: previous stage and on IDACI decile; white_british is the reference (1.0).
    #: The true stage rate ratio (conditional on deprivation) is their running product.
    decision_multiplier: dict = None  # type: ignore[assignment]
    #: The team whose assessments and ICPCs are slow.
    slow_team: str = "Forest Gate"
    slow_assessment_median_wd: float = 44.0
    slow_icpc_median_wd: float = 15.0
    #: Month from which audit grades step up (better), and by how much (grade points).
    grade_step_month: str = "2024-09"
    grade_step: float = -0.6
    #: The auditor who grades more generously than moderators, by this many grade points.
    lenient_auditor: str = "AUD05"
    leniency: float = -0.7
    #: Share of looked-after spells planted to drift.
    drift_share: float = 0.10
    #: Group whose adoptions are slower, and the factor on the time to match.
    slow_adoption_group: str = "black"
    slow_adoption_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.decision_multiplier is None:
            object.__setattr__(
                self,
                "decision_multiplier",
                {
                    # stage: {group: multiplier}; missing groups are 1.0
                    "referral": {"white_other": 0.70, "mixed": 1.40, "asian": 0.60, "black": 1.35},
                    "assessment": {},
                    "s47": {"mixed": 1.10, "asian": 0.90, "black": 1.25},
                    "icpc": {},
                    "cp_plan": {"asian": 0.90, "black": 1.10},
                    "cla_start": {"mixed": 1.30, "asian": 0.75, "black": 1.20},
                },
            )


STAGES: tuple[str, ...] = ("referral", "assessment", "s47", "icpc", "cp_plan", "cla_start")
