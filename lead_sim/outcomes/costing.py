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
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.scenario.schema import (
    AllInPrice,
    LensUSD,
    PaidByLine,
    PricedUSD,
    Scenario,
    StaffingBudget,
    agency_schedule,
)

#: what each cost lens means, in words for the command line and the reports
LENS_MEANING = {
    "average": "fully loaded: what the work costs once staff and buildings adjust",
    "marginal": "what budgets save or spend at once",
}
PROGRAM_FORM_MEANING = {
    "all_in": "all in per participant-month",
    "staffing": "as a staffing budget (capacity paid whether used or not)",
}
COST_COLUMNS = ["person_id", "item", "agency", "payer", "day", "end_day", "usd", "usd_discounted"]
_PER = {"day": 1.0, "month": N.DAYS_PER_MONTH, "year": N.DAYS_PER_YEAR}


def discount_factor(day: np.ndarray, rate_per_year: float) -> np.ndarray:
    """The continuous discount factor of a cost on each ``day`` (days since the analysis start):
    ``(1 + rate_per_year) ** (-day / 365.25)``."""
    delta = math.log1p(rate_per_year) / N.DAYS_PER_YEAR
    return np.exp(-delta * np.asarray(day, dtype=float))


def discounted_days(start: np.ndarray, end: np.ndarray, rate_per_year: float) -> np.ndarray:
    """Exact integral of the discount factor over each interval [start, end)."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    delta = math.log1p(rate_per_year) / N.DAYS_PER_YEAR
    if delta == 0.0:
        return end - start
    return (np.exp(-delta * start) - np.exp(-delta * end)) / delta


def to_price_year(value: float | PricedUSD | LensUSD, sc: Scenario, year: int | None = None,
                  lens: str | None = None) -> float:
    """US dollars of ``run.price_year`` for one unit cost, under the cost lens ``lens`` (default
    ``costs.lens``): the one place where a unit cost's value is decided.

    A number is the same in both lenses (in dollars of ``year``, else of ``costs.default_price_year``,
    else of ``run.price_year``); ``{usd, price_year}`` likewise; ``{average, marginal[, price_year]}``
    gives the lens's value."""
    # (aliases: mypy checks ``value, year = ...`` pair by pair, so would read ``value`` already replaced)
    if isinstance(value, LensUSD):
        lensed = value
        value, year = cast("float | PricedUSD", getattr(lensed, lens or sc.costs.lens)), lensed.price_year if lensed.price_year is not None else year
    if isinstance(value, PricedUSD):
        priced = value
        value, year = priced.usd, priced.price_year
    if year is None:
        year = sc.costs.default_price_year
    if year is None or year == sc.run.price_year:
        return float(value)
    cpi = sc.costs.cpi
    return float(value) * cpi[sc.run.price_year] / cpi[year]


#: program-level quantities of a staffing budget (``program_segments``): per day x amount, or one-off x amount
PROGRAM_PER_DAY = ("case_manager_fte_day", "supervisor_day", "other_staff_day", "evaluation_day")
PROGRAM_ONE_OFF = ("startup", "case_manager_trained")
ALWAYS = (-math.inf, math.inf)


@dataclass(frozen=True)
class PriceTable:
    """Every unit price of one scenario under its cost lens, in ``run.price_year`` dollars.

    ``events``: event, detail ("" = any), agency, usd, from_day, to_day (the price applies to
    events on days in [from_day, to_day): who pays can change on a date); ``spells``: kind,
    agency, usd_per_day, from_day, to_day; ``program``: item, agency, usd (per unit of the
    program quantities of ``program_segments``: a day of a case manager, a supervisor, the
    program running; the start-up; a case manager trained). Compare, PSA re-pricing and the
    budget all price from this table, so they cannot disagree."""

    events: pd.DataFrame
    spells: pd.DataFrame
    program: pd.DataFrame
    no_benefit_items: frozenset[str]  # cost-line items of services with no modelled effect


def _day_of(sc: Scenario, d: dt.date | None) -> float:
    return -math.inf if d is None else float((d - sc.run.start_date).days)


def _windows(sc: Scenario, agency) -> list[tuple[str, float, float]]:
    """(agency, from_day, to_day) of a possibly dated agency."""
    sched = agency_schedule(agency)
    out = []
    for k, (day, name) in enumerate(sched):
        end = _day_of(sc, sched[k + 1][0]) if k + 1 < len(sched) else math.inf
        out.append((name, _day_of(sc, day), end))
    return out


