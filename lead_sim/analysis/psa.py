"""Parameter cases (PSA draws, tornado bars, sweep points): draw, validate, simulate once, price many.

A *case* is a set of values for uncertain parameters (dotted scenario keys). For every case and
arm the scenario is rebuilt with those values and validated like any scenario (an invalid
case stops the run with the key, the value and what was expected). Then:

* **Simulate once per distinct simulation.** Two cases that differ only in unit costs
  (``repricing.is_pricing_key``) share their simulations; so does every case of an arm whose
  LEAD is switched off, when the cases differ only in LEAD's parameters. A simulation is named
  by a hash of everything the model reads (:func:`simulation_key`).
* **Common random numbers.** Replication ``r`` uses the same random streams in every case and
  arm (the scenario's ``run.seed``), so differences between cases are not blurred by
  different random numbers.
* **Price every case.** Each simulation is summarised as its non-cost metrics, its discounted
  outcome totals and its discounted cost quantities; each case is priced from those
  (``repricing``). Results are put back in case and arm order, so they do not depend on how
  many workers ran the simulations, on a Dask cluster, or on an interruption and resume.

The draws of a PSA (:func:`generate_draws`) come from their own stream of the seed: independent
standard normals, correlated through the Cholesky factor of ``uncertainty.correlation``
(a Gaussian copula), mapped to each parameter's distribution by its inverse CDF. Draw ``i`` is
the same whatever the number of draws.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy.special import ndtr  # the standard normal CDF, as scipy.stats.norm.cdf computes it

from lead_sim.model.engine import model_inputs
from lead_sim.outcomes.costing import COST_COLUMNS
from lead_sim.outcomes.metrics import (
    CEA_OUTCOMES,
    arm_metrics,
    metric_names,
    outcome_totals,
    participant_months_discounted,
)
from lead_sim.outcomes.repricing import Prices, cost_values, prices, quantities
from lead_sim.runs.branching import group_by_prefix, simulate_branches
from lead_sim.runs.executors import run_tasks
from lead_sim.scenario.loading import Document, ScenarioError, format_validation_error
from lead_sim.scenario.paths import lookup, set_number
from lead_sim.scenario.schema import Scenario
from lead_sim.scenario.uncertainty import Uncertainty, is_number

#: mixed into the seed so the draws never share a stream with the simulation
DRAW_STREAM = 0x50534131  # "PSA1"


# ---- draws ----------------------------------------------------------------------------------------


def integer_keys(base: Scenario, paths: Iterable[str]) -> set[str]:
    """Keys whose scenario value is an integer (draws are rounded to whole numbers)."""
    data = base.model_dump(mode="python", by_alias=True, exclude_none=True)
    out = set()
    for p in paths:
        found, value, _ = lookup(data, p)
        if found and is_number(value) and isinstance(value, int):
            out.add(p)
    return out


def generate_draws(unc: Uncertainty, n: int, seed: int, base: Scenario) -> pd.DataFrame:
    """``n`` draws of every uncertain parameter: columns draw, then one per parameter."""
    names = unc.names()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), DRAW_STREAM]))
    z = rng.standard_normal((n, len(names)))  # row by row: draw i does not depend on n
    if unc.correlation:
        z = z @ np.linalg.cholesky(unc.correlation_matrix()).T
    u = np.clip(ndtr(z), 1e-12, 1 - 1e-12)
    integer = integer_keys(base, names)
    cols: dict[str, np.ndarray] = {"draw": np.arange(n)}
    for j, name in enumerate(names):
        dist = unc.parameters[name]
        values = np.array([dist.ppf(float(x)) for x in u[:, j]], dtype=float)
        cols[name] = np.rint(values) if name in integer else values
    return pd.DataFrame(cols)


# ---- applying values ------------------------------------------------------------------------------


def _overlaps(path: str, keys: Iterable[str]) -> bool:
    return any(path == k or path.startswith(k + ".") or k.startswith(path + ".") for k in keys)


def apply_values(sc: Scenario, values: dict[str, float], *, skip: Iterable[str] = (), label: str) -> Scenario:
    """``sc`` with each key set to its value (keys an arm sets itself are left to the arm), validated.

    An invalid result raises ScenarioError whose lines name ``label``, the key and the problem.
    """
    data = sc.model_dump(mode="python", by_alias=True, exclude_none=True)
    skip = list(skip)
    changed = False
    for path, value in values.items():
        if value is None or (isinstance(value, float) and np.isnan(value)) or _overlaps(path, skip):
            continue
        if not changed:
            data, changed = copy.deepcopy(data), True
        if not set_number(data, path, float(value)):  # check_paths makes this unreachable for declared keys
            raise ScenarioError([f"{path}: no such key in the scenario"])
    if not changed:
        return sc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_error(exc, Document(data, {(): label}, []))
        shown = ", ".join(f"{k}={v:.6g}" for k, v in values.items() if v is not None and not _overlaps(k, skip))
        raise ScenarioError(lines + [f"{label}: values: {shown}"]) from None


def simulation_key(sc: Scenario) -> str:
    """A name for everything the model reads: equal keys give identical simulations.

    Unit costs are left out (they only price a simulation), and so is the ``lead`` section of an
    arm without LEAD (``tests/test_psa.py`` checks that the model then ignores it).
    """
    d = model_inputs(sc)
    if not d["lead"]["enabled"]:
        d["lead"] = {"enabled": False}
    else:
        for svc in d["lead"]["services"].values():
            svc.pop("cost", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:24]


# ---- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimTask:
    """One simulation: an arm scenario (any of the cases that share it) and a replication."""

    key: str
    scenario: Scenario
    replication: int


@dataclass
class Plan:
    """Cases x arms x replications, reduced to the distinct simulations they need."""

    cases: list[dict[str, float]]
    arms: list[str]
    replications: int
    tasks: list[SimTask] = field(default_factory=list)
    cells: dict[tuple[int, str], tuple[list[str], Prices]] = field(default_factory=dict)
    metric_names: list[str] = field(default_factory=list)

    @property
    def n_cells(self) -> int:
        """Number of (case, arm, replication) cells to price: more than the distinct simulations when cases share them."""
        return len(self.cases) * len(self.arms) * self.replications

    def fingerprint(self) -> str:
        """Short hash of the plan's simulation keys, in order: a saved run resumes only if this matches."""
        return hashlib.sha256("\n".join(t.key for t in self.tasks).encode()).hexdigest()[:16]


