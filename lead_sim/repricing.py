"""Re-pricing a simulation: costs for new unit costs without simulating again.

Every cost in lead-sim is a unit cost times a quantity read from the event log and the state
spells (``costing.py``): a number of events, or a number of days in a state, each discounted.
The quantities depend only on the simulation; the unit costs only on the scenario's ``costs``
section (and each LEAD service's ``cost``). So one simulation summarised as its discounted
quantities can be priced at any set of unit costs: a PSA draw, a tornado bar or a sweep point
that changes only costs needs no new simulation.

:func:`quantities` reads the quantities once per simulation; :func:`prices` reads one
scenario's unit costs (with ``costing.unit_cost_tables``, so price-year conversion and service
costs are exactly those of a normal run); :func:`cost_values` multiplies them. The result equals
the cost metrics of ``metrics.arm_metrics`` (to rounding: the sums are taken in another order),
which ``tests/test_psa.py`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lead_sim.costing import discount_factor, discounted_days, unit_cost_tables
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


def quantities(events: pd.DataFrame, spells: pd.DataFrame, t_end: float, rate_per_year: float) -> dict[str, dict[str, float]]:
    """Discounted quantities in the analysis window ``[0, t_end)``.

    ``event``: discounted count of each event; ``event_detail``: the same by ``event:detail``;
    ``day``: discounted days in each kind of spell. Plain dicts of floats, so a checkpoint can
    store them as JSON and read them back exactly.
    """
    ev = events[(events["day"] >= 0.0) & (events["day"] < t_end)]
    w = pd.Series(discount_factor(ev["day"].to_numpy(dtype=float), rate_per_year), index=ev.index)
    names = ev["event"].astype(str)
    details = ev["detail"].astype(str)
    by_event = w.groupby(names.to_numpy()).sum()
    by_detail = w.groupby((names + ":" + details).to_numpy()).sum()
    a = spells["start_day"].clip(lower=0.0, upper=t_end).to_numpy()
    b = spells["end_day"].clip(lower=0.0, upper=t_end).to_numpy()
    keep = b > a
    d = pd.Series(discounted_days(a[keep], b[keep], rate_per_year), dtype=float)
    by_kind = d.groupby(spells["kind"].astype(str).to_numpy()[keep]).sum() if keep.any() else pd.Series(dtype=float)
    return {
        "event": {str(k): float(v) for k, v in by_event.items()},
        "event_detail": {str(k): float(v) for k, v in by_detail.items()},
        "day": {str(k): float(v) for k, v in by_kind.items()},
    }


@dataclass(frozen=True)
class Prices:
    """One scenario's unit costs, flattened for fast pricing."""

    event_lines: tuple[tuple[str, str, str, float], ...]  # event, detail ("" = any), agency, usd
    day_lines: tuple[tuple[str, str, float], ...]  # spell kind, agency, usd per day
    agencies: tuple[str, ...]
    payers: tuple[str, ...]
    payer_of: dict[str, str]
    program_agencies: tuple[str, ...]


def prices(sc: Scenario) -> Prices:
    ev, days = unit_cost_tables(sc)
    return Prices(
        event_lines=tuple((str(r.event), str(r.detail), str(r.agency), float(r.usd)) for r in ev.itertuples(index=False)),
        day_lines=tuple((str(r.kind), str(r.agency), float(r.usd_per_day)) for r in days.itertuples(index=False)),
        agencies=tuple(sc.costs.agencies),
        payers=tuple(sc.costs.payers),
        payer_of=sc.costs.payer_of(),
        program_agencies=tuple(sc.costs.program_agencies),
    )


def cost_by_agency(q: dict[str, dict[str, float]], p: Prices) -> dict[str, float]:
    """Discounted cost of each agency (every listed agency present)."""
    out = dict.fromkeys(p.agencies, 0.0)
    ev, ev_detail, day = q["event"], q["event_detail"], q["day"]
    for event, detail, agency, usd in p.event_lines:
        n = ev_detail.get(f"{event}:{detail}", 0.0) if detail else ev.get(event, 0.0)
        out[agency] = out.get(agency, 0.0) + usd * n
    for kind, agency, usd in p.day_lines:
        out[agency] = out.get(agency, 0.0) + usd * day.get(kind, 0.0)
    return out


def cost_values(q: dict[str, dict[str, float]], p: Prices, people: float) -> dict[str, float]:
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
    out["cost_total_usd"] = total
    out["cost_program_usd"] = float(sum(by_agency[a] for a in p.program_agencies))
    out.update({f"cost_payer_{k}_usd": v for k, v in by_payer.items()})
    return out

