"""Comparators: England, region and statistical neighbours from the DfE's published
open-data CSVs (the Explore Education Statistics service).

The files are tidy: ``time_period``, ``time_identifier``, ``geographic_level``
(National / Regional / Local authority), area codes and names, then one column per
indicator. Suppression symbols (``c``, ``z``, ``x``, ``u``, ``:``, ``low``) are read as
"not published" (NaN with the symbol kept), never as zero. Columns are matched by
normalised name with aliases, so small renamings between years still read.

Two layouts are read. Wide tables (children in need C2, C4) have one column per
duration bin. Long tables (children looked after: placement stability, numbers and
rates per 10,000; rates per 10,000 by ethnicity) have filter columns (``cla_group``,
``placement_stability``, ``population_type``, ...) and one count column; an indicator
is a numerator row over a denominator row of the same area and year.

Published years end 31 March: ``time_period`` 2025 (or "202425") is the year
1 April 2024 to 31 March 2025. A comparator is published data; a target is a local
decision and lives in :mod:`audit_lib.indicators`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ENGLAND_FILE",
    "LONG_TABLES",
    "SUPPRESSION",
    "TABLES",
    "ComparatorError",
    "DfeFile",
    "add_files",
    "comparator_table",
    "england_defaults",
    "england_ethnicity_rates",
    "fmt_value",
    "indicator_values",
    "load_folder",
    "national",
    "read_dfe",
    "reference_of",
    "references",
    "with_england_rates",
    "year_window",
]

#: Symbols the DfE uses for figures not published (GSS guidance): c confidential,
#: z not applicable, x not available, u low reliability, ":" not available, low.
SUPPRESSION = frozenset({"c", "z", "x", "u", ":", "low", "k", ".."})

#: The committed England figures (publication, table and year for each).
ENGLAND_FILE = Path(__file__).parent / "data" / "england_comparators.csv"

_LEVELS = {
    "national": "National",
    "regional": "Regional",
    "local authority": "Local authority",
    "local_authority": "Local authority",
    "la": "Local authority",
}

#: Area columns: logical name -> accepted (normalised) column names.
_AREA = {
    "time_period": ("time_period", "year", "time"),
    "time_identifier": ("time_identifier",),
    "geographic_level": ("geographic_level", "geography_level", "level"),
    "country_code": ("country_code",),
    "region_code": ("region_code",),
    "region_name": ("region_name",),
    "old_la_code": ("old_la_code", "la_code_old", "la_code"),
    "new_la_code": ("new_la_code", "la_code_new", "lad_code"),
    "la_name": ("la_name", "local_authority", "la"),
}


@dataclass(frozen=True)
class Table:
    """A published table: the count columns its indicators need and how to combine them.

    ``within`` / ``beyond`` are groups of logical columns (each with its accepted
    names): the share is sum(within) / (sum(within) + sum(beyond)).
    """

    key: str
    title: str
    publication: str
    indicator: str
    label: str
    within: dict[str, tuple[str, ...]]
    beyond: dict[str, tuple[str, ...]]
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)


CIN = "Characteristics of children in need (Children in need)"

TABLES: dict[str, Table] = {
    "C2": Table(
        "C2",
        "Completed assessments by duration of assessment and local authority",
        CIN,
        "timeliness.assessment_45wd",
        "Assessments completed within 45 working days",
        within={
            "same_day": ("same_day", "started_and_finished_same_day", "0_days"),
            "d1_10": ("1_10_days", "1_to_10_days", "days_1_10"),
            "d11_20": ("11_20_days", "11_to_20_days", "days_11_20"),
            "d21_30": ("21_30_days", "21_to_30_days", "days_21_30"),
            "d31_40": ("31_40_days", "31_to_40_days", "days_31_40"),
            "d41_45": ("41_45_days", "41_to_45_days", "days_41_45"),
        },
        beyond={
            "d46_50": ("46_50_days", "46_to_50_days", "days_46_50"),
            "d51_60": ("51_60_days", "51_to_60_days", "days_51_60"),
            "d61": ("61_days", "61_plus_days", "61_days_or_more", "over_60_days"),
        },
        extra={
            "total": ("assessments_completed", "number_of_assessments", "assessments"),
            "median_days": ("median_days", "median"),
        },
    ),
    "C4": Table(
        "C4",
        "Section 47s and initial child protection conferences by local authority",
        CIN,
        "timeliness.icpc_15wd",
        "ICPCs within 15 working days of the strategy discussion",
        within={
            "d0_10": ("duration_0_10_days", "0_10_days", "duration_0_to_10_days"),
            "d11_15": ("duration_11_15_days", "11_15_days", "duration_11_to_15_days"),
        },
        beyond={
            "d16_20": ("duration_16_20_days", "16_20_days", "duration_16_to_20_days"),
            "d21": ("duration_21_days", "21_days", "duration_21_plus_days", "duration_over_20"),
        },
        extra={
            "icpc": ("icpc", "number_of_icpcs"),
            "median_days": ("duration_median", "median_days"),
        },
    ),
}


CLA = "Children looked after in England including adoptions"
STABILITY = "Stability measures for children looked after in England"


@dataclass(frozen=True)
class LongIndicator:
    """One indicator of a long table: the rows of group ``group`` (a value of the group
    filter) whose item is one of ``numerator``, over its ``denominator`` row; for a table
    without an item filter, the group's own row (its rate, or count over population).
    Accepted values are normalised (:func:`_norm`), so "CLA on 31 March" and
    "cla_on_31_march" both match."""

    key: str
    label: str
    group: tuple[str, ...]
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ("total_children", "total")
    unit: str = "share"  # "share" (0-1), "per 10,000" or "months" (an average)


@dataclass(frozen=True)
class LongTable:
    """A published long table: filter columns (``group``, optional ``item``), the count
    column and extra numeric columns (percentage, population, rate), each with its
    accepted names; recognised when the filters and the count column are all found."""

    key: str
    title: str
    publication: str
    group: tuple[str, ...]
    item: tuple[str, ...] | None
    count: tuple[str, ...]
    extra: dict[str, tuple[str, ...]]
    indicators: tuple[LongIndicator, ...]
    needs: tuple[str, ...] = ()  # extra columns the table is recognised by


_COUNT = ("number", "children_count", "child_count", "count")
_PERCENT = ("percentage", "children_percent", "percent", "percent_count")

LONG_TABLES: dict[str, LongTable] = {
    "CLA_STABILITY": LongTable(
        "CLA_STABILITY",
        "Placement stability by local authority (CLA - placement stability - by local authority)",
        f"{STABILITY}; {CLA}",
        group=("cla_group",),
        item=("placement_stability",),
        count=_COUNT,
        extra={"percentage": _PERCENT},
        indicators=(
            LongIndicator(
                "permanence.three_plus_placements",
                "Children looked after on 31 March with 3 or more placements during the year",
                ("cla_on_31_march", "children_looked_after_on_31_march"),
                (
                    "with_3_or_more_placements_during_the_year",
                    "3_or_more_placements_during_the_year",
                    "with_three_or_more_placements_during_the_year",
                ),
            ),
            LongIndicator(
                "permanence.three_plus_placements_2y",
                "Children looked after for 2 years on 31 March with 3 or more placements "
                "during the previous 2 years",
                ("cla_2_years_on_31_march",),
                (
                    "with_3_or_more_placements_during_the_previous_2_years",
                    "3_or_more_placements_during_the_previous_2_years",
                ),
            ),
            LongIndicator(
                "permanence.long_term_stability",
                "Under 16, looked after continuously for at least 2.5 years on 31 March: "
                "living with the same carer for at least 2 years",
                (
                    "children_looked_after_continuously_for_at_least_2_5_years_on_31_march_"
                    "aged_under_16_years",
                    "cla_for_at_least_2_5_years_on_31_march_aged_under_16_years",
                ),
                ("living_with_the_same_carer_for_at_least_2_years",),
            ),
        ),
    ),
    "CLA_RATES": LongTable(
        "CLA_RATES",
        "CLA numbers and rates per 10,000 children aged under 18 years - by local authority",
        CLA,
        group=("population_type", "cla_group"),
        item=None,
        count=("children_count", "number", "number_of_children_looked_after"),
        extra={
            "population": ("population_estimate", "population"),
            "rate": ("rate_per_10000", "rate_per_10_000", "rate"),
        },
        indicators=(
            LongIndicator(
                "permanence.cla_rate_per_10000",
                "Children looked after on 31 March per 10,000 children under 18",
                ("children_looked_after_on_31_march_each_year", "cla_on_31_march"),
                unit="per 10,000",
            ),
        ),
        needs=("rate",),
    ),
    "ETHNICITY_RATES": LongTable(
        "ETHNICITY_RATES",
        "Rates per 10,000 children by ethnicity at each stage",
        "Children in need; Children looked after in England including adoptions",
        group=("social_care_group", "stage", "population_type", "cla_group"),
        item=("ethnicity", "ethnicity_group", "ethnic_group", "ethnicity_minor", "breakdown"),
        count=_COUNT,
        extra={
            "rate": ("rate_per_10000", "rate_per_10_000", "rate"),
            "population": ("population_estimate", "population"),
        },
        indicators=(),
        needs=("rate",),
    ),
    "CLA_ADOPTED": LongTable(
        "CLA_ADOPTED",
        "CLA who were adopted or the subject of a SGO during the year - characteristics",
        CLA,
        group=("cla_group",),
        item=("breakdown",),
        count=_COUNT,
        extra={"percentage": _PERCENT, "characteristic": ("characteristic",)},
        indicators=(
            LongIndicator(
                "permanence.adoption_average_age_months",
                "Children adopted during the year: average age at the adoption order",
                ("adopted",),
                ("average_age_years_months", "average_age"),
                denominator=(),
                unit="months",
            ),
        ),
        needs=("characteristic",),
    ),
}


def _spec(key: str) -> Table | LongTable:
    return TABLES[key] if key in TABLES else LONG_TABLES[key]


class ComparatorError(ValueError):
    """A file that is not a DfE open-data table this library reads (one line)."""


@dataclass
class DfeFile:
    """One DfE open-data CSV read: its table, years, levels and tidy rows."""

    path: Path
    table: str
    years: list[str]
    levels: list[str]
    frame: pd.DataFrame  # area columns + logical count columns (NaN where not published)
    symbols: pd.DataFrame  # same shape: the suppression symbol where one stood, else ""
    rows_read: int
    rejected: list[dict]

    def manifest(self) -> dict:
        t = _spec(self.table)
        return {
            "file": self.path.name,
            "table": self.table,
            "title": t.title,
            "publication": t.publication,
            "years": self.years,
            "geographic_levels": self.levels,
            "rows_read": self.rows_read,
            "rows_kept": len(self.frame),
            "rows_rejected": len(self.rejected),
        }


def _norm(name: str) -> str:
    """Column name normalised: lower case, runs of other characters to one "_"."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _find(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def year_window(time_period: str | int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The year a published ``time_period`` covers: 2025 or "202425" -> 1 April 2024
    to 31 March 2025 (DfE reporting years end 31 March)."""
    text = str(time_period).strip()
    m = re.fullmatch(r"(\d{4})(\d{2})?", text)
    if not m:
        raise ComparatorError(f"time_period {text!r} is not a year (2025 or 202425)")
    end = int(m.group(1)) + 1 if m.group(2) else int(m.group(1))
    return pd.Timestamp(end - 1, 4, 1), pd.Timestamp(end, 3, 31)


def _year_label(time_period: str) -> str:
    start, end = year_window(time_period)
    return f"{start.year}-{str(end.year)[2:]}"


def read_dfe(path: str | Path) -> DfeFile:
    """Read one DfE open-data CSV, recognising its table by its column names.

    Raises ComparatorError (one line) for a file that is not one of ``TABLES``.
    Rows whose geographic level is not National / Regional / Local authority are
    rejected with the reason; every other row is kept (rows read = kept + rejected).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ComparatorError(f"{path.name}: the file is empty") from None
    except UnicodeDecodeError:
        raise ComparatorError(f"{path.name}: not UTF-8 text (is it a CSV?)") from None
    except (OSError, pd.errors.ParserError) as exc:
        raise ComparatorError(f"{path.name}: cannot read as CSV ({type(exc).__name__})") from None
    columns = {_norm(c): c for c in raw.columns}
    area = {k: _find(columns, v) for k, v in _AREA.items()}
    if area["time_period"] is None or area["geographic_level"] is None:
        raise ComparatorError(
            f"{path.name}: not a DfE open-data file (no time_period / geographic_level columns)"
        )
    table: Table | LongTable | None = None
    for t in TABLES.values():
        found = {k: _find(columns, v) for k, v in {**t.within, **t.beyond}.items()}
        if all(found.values()):
            table = t
            break
    filters: dict[str, str | None] = {}
    if table is None:
        for lt in sorted(LONG_TABLES.values(), key=lambda t: t.item is None):
            filters = {"group": _find(columns, lt.group)}
            if lt.item is not None:
                filters["item"] = _find(columns, lt.item)
            needed = [_find(columns, lt.extra[k]) for k in lt.needs]
            if not (all(filters.values()) and _find(columns, lt.count) and all(needed)):
                continue
            groups = {g for ind in lt.indicators for g in ind.group}
            if groups and not groups & set(raw[filters["group"]].map(_norm)):
                continue  # the same columns, other content (e.g. combined stability)
            table = lt
            break
    if table is None:
        known = ", ".join([*sorted(TABLES), *sorted(LONG_TABLES)])
        raise ComparatorError(
            f"{path.name}: columns match no table this library reads ({known}); "
            f"first columns: {', '.join(list(raw.columns)[:12])}"
        )
    if raw.empty:
        raise ComparatorError(f"{path.name}: a header but no rows: nothing to compare with")
    if isinstance(table, LongTable):
        logical = {"count": table.count, **table.extra}
    else:
        logical = {**table.within, **table.beyond, **table.extra}
    found = {k: _find(columns, v) for k, v in logical.items()}
    level = raw[area["geographic_level"]].str.strip().str.lower().map(_LEVELS)
    bad = level.isna()
    rejected = [
        {"row": int(i) + 2, "reason": f"geographic level {raw.at[i, area['geographic_level']]!r}"}
        for i in raw.index[bad]
    ]
    kept = raw[~bad]
    frame = pd.DataFrame(index=kept.index)
    for k, col in area.items():
        frame[k] = kept[col].str.strip() if col else ""
    frame["geographic_level"] = level[~bad]
    frame["time_period"] = frame["time_period"].astype(str)
    for k, col in filters.items():  # long tables: normalised filter values
        frame[k] = kept[col].map(_norm)
    symbols = pd.DataFrame(index=kept.index)
    for k, col in found.items():
        text = kept[col].str.strip() if col else pd.Series("z", index=kept.index)
        low = text.str.lower()
        symbol = low.where(low.isin(SUPPRESSION), "")
        frame[k] = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
        ym = text.str.extract(r"^(\d+):(\d{1,2})$").astype(float)  # averages as years:months
        frame[k] = frame[k].where(ym[0].isna(), ym[0] * 12 + ym[1])
        symbol = symbol.where(~(frame[k].isna() & (symbol == "")), text.where(text != "", "blank"))
        symbols[k] = symbol
    years = sorted(frame["time_period"].unique().tolist())
    for y in years:
        year_window(y)  # a bad year is a one-line error
    levels = [lv for lv in ("National", "Regional", "Local authority") if (level == lv).any()]
    return DfeFile(
        path,
        table.key,
        years,
        levels,
        frame.reset_index(drop=True),
        symbols.reset_index(drop=True),
        len(raw),
        rejected,
    )