def price_table(sc: Scenario) -> PriceTable:
    """The unit prices of ``sc`` (see :class:`PriceTable`), with the program priced by ``costs.program``."""
    c = sc.costs
    # (the victim agency is set whenever there are victim costs: ``Costs`` checks it)
    ev_rows: list[tuple[str, str, str | None, float, float, float]] = [(event, "", agency, to_price_year(v, sc), *ALWAYS)
               for event, lines in c.per_event.items() for agency, v in lines.items()]
    for offense, v in c.victim_cost_per_offense.items():
        ev_rows.append((N.POLICE_CONTACT, offense, c.victim_agency, to_price_year(v, sc), *ALWAYS))
    day_rows = [(kind, agency, to_price_year(v, sc), *ALWAYS) for kind, lines in c.per_day.items() for agency, v in lines.items()]
    day_rows += [(kind, agency, to_price_year(v, sc) / N.DAYS_PER_MONTH, *ALWAYS)
                 for kind, lines in c.per_month.items() for agency, v in lines.items()]
    prog = c.program
    program_rows: list[tuple[str, str, float]] = []
    included: set[str] = set()
    if prog.form == "all_in":
        all_in = cast(AllInPrice, prog.all_in)  # set for this form (``ProgramCost`` checks it)
        included = set(all_in.includes_services)
        day_rows.append((N.LEAD_ENROLLED, prog.agency, to_price_year(all_in.usd_per_participant_month, sc) / N.DAYS_PER_MONTH,
                         *ALWAYS))
    else:
        st = cast(StaffingBudget, prog.staffing)  # set for this form (``ProgramCost`` checks it)
        loaded = st.overhead_multiplier / N.DAYS_PER_YEAR

        def payer(line: PaidByLine) -> str:
            return st.paid_by.get(line, prog.agency)

        day_rows.append((N.LEAD_ENROLLED, payer("flexible_funds"),
                         to_price_year(st.flexible_funds_usd_per_participant_month, sc) / N.DAYS_PER_MONTH, *ALWAYS))
        program_rows = [
            ("case_manager_fte_day", payer("case_managers"), to_price_year(st.case_manager_usd_per_year, sc) * loaded),
            ("supervisor_day", payer("supervisors"), to_price_year(st.supervisor_usd_per_year, sc) * loaded),
            ("other_staff_day", payer("other_staff"), to_price_year(st.other_staff_usd_per_year, sc) * loaded),
            ("evaluation_day", payer("evaluation"), to_price_year(st.evaluation_usd_per_year, sc) / N.DAYS_PER_YEAR),
            ("startup", payer("startup"), to_price_year(st.startup_usd, sc)),
            ("case_manager_trained", payer("training"), to_price_year(st.training_usd_per_case_manager, sc)),
        ]
    no_benefit = set()
    for name, svc in sc.lead.services.items():
        if name in included:
            continue  # inside the all-in price
        usd = to_price_year(svc.cost.usd, sc, svc.cost.price_year)
        for agency, a, b in _windows(sc, svc.cost.agency):
            if svc.cost.per == "episode":
                ev_rows.append((N.SERVICE_START, name, agency, usd, a, b))
            else:
                day_rows.append((N.SERVICE_PREFIX + name, agency, usd / _PER[svc.cost.per], a, b))
        if not svc.effect_modelled:
            no_benefit |= {f"{N.SERVICE_START}:{name}", N.SERVICE_PREFIX + name}
    return PriceTable(
        events=pd.DataFrame(ev_rows, columns=["event", "detail", "agency", "usd", "from_day", "to_day"]),
        spells=pd.DataFrame(day_rows, columns=["kind", "agency", "usd_per_day", "from_day", "to_day"]),
        program=pd.DataFrame(program_rows, columns=["item", "agency", "usd"]),
        no_benefit_items=frozenset(no_benefit),
    )


def _dated_steps(value: float | dict[str, float], sc: Scenario) -> list[tuple[float, float]]:
    """(first day, value) of a dated value, in days since the analysis start."""
    if not isinstance(value, dict):
        return [(-math.inf, float(value))]
    return [(-math.inf if k == "start" else _day_of(sc, dt.date.fromisoformat(k)), float(v)) for k, v in value.items()]


