"""Cost-effectiveness: incremental costs and outcomes, ICERs with dominance, net benefit.

Pure functions on per-replication totals (one row per arm and replication: total discounted
cost overall, by payer and for the program's agencies, and the discounted outcome totals of
``metrics.CEA_OUTCOMES``). Differences are paired by replication (common random numbers), so
their intervals are those of the paired differences. Active use and housed days are at each
arm's community-day rate over the same time in the target group (``metrics.outcome_totals``),
so an arm is not credited or blamed for days its people spend in or out of custody.

ICERs divide mean incremental cost by mean incremental effect (a ratio of means), with Fieller's
95% interval over the paired replications (``stats.ratio_ci``): the simulation's own noise with
the scenario's parameters fixed, not parameter uncertainty (``lead-sim psa``). With three
or more arms the efficiency frontier is found by the standard procedure: order by cost,
drop strongly dominated options (costlier and no more effective than another), then drop
options with extended dominance (an ICER higher than that of the next costlier option) until
ICERs increase along the frontier.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lead_sim.outcomes.metrics import CEA_OUTCOMES
from lead_sim.stats import mean_ci, ratio_ci

ND, DOMINATED, EXTENDED = "ND", "D", "ED"


def effect_sign(outcome: str) -> float:
    """+1 when more of the outcome is good (housed days), -1 when it is averted (re-arrests)."""
    return 1.0 if CEA_OUTCOMES[outcome][0] == "gained" else -1.0


def frontier(names: list[str], costs: list[float], effects: list[float]) -> pd.DataFrame:
    """ICER table: status ND (on the frontier), D (strongly dominated), ED (extended dominance).

    Incremental cost, effect and ICER are against the previous option on the frontier.
    """
    df = pd.DataFrame({"option": names, "cost": costs, "effect": effects})
    df["status"] = ND
    order = df.sort_values(["cost", "effect"], ascending=[True, False]).index.tolist()
    # strong dominance: another option costs no more and is at least as effective
    best_effect = -math.inf
    for i in order:
        if df.at[i, "effect"] <= best_effect:
            df.at[i, "status"] = DOMINATED
        else:
            best_effect = df.at[i, "effect"]
    # extended dominance: ICERs must increase along the frontier
    while True:
        nd = [i for i in order if df.at[i, "status"] == ND]
        icers = [math.nan] + [
            (df.at[b, "cost"] - df.at[a, "cost"]) / (df.at[b, "effect"] - df.at[a, "effect"]) for a, b in zip(nd, nd[1:], strict=False)
        ]
        bad = [nd[k] for k in range(1, len(nd) - 1) if icers[k] > icers[k + 1]]
        if not bad:
            break
        df.at[bad[0], "status"] = EXTENDED
    df["inc_cost"] = math.nan
    df["inc_effect"] = math.nan
    df["icer"] = math.nan
    for k in range(1, len(nd)):
        a, b = nd[k - 1], nd[k]
        df.at[b, "inc_cost"] = df.at[b, "cost"] - df.at[a, "cost"]
        df.at[b, "inc_effect"] = df.at[b, "effect"] - df.at[a, "effect"]
        df.at[b, "icer"] = icers[k]
    return df.loc[order].reset_index(drop=True)


def incremental_table(totals: pd.DataFrame, comparator: str, wtp: list[float],
                      wtp_by_outcome: dict[str, float] | None = None) -> pd.DataFrame:
    """cea.csv: for each arm and outcome, incremental cost and effect with 95% intervals, the
    ICER (cost per unit averted or gained), and net monetary benefit at each willingness to pay.

    ``totals`` columns: arm, replication, cost_total_usd, and one column per outcome. ``wtp`` is
    the same grid for every outcome (``nmb_at_<wtp>`` columns); ``wtp_by_outcome`` values each
    outcome at its own willingness to pay (``cea.wtp_usd_per_unit``: columns ``wtp_usd``,
    ``nmb_usd``, ``nmb_ci_low``, ``nmb_ci_high``).
    """
    wide = totals.set_index(["replication", "arm"]).unstack("arm")
    rows = []
    arms = [a for a in dict.fromkeys(totals["arm"]) if a != comparator]
    for arm in arms:
        d_cost = (wide[("cost_total_usd", arm)] - wide[("cost_total_usd", comparator)]).to_numpy()
        c_m, c_lo, c_hi = mean_ci(d_cost)
        for outcome, (direction, unit) in CEA_OUTCOMES.items():
            eff = effect_sign(outcome) * (wide[(outcome, arm)] - wide[(outcome, comparator)]).to_numpy()
            e_m, e_lo, e_hi = mean_ci(eff)
            icer = c_m / e_m if e_m != 0 else math.nan
            i_lo, i_hi = ratio_ci(d_cost, eff)
            # dominance read from the means: said so when an interval also allows the opposite
            unsure = "; on average only: the intervals allow otherwise"
            if e_m > 0 and c_m <= 0:
                verdict = f"dominant (saves money and improves the outcome{unsure if c_hi > 0 or e_lo <= 0 else ''})"
            elif e_m <= 0 and c_m > 0:
                verdict = f"dominated (costs more, no improvement{unsure if c_lo <= 0 or e_hi > 0 else ''})"
            elif e_m > 0:
                verdict = f"costs {icer:,.0f} USD per {unit} {direction}" + _interval_text(i_lo, i_hi, len(d_cost))
            elif e_m == 0:  # and no dearer: no ratio to state
                verdict = "no difference in this outcome, at no extra cost"
            else:
                verdict = f"saves {icer:,.0f} USD per {unit} lost" + _interval_text(i_lo, i_hi, len(d_cost))
            row = {"arm": arm, "comparator": comparator, "outcome": outcome, "unit": unit, "direction": direction,
                   "incremental_cost_usd": c_m, "cost_ci_low": c_lo, "cost_ci_high": c_hi,
                   "incremental_effect": e_m, "effect_ci_low": e_lo, "effect_ci_high": e_hi,
                   "icer_usd_per_unit": icer, "icer_ci_low": i_lo, "icer_ci_high": i_hi,
                   "verdict": verdict, "reps": len(d_cost)}
            if wtp_by_outcome is not None and outcome in wtp_by_outcome:
                own = float(wtp_by_outcome[outcome])
                n_m, n_lo, n_hi = mean_ci(own * eff - d_cost)
                row.update({"wtp_usd": own, "nmb_usd": n_m, "nmb_ci_low": n_lo, "nmb_ci_high": n_hi})
            for lam in wtp:
                n_m, n_lo, n_hi = mean_ci(lam * eff - d_cost)
                row[f"nmb_at_{lam:g}"] = n_m
                row[f"nmb_at_{lam:g}_ci_low"] = n_lo
                row[f"nmb_at_{lam:g}_ci_high"] = n_hi
            rows.append(row)
    return pd.DataFrame(rows)


def _interval_text(lo: float, hi: float, reps: int) -> str:
    """The ICER's interval as the verdict states it (``stats.ratio_ci``: NaN when unbounded)."""
    if reps < 2:
        return ""
    if math.isnan(lo):
        return " (95% interval unbounded: the effect is not distinguishable from 0 over these replications)"
    return f" (95% interval {lo:,.0f} to {hi:,.0f})"