_AREA_KEYS = [
    "time_period",
    "geographic_level",
    "country_code",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
]


def _tidy(
    fr: pd.DataFrame,
    indicator: str | pd.Series,
    numerator: pd.Series,
    denominator: pd.Series,
    value: pd.Series,
    status: pd.Series | np.ndarray,
    spec: Table | LongTable,
    unit: str = "share",
) -> pd.DataFrame:
    """The tidy indicator rows of :func:`indicator_values` from area rows and values."""
    code = fr["new_la_code"].where(fr["new_la_code"] != "", fr["region_code"])
    code = code.where(code != "", fr["country_code"])
    name = fr["la_name"].where(fr["la_name"] != "", fr["region_name"])
    name = name.where(name != "", "England")
    return pd.DataFrame(
        {
            "indicator": indicator,
            "time_period": fr["time_period"],
            "year": fr["time_period"].map(_year_label),
            "geographic_level": fr["geographic_level"],
            "code": code,
            "old_la_code": fr["old_la_code"],
            "region_code": fr["region_code"],
            "name": name,
            "numerator": numerator,
            "denominator": denominator,
            "value": value,
            "unit": unit,
            "status": status,
            "table": spec.key,
            "publication": spec.publication,
        }
    )


def _not_published(value: pd.Series, symbol: pd.Series, empty: str) -> np.ndarray:
    """ "published" where there is a value, else "not published (symbol)"."""
    return np.where(
        value.notna(), "published", "not published (" + symbol.fillna(empty).astype(str) + ")"
    )


