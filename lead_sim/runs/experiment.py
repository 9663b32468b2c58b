"""Arms x replications: run them (in worker processes), pair them, summarise them.

A *task* is one arm for one replication. Replication ``r`` of every arm uses the same random
streams (common random numbers), so arms are compared replication by replication (paired
differences). Tasks are independent; results are put back in (arm, replication) order, so the
outcome does not depend on how many worker processes ran them or in what order they finished.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lead_sim.outcomes.costing import COST_COLUMNS, TOTALS_COLUMNS, cost_by_payer, cost_lines
from lead_sim.outcomes.metrics import (
    arm_metrics,
    metric_names,
    metrics_by_group,
    outcome_totals,
    participant_months_discounted,
    per_participant_differences,
)
from lead_sim.outcomes.periods import task_tables_from_lines
from lead_sim.runs.branching import group_by_prefix, simulate_branches
from lead_sim.runs.executors import run_tasks
from lead_sim.scenario.schema import Scenario
from lead_sim.stats import mean_ci


@dataclass(frozen=True)
class Task:
    """One arm for one replication, as a worker runs it: the arm's resolved scenario, whether to keep
    its events, spells and people tables, and the extra analyses to compute ("budget", "cea",
    "group:<attribute>", "evaluation")."""

    arm: str
    replication: int
    scenario: Scenario
    keep_tables: bool
    analyses: tuple[str, ...] = ()  # "budget", "cea", "group:<attribute>"


@dataclass
class TaskResult:
    """What a task sends back: its metrics (``arm_metrics``), its tables if kept, the extra analyses'
    tables, the model steps, the person-years simulated (warm-up included) and its wall time in
    seconds (an equal share of its group's)."""

    arm: str
    replication: int
    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] | None
    n_steps: int
    person_years_simulated: float
    seconds: float
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)


def _extras(task: Task, sim, lines: pd.DataFrame) -> dict[str, pd.DataFrame]:
    sc, out = task.scenario, {}
    for analysis in task.analyses:
        if analysis == "budget":
            out.update(task_tables_from_lines(sim.spells, lines, sc, sim.t_end))
        elif analysis == "cea":
            row = {"cost_total_usd": float(lines["usd_discounted"].sum()),
                   "cost_program_usd": float(lines.loc[lines["agency"].isin(sc.costs.program_agencies), "usd_discounted"].sum())}
            row.update(outcome_totals(sim.events, sim.spells, sim.people, sc.run.discount_rate_per_year, sim.t_end))
            for payer, usd in cost_by_payer(lines, list(sc.costs.payers)).items():
                row[f"cost_payer_{payer}_usd"] = usd
            row["participant_months_discounted"] = participant_months_discounted(sim.spells, sc.run.discount_rate_per_year,
                                                                                 sim.t_end)
            out["cea"] = pd.DataFrame([row])
        elif analysis.startswith("group:"):
            out[analysis] = metrics_by_group(sim.events, sim.spells, sim.people, sc, sim.t_end, lines, analysis[6:])
        elif analysis in ("evaluation", "odds_ratios"):  # odds_ratios: the estimates only (calibration)
            from lead_sim.outcomes import utilisation as U
            from lead_sim.outcomes.evaluation import cohorts, design_of, evaluate, propensity_weights

            if sim.records_from > sim.t_start:
                raise RuntimeError("the evaluation needs the warm-up's events; they were not recorded")
            lead_t0 = float((sc.lead.start_date - sc.run.start_date).days)
            design = design_of(sc)
            out["evaluation"] = pd.DataFrame([e.__dict__ for e in evaluate(sim.events, sim.t_start, sim.t_end, lead_t0,
                                                                                  design)])
            if analysis == "evaluation":
                # the evaluator's table on the odds ratios' cohort and weights: use before and after entry,
                # baseline at entry
                cohort = cohorts(sim.events, sim.t_end, lead_t0, design)
                cohort = cohort.assign(weight=propensity_weights(sim.events, cohort, design.weighting))
                out["evaluation_utilisation"] = U.utilisation_table(sim.events, sim.spells, sim.people, cohort,
                                                                    sim.t_start, sim.t_end, lead_t0, U.legal_prices(sc))
                out["evaluation_baseline"] = U.baseline_table(sim.events, sim.spells, sim.people, cohort)
    return out


def summarise_evaluation(per_task: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """evaluation.csv: per arm and target, the odds ratio over replications (geometric mean, with
    a 95% interval from the t-interval of the log odds ratios) and the mean group sizes."""
    data = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in per_task.items()], ignore_index=True)
    rows = []
    for (arm, target), g in data.groupby(["arm", "target"], sort=False):
        m, lo, hi = mean_ci(g["log_or"].to_numpy(dtype=float))
        rows.append((arm, target, float(np.exp(m)), float(np.exp(lo)), float(np.exp(hi)), int(g["log_or"].notna().sum()),
                     float(g["n_lead"].mean()), float(g["n_comparison"].mean())))
    return pd.DataFrame(rows, columns=["arm", "target", "odds_ratio", "ci_low", "ci_high", "reps", "n_lead_mean",
                                       "n_comparison_mean"])


