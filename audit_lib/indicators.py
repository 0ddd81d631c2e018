"""Headline indicators: which recorded metrics the summary page and indexes show.

Each indicator names a metric key (without its window), its good direction and a
default target. Targets are local choices (the summary notebook's ``targets``
parameter overrides each); the defaults here are round local defaults, never published
figures. Published figures (England, region, statistical neighbours) are comparators,
shown beside the target by :func:`comparator_columns` from :mod:`audit_lib.comparators`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .report import fmt_pct

__all__ = [
    "INDICATORS",
    "LOOKED_AFTER",
    "Indicator",
    "beside_published",
    "comparator_columns",
    "comparison_sentence",
    "looked_after_comparison",
    "looked_after_findings",
    "indicator_table",
    "signal_words",
    "status_of",
    "target_of",
]


@dataclass(frozen=True)
class Indicator:
    key: str  # metric key without the window
    label: str
    direction: str = "higher"  # which way is good
    target: float | None = None
    source: str = ""


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "timeliness.assessment_45wd",
        "Assessments within 45 working days",
        "higher",
        0.85,
        "local target (default)",
    ),
    Indicator(
        "timeliness.icpc_15wd",
        "ICPCs within 15 working days",
        "higher",
        0.80,
        "local target (default)",
    ),
    Indicator("timeliness.cp_review", "CP reviews on time", "higher", 0.95, "local target"),
    Indicator(
        "timeliness.cla_review", "Looked-after reviews on time", "higher", 0.95, "local target"
    ),
    Indicator(
        "timeliness.cla_visit", "Looked-after visits on time", "higher", 0.90, "local target"
    ),
    Indicator("timeliness.cp_visit", "CP visits on time", "higher", 0.90, "local target"),
    Indicator(
        "plan_quality.good_or_better",
        "Audits graded good or better",
        "higher",
        0.80,
        "local target",
    ),
    Indicator("permanence.within_12m", "Permanence within 12 months of entering care", "higher"),
    Indicator(
        "permanence.plan_by_second_review",
        "Permanence plan by the second review",
        "higher",
        0.90,
        "local target",
    ),
)


def target_of(key: str, targets: dict[str, float] | None = None) -> float | None:
    """The target of indicator ``key`` (a local override from ``targets``, else the
    default in ``INDICATORS``), or None when it has none: SPC charts draw it."""
    if targets and key in targets:
        return targets[key]
    return next((i.target for i in INDICATORS if i.key == key), None)


#: Status words; the colour in the page is a second cue, never the only one.
STATUS_WORDS = {
    "concern": "Concern",
    "improving": "Improving",
    "below_target": "Below target",
    "meeting_target": "Meeting target",
    "stable": "Stable",
    "small_numbers": "Too few to judge",
    "no_items": "No items to judge",
    "not_available": "Not available",
}


def status_of(value: float | None, signal: str | None, target: float | None, direction: str) -> str:
    """Status of an indicator: the latest month's SPC point first, then the target,
    else stable. ``signal`` must be the latest point's (an older signal is shown as
    "Improved in Sep 2024" by ``signal_words``, never as the status)."""
    if signal == "concern":
        return "concern"
    if signal == "improvement":
        return "improving"
    if target is not None and value is not None and not pd.isna(value):
        good = value >= target if direction == "higher" else value <= target
        return "meeting_target" if good else "below_target"
    return "stable"


def signal_words(entry: dict) -> str:
    """The SPC column of the summary for a month's metrics entry: the latest point's
    signal; where that is common cause but an earlier month signalled, "Improved in
    Sep 2024" / "Deteriorated in ..."; "Too few points for SPC" under 12 months."""
    from .report import month_label

    signal = entry.get("spc_signal")
    if signal is None:
        return "Not charted"
    if entry.get("spc_too_few"):
        return "Too few points for SPC"
    if signal in ("improvement", "concern"):
        return {"improvement": "Improvement", "concern": "Concern"}[signal]
    older, when = entry.get("spc_last_signal"), entry.get("spc_last_signal_month")
    if older in ("improvement", "concern") and when:
        word = "Improved" if older == "improvement" else "Deteriorated"
        return f"No special cause (latest month); {word} in {month_label(when)[:3]} {when[:4]}"
    return "No special cause"


