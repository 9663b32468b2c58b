"""Small computations a report needs beyond the run's CSV files, from its Parquet tables.

* time to re-arrest (Kaplan-Meier) curves from ``events.parquet``: re-arrest and the estimator
  are ``outcomes.survival``'s, as for the metrics (a test checks the 6/12/24-month points);
* daily counts of people in jail, enrolled in LEAD and waiting for a LEAD place from
  ``spells.parquet``.

Pure functions of tables; no simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lead_sim import names as N
from lead_sim.outcomes.survival import km_failure_curve, rearrest_times


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
            pe_r = pe_a[pe_a["replication"] == rep]
            t, o = rearrest_times(ev_a[ev_a["replication"] == rep], t_end, pe_r.set_index("person_id")["exit_day"])
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
