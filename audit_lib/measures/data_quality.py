"""Data quality of the run's data, from ``load_tables``'s report and the kept tables.

The inspection that started this project found performance data that "cannot be wholly
relied on"; these functions say, per table, what was read, kept and rejected and why,
which codes were not recognised, how often ethnicity is not known at each stage, which
dates are impossible, and which fields were filled in less often this month than last.
"""

from __future__ import annotations

import pandas as pd

from ..load import DataQualityReport
from ..model import ETHNICITY, TABLES
from ..stats import wilson

__all__ = [
    "completeness_change",
    "date_anomalies",
    "ethnicity_not_known",
    "measure_availability",
    "rejection_reasons",
    "table_counts",
    "unknown_codes",
]

DATE_CHECKS = (
    "unreadable date",
    "end before start",
    "date after extract",
    "before birth",
    "dd/mm/YYYY date",
)

#: Each stage's table and the date that places a row in a month.
STAGE_DATES = {
    "referral": ("referrals", "referral_date"),
    "assessment": ("assessments", "start_date"),
    "s47": ("s47_enquiries", "strategy_date"),
    "cp_plan": ("cp_plans", "start_date"),
    "cla_start": ("cla_episodes", "episode_start"),
}


#: How the ethnicity-not-known table is suppressed (page table and headline alike):
#: count columns, rates (share, bounds) against numerator and denominator, relations.
ETHNICITY_COUNTS = ("children", "refused", "not_obtained", "missing_or_invalid", "not_known")
ETHNICITY_RATES = (
    {"share": "not_known", "lower": "not_known", "upper": "not_known"},
    {"share": "children", "lower": "children", "upper": "children"},
)
ETHNICITY_RELATIONS = (("sum", "not_known", ["refused", "not_obtained", "missing_or_invalid"]),)
#: a stage's children are its groups' children (shown on the disproportionality page)
#: plus those not known: where the not-known count is hidden, so is the stage total
ETHNICITY_HIDDEN_WITH = {"children": "not_known"}
#: What the rows table publishes: read = kept + rejected in each row, and each column's
#: total (the headline gives the rows read and rejected, and so the rows kept).
COUNT_RELATIONS = (
    ("sum", "rows_read", ["rows_kept", "rows_rejected"]),
    ("column", "rows_read"),
    ("column", "rows_kept"),
    ("column", "rows_rejected"),
)


def table_counts(report: DataQualityReport) -> pd.DataFrame:
    """Rows read, kept and rejected per table, with its status and the share rejected."""
    s = report.summary.copy()
    s["share_rejected"] = (s["rows_rejected"] / s["rows_read"]).where(s["rows_read"] > 0)
    return s


def rejection_reasons(report: DataQualityReport, top: int = 10) -> pd.DataFrame:
    """The most frequent reasons rows were rejected: table, reason, rows."""
    frames = []
    for table, rej in report.rejected.items():
        reasons = rej["reason"].astype(str).str.split("; ").explode()
        frames.append(
            reasons.value_counts()
            .rename_axis("reason")
            .reset_index(name="rows")
            .assign(table=table)
        )
    if not frames:
        return pd.DataFrame(columns=["table", "reason", "rows"])
    out = pd.concat(frames, ignore_index=True)[["table", "reason", "rows"]]
    return out.sort_values("rows", ascending=False, kind="stable").head(top).reset_index(drop=True)


def _checks(report: DataQualityReport, checks) -> pd.DataFrame:
    f = report.findings
    # examples can hold ids: they stay in `audit validate`, never in a manager's page
    return f[f["check"].isin(checks)][["table", "column", "check", "severity", "rows", "message"]]


def unknown_codes(report: DataQualityReport) -> pd.DataFrame:
    """Columns with codes not in the DfE or canonical lists, with the rows affected."""
    return _checks(report, ("unknown code",)).reset_index(drop=True)


def date_anomalies(report: DataQualityReport) -> pd.DataFrame:
    """Impossible or doubtful dates: unreadable, end before start, after the extract,
    before birth, written dd/mm/YYYY."""
    return _checks(report, DATE_CHECKS).reset_index(drop=True)


