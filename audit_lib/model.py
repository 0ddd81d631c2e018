"""The canonical case model: every table, column, dtype, code list and relationship.

This module is the one source of truth for the tables in DESIGN.md ("Canonical
tables"). Loaders, importers, the synthetic generator and the measures read column
names and code lists from here, never from literals of their own.

Code lists follow the DfE specifications: the CIN census (ethnicity, referral source,
primary need, closure reason, category of abuse) and the SSDA903 children looked after
return (reason for new episode, legal status, placement type, placement provider,
reason episode ceased, reason for placement change, category of need).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Kind = Literal["id", "date", "code", "bool", "int", "str"]
Severity = Literal["error", "warning"]

#: pandas dtype used for each column kind.
DTYPES: dict[str, str] = {
    "id": "string",
    "code": "string",
    "str": "string",
    "date": "datetime64[ns]",
    "bool": "boolean",
    "int": "Int64",
}

# --------------------------------------------------------------------------------------
# Code lists
# --------------------------------------------------------------------------------------

#: DfE ethnicity codes (CIN census / SSDA903), with the roll-up key used in reports.
#: White other takes WIRI, WOTH, WIRT, WROM; Mixed the M codes; Asian AIND, APKN,
#: ABAN, AOTH and CHNE; Black the B codes; Other OOTH (METRICS.md, "Disproportionality").
ETHNICITY_GROUP: dict[str, str] = {
    "WBRI": "white_british",
    "WIRI": "white_other",
    "WOTH": "white_other",
    "WIRT": "white_other",
    "WROM": "white_other",
    "MWBC": "mixed",
    "MWBA": "mixed",
    "MWAS": "mixed",
    "MOTH": "mixed",
    "AIND": "asian",
    "APKN": "asian",
    "ABAN": "asian",
    "AOTH": "asian",
    "CHNE": "asian",
    "BCRB": "black",
    "BAFR": "black",
    "BOTH": "black",
    "OOTH": "other",
    "REFU": "not_known",
    "NOBT": "not_known",
}
ETHNICITY = frozenset(ETHNICITY_GROUP)
#: Codes that record that ethnicity was not obtained or was refused (a data-quality issue).
ETHNICITY_NOT_KNOWN = frozenset({"REFU", "NOBT"})
#: Roll-up groups in report order.
ETHNIC_GROUPS: tuple[str, ...] = (
    "white_british",
    "white_other",
    "mixed",
    "asian",
    "black",
    "other",
    "not_known",
)
ETHNIC_GROUP_LABELS: dict[str, str] = {
    "white_british": "White British",
    "white_other": "White other",
    "mixed": "Mixed",
    "asian": "Asian",
    "black": "Black",
    "other": "Other",
    "not_known": "Not known",
}

SEX = frozenset({"M", "F", "U"})
AGE_BANDS: tuple[str, ...] = ("0-4", "5-9", "10-15", "16-17")
#: Lower bound (years) of each age band.
AGE_BAND_LOWER: dict[str, int] = {"0-4": 0, "5-9": 5, "10-15": 10, "16-17": 16}

#: CIN census referral source.
REFERRAL_SOURCE = frozenset(
    [
        "1A",
        "1B",
        "1C",
        "1D",
        "2A",
        "2B",
        "3A",
        "3B",
        "3C",
        "3D",
        "3E",
        "3F",
        "4",
        "5A",
        "5B",
        "5C",
        "5D",
        "6",
        "7",
        "8",
        "9",
        "10",
    ]
)
#: CIN census primary need code (N0 = not stated).
PRIMARY_NEED = frozenset(f"N{i}" for i in range(10))
#: CIN census reason for closure.
CLOSURE_REASON = frozenset(f"RC{i}" for i in range(1, 10))
#: CIN census category of abuse for a child protection plan.
CP_CATEGORY = frozenset({"NEG", "PHY", "EMO", "SAB", "MUL"})
#: SSDA903 reason for new episode: S started, L legal status only, P placement only,
#: T both, U placement change with the same carer, B legal status and placement (legacy).
RNE = frozenset({"S", "L", "P", "T", "U", "B"})
#: SSDA903 legal status.
LEGAL_STATUS = frozenset(
    ["C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4"]
)
#: SSDA903 placement type.
PLACEMENT_TYPE = frozenset(
    [
        "A3",
        "A4",
        "A5",
        "A6",
        "H5",
        "K1",
        "K2",
        "P1",
        "P2",
        "P3",
        "R1",
        "R2",
        "R3",
        "R5",
        "S1",
        "T0",
        "T1",
        "T2",
        "T3",
        "T4",
        "U1",
        "U2",
        "U3",
        "U4",
        "U5",
        "U6",
        "Z1",
    ]
)
#: Placement types that are foster placements (U1-U6).
FOSTER_PLACEMENTS = frozenset({"U1", "U2", "U3", "U4", "U5", "U6"})
#: Placed for adoption; A3 and A5 are "with current foster carer(s)".
ADOPTION_PLACEMENTS = frozenset({"A3", "A4", "A5", "A6"})
FOSTER_CARER_ADOPTION_PLACEMENTS = frozenset({"A3", "A5"})
#: SSDA903 placement provider.
PLACEMENT_PROVIDER = frozenset(f"PR{i}" for i in range(6))
#: SSDA903 reason episode ceased (E43/E44 are earlier years' SGO codes; E45-E48 are the
#: special guardianship orders of the current code set).
REASON_CEASED = frozenset(
    [
        "E11",
        "E12",
        "E13",
        "E14",
        "E15",
        "E16",
        "E17",
        "E2",
        "E3",
        "E41",
        "E43",
        "E44",
        "E45",
        "E46",
        "E47",
        "E48",
        "E4A",
        "E4B",
        "E5",
        "E6",
        "E7",
        "E8",
        "E9",
        "X1",
    ]
)
#: Reason ceased codes that are a permanence outcome, by outcome.
PERMANENCE_EXIT: dict[str, str] = {
    "E4A": "return_home",
    "E11": "adoption",
    "E12": "adoption",
    "E43": "sgo",
    "E44": "sgo",
    "E45": "sgo",
    "E46": "sgo",
    "E47": "sgo",
    "E48": "sgo",
    "E41": "cao",
}
#: SSDA903 reason for placement change.
REASON_PLACE_CHANGE = frozenset(
    [
        "ALLEG",
        "APPRR",
        "CARPL",
        "CHILD",
        "CLOSE",
        "CREQB",
        "CREQO",
        "CUSTOD",
        "LAREQ",
        "OTHER",
        "PLACE",
        "STAND",
    ]
)
#: SSDA903 category of need.
CATEGORY_OF_NEED = frozenset(f"N{i}" for i in range(1, 9))
VISIT_TYPE = frozenset({"cin", "cp", "cla"})
CASE_TYPE = frozenset({"cin", "cp", "cla", "care_leaver"})
#: Permanence plans, in report order.
PERMANENCE_PLANS: tuple[str, ...] = (
    "return_home",
    "adoption",
    "sgo",
    "cao",
    "long_term_fostering",
    "residential",
    "independence",
    "other",
)
PERMANENCE_PLAN = frozenset(PERMANENCE_PLANS)
#: Case-audit grades: 1 outstanding, 2 good, 3 requires improvement, 4 inadequate.
GRADE_LABELS: dict[int, str] = {
    1: "Outstanding",
    2: "Good",
    3: "Requires improvement",
    4: "Inadequate",
}
#: The six practice anchors of the practice framework.
ANCHORS: tuple[str, ...] = (
    "confidence",
    "clarity",
    "community",
    "coproduction",
    "curiosity",
    "compassion",
)
#: Plan checklist items recorded by the case audit.
PLAN_CHECKLIST: tuple[str, ...] = (
    "plan_smart",
    "plan_timescales",
    "plan_contingency",
    "plan_child_voice",
    "plan_coproduced",
    "plan_written_for_child",
)

# --------------------------------------------------------------------------------------
# Human labels: the one place reports take column headers and category names from
# --------------------------------------------------------------------------------------

#: Report headers (with units) for the column names measures return.
COLUMN_LABELS: dict[str, str] = {
    "england_text": "England, per 10,000",
    "england_year": "England's year",
    # counts and denominators
    "count": "Children",
    "children": "Children",
    "n": "Children",
    "events": "Permanent outcomes",
    "population": "Population under 18",
    "previous_count": "Children at previous stage",
    "rows": "Rows",
    "rows_read": "Rows read",
    "rows_kept": "Rows kept",
    "rows_rejected": "Rows rejected",
    "audits": "Audits",
    "numerator": "Number meeting the measure",
    "denominator": "Number counted",
    "refused": "Refused",
    "not_obtained": "Not obtained",
    "missing_or_invalid": "Blank or not a DfE code",
    "not_known": "Not known (total)",
    # rates, ratios, tests
    "rate_per_10k": "Rate per 10,000",
    "rate_ratio": "Rate ratio",
    "representation_index": "Representation index",
    "p_value": "p-value",
    "p_adjusted": "p-value (adjusted)",
    "per_100_previous": "Per 100 at previous stage",
    "per_100_referred": "Per 100 referred",
    "reference_group": "Reference group",
    "population_year": "Population year",
    "decision_ratio": "Decision-point ratio",
    "adjusted_ratio": "Deprivation-adjusted ratio",
    "crude_ratio": "Crude ratio",
    "share": "Share",
    "share_rejected": "Share rejected",
    "value": "Value",
    "lower": "95% CI lower",
    "upper": "95% CI upper",
    "mean_grade": "Mean grade (1 best, 4 worst)",
    "mean_difference": "Mean grade difference",
    "median": "Median days",
    "median_days": "Median days",
    "median_lower": "Median days, 95% CI lower",
    "median_upper": "Median days, 95% CI upper",
    "within": "Within 12 months",
    "within_lower": "Within 12 months, 95% CI lower",
    "within_upper": "Within 12 months, 95% CI upper",
    "threshold": "Threshold (days)",
    "earlier_share": "Filled, earlier month",
    "compared_share": "Filled, compared month",
    "change": "Change (points)",
    "previous_month": "Previous month",
    "this_month": "This month",
    # categories and names
    "stage": "Stage",
    "stage_label": "Stage",
    "group": "Group",
    "label": "Description",
    "table": "Table",
    "field": "Field",
    "column": "Field",
    "check": "Check",
    "severity": "Severity",
    "message": "Detail",
    "reason": "Reason",
    "status": "Status",
    "measure": "Measure",
    "window": "Window",
    "team": "Team",
    "anchor": "Practice anchor",
    "grade": "Grade",
    "auditor_id": "Auditor",
    "earlier_month": "Earlier month",
    "compared_month": "Compared month",
    "ethnicity": "Ethnic group",
    "sex": "Sex",
    "age_band": "Age band",
    "disability": "Disability",
    "idaci_decile": "Deprivation decile (IDACI, 1 most deprived)",
    "term": "Term",
    "coef": "Coefficient",
    "std_err": "Standard error",
    "plan": "Permanence plan",
    "age_at_entry": "Age at entry",
    "entry_cohort": "Year of entry",
}

#: Report names of category values (codes and keys measures return), in title case.
CATEGORY_LABELS: dict[str, str] = {
    **ETHNIC_GROUP_LABELS,
    "white_other": "White Other",
    "not_known": "Not Known",
    "not known": "Not Known",
    "no plan": "No Plan",
    "M": "Male",
    "F": "Female",
    "U": "Unknown",
    "return_home": "Return Home",
    "adoption": "Adoption",
    "sgo": "Special Guardianship Order",
    "cao": "Child Arrangements Order",
    "long_term_fostering": "Long-Term Fostering",
    "residential": "Residential",
    "independence": "Independence",
    "other": "Other",
    "referral": "Referral",
    "assessment": "Assessment",
    "s47": "S47 Enquiry",
    "icpc": "Initial Child Protection Conference",
    "cp_plan": "Child Protection Plan",
    "cla_start": "Started to Be Looked After",
    "rolling_12m": "Last 12 months",
    "rolling_3y": "Last 3 years",
    "window": "Average of the window's years",
    "month": "This month",
    "cin": "Child in Need",
    "cp": "Child Protection",
    "cla": "Looked After",
    "care_leaver": "Care Leaver",
    "ok": "OK",
    "a1": "A1: entering care to moving in with the adoptive family",
    "a2": "A2: placement order to match",
    "a10": "A10: A1 adjusted for foster-carer adoptions",
    "assessment_45wd": "Assessments within 45 working days",
    "icpc_15wd": "ICPCs within 15 working days",
    "cp_review": "CP reviews",
    "cla_review": "Looked-after reviews",
    "cla_visit": "Looked-after visits",
    "cp_visit": "CP visits",
    "cin_visit": "CIN visits",
    "overdue": "Overdue",
    "due_soon": "Due soon",
    "under 1": "Under 1",
    "unusable": "Unusable",
    "missing": "Not supplied",
    "error": "Error",
    "warning": "Warning",
}

#: Natural order of category values (where it is not alphabetical).
CATEGORY_ORDER: tuple[str, ...] = (
    *ETHNIC_GROUPS,
    "under 1",
    "1-4",
    *AGE_BANDS,
    "F",
    "M",
    "U",
    *PERMANENCE_PLANS,
    "referral",
    "assessment",
    "s47",
    "icpc",
    "cp_plan",
    "cla_start",
)


def column_label(name: str) -> str:
    """The report header for a column: from ``COLUMN_LABELS``, else the name as written
    when it already reads as words (has a space or a capital), else ``snake_case`` as a
    sentence ("rows_read" -> "Rows read")."""
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    if " " in name or name != name.lower():
        return name
    return name.replace("_", " ").capitalize()


def category_label(value: object) -> object:
    """The report name of a category value; composite groups ``"black|10-15"`` label each
    part ("Black, 10-15"). Values not in ``CATEGORY_LABELS`` are returned unchanged."""
    if not isinstance(value, str):
        return value
    if value in CATEGORY_LABELS:
        return CATEGORY_LABELS[value]
    if "|" in value:
        parts = value.split("|")
        if any(p in CATEGORY_LABELS for p in parts):
            return ", ".join(str(CATEGORY_LABELS.get(p, p)) for p in parts)
    return value


def is_category(value: object) -> bool:
    """True for a category value the label map or natural order knows (or a composite
    ``"a|b"`` of them): such columns are relabelled and sort in natural order."""
    if not isinstance(value, str):
        return False
    known = set(CATEGORY_LABELS) | set(CATEGORY_ORDER)
    return all(p in known for p in value.split("|"))


def category_rank(values: pd.Series) -> pd.Series:
    """Sort key giving category values their natural order (age bands by age, ethnic
    groups as DfE publishes them); composite ``"a|b"`` values rank by each part in turn.
    Values outside ``CATEGORY_ORDER`` keep their relative order after the known ones."""
    rank = {v: i for i, v in enumerate(CATEGORY_ORDER)}
    big = len(rank)

    def key(v: object) -> tuple:
        if not isinstance(v, str):
            return (big,)
        return tuple(rank.get(p, big) for p in v.split("|"))

    return values.map(key)


# --------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One canonical column.

    ``strict`` codes reject a row with an unknown value (the value drives logic);
    other code lists only warn and keep the value as written. ``case`` normalises
    codes before the check. ``outcome`` columns are filled only once something has
    happened (an end date, an authorisation), so recent rows are rightly blank.
    """

    name: str
    kind: Kind
    required: bool = True
    codes: frozenset | None = None
    strict: bool = False
    outcome: bool = False
    case: Literal["upper", "lower"] | None = None
    min: int | None = None
    max: int | None = None
    description: str = ""

    @property
    def dtype(self) -> str:
        return DTYPES[self.kind]


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table must match ``ref_columns`` of ``ref_table`` (nulls allowed)."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class DateOrder:
    """``later`` must not be before ``earlier`` in the same row."""

    earlier: str
    later: str
    severity: Severity = "error"