def summarise_utilisation(per_task: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """evaluation_utilisation.csv: per arm, window, measure, group (or contrast) and period, the mean
    over replications with the 95% t-interval and the replications with a value; the odds ratio's
    mean is geometric, its interval from the t-interval of the log odds ratios (as evaluation.csv)."""
    data = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in per_task.items()], ignore_index=True)
    rows = []
    for (arm, window, measure, group, period), g in data.groupby(["arm", "window", "measure", "group", "period"], sort=False):
        v = g["value"].to_numpy(dtype=float)
        if measure.endswith("odds_ratio"):
            with np.errstate(divide="ignore"):
                logs = np.log(v)
            m, lo, hi = (float(np.exp(x)) for x in mean_ci(logs[np.isfinite(logs)]))
            n = int(np.isfinite(logs).sum())
        else:
            m, lo, hi = mean_ci(v)
            n = int(np.isfinite(v).sum())
        rows.append((arm, window, measure, group, period, m, lo, hi, n))
    return pd.DataFrame(rows, columns=["arm", "window", "measure", "group", "period", "mean", "ci_low", "ci_high", "reps"])


def summarise_baseline(per_task: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """evaluation_baseline.csv: per arm, measure and group, the mean over replications with the 95%
    t-interval and the replications with a value."""
    data = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in per_task.items()], ignore_index=True)
    rows = []
    for (arm, measure, group), g in data.groupby(["arm", "measure", "group"], sort=False):
        v = g["value"].to_numpy(dtype=float)
        rows.append((arm, measure, group, *mean_ci(v), int(np.isfinite(v).sum())))
    return pd.DataFrame(rows, columns=["arm", "measure", "group", "mean", "ci_low", "ci_high", "reps"])


def run_group(tasks: list[Task]) -> list[TaskResult]:
    """Tasks of one replication whose arms differ only in LEAD: the years before LEAD starts are
    simulated once for all of them (``lead_sim.runs.branching``); results are as if run one by one."""
    t0 = time.perf_counter()
    results = simulate_branches([t.scenario for t in tasks], tasks[0].replication,
                                lambda i, sim: _task_result(tasks[i], sim), record_from=_record_from(tasks))
    share = (time.perf_counter() - t0) / len(tasks)  # wall time of the group, shared out
    for r in results:
        r.seconds = share
    return results


def _record_from(tasks: list[Task]) -> float:
    """Costs and metrics read the analysis window only: the warm-up's events and spells are kept
    only for tables the user asked to keep (``--keep-events``) and for the simulated evaluation,
    which looks at arrest histories before LEAD."""
    if any(t.keep_tables or "evaluation" in t.analyses or "odds_ratios" in t.analyses for t in tasks):
        return -math.inf
    return 0.0


def line_columns(analyses: tuple[str, ...]) -> tuple[str, ...]:
    """The cost-line columns a task reads: the totals by agency and payer (metrics, CEA), the
    person for group analyses, everything for budgets (periods need the days)."""
    if "budget" in analyses:
        return tuple(COST_COLUMNS)
    wanted = set(TOTALS_COLUMNS) | ({"person_id"} if any(a.startswith("group:") for a in analyses) else set())
    return tuple(c for c in COST_COLUMNS if c in wanted)


def _task_result(task: Task, sim) -> TaskResult:
    lines = cost_lines(sim.events, sim.spells, task.scenario, sim.t_end, columns=line_columns(task.analyses))
    metrics = arm_metrics(sim.events, sim.spells, sim.people, task.scenario, sim.t_end, lines=lines)
    extras = _extras(task, sim, lines)
    tables = None
    if task.keep_tables:
        tables = {}
        for name, df in (("events", sim.events), ("spells", sim.spells), ("people", sim.people)):
            tables[name] = df.assign(arm=task.arm, replication=task.replication)
    span = (sim.people["exit_day"].clip(upper=sim.t_end) - sim.people["entry_day"]).clip(lower=0).sum() / 365.25
    return TaskResult(task.arm, task.replication, metrics, tables, sim.n_steps, float(span), 0.0, extras)


@dataclass
class ExperimentResult:
    """Every task of a run, in (arm, replication) order: the metrics in long form, the kept tables
    of all tasks concatenated, the extra analyses' tables by name and (arm, replication), and the
    totals of model steps, person-years simulated and task seconds."""

    arms: list[str]
    replications: int
    metrics: pd.DataFrame  # long: arm, replication, metric, value
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    extras: dict[str, dict[tuple[str, int], pd.DataFrame]] = field(default_factory=dict)
    n_steps: int = 0
    person_years_simulated: float = 0.0
    task_seconds: float = 0.0


