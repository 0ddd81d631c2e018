"""Simulate the synthetic borough: children's journeys, not random rows.

Children are born into a Newham-like population; each is referred at a rate set by
ethnic group, deprivation and disability; referrals flow through assessment, S47,
ICPC, CP plan and care, with statutory clocks met or missed; children in care move
placements, get permanence plans and leave care by the routes in the 903 return; and
each month about 40 cases are audited, a fifth of them moderated. A burn-in of five
years before the window means the borough starts with children already on plans and
in care. Everything is vectorised with numpy over children, referrals or spells; the
only Python loops are over months, groups and schedule steps.

Planted effects (params.Planted) are written to truth.json with their true values.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..calendar import add_working_days_np
from ..model import (
    AGE_BANDS,
    ANCHORS,
    ETHNIC_GROUPS,
    ETHNICITY_GROUP,
    PLAN_CHECKLIST,
    TABLES,
    age_band,
)
from . import params as P

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of one synthetic borough."""

    seed: int = 20211
    children: int = 86_000
    start: str = "2021-04-01"
    extract_date: str = "2026-11-01"
    end: str | None = None
    burn_in_years: int = 5
    planted: P.Planted = field(default_factory=P.Planted)

    @property
    def window_end(self) -> np.datetime64:
        """Last day of the last complete month before the extract date (or ``end``)."""
        if self.end is not None:
            return np.datetime64(self.end, "D")
        first_of_month = np.datetime64(self.extract_date, "M").astype("datetime64[D]")
        return first_of_month - DAY

    @property
    def window_start(self) -> np.datetime64:
        return np.datetime64(self.start, "D")


@dataclass
class Borough:
    """The generated tables and the planted truth."""

    tables: dict[str, pd.DataFrame]
    truth: dict


# ------------------------------------------------------------------------------------
# small vectorised helpers
# ------------------------------------------------------------------------------------


