"""Re-arrest: the one definition of its index event, outcome and censoring, and Kaplan-Meier.

*Index*: each person's first arrest or LEAD referral (either route) in the analysis window
``[0, t_end)``. *Outcome*: the next arrest strictly after it. *Censoring*: when the person
leaves the target group (their exit day, when known) or the window ends. The metrics
(``p_rearrest_*``), the CEA's count of re-arrests, the reports' time-to-re-arrest curves and
the targets made from administrative records all read it from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lead_sim import names as N


def _in_window(events: pd.DataFrame, t_end: float) -> pd.DataFrame:
    ev = events[events["event"].isin([N.ARREST, N.LEAD_REFERRAL])]  # the few rows needed, before any copy
    return ev[(ev["day"] >= 0.0) & (ev["day"] < t_end)]


def _first_day(ev: pd.DataFrame) -> pd.Series:
    """person_id -> index day (first arrest or referral), of events already cut to the window (``_in_window``)."""
    return ev.groupby("person_id", observed=True)["day"].min()


def rearrests(events: pd.DataFrame, t_end: float) -> pd.DataFrame:
    """The arrests in the window that follow their person's index day (every one, not only the first)."""
    ev = _in_window(events, t_end)
    idx = _first_day(ev)
    arrests = ev[ev["event"] == N.ARREST]
    first = idx.reindex(arrests["person_id"]).to_numpy()
    return arrests[arrests["day"].to_numpy() > first]


def rearrest_times(events: pd.DataFrame, t_end: float, exit_days: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(days from index to re-arrest or censoring, re-arrested?) for each indexed person.

    ``exit_days``: person_id -> the day they left the target group (None: nobody leaves before
    the window ends, as in administrative records)."""
    ev = _in_window(events, t_end)
    index_day = _first_day(ev)
    arrests = ev[ev["event"] == N.ARREST][["person_id", "day"]]
    # merge on a column (not right_index): with no arrests at all, pandas would name the empty
    # result's index "person_id" too, and the groupby below would refuse it as ambiguous
    joined = arrests.merge(index_day.rename("index_day").reset_index(), on="person_id")
    later = joined[joined["day"] > joined["index_day"]]
    next_day = later.groupby("person_id")["day"].min().reindex(index_day.index)
    if exit_days is None:
        end = np.full(len(index_day), float(t_end))
    else:
        end = exit_days.reindex(index_day.index).clip(upper=t_end).to_numpy(dtype=float)
    observed = next_day.notna().to_numpy()
    times = np.where(observed, next_day.to_numpy() - index_day.to_numpy(), end - index_day.to_numpy())
    return times.astype(float), observed


def km_failure_curve(times: np.ndarray, observed: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 - S(t) on ``grid`` by the product-limit estimator, with a pointwise 95% interval
    (Greenwood's variance, on the log(-log S) scale). NaN beyond the longest follow-up."""
    times = np.asarray(times, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    grid = np.asarray(grid, dtype=float)
    nan = np.full(len(grid), np.nan)
    if len(times) == 0:
        return nan, nan.copy(), nan.copy()
    uniq = np.unique(times)
    at_risk = len(times) - np.searchsorted(np.sort(times), uniq, side="left")
    deaths = np.bincount(np.searchsorted(uniq, times[observed]), minlength=len(uniq))
    surv = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
    idx = np.searchsorted(uniq, grid, side="right") - 1
    s = np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)
    v = np.where(idx >= 0, gw[np.clip(idx, 0, None)], 0.0)
    z = stats.norm.ppf(0.975)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(s)
        se = np.sqrt(v) / np.abs(log_s)
        lo_s = np.exp(-np.exp(np.log(-log_s) + z * se))
        hi_s = np.exp(-np.exp(np.log(-log_s) - z * se))
    lo_s = np.where((s <= 0) | (s >= 1), s, lo_s)
    hi_s = np.where((s <= 0) | (s >= 1), s, hi_s)
    beyond = grid > times.max()
    fail, lo, hi = 1.0 - s, 1.0 - hi_s, 1.0 - lo_s
    for a in (fail, lo, hi):
        a[beyond] = np.nan
    return fail, lo, hi


def kaplan_meier_failure(times: np.ndarray, observed: np.ndarray, at: list[float]) -> list[float]:
    """1 - S(t) at each of ``at`` (:func:`km_failure_curve`'s estimate); NaN where nobody is followed that long."""
    return [float(x) for x in km_failure_curve(times, observed, np.asarray(at, dtype=float))[0]]


def rearrest_probabilities(events: pd.DataFrame, t_end: float, exit_days: pd.Series | None = None) -> dict[str, float]:
    """``p_rearrest_{m}m`` for each window of ``names.REARREST_WINDOWS_MONTHS``."""
    times, observed = rearrest_times(events, t_end, exit_days)
    windows = [m * N.DAYS_PER_MONTH for m in N.REARREST_WINDOWS_MONTHS]
    return {f"p_rearrest_{m}m": f for m, f in zip(N.REARREST_WINDOWS_MONTHS, kaplan_meier_failure(times, observed, windows),
                                                  strict=True)}
