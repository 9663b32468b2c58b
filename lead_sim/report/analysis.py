"""Small computations a report needs beyond the run's CSV files, from its Parquet tables.

* time to re-arrest (Kaplan-Meier) curves from ``events.parquet``, with the same index event,
  outcome and censoring as :func:`lead_sim.outcomes.metrics.rearrest` (whose 6/12/24-month points a test
  checks against these curves);
* daily counts of people in jail, enrolled in LEAD and waiting for a LEAD place from
  ``spells.parquet``.

Pure functions of tables; no simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lead_sim import names as N


def rearrest_times(events: pd.DataFrame, people: pd.DataFrame, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """(days from index to re-arrest or censoring, re-arrested?) for one arm-replication.

    Index: each person's first arrest or LEAD referral in ``[0, t_end)``; outcome: the next
    arrest after it; censored when the person leaves the target group or the window ends.
    """
    ev = events[(events["day"] >= 0.0) & (events["day"] < t_end)]
    index_day = ev[ev["event"].isin([N.ARREST, N.LEAD_REFERRAL])].groupby("person_id")["day"].min()
    arrests = ev[ev["event"] == N.ARREST][["person_id", "day"]]
    joined = arrests.merge(index_day.rename("index_day").reset_index(), on="person_id")
    next_day = joined[joined["day"] > joined["index_day"]].groupby("person_id")["day"].min()
    exit_day = people.set_index("person_id")["exit_day"].reindex(index_day.index).clip(upper=t_end)
    nxt = next_day.reindex(index_day.index)
    observed = nxt.notna().to_numpy()
    times = np.where(observed, nxt.to_numpy() - index_day.to_numpy(), exit_day.to_numpy() - index_day.to_numpy())
    return times.astype(float), observed


def km_failure_curve(times: np.ndarray, observed: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 - S(t) on ``grid`` with a pointwise 95% interval (Greenwood, on the log(-log S) scale).

    NaN beyond the longest follow-up.
    """
    times = np.asarray(times, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    nan = np.full(len(grid), np.nan)
    if len(times) == 0:
        return nan, nan.copy(), nan.copy()
    uniq = np.unique(times)
    at_risk = len(times) - np.searchsorted(np.sort(times), uniq, side="left")
    deaths = np.array([observed[times == u].sum() for u in uniq]) if len(uniq) < 2000 else \
        np.bincount(np.searchsorted(uniq, times[observed]), minlength=len(uniq))
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


def km_curves(events: pd.DataFrame, people: pd.DataFrame, t_end: float, arms: list[str],
              step_days: float = 1.0) -> pd.DataFrame:
    """Kaplan-Meier failure (probability of re-arrest) by days since the index event, per arm.

    With one saved replication the interval is Greenwood's; with several, the curve is the mean
    of the replications' curves and the interval a t-interval over them (as in summary.csv).
    Columns: arm, day, month, failure, ci_low, ci_high, replications, people.
    """
    grid = np.arange(0.0, t_end + step_days, step_days)
    parts = []
    for arm in arms:
        ev_a, pe_a = events[events["arm"] == arm], people[people["arm"] == arm]
        reps = sorted(ev_a["replication"].unique())
        curves, n_people = [], 0
        for rep in reps:
            t, o = rearrest_times(ev_a[ev_a["replication"] == rep], pe_a[pe_a["replication"] == rep], t_end)
            curves.append(km_failure_curve(t, o, grid))
            n_people += len(t)
        if not curves:
            continue
        if len(curves) == 1:
            fail, lo, hi = curves[0]
        else:
            stack = np.vstack([c[0] for c in curves])
            fail = np.nanmean(stack, axis=0) if np.isfinite(stack).any() else stack[0]
            n = np.isfinite(stack).sum(axis=0)
            sd = np.nanstd(stack, axis=0, ddof=1) if len(curves) > 1 else np.zeros(len(grid))
            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
            lo, hi = np.clip(fail - half, 0, 1), np.clip(fail + half, 0, 1)
        parts.append(pd.DataFrame({"arm": arm, "day": grid, "month": grid / N.DAYS_PER_MONTH, "failure": fail,
                                   "ci_low": lo, "ci_high": hi, "replications": len(reps),
                                   "people": n_people / max(len(reps), 1)}))
    cols = ["arm", "day", "month", "failure", "ci_low", "ci_high", "replications", "people"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def daily_counts(spells: pd.DataFrame, kinds: list[str], t_end: float, arms: list[str]) -> pd.DataFrame:
    """People in each spell kind at midday of each analysis day, per arm (mean over saved reps).

    Columns: arm, day, kind, count, replications.
    """
    days = np.arange(0, int(np.ceil(t_end)))
    t = days + 0.5
    rows = []
    for arm in arms:
        s_arm = spells[spells["arm"] == arm]
        reps = sorted(s_arm["replication"].unique()) or [0]
        for kind in kinds:
            total = np.zeros(len(t))
            for rep in reps:
                s = s_arm[(s_arm["replication"] == rep) & (s_arm["kind"] == kind)]
                starts = np.sort(s["start_day"].to_numpy(dtype=float))
                ends = np.sort(s["end_day"].to_numpy(dtype=float))
                total += np.searchsorted(starts, t, side="right") - np.searchsorted(ends, t, side="right")
            rows.append(pd.DataFrame({"arm": arm, "day": days, "kind": kind, "count": total / len(reps),
                                      "replications": len(reps)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["arm", "day", "kind", "count", "replications"])
