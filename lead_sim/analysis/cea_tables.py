"""Every table of ``lead-sim cea``, from a run's per-task results.

Puts together the incremental table, the efficiency frontier and the budget view (``cea``), the
program-price break-even and payback year (``breakeven``, with the budget's calendar years) and,
when asked, the contact-effect break-even found by re-simulating (``breakeven.contact_effect``).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lead_sim.analysis import breakeven as BE
from lead_sim.analysis import cea as C
from lead_sim.analysis.budget import period_totals, summarise_costs
from lead_sim.scenario.schema import Scenario


def cea_files(extras: dict[str, dict], arms: dict[str, Scenario], comparator: str, wtp: list[float], payer: str,
              *, search_contact_effect: bool = True, jobs: int = 1,
              on_search: Callable[[str], None] | None = None,
              progress: Callable[[float, float], None] | None = None) -> dict[str, pd.DataFrame]:
    """cea.csv, cea_frontier.csv, cea_budget_view.csv, breakeven.csv, cea_totals.csv and
    budget_periods.csv (the paired cost differences over the months each program ran, before and
    after, and by calendar year: :func:`analysis.budget.period_totals`).

    Net monetary benefit is given at every ``wtp`` for every outcome and at each outcome's own
    willingness to pay (the comparator's ``cea.wtp_usd_per_unit``).
    ``extras``: the run's ``cea``, ``calendar_year`` and ``month`` per-task tables; ``payer``: the
    perspective of the program-price break-even; ``on_search(arm)`` is called before each
    contact-effect search, ``progress(value, cost difference)`` at each of its trials."""
    totals = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in extras["cea"].items()], ignore_index=True)
    _, years_diff = summarise_costs(extras["calendar_year"], comparator, ["year", "payer", "agency"])
    others = [a for a in arms if a != comparator]
    results = []
    for arm in others:
        results.append(BE.program_price(totals, arm, comparator, payer))
        results.append(BE.payback(years_diff, arm))
    if search_contact_effect:
        comp = totals[totals["arm"] == comparator]
        replications = int(totals["replication"].nunique())
        for arm in others:
            if on_search:
                on_search(arm)
            results.append(BE.contact_effect(arms[arm], comp, arm, replications, jobs, progress=progress))
    files = {"cea.csv": C.incremental_table(totals, comparator, list(wtp), dict(arms[comparator].cea.wtp_usd_per_unit)),
             "cea_frontier.csv": C.frontier_table(totals), "cea_budget_view.csv": C.budget_view(totals, comparator),
             "breakeven.csv": pd.DataFrame([r.row() for r in results]), "cea_totals.csv": totals}
    if "month" in extras:
        files["budget_periods.csv"] = period_totals(extras["month"], arms, comparator)
    return files