def _long_values(f: DfeFile) -> pd.DataFrame:
    """Indicator rows of a long table: numerator row over denominator row per area and
    year (or the group's own rate); a row whose count is not published has no value."""
    t = LONG_TABLES[f.table]
    fr = f.frame.assign(
        _sym=f.symbols["count"].replace("", None),
        _rsym=f.symbols["rate"].replace("", None) if "rate" in f.symbols else None,
    )
    out = []
    for ind in t.indicators:
        g = fr[fr["group"].isin(ind.group)]
        if t.item is None:
            g = g.drop_duplicates(_AREA_KEYS)
            num, den = g["count"], g.get("population", np.nan)
            computed = num / den * 10_000 if ind.unit == "per 10,000" else num / den
            value = g["rate"].where(g["rate"].notna(), computed) if "rate" in g else computed
            sym = g["_rsym"].where(g["_rsym"].notna(), g["_sym"])
            status = _not_published(value, sym, "no children")
            out.append(_tidy(g, ind.key, num, den, value, status, t, ind.unit))
            continue
        num = g[g["item"].isin(ind.numerator)].drop_duplicates(_AREA_KEYS)
        if not ind.denominator:  # a published average: the row's own value
            status = _not_published(num["count"], num["_sym"], "no children")
            out.append(_tidy(num, ind.key, np.nan, np.nan, num["count"], status, t, ind.unit))
            continue
        den = g[g["item"].isin(ind.denominator)].drop_duplicates(_AREA_KEYS)
        m = den.merge(
            num[[*_AREA_KEYS, "count", "_sym"]], on=_AREA_KEYS, how="left", suffixes=("_d", "")
        )
        value = (m["count"] / m["count_d"]).where(m["count_d"] > 0)
        sym = m["_sym"].where(m["_sym"].notna(), m["_sym_d"])
        sym = sym.where(sym.notna() | m["count_d"].eq(0), "no row")
        status = _not_published(value, sym, "no children")
        out.append(_tidy(m, ind.key, m["count"], m["count_d"], value, status, t, ind.unit))
    return pd.concat(out, ignore_index=True)


