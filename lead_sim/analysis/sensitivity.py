"""Deterministic sensitivity analysis: one-way (tornado) and one- or two-parameter grids (sweep).

Both build a list of *cases* (parameter values applied to every arm) that ``psa.make_plan``
turns into simulations, sharing them wherever only unit costs differ; these functions make the
cases and read the results (:func:`tornado_files`, :func:`sweep_files`: every table a command
writes, from the plan's simulation results). Pure: no simulation here.

* **Tornado**: the base case, then each uncertain parameter at its low and at its high value
  (``uncertainty.one_way_ranges``, or the 2.5th and 97.5th percentiles of its distribution),
  the others at their base values. A bar's *swing* is ``|result at high - result at low|``.
* **Sweep**: every combination of the values given for one or two parameters. Where LEAD
  breaks even (its cost difference from the comparator is zero, for all payers or one payer)
  is found along the first parameter for each value of the second: exactly when the first is a
  unit cost (costs are linear in unit costs, so the straight line through two grid points is
  the cost difference itself), by linear interpolation between the grid points around a sign
  change otherwise.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from lead_sim.analysis.psa import Plan, assemble
from lead_sim.outcomes.costing import to_price_year
from lead_sim.outcomes.metrics import CEA_OUTCOMES
from lead_sim.outcomes.repricing import is_pricing_key
from lead_sim.scenario.paths import lookup
from lead_sim.scenario.schema import PricedUSD, Scenario
from lead_sim.scenario.uncertainty import Uncertainty, is_priced


class GridError(ValueError):
    """A sweep grid could not be read."""


def base_value(sc: Scenario, path: str) -> float:
    """The scenario's own value at ``path`` (a unit cost in dollars of ``run.price_year``)."""
    found, value, _ = lookup(sc.model_dump(mode="python", by_alias=True, exclude_none=True), path)
    if not found:
        return math.nan
    if is_priced(value):
        return to_price_year(PricedUSD(**value), sc)
    return float(value)


def difference_outcomes(payers: list[str]) -> list[str]:
    """Columns whose arm-minus-comparator difference a tornado or sweep reports."""
    return ["cost_total_usd"] + [f"cost_payer_{p}_usd" for p in payers] + list(CEA_OUTCOMES)


# ---- tornado --------------------------------------------------------------------------------------


def tornado_cases(unc: Uncertainty, parameters: list[str] | None = None,
                  integer: set[str] | frozenset[str] = frozenset()) -> tuple[list[dict], pd.DataFrame]:
    """([{}, {p1: low}, {p1: high}, ...], cases table: case, parameter, level, value).

    ``integer``: keys whose scenario value is a whole number (``psa.integer_keys``): their low
    and high are rounded here, as applying them would, so the table shows what is simulated."""
    params = parameters or unc.names()
    cases: list[dict] = [{}]
    rows = [(0, "", "base", math.nan)]
    for p in params:
        lo, hi = unc.one_way_range(p)
        if p in integer:
            lo, hi = float(round(lo)), float(round(hi))
        for level, v in (("low", lo), ("high", hi)):
            rows.append((len(cases), p, level, v))
            cases.append({p: v})
    return cases, pd.DataFrame(rows, columns=["case", "parameter", "level", "value"])


def differences(runs: pd.DataFrame, comparator: str, outcomes: list[str], case: str = "case") -> pd.DataFrame:
    """Each non-comparator arm minus the comparator, per case (paired: same case, same seeds)."""
    base = runs[runs["arm"] == comparator].set_index(case)
    parts = []
    for arm in dict.fromkeys(runs["arm"]):
        if arm == comparator:
            continue
        this = runs[runs["arm"] == arm].set_index(case)
        d = this[outcomes] - base[outcomes].reindex(this.index)
        parts.append(d.reset_index().assign(arm=arm, comparator=comparator))
    out = pd.concat(parts, ignore_index=True)
    return out[[case, "arm", "comparator", *outcomes]]


def tornado_table(runs: pd.DataFrame, cases: pd.DataFrame, comparator: str, outcomes: list[str],
                  base: Scenario) -> pd.DataFrame:
    """tornado.csv: per arm, outcome and parameter: result at base, low and high, and the swing."""
    d = differences(runs, comparator, outcomes).merge(cases, on="case")
    rows = []
    for arm, outcome in itertools.product(dict.fromkeys(d["arm"]), outcomes):
        g = d[d["arm"] == arm]
        at_base = float(g.loc[g["level"] == "base", outcome].iloc[0])
        for p in dict.fromkeys(g.loc[g["level"] != "base", "parameter"]):
            lo = g[(g["parameter"] == p) & (g["level"] == "low")].iloc[0]
            hi = g[(g["parameter"] == p) & (g["level"] == "high")].iloc[0]
            rows.append({"arm": arm, "comparator": comparator, "outcome": f"difference in {outcome}", "parameter": p,
                         "base_value": base_value(base, p), "low_value": float(lo["value"]),
                         "high_value": float(hi["value"]), "result_at_base": at_base,
                         "result_at_low": float(lo[outcome]), "result_at_high": float(hi[outcome]),
                         "swing": abs(float(hi[outcome]) - float(lo[outcome])),
                         "resimulated": not is_pricing_key(p)})
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby(["arm", "outcome"])["swing"].rank(ascending=False, method="first").astype(int)
    return out.sort_values(["arm", "outcome", "rank"], kind="stable").reset_index(drop=True)