def frontier_table(totals: pd.DataFrame) -> pd.DataFrame:
    """The efficiency frontier of all arms (comparator included), for each outcome."""
    means = totals.groupby("arm", sort=False).mean(numeric_only=True)
    parts = []
    for outcome in CEA_OUTCOMES:
        f = frontier(list(means.index), list(means["cost_total_usd"]), list(effect_sign(outcome) * means[outcome]))
        parts.append(f.rename(columns={"option": "arm"}).assign(outcome=outcome))
    return pd.concat(parts, ignore_index=True)[["outcome", "arm", "cost", "effect", "status", "inc_cost", "inc_effect", "icer"]]


def budget_view(totals: pd.DataFrame, comparator: str) -> pd.DataFrame:
    """Net present value and benefit-cost ratio of each arm against the comparator.

    Program cost = the extra discounted spending of ``costs.program_agencies``; benefits = the
    discounted reduction in every other agency's spending. NPV = benefits - program cost;
    BCR = benefits / program cost.
    """
    wide = totals.set_index(["replication", "arm"]).unstack("arm")
    rows = []
    for arm in [a for a in dict.fromkeys(totals["arm"]) if a != comparator]:
        program = (wide[("cost_program_usd", arm)] - wide[("cost_program_usd", comparator)]).to_numpy()
        other = (wide[("cost_total_usd", arm)] - wide[("cost_total_usd", comparator)]).to_numpy() - program
        benefit = -other
        npv = benefit - program
        p_m, p_lo, p_hi = mean_ci(program)
        b_m, b_lo, b_hi = mean_ci(benefit)
        n_m, n_lo, n_hi = mean_ci(npv)
        bcr = b_m / p_m if p_m > 0 else math.nan
        rows.append((arm, comparator, p_m, p_lo, p_hi, b_m, b_lo, b_hi, n_m, n_lo, n_hi, bcr, len(npv)))
    return pd.DataFrame(rows, columns=["arm", "comparator", "program_cost_usd", "program_ci_low", "program_ci_high",
                                       "benefit_usd", "benefit_ci_low", "benefit_ci_high", "npv_usd", "npv_ci_low",
                                       "npv_ci_high", "benefit_cost_ratio", "reps"])


def linear_breakeven(intercept: np.ndarray, slope: np.ndarray) -> float:
    """x with mean(intercept) + x * mean(slope) = 0 (for a unit cost, which enters linearly)."""
    b = float(np.mean(slope))
    return -float(np.mean(intercept)) / b if b != 0 else math.nan
