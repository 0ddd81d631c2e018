"""What each measure needs from the data, and "not available" when it is absent.

Every measure declares the canonical tables it needs (``NEEDS``). Where one of them holds
no rows, where a table of repeating events holds a single date per child (a snapshot
such as Annex A's "date of last visit", not a history), or where the table's records
all start after the period, the measure is *not available*: it gets no value, no
worklist rows and a reason such as ``"not available: needs visits"``, on the page and
in metrics.json. A missing table is never a 0% (DESIGN.md "Each measure declares what
it needs").

A measure key is the metrics.json key without its window, e.g. ``timeliness.cla_visit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "DATE_COLUMN",
    "NEEDS",
    "Need",
    "availability",
    "not_available",
    "reason",
    "unavailable",
]


@dataclass(frozen=True)
class Need:
    """The tables a measure needs.

    ``history`` names tables of repeating events the measure needs as a history (more
    than one record for some child, or plan): a single date per child cannot say
    whether each review or visit was on time.
    """

    tables: tuple[str, ...]
    history: tuple[str, ...] = ()
    label: str = ""
    #: "table.column" the measure's completion date comes from: blank in every record
    #: (an export that leaves it out), every item would count as late
    filled: tuple[str, ...] = ()


#: The date that places a table's records in time (for the coverage check).
DATE_COLUMN: dict[str, str] = {
    "referrals": "referral_date",
    "assessments": "start_date",
    "s47_enquiries": "strategy_date",
    "cp_plans": "start_date",
    "cp_reviews": "review_date",
    "cin_plans": "start_date",
    "cla_episodes": "episode_start",
    "cla_reviews": "review_date",
    "permanence_plans": "decision_date",
    "adoptions": "decision_date",
    "visits": "visit_date",
    "case_audits": "audit_date",
}

#: Repeating events: the columns that say whose history a row belongs to.
_HISTORY_KEY: dict[str, tuple[str, ...]] = {
    "cp_reviews": ("cp_plan_id",),
    "cla_reviews": ("child_id",),
    "visits": ("child_id", "visit_type"),
    "cla_episodes": ("child_id",),
}

NEEDS: dict[str, Need] = {
    # timeliness (measures/timeliness.py)
    "timeliness.assessment_45wd": Need(
        ("assessments",), (), "Assessments within 45 days", ("assessments.authorised_date",)
    ),
    "timeliness.icpc_15wd": Need(
        ("s47_enquiries",), (), "ICPCs within 15 working days", ("s47_enquiries.icpc_date",)
    ),
    "timeliness.cp_review": Need(("cp_plans", "cp_reviews"), ("cp_reviews",), "CP reviews"),
    "timeliness.cla_review": Need(
        ("cla_episodes", "cla_reviews"), ("cla_reviews",), "Looked-after reviews"
    ),
    "timeliness.cla_visit": Need(("cla_episodes", "visits"), ("visits",), "Looked-after visits"),
    "timeliness.cp_visit": Need(("cp_plans", "visits"), ("visits",), "CP visits"),
    # disproportionality stages (measures/disproportionality.py STAGES)
    "disproportionality.referral": Need(("referrals", "population"), label="Referral"),
    "disproportionality.assessment": Need(("assessments", "population"), label="Assessment"),
    "disproportionality.s47": Need(("s47_enquiries", "population"), label="S47 enquiry"),
    "disproportionality.icpc": Need(
        ("s47_enquiries", "population"), (), "ICPC", ("s47_enquiries.icpc_date",)
    ),
    "disproportionality.cp_plan": Need(("cp_plans", "population"), label="CP plan"),
    "disproportionality.cla_start": Need(
        ("cla_episodes", "population"), label="Started to be looked after"
    ),
    # permanence drift flags (measures/permanence.py DRIFT_FLAGS)
    "permanence.no_plan_by_second_review": Need(
        ("cla_episodes", "cla_reviews", "permanence_plans"),
        ("cla_reviews",),
        "No permanence plan by the second review",
    ),
    "permanence.plan_changed_twice": Need(
        ("cla_episodes", "permanence_plans"), label="Plan changed twice or more"
    ),
    "permanence.in_care_12m_no_permanence": Need(("cla_episodes",), label="12 months in care"),
    "permanence.in_care_18m_no_permanence": Need(("cla_episodes",), label="18 months in care"),
    "permanence.in_care_24m_no_permanence": Need(("cla_episodes",), label="24 months in care"),
    "permanence.ltf_not_matched_6m": Need(
        ("cla_episodes", "permanence_plans"), label="Long-term fostering not matched in 6 months"
    ),
    "permanence.adoption_no_match_121d": Need(
        ("cla_episodes", "adoptions"), label="Adoption not matched in 121 days"
    ),
    # permanence measures built on care histories (measures/permanence.py)
    "permanence.time_to_permanence": Need(
        ("cla_episodes",), ("cla_episodes",), "Time to permanence and routes out of care"
    ),
    "permanence.placement_stability": Need(
        ("cla_episodes",), ("cla_episodes",), "Placement stability"
    ),
}


#: rows looked at first when telling a history from a snapshot (a shortcut only)
_SNAPSHOT_PROBE = 10_000


def _is_snapshot(frame: pd.DataFrame, keys: tuple[str, ...]) -> bool:
    """True when no child (or plan) has more than one record: a snapshot, not a history.
    For care episodes this is Annex A's one row per child; a 903 return records a new
    episode at every placement change, so its children's histories repeat."""
    keys = tuple(k for k in keys if k in frame.columns)
    if frame.empty or not keys:
        return False
    # a history repeats within its first rows as a rule: look there before the whole table
    if len(frame) > _SNAPSHOT_PROBE and frame.head(_SNAPSHOT_PROBE).duplicated(list(keys)).any():
        return False
    return not frame.duplicated(list(keys)).any()