def tornado_files(plan: Plan, results: dict[str, dict], cases: pd.DataFrame, comparator: str,
                  base: Scenario) -> dict[str, pd.DataFrame]:
    """``lead-sim tornado``'s results: tornado_runs.csv (every metric of every case and arm, with the
    case's parameter, level and value) and tornado.csv (the bars), from ``plan``'s ``results``."""
    runs = assemble(plan, results)
    table = tornado_table(runs, cases, comparator, difference_outcomes(list(base.costs.payers)), base)
    return {"tornado_runs.csv": runs.merge(cases, on="case"), "tornado.csv": table}


# ---- sweep ----------------------------------------------------------------------------------------


def parse_grid(text: str) -> tuple[str, list[float]]:
    """``key=start:stop:n`` (n evenly spaced values) or ``key=v1,v2,...``."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise GridError(f"--param {text!r}: expected KEY=START:STOP:N or KEY=V1,V2,...")
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 2 or n > 1000:
                raise GridError(f"--param {key}: expected between 2 and 1000 points; found {n}")
            values = [float(x) for x in np.linspace(start, stop, n)]
        else:
            values = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise GridError(f"--param {key}: expected START:STOP:N or V1,V2,... (numbers); found {spec!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise GridError(f"--param {key}: expected finite numbers; found {spec!r}")
    if len(set(values)) != len(values):
        raise GridError(f"--param {key}: values repeat in {spec!r}")
    return key, values


def sweep_cases(grids: list[tuple[str, list[float]]]) -> tuple[list[dict], pd.DataFrame]:
    """Every combination of the grid values, as cases and as a table (``case`` index, one column per parameter).

    The first parameter varies slowest; the case numbers are the row positions of both.
    """
    keys = [k for k, _ in grids]
    combos = list(itertools.product(*[v for _, v in grids]))
    cases = [dict(zip(keys, c, strict=True)) for c in combos]
    table = pd.DataFrame([(i, *c) for i, c in enumerate(combos)], columns=["case", *keys])
    return cases, table


def breakeven_table(diffs: pd.DataFrame, cases: pd.DataFrame, grids: list[tuple[str, list[float]]],
                    column: str, perspective: str) -> pd.DataFrame:
    """sweep_breakeven.csv: along the first parameter, where ``column`` (a cost difference) is zero."""
    p1 = grids[0][0]
    p2 = grids[1][0] if len(grids) > 1 else None
    d = diffs.merge(cases, on="case")
    exact = is_pricing_key(p1)
    rows = []
    for arm, g_arm in d.groupby("arm", sort=False):
        groups = g_arm.groupby(p2, sort=True) if p2 else [(None, g_arm)]
        for v2, g in groups:
            g = g.sort_values(p1)
            x, y = g[p1].to_numpy(dtype=float), g[column].to_numpy(dtype=float)
            root, note = math.nan, ""
            if len(x) < 2:
                note = "one grid point: nothing to interpolate"
            elif exact:
                slope = (y[-1] - y[0]) / (x[-1] - x[0])
                if slope != 0:
                    root = float(x[0] - y[0] / slope)
                    note = "exact: costs are linear in a unit cost"
                    if root < 0:  # a unit cost cannot be negative
                        note = (f"none: the difference stays {'positive' if y[0] > 0 else 'negative'} at every "
                                f"non-negative value (the line reaches zero at {root:.6g})")
                        root = math.nan
                else:
                    note = f"{p1} does not change this cost"
            else:
                s = np.sign(y)
                cross = np.nonzero(s[:-1] * s[1:] <= 0)[0]
                if len(cross):
                    i = int(cross[0])
                    root = float(x[i]) if y[i] == y[i + 1] else float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
                    note = "interpolated between grid points"
                else:
                    note = ("saves money across the grid" if (y < 0).all() else "costs more across the grid")
            row = {"arm": arm, "perspective": perspective}
            if p2:
                row[p2] = v2
            row.update({"breakeven_parameter": p1, "breakeven_value": root, "method": note,
                        "difference_at_min": float(y[0]), "difference_at_max": float(y[-1])})
            rows.append(row)
    return pd.DataFrame(rows)


def perspective_column(perspective: str) -> str:
    """The cost difference that decides break-even: all payers' (``all``) or one payer's."""
    return "cost_total_usd" if perspective == "all" else f"cost_payer_{perspective}_usd"


def sweep_files(plan: Plan, results: dict[str, dict], grids: list[tuple[str, list[float]]], perspective: str,
                comparator: str, payers: list[str]) -> dict[str, pd.DataFrame]:
    """``lead-sim sweep``'s results: sweep.csv (every metric of every grid point and arm),
    sweep_differences.csv (from the comparator) and sweep_breakeven.csv, from ``plan``'s ``results``."""
    _, cases = sweep_cases(grids)
    runs = assemble(plan, results)
    diffs = differences(runs, comparator, difference_outcomes(payers))
    be = breakeven_table(diffs, cases, grids, perspective_column(perspective), perspective)
    return {"sweep.csv": runs.merge(cases, on="case"), "sweep_differences.csv": diffs.merge(cases, on="case"),
            "sweep_breakeven.csv": be}
