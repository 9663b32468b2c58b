"""Break-even answers, found on the simulation itself (common random numbers throughout).

* **Program price** (cost per participant-month at which an arm is cost-neutral for one
  payer, who is assumed to pay for the program): unit costs are applied after simulation and
  enter costs linearly, so the root of ``payer's cost difference + price x discounted extra
  participant-months`` is exact, not an extrapolation; it is checked by re-pricing.
* **Effect on the contact hazard** (``lead.rr_contact_engaged``) at which an arm is
  cost-neutral over all payers: behaviour changes, so each trial value is re-simulated with
  the same seeds and replications, and Brent's method finds the root of the mean paired
  cost difference.
* **Payback year**: the first calendar year in which cumulative savings overtake cumulative
  extra cost (from the budget tables).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import with_value
from lead_sim.scenario.schema import Scenario


@dataclass
class BreakEven:
    """One break-even answer for one arm: a row of breakeven.csv (``value`` is NaN where there is none, ``note`` says why)."""

    name: str
    arm: str
    value: float
    unit: str
    method: str
    note: str

    def row(self) -> dict:
        """The answer as a dict of its fields, for a table row."""
        return self.__dict__.copy()


def _paired(totals: pd.DataFrame, arm: str, comparator: str, column: str) -> np.ndarray:
    wide = totals.pivot_table(index="replication", columns="arm", values=column)
    return (wide[arm] - wide[comparator]).to_numpy()


def program_price(totals: pd.DataFrame, arm: str, comparator: str, payer: str) -> BreakEven:
    """Highest price per participant-month ``payer`` could pay for the program, on top of what it
    already spends (its own program lines included, e.g. a city's project manager in a staffing
    budget), and still not spend more than under the comparator."""
    intercept = _paired(totals, arm, comparator, f"cost_payer_{payer}_usd")
    slope = _paired(totals, arm, comparator, "participant_months_discounted")
    b = float(np.mean(slope))
    if b <= 0:
        return BreakEven("program_cost_per_participant_month", arm, math.nan, "USD per participant-month", "exact (linear)",
                         "no participant-months in this arm")
    x = -float(np.mean(intercept)) / b
    if x < 0:
        return BreakEven("program_cost_per_participant_month", arm, math.nan, "USD per participant-month", "exact (linear)",
                         f"none: {payer}'s costs rise by {np.mean(intercept):,.0f} USD before any price per participant-month "
                         "(its savings do not cover what it already spends, its own program lines included)")
    return BreakEven("program_cost_per_participant_month", arm, x, "USD per participant-month", "exact (linear)",
                     f"{payer} saves {-np.mean(intercept):,.0f} USD net (discounted; its own program lines included) over "
                     f"{b:,.1f} discounted participant-months; up to this price a month those savings pay for the program")


def contact_effect(arm_scenario: Scenario, comparator_totals: pd.DataFrame, arm: str, replications: int, jobs: int,
                   lo: float = 0.0, hi: float = 1.0, xtol: float = 0.005,
                   progress: Callable[[float, float], None] | None = None) -> BreakEven:
    """Largest ``lead.rr_contact_engaged`` (smallest effect) at which ``arm`` is cost-neutral overall.

    f(rr) = mean over replications of (arm total cost - comparator total cost), re-simulated at
    each trial value with the same seeds. Cost-neutral at rr* means f(rr*) = 0; a smaller rr
    (a larger effect) saves more.
    """
    base = comparator_totals.set_index("replication")["cost_total_usd"]

    def f(rr: float) -> float:
        sc = with_value(arm_scenario, "lead.rr_contact_engaged", rr)
        res = run_experiment({arm: sc}, replications, jobs=jobs, keep_tables="none", analyses=("cea",))
        cost = pd.Series({rep: df["cost_total_usd"].iloc[0] for (_, rep), df in res.extras["cea"].items()})
        value = float((cost - base.reindex(cost.index)).mean())
        if progress:
            progress(rr, value)
        return value

    f_lo, f_hi = f(lo), f(hi)
    name, unit = "rr_contact_engaged", "rate ratio on the contact hazard while engaged"
    if f_lo > 0 and f_hi > 0:
        return BreakEven(name, arm, math.nan, unit, "Brent root search on re-simulation",
                         f"none in [{lo:g}, {hi:g}]: even at rr={lo:g} the arm costs {f_lo:,.0f} USD more")
    if f_lo <= 0 and f_hi <= 0:
        return BreakEven(name, arm, hi, unit, "Brent root search on re-simulation",
                         f"cost-neutral or better across [{lo:g}, {hi:g}] (at rr={hi:g}: {f_hi:,.0f} USD)")
    root = brentq(f, lo, hi, xtol=xtol)
    return BreakEven(name, arm, root, unit, "Brent root search on re-simulation",
                     f"cost-neutral over all payers when contacts fall to {root:.3f} of their rate while engaged "
                     f"(model value {arm_scenario.lead.rr_contact_engaged:g}); tolerance {xtol:g}")


def payback(diffs_by_year: pd.DataFrame, arm: str) -> BreakEven:
    """First calendar year in which ``arm``'s cumulative undiscounted cost difference from the comparator is zero or less.

    ``diffs_by_year`` is the budget's difference table by calendar year (any further levels, such as payer
    and agency, are summed over); undiscounted, because a budget is paid in the dollars of each year.
    """
    d = diffs_by_year[diffs_by_year["arm"] == arm].groupby("year")["difference_undiscounted_usd"].sum().sort_index()
    cum = d.cumsum()
    hit = cum[cum <= 0]
    if len(hit):
        return BreakEven("payback_year", arm, float(hit.index[0]), "calendar year", "cumulative undiscounted differences",
                         f"cumulative savings overtake cumulative extra cost in {int(hit.index[0])}")
    return BreakEven("payback_year", arm, math.nan, "calendar year", "cumulative undiscounted differences",
                     f"none by {int(d.index.max())}: cumulative extra cost {cum.iloc[-1]:,.0f} USD")