@dataclass(frozen=True)
class Table:
    """One canonical table: columns, primary key, relationships and date rules.

    ``event_dates`` are the columns checked against the child's date of birth, with
    ``prebirth`` the severity of an event before birth: a warning where work with an
    unborn child is legitimate (referrals, S47, CP plans), an error otherwise.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = False
    foreign_keys: tuple[ForeignKey, ...] = ()
    date_orders: tuple[DateOrder, ...] = ()
    event_dates: tuple[str, ...] = ()
    prebirth: Severity = "error"
    source: str = ""
    description: str = ""
    _by_name: dict[str, Column] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def columns_of(self, kind: Kind) -> list[str]:
        return [c.name for c in self.columns if c.kind == kind]

    def empty(self) -> pd.DataFrame:
        """An empty frame with this table's columns and dtypes (a copy of one built once:
        building it costs fifty times as much, and a load returns one per table missing)."""
        key = tuple((c.name, c.dtype) for c in self.columns)
        if key not in _EMPTY:
            _EMPTY[key] = pd.DataFrame({c.name: pd.array([], dtype=c.dtype) for c in self.columns})
        return _EMPTY[key].copy()


#: Table.empty's frames, by their columns and dtypes
_EMPTY: dict[tuple[tuple[str, str], ...], pd.DataFrame] = {}


def _child_fk() -> tuple[ForeignKey, ...]:
    return (ForeignKey(("child_id",), "children", ("child_id",)),)


C = Column

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "children",
            (
                C("child_id", "id"),
                C("sex", "code", codes=SEX, case="upper"),
                C("date_of_birth", "date"),
                C("ethnicity", "code", codes=ETHNICITY, case="upper"),
                C("disability", "bool", required=False),
                C("idaci_decile", "int", required=False, min=1, max=10),
                C("uasc", "bool", required=False),
                C("locality", "str", required=False),
            ),
            key=("child_id",),
            required=True,
            source="CIN census ChildIdentifiers/ChildCharacteristics; SSDA903 header",
        ),
        Table(
            "referrals",
            (
                C("referral_id", "id"),
                C("child_id", "id"),
                C("referral_date", "date"),
                C("referral_source", "code", required=False, codes=REFERRAL_SOURCE, case="upper"),
                C("primary_need", "code", required=False, codes=PRIMARY_NEED, case="upper"),
                C("nfa", "bool"),
                C("closure_date", "date", required=False, outcome=True),
                C(
                    "closure_reason",
                    "code",
                    required=False,
                    codes=CLOSURE_REASON,
                    case="upper",
                    outcome=True,
                ),
                C("team", "str", required=False),
                C("worker_id", "id", required=False),
            ),
            key=("referral_id",),
            foreign_keys=_child_fk(),
            date_orders=(DateOrder("referral_date", "closure_date"),),
            event_dates=("referral_date",),
            prebirth="warning",
            source="CIN census CINdetails; Annex A list 3",
        ),
        Table(
            "assessments",
            (
                C("assessment_id", "id"),
                C("child_id", "id"),
                C("referral_id", "id", required=False),
                C("start_date", "date"),
                C("authorised_date", "date", required=False, outcome=True),
                C("child_seen", "bool", required=False),
                C("factors", "str", required=False),
                C("needs_support", "bool", required=False),
                C("team", "str", required=False),
                C("worker_id", "id", required=False),
            ),
            key=("assessment_id",),
            foreign_keys=(
                *_child_fk(),
                ForeignKey(("referral_id",), "referrals", ("referral_id",)),
            ),
            date_orders=(DateOrder("start_date", "authorised_date"),),
            event_dates=("start_date",),
            prebirth="warning",
            source="CIN census Assessments; Annex A list 4",
        ),
        Table(
            "s47_enquiries",
            (
                C("s47_id", "id"),
                C("child_id", "id"),
                C("referral_id", "id", required=False),
                C("strategy_date", "date"),
                C("icpc_not_required", "bool", required=False),
                C("icpc_date", "date", required=False, outcome=True),
                C("icpc_result_plan", "bool", required=False, outcome=True),
                C("team", "str", required=False),
            ),
            key=("s47_id",),
            foreign_keys=(
                *_child_fk(),
                ForeignKey(("referral_id",), "referrals", ("referral_id",)),
            ),
            date_orders=(DateOrder("strategy_date", "icpc_date"),),
            event_dates=("strategy_date",),
            prebirth="warning",
            source="CIN census Section47; Annex A list 5",
        ),
        Table(
            "cp_plans",
            (
                C("cp_plan_id", "id"),
                C("child_id", "id"),
                C("start_date", "date"),
                C("end_date", "date", required=False, outcome=True),
                C("initial_category", "code", required=False, codes=CP_CATEGORY, case="upper"),
                C(
                    "latest_category",
                    "code",
                    required=False,
                    codes=CP_CATEGORY,
                    case="upper",
                    outcome=True,
                ),
            ),
            key=("cp_plan_id",),
            foreign_keys=_child_fk(),
            date_orders=(DateOrder("start_date", "end_date"),),
            event_dates=("start_date",),
            prebirth="warning",
            source="CIN census ChildProtectionPlans; Annex A list 7",
        ),
        Table(
            "cp_reviews",
            (C("cp_plan_id", "id"), C("review_date", "date")),
            key=("cp_plan_id", "review_date"),
            foreign_keys=(ForeignKey(("cp_plan_id",), "cp_plans", ("cp_plan_id",)),),
            source="CIN census CPPreviewDate",
        ),
        Table(
            "cin_plans",
            (
                C("cin_plan_id", "id"),
                C("child_id", "id"),
                C("start_date", "date"),
                C("end_date", "date", required=False, outcome=True),
            ),
            key=("cin_plan_id",),
            foreign_keys=_child_fk(),
            date_orders=(DateOrder("start_date", "end_date"),),
            event_dates=("start_date",),
            prebirth="warning",
            source="CIN census CINplanDates",
        ),
        Table(
            "cla_episodes",
            (
                C("child_id", "id"),
                C("episode_start", "date"),
                C("reason_new_episode", "code", codes=RNE, case="upper", strict=True),
                C("legal_status", "code", codes=LEGAL_STATUS, case="upper"),
                C("category_of_need", "code", required=False, codes=CATEGORY_OF_NEED, case="upper"),
                C("placement_type", "code", codes=PLACEMENT_TYPE, case="upper"),
                C(
                    "placement_provider",
                    "code",
                    required=False,
                    codes=PLACEMENT_PROVIDER,
                    case="upper",
                ),
                C("episode_end", "date", required=False, outcome=True),
                C(
                    "reason_ceased",
                    "code",
                    required=False,
                    codes=REASON_CEASED,
                    case="upper",
                    outcome=True,
                ),
                C(
                    "reason_place_change",
                    "code",
                    required=False,
                    codes=REASON_PLACE_CHANGE,
                    case="upper",
                    outcome=True,
                ),
            ),
            key=("child_id", "episode_start"),
            foreign_keys=_child_fk(),
            date_orders=(DateOrder("episode_start", "episode_end"),),
            event_dates=("episode_start",),
            source="SSDA903 episodes; Annex A list 8",
        ),
        Table(
            "cla_reviews",
            (C("child_id", "id"), C("review_date", "date")),
            key=("child_id", "review_date"),
            foreign_keys=_child_fk(),
            event_dates=("review_date",),
            source="SSDA903 reviews",
        ),
        Table(
            "permanence_plans",
            (
                C("child_id", "id"),
                C("decision_date", "date"),
                C("plan", "code", codes=PERMANENCE_PLAN, case="lower", strict=True),
                C("achieved_date", "date", required=False, outcome=True),
            ),
            key=("child_id", "decision_date"),
            foreign_keys=_child_fk(),
            date_orders=(DateOrder("decision_date", "achieved_date"),),
            event_dates=("decision_date",),
            source="SSDA903 / Annex A list 8 permanence plan",
        ),
        Table(
            "adoptions",
            (
                C("child_id", "id"),
                C("decision_date", "date"),
                C("placement_order_date", "date", required=False, outcome=True),
                C("matched_date", "date", required=False, outcome=True),
                C("placed_date", "date", required=False, outcome=True),
                C("adoption_order_date", "date", required=False, outcome=True),
                C("plan_ceased_date", "date", required=False, outcome=True),
                C("fostering_for_adoption", "bool", required=False),
            ),
            key=("child_id", "decision_date"),
            foreign_keys=_child_fk(),
            date_orders=(
                DateOrder("decision_date", "placement_order_date", "warning"),
                DateOrder("matched_date", "placed_date", "warning"),
                DateOrder("placed_date", "adoption_order_date"),
                DateOrder("decision_date", "plan_ceased_date"),
            ),
            event_dates=("decision_date",),
            source="SSDA903 AD1 / placed_for_adoption; Annex A list 10",
        ),
        Table(
            "visits",
            (
                C("child_id", "id"),
                C("visit_date", "date"),
                C("visit_type", "code", codes=VISIT_TYPE, case="lower", strict=True),
                C("seen_alone", "bool", required=False),
                C("worker_id", "id", required=False),
            ),
            key=("child_id", "visit_date", "visit_type"),
            foreign_keys=_child_fk(),
            event_dates=("visit_date",),
            prebirth="warning",
            source="Annex A lists 6-8 last-visit fields; case management system",
        ),
        Table(
            "case_audits",
            (
                C("audit_id", "id"),
                C("child_id", "id"),
                C("audit_date", "date"),
                C("auditor_id", "id"),
                C("team", "str"),
                C("worker_id", "id", required=False),
                C("case_type", "code", codes=CASE_TYPE, case="lower", strict=True),
                C("overall_grade", "int", min=1, max=4),
                *(C(a, "int", required=False, min=1, max=4) for a in ANCHORS),
                *(C(p, "bool", required=False) for p in PLAN_CHECKLIST),
                C("moderated_grade", "int", required=False, min=1, max=4, outcome=True),
            ),
            key=("audit_id",),
            foreign_keys=_child_fk(),
            event_dates=("audit_date",),
            source="the authority's own case-audit tool",
        ),
        Table(
            "population",
            (
                C("year", "int", min=1990, max=2100),
                C("ethnicity", "code", codes=ETHNICITY | frozenset(ETHNIC_GROUPS), strict=True),
                C("age_band", "code", codes=frozenset(AGE_BANDS), strict=True),
                C("sex", "code", codes=SEX, case="upper", strict=True),
                C("idaci_decile", "int", required=False, min=1, max=10),
                C("children", "int", min=0),
            ),
            key=("year", "ethnicity", "age_band", "sex", "idaci_decile"),
            source="ONS mid-year estimates / census; DfE school census",
            description="Children resident, by year (mid-year), ethnicity, age band, sex and IDACI decile.",
        ),
    )
}

#: Tables in the order they must be validated (parents before children).
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)


def ethnic_group(codes: pd.Series) -> pd.Series:
    """Roll DfE ethnicity codes up to the report groups (METRICS.md "Disproportionality").

    Roll-up keys pass through unchanged; missing or unrecognised codes become ``not_known``.
    """
    s = codes.astype("string").str.strip()
    mapped = s.str.upper().map(ETHNICITY_GROUP)
    already = s.where(s.isin(ETHNIC_GROUPS))
    return mapped.fillna(already).fillna("not_known").astype("string")


def age_band(age_years: pd.Series) -> pd.Series:
    """Age band (0-4, 5-9, 10-15, 16-17) from age in whole years; other ages give <NA>."""
    bins = [0, 5, 10, 16, 18]
    return pd.cut(age_years, bins=bins, right=False, labels=list(AGE_BANDS)).astype("string")


def as_datetime(values: pd.Series) -> pd.Series:
    """``values`` as datetime64: returned as they are when they already are (without
    ``pd.to_datetime``'s cache probe, which turns the first 10,000 values into Python
    objects on every call), else parsed by ``pd.to_datetime``."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values)


