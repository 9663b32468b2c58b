"""The ``--costs average|marginal`` option every command shares: a cost lens for the whole run.

It is a shorthand for ``--set costs.lens=...``: the lens enters through the scenario, so
compare, budget, cea, psa, tornado, sweep, calibrate, the break-even search and the reports
all price with the same values (``costing.to_price_year`` reads it).
"""

from __future__ import annotations

import click

from lead_sim.outcomes.costing import LENS_MEANING, PROGRAM_FORM_MEANING
from lead_sim.scenario.schema import Scenario

_KEY = "lead_sim.costs_lens"


def _remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_KEY] = value


costs_option = click.option(
    "--costs", type=click.Choice(["average", "marginal"]), default=None, expose_value=False, callback=_remember,
    help="cost lens: average (fully loaded) or marginal (what budgets save or spend at once) value of every "
         "unit cost (default: the scenario's costs.lens); the same as --set costs.lens=...",
)


def lens_overrides() -> list[str]:
    """``["costs.lens=..."]`` when ``--costs`` was given to the running command, else ``[]``."""
    ctx = click.get_current_context(silent=True)
    value = ctx.meta.get(_KEY) if ctx is not None else None
    return [f"costs.lens={value}"] if value else []


def lens_line(sc: Scenario) -> str:
    """One line for every command's output: which cost lens and program form its costs show."""
    lens = sc.costs.lens
    other = "average" if lens == "marginal" else "marginal"
    return (f"cost lens: {lens} ({LENS_MEANING[lens]}; --costs {other} for the other); "
            f"program priced {PROGRAM_FORM_MEANING[sc.costs.program.form]}")
