"""Costs from the event log and state spells: pure functions, no simulation.

Unit costs are one-off per event (an arrest, a booking, a felony filing), per day or month in
a state (jail, prison, probation, LEAD enrolment) and, for LEAD services, per episode or per
day/month/year of the service; victimisation costs, when given, attach to the offense found at
a police contact. Every cost line belongs to one agency and so to one payer.

* **Price year.** A unit cost entered as ``{usd, price_year}`` is converted to
  ``run.price_year`` with the scenario's CPI table: ``usd * cpi[price_year_of_run] / cpi[year]``;
  one written as a plain number is in dollars of ``costs.default_price_year`` (converted the
  same way) or, if that is not set, of ``run.price_year``.
* **Window.** Costs are counted inside the analysis window ``[0, t_end)`` (days since the
  analysis start).
* **Discounting** is continuous from the start at the scenario's annual rate: a cost at day
  ``t`` is worth ``(1 + r) ** (-t / 365.25)``; a per-day cost over ``[a, b)`` is integrated
  exactly.
* **Periods.** :func:`split_periods` cuts spell lines at fiscal-year (per payer) or month
  boundaries, so a jail stay that crosses 1 July is charged to both state fiscal years.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.scenario.schema import PricedUSD, Scenario

COST_COLUMNS = ["person_id", "item", "agency", "payer", "day", "end_day", "usd", "usd_discounted"]
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


def to_price_year(value: float | PricedUSD, sc: Scenario, year: int | None = None) -> float:
    """US dollars of ``run.price_year`` for a unit cost entered as a number (in dollars of
    ``year``, else of ``costs.default_price_year``, else of ``run.price_year``) or ``{usd, price_year}``."""
    if isinstance(value, PricedUSD):
        value, year = value.usd, value.price_year
    if year is None:
        year = sc.costs.default_price_year
    if year is None or year == sc.run.price_year:
        return float(value)
    cpi = sc.costs.cpi
    return float(value) * cpi[sc.run.price_year] / cpi[year]


def unit_cost_tables(sc: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-event lines: event, detail, agency, usd) and (per-day lines: kind, agency, usd_per_day)."""
    c = sc.costs
    ev_rows = [(event, "", agency, to_price_year(v, sc)) for event, lines in c.per_event.items() for agency, v in lines.items()]
    for offense, v in c.victim_cost_per_offense.items():
        ev_rows.append((N.POLICE_CONTACT, offense, c.victim_agency, to_price_year(v, sc)))
    day_rows = [(kind, agency, to_price_year(v, sc)) for kind, lines in c.per_day.items() for agency, v in lines.items()]
    day_rows += [
        (kind, agency, to_price_year(v, sc) / N.DAYS_PER_MONTH) for kind, lines in c.per_month.items() for agency, v in lines.items()
    ]
    for name, svc in sc.lead.services.items():
        usd = to_price_year(svc.cost.usd, sc, svc.cost.price_year)
        if svc.cost.per == "episode":
            ev_rows.append((N.SERVICE_START, name, svc.cost.agency, usd))
        else:
            day_rows.append((N.SERVICE_PREFIX + name, svc.cost.agency, usd / _PER[svc.cost.per]))
    events = pd.DataFrame(ev_rows, columns=["event", "detail", "agency", "usd"])
    days = pd.DataFrame(day_rows, columns=["kind", "agency", "usd_per_day"])
    return events, days


def _codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their strings for a (categorical or plain) column of strings."""
    cat = col.array if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col.astype(str))
    return np.asarray(cat.codes), [str(c) for c in cat.categories]  # the categorical's own (small) codes


def _inner_join(key_codes: np.ndarray, key_texts: list, table_keys: list) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs of an inner join of rows (keys given as codes into ``key_texts``) with a table.

    Same pairs and order as ``left.merge(table, how="inner")``: left rows in order and, for each,
    its matching table rows in table order. A negative code matches nothing. Memory is a few
    bytes per left row and 8 bytes per matched pair (the log has millions of rows at scale).
    """
    rows_of: dict = {}
    for j, k in enumerate(table_keys):
        rows_of.setdefault(k, []).append(j)
    groups = [rows_of.get(k, []) for k in key_texts]
    size = np.array([len(g) for g in groups] + [0], dtype=np.intp)  # last: "no code"
    starts = np.concatenate([[0], np.cumsum(size[:-1])]).astype(np.intp)
    flat = np.array([j for g in groups for j in g], dtype=np.intp)
    matched = np.flatnonzero(size[key_codes])  # rows with at least one match
    counts = size[key_codes[matched]]
    left = np.repeat(matched, counts)
    within = np.arange(len(left), dtype=np.intp) - np.repeat(np.cumsum(counts) - counts, counts)
    right = flat[starts[key_codes[left]] + within] if len(left) else np.zeros(0, dtype=np.intp)
    return left, right


