"""The Seattle LEAD evaluation design, run on simulated people.

Collins, Lonczak & Clifasefi (2017) compared a LEAD group (people referred to LEAD) with a
comparison group (people arrested for LEAD-eligible offenses who were not diverted) and
estimated odds ratios for *any arrest* after versus before each person's evaluation entry, by
logistic regression with group x period terms. Published: 0.40 for the 6 months after vs
before entry, 0.42 over the long term, 0.61 for any felony charge over the long term.

Here the same design is applied to one simulated arm in which LEAD runs:

* LEAD group: people with a LEAD referral in the analysis period; entry = first referral.
* Comparison group: people never referred who were arrested (new offense) for possession or
  prostitution in the analysis period while LEAD was running - what an evaluator sees in
  booking records (charge type), not the model's hidden eligibility; entry = that arrest,
  which itself belongs to neither window.
* Windows: ``months`` before vs after entry (6), or the long term: from ``long_term_before_days``
  before the analysis start up to entry vs after entry to the end of the period.
* Estimator: logit(any event) = group + period + group x period, fitted by maximum likelihood
  (statsmodels GLM, binomial) with standard errors clustered by person (the independence
  working model of GEE); the odds ratio is exp(group x period).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lead_sim import names as N

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


def cohorts(events: pd.DataFrame, t_end: float, lead_t0: float = 0.0) -> pd.DataFrame:
    """person_id, group (1 LEAD, 0 comparison), entry_day."""
    ev = events[(events["day"] >= max(0.0, lead_t0)) & (events["day"] < t_end)]
    ev_event = ev["event"].astype(str)
    referred = ev[ev_event == N.LEAD_REFERRAL].groupby("person_id")["day"].min()
    contacts = ev[ev_event == N.POLICE_CONTACT]
    charged = contacts[contacts["detail"].astype(str).isin([N.POSSESSION, N.PROSTITUTION])][["person_id", "day"]]
    arrests = ev[(ev_event == N.ARREST) & (ev["detail"].astype(str) == "new_offense")][["person_id", "day"]]
    eligible_arrests = arrests.merge(charged, on=["person_id", "day"], how="inner")
    eligible_arrests = eligible_arrests[~eligible_arrests["person_id"].isin(referred.index)]
    comparison = eligible_arrests.groupby("person_id")["day"].min()
    return pd.concat([
        pd.DataFrame({"person_id": referred.index, "group": 1, "entry_day": referred.to_numpy()}),
        pd.DataFrame({"person_id": comparison.index, "group": 0, "entry_day": comparison.to_numpy()}),
    ], ignore_index=True)


def _any_in_window(times: pd.DataFrame, cohort: pd.DataFrame, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each cohort row: is there an event with lo < day < hi (strict: the entry is excluded)?"""
    joined = cohort[["person_id"]].assign(row=np.arange(len(cohort)), lo=lo, hi=hi).merge(times, on="person_id")
    inside = joined[(joined["day"] > joined["lo"]) & (joined["day"] < joined["hi"])]
    out = np.zeros(len(cohort), dtype=bool)
    out[inside["row"].unique()] = True
    return out


def design_table(events: pd.DataFrame, t_start: float, t_end: float, outcome: str = N.ARREST, window: str = "6m",
                 lead_t0: float = 0.0, long_term_before_days: float = 2 * N.DAYS_PER_YEAR) -> pd.DataFrame:
    """One row per person and period (0 before, 1 after) with y = any outcome event in the window."""
    cohort = cohorts(events, t_end, lead_t0)
    entry = cohort["entry_day"].to_numpy()
    if window == "6m":
        keep = (entry - DAYS_6M >= t_start) & (entry + DAYS_6M <= t_end)
        cohort, entry = cohort[keep].reset_index(drop=True), entry[keep]
        before = (entry - DAYS_6M, entry)
        after = (entry, entry + DAYS_6M)
    else:
        start = max(t_start, -long_term_before_days)
        before = (np.full(len(entry), start), entry)
        after = (entry, np.full(len(entry), t_end))
    times = events.loc[events["event"].astype(str) == outcome, ["person_id", "day"]]
    y0 = _any_in_window(times, cohort, *before)
    y1 = _any_in_window(times, cohort, *after)
    base = cohort[["person_id", "group"]]
    return pd.concat([base.assign(period=0, y=y0.astype(int)), base.assign(period=1, y=y1.astype(int))], ignore_index=True)


def odds_ratio(table: pd.DataFrame, target: str) -> Estimate:
    """exp(group x period) from a binomial GLM with person-clustered standard errors."""
    import statsmodels.api as sm

    n_lead = int(table.loc[table["group"] == 1, "person_id"].nunique())
    n_comp = int(table.loc[table["group"] == 0, "person_id"].nunique())
    nan = Estimate(target, math.nan, math.nan, math.nan, math.nan, math.nan, n_lead, n_comp)
    if n_lead < 5 or n_comp < 5:
        return nan
    g, p = table["group"].to_numpy(float), table["period"].to_numpy(float)
    X = np.column_stack([np.ones(len(table)), g, p, g * p])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(table["y"].to_numpy(float), X, family=sm.families.Binomial()).fit(
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


def evaluate(events: pd.DataFrame, t_start: float, t_end: float, lead_t0: float = 0.0) -> list[Estimate]:
    """The three Seattle estimates on one simulated arm's event log."""
    return [odds_ratio(design_table(events, t_start, t_end, outcome, window, lead_t0), name)
            for name, (outcome, window) in TARGETS.items()]