def _choice(rng: np.random.Generator, mix: dict, size: int) -> np.ndarray:
    keys = np.array(list(mix))
    p = np.array(list(mix.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _lognormal(rng, median: np.ndarray | float, sd: float, size: int) -> np.ndarray:
    return np.exp(np.log(median) + sd * rng.standard_normal(size))


def _wd_ceil(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.ceil(x), 1).astype(np.int64)


def _add_years(days: np.ndarray, years: int) -> np.ndarray:
    """Same calendar date ``years`` later (29 Feb -> 1 Mar)."""
    ts = pd.DatetimeIndex(days.astype("datetime64[ns]"))
    return (ts + pd.DateOffset(years=years)).to_numpy().astype("datetime64[D]")


def _D(x) -> np.ndarray:
    """Any dates (numpy, pandas) as a datetime64[D] array."""
    return np.asarray(x).astype("datetime64[D]")


def _days_between(a, b) -> np.ndarray:
    return (_D(b) - _D(a)).astype(np.int64)


def _nat(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")


def _events(spell, date, rne, place, ls, prio: int) -> pd.DataFrame:
    """Episode-changing events of care spells; ``prio`` orders events on the same day."""
    return pd.DataFrame(
        {"spell": spell, "date": date, "rne": rne, "place": place, "ls": ls, "prio": prio}
    )


def _upto(dates: np.ndarray, end: np.datetime64) -> np.ndarray:
    """Dates after the window end become NaT (not yet happened at the extract)."""
    out = dates.copy()
    out[out > end] = np.datetime64("NaT")
    return out


def _recurring(
    rng: np.random.Generator,
    starts: np.ndarray,
    stops: np.ndarray,
    first: tuple[int, int, int, int],
    then: tuple[int, int, int, int],
    p_late: float,
    working_days: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """A schedule of events per interval: the first gap, then repeated gaps.

    Each gap is drawn uniformly from (lo, hi) when on time and (late_lo, late_hi) with
    probability ``p_late``. Returns (owner index, date) for events on or before the stop.
    """
    n = len(starts)
    if n == 0:
        return np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]")
    span = _days_between(starts, stops).max()
    unit = 7 / 5 if working_days else 1.0
    k = int(span / (then[0] * unit)) + 2
    lo = np.full((n, k), then[0])
    hi = np.full((n, k), then[1])
    late_lo, late_hi = np.full((n, k), then[2]), np.full((n, k), then[3])
    lo[:, 0], hi[:, 0], late_lo[:, 0], late_hi[:, 0] = first
    late = rng.random((n, k)) < p_late
    gap = np.where(
        late,
        rng.integers(late_lo, late_hi + 1),
        rng.integers(lo, hi + 1),
    )
    offset = np.cumsum(gap, axis=1)
    owner = np.repeat(np.arange(n), k)
    base = np.repeat(starts, k)
    flat = offset.ravel()
    if working_days:
        dates = add_working_days_np(base, flat)
    else:
        dates = base + flat.astype("timedelta64[D]")
    keep = dates <= np.repeat(stops, k)
    return owner[keep], dates[keep]


# ------------------------------------------------------------------------------------
# the simulation
# ------------------------------------------------------------------------------------


class _Sim:
    def __init__(self, cfg: SynthConfig):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.start = cfg.window_start
        self.end = cfg.window_end
        self.sim_start = _add_years(np.array([self.start]), -cfg.burn_in_years)[0]
        self.mult = {
            stage: np.array(
                [cfg.planted.decision_multiplier.get(stage, {}).get(g, 1.0) for g in ETHNIC_GROUPS]
            )
            for stage in P.STAGES
        }
        self.group_index = {g: i for i, g in enumerate(ETHNIC_GROUPS)}

    # -- population -------------------------------------------------------------------
    def population(self) -> None:
        rng, cfg = self.rng, self.cfg
        birth_lo = _add_years(np.array([self.sim_start]), -18)[0]
        span = _days_between(birth_lo, self.end)
        n = round(cfg.children / 18 * span / 365.25)
        self.n = n
        dob = birth_lo + rng.integers(0, span + 1, n).astype("timedelta64[D]")
        eth = _choice(rng, P.ETHNIC_MIX, n)
        group = pd.Series(eth).map(ETHNICITY_GROUP).to_numpy()
        decile = np.zeros(n, dtype=np.int64)
        for g, mix in P.DEPRIVATION_MIX.items():
            sel = group == g
            p = np.array(mix) / sum(mix)
            decile[sel] = rng.choice(np.arange(1, 11), size=int(sel.sum()), p=p)
        sex = np.where(rng.random(n) < P.MALE_SHARE, "M", "F")
        disabled = rng.random(n) < P.DISABILITY_SHARE
        team = rng.integers(0, len(P.TEAMS), n)
        self.kids = pd.DataFrame(
            {
                "dob": dob,
                "eth": eth,
                "group": group,
                "gidx": pd.Series(group).map(self.group_index).to_numpy(),
                "decile": decile,
                "sex": sex,
                "disabled": disabled,
                "team": team,
                "adult": _add_years(dob, 18),
            }
        )

    def population_table(self) -> pd.DataFrame:
        """Children alive and under 18 at each mid-year (30 June), counted by year,
        ethnicity, age band, sex and IDACI decile: all years in one grouping."""
        k = self.kids
        years = np.arange(int(str(self.start)[:4]), int(str(self.end)[:4]) + 1)
        mids = np.array([np.datetime64(f"{y}-06-30", "D") for y in years])
        dob, adult = k["dob"].to_numpy(), k["adult"].to_numpy()
        alive = (dob[None, :] <= mids[:, None]) & (adult[None, :] > mids[:, None])
        y_idx, kid = np.nonzero(alive)  # one row per child and mid-year: small integers only
        y_idx, kid = y_idx.astype(np.int16), kid.astype(np.int32)
        age = _days_between(dob[kid], mids[y_idx]) // 365.25
        band = np.searchsorted([5, 10, 16], np.clip(age, 0, 17), side="right").astype(np.int8)
        eth, eth_names = pd.factorize(k["eth"], sort=True)
        sex, sex_names = pd.factorize(k["sex"], sort=True)
        decile = k["decile"].to_numpy()
        cells = pd.DataFrame(
            {"y": y_idx, "e": eth[kid], "b": band, "s": sex[kid], "d": decile[kid]}
        )
        cells = cells[(cells["e"] >= 0) & (cells["s"] >= 0)]  # as groupby: no missing keys
        counts = cells.value_counts(sort=False).rename("children").reset_index()
        counts = pd.DataFrame(
            {
                "year": years[counts["y"].to_numpy()],
                "ethnicity": np.asarray(eth_names)[counts["e"].to_numpy()],
                "age_band": np.asarray(AGE_BANDS)[counts["b"].to_numpy()],
                "sex": np.asarray(sex_names)[counts["s"].to_numpy()],
                "idaci_decile": counts["d"].to_numpy(),
                "children": counts["children"].to_numpy(),
            }
        )
        counts["age_band"] = pd.Categorical(counts["age_band"], categories=AGE_BANDS, ordered=True)
        return counts.sort_values(
            ["year", "ethnicity", "age_band", "sex", "idaci_decile"]
        ).reset_index(drop=True)

    # -- referrals and the child-protection chain --------------------------------------
    def referrals(self) -> None:
        rng, k = self.rng, self.kids
        lo = np.maximum(_D(k["dob"]), self.sim_start)
        hi = np.minimum(_D(k["adult"]) - DAY, self.end)
        exposure = np.clip(_days_between(lo, hi), 0, None) / 365.25
        dep = np.exp(P.DEPRIVATION_LOG_SLOPE * (7 - k["decile"].to_numpy()))
        rel = (
            self.mult["referral"][k["gidx"].to_numpy()]
            * dep
            * np.where(k["disabled"], P.DISABILITY_RR, 1.0)
        )
        base = P.REFERRALS_PER_10K / 1e4 * exposure.sum() / (rel * exposure).sum()
        self.referral_base = base
        count = rng.poisson(base * rel * exposure)
        child = np.repeat(np.arange(self.n), count)
        span = _days_between(lo, hi)[child]
        date = lo[child] + (rng.random(len(child)) * (span + 1)).astype("timedelta64[D]")
        date = np.busday_offset(date, 0, roll="forward", busdaycal=_cal())
        order = np.lexsort((date, child))
        self.ref = pd.DataFrame({"child": child[order], "date": date[order]})
        self.ref = self.ref[self.ref["date"] <= self.end].reset_index(drop=True)

    def chain(self) -> None:
        """Decide each referral's path and dates."""
        rng, r, cfg = self.rng, self.ref, self.cfg
        n = len(r)
        gidx = self.kids["gidx"].to_numpy()[r["child"]]
        m = {s: self.mult[s][gidx] for s in P.STAGES}
        u = rng.random((6, n))
        assessed = u[0] < P.P_ASSESSMENT * m["assessment"]
        s47 = assessed & (u[1] < P.P_S47 * m["s47"])
        icpc = s47 & (u[2] < P.P_ICPC * m["icpc"])
        cp = icpc & (u[3] < P.P_CP_PLAN * m["cp_plan"])
        cla_cp = cp & (u[4] < P.P_CLA_FROM_CP * m["cla_start"])
        # direct route into care, scaled so that P(care | referral) is proportional to the
        # product of all decision multipliers (the planted stage rate ratio stays exact)
        m_all = m["assessment"] * m["s47"] * m["icpc"] * m["cp_plan"] * m["cla_start"]
        p_cp = P.P_ASSESSMENT * m["assessment"] * P.P_S47 * m["s47"] * P.P_ICPC * m["icpc"]
        p_cp = p_cp * P.P_CP_PLAN * m["cp_plan"]
        cla_direct = ~cp & (u[5] < np.minimum(P.P_CLA_DIRECT * m_all / (1 - p_cp), 1))

        team = self.kids["team"].to_numpy()[r["child"]]
        slow = team == P.TEAMS.index(cfg.planted.slow_team)
        rd = r["date"].to_numpy()
        a_start = add_working_days_np(rd, rng.integers(0, 3, n))
        a_med = np.where(slow, cfg.planted.slow_assessment_median_wd, P.ASSESSMENT_MEDIAN_WD)
        a_wd = _wd_ceil(_lognormal(rng, a_med, P.ASSESSMENT_LOG_SD, n))
        a_auth = add_working_days_np(a_start, a_wd)
        strat = add_working_days_np(rd, rng.integers(0, 5, n))
        i_med = np.where(slow, cfg.planted.slow_icpc_median_wd, P.ICPC_MEDIAN_WD)
        i_wd = _wd_ceil(_lognormal(rng, i_med, P.ICPC_LOG_SD, n))
        icpc_date = add_working_days_np(strat, i_wd)
        cp_days = np.maximum(_lognormal(rng, P.CP_PLAN_MEDIAN_DAYS, 0.6, n), 30).astype(np.int64)
        cp_end = icpc_date + cp_days.astype("timedelta64[D]")
        into_care = np.where(
            cla_cp,
            icpc_date + (cp_days * rng.uniform(0.2, 0.9, n)).astype("timedelta64[D]"),
            rd + rng.integers(0, 21, n).astype("timedelta64[D]"),
        )
        cla = cla_cp | cla_direct
        cp_end = np.where(cla_cp, into_care, cp_end)
        needs_support = assessed & (s47 | cla | (rng.random(n) < 0.5))
        cin = needs_support & ~cp & ~cla
        cin_days = np.maximum(_lognormal(rng, P.CIN_PLAN_MEDIAN_DAYS, 0.6, n), 28).astype(np.int64)
        cin_start = a_auth
        cin_end = cin_start + cin_days.astype("timedelta64[D]")
        nfa = ~assessed
        self.ref = r.assign(
            team=team,
            worker=rng.integers(0, P.WORKERS_PER_TEAM, n),
            assessed=assessed,
            s47=s47,
            icpc=icpc,
            cp=cp,
            cla=cla,
            cin=cin,
            nfa=nfa,
            needs_support=needs_support,
            a_start=a_start,
            a_auth=a_auth,
            strat=strat,
            icpc_date=icpc_date,
            cp_start=icpc_date,
            cp_end=cp_end,
            cin_start=cin_start,
            cin_end=cin_end,
            into_care=into_care,
        )

    def spells(self) -> None:
        """Simulate each entry into care to its exit (or the extract)."""
        rng, cfg, r = self.rng, self.cfg, self.ref
        s = r.loc[r["cla"], ["child", "into_care", "team"]].rename(columns={"into_care": "entry"})
        s = s.reset_index().rename(columns={"index": "ref"})
        n = len(s)
        kids = self.kids.iloc[s["child"].to_numpy()]
        entry = s["entry"].to_numpy().astype("datetime64[D]")
        dob = kids["dob"].to_numpy().astype("datetime64[D]")
        adult = kids["adult"].to_numpy().astype("datetime64[D]")
        age = (_days_between(dob, entry) // 365.25).clip(0, 17)
        band = age_band(pd.Series(age)).to_numpy()
        plan_idx = np.zeros(n, dtype=np.int64)
        for b, mix in P.PLAN_BY_AGE.items():
            sel = band == b
            p = np.array(mix) / sum(mix)
            plan_idx[sel] = rng.choice(len(P.PLAN_NAMES), size=int(sel.sum()), p=p)
        plan = np.array(P.PLAN_NAMES)[plan_idx]

        drift = rng.random(n) < cfg.planted.drift_share
        drift_type = np.where(
            drift, rng.choice(["late_plan", "plan_changes", "ltf_unmatched"], n), ""
        )
        plan = np.where(drift_type == "ltf_unmatched", "long_term_fostering", plan)
        # a plan by the first review or soon after: always before the second review,
        # which can be held as early as about 10 weeks after entry
        decision = entry + rng.integers(15, 60, n).astype("timedelta64[D]")
        decision = np.where(
            drift_type == "late_plan",
            entry + rng.integers(150, 330, n).astype("timedelta64[D]"),
            decision,
        )
        # plan changed twice: two further decisions, the last plan differs from the first
        changes = drift_type == "plan_changes"
        d2 = decision + rng.integers(60, 150, n).astype("timedelta64[D]")
        d3 = d2 + rng.integers(60, 150, n).astype("timedelta64[D]")
        alt = np.array(["long_term_fostering", "sgo", "return_home", "residential"])
        plan2 = alt[rng.integers(0, len(alt), n)]
        plan3 = np.where(plan2 == "sgo", "long_term_fostering", "sgo")
        final_plan = np.where(changes, plan3, plan)
        final_decision = np.where(changes, d3, decision)

        # time to the planned outcome
        delay = np.where(drift, 1.5, 1.0)
        perm = _nat(n)
        for name, med in P.PERMANENCE_MEDIAN_DAYS.items():
            sel = final_plan == name
            days = _lognormal(rng, med, 0.5, int(sel.sum())) * delay[sel]
            perm[sel] = np.maximum(
                entry[sel] + days.astype("timedelta64[D]"), final_decision[sel] + 30 * DAY
            )
        # long-term fostering matches are confirmed within 6 months of the plan, unless
        # the child is one of the planted drifters whose match never comes
        ltf_match = final_decision + rng.integers(60, 175, n).astype("timedelta64[D]")
        perm = np.where(final_plan == "long_term_fostering", ltf_match, perm)
        perm[drift_type == "ltf_unmatched"] = np.datetime64("NaT")

        # adoption: ADM decision -> placement order -> match -> placed -> order
        adopt = final_plan == "adoption"
        slow_grp = kids["group"].to_numpy() == cfg.planted.slow_adoption_group
        po = decision + _lognormal(rng, P.ADOPTION_DAYS["po"], 0.35, n).astype("timedelta64[D]")
        a2 = _lognormal(rng, P.ADOPTION_DAYS["match"], 0.5, n) * np.where(
            slow_grp, cfg.planted.slow_adoption_factor, 1.0
        )
        match = po + (a2 - 20).astype("timedelta64[D]")  # a few matches precede the order
        placed = match + rng.integers(10, 41, n).astype("timedelta64[D]")
        order = placed + _lognormal(rng, P.ADOPTION_DAYS["order"], 0.3, n).astype("timedelta64[D]")
        ffa = adopt & (rng.random(n) < P.P_FOSTERING_FOR_ADOPTION)
        ceases = adopt & ~ffa & (rng.random(n) < P.P_ADOPTION_PLAN_CEASES)
        ceased = po + rng.integers(100, 300, n).astype("timedelta64[D]")
        perm = np.where(adopt & ~ceases, order, perm)
        perm = np.where(adopt & ceases, np.datetime64("NaT"), perm)

        # exits: the permanence outcome (unless long-term fostering, which stays in
        # care), another exit, or the 18th birthday, whichever is first
        leaves_on_perm = np.isin(final_plan, ["return_home", "adoption", "sgo", "cao"]) & ~ceases
        other_exit = np.where(
            rng.random(n) < 0.08,
            entry + rng.integers(10, 400, n).astype("timedelta64[D]"),
            np.datetime64("NaT"),
        )
        cand = np.vstack(
            [
                np.where(leaves_on_perm, perm, np.datetime64("NaT")),
                other_exit,
                adult,
            ]
        ).astype("datetime64[D]")
        filled = np.where(np.isnat(cand), np.datetime64("2200-01-01"), cand)
        which = filled.argmin(axis=0)
        exit_ = filled.min(axis=0)
        exit_ = np.maximum(exit_, entry + DAY)
        rec = np.full(n, "", dtype=object)
        perm_rec = {"return_home": "E4A", "adoption": "E11", "sgo": "E45", "cao": "E41"}
        for name, code in perm_rec.items():
            rec[(which == 0) & (final_plan == name)] = code
        rec[(which == 0) & (final_plan == "adoption") & (rng.random(n) < 0.1)] = "E12"
        rec[(which == 0) & (final_plan == "sgo") & (rng.random(n) < 0.4)] = "E46"
        rec[which == 1] = rng.choice(["E13", "E3", "E4B", "E16"], int((which == 1).sum()))
        # at 18: staying put (E17) or independent living (E5, E6); E47/E48 are SGOs
        rec[which == 2] = rng.choice(["E17", "E5", "E6"], int((which == 2).sum()))
        open_ = exit_ > self.end
        rec[open_] = ""
        exit_ = np.where(open_, np.datetime64("NaT"), exit_)
        achieved = np.where(
            (final_plan == "long_term_fostering") | ((which == 0) & leaves_on_perm),
            perm,
            np.datetime64("NaT"),
        ).astype("datetime64[D]")
        stop = np.where(np.isnat(exit_), self.end, exit_)
        achieved = np.where(achieved <= stop, achieved, np.datetime64("NaT"))

        self.sp = s.assign(
            entry=entry,
            exit=exit_,
            stop=stop,
            rec=rec,
            age=age,
            plan=plan,
            plan2=plan2,
            final_plan=final_plan,
            decision=decision,
            d2=d2,
            d3=d3,
            changes=changes,
            achieved=achieved,
            drift_type=drift_type,
            adopt=adopt,
            ffa=ffa,
            ceases=ceases,
            ceased=ceased,
            po=po,
            match=match,
            placed=placed,
            order=order,
            group=kids["group"].to_numpy(),
        )

    def resolve_overlaps(self) -> None:
        """A child already on a plan or in care is not referred again until it ends.

        Drops later referrals (with their whole chain) that start inside an earlier
        kept referral's CP plan or care spell. Vectorised passes, one conflict per
        child per pass.
        """
        r = self.ref
        busy = r["date"].to_numpy().astype("datetime64[D]")
        busy = np.where(r["cp"], np.maximum(busy, r["cp_end"].to_numpy()), busy)
        sp_stop = pd.Series(self.sp["stop"].to_numpy(), index=self.sp["ref"].to_numpy())
        cla_stop = sp_stop.reindex(r.index).to_numpy().astype("datetime64[D]")
        busy = np.where(r["cla"], np.maximum(busy, cla_stop), busy)
        keep = np.ones(len(r), dtype=bool)
        child = r["child"].to_numpy()
        date = r["date"].to_numpy().astype("datetime64[D]")
        while True:
            idx = np.flatnonzero(keep)
            c, d, b = child[idx], date[idx], busy[idx]
            # running max of busy-until within child, shifted by one
            frame = pd.DataFrame({"c": c, "b": b.astype("datetime64[ns]")})
            run = frame.groupby("c")["b"].cummax()
            prev = run.groupby(frame["c"]).shift(1).to_numpy().astype("datetime64[D]")
            conflict = ~np.isnat(prev) & (d <= prev)
            if not conflict.any():
                break
            first = pd.Series(conflict).groupby(c).cumsum().to_numpy() == 1
            keep[idx[conflict & first]] = False
        self.ref = r.loc[keep]
        self.sp = self.sp[self.sp["ref"].isin(self.ref.index)].reset_index(drop=True)

    def relevant(self) -> None:
        """Keep chains that touch the window (open at, or active after, its start)."""
        r = self.ref
        last = (
            np.vstack(
                [
                    np.where(r["assessed"], r["a_auth"], r["date"]),
                    np.where(r["cp"], r["cp_end"], r["date"]),
                    np.where(r["cin"], r["cin_end"], r["date"]),
                ]
            )
            .astype("datetime64[D]")
            .max(axis=0)
        )
        sp_stop = pd.Series(self.sp["stop"].to_numpy(), index=self.sp["ref"].to_numpy())
        cla_stop = sp_stop.reindex(r.index).to_numpy().astype("datetime64[D]")
        last = np.where(r["cla"], np.maximum(last, cla_stop), last)
        self.ref = r.assign(case_end=last).loc[last >= self.start]
        self.sp = self.sp[self.sp["ref"].isin(self.ref.index)].reset_index(drop=True)


def _cal():
    from ..calendar import _calendar  # the one England & Wales calendar

    return _calendar()


class _Tables:
    """Turn the simulated journeys into the canonical tables."""

    def __init__(self, sim: _Sim):
        self.sim = sim
        self.rng = sim.rng
        self.end = sim.end
        rng = self.rng
        self.child_ids = np.char.zfill(
            (rng.permutation(sim.n) + 1).astype(str), 7
        )  # zero-padded strings: leading zeros must survive every reader
        r = sim.ref.sort_values(["date", "child"], kind="stable")
        r = r.assign(rid=np.char.add("R", np.char.zfill(np.arange(1, len(r) + 1).astype(str), 7)))
        self.ref = r
        self.sp = sim.sp.merge(r[["rid"]], left_on="ref", right_index=True)
        self.sp = self.sp.sort_values(["entry", "child"], kind="stable").reset_index(drop=True)
        self.workers = np.array(
            [
                f"W{t + 1:02d}{w + 1:02d}"
                for t in range(len(P.TEAMS))
                for w in range(P.WORKERS_PER_TEAM)
            ]
        )

    def cid(self, child_index) -> np.ndarray:
        return self.child_ids[np.asarray(child_index)]

    def worker(self, team, k) -> np.ndarray:
        return self.workers[np.asarray(team) * P.WORKERS_PER_TEAM + np.asarray(k)]

    @staticmethod
    def _ids(prefix: str, n: int) -> np.ndarray:
        return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 7))

    def children(self) -> pd.DataFrame:
        used = np.unique(
            np.concatenate([self.ref["child"].to_numpy(), self.sp["child"].to_numpy()])
        )
        k = self.sim.kids.iloc[used]
        eth = k["eth"].to_numpy().copy()
        missing = self.rng.random(len(k)) < P.ETHNICITY_NOT_RECORDED
        eth[missing] = self.rng.choice(["NOBT", "REFU"], int(missing.sum()), p=[0.7, 0.3])
        uasc_children = set(self.sp_in.loc[self.sp_in["uasc"], "child"])
        out = pd.DataFrame(
            {
                "child_id": self.cid(used),
                "sex": k["sex"].to_numpy(),
                "date_of_birth": k["dob"].to_numpy(),
                "ethnicity": eth,
                "disability": k["disabled"].to_numpy(),
                "idaci_decile": k["decile"].to_numpy(),
                "uasc": np.isin(used, list(uasc_children)),
                "locality": np.array(P.TEAMS)[k["team"].to_numpy()],
            }
        )
        return out.sort_values("child_id").reset_index(drop=True)

    def referrals(self) -> pd.DataFrame:
        r, rng, end = self.ref, self.rng, self.end
        n = len(r)
        sp_exit = pd.Series(r["rid"]).map(self.sp.set_index("rid")["exit"]).to_numpy()
        closure = np.select(
            [r["cla"], r["cp"], r["cin"], r["assessed"]],
            [sp_exit, r["cp_end"], r["cin_end"], r["a_auth"] + rng.integers(0, 6, n) * DAY],
            default=r["date"] + rng.integers(0, 4, n) * DAY,
        )
        closure = _upto(closure.astype("datetime64[D]"), end)
        reason = np.where(
            r["nfa"],
            "RC7",
            np.where(r["needs_support"], "RC7", np.where(rng.random(n) < 0.5, "RC8", "RC9")),
        ).astype(object)
        # permanence exits close the case with their own reason
        sp = self.sp.set_index("rid")
        rec = pd.Series(r["rid"]).map(sp["rec"]).fillna("").to_numpy()
        reason[np.isin(rec, ["E11", "E12"])] = "RC1"
        reason[np.isin(rec, ["E45", "E46"])] = "RC4"
        reason[rec == "E41"] = "RC3"
        reason[np.isnat(closure)] = None
        source = _choice(
            rng,
            {
                "6": 0.29,
                "2A": 0.20,
                "3A": 0.04,
                "3D": 0.10,
                "3E": 0.02,
                "5A": 0.05,
                "5D": 0.04,
                "1A": 0.05,
                "1C": 0.01,
                "4": 0.02,
                "7": 0.02,
                "8": 0.08,
                "9": 0.01,
                "10": 0.07,
            },
            n,
        )
        need = _choice(
            rng,
            {
                "N1": 0.57,
                "N2": 0.03,
                "N3": 0.04,
                "N4": 0.03,
                "N5": 0.13,
                "N6": 0.02,
                "N7": 0.01,
                "N8": 0.04,
                "N9": 0.07,
                "N0": 0.06,
            },
            n,
        )
        return pd.DataFrame(
            {
                "referral_id": r["rid"].to_numpy(),
                "child_id": self.cid(r["child"]),
                "referral_date": r["date"].to_numpy(),
                "referral_source": source,
                "primary_need": np.where(r["nfa"], None, need),
                "nfa": r["nfa"].to_numpy(),
                "closure_date": closure,
                "closure_reason": reason,
                "team": np.array(P.TEAMS)[r["team"].to_numpy()],
                "worker_id": self.worker(r["team"], r["worker"]),
            }
        )

    def assessments(self) -> pd.DataFrame:
        r = self.ref[self.ref["assessed"]]
        n, rng = len(r), self.rng
        factors = _choice(
            rng,
            {
                "3A": 0.2,
                "2A,3A": 0.1,
                "21": 0.15,
                "4A": 0.15,
                "1B,2B": 0.1,
                "22A": 0.1,
                "18B": 0.1,
                "8B": 0.1,
            },
            n,
        )
        return pd.DataFrame(
            {
                "assessment_id": self._ids("A", n),
                "child_id": self.cid(r["child"]),
                "referral_id": r["rid"].to_numpy(),
                "start_date": r["a_start"].to_numpy(),
                "authorised_date": _upto(r["a_auth"].to_numpy().astype("datetime64[D]"), self.end),
                "child_seen": rng.random(n) < 0.97,
                "factors": factors,
                "needs_support": r["needs_support"].to_numpy(),
                "team": np.array(P.TEAMS)[r["team"].to_numpy()],
                "worker_id": self.worker(r["team"], r["worker"]),
            }
        ).pipe(lambda f: f[f["start_date"] <= self.end])

    def s47(self) -> pd.DataFrame:
        r = self.ref[self.ref["s47"]]
        n = len(r)
        icpc = _upto(
            np.where(r["icpc"], r["icpc_date"], np.datetime64("NaT")).astype("datetime64[D]"),
            self.end,
        )
        return pd.DataFrame(
            {
                "s47_id": self._ids("S", n),
                "child_id": self.cid(r["child"]),
                "referral_id": r["rid"].to_numpy(),
                "strategy_date": r["strat"].to_numpy(),
                "icpc_not_required": ~r["icpc"].to_numpy(),
                "icpc_date": icpc,
                "icpc_result_plan": np.where(np.isnat(icpc), None, r["cp"].to_numpy()),
                "team": np.array(P.TEAMS)[r["team"].to_numpy()],
            }
        ).pipe(lambda f: f[f["strategy_date"] <= self.end])

    def cp_plans(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        r = self.ref[self.ref["cp"] & (self.ref["cp_start"] <= self.end)]
        n, rng = len(r), self.rng
        cat = _choice(rng, {"NEG": 0.50, "EMO": 0.38, "PHY": 0.06, "SAB": 0.04, "MUL": 0.02}, n)
        latest = np.where(rng.random(n) < 0.1, _choice(rng, {"NEG": 0.6, "EMO": 0.4}, n), cat)
        plans = pd.DataFrame(
            {
                "cp_plan_id": self._ids("CP", n),
                "child_id": self.cid(r["child"]),
                "start_date": r["cp_start"].to_numpy(),
                "end_date": _upto(r["cp_end"].to_numpy().astype("datetime64[D]"), self.end),
                "initial_category": cat,
                "latest_category": latest,
            }
        )
        self.cp = plans.assign(team=r["team"].to_numpy(), worker=r["worker"].to_numpy())
        starts = plans["start_date"].to_numpy().astype("datetime64[D]")
        stops = np.where(plans["end_date"].isna(), self.end, plans["end_date"]).astype(
            "datetime64[D]"
        )
        late = P.P_REVIEW_LATE
        owner, dates = _recurring(
            rng, starts, stops, (60, 91, 92, 120), (150, 182, 183, 230), late, False
        )
        reviews = pd.DataFrame(
            {"cp_plan_id": plans["cp_plan_id"].to_numpy()[owner], "review_date": dates}
        )
        return plans, reviews

    def cin_plans(self) -> pd.DataFrame:
        r = self.ref[self.ref["cin"] & (self.ref["cin_start"] <= self.end)]
        n = len(r)
        plans = pd.DataFrame(
            {
                "cin_plan_id": self._ids("CIN", n),
                "child_id": self.cid(r["child"]),
                "start_date": r["cin_start"].to_numpy(),
                "end_date": _upto(r["cin_end"].to_numpy().astype("datetime64[D]"), self.end),
            }
        )
        self.cin = plans.assign(team=r["team"].to_numpy(), worker=r["worker"].to_numpy())
        return plans

    def cla(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Episodes, reviews, permanence plans and adoptions for every spell."""
        sp, rng, end = self.sp, self.rng, self.end
        sp = sp[sp["entry"] <= end].reset_index(drop=True)
        n = len(sp)
        entry = sp["entry"].to_numpy().astype("datetime64[D]")
        stop = sp["stop"].to_numpy().astype("datetime64[D]")
        age = sp["age"].to_numpy()
        uasc = (age >= 14) & ~sp["adopt"].to_numpy() & (rng.random(n) < 0.08)
        sp = sp.assign(uasc=uasc)
        self.sp_in = sp

        # initial placement: foster care for the youngest, more residential and
        # semi-independent placements for older children
        place0 = _choice(rng, P.PLACEMENT_MIX, n)
        young = age < 16
        place0 = np.where(young & np.isin(place0, ["H5", "P2"]), "U4", place0)
        place0 = np.where((age < 10) & np.isin(place0, ["K2", "K1"]), "U5", place0)
        place0 = np.where(sp["ffa"], "U4", place0)
        ls0 = _choice(rng, P.LEGAL_STATUS_MIX, n)
        ls0 = np.where(sp["adopt"], "C1", ls0)
        ls0 = np.where(uasc, "V2", ls0)
        place0 = np.where(ls0 == "V2", np.where(place0 == "R1", "U4", place0), place0)

        ev = [_events(np.arange(n), entry, "S", place0, ls0, 0)]
        # placement moves
        years = _days_between(entry, stop) / 365.25
        k = rng.poisson(P.MOVES_PER_YEAR * years * np.where(sp["ffa"], 0, 1))
        owner = np.repeat(np.arange(n), k)
        span = _days_between(entry, stop)[owner]
        mdate = entry[owner] + (1 + rng.random(len(owner)) * np.maximum(span - 1, 0)).astype(
            "timedelta64[D]"
        )
        mplace = _choice(
            rng, {"U4": 0.3, "U5": 0.25, "U6": 0.2, "K2": 0.15, "U1": 0.05, "Z1": 0.05}, len(owner)
        )
        mplace = np.where((age[owner] >= 16) & (rng.random(len(owner)) < 0.4), "H5", mplace)
        ev.append(
            _events(
                owner, mdate, np.where(rng.random(len(owner)) < 0.85, "P", "U"), mplace, None, 2
            )
        )
        # legal status changes: interim to full care order; police protection ends
        to_c2 = (ls0 == "C1") & (rng.random(n) < 0.85)
        c2date = entry + rng.integers(180, 320, n) * DAY
        sel = to_c2 & (c2date < stop)
        ev.append(_events(np.flatnonzero(sel), c2date[sel], "L", None, "C2", 1))
        short = np.isin(ls0, ["L1", "L2"])
        pdate = entry + rng.integers(1, 10, n) * DAY
        sel = short & (pdate < stop)
        ev.append(
            _events(
                np.flatnonzero(sel),
                pdate[sel],
                "L",
                None,
                np.where(rng.random(int(sel.sum())) < 0.5, "V2", "C1"),
                1,
            )
        )
        # adoption: placement order (E1), then the adoptive placement
        adopt = sp["adopt"].to_numpy()
        po = sp["po"].to_numpy().astype("datetime64[D]")
        placed = sp["placed"].to_numpy().astype("datetime64[D]")
        ceased = sp["ceased"].to_numpy().astype("datetime64[D]")
        ceases = sp["ceases"].to_numpy()
        sel = adopt & (po < stop)
        ev.append(_events(np.flatnonzero(sel), po[sel], "L", None, "E1", 1))
        sel = adopt & ~ceases & (placed < stop)
        ffa = sp["ffa"].to_numpy()[sel]
        ap = np.where(
            ffa,
            np.where(rng.random(int(sel.sum())) < 0.5, "A5", "A3"),
            np.where(rng.random(int(sel.sum())) < 0.5, "A4", "A6"),
        )
        ev.append(_events(np.flatnonzero(sel), placed[sel], "P", ap, None, 1))

        e = pd.concat(ev, ignore_index=True)
        e["date"] = e["date"].astype("datetime64[ns]")
        e = e[e["date"] <= pd.Series(stop.astype("datetime64[ns]"))[e["spell"]].to_numpy()]
        e = e.sort_values(["spell", "date", "prio"], kind="stable")
        # one episode per date: an event on a later placement-moves date after the
        # adoptive placement is dropped so the adoptive placement stands to the end
        e = e.drop_duplicates(["spell", "date"], keep="first")
        after_adopt = (
            e.assign(a=e["place"].isin(["A3", "A4", "A5", "A6"])).groupby("spell")["a"].cummax()
        )
        drop = after_adopt & ~e["place"].isin(["A3", "A4", "A5", "A6"]) & (e["rne"] != "L")
        e = e[~drop]
        e["place"] = e.groupby("spell")["place"].ffill()
        prev_ls = e.groupby("spell")["ls"].ffill().groupby(e["spell"]).shift(1)
        e["ls"] = e.groupby("spell")["ls"].ffill()
        legal_change = (e["rne"] == "L") & (e["ls"] != prev_ls)
        e = e[(e["rne"] != "L") | legal_change].copy()
        nxt = e.groupby("spell")["date"].shift(-1)
        sp_exit = pd.Series(sp["exit"].to_numpy().astype("datetime64[ns]"))
        last = nxt.isna()
        e["episode_end"] = nxt.where(~last, sp_exit[e["spell"]].to_numpy())
        e["reason_ceased"] = np.where(last, sp["rec"].to_numpy()[e["spell"]], "X1")
        e.loc[e["episode_end"].isna(), "reason_ceased"] = None
        next_rne = e.groupby("spell")["rne"].shift(-1)
        rpc = _choice(
            rng,
            {
                "CARPL": 0.25,
                "CHILD": 0.15,
                "LAREQ": 0.2,
                "PLACE": 0.15,
                "STAND": 0.1,
                "ALLEG": 0.05,
                "CREQO": 0.05,
                "OTHER": 0.05,
            },
            len(e),
        )
        e["reason_place_change"] = np.where(next_rne.isin(["P", "T", "U"]), rpc, None)
        e["reason_place_change"] = np.where(
            next_rne.isin(["P", "T"])
            & e.groupby("spell")["place"].shift(-1).isin(["A3", "A4", "A5", "A6"]),
            "CARPL",
            e["reason_place_change"],
        )
        con = _choice(
            rng,
            {
                "N1": 0.62,
                "N2": 0.03,
                "N3": 0.02,
                "N4": 0.08,
                "N5": 0.14,
                "N6": 0.01,
                "N7": 0.02,
                "N8": 0.08,
            },
            n,
        )
        con = np.where(uasc, "N8", con)
        provider = _choice(
            rng, {"PR1": 0.45, "PR4": 0.40, "PR2": 0.05, "PR3": 0.05, "PR5": 0.05}, len(e)
        )
        child = self.cid(sp["child"].to_numpy()[e["spell"]])
        episodes = pd.DataFrame(
            {
                "child_id": child,
                "episode_start": e["date"].to_numpy(),
                "reason_new_episode": e["rne"].to_numpy(),
                "legal_status": e["ls"].to_numpy(),
                "category_of_need": con[e["spell"]],
                "placement_type": e["place"].to_numpy(),
                "placement_provider": np.where(e["place"].isin(["R1", "Z1"]), None, provider),
                "episode_end": e["episode_end"].to_numpy(),
                "reason_ceased": e["reason_ceased"].to_numpy(),
                "reason_place_change": e["reason_place_change"].to_numpy(),
            }
        )
        self.moves = e[e["rne"].isin(["P", "T", "U"])][["spell", "date"]]

        # looked-after reviews: 20 working days, then 3 months, then every 6 months
        first = add_working_days_np(
            entry,
            np.where(
                rng.random(n) < P.P_REVIEW_LATE, rng.integers(21, 35, n), rng.integers(8, 21, n)
            ),
        )
        owner, later = _recurring(
            rng, first, stop, (60, 91, 92, 130), (150, 182, 183, 230), P.P_REVIEW_LATE, False
        )
        rv_owner = np.concatenate([np.arange(n)[first <= stop], owner])
        rv_date = np.concatenate([first[first <= stop], later])
        reviews = pd.DataFrame(
            {"child_id": self.cid(sp["child"].to_numpy()[rv_owner]), "review_date": rv_date}
        )
        self.review_dates = pd.DataFrame({"spell": rv_owner, "date": rv_date})

        # permanence plans: first decision, and for planted drifters two changes
        rows = [
            pd.DataFrame(
                {
                    "spell": np.arange(n),
                    "decision_date": sp["decision"],
                    "plan": sp["plan"],
                    "seq": 0,
                }
            )
        ]
        ch = sp["changes"].to_numpy()
        rows.append(
            pd.DataFrame(
                {
                    "spell": np.flatnonzero(ch),
                    "decision_date": sp["d2"][ch],
                    "plan": sp["plan2"][ch],
                    "seq": 1,
                }
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "spell": np.flatnonzero(ch),
                    "decision_date": sp["d3"][ch],
                    "plan": sp["final_plan"][ch],
                    "seq": 2,
                }
            )
        )
        cs = ceases & adopt
        rows.append(
            pd.DataFrame(
                {
                    "spell": np.flatnonzero(cs),
                    "decision_date": ceased[cs],
                    "plan": "long_term_fostering",
                    "seq": 3,
                }
            )
        )
        pp = pd.concat(rows, ignore_index=True).sort_values(["spell", "decision_date", "seq"])
        pp["decision_date"] = pp["decision_date"].astype("datetime64[ns]")
        pp = pp[
            pp["decision_date"] <= pd.Series(stop.astype("datetime64[ns]"))[pp["spell"]].to_numpy()
        ]
        pp = pp.drop_duplicates(["spell", "decision_date"], keep="last")
        is_last = pp.groupby("spell").cumcount(ascending=False) == 0
        ach = pd.Series(sp["achieved"].to_numpy().astype("datetime64[ns]"))[pp["spell"]].to_numpy()
        pp["achieved_date"] = np.where(is_last & ~(cs[pp["spell"]]), ach, np.datetime64("NaT"))
        pp["achieved_date"] = pp["achieved_date"].where(pp["achieved_date"] >= pp["decision_date"])
        perm_plans = pd.DataFrame(
            {
                "child_id": self.cid(sp["child"].to_numpy()[pp["spell"]]),
                "decision_date": pp["decision_date"].to_numpy(),
                "plan": pp["plan"].to_numpy(),
                "achieved_date": pp["achieved_date"].to_numpy(),
            }
        )

        # adoptions (AD1 / placed for adoption)
        a = np.flatnonzero(adopt & (sp["decision"].to_numpy() <= stop))
        st = stop[a]
        adoptions = pd.DataFrame(
            {
                "child_id": self.cid(sp["child"].to_numpy()[a]),
                "decision_date": sp["decision"].to_numpy()[a],
                "placement_order_date": np.where(po[a] <= st, po[a], np.datetime64("NaT")),
                "matched_date": np.where(
                    (sp["match"].to_numpy()[a] <= st) & ~ceases[a],
                    sp["match"].to_numpy()[a],
                    np.datetime64("NaT"),
                ),
                "placed_date": np.where(
                    (placed[a] <= st) & ~ceases[a], placed[a], np.datetime64("NaT")
                ),
                "adoption_order_date": np.where(
                    (sp["order"].to_numpy()[a] <= st)
                    & ~ceases[a]
                    & (sp["rec"].to_numpy()[a] != ""),
                    sp["order"].to_numpy()[a],
                    np.datetime64("NaT"),
                ),
                "plan_ceased_date": np.where(
                    ceases[a] & (ceased[a] <= st), ceased[a], np.datetime64("NaT")
                ),
                "fostering_for_adoption": sp["ffa"].to_numpy()[a],
            }
        )
        return episodes, reviews, perm_plans, adoptions

    def visits(self) -> pd.DataFrame:
        rng, end = self.rng, self.end
        frames = []

        def add(owner_child, dates, vtype, team, worker):
            frames.append(
                pd.DataFrame(
                    {
                        "child_id": owner_child,
                        "visit_date": dates,
                        "visit_type": vtype,
                        "seen_alone": rng.random(len(dates)) < 0.8,
                        "worker_id": self.worker(team, worker),
                    }
                )
            )

        for plans, vtype, standard in (
            (self.cp, "cp", P.CP_VISIT_WD),
            (self.cin, "cin", P.CIN_VISIT_WD),
        ):
            starts = plans["start_date"].to_numpy().astype("datetime64[D]")
            stops = np.where(plans["end_date"].isna(), end, plans["end_date"]).astype(
                "datetime64[D]"
            )
            on = (max(standard - 4, 1), standard)
            late = (standard + 1, standard * 2)
            owner, dates = _recurring(
                rng, starts, stops, (*on, *late), (*on, *late), P.P_VISIT_LATE, True
            )
            add(
                plans["child_id"].to_numpy()[owner],
                dates,
                vtype,
                plans["team"].to_numpy()[owner],
                plans["worker"].to_numpy()[owner],
            )
        sp = self.sp_in
        entry = sp["entry"].to_numpy().astype("datetime64[D]")
        stop = sp["stop"].to_numpy().astype("datetime64[D]")
        owner, dates = _recurring(
            rng, entry, stop, (1, 7, 8, 14), (28, 42, 43, 60), P.P_VISIT_LATE, False
        )
        mv = self.moves
        mv_dates = (
            mv["date"].to_numpy().astype("datetime64[D]")
            + np.where(
                rng.random(len(mv)) < P.P_VISIT_LATE,
                rng.integers(8, 15, len(mv)),
                rng.integers(1, 8, len(mv)),
            )
            * DAY
        )
        ok = mv_dates <= stop[mv["spell"].to_numpy()]
        owner = np.concatenate([owner, mv["spell"].to_numpy()[ok]])
        dates = np.concatenate([dates, mv_dates[ok]])
        add(
            self.cid(sp["child"].to_numpy()[owner]),
            dates,
            "cla",
            sp["team"].to_numpy()[owner],
            rng.integers(0, P.WORKERS_PER_TEAM, len(owner)),
        )
        v = pd.concat(frames, ignore_index=True)
        v = v[v["visit_date"] <= end]
        return v.drop_duplicates(["child_id", "visit_date", "visit_type"]).reset_index(drop=True)

    def case_audits(self) -> tuple[pd.DataFrame, dict]:
        """About 40 audits a month of open cases, a fifth moderated by a second reader."""
        rng, cfg, sim = self.rng, self.sim.cfg, self.sim
        planted = cfg.planted
        team_effect = rng.normal(0, 0.25, len(P.TEAMS))
        sp = self.sp_in
        pools = {
            "cin": (
                self.cin["child_id"].to_numpy(),
                self.cin["start_date"].to_numpy(),
                self.cin["end_date"].to_numpy(),
                self.cin["team"].to_numpy(),
            ),
            "cp": (
                self.cp["child_id"].to_numpy(),
                self.cp["start_date"].to_numpy(),
                self.cp["end_date"].to_numpy(),
                self.cp["team"].to_numpy(),
            ),
            "cla": (
                self.cid(sp["child"]),
                sp["entry"].to_numpy(),
                sp["exit"].to_numpy(),
                sp["team"].to_numpy(),
            ),
        }
        leavers = sp["rec"].isin(["E17", "E5", "E6"]).to_numpy()
        ex = sp["exit"].to_numpy().astype("datetime64[D]")
        pools["care_leaver"] = (
            self.cid(sp["child"])[leavers],
            ex[leavers],
            ex[leavers] + 3 * 365 * DAY,
            sp["team"].to_numpy()[leavers],
        )
        months = pd.period_range(str(sim.start)[:7], str(sim.end)[:7], freq="M")
        rows = []
        for month in months:
            first = np.datetime64(month.start_time.date(), "D")
            last = np.datetime64(month.end_time.date(), "D")
            n = rng.poisson(P.AUDITS_PER_MONTH)
            types = _choice(rng, P.CASE_TYPE_MIX, n)
            days = np.arange(first, last + DAY, DAY)
            days = days[np.is_busday(days, busdaycal=_cal())]
            for ctype in P.CASE_TYPE_MIX:
                m = int((types == ctype).sum())
                child, s, e, team = pools[ctype]
                s = s.astype("datetime64[D]")
                e = e.astype("datetime64[D]")
                active = np.flatnonzero((s <= last) & (np.isnat(e) | (e >= first)))
                if m == 0 or len(active) == 0:
                    continue
                pick = active[rng.integers(0, len(active), m)]
                date = days[rng.integers(0, len(days), m)]
                date = np.maximum(date, s[pick])
                rows.append(
                    pd.DataFrame(
                        {
                            "child_id": child[pick],
                            "audit_date": date,
                            "team_idx": team[pick],
                            "case_type": ctype,
                        }
                    )
                )
        a = (
            pd.concat(rows, ignore_index=True)
            .sort_values(["audit_date", "child_id"], kind="stable")
            .reset_index(drop=True)
        )
        n = len(a)
        step = (a["audit_date"] >= np.datetime64(planted.grade_step_month + "-01")).to_numpy()
        q_sd, auditor_sd = 0.70, 0.35
        q = 2.55 + team_effect[a["team_idx"]] + planted.grade_step * step + rng.normal(0, q_sd, n)
        auditor = np.array(P.AUDITORS)[rng.integers(0, len(P.AUDITORS), n)]
        lenient = auditor == planted.lenient_auditor
        seen = q + np.where(lenient, planted.leniency, 0.0)

        def grade(x):
            return np.clip(np.rint(x), 1, 4).astype(np.int64)

        overall = grade(seen + rng.normal(0, auditor_sd, n))
        moderated = rng.random(n) < P.MODERATED_SHARE
        mod_grade = np.where(moderated, grade(q + rng.normal(0, auditor_sd, n)), -1)
        offsets = {
            "confidence": 0.0,
            "clarity": 0.1,
            "community": 0.3,
            "coproduction": 0.35,
            "curiosity": 0.25,
            "compassion": -0.2,
        }
        base = {
            "plan_smart": 0.3,
            "plan_timescales": 0.8,
            "plan_contingency": -0.2,
            "plan_child_voice": 0.5,
            "plan_coproduced": 0.0,
            "plan_written_for_child": -0.6,
        }
        out = pd.DataFrame(
            {
                "audit_id": self._ids("AU", n),
                "child_id": a["child_id"].to_numpy(),
                "audit_date": a["audit_date"].to_numpy(),
                "auditor_id": auditor,
                "team": np.array(P.TEAMS)[a["team_idx"].to_numpy()],
                "worker_id": self.worker(a["team_idx"], rng.integers(0, P.WORKERS_PER_TEAM, n)),
                "case_type": a["case_type"].to_numpy(),
                "overall_grade": overall,
                **{k: grade(seen + offsets[k] + rng.normal(0, 0.5, n)) for k in ANCHORS},
                **{
                    k: rng.random(n) < 1 / (1 + np.exp(-(base[k] - 1.5 * (seen - 2.5))))
                    for k in PLAN_CHECKLIST
                },
                "moderated_grade": pd.array(np.where(moderated, mod_grade, 0), dtype="Int64"),
            }
        )
        out.loc[~moderated, "moderated_grade"] = pd.NA
        # expected share graded 1-2 (latent grade below 2.5), averaged over the realised
        # team effects and the auditors (one of them lenient)
        sd = np.sqrt(q_sd**2 + auditor_sd**2)
        shift = team_effect[:, None] + np.array(
            [planted.leniency if a == planted.lenient_auditor else 0.0 for a in P.AUDITORS]
        )

        def expected(step: float) -> float:
            return round(float(norm.cdf((2.5 - 2.55 - step - shift) / sd).mean()), 3)

        truth = {
            "grade_step_month": planted.grade_step_month,
            "grade_step": planted.grade_step,
            "expected_good_or_better_before": expected(0.0),
            "expected_good_or_better_after": expected(planted.grade_step),
            "lenient_auditor": planted.lenient_auditor,
            "leniency_latent_grade_points": planted.leniency,
            "team_effects": {
                t: round(float(x), 3) for t, x in zip(P.TEAMS, team_effect, strict=True)
            },
        }
        return out, truth


#: Tables ``generate`` can leave out: nothing else is built from them.
SKIPPABLE = frozenset({"visits", "case_audits"})


def _stage_truth(planted: P.Planted) -> dict:
    mult = {
        s: {g: planted.decision_multiplier.get(s, {}).get(g, 1.0) for g in ETHNIC_GROUPS[:-1]}
        for s in P.STAGES
    }
    cumulative, running = {}, dict.fromkeys(ETHNIC_GROUPS[:-1], 1.0)
    for s in P.STAGES:
        running = {g: running[g] * mult[s][g] for g in running}
        cumulative[s] = {g: round(v, 6) for g, v in running.items()}
    return {"decision_multiplier": mult, "stage_rate_ratio": cumulative}


def generate(cfg: SynthConfig | None = None, skip: Collection[str] = ()) -> Borough:
    """Simulate a borough. Same config (seed included) gives the same tables.

    ``skip`` names tables not to build ("visits", "case_audits": the dearest, which no
    other table depends on), for studies that repeat a simulation many times. The model
    is the same but the random stream is not, so the other tables are a different draw
    than a full build's; the truth of a skipped table is None.

    Returns
    -------
    Borough with ``tables`` (every canonical table, typed as model.TABLES declares) and
    ``truth`` (the planted effects and their true values, JSON-ready).
    """
    unknown = set(skip) - SKIPPABLE
    if unknown:
        raise ValueError(f"cannot skip {sorted(unknown)}; skippable: {sorted(SKIPPABLE)}")
    cfg = cfg or SynthConfig()
    sim = _Sim(cfg)
    sim.population()
    sim.referrals()
    sim.chain()
    sim.spells()
    sim.resolve_overlaps()
    sim.relevant()
    t = _Tables(sim)
    episodes, cla_reviews, perm_plans, adoptions = t.cla()
    cp_plans, cp_reviews = t.cp_plans()
    cin_plans = t.cin_plans()
    audits, audit_truth = t.case_audits() if "case_audits" not in skip else (None, None)
    tables = {
        "children": t.children(),
        "referrals": t.referrals(),
        "assessments": t.assessments(),
        "s47_enquiries": t.s47(),
        "cp_plans": cp_plans,
        "cp_reviews": cp_reviews,
        "cin_plans": cin_plans,
        "cla_episodes": episodes,
        "cla_reviews": cla_reviews,
        "permanence_plans": perm_plans,
        "adoptions": adoptions,
        "visits": t.visits() if "visits" not in skip else None,
        "case_audits": audits,
        "population": sim.population_table(),
    }
    tables = {name: _canonical(name, frame) for name, frame in tables.items() if name not in skip}

    planted = cfg.planted
    sp = t.sp_in
    drifting = sp[sp["drift_type"] != ""]
    pl = lambda med, sd, limit: round(float(norm.cdf((np.log(limit) - np.log(med)) / sd)), 3)  # noqa: E731
    truth = {
        "generator": "audit_lib.synthetic",
        "seed": cfg.seed,
        "children": cfg.children,
        "extract_date": cfg.extract_date,
        "window": {"start": str(sim.start), "end": str(sim.end)},
        "population_mix": {"ethnicity": P.ETHNIC_MIX, "male_share": P.MALE_SHARE},
        "disproportionality": {
            "reference": "white_british",
            "conditional_on": "idaci_decile",
            "counting": "events per child-year; stages are nested (each follows the previous)",
            "deprivation_log_slope_per_decile": P.DEPRIVATION_LOG_SLOPE,
            **_stage_truth(planted),
        },
        "timeliness": {
            "slow_team": planted.slow_team,
            "assessment_45wd_expected_share": {
                "slow_team": pl(planted.slow_assessment_median_wd, P.ASSESSMENT_LOG_SD, 45),
                "other_teams": pl(P.ASSESSMENT_MEDIAN_WD, P.ASSESSMENT_LOG_SD, 45),
            },
            "icpc_15wd_expected_share": {
                "slow_team": pl(planted.slow_icpc_median_wd, P.ICPC_LOG_SD, 15),
                "other_teams": pl(P.ICPC_MEDIAN_WD, P.ICPC_LOG_SD, 15),
            },
            "clock": "assessment start (DfE census measure)",
        },
        "plan_quality": audit_truth,
        "permanence": {
            "drift_share": planted.drift_share,
            "drifting": [
                {"child_id": c, "entry_date": str(pd.Timestamp(d).date()), "drift": k}
                for c, d, k in zip(
                    t.cid(drifting["child"]), drifting["entry"], drifting["drift_type"], strict=True
                )
            ],
            "slow_adoption_group": planted.slow_adoption_group,
            "slow_adoption_factor_on_match": planted.slow_adoption_factor,
        },
    }
    return Borough(tables=tables, truth=truth)


def _canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    table = TABLES[name]
    out = frame[table.column_names].reset_index(drop=True)
    for col in table.columns:
        if col.kind == "bool":
            out[col.name] = out[col.name].astype("object").where(out[col.name].notna(), None)
        # already typed columns skip to_datetime, whose cache probe walks the values
        if col.kind == "date" and not pd.api.types.is_datetime64_any_dtype(out[col.name]):
            out[col.name] = pd.to_datetime(out[col.name])
    out = out.astype(table.dtypes)
    return out.sort_values(list(table.key), kind="stable", na_position="first").reset_index(
        drop=True
    )