def ethnicity_not_known(tables: dict[str, pd.DataFrame], period: str) -> pd.DataFrame:
    """Share of children at each stage in the 12 months to ``period`` whose ethnicity is
    not known: refused (REFU), not obtained (NOBT), blank or not a DfE code.

    Reported as data quality, never dropped (METRICS.md "Disproportionality").
    """
    end = pd.Period(period, freq="M")
    first, last = (end - 11).start_time, end.end_time.normalize()
    eth = tables["children"].set_index("child_id")["ethnicity"]
    rows = []
    for stage, (table, col) in STAGE_DATES.items():
        f = tables[table]
        if stage == "cla_start":
            f = f[f["reason_new_episode"] == "S"]
        kids = f.loc[f[col].between(first, last), "child_id"].drop_duplicates()
        codes = kids.map(eth)
        refused = codes.eq("REFU").sum()
        not_obtained = codes.eq("NOBT").sum()
        other = (~codes.isin(ETHNICITY) | codes.isna()).sum()
        n = len(kids)
        k = int(refused + not_obtained + other)
        lo, hi = wilson(k, n)
        rows.append(
            {
                "stage": stage,
                "children": n,
                "refused": int(refused),
                "not_obtained": int(not_obtained),
                "missing_or_invalid": int(other),
                "not_known": k,
                "share": k / n if n else None,
                "lower": float(lo),
                "upper": float(hi),
            }
        )
    return pd.DataFrame(rows)


def ethnicity_table(ethnicity: pd.DataFrame, uuid: str, suppress_max: int = 5):
    """The ethnicity-not-known table (:func:`ethnicity_not_known`) as the data-quality
    and disproportionality pages show it, suppressed as the headline is."""
    from ..report import styled_table

    return styled_table(
        ethnicity,
        uuid=uuid,
        counts=ETHNICITY_COUNTS,
        percent=("share", "lower", "upper"),
        suppress_max=suppress_max,
        shares=ETHNICITY_RATES[0],
        denominators=ETHNICITY_RATES[1],
        relations=ETHNICITY_RELATIONS,
        hidden_with=ETHNICITY_HIDDEN_WITH,
    )


def completeness_change(
    tables: dict[str, pd.DataFrame],
    period: str,
    min_rows: int = 20,
    threshold: float = 0.05,
    lag_months: int = 3,
) -> pd.DataFrame:
    """Optional fields filled in less often than a month earlier, comparing only records
    old enough to be complete.

    A record's month is that of its table's first event date. Work still in progress is
    rightly blank (an assessment is authorised only when it ends), so this compares the
    records of the month ``lag_months`` before ``period`` (3: past every statutory
    timescale of the CIN census) with those of the month before that. Outcome fields
    (``Column.outcome``: end dates, authorisations, moderation) are left out: they are
    blank until something happens, which the timeliness and permanence reports measure.
    A fall of more than ``threshold`` (5 points) is reported. Tables with fewer than
    ``min_rows`` records in either month are left out.

    Returns columns ``table, field, earlier_month, compared_month, earlier_share,
    compared_share, change`` (shares 0-1), largest fall first.
    """
    compared = pd.Period(period, freq="M") - lag_months
    earlier = compared - 1
    cols = [
        "table",
        "field",
        "earlier_month",
        "compared_month",
        "earlier_share",
        "compared_share",
        "change",
    ]
    rows = []
    for name, table in TABLES.items():
        if not table.event_dates or name not in tables:
            continue
        f = tables[name]
        month = f[table.event_dates[0]].dt.to_period("M")
        cur, prev = f[month == compared], f[month == earlier]
        if len(cur) < min_rows or len(prev) < min_rows:
            continue
        for col in table.columns:
            if col.required or col.outcome:
                continue
            now, before = cur[col.name].notna().mean(), prev[col.name].notna().mean()
            rows.append(
                {
                    "table": name,
                    "field": col.name,
                    "earlier_month": earlier.strftime("%B %Y"),
                    "compared_month": compared.strftime("%B %Y"),
                    "earlier_share": before,
                    "compared_share": now,
                    "change": now - before,
                }
            )
    out = pd.DataFrame(rows, columns=cols)
    return out[out["change"] < -threshold].sort_values("change").reset_index(drop=True)


def measure_availability(tables: dict[str, pd.DataFrame], period: str) -> pd.DataFrame:
    """Which measures this data can support at the period end, and why not where not.

    One row per measure declared in ``audit_lib.needs`` (timescales, disproportionality
    stages, permanence drift flags): Audit, Measure, Needs (tables) and Status
    ("Available" or "Not available: needs visits", ...)."""
    from ..needs import availability
    from .timeliness import period_bounds

    _, as_of = period_bounds(period)
    a = availability(tables, as_of)
    audits = {"timeliness": "Timeliness", "disproportionality": "Disproportionality"}
    return pd.DataFrame(
        {
            "Audit": a["key"].str.split(".").str[0].map(lambda k: audits.get(k, "Permanence")),
            "Measure": a["measure"],
            "Needs": a["needs"],
            "Status": a["reason"]
            .where(~a["available"], "available")
            .map(lambda t: t[:1].upper() + t[1:]),
        }
    )


