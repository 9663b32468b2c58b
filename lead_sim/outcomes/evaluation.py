"""The Seattle LEAD evaluation design, run on simulated people.

Collins, Lonczak & Clifasefi (2017) compared a LEAD group (people referred to LEAD) with a
comparison group (people arrested for LEAD-eligible offenses who were not diverted) and
estimated odds ratios for *any arrest* after versus before each person's evaluation entry, by
logistic regression with group x period terms. Published: 0.40 for the 6 months after vs
before entry, 0.42 over the long term, 0.61 for any felony charge over the long term.

Here the same design is applied to one simulated arm in which LEAD runs. The evaluation recruited
both groups through the same officers with the same criteria: people met on "greenlight" shifts
in the LEAD area were referred (the LEAD group, social-contact referrals included); people
arrested for an eligible offense on "redlight" shifts or in the areas next to it were processed
as usual (the comparison group). Each person entered the evaluation once. How the simulated
comparison group enters is a choice (``Design.comparison_entry``):

* ``first_encounter`` (default): each person's first qualifying event while LEAD runs (a LEAD
  referral, or an arrest for possession or prostitution, the charge an evaluator sees in booking
  records) decides the group and the entry day. Neither group can have a qualifying event in its
  "before" window after LEAD started: the groups are recruited alike. A comparison person
  referred later stays in the comparison group (as a recruited control would).
* ``first_arrest``: people never referred, entering at their first eligible arrest (lead-sim's
  rule before version 0.9). Asymmetric: a LEAD participant's eligible arrests before referral
  count in the "before" window, a comparison person's cannot, which by itself lowers the odds
  ratios (README, "Calibration and validation").
* ``random_arrest``: people never referred, entering at one of their eligible arrests while LEAD
  runs, chosen at random (reproducibly: ``Design.seed``).

The entry event itself belongs to neither window. Windows: ``months`` before vs after entry (6),
or the long term: from ``long_term_before_days`` before the analysis start up to entry vs after
entry to the end of the period.

Weighting (``Design.weighting``): ``propensity_att`` (default; the evaluation balanced its groups
by propensity-score weighting and reported the effect on the treated) weights each comparison
person by p/(1-p), p the fitted probability of being in the LEAD group given their history at
entry (log of 1 + arrests in the two years before entry, any arrest in the 6 months before, any
felony charge in the two years before; a logistic regression; p capped at 0.99); ``none`` weights
everyone 1. Only the event log is used, so administrative records give the same weights
(``calibration/records.py``).

Estimator: logit(any event) = group + period + group x period, fitted by weighted maximum
likelihood (statsmodels GLM, binomial, ``var_weights``) with standard errors clustered by person
(the independence working model of GEE); the odds ratio is exp(group x period).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.scenario.schema import Scenario

DAYS_6M = 6 * N.DAYS_PER_MONTH


@dataclass(frozen=True)
class Estimate:
    """One of the evaluation's odds ratios (``target``): exp(group x period) with its 95% interval
    (person-clustered standard errors), the log odds ratio and its standard error, and the people in
    each group. NaN when it cannot be estimated (under 5 people in a group, or separation)."""

    target: str
    odds_ratio: float
    ci_low: float
    ci_high: float
    log_or: float
    se_log_or: float
    n_lead: int
    n_comparison: int


ENTRY_RULES = ("first_encounter", "first_arrest", "random_arrest")
WEIGHTINGS = ("propensity_att", "none")


@dataclass(frozen=True)
class Design:
    """How the evaluation's groups are formed and weighted (see the module's docstring)."""

    comparison_entry: str = "first_encounter"
    weighting: str = "propensity_att"
    long_term_before_days: float = 2 * N.DAYS_PER_YEAR
    seed: int = 0  # for ``random_arrest``

    def __post_init__(self) -> None:
        """Refuse an unknown rule (the scenario schema checks the same lists first)."""
        if self.comparison_entry not in ENTRY_RULES:
            raise ValueError(f"comparison_entry: expected one of {list(ENTRY_RULES)}; found {self.comparison_entry!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting: expected one of {list(WEIGHTINGS)}; found {self.weighting!r}")


def design_of(sc: Scenario) -> Design:
    """The scenario's ``evaluation`` section as a :class:`Design`."""
    e = sc.evaluation
    return Design(e.comparison_entry, e.weighting, float(e.long_term_before_days), e.seed)


