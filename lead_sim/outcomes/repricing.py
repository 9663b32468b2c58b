"""Re-pricing a simulation: costs for new unit costs without simulating again.

Every cost in lead-sim is a unit cost times a quantity read from the event log and the state
spells (``costing.py``): a number of events, or a number of days in a state, each discounted.
The quantities depend only on the simulation; the unit costs only on the scenario's ``costs``
section (and each LEAD service's ``cost``). So one simulation summarised as its discounted
quantities can be priced at any set of unit costs: a PSA draw, a tornado bar or a sweep point
that changes only costs needs no new simulation.

:func:`quantities` reads the quantities once per simulation; :func:`prices` reads one
scenario's unit prices (``costing.price_table``, the same table the cost lines of a normal run and the
budget are priced from: lens, price year, program form and who pays on which date are decided there once); :func:`cost_values` multiplies them. The result equals
the cost metrics of ``metrics.arm_metrics`` (to rounding: the sums are taken in another order),
which ``tests/test_psa.py`` checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lead_sim.outcomes.costing import (
    PROGRAM_ONE_OFF,
    PROGRAM_PER_DAY,
    PriceTable,
    category_codes,
    discount_factor,
    discounted_days,
    price_table,
    program_segments,
)
from lead_sim.scenario.schema import Scenario

#: prefixes of the keys that only price a simulation (the model never reads them)
PRICING_PREFIXES = ("costs.",)


def is_pricing_key(path: str) -> bool:
    """True when ``path`` is a unit cost: changing it needs re-pricing, not re-simulation."""
    if path.startswith(PRICING_PREFIXES):
        return True
    parts = path.split(".")
    # lead.services.<name>.cost[.usd|.per|...]
    return len(parts) >= 4 and parts[:2] == ["lead", "services"] and parts[3] == "cost"


def _signature(source: str, key: str, a: float = -math.inf, b: float = math.inf) -> str:
    """The name of one priced quantity: what is counted (an event, ``event:detail``, a spell kind,
    a program item) and the window of days its price holds in."""
    return f"{source}|{key}|{a!r}|{b!r}"


def _event_signatures(table: PriceTable) -> list[tuple[str, str, str, float, float]]:
    return [(_signature("event", f"{e}:{d}" if d else e, a, b), e, d, a, b)
            for e, d, a, b in zip(table.events["event"], table.events["detail"], table.events["from_day"],
                                  table.events["to_day"], strict=True)]


def _spell_signatures(table: PriceTable) -> list[tuple[str, str, float, float]]:
    return [(_signature("spell", k, a, b), k, a, b)
            for k, a, b in zip(table.spells["kind"], table.spells["from_day"], table.spells["to_day"], strict=True)]


def quantities(events: pd.DataFrame, spells: pd.DataFrame, sc: Scenario, t_end: float) -> dict[str, float]:
    """Discounted quantities in the analysis window ``[0, t_end)``, one per price of ``sc``'s
    price table (``costing.price_table``): events counted, days in a state, the program's own
    quantities (``costing.program_segments``), each discounted as the cost lines are. A plain
    dict of floats, so a checkpoint can store it as JSON and read it back exactly."""
    rate = sc.run.discount_rate_per_year
    table = price_table(sc)
    day = events["day"].to_numpy(dtype=float)
    inside = (day >= 0.0) & (day < t_end)
    ev_code, ev_text = category_codes(events["event"])
    dt_code, dt_text = category_codes(events["detail"])
    ev_code, dt_code, day = ev_code[inside], dt_code[inside], day[inside]
    w = discount_factor(day, rate)
    ev_of, dt_of = {t: i for i, t in enumerate(ev_text)}, {t: i for i, t in enumerate(dt_text)}
    out: dict[str, float] = {}
    for sig, e, d, a, b in _event_signatures(table):
        sel = ev_code == ev_of.get(e, -2)
        if d:
            sel &= dt_code == dt_of.get(d, -2)
        if a > -math.inf or b < math.inf:
            sel &= (day >= a) & (day < b)
        out[sig] = float(w[sel].sum())
    kind_code, kind_text = category_codes(spells["kind"])
    kind_of = {t: i for i, t in enumerate(kind_text)}
    start = spells["start_day"].to_numpy(dtype=float)
    end = spells["end_day"].to_numpy(dtype=float)
    for sig, kind, a, b in _spell_signatures(table):
        rows = kind_code == kind_of.get(kind, -2)
        lo = np.maximum(np.clip(start[rows], 0.0, t_end), a)
        hi = np.minimum(np.clip(end[rows], 0.0, t_end), b)
        keep = hi > lo
        out[sig] = float(discounted_days(lo[keep], hi[keep], rate).sum())
    seg = program_segments(sc, t_end)
    for item in (*PROGRAM_PER_DAY, *PROGRAM_ONE_OFF):
        g = seg[seg["item"] == item]
        a, b, amount = (g[c].to_numpy(dtype=float) for c in ("day", "end_day", "amount"))
        q = amount * (discounted_days(a, b, rate) if item in PROGRAM_PER_DAY else discount_factor(a, rate))
        out[_signature("program", item)] = float(q.sum())
    return out


@dataclass(frozen=True)
class Prices:
    """One scenario's unit prices (``costing.price_table``), flattened for fast pricing: each line
    is (quantity signature, agency, US dollars per unit of that quantity)."""

    lines: tuple[tuple[str, str, float], ...]
    no_benefit: tuple[str, ...]  # signatures of services with no modelled effect
    agencies: tuple[str, ...]
    payers: tuple[str, ...]
    payer_of: dict[str, str]
    program_agencies: tuple[str, ...]


def prices(sc: Scenario) -> Prices:
    """The unit prices of ``sc`` flattened for repricing (see :class:`Prices`): USD of
    ``run.price_year`` per unit of each quantity."""
    table = price_table(sc)
    lines = [(sig, str(ag), float(usd)) for (sig, *_), ag, usd in
             zip(_event_signatures(table), table.events["agency"], table.events["usd"], strict=True)]
    lines += [(sig, str(ag), float(usd)) for (sig, *_), ag, usd in
              zip(_spell_signatures(table), table.spells["agency"], table.spells["usd_per_day"], strict=True)]
    lines += [(_signature("program", i), str(ag), float(usd))
              for i, ag, usd in zip(table.program["item"], table.program["agency"], table.program["usd"], strict=True)]
    no_benefit = tuple(sig for (sig, e, d, *_) in _event_signatures(table) if f"{e}:{d}" in table.no_benefit_items)
    no_benefit += tuple(sig for (sig, k, *_) in _spell_signatures(table) if k in table.no_benefit_items)
    return Prices(
        lines=tuple(lines),
        no_benefit=no_benefit,
        agencies=tuple(sc.costs.agencies),
        payers=tuple(sc.costs.payers),
        payer_of=sc.costs.payer_of(),
        program_agencies=tuple(sc.costs.program_agencies),
    )


def cost_by_agency(q: dict[str, float], p: Prices) -> dict[str, float]:
    """Discounted cost of each agency (every listed agency present)."""
    out = dict.fromkeys(p.agencies, 0.0)
    for sig, agency, usd in p.lines:
        n = q.get(sig)
        if n is None:
            raise KeyError(f"repricing: no quantity {sig!r} was measured for this simulation (its scenario's prices "
                           "have another structure)")
        out[agency] = out.get(agency, 0.0) + usd * n
    return out


def cost_values(q: dict[str, float], p: Prices, people: float) -> dict[str, float]:
    """Cost metrics (per person, as ``arm_metrics``) and totals (as the ``cea`` analysis)."""
    by_agency = cost_by_agency(q, p)
    by_payer = dict.fromkeys(p.payers, 0.0)
    for agency, usd in by_agency.items():
        by_payer[p.payer_of[agency]] += usd
    total = float(sum(by_agency.values()))
    per = (lambda x: x / people) if people > 0 else (lambda x: float("nan"))
    out = {"cost_total_per_person_usd": per(total)}
    out.update({f"cost_{a}_per_person_usd": per(v) for a, v in by_agency.items()})
    out.update({f"cost_payer_{k}_per_person_usd": per(v) for k, v in by_payer.items()})
    out["cost_no_modelled_benefit_per_person_usd"] = per(sum(usd * q[sig] for sig, _, usd in p.lines if sig in p.no_benefit))
    out["cost_total_usd"] = total
    out["cost_program_usd"] = float(sum(by_agency[a] for a in p.program_agencies))
    out.update({f"cost_payer_{k}_usd": v for k, v in by_payer.items()})
    return out