def findings(
    counts: pd.DataFrame,
    reasons: pd.DataFrame,
    unknown: pd.DataFrame,
    dates: pd.DataFrame,
    ethnicity: pd.DataFrame,
    falls: pd.DataFrame,
    period: str,
    suppress_max: int = 5,
    availability: pd.DataFrame | None = None,
) -> list[str]:
    """Three to five plain-English findings about the data. Counts 1..``suppress_max``,
    and those the ethnicity table suppresses, are shown as "c". With ``availability``
    (``measure_availability``), the measures this data cannot support are counted."""
    from ..disclosure import fmt_count, hide_rate, protect_table
    from ..report import fmt_pct, month_label, plural

    read, rejected = int(counts["rows_read"].sum()), int(counts["rows_rejected"].sum())
    share_text = (
        "c"
        if hide_rate([rejected], [read], suppress_max)[0]
        else fmt_pct(rejected / read if read else 0, 1)
    )
    lines = [
        f"{fmt_count(read, suppress_max)} rows were read from "
        f"{int((counts['status'] != 'missing').sum())} tables; "
        f"{fmt_count(rejected, suppress_max)} ({share_text}) were rejected, each with a reason."
    ]
    unusable = counts.loc[counts["status"] == "unusable", "table"].tolist()
    missing = counts.loc[counts["status"] == "missing", "table"].tolist()
    if unusable:
        lines.append(
            f"Unusable tables (audits that need them are not produced): {', '.join(unusable)}."
        )
    if missing:
        lines.append(f"Not supplied: {', '.join(missing)}.")
    if availability is not None:
        off = availability[availability["Status"] != "Available"]
        if len(off):
            lines.append(
                f"{len(off)} of the {len(availability)} measures are not available for this data "
                f"and are reported as such, never as 0%: {', '.join(off['Measure'])}."
            )
    if len(reasons):
        top = reasons.iloc[0]
        lines.append(f'The commonest reason for rejection was "{top["reason"]}" in {top["table"]}.')
    if len(unknown) or len(dates):
        lines.append(
            f"{fmt_count(int(unknown['rows'].sum()), suppress_max)} values had codes outside "
            f"the DfE lists and {fmt_count(int(dates['rows'].sum()), suppress_max)} dates were "
            "impossible or doubtful."
        )
    if "referral" in set(ethnicity["stage"]):
        # the same suppression as the table on the page, so the two never disagree
        hide = protect_table(
            ethnicity,
            ETHNICITY_COUNTS,
            suppress_max,
            *ETHNICITY_RATES,
            ETHNICITY_RELATIONS,
            ETHNICITY_HIDDEN_WITH,
        )
        i = int(ethnicity["stage"].eq("referral").to_numpy().argmax())
        r = ethnicity.iloc[i]
        if r["children"]:

            def cell(c: str) -> str:
                return "c" if hide.at[i, c] else f"{int(r[c]):,}"

            share = "c" if hide.at[i, "share"] else fmt_pct(r["share"], 1)
            lines.append(
                f"Ethnicity was not known for {share} of children referred in the "
                f"12 months to {month_label(period)} (refused {cell('refused')}, not obtained "
                f"{cell('not_obtained')})."
            )
    lines.append(
        f"{plural(len(falls), 'field was', 'fields were')} filled in less often in records "
        "old enough to be complete than a month earlier."
        if len(falls)
        else "No field was filled in less often in records old enough to be complete "
        "than a month earlier."
    )
    return lines


def metric_entries(counts: pd.DataFrame, ethnicity: pd.DataFrame) -> dict[str, dict]:
    """metrics.json entries ``data_quality.*`` (snapshots at the period end and 12 months)."""
    from ..metrics import share

    read, rejected = int(counts["rows_read"].sum()), int(counts["rows_rejected"].sum())
    out = {
        "data_quality.rows_read": {"value": read},
        "data_quality.rows_rejected": share(rejected, read),
        "data_quality.unusable_tables": {"value": int((counts["status"] == "unusable").sum())},
    }
    ref = ethnicity.set_index("stage")
    if "referral" in ref.index:
        r = ref.loc["referral"]
        out["data_quality.ethnicity_not_known.referral.rolling_12m"] = share(
            int(r["not_known"]), int(r["children"])
        )
    return out