def entry_hidden(entry: dict | None, suppress_max: int) -> bool:
    """True where a recorded share must not be shown (disclosure.hide_rate)."""
    from .disclosure import hide_rate

    if not entry or "numerator" not in entry or "denominator" not in entry:
        return False
    return bool(hide_rate([entry["numerator"]], [entry["denominator"]], suppress_max)[0])


def indicator_table(
    metrics: dict[str, dict], targets: dict[str, float] | None = None, suppress_max: int = 5
) -> pd.DataFrame:
    """One row per indicator present in ``metrics`` (a metrics.json "metrics" mapping).

    Columns: key, indicator, this month, 12-month value, 12-month mean of monthly values,
    SPC signal, target, direction, status (a key of STATUS_WORDS) and status word, and
    the flags hiding shares (``hide_mean``: the mean with the month, or where a month it
    rests on has a count 1..``suppress_max``, ``mean_12m_min_count``).
    """
    from .disclosure import is_suppressed

    targets = targets or {}
    rows = []
    for ind in INDICATORS:
        month = metrics.get(f"{ind.key}.month")
        r12 = metrics.get(f"{ind.key}.rolling_12m")
        if month is None and r12 is None:
            continue
        target = targets.get(ind.key, ind.target)
        why = _not_available(month, r12)
        if why:
            rows.append(
                {
                    "key": ind.key,
                    "Indicator": ind.label,
                    "This month": None,
                    "Last 12 months": None,
                    "12-month mean of months": None,
                    "SPC signal": "Not charted",
                    "Target": target,
                    "Better when": "higher" if ind.direction == "higher" else "lower",
                    "status": "not_available",
                    "Status": why[0].upper() + why[1:],
                }
            )
            continue
        signal = (month or {}).get("spc_signal")
        hide_month, hide_12m = entry_hidden(month, suppress_max), entry_hidden(r12, suppress_max)
        # a mean of months, one of them hidden, gives it back beside the others' shares
        few = is_suppressed([(month or {}).get("mean_12m_min_count")], suppress_max)[0]
        hide_mean = hide_month or bool(few)
        # a hidden share is not judged against the target either: "below target" beside a
        # hidden 64 of 68 would say 4 or 5 were late
        pairs = ((month, hide_month), (r12, hide_12m))
        shown = [e["value"] for e, hide in pairs if e and not hide and e.get("value") is not None]
        value = shown[0] if shown else None
        status = status_of(value, signal, target, ind.direction)
        if status == "stable" and not shown:
            # not "Stable": no shown share to judge (hidden, or no items in either window)
            status = "small_numbers" if hide_month or hide_12m else "no_items"
        rows.append(
            {
                "key": ind.key,
                "Indicator": ind.label,
                "This month": (month or {}).get("value"),
                "Last 12 months": (r12 or {}).get("value"),
                "12-month mean of months": (month or {}).get("mean_12m"),
                "SPC signal": signal_words(month or {}),
                "Target": target,
                "Better when": "higher" if ind.direction == "higher" else "lower",
                "status": status,
                "Status": STATUS_WORDS[status],
                # shares whose numerator, complement or denominator is small show as "c"
                "hide_month": hide_month,
                "hide_12m": hide_12m,
                "hide_mean": hide_mean,
            }
        )
    columns = [
        "key",
        "Indicator",
        "This month",
        "Last 12 months",
        "12-month mean of months",
        "SPC signal",
        "Target",
        "Better when",
        "status",
        "Status",
        "hide_month",
        "hide_12m",
        "hide_mean",
    ]
    return pd.DataFrame(rows, columns=columns)