def indicator_values(f: DfeFile) -> pd.DataFrame:
    """The table's indicators for every row: for wide tables a share sum(within) / all
    bins; for long tables a numerator row over its denominator row (or a published rate).

    Columns: indicator, time_period, year (e.g. "2024-25"), geographic_level, code
    (new LA code, else region code, else country code), old_la_code, name, numerator,
    denominator, value, unit ("share", "per 10,000" or "months"), status ("published" or
    "not published (c)"), table, publication. A row with any count not published has no
    value (never 0).
    """
    if f.table in LONG_TABLES:
        if not LONG_TABLES[f.table].indicators:  # read by its own function (rates by group)
            return _tidy(f.frame.iloc[0:0], "", np.nan, np.nan, np.nan, [], LONG_TABLES[f.table])
        return _long_values(f)
    t = TABLES[f.table]
    fr = f.frame
    within = fr[list(t.within)].sum(axis=1, min_count=len(t.within))
    beyond = fr[list(t.beyond)].sum(axis=1, min_count=len(t.beyond))
    denominator = within + beyond
    value = (within / denominator).where(denominator > 0)
    bins = list(t.within) + list(t.beyond)
    sym = f.symbols[bins].to_numpy(dtype=object)
    has = sym != ""
    first = sym[np.arange(len(sym)), has.argmax(axis=1)] if len(sym) else sym[:, 0]
    symbol = pd.Series(np.where(has.any(axis=1), first, None), index=fr.index, dtype=object)
    status = _not_published(value, symbol, "no assessments")
    return _tidy(fr, t.indicator, within, denominator, value, status, t)


