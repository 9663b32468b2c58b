"""Monte Carlo precision: add replications until the chosen headline numbers are precise enough.

``lead-sim compare --precision 0.05 --precision-metric bookings_per_person_year`` runs the
scenario's replications, then keeps adding replications until, for every chosen metric, every
arm's mean and every arm's paired difference from the comparator has a 95% interval whose
half-width is at most 5% of the number itself (``--max-reps`` caps the total). Replication ``r``
always uses the same random streams, so the result is exactly that of ``compare --reps N`` with
the final N.

How many more: with ``n`` replications and worst relative half-width ``h``, the half-width
shrinks like ``1/sqrt(n)``, so about ``n (h / target)^2`` are needed; 10% more are asked for
(the standard deviation is itself estimated) and at least one more replication per round.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from lead_sim.runs.experiment import ExperimentResult, compare, summarise

COLUMNS = ["metric", "arm", "comparator", "number", "value", "ci_low", "ci_high", "half_width", "relative_half_width",
           "target", "met", "reps"]


def precision_table(metrics: pd.DataFrame, comparator: str | None, chosen: list[str], target: float) -> pd.DataFrame:
    """precision.csv: each chosen metric's arm means and paired differences, with relative half-widths."""
    m = metrics[metrics["metric"].isin(chosen)]
    rows = []
    for r in summarise(m).itertuples(index=False):
        rows.append((r.metric, r.arm, "", "mean", r.mean, r.ci_low, r.ci_high, r.reps))
    if comparator is not None and m["arm"].nunique() > 1:
        reps = int(m["replication"].nunique())
        for r in compare(m, comparator).itertuples(index=False):
            rows.append((r.metric, r.arm, comparator, "difference", r.difference, r.ci_low, r.ci_high, reps))
    out = []
    for metric, arm, comp, number, value, lo, hi, reps in rows:
        half = (hi - lo) / 2 if not (math.isnan(lo) or math.isnan(hi)) else math.inf
        if half == 0:
            rel = 0.0
        elif value == 0 or math.isnan(value):
            rel = math.inf
        else:
            rel = half / abs(value)
        out.append((metric, arm, comp, number, value, lo, hi, half, rel, target, rel <= target, reps))
    return pd.DataFrame(out, columns=COLUMNS)


def replications_needed(n: int, worst: float, target: float, step: int = 1) -> int:
    """How many replications should bring the worst relative half-width down to ``target``."""
    if not math.isfinite(worst):
        return 2 * n
    return max(n + step, math.ceil(n * (worst / target) ** 2 * 1.1))


def merge(a: ExperimentResult, b: ExperimentResult) -> ExperimentResult:
    """Two runs of the same arms over consecutive replications, as one."""
    order = {arm: i for i, arm in enumerate(a.arms)}
    metrics = pd.concat([a.metrics, b.metrics], ignore_index=True)
    metrics = metrics.sort_values(["arm", "replication"], key=lambda s: s.map(order) if s.name == "arm" else s,
                                  kind="stable").reset_index(drop=True)
    tables = dict(a.tables)
    for name, df in b.tables.items():
        tables[name] = pd.concat([tables[name], df], ignore_index=True) if name in tables else df
    extras = {k: dict(v) for k, v in a.extras.items()}
    for name, d in b.extras.items():
        extras.setdefault(name, {}).update(d)
    return ExperimentResult(a.arms, a.replications + b.replications, metrics, tables, extras,
                            a.n_steps + b.n_steps, a.person_years_simulated + b.person_years_simulated,
                            a.task_seconds + b.task_seconds)


def run_to_precision(first: ExperimentResult, comparator: str | None, chosen: list[str], target: float, max_reps: int,
                     run_more: Callable[[int, int], ExperimentResult],
                     report: Callable[[str], None] = lambda _s: None) -> tuple[ExperimentResult, pd.DataFrame]:
    """Add replications with ``run_more(first_replication, count)`` until ``chosen`` meet ``target``."""
    result = first
    while True:
        n = result.replications
        table = precision_table(result.metrics, comparator, chosen, target)
        worst = float(table["relative_half_width"].max())
        if bool(table["met"].all()) or n >= max_reps:
            return result, table
        want = min(max_reps, replications_needed(n, worst, target))
        report(f"precision: worst relative half-width {worst:.1%} after {n} replications (target {target:.1%}); "
               f"running to {want}")
        result = merge(result, run_more(n, want - n))