def program_segments(sc: Scenario, t_end: float) -> pd.DataFrame:
    """The program's own quantities inside the analysis window, from the scenario alone.

    Columns item, day, end_day, amount. Per-day items (``PROGRAM_PER_DAY``) cover [day, end_day)
    with ``amount`` people (case managers in full-time equivalents, whole supervisors) or 1 (other
    staff and the evaluation, while the program runs); one-off items (``PROGRAM_ONE_OFF``) have day == end_day: the start-up on
    the program's first day, and case managers trained when the program starts and whenever
    ``lead.case_managers`` rises. Capacity is paid whether or not the caseload fills. Nothing when
    LEAD is off in the arm or the program is priced all in (no staffing quantities then).
    """
    cols = ["item", "day", "end_day", "amount"]
    ld, prog = sc.lead, sc.costs.program
    if not ld.enabled or prog.form != "staffing":
        return pd.DataFrame({c: pd.Series(dtype=object if c == "item" else float) for c in cols})
    t0 = _day_of(sc, ld.start_date)
    t1 = _day_of(sc, ld.end_date) + 1 if ld.end_date is not None else math.inf
    per_supervisor = cast(StaffingBudget, prog.staffing).case_managers_per_supervisor  # form "staffing" (above)
    rows = []
    steps = _dated_steps(ld.case_managers, sc)
    previous = 0.0
    for k, (a, fte) in enumerate(steps):
        b = steps[k + 1][0] if k + 1 < len(steps) else math.inf
        a, b = max(a, t0), min(b, t1)
        if b <= a:
            continue
        if fte > previous and 0.0 <= a < t_end:
            rows.append(("case_manager_trained", a, a, fte - previous))
        previous = fte
        lo, hi = max(a, 0.0), min(b, t_end)
        if hi > lo:
            rows.append(("case_manager_fte_day", lo, hi, fte))
            rows.append(("supervisor_day", lo, hi, float(math.ceil(fte / per_supervisor - 1e-9)) if fte > 0 else 0.0))
    if t0 < t1:
        lo, hi = max(t0, 0.0), min(t1, t_end)
        if hi > lo:
            rows += [("other_staff_day", lo, hi, 1.0), ("evaluation_day", lo, hi, 1.0)]
        if 0.0 <= t0 < t_end:
            rows.append(("startup", t0, t0, 1.0))
    return pd.DataFrame(rows, columns=cols)


def program_lines(sc: Scenario, t_end: float, table: PriceTable) -> pd.DataFrame:
    """Cost lines of the program's own quantities (person_id -1: they belong to no one)."""
    seg = program_segments(sc, t_end)
    price = dict(zip(table.program["item"], table.program["usd"], strict=True))
    agency = dict(zip(table.program["item"], table.program["agency"], strict=True))
    rate = sc.run.discount_rate_per_year
    a, b = seg["day"].to_numpy(dtype=float), seg["end_day"].to_numpy(dtype=float)
    amount = seg["amount"].to_numpy(dtype=float)
    usd_unit = np.array([price.get(i, 0.0) for i in seg["item"]], dtype=float)
    per_day = np.isin(seg["item"].to_numpy(), PROGRAM_PER_DAY)
    usd = np.where(per_day, usd_unit * amount * (b - a), usd_unit * amount)
    disc = np.where(per_day, usd_unit * amount * discounted_days(a, b, rate), usd * discount_factor(a, rate))
    return pd.DataFrame({"person_id": np.full(len(seg), -1, dtype=np.int64), "item": seg["item"].astype(str),
                         "agency": [agency.get(i) for i in seg["item"]], "day": a, "end_day": b, "usd": usd,
                         "usd_discounted": disc})