def _with_year(value, year, unit: str = "share") -> str:
    from .comparators import fmt_value

    return (
        "not published" if value is None or pd.isna(value) else f"{fmt_value(value, unit)} ({year})"
    )


def _published_cells(c: pd.Series | None) -> tuple[str, str, str]:
    """The "England", "Region" and "Neighbours (mean, range)" cells of one
    :func:`comparators.comparator_table` row (None: nothing published)."""
    from .comparators import fmt_value

    if c is None:
        return "not published", "not published", "not published"
    unit = c.get("unit") if isinstance(c.get("unit"), str) else "share"
    eng = _with_year(c["england"], c["england_year"], unit)
    reg = "not set" if not c["la_code"] else _with_year(c["region"], c["region_year"], unit)
    if not c["neighbours_asked"]:
        nbr = "not set"
    elif not c["neighbours_n"]:
        nbr = "not published"
    elif c["neighbours_n"] == 1:  # one value: no mean, no range
        nbr = (
            f"{fmt_value(c['neighbours_mean'], unit)} (one neighbour; published for "
            f"1/{c['neighbours_asked']}; {c['neighbours_year']})"
        )
    else:
        nbr = (
            f"{fmt_value(c['neighbours_mean'], unit)} ({fmt_value(c['neighbours_min'], unit)} to "
            f"{fmt_value(c['neighbours_max'], unit)}; published for "
            f"{c['neighbours_n']}/{c['neighbours_asked']}; {c['neighbours_year']})"
        )
    return eng, reg, nbr


def _own_row(own: pd.DataFrame | None, measure: str, year) -> pd.Series | None:
    """The borough's same-year row for a measure, or None."""
    if own is None or own.empty:
        return None
    hit = own[(own["measure"] == measure) & (own["year"] == year)]
    return None if hit.empty else hit.iloc[0]


def comparator_columns(
    table: pd.DataFrame,
    comparators: pd.DataFrame | None,
    own_year: pd.DataFrame | None = None,
    suppress_max: int = 5,
) -> pd.DataFrame:
    """The indicator table with the published comparators beside each indicator:
    "England", "Region" and "Neighbours (mean, range)", each with its reporting year
    (years ending 31 March), and "Borough, same year (DfE definition)": the borough's
    own figure for England's year, counted by completion as the DfE counts it, and
    beside it the authority's own published figure where ``la_code`` found its row.

    ``comparators`` is :func:`comparators.comparator_table`'s output; ``own_year`` is
    :func:`reconcile.dfe_definition_figures`' (measure, numerator, denominator, year),
    its share hidden ("c") where a count is 1..``suppress_max``. Where nothing is
    published the cell says so; where no region or neighbours were asked for, "not set".
    """
    from .disclosure import fmt_share

    out = table.copy()
    comp = (
        comparators.set_index("indicator")
        if comparators is not None and len(comparators)
        else pd.DataFrame()
    )
    eng, reg, nbr, mine = [], [], [], []
    for key in out["key"]:
        if key not in comp.index:
            for col, cell in zip((eng, reg, nbr), _published_cells(None), strict=True):
                col.append(cell)
            mine.append("no comparator")
            continue
        c = comp.loc[key]
        for col, cell in zip((eng, reg, nbr), _published_cells(c), strict=True):
            col.append(cell)
        o = _own_row(own_year, key.split(".", 1)[1], c["england_year"])
        if o is not None:
            mine.append(
                f"{fmt_share(o['numerator'], o['denominator'], suppress_max, 1)} ({o['year']})"
            )
        else:
            mine.append("data do not cover that year")
        if not pd.isna(c["la"]):  # the authority's own row in the DfE table, to reconcile
            mine[-1] += f"; DfE published {_with_year(c['la'], c['la_year'])}"
    out["England"] = eng
    out["Region"] = reg
    out["Neighbours (mean, range)"] = nbr
    out["Borough, same year (DfE definition)"] = mine
    return out