def england_defaults(path: str | Path = ENGLAND_FILE) -> pd.DataFrame:
    """The committed England figures: indicator, time_period, year, value, publication,
    table, source (each cited from the published statistics)."""
    frame = pd.read_csv(path, dtype={"time_period": str})
    frame["geographic_level"] = "National"
    frame["code"] = "E92000001"
    frame["name"] = "England"
    frame["year"] = frame["time_period"].map(_year_label)
    frame["status"] = "published"
    if "unit" not in frame:
        frame["unit"] = "share"
    frame["unit"] = frame["unit"].fillna("share")
    return frame


def published_by(frame: pd.DataFrame, period: str | None) -> pd.DataFrame:
    """The rows of published years that had ended by the end of report month ``period``
    ("2024-03": years to 31 March 2024 and before). A report compares itself with the
    figures of its own time, so an old period's page does not change, nor borrow a later
    year, when newer files are added. ``None`` keeps every year."""
    if period is None or frame.empty or "time_period" not in frame:
        return frame
    month_end = pd.Period(str(period), "M").end_time.normalize()
    ends = frame["time_period"].map(lambda tp: year_window(tp)[1])
    return frame[ends <= month_end]


def load_folder(folder: str | Path | None, period: str | None = None) -> pd.DataFrame:
    """Every indicator value in a comparators folder (files listed in its manifest, else
    every CSV), over the committed England figures; a file's own England rows win over
    the committed ones for the same indicator and year. A folder that is absent or empty
    gives the committed figures alone. With ``period`` ("2026-10"), only the years
    published by then (:func:`published_by`)."""
    frames = []
    folder = Path(folder) if folder else None
    if folder and folder.is_dir():
        for p in sorted(folder.glob("*.csv")):
            try:
                frames.append(indicator_values(read_dfe(p)))
            except ComparatorError:
                continue  # `audit comparators add` reports these; a page does not fail
    values = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    eng = england_defaults()
    if len(values):
        nat = values[values["geographic_level"] == "National"]
        have = pd.MultiIndex.from_frame(nat[["indicator", "time_period"]])
        eng = eng[~pd.MultiIndex.from_frame(eng[["indicator", "time_period"]]).isin(have)]
    return published_by(pd.concat([values, eng], ignore_index=True), period).reset_index(drop=True)


