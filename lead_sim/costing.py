"""Costs from the event log and state spells: pure functions, no simulation.

Unit costs are one-off per event (an arrest, a booking, a felony filing), per day or month in
a state (jail, prison, probation, LEAD enrolment) and, for LEAD services, per episode or per
day/month/year of the service. Every cost line belongs to one agency. Costs are counted inside
the analysis window ``[0, t_end)`` (days since the analysis start) and discounted continuously
from the start at the scenario's annual rate: a cost at day ``t`` is worth
``(1 + r) ** (-t / 365.25)``; a per-day cost over ``[a, b)`` is integrated exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.scenario.schema import Scenario

COST_COLUMNS = ["person_id", "item", "agency", "day", "usd", "usd_discounted"]
_PER = {"day": 1.0, "month": N.DAYS_PER_MONTH, "year": N.DAYS_PER_YEAR}


def discount_factor(day: np.ndarray, rate_per_year: float) -> np.ndarray:
    delta = math.log1p(rate_per_year) / N.DAYS_PER_YEAR
    return np.exp(-delta * np.asarray(day, dtype=float))


def discounted_days(start: np.ndarray, end: np.ndarray, rate_per_year: float) -> np.ndarray:
    """Exact integral of the discount factor over each interval [start, end)."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    delta = math.log1p(rate_per_year) / N.DAYS_PER_YEAR
    if delta == 0.0:
        return end - start
    return (np.exp(-delta * start) - np.exp(-delta * end)) / delta


def unit_cost_tables(sc: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-event lines: event, detail, agency, usd) and (per-day lines: kind, agency, usd_per_day)."""
    ev_rows = [(event, "", agency, usd) for event, lines in sc.costs.per_event.items() for agency, usd in lines.items()]
    day_rows = [(kind, agency, usd) for kind, lines in sc.costs.per_day.items() for agency, usd in lines.items()]
    day_rows += [
        (kind, agency, usd / N.DAYS_PER_MONTH) for kind, lines in sc.costs.per_month.items() for agency, usd in lines.items()
    ]
    for name, svc in sc.lead.services.items():
        if svc.cost.per == "episode":
            ev_rows.append((N.SERVICE_START, name, svc.cost.agency, svc.cost.usd))
        else:
            day_rows.append((N.SERVICE_PREFIX + name, svc.cost.agency, svc.cost.usd / _PER[svc.cost.per]))
    events = pd.DataFrame(ev_rows, columns=["event", "detail", "agency", "usd"])
    days = pd.DataFrame(day_rows, columns=["kind", "agency", "usd_per_day"])
    return events, days


def cost_lines(events: pd.DataFrame, spells: pd.DataFrame, sc: Scenario, t_end: float) -> pd.DataFrame:
    """One row per costed event line or spell line inside the analysis window."""
    rate = sc.run.discount_rate_per_year
    ev_costs, day_costs = unit_cost_tables(sc)
    parts = []

    ev = events[(events["day"] >= 0.0) & (events["day"] < t_end)]
    ev = ev.assign(event=ev["event"].astype(str), detail=ev["detail"].astype(str))
    plain = ev_costs[ev_costs["detail"] == ""].drop(columns="detail")
    by_detail = ev_costs[ev_costs["detail"] != ""]
    m1 = ev.merge(plain, on="event", how="inner")
    m2 = ev.merge(by_detail, on=["event", "detail"], how="inner")
    for m in (m1, m2):
        if len(m):
            parts.append(
                pd.DataFrame(
                    {
                        "person_id": m["person_id"].to_numpy(),
                        "item": (m["event"] + np.where(m["detail"] != "", ":" + m["detail"], "")).to_numpy()
                        if m is m2 else m["event"].to_numpy(),
                        "agency": m["agency"].to_numpy(),
                        "day": m["day"].to_numpy(),
                        "usd": m["usd"].to_numpy(dtype=float),
                        "usd_discounted": m["usd"].to_numpy(dtype=float) * discount_factor(m["day"], rate),
                    }
                )
            )

    sp = spells.assign(kind=spells["kind"].astype(str))
    sp = sp.merge(day_costs, on="kind", how="inner")
    a = sp["start_day"].clip(lower=0.0, upper=t_end).to_numpy()
    b = sp["end_day"].clip(lower=0.0, upper=t_end).to_numpy()
    keep = b > a
    if keep.any():
        per_day = sp["usd_per_day"].to_numpy(dtype=float)[keep]
        parts.append(
            pd.DataFrame(
                {
                    "person_id": sp["person_id"].to_numpy()[keep],
                    "item": sp["kind"].to_numpy()[keep],
                    "agency": sp["agency"].to_numpy()[keep],
                    "day": a[keep],
                    "usd": per_day * (b[keep] - a[keep]),
                    "usd_discounted": per_day * discounted_days(a[keep], b[keep], rate),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("day", "usd", "usd_discounted") else object) for c in COST_COLUMNS})
    return pd.concat(parts, ignore_index=True)[COST_COLUMNS]


def cost_by_agency(lines: pd.DataFrame, agencies: list[str], column: str = "usd_discounted") -> dict[str, float]:
    """Total cost per agency (every listed agency present, zero when nothing was spent)."""
    totals = lines.groupby("agency")[column].sum() if len(lines) else pd.Series(dtype=float)
    return {a: float(totals.get(a, 0.0)) for a in agencies}