def age_in_years(date_of_birth: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in completed years at ``on`` (vectorised; birthdays on 29 Feb count from 1 Mar)."""
    dob = as_datetime(date_of_birth)
    on = as_datetime(on) if isinstance(on, pd.Series) else pd.Timestamp(on)
    on_y = on.dt.year if isinstance(on, pd.Series) else on.year
    on_md = (
        (on.dt.month * 100 + on.dt.day) if isinstance(on, pd.Series) else on.month * 100 + on.day
    )
    had_birthday = on_md >= dob.dt.month * 100 + dob.dt.day
    return (on_y - dob.dt.year - (~had_birthday).astype(int)).astype("Int64")


def data_model_markdown() -> str:
    """docs/data-model.md, generated from the declarations above (a test keeps it in step)."""
    out = [
        "# Canonical data model",
        "",
        "Generated from `audit_lib/model.py` by `audit_lib.model.data_model_markdown()`; "
        "do not edit by hand.",
        "",
        "One CSV (or Parquet) file per table, named `<table>.csv`. Dates ISO (YYYY-MM-DD);",
        "booleans true/false (also yes/no, 1/0); ids are text. A missing *required* value,",
        "an unreadable value, or an unknown code in a *strict* column rejects the row; an",
        "unknown code elsewhere is a warning and the value is kept as written.",
        "",
    ]
    for t in TABLES.values():
        out += [
            f"## {t.name}" + (" (required)" if t.required else ""),
            "",
            f"Key: `{', '.join(t.key)}`. Source: {t.source}.",
        ]
        if t.description:
            out.append(t.description)
        if t.foreign_keys:
            fks = "; ".join(
                f"`{','.join(fk.columns)}` -> `{fk.ref_table}.{','.join(fk.ref_columns)}`"
                for fk in t.foreign_keys
            )
            out.append(f"References: {fks}.")
        if t.date_orders:
            rules = "; ".join(f"`{r.earlier}` <= `{r.later}` ({r.severity})" for r in t.date_orders)
            out.append(f"Date order: {rules}.")
        if t.event_dates:
            out.append(f"Not before date of birth: `{', '.join(t.event_dates)}` ({t.prebirth}).")
        out += ["", "| column | type | required | codes |", "|---|---|---|---|"]
        for c in t.columns:
            codes = ""
            if c.codes is not None:
                listed = sorted(c.codes)
                codes = ", ".join(listed[:30]) + (" ..." if len(listed) > 30 else "")
                codes += " (strict)" if c.strict else ""
            elif c.min is not None or c.max is not None:
                codes = f"{c.min}..{c.max if c.max is not None else ''}"
            out.append(
                f"| {c.name} | {c.kind} | {'yes' if c.required else ('outcome' if c.outcome else '')} | {codes} |"
            )
        out.append("")
    return "\n".join(out)