def _latest(rows: pd.DataFrame, year: str | None) -> pd.DataFrame:
    """Rows of the given year, else of each indicator's latest year."""
    if rows.empty:
        return rows
    if year is not None:
        return rows[rows["time_period"] == str(year)]
    last = rows.groupby("indicator")["time_period"].transform("max")
    return rows[rows["time_period"] == last]


def comparator_table(
    values: pd.DataFrame,
    la_code: str | None = None,
    neighbours: list[str] | tuple[str, ...] = (),
    year: str | None = None,
) -> pd.DataFrame:
    """One row per indicator: England, the region of ``la_code``, the LA's own published
    figure and its statistical neighbours' mean and range, each with its year.

    ``la_code`` and ``neighbours`` may be new (E09000025) or old (316) codes. The
    neighbour mean is the unweighted mean of the neighbours' published values (as the
    DfE's LAIT tool shows it); neighbours without a published value are left out and
    counted in "neighbours_n".
    """
    cols = [
        "indicator",
        "england",
        "england_year",
        "england_source",
        "england_publication",
        "region",
        "region_name",
        "region_year",
        "la_code",
        "la",
        "la_year",
        "neighbours_mean",
        "neighbours_min",
        "neighbours_max",
        "neighbours_n",
        "neighbours_asked",
        "neighbours_year",
        "unit",
    ]
    if values is None or values.empty:
        return pd.DataFrame(columns=cols)
    v = values[values["value"].notna()]
    for c in ("old_la_code", "region_code", "publication", "table"):
        if c not in v:
            v = v.assign(**{c: ""})
    if "unit" not in v:
        v = v.assign(unit="share")
    v = v.assign(unit=v["unit"].fillna("share"))
    v = v.assign(code=v["code"].astype(str), old=v["old_la_code"].fillna("").astype(str))
    eng = _latest(v[v["geographic_level"] == "National"], year)
    las = v[v["geographic_level"] == "Local authority"]

    def pick(codes: list[str]) -> pd.DataFrame:
        codes = [str(c).strip() for c in codes]
        return las[las["code"].isin(codes) | las["old"].isin(codes)]

    own = _latest(pick([la_code]) if la_code else las.iloc[0:0], year)
    region_code = own["region_code"].iloc[0] if len(own) else None
    reg = v[(v["geographic_level"] == "Regional") & (v["code"] == region_code)]
    reg = _latest(reg, year)
    neighbours = usable_neighbours(values, la_code, neighbours)
    nb = _latest(pick(list(neighbours)), year)
    stats = nb.groupby("indicator").agg(
        neighbours_mean=("value", "mean"),
        neighbours_min=("value", "min"),
        neighbours_max=("value", "max"),
        neighbours_n=("value", "size"),
        neighbours_year=("year", "first"),
    )
    out = pd.DataFrame({"indicator": sorted(v["indicator"].unique())}).set_index("indicator")

    def source(r: pd.Series) -> str:
        t = str(r.get("table", "") or "")
        if t in LONG_TABLES:
            t = LONG_TABLES[t].title
        name = f"table {t}" if len(t) <= 4 else f"data set '{t}'"
        return f"{r.get('publication', '')}, {name}, {r['year']}"

    e = eng.drop_duplicates("indicator").set_index("indicator")
    out["england"] = e["value"]
    out["england_year"] = e["year"]
    out["england_source"] = e.apply(source, axis=1) if len(e) else None
    out["england_publication"] = e["publication"]
    r = reg.drop_duplicates("indicator").set_index("indicator")
    out["region"], out["region_name"], out["region_year"] = r["value"], r["name"], r["year"]
    o = own.drop_duplicates("indicator").set_index("indicator")
    out["la"], out["la_year"] = o["value"], o["year"]
    out = out.join(stats)
    out["neighbours_n"] = out["neighbours_n"].fillna(0).astype(int)
    out["neighbours_asked"] = len(neighbours)
    out["la_code"] = str(la_code) if la_code else ""
    out["unit"] = v.drop_duplicates("indicator").set_index("indicator")["unit"]
    return out.reset_index()[cols]