#: Looked-after indicators published by the DfE (key, label, how the borough's figure
#: is defined beside it); the borough's figure is on 31 March of England's year.
LOOKED_AFTER: tuple[tuple[str, str, str], ...] = (
    (
        "permanence.three_plus_placements",
        "3 or more placements in the year",
        "as the DfE counts it: every placement open in the year; short breaks (V3, V4) left out",
    ),
    (
        "permanence.long_term_stability",
        "Long-term stability",
        "as the DfE counts it (an adoption by the foster carers counts from the earlier placement); short breaks left out",
    ),
    (
        "permanence.three_plus_placements_2y",
        "3 or more placements in 2 years",
        "not computed by this tool: England shown for context",
    ),
    (
        "permanence.adoption_average_age_months",
        "Average age at adoption order",
        "same definition: adoption orders made in the year, age on the order date",
    ),
    (
        "permanence.cla_rate_per_10000",
        "Children in care per 10,000",
        "on 31 March, short breaks left out; over the population table's mid-year, where the DfE uses the ONS estimate",
    ),
)


def looked_after_comparison(
    comparators: pd.DataFrame | None,
    own_year: pd.DataFrame | None = None,
    suppress_max: int = 5,
    notes: bool = True,
) -> pd.DataFrame:
    """The summary's table of :func:`_looked_after_rows`: one row per indicator of
    :data:`LOOKED_AFTER`, without Definition and Source unless ``notes``."""
    out = _looked_after_rows(comparators, own_year, suppress_max).drop(columns="key")
    return out if notes else out.drop(columns=["Definition", "Source"])


def _looked_after_rows(
    comparators: pd.DataFrame | None,
    own_year: pd.DataFrame | None = None,
    suppress_max: int = 5,
) -> pd.DataFrame:
    """Looked-after indicators (:data:`LOOKED_AFTER`): the borough on 31 March of
    England's latest published year, by the DfE's definition, beside England, region and
    neighbours with their years and source (DfE, years ending 31 March).

    The borough's share is hidden ("c") where a count is 1..``suppress_max``; its rate
    or average where the number of children is. Columns: key, Indicator, Borough, same
    year (DfE definition), England, Region, Neighbours (mean, range), Definition and
    Source (the publication and year).
    """
    from .comparators import fmt_value
    from .disclosure import SUPPRESSED, fmt_share, is_suppressed

    comp = (
        comparators.set_index("indicator")
        if comparators is not None and len(comparators)
        else pd.DataFrame()
    )
    rows = []
    have = [k for k, _, _ in LOOKED_AFTER if k in comp.index and pd.notna(comp.loc[k, "england"])]
    latest = max((comp.loc[k, "england_year"] for k in have), default=None)
    for key, label, definition in LOOKED_AFTER:
        c = comp.loc[key] if key in have else None
        eng, reg, nbr = _published_cells(c)
        year = latest if c is None else c["england_year"]
        o = _own_row(own_year, key.split(".", 1)[1], year)
        if key.endswith("_2y"):
            mine = "not computed"
        elif o is None:
            mine = "data do not cover that year"
        elif o["unit"] in ("per 10,000", "months"):  # a rate or an average of counted children
            hidden = is_suppressed([o["numerator"]], suppress_max)[0]
            mine = SUPPRESSED if hidden else f"{fmt_value(o['value'], o['unit'])} ({o['year']})"
        else:
            mine = f"{fmt_share(o['numerator'], o['denominator'], suppress_max, 1)} ({o['year']})"
        rows.append(
            {
                "key": key,
                "Indicator": label,
                "Borough, same year (DfE definition)": mine,
                "England": eng,
                "Region": reg,
                "Neighbours (mean, range)": nbr,
                "Definition": definition,
                "Source": "no citable England figure found"
                if c is None
                else f"{c['england_publication']} ({c['england_year']})",
            }
        )
    return pd.DataFrame(rows)