def make_plan(arms: dict[str, Scenario], arm_keys: dict[str, list[str]], cases: list[dict[str, float]],
              replications: int, labels: list[str] | None = None,
              progress: Callable[[int], None] | None = None) -> Plan:
    """Validate every case of every arm and list the distinct simulations.

    ``arm_keys``: the keys each arm sets itself (its ``set``), which a case does not override.
    """
    plan = Plan(cases, list(arms), replications)
    seen: dict[str, SimTask] = {}
    problems: list[str] = []
    for i, values in enumerate(cases):
        label = labels[i] if labels else f"case {i}"
        for arm, sc in arms.items():
            try:
                case_sc = apply_values(sc, values, skip=arm_keys.get(arm, ()), label=f"{label} (arm {arm})")
            except ScenarioError as exc:
                problems.extend(exc.problems)
                break
            skey = simulation_key(case_sc)
            keys = []
            for r in range(replications):
                key = f"{skey}-r{r}"
                if key not in seen:
                    seen[key] = SimTask(key, case_sc, r)
                keys.append(key)
            plan.cells[(i, arm)] = (keys, prices(case_sc))
        if problems:
            raise ScenarioError(problems)
        if progress:
            progress(1)
    plan.tasks = list(seen.values())
    plan.metric_names = metric_names(next(iter(arms.values())))
    return plan


# ---- one simulation ---------------------------------------------------------------------------------

_NO_COSTS = pd.DataFrame({c: pd.Series(dtype=float if c in ("day", "end_day", "usd", "usd_discounted") else object)
                          for c in COST_COLUMNS})