def _never_filled(tables: dict[str, pd.DataFrame], column: str) -> bool:
    """True when ``column`` ("table.column") holds no value in any record of its table."""
    table, col = column.split(".")
    frame = tables[table]
    return col not in frame or not frame[col].notna().any()


def reason(
    tables: dict[str, pd.DataFrame], need: Need, as_of: pd.Timestamp | None = None
) -> str | None:
    """Why a measure with ``need`` cannot be produced from ``tables``, or None if it can.

    Not available when a needed table is absent or has no rows; when a column named in
    ``need.filled`` is blank in every record; when a table of repeating events named in
    ``need.history`` holds one record per child (or plan); or when every record of a
    needed table is dated after ``as_of`` (the period end).
    """
    empty = [t for t in need.tables if t not in tables or len(tables[t]) == 0]
    if empty:
        return f"not available: needs {', '.join(empty)}"
    blank = [c for c in need.filled if _never_filled(tables, c)]
    if blank:
        return f"not available: {', '.join(blank)} is blank in every record"
    snap = [t for t in need.history if _is_snapshot(tables[t], _HISTORY_KEY.get(t, ()))]
    if snap:
        return (
            f"not available: needs a history of {', '.join(snap)} "
            "(no child or plan has more than one record: a snapshot, such as Annex A's "
            "latest review or visit, cannot be told from a history)"
        )
    if as_of is not None:
        for t in need.tables:
            col = DATE_COLUMN.get(t)
            if col is None or col not in tables[t]:
                continue
            first = tables[t][col].min()
            if pd.notna(first) and first > as_of:
                return (
                    f"not available: {t} starts on {first:%d %B %Y}, after the period ends "
                    f"({as_of:%d %B %Y})"
                )
    return None


def unavailable(
    tables: dict[str, pd.DataFrame], keys, as_of: pd.Timestamp | None = None
) -> dict[str, str]:
    """The measures among ``keys`` that are not available, with the reason for each."""
    out = {}
    for key in keys:
        why = reason(tables, NEEDS[key], as_of)
        if why is not None:
            out[key] = why
    return out


def availability(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp | None = None, prefix: str = ""
) -> pd.DataFrame:
    """One row per declared measure (optionally those whose key starts with ``prefix``):
    key, measure label, tables needed, available (bool) and reason ("" when available)."""
    rows = []
    for key, need in NEEDS.items():
        if not key.startswith(prefix):
            continue
        why = reason(tables, need, as_of)
        rows.append(
            {
                "key": key,
                "measure": need.label or key,
                "needs": ", ".join(need.tables),
                "available": why is None,
                "reason": why or "",
            }
        )
    return pd.DataFrame(rows, columns=["key", "measure", "needs", "available", "reason"])


def not_available(why: str) -> dict:
    """A metrics.json entry for a measure that is not available: no value, the reason."""
    return {"value": None, "estimable": False, "status": "not_available", "reason": why}