def looked_after_findings(comparison: pd.DataFrame) -> list[str]:
    """One plain-English line from :func:`looked_after_comparison`: each indicator whose
    borough figure and England figure are both shown, as "label: borough (England
    value)"; nothing when there is no such pair (no recomputation)."""
    if comparison is None or comparison.empty:
        return []
    col = "Borough, same year (DfE definition)"
    shown = comparison[
        comparison[col].str.match(r"\d")  # a figure, not "c" or a reason
        & comparison[col].str.contains(r"\(\d{4}-\d{2}\)", regex=True)
        & comparison["England"].str.contains(r"\(\d{4}-\d{2}\)", regex=True)
    ]
    if shown.empty:
        return []
    year = shown["England"].iloc[0].rsplit("(", 1)[1].rstrip(")")
    parts = [
        f"{r.Indicator[0].lower() + r.Indicator[1:]} {r[col].rsplit(' (', 1)[0]} "
        f"(England {r.England.rsplit(' (', 1)[0]})"
        for _, r in shown.iterrows()
    ]
    return [f"Children looked after, {year}, beside England: " + "; ".join(parts) + "."]


def comparison_sentence(
    comparators: pd.DataFrame | None,
    own_year: pd.DataFrame | None,
    key: str,
    suppress_max: int = 5,
) -> str:
    """One sentence for a page: a looked-after indicator of :data:`LOOKED_AFTER`, the
    borough's same-year figure beside England's, with year and publication (read from
    :func:`_looked_after_rows`; "not published" and reasons said as they are)."""
    rows = _looked_after_rows(comparators, own_year, suppress_max).set_index("key")
    r = rows.loc[key]
    return (
        f"Beside England, {r['Indicator'][0].lower() + r['Indicator'][1:]} (DfE definition): "
        f"the borough {r['Borough, same year (DfE definition)']}, England {r['England']}; "
        f"source: {r['Source']}."
    )


def beside_published(
    frame: pd.DataFrame,
    keys: list[str] | tuple[str, ...],
    comparators: pd.DataFrame | None,
    own_year: pd.DataFrame | None = None,
    suppress_max: int = 5,
) -> pd.DataFrame:
    """``frame`` (one row per indicator of ``keys``, in order) with the looked-after
    comparison columns of :func:`looked_after_comparison` beside each row: "Borough, same
    year (DfE definition)", "England", and "Region" / "Neighbours (mean, range)" only
    when the authority's code or its neighbours were given (else nothing to show)."""
    comp = _looked_after_rows(comparators, own_year, suppress_max).set_index("key")
    cols = ["Borough, same year (DfE definition)", "England"]
    if comparators is not None and len(comparators):
        if comparators["la_code"].astype(bool).any():
            cols.append("Region")
        if (comparators["neighbours_asked"] > 0).any():
            cols.append("Neighbours (mean, range)")
    extra = comp.reindex(list(keys))[cols].reset_index(drop=True)
    return pd.concat([frame.reset_index(drop=True), extra], axis=1)


def _not_available(*entries: dict | None) -> str:
    """The reason, when every given metrics entry says its measure is not available."""
    given = [e for e in entries if e is not None]
    if given and all(e.get("status") == "not_available" for e in given):
        return str(given[0].get("reason") or "not available")
    return ""


def headline_line(metrics: dict[str, dict], prefix: str, suppress_max: int = 5) -> list[str]:
    """Short 'label: 12-month value' lines for an index page (small shares left out)."""
    out = []
    for ind in INDICATORS:
        if not ind.key.startswith(prefix + "."):
            continue
        r12 = metrics.get(f"{ind.key}.rolling_12m")
        if r12 and r12.get("value") is not None and not entry_hidden(r12, suppress_max):
            out.append(f"{ind.label}: {fmt_pct(r12['value'])} (12 months)")
        elif r12 and r12.get("status") == "not_available":
            out.append(f"{ind.label}: {r12.get('reason') or 'not available'}")
    return out