def eligible_arrests(events: pd.DataFrame) -> pd.DataFrame:
    """person_id, day of every arrest for a new possession or prostitution offense (the charge an
    evaluator sees in booking records, not the model's hidden eligibility)."""
    ev_event = events["event"].astype(str)
    contacts = events[ev_event == N.POLICE_CONTACT]
    charged = contacts[contacts["detail"].astype(str).isin([N.POSSESSION, N.PROSTITUTION])][["person_id", "day"]]
    arrests = events[(ev_event == N.ARREST) & (events["detail"].astype(str) == "new_offense")][["person_id", "day"]]
    return arrests.merge(charged.drop_duplicates(), on=["person_id", "day"], how="inner")


def cohorts(events: pd.DataFrame, t_end: float, lead_t0: float = 0.0, design: Design = Design()) -> pd.DataFrame:
    """person_id, group (1 LEAD, 0 comparison), entry_day: who enters the evaluation, when,
    by ``design.comparison_entry`` (events from the later of day 0 and LEAD's start to ``t_end``)."""
    ev = events[(events["day"] >= max(0.0, lead_t0)) & (events["day"] < t_end)]
    referred = ev[ev["event"].astype(str) == N.LEAD_REFERRAL].groupby("person_id")["day"].min()
    arrests = eligible_arrests(ev)
    rule = design.comparison_entry
    if rule == "first_encounter":
        first_arrest = arrests.groupby("person_id")["day"].min()
        both = pd.concat([referred.rename("ref"), first_arrest.rename("arr")], axis=1)
        lead = both["ref"].notna() & ~(both["arr"] < both["ref"])  # a referral first (or the same day)
        comparison = both.loc[~lead, "arr"]
        referred = both.loc[lead, "ref"]
    else:
        pool = arrests[~arrests["person_id"].isin(referred.index)]
        if rule == "first_arrest":
            comparison = pool.groupby("person_id")["day"].min()
        else:  # random_arrest: one of each person's eligible arrests, reproducibly
            pool = pool.drop_duplicates().sort_values(["person_id", "day"], kind="mergesort").reset_index(drop=True)
            u = np.random.default_rng(design.seed).random(len(pool))
            comparison = pool.assign(u=u).sort_values(["person_id", "u"], kind="mergesort").groupby("person_id")["day"].first()
    return pd.concat([
        pd.DataFrame({"person_id": referred.index.to_numpy(), "group": 1, "entry_day": referred.to_numpy(dtype=float)}),
        pd.DataFrame({"person_id": comparison.index.to_numpy(), "group": 0, "entry_day": comparison.to_numpy(dtype=float)}),
    ], ignore_index=True)