def _codes_of(values: pd.DataFrame, code: str) -> set[str]:
    """Every code (new and old) of the local authority that ``code`` names, or an empty
    set when no LA row of the comparators carries it."""
    if values is None or values.empty or "code" not in values:
        return set()
    la = values[values["geographic_level"] == "Local authority"]
    old = la["old_la_code"] if "old_la_code" in la else pd.Series("", index=la.index)
    hit = la[(la["code"].astype(str) == code) | (old.fillna("").astype(str) == code)]
    return set(hit["code"].astype(str)) | set(old[hit.index].fillna("").astype(str)) - {""}


def usable_neighbours(
    values: pd.DataFrame, la_code: str | None, neighbours: list[str] | tuple[str, ...]
) -> list[str]:
    """The neighbour codes to average: each authority once (a new and an old code of the
    same one count once), never the authority itself (``la_code``)."""
    own = _codes_of(values, str(la_code).strip()) | {str(la_code).strip()} if la_code else set()
    out: list[str] = []
    seen: set[str] = set()
    for c in (str(c).strip() for c in neighbours):
        codes = _codes_of(values, c) or {c}
        if c in own or codes & own or codes & seen:
            continue
        seen |= codes
        out.append(c)
    return out


def code_problems(
    values: pd.DataFrame, la_code: str | None, neighbours: list[str] | tuple[str, ...]
) -> list[str]:
    """Plain sentences on codes that cannot be used, for the page and the run log: an
    ``la_code`` or neighbour no comparators file carries, and the authority or a
    repeat in its own neighbour list (left out of the neighbours' mean)."""
    if values is None or values.empty:
        return []
    out = []
    has_la = (values["geographic_level"] == "Local authority").any()
    if la_code and not _codes_of(values, str(la_code).strip()):
        out.append(
            f"The authority's code {str(la_code).strip()} is in no comparators file for "
            "the years published by this report's month"
            + ("" if has_la else " (the files hold no local-authority rows)")
            + ": its region and own published figures are not shown."
        )
    kept = set(usable_neighbours(values, la_code, neighbours))
    missing = [str(c).strip() for c in neighbours if not _codes_of(values, str(c).strip())]
    if missing:
        out.append(
            "Neighbour codes in no comparators file for the years published by this "
            "report's month: " + ", ".join(missing) + "."
        )
    dropped = [
        str(c).strip()
        for c in neighbours
        if str(c).strip() not in kept and str(c).strip() not in missing
    ]
    if dropped:
        out.append(
            "Left out of the neighbours (the authority itself, or a code repeated): "
            + ", ".join(dropped)
            + "."
        )
    return out


def fmt_value(value: float | None, unit: str = "share", digits: int = 1) -> str:
    """A comparator value in its unit: 0.684 -> "68.4%"; 67.1 per 10,000 -> "67.1 per
    10,000"; "not published" where there is none."""
    if value is None or pd.isna(value):
        return "not published"
    if unit == "per 10,000":
        return f"{value:,.{digits}f} per 10,000"
    if unit == "months":  # as the DfE writes averages: years and months
        years, months = divmod(int(value), 12)
        return f"{years} years {months} months"
    return f"{value * 100:.{digits}f}%"


def add_files(paths: list[str | Path], folder: str | Path) -> tuple[list[dict], list[str]]:
    """Copy readable DfE files into ``folder`` and record them in its manifest.json.

    Returns (manifest entries added, one-line problems for files not added). The
    original files are read, never written.
    """
    folder = Path(folder)
    added, problems = [], []
    manifest_path = folder / "manifest.json"
    for p in map(Path, paths):
        if not p.is_file():
            problems.append(f"{p}: no such file")
            continue
        try:
            f = read_dfe(p)
        except ComparatorError as exc:
            problems.append(str(exc))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if p.resolve() != (folder / p.name).resolve():
            shutil.copyfile(p, folder / p.name)
        added.append(f.manifest())
    if added:
        old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else []
        names = {a["file"] for a in added}
        manifest = [m for m in old if m.get("file") not in names] + added
        manifest_path.write_text(json.dumps(manifest, indent=1))
    return added, problems


def reference_of(values: pd.DataFrame | None, key: str) -> tuple[float, str] | None:
    """England's latest published value of indicator ``key`` with its label, e.g.
    (0.857, "England 2024-25"), for a chart's reference line; None where not published."""
    if values is None or values.empty:
        return None
    e = values[
        (values["indicator"] == key)
        & (values["geographic_level"] == "National")
        & values["value"].notna()
    ]
    if e.empty:
        return None
    r = e.sort_values("time_period").iloc[-1]
    return float(r["value"]), f"England {r['year']}"