STATUS_COLOURS = {  # Okabe-Ito edges; dark words on pale fills, so they print without fills
    "concern": "background-color:#fbe3d3; color:#7a3000; border:2px solid #D55E00",
    "below_target": "background-color:#fcf6c4; color:#4d4500; border:2px dashed #b8a800",
    "improving": "background-color:#dcf0fb; color:#00466e; border:2px solid #56B4E9",
    "meeting_target": "background-color:#d5efe6; color:#004d38; border:2px solid #009E73",
    "stable": "background-color:#f2f2f2; color:#1b1b1b; border:1px solid #999999",
    "small_numbers": "background-color:#ffffff; color:#555555; border:1px dotted #999999",
    "no_items": "background-color:#ffffff; color:#555555; border:1px dotted #999999",
    "not_available": "background-color:#ffffff; color:#555555; border:1px dotted #999999",
}


def styled_indicators(table: pd.DataFrame, uuid: str = "summary_indicators"):
    """The indicator table as a Styler: shares as percentages, status coloured and worded."""
    from .report import styled_table

    shown = table.drop(columns=["key"])
    sty = styled_table(
        shown.drop(columns=["status"]),
        uuid=uuid,
        percent=("This month", "Last 12 months", "12-month mean of months", "Target"),
        hidden_with={
            "This month": "hide_month",
            "12-month mean of months": "hide_mean",
            "Last 12 months": "hide_12m",
        },
        hide=("hide_month", "hide_12m", "hide_mean"),
    )
    colours = [
        f"{c}; font-weight:bold; print-color-adjust:exact; -webkit-print-color-adjust:exact"
        for c in table["status"].map(STATUS_COLOURS)
    ]
    return sty.apply(lambda _: colours, subset=["Status"], axis=0)


def findings(table: pd.DataFrame, period: str) -> list[str]:
    """Three to five plain-English findings from the indicator table (no recomputation)."""
    from .report import lower_first, month_label, plural

    if table.empty:
        return ["No audit recorded any headline figure for this period."]
    lines = []
    by = table.set_index("status")
    for status, phrase in (
        ("concern", ("shows", "show") + (" a real deterioration this month (SPC)",)),
        ("improving", ("shows", "show") + (" a real improvement this month (SPC)",)),
        ("below_target", ("is", "are") + (" below target",)),
    ):
        if status in by.index:
            names = by.loc[[status], "Indicator"].tolist()
            verb = phrase[0] if len(names) == 1 else phrase[1]
            lines.append(
                f"{plural(len(names), 'indicator')} {verb}{phrase[2]}: {', '.join(names)}."
            )
    meeting = table[table["status"] == "meeting_target"]["Indicator"].tolist()
    if meeting:
        lines.append(f"Meeting target in {month_label(period)}: {', '.join(meeting)}.")
    absent = table[table["status"] == "not_available"]
    if len(absent):
        lines.append(
            "Not available for this data: "
            + "; ".join(f"{r.Indicator} ({lower_first(r.Status)})" for r in absent.itertuples())
            + "."
        )
    worst = table.dropna(subset=["Target", "Last 12 months"])
    if "hide_12m" in worst:
        worst = worst[~worst["hide_12m"].astype(bool)]
    if len(worst):
        gap = (worst["Last 12 months"] - worst["Target"]).where(
            worst["Better when"] == "higher", worst["Target"] - worst["Last 12 months"]
        )
        w = worst.loc[gap.idxmin()]
        if gap.min() < 0:
            lines.append(
                f"Furthest from target over 12 months: {w['Indicator']} at "
                f"{fmt_pct(w['Last 12 months'])} against {fmt_pct(w['Target'])}."
            )
    return lines[:5]