def category_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
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
TOTALS_COLUMNS = ("item", "agency", "payer", "usd_discounted")


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
    table = price_table(sc)
    ev_costs, day_costs = table.events, table.spells
    items: list[str] = []  # item and agency of every unit-cost row, in the order the parts use them
    agencies: list[str] = []
    parts = []  # (rows of items/agencies, numeric columns)

    # rows outside the window get code -1 (no match) rather than being copied out of the log
    person, day_all = events["person_id"].to_numpy(), events["day"].to_numpy(dtype=float)
    ev_code, ev_text = category_codes(events["event"])
    dt_code, dt_text = category_codes(events["detail"])
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
    for (left, right), table_part, with_detail in (
        (_inner_join(ev_code, ev_text, list(plain["event"])), plain, False),
        (_inner_join(pair_code, pair_text, list(zip(by_detail["event"], by_detail["detail"], strict=True))),
         by_detail, True),
    ):
        first = len(items)
        items += [f"{e}:{d}" if with_detail else e for e, d in zip(table_part["event"], table_part["detail"], strict=True)]
        agencies += list(table_part["agency"])
        if len(left):
            day = day_all[left]
            # a price holds on the days of its window (who pays can change on a date)
            ok = (day >= table_part["from_day"].to_numpy(dtype=float)[right]) & (day < table_part["to_day"].to_numpy(dtype=float)[right])
            if not ok.all():
                left, right, day = left[ok], right[ok], day[ok]
            usd = table_part["usd"].to_numpy(dtype=float)[right]
            parts.append((first + right, _part(wanted, person, left, day, day, usd, usd * discount_factor(day, rate))))

    kind_code, kind_text = category_codes(spells["kind"])
    left, right = _inner_join(kind_code, kind_text, list(day_costs["kind"]))
    a = np.clip(spells["start_day"].to_numpy(dtype=float)[left], 0.0, t_end)
    b = np.clip(spells["end_day"].to_numpy(dtype=float)[left], 0.0, t_end)
    a = np.maximum(a, day_costs["from_day"].to_numpy(dtype=float)[right])
    b = np.minimum(b, day_costs["to_day"].to_numpy(dtype=float)[right])
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
    prog = program_lines(sc, t_end, table)
    if len(prog):
        first = len(items)
        items += list(prog["item"])
        agencies += list(prog["agency"])
        rows_p = np.arange(len(prog))
        parts.append((first + rows_p, _part(wanted, prog["person_id"].to_numpy(), rows_p, prog["day"].to_numpy(),
                                            prog["end_day"].to_numpy(), prog["usd"].to_numpy(),
                                            prog["usd_discounted"].to_numpy())))
    if not parts:
        empty = {c: pd.Series(dtype=float if c in ("day", "end_day", "usd", "usd_discounted") else object) for c in wanted}
        return pd.DataFrame(empty, columns=wanted)
    rows = np.concatenate([r for r, _ in parts])
    text: dict[str, list[Any]] = {"item": items, "agency": agencies, "payer": [payer_of.get(x) for x in agencies]}
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


def cost_without_modelled_benefit(lines: pd.DataFrame, sc: Scenario, column: str = "usd_discounted") -> float:
    """Cost of the services the model gives no effect (``effect_modelled: false``): money spent
    with no benefit counted anywhere in the model."""
    if not len(lines) or "item" not in lines:
        return 0.0
    items = price_table(sc).no_benefit_items
    if not items:
        return 0.0
    return float(lines.loc[lines["item"].astype(str).isin(items), column].sum())


def cost_by_payer(lines: pd.DataFrame, payers: list[str], column: str = "usd_discounted") -> dict[str, float]:
    """Total cost per payer (every listed payer present, zero when nothing was spent)."""
    totals = lines.groupby("payer", observed=True)[column].sum() if len(lines) else pd.Series(dtype=float)
    return {p: float(totals.get(p, 0.0)) for p in payers}


# ---- periods: fiscal years and months -------------------------------------------------------------


def fiscal_year_of(date: dt.date, start_month: int) -> int:
    """The fiscal year a date falls in, named by the calendar year in which it ends."""
    if start_month == 1:
        return date.year
    return date.year + 1 if date.month >= start_month else date.year


def period_boundaries(origin: dt.date, t_end: float, months: list[int]) -> list[float]:
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
        g = _split(g, period_boundaries(origin, t_end, months), rate)
        start_dates = [origin + dt.timedelta(days=int(math.floor(d + 1e-9))) for d in g["day"]]
        label: list[str] | list[int]  # "YYYY-MM" months, or fiscal years
        if period == "month":
            label = [f"{d.year:04d}-{d.month:02d}" for d in start_dates]
        else:
            label = [fiscal_year_of(d, months[0]) for d in start_dates]
        parts.append(g.assign(period=label))
    if not parts:
        return lines.assign(period=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)