def default_jobs() -> int:
    """The number of worker processes to use by default: the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_experiment(
    arms: dict[str, Scenario],
    replications: int,
    *,
    jobs: int = 1,
    keep_tables: str = "first",
    analyses: tuple[str, ...] = (),
    on_done: Callable[[TaskResult], None] | None = None,
    first_replication: int = 0,
) -> ExperimentResult:
    """Run every arm for ``replications`` replications; ``keep_tables``: none | first | all.

    ``analyses`` asks each task for extra aggregates (``budget``, ``cea``, ``group:<attribute>``),
    returned in ``extras[name][(arm, replication)]``. ``first_replication`` > 0 continues an
    earlier run (replication numbers, and so random streams, carry on from there).
    """
    tasks = [
        Task(arm, rep, sc, keep_tables == "all" or (keep_tables == "first" and rep == 0), tuple(analyses))
        for rep in range(first_replication, first_replication + replications)
        for arm, sc in arms.items()
    ]
    results = _execute(tasks, jobs, on_done)
    order = {arm: i for i, arm in enumerate(arms)}
    results.sort(key=lambda r: (order[r.arm], r.replication))
    names = metric_names(next(iter(arms.values())))
    rows = [(r.arm, r.replication, m, r.metrics[m]) for r in results for m in names]
    metrics = pd.DataFrame(rows, columns=["arm", "replication", "metric", "value"])
    tables: dict[str, pd.DataFrame] = {}
    for name in ("events", "spells", "people"):
        parts = [r.tables[name] for r in results if r.tables is not None]
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    extras: dict[str, dict[tuple[str, int], pd.DataFrame]] = {}
    for r in results:
        for name, df in r.extras.items():
            extras.setdefault(name, {})[(r.arm, r.replication)] = df
    return ExperimentResult(
        arms=list(arms),
        replications=replications,
        metrics=metrics,
        tables=tables,
        extras=extras,
        n_steps=sum(r.n_steps for r in results),
        person_years_simulated=sum(r.person_years_simulated for r in results),
        task_seconds=sum(r.seconds for r in results),
    )


def execute(tasks: list[Task], jobs: int = 1, on_done: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
    """Run the given tasks (any arms and replications), in the order of completion; see :func:`run_experiment`."""
    return _execute(tasks, jobs, on_done)


def _execute(tasks: list[Task], jobs: int, on_done) -> list[TaskResult]:
    """Run the tasks in groups that share the years before LEAD starts, on ``jobs`` workers
    (``executors.run_tasks``: the one process pool); ``on_done`` sees each result as it arrives."""
    groups = [[tasks[i] for i in g] for g in
              group_by_prefix(tasks, lambda t: t.scenario, lambda t: t.replication)]
    results: list[TaskResult] = []

    def got(_index: int, group_results: list[TaskResult]) -> None:
        for result in group_results:
            if on_done:
                on_done(result)
            results.append(result)

    run_tasks(run_group, groups, jobs=jobs, on_result=got)
    return results


# ---- summaries ----------------------------------------------------------------------------------


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: arm, metric, mean, ci_low, ci_high, reps."""
    rows = []
    for (arm, metric), g in metrics.groupby(["arm", "metric"], sort=False):
        m, lo, hi = mean_ci(g["value"].to_numpy())
        if metric.startswith("p_"):  # a probability's interval stays inside [0, 1]
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        rows.append((arm, metric, m, lo, hi, int(g["value"].notna().sum())))
    return pd.DataFrame(rows, columns=["arm", "metric", "mean", "ci_low", "ci_high", "reps"])


def compare(metrics: pd.DataFrame, comparator: str) -> pd.DataFrame:
    """comparison.csv: paired differences of every arm from the comparator, per metric; then the
    differences per LEAD participant and per enrolled person-year
    (``outcomes.metrics.per_participant_differences``), which have no value for one arm alone."""
    wide = metrics.pivot_table(index=["metric", "replication"], columns="arm", values="value", dropna=False, sort=False)
    rows = []
    metric_order = list(dict.fromkeys(metrics["metric"]))
    arm_order = [a for a in dict.fromkeys(metrics["arm"]) if a != comparator]
    for metric in metric_order:
        block = wide.loc[metric]
        base = block[comparator].to_numpy()
        for arm in arm_order:
            vals = block[arm].to_numpy()
            d_mean, lo, hi = mean_ci(vals - base)
            rows.append((metric, comparator, arm, float(np.nanmean(base)) if np.isfinite(base).any() else float("nan"),
                         float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan"), d_mean, lo, hi))
    table = pd.DataFrame(
        rows, columns=["metric", "comparator", "arm", "comparator_mean", "arm_mean", "difference", "ci_low", "ci_high"]
    )
    ratios = per_participant_differences(metrics, comparator)
    return pd.concat([table, ratios], ignore_index=True) if len(ratios) else table


def summarise_groups(long: pd.DataFrame, comparator: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Subgroup versions of summary.csv and comparison.csv (with group and level columns)."""
    s_parts, c_parts = [], []
    for (group, level), g in long.groupby(["group", "level"], sort=False):
        m = g[["arm", "replication", "metric", "value"]]
        s_parts.append(summarise(m).assign(group=group, level=level))
        if comparator:
            c_parts.append(compare(m, comparator).assign(group=group, level=level))
    first = ["group", "level"]
    s = pd.concat(s_parts, ignore_index=True)
    s = s[first + [c for c in s.columns if c not in first]]
    if not c_parts:
        return s, None
    c = pd.concat(c_parts, ignore_index=True)
    return s, c[first + [c_ for c_ in c.columns if c_ not in first]]