def simulate_summaries(tasks: list[SimTask]) -> list[dict]:
    """Simulate tasks of one replication that differ only in LEAD and costs (the years before
    LEAD starts once for all of them, ``lead_sim.runs.branching``); for each, its non-cost metrics,
    outcome totals and cost quantities (JSON-able)."""
    t0 = time.perf_counter()
    # the summaries read the analysis window only (day 0 on): the warm-up's records are not kept
    out = simulate_branches([t.scenario for t in tasks], tasks[0].replication,
                            lambda i, sim: _summary(tasks[i].scenario, sim), record_from=0.0)
    seconds = round((time.perf_counter() - t0) / len(tasks), 3)  # wall time of the group, shared out
    for res in out:
        res["seconds"] = seconds
    return out


def _summary(sc: Scenario, sim) -> dict:
    rate = sc.run.discount_rate_per_year
    m = arm_metrics(sim.events, sim.spells, sim.people, sc, sim.t_end, lines=_NO_COSTS)
    metrics = {k: float(v) for k, v in m.items() if not k.startswith("cost_")}
    totals = {k: float(v) for k, v in outcome_totals(sim.events, sim.spells, sim.people, rate, sim.t_end).items()}
    totals["participant_months_discounted"] = participant_months_discounted(sim.spells, rate, sim.t_end)
    return {"metrics": metrics, "totals": totals, "qty": quantities(sim.events, sim.spells, sc, sim.t_end),
            "n_steps": int(sim.n_steps)}


#: at most this many simulations share one run of the years before LEAD starts: larger groups save
#: a little more time but return later (a resumed run redoes an unfinished group) and balance worse
MAX_GROUP = 24


def execute(plan: Plan, *, jobs: int = 1, scheduler: str | None = None, done: dict | None = None,
            on_result: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """Run every task of ``plan`` not already in ``done``; return key -> summary for all tasks.

    Tasks that can share the years before LEAD starts run in groups (at most :data:`MAX_GROUP`,
    and small enough that every worker gets several groups). On a Dask cluster every task is its
    own group: tasks run in worker threads there, where nothing is forked (``branching.can_fork``).
    """
    results = dict(done or {})
    todo = [t for t in plan.tasks if t.key not in results]
    size = 1 if scheduler else max(1, min(MAX_GROUP, -(-len(todo) // (3 * max(1, jobs)))))
    groups = [[todo[i] for i in g] for g in
              group_by_prefix(todo, lambda t: t.scenario, lambda t: t.replication, max_size=size)]

    def got(i: int, res: list[dict]) -> None:
        for task, r in zip(groups[i], res, strict=True):
            results[task.key] = r
            if on_result:
                on_result(task.key, r)

    run_tasks(simulate_summaries, groups, jobs=jobs, scheduler=scheduler, on_result=got)
    return results


# ---- results ----------------------------------------------------------------------------------------

TOTAL_COLUMNS_HEAD = ["cost_total_usd", "cost_program_usd"]


def total_columns(payers: Iterable[str]) -> list[str]:
    """Per-case totals for decision analysis (discounted, for the whole target group)."""
    return (TOTAL_COLUMNS_HEAD + [f"cost_payer_{p}_usd" for p in payers] + ["participant_months_discounted"]
            + list(CEA_OUTCOMES))


def assemble(plan: Plan, results: dict[str, dict], case_column: str = "case") -> pd.DataFrame:
    """One row per case and arm: every metric and total, averaged over the case's replications."""
    any_prices = next(iter(plan.cells.values()))[1]
    # (the metrics hold the whole-group cost totals too: each column once)
    columns = list(dict.fromkeys(plan.metric_names + total_columns(any_prices.payers)))
    rows = []
    for i in range(len(plan.cases)):
        for arm in plan.arms:
            keys, p = plan.cells[(i, arm)]
            reps = []
            for key in keys:
                res = results[key]
                v = dict(res["metrics"])
                v.update(res["totals"])
                v.update(cost_values(res["qty"], p, res["metrics"]["people"]))
                reps.append([v.get(c, np.nan) for c in columns])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN columns (p_rearrest_24m)
                mean = np.nanmean(np.array(reps, dtype=float), axis=0)
            rows.append([i, arm, len(keys), *mean])
    return pd.DataFrame(rows, columns=[case_column, "arm", "reps", *columns])


def with_parameters(table: pd.DataFrame, cases: pd.DataFrame, on: str) -> pd.DataFrame:
    """Append the case's parameter values (columns named by their dotted keys) to each row."""
    return table.merge(cases, on=on, how="left", validate="many_to_one")