def references(values: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """England's latest published value for each indicator key, for a chart's per-row
    reference marks: columns key, england (NaN where not published) and england_label
    (e.g. "England 2024-25", "" where not published), in the order of ``keys``."""
    rows = []
    for key in keys:
        ref = reference_of(values, key)
        rows.append(
            {
                "key": key,
                "england": np.nan if ref is None else ref[0],
                "england_label": ref[1] if ref else "",
            }
        )
    return pd.DataFrame(rows, columns=["key", "england", "england_label"])


#: Stage keys of the disproportionality page, recognised in a published stage name.
_STAGE_WORDS = (
    ("initial_child_protection_conference", "icpc"),
    ("icpc", "icpc"),
    ("section_47", "s47"),
    ("s47", "s47"),
    ("child_protection_plan", "cp_plan"),
    ("starting_to_be_looked_after", "cla_start"),
    ("started_to_be_looked_after", "cla_start"),
    ("referral", "referral"),
    ("assessment", "assessment"),
)
NO_ETHNICITY_RATES = (
    "England's rates per 10,000 by ethnicity: the committed comparators file holds none. "
    "The DfE's published tables found give children by ethnicity without the populations "
    "a rate needs; add a file of rates by stage and ethnicity to the comparators folder "
    "(docs/comparators.md) and they show here beside the borough's."
)


def _stage_key(name: str) -> str:
    return next((key for word, key in _STAGE_WORDS if word in name), name)


def _group_key(name: str) -> str:
    """A published ethnicity name as the report's group key where they mean the same
    ("White British" -> white_british); all-White and other names stay as published."""
    if "white_british" in name:
        return "white_british"
    if "white" in name and any(w in name for w in ("other", "irish", "gypsy", "traveller")):
        return "white_other"
    for prefix in ("mixed", "asian", "black"):
        if name.startswith(prefix):
            return prefix
    if name.startswith(("other_ethnic", "any_other_ethnic", "other")):
        return "other"
    return name


def england_ethnicity_rates(folder: str | Path | None, period: str | None = None) -> pd.DataFrame:
    """England's published rates per 10,000 children by ethnicity at each stage, from the
    rates-by-ethnicity files in a comparators folder (latest year of each stage).

    Columns: stage (the page's stage key where recognised), group (the report's group key
    where the published group means the same), england_rate, england_year, status. Empty
    when the folder has none: the committed file holds none (:data:`NO_ETHNICITY_RATES`).
    """
    cols = ["stage", "group", "england_rate", "england_year", "status"]
    frames = []
    folder = Path(folder) if folder else None
    for p in sorted(folder.glob("*.csv")) if folder and folder.is_dir() else []:
        try:
            f = read_dfe(p)
        except ComparatorError:
            continue
        if f.table != "ETHNICITY_RATES":
            continue
        fr = f.frame[f.frame["geographic_level"] == "National"]
        sym = f.symbols.loc[fr.index, "rate"].replace("", None)
        frames.append(
            pd.DataFrame(
                {
                    "stage": fr["group"].map(_stage_key),
                    "group": fr["item"].map(_group_key),
                    "england_rate": fr["rate"],
                    "england_year": fr["time_period"].map(_year_label),
                    "time_period": fr["time_period"],
                    "status": _not_published(fr["rate"], sym, "no children"),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=cols)
    out = published_by(pd.concat(frames, ignore_index=True), period)
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out[out["time_period"] == out.groupby("stage")["time_period"].transform("max")]
    return out.drop_duplicates(["stage", "group"])[cols].reset_index(drop=True)


def with_england_rates(rates: pd.DataFrame, england: pd.DataFrame) -> pd.DataFrame:
    """The page's rates by stage and group with England's published rate per 10,000 and
    its year beside each row, for the stages and groups England publishes. A suppressed
    rate stays as its row, marked "not published (c)"; ``england_text`` is the rate with
    one decimal, as the page shows it."""
    keep = england[["stage", "group", "england_rate", "england_year", "status"]]
    both = rates.merge(keep, on=["stage", "group"], how="inner")
    text = both["england_rate"].map(lambda r: f"{r:,.1f}" if pd.notna(r) else "")
    return both.assign(england_text=text.where(both["england_rate"].notna(), both["status"]))


def national(values: pd.DataFrame | None = None) -> dict[str, tuple[float, str]]:
    """{timeliness measure: (England value, "England 2024-25")} for the timeliness
    findings, from ``values`` (default: the committed England figures)."""
    values = england_defaults() if values is None else values
    out = {}
    for key in values["indicator"].unique():
        if not str(key).startswith("timeliness."):
            continue
        ref = reference_of(values, key)
        if ref is not None:
            out[key.split(".", 1)[1]] = ref
    return out