#: the columns the cost totals by agency and payer read (``metrics.arm_metrics``, the CEA totals)
TOTALS_COLUMNS = ("agency", "payer", "usd_discounted")


def cost_lines(events: pd.DataFrame, spells: pd.DataFrame, sc: Scenario, t_end: float,
               columns: tuple[str, ...] | list[str] = tuple(COST_COLUMNS)) -> pd.DataFrame:
    """One row per costed event line or spell line inside the analysis window.

    Events and spells are joined to the unit-cost tables through their category codes (the
    tables hold a few dozen strings; the log, hundreds of thousands of rows), and the text
    columns are taken from those few strings by row number, never built per line.

    ``columns``: the columns wanted (in ``COST_COLUMNS`` order in the result). The rows and
    their values are the same whichever are asked for; a subset such as ``TOTALS_COLUMNS``
    takes ~10 bytes a line instead of ~43 (at 100x the default population, millions of lines).
    """
    unknown = set(columns) - set(COST_COLUMNS)
    if unknown:
        raise ValueError(f"cost_lines: unknown columns {sorted(unknown)}; expected some of {COST_COLUMNS}")
    wanted = [c for c in COST_COLUMNS if c in columns]
    rate = sc.run.discount_rate_per_year
    payer_of = sc.costs.payer_of()
    ev_costs, day_costs = unit_cost_tables(sc)
    items: list[str] = []  # item and agency of every unit-cost row, in the order the parts use them
    agencies: list[str] = []
    parts = []  # (rows of items/agencies, numeric columns)

    # rows outside the window get code -1 (no match) rather than being copied out of the log
    person, day_all = events["person_id"].to_numpy(), events["day"].to_numpy(dtype=float)
    ev_code, ev_text = _codes(events["event"])
    dt_code, dt_text = _codes(events["detail"])
    inside = (day_all >= 0.0) & (day_all < t_end) & (ev_code >= 0) & (dt_code >= 0)
    ev_code = np.where(inside, ev_code, -1)
    plain = ev_costs[ev_costs["detail"] == ""].reset_index(drop=True)
    by_detail = ev_costs[ev_costs["detail"] != ""].reset_index(drop=True)
    # (event, detail) pairs: codes into the pairs that occur, in sorted order (as np.unique gives)
    n_pairs = len(ev_text) * len(dt_text)
    pair = np.where(inside, ev_code.astype(np.int32) * len(dt_text) + dt_code, n_pairs)
    pair_used = np.flatnonzero(np.bincount(pair, minlength=n_pairs + 1)[:n_pairs])
    remap = np.full(n_pairs + 1, -1, dtype=np.int32)
    remap[pair_used] = np.arange(len(pair_used))
    pair_code = remap[pair]
    del pair, inside
    pair_text = [(ev_text[q // len(dt_text)], dt_text[q % len(dt_text)]) for q in pair_used]
    for (left, right), table, with_detail in (
        (_inner_join(ev_code, ev_text, list(plain["event"])), plain, False),
        (_inner_join(pair_code, pair_text, list(zip(by_detail["event"], by_detail["detail"], strict=True))),
         by_detail, True),
    ):
        first = len(items)
        items += [f"{e}:{d}" if with_detail else e for e, d in zip(table["event"], table["detail"], strict=True)]
        agencies += list(table["agency"])
        if len(left):
            usd = table["usd"].to_numpy(dtype=float)[right]
            day = day_all[left]
            parts.append((first + right, _part(wanted, person, left, day, day, usd, usd * discount_factor(day, rate))))

    kind_code, kind_text = _codes(spells["kind"])
    left, right = _inner_join(kind_code, kind_text, list(day_costs["kind"]))
    a = np.clip(spells["start_day"].to_numpy(dtype=float)[left], 0.0, t_end)
    b = np.clip(spells["end_day"].to_numpy(dtype=float)[left], 0.0, t_end)
    keep = b > a
    first = len(items)
    items += list(day_costs["kind"])
    agencies += list(day_costs["agency"])
    if keep.any():
        per_day = day_costs["usd_per_day"].to_numpy(dtype=float)[right][keep]
        a, b = a[keep], b[keep]
        usd = per_day * (b - a) if "usd" in wanted else None
        parts.append((first + right[keep], _part(wanted, spells["person_id"].to_numpy(), left[keep], a, b, usd,
                                                 per_day * discounted_days(a, b, rate))))
    if not parts:
        empty = {c: pd.Series(dtype=float if c in ("day", "end_day", "usd", "usd_discounted") else object) for c in wanted}
        return pd.DataFrame(empty, columns=wanted)
    rows = np.concatenate([r for r, _ in parts])
    text = {"item": items, "agency": agencies, "payer": [payer_of.get(x) for x in agencies]}
    return pd.DataFrame({
        c: _take_categorical(text[c], rows) if c in text else np.concatenate([cols[c] for _, cols in parts])
        for c in wanted
    }, copy=False)


def _part(wanted: list[str], person: np.ndarray, rows: np.ndarray, day: np.ndarray, end_day: np.ndarray, usd,
          usd_discounted: np.ndarray) -> dict[str, np.ndarray]:
    """The wanted numeric columns of one part of the cost lines; the person of each line (a
    gather over the log) is taken only if wanted."""
    out = {"person_id": person[rows]} if "person_id" in wanted else {}
    for c, values in (("day", day), ("end_day", end_day), ("usd", usd), ("usd_discounted", usd_discounted)):
        if c in wanted:
            out[c] = values
    return out


def _take_categorical(values: list, rows: np.ndarray) -> pd.Categorical:
    """``values[rows]`` as a categorical whose categories are the values used, sorted.

    The line tables are as long as the event log and their text columns hold a few dozen
    strings: one byte per line instead of a string per line (at 100x the default population,
    ~0.5 GB of strings for a single arm-replication).
    """
    used_rows = np.unique(rows)
    categories = sorted({values[i] for i in used_rows if values[i] is not None})
    code_of = {v: k for k, v in enumerate(categories)}
    lut = np.array([code_of.get(v, -1) for v in values] + [-1], dtype=np.int32)
    return pd.Categorical.from_codes(lut[rows], categories=pd.Index(categories, dtype="str"))


def cost_by_agency(lines: pd.DataFrame, agencies: list[str], column: str = "usd_discounted") -> dict[str, float]:
    """Total cost per agency (every listed agency present, zero when nothing was spent)."""
    totals = lines.groupby("agency", observed=True)[column].sum() if len(lines) else pd.Series(dtype=float)
    return {a: float(totals.get(a, 0.0)) for a in agencies}


def cost_by_payer(lines: pd.DataFrame, payers: list[str], column: str = "usd_discounted") -> dict[str, float]:
    totals = lines.groupby("payer", observed=True)[column].sum() if len(lines) else pd.Series(dtype=float)
    return {p: float(totals.get(p, 0.0)) for p in payers}


# ---- periods: fiscal years and months -------------------------------------------------------------


def fiscal_year_of(date: dt.date, start_month: int) -> int:
    """The fiscal year a date falls in, named by the calendar year in which it ends."""
    if start_month == 1:
        return date.year
    return date.year + 1 if date.month >= start_month else date.year


def _boundaries(origin: dt.date, t_end: float, months: list[int]) -> list[float]:
    """Days (since origin) of the first of each given month, inside (0, t_end)."""
    end = origin + dt.timedelta(days=math.ceil(t_end))
    out = []
    for year in range(origin.year, end.year + 1):
        for m in months:
            d = (dt.date(year, m, 1) - origin).days
            if 0 < d < t_end:
                out.append(float(d))
    return sorted(out)


def _split(df: pd.DataFrame, cuts: list[float], rate: float) -> pd.DataFrame:
    """Cut spell lines (end_day > day) at each cut; re-price pieces by their share of days."""
    for cut in cuts:
        sel = (df["day"].to_numpy() < cut) & (df["end_day"].to_numpy() > cut)
        if not sel.any():
            continue
        crossing = df[sel]
        per_day = crossing["usd"] / (crossing["end_day"] - crossing["day"])
        left = crossing.assign(end_day=cut)
        right = crossing.assign(day=cut)
        for piece in (left, right):
            piece["usd"] = per_day * (piece["end_day"] - piece["day"])
            piece["usd_discounted"] = per_day * discounted_days(piece["day"], piece["end_day"], rate)
        df = pd.concat([df[~sel], left, right], ignore_index=True)
    return df


def split_periods(lines: pd.DataFrame, sc: Scenario, t_end: float, period: str) -> pd.DataFrame:
    """Cost lines with a ``period`` column: ``fiscal_year`` (per payer's start month) or ``month``.

    Lines that span a boundary are cut so each piece lies in one period; undiscounted and discounted
    amounts of the pieces add up to the line's.
    """
    origin = sc.run.start_date
    rate = sc.run.discount_rate_per_year
    parts = []
    if period == "month":
        groups = [(None, lines, list(range(1, 13)))]
    else:
        groups = [(payer, g, [sc.costs.payers[payer].fiscal_year_start_month])
                  for payer, g in lines.groupby("payer", observed=True)]
    for _payer, g, months in groups:
        g = _split(g, _boundaries(origin, t_end, months), rate)
        start_dates = [origin + dt.timedelta(days=int(math.floor(d + 1e-9))) for d in g["day"]]
        if period == "month":
            label = [f"{d.year:04d}-{d.month:02d}" for d in start_dates]
        else:
            label = [fiscal_year_of(d, months[0]) for d in start_dates]
        parts.append(g.assign(period=label))
    if not parts:
        return lines.assign(period=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)