def _count_in_window(times: pd.DataFrame, cohort: pd.DataFrame, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each cohort row: the events with lo < day < hi (strict: the entry is excluded)."""
    joined = cohort[["person_id"]].assign(row=np.arange(len(cohort)), lo=lo, hi=hi).merge(times, on="person_id")
    inside = joined[(joined["day"] > joined["lo"]) & (joined["day"] < joined["hi"])]
    return np.bincount(inside["row"].to_numpy(dtype=np.int64), minlength=len(cohort))


def _any_in_window(times: pd.DataFrame, cohort: pd.DataFrame, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each cohort row: is there an event with lo < day < hi (strict: the entry is excluded)?"""
    return _count_in_window(times, cohort, lo, hi) > 0


def history(events: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """Each cohort person's history at entry, from the event log: arrests in the two years
    before entry, any arrest in the 6 months before, any felony charge in the two years before."""
    entry = cohort["entry_day"].to_numpy(dtype=float)
    ev = events["event"].astype(str)
    arrests = events.loc[ev == N.ARREST, ["person_id", "day"]]
    felonies = events.loc[ev == N.CHARGE_FELONY, ["person_id", "day"]]
    two_years = entry - 2 * N.DAYS_PER_YEAR
    return pd.DataFrame({
        "arrests_2y": _count_in_window(arrests, cohort, two_years, entry),
        "any_arrest_6m": _any_in_window(arrests, cohort, entry - DAYS_6M, entry).astype(int),
        "any_felony_2y": _any_in_window(felonies, cohort, two_years, entry).astype(int),
    })


def propensity_weights(events: pd.DataFrame, cohort: pd.DataFrame, weighting: str = "propensity_att") -> np.ndarray:
    """One weight per cohort row: 1 for the LEAD group; for the comparison group p/(1-p) under
    ``propensity_att`` (p from a logistic regression of group on ``history``, capped at 0.99),
    else 1. Falls back to 1 for everyone when the regression cannot be fitted (a group under 5
    people, or separation)."""
    import statsmodels.api as sm

    ones = np.ones(len(cohort))
    group = cohort["group"].to_numpy(dtype=float)
    if weighting == "none" or min(int(group.sum()), int(len(group) - group.sum())) < 5:
        return ones
    h = history(events, cohort)
    X = np.column_stack([np.ones(len(cohort)), np.log1p(h["arrests_2y"].to_numpy(float)),
                         h["any_arrest_6m"].to_numpy(float), h["any_felony_2y"].to_numpy(float)])
    keep = X.std(axis=0) > 0
    keep[0] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(group, X[:, keep], family=sm.families.Binomial()).fit()
        p = np.clip(np.asarray(fit.predict(X[:, keep]), dtype=float), 1e-6, 0.99)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
        return ones
    if not np.all(np.isfinite(p)):
        return ones
    return np.where(group == 1, 1.0, p / (1 - p))


def design_table(events: pd.DataFrame, t_start: float, t_end: float, outcome: str = N.ARREST, window: str = "6m",
                 lead_t0: float = 0.0, long_term_before_days: float | None = None,
                 design: Design = Design()) -> pd.DataFrame:
    """One row per person and period (0 before, 1 after) with y = any outcome event in the window
    and the person's weight (``design.weighting``)."""
    cohort = cohorts(events, t_end, lead_t0, design)
    entry = cohort["entry_day"].to_numpy()
    if window == "6m":
        keep = (entry - DAYS_6M >= t_start) & (entry + DAYS_6M <= t_end)
        cohort, entry = cohort[keep].reset_index(drop=True), entry[keep]
        before = (entry - DAYS_6M, entry)
        after = (entry, entry + DAYS_6M)
    else:
        lookback = design.long_term_before_days if long_term_before_days is None else long_term_before_days
        start = max(t_start, -lookback)
        before = (np.full(len(entry), start), entry)
        after = (entry, np.full(len(entry), t_end))
    times = events.loc[events["event"].astype(str) == outcome, ["person_id", "day"]]
    y0 = _any_in_window(times, cohort, *before)
    y1 = _any_in_window(times, cohort, *after)
    base = cohort[["person_id", "group"]].assign(weight=propensity_weights(events, cohort, design.weighting))
    return pd.concat([base.assign(period=0, y=y0.astype(int)), base.assign(period=1, y=y1.astype(int))], ignore_index=True)


def odds_ratio(table: pd.DataFrame, target: str) -> Estimate:
    """exp(group x period) from a binomial GLM (weighted by the ``weight`` column when present) with
    person-clustered standard errors."""
    import statsmodels.api as sm

    n_lead = int(table.loc[table["group"] == 1, "person_id"].nunique())
    n_comp = int(table.loc[table["group"] == 0, "person_id"].nunique())
    nan = Estimate(target, math.nan, math.nan, math.nan, math.nan, math.nan, n_lead, n_comp)
    if n_lead < 5 or n_comp < 5:
        return nan
    g, p = table["group"].to_numpy(float), table["period"].to_numpy(float)
    X = np.column_stack([np.ones(len(table)), g, p, g * p])
    w = table["weight"].to_numpy(float) if "weight" in table else np.ones(len(table))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(table["y"].to_numpy(float), X, family=sm.families.Binomial(), var_weights=w).fit(
                cov_type="cluster", cov_kwds={"groups": table["person_id"].to_numpy()})
        b, se = float(fit.params[3]), float(fit.bse[3])
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
        return nan
    if not (math.isfinite(b) and math.isfinite(se)) or abs(b) > 20:
        return nan  # separation: an empty cell makes the odds ratio undefined
    return Estimate(target, math.exp(b), math.exp(b - 1.96 * se), math.exp(b + 1.96 * se), b, se, n_lead, n_comp)


TARGETS = {
    # target name in scenarios/targets/seattle_2017_recidivism.csv -> (outcome event, window)
    N.TARGET_ANY_ARREST_6M: (N.ARREST, "6m"),
    N.TARGET_ANY_ARREST_LONG_TERM: (N.ARREST, "long"),
    N.TARGET_ANY_FELONY_CHARGE_LONG_TERM: (N.CHARGE_FELONY, "long"),
}


def evaluate(events: pd.DataFrame, t_start: float, t_end: float, lead_t0: float = 0.0,
             design: Design = Design()) -> list[Estimate]:
    """The three Seattle estimates on one simulated arm's event log, under ``design``."""
    return [odds_ratio(design_table(events, t_start, t_end, outcome, window, lead_t0, design=design), name)
            for name, (outcome, window) in TARGETS.items()]
