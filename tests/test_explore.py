"""The disproportionality research workspace: views that add up to the monthly figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_lib.measures import disproportionality as D
from audit_lib.measures import explore as E

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def tables(default_tables):
    return default_tables[0]


def test_pair_cells_add_up_to_the_stage_total(tables):
    cells = E.by_pair(tables, PERIOD, "cp_plan", ["ethnicity", "sex"])
    one = D.table(tables, PERIOD, by=["ethnicity"])["rates"]
    total = one.loc[one["stage"] == "cp_plan", "count"].sum()
    # every child at the stage falls in one cell (children of unknown sex have no cell)
    assert 0.98 * total <= cells["count"].sum() <= total
    # each cell's ratio is against the reference group's cell of the same sex
    for sex in ("F", "M"):
        s = cells[cells["sex"] == sex].set_index("ethnicity")
        ref = s.loc["white_british"]
        expected = s.loc["black", "rate_per_10k"] / ref["rate_per_10k"]
        assert s.loc["black", "rate_ratio"] == pytest.approx(expected)
    # the planted over-representation of Black children shows for both sexes
    assert (cells.loc[cells["ethnicity"] == "black", "rate_ratio"] > 1.3).all()


def test_pair_rejects_bad_characteristics(tables):
    with pytest.raises(ValueError, match="two different"):
        E.by_pair(tables, PERIOD, "cp_plan", ["sex", "sex"])
    with pytest.raises(ValueError, match="unknown characteristic"):
        E.by_pair(tables, PERIOD, "cp_plan", ["ethnicity", "shoe_size"])


def test_funnel_is_per_100_referred(tables):
    f = E.funnel(tables, PERIOD)
    assert (f.loc[f["stage"] == "referral", "per_100_referred"] == 100).all()
    g = f[f["group"] == "black"].set_index("stage")
    assert list(g.index) == list(D.STAGES)
    assert g.loc["cp_plan", "per_100_referred"] == pytest.approx(
        100 * g.loc["cp_plan", "count"] / g.loc["referral", "count"]
    )
    assert "Per 100 referred" in E.funnel_title(f)


def test_reference_sensitivity_ratios_chain(tables):
    """Rate ratios are transitive: (X vs A) x (A vs B) = X vs B, whatever the reference."""
    r = E.reference_sensitivity(tables, PERIOD, "cp_plan", ["white_british", "asian"])
    ratio = r.set_index(["reference_group", "group"])["rate_ratio"]
    chained = ratio[("white_british", "black")] * ratio[("asian", "white_british")]
    assert chained == pytest.approx(ratio[("asian", "black")])
    assert ratio[("asian", "asian")] == 1.0


def test_denominator_sensitivity_uses_each_year(tables):
    d = E.denominator_sensitivity(tables, PERIOD, "cp_plan", years=[2021, 2026])
    assert list(d["population_year"].unique()) == ["window", "2021", "2026"]
    pop = tables["population"]
    wb = {"WBRI"}
    for y in (2021, 2026):
        row = d[(d["population_year"] == str(y)) & (d["group"] == "white_british")].iloc[0]
        expected = pop.loc[(pop["year"] == y) & pop["ethnicity"].isin(wb), "children"].sum()
        assert row["population"] == pytest.approx(expected)
    # the same children are counted whatever the denominator
    counts = d.pivot(index="group", columns="population_year", values="count")
    assert (counts.nunique(axis=1) == 1).all()


def test_hide_small_blanks_figures_built_on_small_counts():
    f = pd.DataFrame(
        {"count": [3, 40, 0], "rate_per_10k": [1.0, 2.0, 0.0], "rate_ratio": [1, 2, 3]}
    )
    out = E.hide_small(f, 5)
    assert np.isnan(out.loc[0, "rate_per_10k"]) and np.isnan(out.loc[0, "rate_ratio"])
    assert out.loc[1, "rate_ratio"] == 2 and out.loc[2, "rate_per_10k"] == 0


def test_rates_title_states_the_gap_at_the_last_stage():
    f = pd.DataFrame(
        {
            "stage": ["cla_start"] * 3 + ["referral"],
            "group": ["black", "asian", "white_british", "black"],
            "rate_per_10k": [60.0, 10.0, 30.0, 900.0],
        }
    )
    title = E.rates_title(f)
    assert title.startswith("Started to be looked after: the rate for Black children is 6.0")
    assert "Asian children (60 and 10 per 10,000)" in title
    assert "too few groups" in E.rates_title(f[f["group"] == "black"])
