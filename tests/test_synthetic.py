"""The synthetic borough: invariants, determinism, calibration and planted truth."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from audit_lib.calendar import working_days_between
from audit_lib.model import TABLES, age_in_years, as_datetime, ethnic_group
from audit_lib.synthetic import SynthConfig, generate, write_borough
from audit_lib.synthetic import params as P

from .conftest import DEFAULT_DATA, SMALL


def test_same_seed_is_byte_identical(small_dir, tmp_path):
    write_borough(generate(SMALL), tmp_path)
    files = sorted(p.name for p in small_dir.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(small_dir, tmp_path, files, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(TABLES) + 2


def test_skipped_tables_are_left_out_and_nothing_else_is_lost(small_borough):
    """Leaving out visits (built last) changes no other table; case audits change the draw
    but not the model; any other name is refused."""
    b = generate(SMALL, skip=("visits",))
    assert set(b.tables) == set(small_borough.tables) - {"visits"}
    for name, frame in b.tables.items():
        pd.testing.assert_frame_equal(frame, small_borough.tables[name])
    both = generate(SynthConfig(seed=7, children=3_000), skip=("visits", "case_audits"))
    assert "case_audits" not in both.tables and both.truth["plan_quality"] is None
    assert both.truth["disproportionality"] == small_borough.truth["disproportionality"]
    with pytest.raises(ValueError, match="cannot skip.*referrals"):
        generate(SMALL, skip=("referrals",))


def test_other_seed_differs(small_borough):
    other = generate(SynthConfig(seed=8, children=30_000))
    assert not other.tables["referrals"].equals(small_borough.tables["referrals"])


def test_committed_default_borough_is_reproducible(tmp_path):
    """data/synthetic is exactly what `audit synth` makes with its defaults."""
    write_borough(generate(SynthConfig()), tmp_path)
    files = sorted(p.name for p in DEFAULT_DATA.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(DEFAULT_DATA, tmp_path, files, shallow=False)
    assert mismatch == [] and errors == [], "regenerate with `make synth`"
    assert sum(p.stat().st_size for p in DEFAULT_DATA.iterdir()) < 20e6


def test_every_table_typed_and_valid(small_borough, small_tables):
    tables, report = small_tables
    assert report.errors.empty, report.to_text()  # every key resolves, dates ordered
    for name, frame in small_borough.tables.items():
        assert len(frame) > 0, name
        assert {c: str(t) for c, t in frame.dtypes.items()} == TABLES[name].dtypes


def test_journey_order(small_tables):
    t, _ = small_tables
    ref = t["referrals"].set_index("referral_id")
    a = t["assessments"]
    assert (a["start_date"] >= a["referral_id"].map(ref["referral_date"])).all()
    s = t["s47_enquiries"]
    assert (s["strategy_date"] >= s["referral_id"].map(ref["referral_date"])).all()
    assert (s["icpc_date"].isna() | ~s["icpc_not_required"]).all()
    e = t["cla_episodes"].sort_values(["child_id", "episode_start"])
    nxt = e.groupby("child_id")["episode_start"].shift(-1)
    assert (nxt.isna() | e["episode_end"].isna() | (e["episode_end"] <= nxt)).all(), "overlap"
    assert (e["episode_end"].isna() == e["reason_ceased"].isna()).all()
    # one open episode at most per child
    assert e["episode_end"].isna().groupby(e["child_id"]).sum().max() <= 1


def test_population_mix_within_two_points(small_borough):
    pop = small_borough.tables["population"]
    mix = pop.groupby("ethnicity")["children"].sum() / pop["children"].sum()
    target = pd.Series(P.ETHNIC_MIX)
    assert (mix.reindex(target.index, fill_value=0) - target).abs().max() < 0.02
    grouped = mix.groupby(ethnic_group(mix.index.to_series())).sum()
    target_grouped = target.groupby(ethnic_group(target.index.to_series())).sum()
    assert (grouped - target_grouped).abs().max() < 0.02
    boys = pop.loc[pop["sex"] == "M", "children"].sum() / pop["children"].sum()
    assert abs(boys - P.MALE_SHARE) < 0.02
    per_year = pop.groupby("year")["children"].sum()
    assert (per_year.between(0.97 * SMALL.children, 1.03 * SMALL.children)).all()
    # births are spread evenly, so each age band holds its share of the 18 years
    bands = pop.groupby("age_band")["children"].sum() / pop["children"].sum()
    expected = {"0-4": 5 / 18, "5-9": 5 / 18, "10-15": 6 / 18, "16-17": 2 / 18}
    for band, share in expected.items():
        assert abs(bands[band] - share) < 0.02, band
    # more than 70% Asian, Black or Mixed heritage (DESIGN.md)
    assert grouped[["asian", "black", "mixed"]].sum() > 0.70


def test_window_ends_with_last_complete_month(default_tables):
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())
    assert truth["window"] == {"start": "2021-04-01", "end": "2026-10-31"}
    t, _ = default_tables
    assert t["referrals"]["referral_date"].max() <= pd.Timestamp("2026-10-31")
    assert t["referrals"]["referral_date"].max() >= pd.Timestamp("2026-10-20")


def _rate_per_10k(events: pd.Series, pop: pd.DataFrame, years=(2022, 2025)) -> float:
    fy = events[(events >= f"{years[0]}-04-01") & (events < f"{years[1] + 1}-04-01")]
    denom = pop[pop["year"].between(*years)].groupby("year")["children"].sum().mean()
    return len(fy) / (years[1] - years[0] + 1) / denom * 1e4


def test_calibration_matches_published_rates(default_tables):
    t, _ = default_tables
    pop = t["population"]
    assert _rate_per_10k(t["referrals"]["referral_date"], pop) == pytest.approx(
        P.REFERRALS_PER_10K, rel=0.08
    )
    cla_starts = t["cla_episodes"].query("reason_new_episode == 'S'")["episode_start"]
    assert 20 < _rate_per_10k(cla_starts, pop) < 32  # England 2024: 28 per 10,000
    assert 40 < _rate_per_10k(t["cp_plans"]["start_date"], pop) < 70


def test_planted_slow_team_on_time_share(default_tables):
    t, _ = default_tables
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())["timeliness"]
    a = t["assessments"].dropna(subset=["authorised_date"])
    on_time = working_days_between(a["start_date"], a["authorised_date"]) <= 45
    slow = a["team"] == truth["slow_team"]
    exp = truth["assessment_45wd_expected_share"]
    assert on_time[slow].mean() == pytest.approx(exp["slow_team"], abs=0.04)
    assert on_time[~slow].mean() == pytest.approx(exp["other_teams"], abs=0.03)
    by_team = on_time.groupby(a["team"]).mean()
    assert by_team.idxmin() == truth["slow_team"]


def test_planted_lenient_auditor_and_grade_step(default_tables):
    t, _ = default_tables
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())["plan_quality"]
    ca = t["case_audits"]
    assert 35 * 60 < len(ca) < 45 * 70  # about 40 a month
    m = ca.dropna(subset=["moderated_grade"])
    assert 0.15 < len(m) / len(ca) < 0.25
    diff = (m["overall_grade"] - m["moderated_grade"]).astype(float).groupby(m["auditor_id"]).mean()
    assert diff.idxmin() == truth["lenient_auditor"] and diff.min() < -0.4
    good = (
        (ca["overall_grade"] <= 2)
        .groupby(ca["audit_date"] >= truth["grade_step_month"] + "-01")
        .mean()
    )
    assert good[True] - good[False] > 0.15
    assert good[False] == pytest.approx(truth["expected_good_or_better_before"], abs=0.05)
    assert good[True] == pytest.approx(truth["expected_good_or_better_after"], abs=0.05)


def test_planted_referral_rate_ratios_conditional_on_deprivation(default_tables):
    """Mantel-Haenszel rate ratio over IDACI deciles recovers the planted referral ratio."""
    t, _ = default_tables
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())["disproportionality"]
    kids = t["children"].set_index("child_id")
    r = t["referrals"]
    r = r[(r["referral_date"] >= "2022-04-01") & (r["referral_date"] < "2026-04-01")]
    # population ethnicity is the true one; children with ethnicity not recorded drop out
    # of both groups alike, so scale the observed counts by the recorded share
    grp = ethnic_group(r["child_id"].map(kids["ethnicity"]))
    dec = r["child_id"].map(kids["idaci_decile"])
    obs = pd.crosstab(grp, dec)
    pop = t["population"][t["population"]["year"].between(2022, 2025)]
    py = pop.groupby([ethnic_group(pop["ethnicity"]), "idaci_decile"])["children"].sum().unstack()
    for g in ("black", "asian", "mixed", "white_other"):
        a, b = obs.loc[g], obs.loc["white_british"]
        n1, n0 = py.loc[g], py.loc["white_british"]
        tot = n1 + n0
        mh = (a * n0 / tot).sum() / (b * n1 / tot).sum()
        assert mh == pytest.approx(truth["stage_rate_ratio"]["referral"][g], rel=0.12), g


def test_planted_drift_and_slow_adoption(default_tables):
    t, _ = default_tables
    truth = json.loads((DEFAULT_DATA / "truth.json").read_text())["permanence"]
    drifting = pd.DataFrame(truth["drifting"])
    assert len(drifting) > 50
    assert drifting["child_id"].isin(t["cla_episodes"]["child_id"]).all()
    plans = t["permanence_plans"]
    changed = drifting.loc[drifting["drift"] == "plan_changes", "child_id"]
    n_plans = plans.groupby("child_id").size()
    assert (n_plans.reindex(changed).fillna(0) >= 2).mean() > 0.8
    ad = t["adoptions"].dropna(subset=["placement_order_date", "matched_date"])
    kids = t["children"].set_index("child_id")
    days = (ad["matched_date"] - ad["placement_order_date"]).dt.days.clip(lower=0)
    slow = ethnic_group(ad["child_id"].map(kids["ethnicity"])) == truth["slow_adoption_group"]
    assert days[slow].median() > days[~slow].median()


def test_age_helpers():
    dob = pd.Series(pd.to_datetime(["2008-02-29", "2010-06-15"]))
    assert age_in_years(dob, pd.Timestamp("2026-02-28")).tolist() == [17, 15]
    assert age_in_years(dob, pd.Timestamp("2026-03-01")).tolist() == [18, 15]
    on = pd.Series(pd.to_datetime(["2026-02-28", "2026-06-15"]))
    assert age_in_years(dob, on).tolist() == [17, 16]
    text = pd.Series(["2008-02-29", "2010-06-15"])  # dates as text are parsed
    assert age_in_years(text, "2026-03-01").tolist() == [18, 15]
    assert as_datetime(dob) is dob  # already dates: no conversion


def test_ethnic_group_rolls_up_codes_and_keys():
    s = pd.Series(
        ["WBRI", "wirt", "MWBA", "CHNE", "BAFR", "OOTH", "REFU", "NOBT", "XXXX", None, "black"]
    )
    assert ethnic_group(s).tolist() == [
        "white_british",
        "white_other",
        "mixed",
        "asian",
        "black",
        "other",
        "not_known",
        "not_known",
        "not_known",
        "not_known",
        "black",
    ]


@pytest.mark.slow
def test_scales_to_a_larger_borough():
    b = generate(SynthConfig(seed=3, children=250_000, start="2025-04-01"))
    per_year = b.tables["population"].groupby("year")["children"].sum()
    assert np.allclose(per_year, 250_000, rtol=0.03)
