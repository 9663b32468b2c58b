"""The ``--costs average|marginal`` option every command shares: a cost lens for the whole run.

It is a shorthand for ``--set costs.lens=...``: the lens enters through the scenario, so
compare, budget, cea, psa, tornado, sweep, calibrate, the break-even search and the reports
all price with the same values (``costing.to_price_year`` reads it). A command receives the
option as its ``costs`` argument and adds :func:`lens_overrides` to its ``--set`` overrides.
"""

from __future__ import annotations

import click

from lead_sim.outcomes.costing import LENS_MEANING, PROGRAM_FORM_MEANING
from lead_sim.scenario.schema import Scenario

costs_option = click.option(
    "--costs", "costs", type=click.Choice(["average", "marginal"]), default=None,
    help="cost lens: average (fully loaded) or marginal (what budgets save or spend at once) value of every "
         "unit cost (default: the scenario's costs.lens); the same as --set costs.lens=...",
)


def lens_overrides(costs: str | None) -> list[str]:
    """``["costs.lens=..."]`` when ``--costs`` was given (the command's ``costs`` argument), else ``[]``."""
    return [f"costs.lens={costs}"] if costs else []


def lens_line(sc: Scenario) -> str:
    """One line for every command's output: which cost lens and program form its costs show."""
    lens = sc.costs.lens
    other = "average" if lens == "marginal" else "marginal"
    return (f"cost lens: {lens} ({LENS_MEANING[lens]}; --costs {other} for the other); "
            f"program priced {PROGRAM_FORM_MEANING[sc.costs.program.form]}")
