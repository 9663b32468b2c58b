"""Costs and jail bed-days by period for one arm-replication: the small tables the budget combines.

Pure functions of one simulation's cost lines and spells (``costing.cost_lines``): cost by
fiscal year (each payer's own), payer and agency; the same by ultimate funder; the grant payer's
spending by month; cost by month, payer and agency (for totals over any run of months, such as the
months a program ran) and by calendar year; the target group's jail bed-days by fiscal year. Small
enough to send back from a worker; ``analysis.budget`` combines them over replications.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes.costing import cost_lines, fiscal_year_of, period_boundaries, split_periods
from lead_sim.scenario.schema import Scenario

FY_KEYS = ["fiscal_year", "payer", "agency"]


def task_tables(events: pd.DataFrame, spells: pd.DataFrame, sc: Scenario, t_end: float) -> dict[str, pd.DataFrame]:
    """Aggregates for one arm-replication (small; safe to send back from a worker)."""
    return task_tables_from_lines(spells, cost_lines(events, spells, sc, t_end), sc, t_end)


def task_tables_from_lines(spells: pd.DataFrame, lines: pd.DataFrame, sc: Scenario, t_end: float) -> dict[str, pd.DataFrame]:
    """As :func:`task_tables`, from cost lines already computed."""
    fy = split_periods(lines, sc, t_end, "fiscal_year").rename(columns={"period": "fiscal_year"})
    by_fy = fy.groupby(FY_KEYS, as_index=False)[["usd", "usd_discounted"]].sum()
    out = {"fiscal_year": by_fy, "funder_fiscal_year": by_funder(by_fy, sc)}
    payer = sc.lead.grant_payer
    if payer is not None:
        monthly = split_periods(lines[lines["payer"] == payer], sc, t_end, "month")
        out["program_month"] = monthly.groupby("period", as_index=False)["usd"].sum().rename(columns={"period": "month"})
    out["jail_fy"] = jail_bed_days_by_fy(spells, sc, t_end)
    months = split_periods(lines, sc, t_end, "month")
    by_month = months.groupby(["period", "payer", "agency"], as_index=False)[["usd", "usd_discounted"]].sum()
    out["month"] = by_month.rename(columns={"period": "month"})
    by_month["year"] = by_month["period"].str.slice(0, 4).astype(int)
    out["calendar_year"] = by_month.groupby(["year", "payer", "agency"], as_index=False)[["usd", "usd_discounted"]].sum()
    return out


def by_funder(by_fy: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """Cost by fiscal year and ultimate funder: each payer's spending split by its ``funded_by``
    shares (Medicaid's federal and state shares, a federal housing voucher, a state grant). The
    fiscal year is that of the payer who spends the money."""
    rows = []
    for payer, shares in sc.costs.funders_of().items():
        part = by_fy[by_fy["payer"] == payer]
        for funder, share in shares.items():
            rows.append(part.assign(funder=funder, usd=part["usd"] * share, usd_discounted=part["usd_discounted"] * share))
    if not rows:
        return pd.DataFrame(columns=FUNDER_KEYS + ["usd", "usd_discounted"])
    both = pd.concat(rows, ignore_index=True)
    return both.groupby(FUNDER_KEYS, as_index=False)[["usd", "usd_discounted"]].sum()


FUNDER_KEYS = ["fiscal_year", "funder"]


def _jail_payer_month(sc: Scenario) -> int:
    payer = sc.costs.payer_of().get(N.JAIL)
    return sc.costs.payers[payer].fiscal_year_start_month if payer else 1


def fiscal_year_windows(sc: Scenario, t_end: float, start_month: int) -> list[tuple[int, float, float]]:
    """(fiscal year, first day, end day) of each fiscal year inside the analysis window."""
    cuts = [0.0, *period_boundaries(sc.run.start_date, t_end, [start_month]), t_end]
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        label = fiscal_year_of(sc.run.start_date + dt.timedelta(days=int(a)), start_month)
        out.append((label, a, b))
    return out


def jail_bed_days_by_fy(spells: pd.DataFrame, sc: Scenario, t_end: float) -> pd.DataFrame:
    """Jail bed-days of the target group in each of the jail payer's fiscal years."""
    jail = spells[spells["kind"] == N.JAIL]
    a0 = jail["start_day"].to_numpy(dtype=float)
    b0 = jail["end_day"].to_numpy(dtype=float)
    rows = []
    for label, a, b in fiscal_year_windows(sc, t_end, _jail_payer_month(sc)):
        overlap = np.minimum(b0, b) - np.maximum(a0, a)
        days = overlap[overlap > 0.0].sum()  # stays in this year only, so other stays cannot change the sum
        rows.append((label, float(days), b - a))
    return pd.DataFrame(rows, columns=["fiscal_year", "bed_days", "days_in_window"])
