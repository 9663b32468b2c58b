"""The evaluator's table: legal-system use per person-year before and after evaluation entry.

Collins, Lonczak & Clifasefi's cost evaluation of Seattle's LEAD compared the groups of the
odds ratios (``evaluation``) on jail bookings, jail days, prison and legal-system costs before
and after entry. This module computes that table on one replication's tables (events, spells,
people: ``model.recorder``), or on administrative records turned into the same tables
(``calibration.records``), for a given cohort: ``person_id``, ``group`` (1 LEAD, 0 comparison),
``entry_day`` and optionally ``weight`` (default 1), e.g. ``evaluation.cohorts``. It does not
choose the cohort.

* **Windows**, as the odds ratios' (``evaluation.design_table``): ``6m``, the 6 months before vs
  the 6 months after entry, people whose 12 months do not fit in ``[t_start, t_end]`` dropped;
  ``long``, from ``max(t_start, -long_term_before_days)`` to entry vs from entry to ``t_end``.
* **Observed time.** Before entry starts no earlier than the day the person entered the
  population; after entry ends at the person's LEAD exit (the first ``lead_exit`` event on or
  after entry; LEAD group) and, for everyone, on leaving the population (``people.exit_day``).
  Without a people table (records) nobody enters or leaves.
* **Counting.** An event counts when strictly inside a window (``lo < day < hi``), so the entry
  itself (the comparison group's index arrest and booking, the LEAD group's referral) is in
  neither window, as in the odds ratios. A spell counts the days of ``[start, end)`` inside the
  window: the jail stay that begins at a comparison person's index booking counts after entry.
* **Rates** per person-year of a group: ``sum(w * count) / sum(w * person-years)``; shares and
  baseline means are weighted means. Change = after - before; the difference in differences
  (did) = LEAD change - comparison change.
* **Costs** (``prices``, from ``costing.price_table``: the scenario's cost lens, ``run.price_year``
  dollars, undiscounted). The *legal system* is every agency of ``costs.agencies`` except LEAD's
  own (``costs.program_agencies``, the program's agency and payers, the agencies paying for
  services), the victim agency and the agencies that price prison (:func:`legal_system_agencies`;
  in the bundled scenarios: police, jail, city and district attorneys, public defender, county
  and district courts, probation). ``legal_system_usd_per_person_year`` prices every event and
  spell day of those agencies in the window (police contacts and arrests, LEAD referrals' police
  time, bookings, jail days, charges filed, public defense, probation days).
  ``priced_counts_usd_per_person_year`` prices only what records count: bookings at the arrest
  and booking prices, felony charges at the felony filing prices and jail days at the jail day
  price (prison admissions are not the legal system's); it leaves out police contacts without
  arrest, misdemeanor charges, public defense and probation, so it is below the legal-system cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes.costing import PriceTable, price_table
from lead_sim.scenario.schema import Scenario, agency_schedule

WINDOW_6M, WINDOW_LONG = "6m", "long"
WINDOWS = (WINDOW_6M, WINDOW_LONG)
DAYS_6M = 6 * N.DAYS_PER_MONTH

# measures (per person-year of the group's observed time, unless named otherwise)
BOOKINGS = "jail_bookings_per_person_year"
JAIL_DAYS = "jail_days_per_person_year"
FELONY_CHARGES = "felony_charges_per_person_year"
PRISON_ADMISSIONS = "prison_admissions_per_person_year"
LEGAL_COST = "legal_system_usd_per_person_year"
PRICED_COUNTS = "priced_counts_usd_per_person_year"
PERSON_YEARS = "person_years"
PEOPLE = "people"
SHARE_ANY_PRISON = "share_any_prison_admission"
ANY_PRISON_OR = "any_prison_admission_odds_ratio"
#: event counts: measure -> event
EVENT_COUNTS = {BOOKINGS: N.BOOKING, FELONY_CHARGES: N.CHARGE_FELONY, PRISON_ADMISSIONS: N.PRISON_ADMISSION}
#: spell-day counts: measure -> spell kind
SPELL_COUNTS = {JAIL_DAYS: N.JAIL}
COUNTS = (BOOKINGS, JAIL_DAYS, FELONY_CHARGES, PRISON_ADMISSIONS)
#: the counts priced in ``PRICED_COUNTS``
PRICED = (BOOKINGS, FELONY_CHARGES, JAIL_DAYS)
RATES = COUNTS + (LEGAL_COST, PRICED_COUNTS)
#: the measures that need prison admissions (records may not have them)
PRISON_MEASURES = (PRISON_ADMISSIONS, SHARE_ANY_PRISON, ANY_PRISON_OR)

# groups and contrasts; periods
LEAD, COMPARISON = "lead", "comparison"
DIFFERENCE, RATIO = "lead_minus_comparison", "lead_vs_comparison"
BEFORE, AFTER, CHANGE, DID, ENTRY = "before", "after", "change", "did", "entry"
TABLE_COLUMNS = ["window", "measure", "group", "period", "value"]
BASELINE_COLUMNS = ["measure", "group", "value"]

#: human labels for printed tables
LABELS = {
    BOOKINGS: "jail bookings", JAIL_DAYS: "jail days", FELONY_CHARGES: "felony charges",
    PRISON_ADMISSIONS: "prison admissions", LEGAL_COST: "legal-system cost (USD)",
    PRICED_COUNTS: "bookings, felony charges, jail days priced (USD)", PERSON_YEARS: "person-years", PEOPLE: "people",
    SHARE_ANY_PRISON: "any prison admission after entry", ANY_PRISON_OR: "odds ratio of any prison admission after entry",
    WINDOW_6M: "6 months before vs after entry", WINDOW_LONG: "long term: from the analysis start (or 2 years before it) to entry vs entry to the end",
}


@dataclass(frozen=True)
class LegalPrices:
    """Unit prices of the legal-system agencies (``agencies``), from ``costing.price_table``:
    ``events`` (event, detail, usd, from_day, to_day) and ``spells`` (kind, usd_per_day, from_day,
    to_day), one row per price line (several agencies may price one event)."""

    events: pd.DataFrame
    spells: pd.DataFrame
    agencies: tuple[str, ...]

    def unit_prices(self) -> dict[str, float]:
        """US dollars per unit of each count in ``PRICED`` (``PRICED_COUNTS``): a booking at the arrest
        and booking prices, a felony charge at the felony filing prices, a jail day (legal-system
        agencies only; these prices do not change with the date)."""
        ev = self.events[self.events["detail"] == ""]
        event_usd = ev.groupby("event")["usd"].sum()
        spell_usd = self.spells.groupby("kind")["usd_per_day"].sum()
        return {
            BOOKINGS: float(event_usd.get(N.ARREST, 0.0) + event_usd.get(N.BOOKING, 0.0)),
            FELONY_CHARGES: float(event_usd.get(N.CHARGE_FELONY, 0.0)),
            JAIL_DAYS: float(spell_usd.get(N.JAIL, 0.0)),
        }


def legal_system_agencies(sc: Scenario, table: PriceTable | None = None) -> tuple[str, ...]:
    """The agencies whose costs are the legal system's (module docstring): ``costs.agencies`` less
    the program's, the services', the victim agency and the agencies that price prison."""
    table = table if table is not None else price_table(sc)
    c = sc.costs
    out = set(c.program_agencies) | {c.program.agency} | set(table.program["agency"])
    out |= set(table.spells.loc[table.spells["kind"] == N.LEAD_ENROLLED, "agency"])
    for svc in sc.lead.services.values():
        out |= {agency for _day, agency in agency_schedule(svc.cost.agency)}
    if c.victim_agency:
        out.add(c.victim_agency)
    out |= set(table.spells.loc[table.spells["kind"] == N.PRISON, "agency"])
    out |= set(table.events.loc[table.events["event"] == N.PRISON_ADMISSION, "agency"])
    return tuple(a for a in c.agencies if a not in out)


def legal_prices(sc: Scenario) -> LegalPrices:
    """The legal-system unit prices of ``sc`` in its cost lens (``costing.price_table``)."""
    table = price_table(sc)
    agencies = legal_system_agencies(sc, table)
    ev = table.events[table.events["agency"].isin(agencies)]
    sp = table.spells[table.spells["agency"].isin(agencies)]
    return LegalPrices(ev[["event", "detail", "usd", "from_day", "to_day"]].reset_index(drop=True),
                       sp[["kind", "usd_per_day", "from_day", "to_day"]].reset_index(drop=True), agencies)


# ---- per-person sums over windows -------------------------------------------------------------------


def _rows_of(person_ids: np.ndarray, cohort_ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(positions in the table of the rows whose person is in the cohort, their cohort row)."""
    pos = cohort_ids.get_indexer(person_ids)
    take = np.flatnonzero(pos >= 0)
    return take, pos[take]


def _event_sums(day: np.ndarray, row: np.ndarray, value: np.ndarray | None, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per cohort row: the sum of ``value`` (1 each if None) over events with lo < day < hi."""
    inside = (day > lo[row]) & (day < hi[row])
    w = None if value is None else value[inside]
    return np.bincount(row[inside], weights=w, minlength=len(lo)).astype(float)


def _overlap_sums(start: np.ndarray, end: np.ndarray, row: np.ndarray, per_day: np.ndarray | None,
                  lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per cohort row: the sum of ``per_day`` (1 if None) x the days of [start, end) inside (lo, hi)."""
    days = np.clip(np.minimum(end, hi[row]) - np.maximum(start, lo[row]), 0.0, None)
    w = days if per_day is None else days * per_day
    return np.bincount(row, weights=w, minlength=len(lo)).astype(float)


@dataclass
class _Tables:
    """The rows of the events and spells tables that belong to cohort people, with their cohort row."""

    ev_day: np.ndarray
    ev_row: np.ndarray
    ev_event: np.ndarray
    ev_detail: np.ndarray
    sp_start: np.ndarray
    sp_end: np.ndarray
    sp_row: np.ndarray
    sp_kind: np.ndarray


def _cohort_tables(events: pd.DataFrame, spells: pd.DataFrame, ids: pd.Index) -> _Tables:
    take, row = _rows_of(events["person_id"].to_numpy(), ids)
    ev = events.iloc[take]
    s_take, s_row = _rows_of(spells["person_id"].to_numpy(), ids)
    sp = spells.iloc[s_take]
    return _Tables(ev["day"].to_numpy(dtype=float), row, ev["event"].astype(str).to_numpy(),
                   ev["detail"].astype(str).to_numpy(), sp["start_day"].to_numpy(dtype=float),
                   sp["end_day"].to_numpy(dtype=float), s_row, sp["kind"].astype(str).to_numpy())


def _event_prices(t: _Tables, prices: LegalPrices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(day, cohort row, usd) of every priced legal-system event line (an event priced by several
    agencies gives several lines; a price holds on the days of its window)."""
    ev = pd.DataFrame({"i": np.arange(len(t.ev_day)), "event": t.ev_event, "detail": t.ev_detail})
    plain = prices.events[prices.events["detail"] == ""].drop(columns="detail")
    by_detail = prices.events[prices.events["detail"] != ""]
    m = pd.concat([ev.merge(plain, on="event"), ev.merge(by_detail, on=["event", "detail"])], ignore_index=True)
    i = m["i"].to_numpy(dtype=np.intp)
    day = t.ev_day[i]
    ok = (day >= m["from_day"].to_numpy(dtype=float)) & (day < m["to_day"].to_numpy(dtype=float))
    return day[ok], t.ev_row[i][ok], m["usd"].to_numpy(dtype=float)[ok]


def _spell_prices(t: _Tables, prices: LegalPrices) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, cohort row, usd per day) of every priced legal-system spell line, cut to its price's window."""
    sp = pd.DataFrame({"i": np.arange(len(t.sp_start)), "kind": t.sp_kind})
    m = sp.merge(prices.spells, on="kind")
    i = m["i"].to_numpy(dtype=np.intp)
    a = np.maximum(t.sp_start[i], m["from_day"].to_numpy(dtype=float))
    b = np.minimum(t.sp_end[i], m["to_day"].to_numpy(dtype=float))
    return a, b, t.sp_row[i], m["usd_per_day"].to_numpy(dtype=float)


def _first_exit_after(t: _Tables, entry: np.ndarray) -> np.ndarray:
    """Per cohort row: the first LEAD exit on or after entry (inf if none)."""
    sel = t.ev_event == N.LEAD_EXIT
    day, row = t.ev_day[sel], t.ev_row[sel]
    ok = day >= entry[row]
    out = np.full(len(entry), np.inf)
    np.minimum.at(out, row[ok], day[ok])
    return out


def _weights(cohort: pd.DataFrame) -> np.ndarray:
    return cohort["weight"].to_numpy(dtype=float) if "weight" in cohort.columns else np.ones(len(cohort))


def _check_cohort(cohort: pd.DataFrame, lead_t0: float) -> None:
    missing = {"person_id", "group", "entry_day"} - set(cohort.columns)
    if missing:
        raise ValueError(f"cohort: missing columns {sorted(missing)}; expected person_id, group, entry_day[, weight]")
    if not cohort["person_id"].is_unique:
        raise ValueError("cohort: a person appears more than once; expected one row per person")
    if len(cohort) and not cohort["group"].isin([0, 1]).all():
        raise ValueError("cohort: group must be 1 (LEAD) or 0 (comparison)")
    if len(cohort) and float(cohort["entry_day"].min()) < lead_t0:
        raise ValueError(f"cohort: an entry (day {float(cohort['entry_day'].min()):g}) before LEAD started (day {lead_t0:g})")
    if "weight" in cohort.columns and (cohort["weight"] < 0).any():
        raise ValueError("cohort: weights must not be negative")


def _group_rate(num: np.ndarray, den: np.ndarray, w: np.ndarray, g: np.ndarray) -> float:
    d = float((w[g] * den[g]).sum())
    return float((w[g] * num[g]).sum()) / d if d > 0 else math.nan


def _group_mean(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> float:
    d = float(w[g].sum())
    return float((w[g] * x[g]).sum()) / d if d > 0 else math.nan


def _odds(p: float) -> float:
    return p / (1.0 - p) if 0.0 < p < 1.0 else math.nan


def utilisation_table(events: pd.DataFrame, spells: pd.DataFrame, people: pd.DataFrame | None, cohort: pd.DataFrame,
                      t_start: float, t_end: float, lead_t0: float, prices: LegalPrices | None = None,
                      long_term_before_days: float = 2 * N.DAYS_PER_YEAR) -> pd.DataFrame:
    """The utilisation table of one replication (module docstring): window, measure, group, period, value.

    Parameters
    ----------
    events, spells : pandas.DataFrame
        The replication's tables (``names.EVENT_COLUMNS``, ``names.SPELL_COLUMNS``), with the
        warm-up's rows when the long-term window reaches into it.
    people : pandas.DataFrame or None
        person_id, entry_day, exit_day: the time each person is in the population; None
        (administrative records): nobody enters or leaves.
    cohort : pandas.DataFrame
        person_id (once each), group (1 LEAD, 0 comparison), entry_day, optional weight (default 1).
    t_start, t_end : float
        The days the tables cover (``t_start`` bounds the windows before entry, ``t_end`` those after).
    lead_t0 : float
        The day LEAD started; no entry may precede it.
    prices : LegalPrices or None
        The scenario's legal-system prices (:func:`legal_prices`); None: no cost rows.
    long_term_before_days : float
        How far before the analysis start (day 0) the long-term window may begin.

    Returns
    -------
    pandas.DataFrame
        One row per window, measure, group and period: per group (lead, comparison) each rate
        before, after and its change, and the difference in differences (lead_minus_comparison,
        did); person_years before and after; people at entry; the share with any prison
        admission after entry and the odds ratio lead_vs_comparison (NaN when a cell is empty).
    """
    _check_cohort(cohort, lead_t0)
    ids = pd.Index(cohort["person_id"].to_numpy())
    t = _cohort_tables(events, spells, ids)
    entry_all = cohort["entry_day"].to_numpy(dtype=float)
    group_all = cohort["group"].to_numpy(dtype=int)
    w_all = _weights(cohort)
    if people is not None:
        pop = people.set_index("person_id")
        pop_in = pop["entry_day"].reindex(ids).fillna(-np.inf).to_numpy(dtype=float)
        pop_out = pop["exit_day"].reindex(ids).fillna(np.inf).to_numpy(dtype=float)
    else:
        pop_in, pop_out = np.full(len(ids), -np.inf), np.full(len(ids), np.inf)
    lead_exit = np.where(group_all == 1, _first_exit_after(t, entry_all), np.inf)
    priced_events = _event_prices(t, prices) if prices is not None else None
    priced_spells = _spell_prices(t, prices) if prices is not None else None

    rows: list[tuple[str, str, str, str, float]] = []
    for window in WINDOWS:
        if window == WINDOW_6M:
            keep = (entry_all - DAYS_6M >= t_start) & (entry_all + DAYS_6M <= t_end)
            lo, hi = entry_all - DAYS_6M, entry_all + DAYS_6M
        else:
            keep = np.ones(len(entry_all), dtype=bool)
            lo, hi = np.full(len(entry_all), max(t_start, -long_term_before_days)), np.full(len(entry_all), t_end)
        # rows of dropped people get empty windows; they are left out of every group below
        periods = {
            BEFORE: (np.where(keep, np.maximum(lo, pop_in), 0.0), np.where(keep, entry_all, 0.0)),
            AFTER: (np.where(keep, entry_all, 0.0), np.where(keep, np.minimum.reduce([hi, pop_out, lead_exit]), 0.0)),
        }
        values: dict[tuple[str, str], np.ndarray] = {}
        for period, (a, b) in periods.items():
            b = np.maximum(a, b)
            values[(PERSON_YEARS, period)] = (b - a) / N.DAYS_PER_YEAR
            for measure, event in EVENT_COUNTS.items():
                sel = t.ev_event == event
                values[(measure, period)] = _event_sums(t.ev_day[sel], t.ev_row[sel], None, a, b)
            for measure, kind in SPELL_COUNTS.items():
                sel = t.sp_kind == kind
                values[(measure, period)] = _overlap_sums(t.sp_start[sel], t.sp_end[sel], t.sp_row[sel], None, a, b)
            if priced_events is not None and priced_spells is not None:
                day, row, usd = priced_events
                s_a, s_b, s_row, per_day = priced_spells
                values[(LEGAL_COST, period)] = (_event_sums(day, row, usd, a, b)
                                                + _overlap_sums(s_a, s_b, s_row, per_day, a, b))
        groups = {LEAD: keep & (group_all == 1), COMPARISON: keep & (group_all == 0)}
        measures = [m for m in RATES if (m, BEFORE) in values]
        rate: dict[tuple[str, str, str], float] = {}
        for gname, g in groups.items():
            for period in (BEFORE, AFTER):
                py = values[(PERSON_YEARS, period)]
                for m in measures:
                    rate[(m, gname, period)] = _group_rate(values[(m, period)], py, w_all, g)
        for m in measures:
            for gname in groups:
                before, after = rate[(m, gname, BEFORE)], rate[(m, gname, AFTER)]
                rows += [(window, m, gname, BEFORE, before), (window, m, gname, AFTER, after),
                         (window, m, gname, CHANGE, after - before)]
            did = (rate[(m, LEAD, AFTER)] - rate[(m, LEAD, BEFORE)]) - (rate[(m, COMPARISON, AFTER)] - rate[(m, COMPARISON, BEFORE)])
            rows.append((window, m, DIFFERENCE, DID, did))
        share = {}
        for gname, g in groups.items():
            for period in (BEFORE, AFTER):
                rows.append((window, PERSON_YEARS, gname, period, float((w_all[g] * values[(PERSON_YEARS, period)][g]).sum())))
            rows.append((window, PEOPLE, gname, ENTRY, float(g.sum())))
            share[gname] = _group_mean((values[(PRISON_ADMISSIONS, AFTER)] > 0).astype(float), w_all, g)
            rows.append((window, SHARE_ANY_PRISON, gname, AFTER, share[gname]))
        rows.append((window, ANY_PRISON_OR, RATIO, AFTER, _odds(share[LEAD]) / _odds(share[COMPARISON])))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if prices is None:
        return table
    # the priced counts after the legal-system cost, window by window
    table = pd.concat([table, priced_counts(table, prices.unit_prices())], ignore_index=True)
    order = table["window"].map({w: i for i, w in enumerate(WINDOWS)}) * 10 + table["measure"].map(
        lambda m: 0 if m in RATES else 1)
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def priced_counts(table: pd.DataFrame, unit: dict[str, float], keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """The ``PRICED_COUNTS`` rows (the counts of ``PRICED`` at the prices ``unit``:
    ``LegalPrices.unit_prices``) made from a utilisation table's count rows, for every window,
    group and period present (pricing is linear, so a change or a difference in differences is
    priced like a rate), grouped also by the extra ``keys`` columns (e.g. replication); NaN where
    a count is missing or NaN."""
    counts = table[table["measure"].isin(PRICED)]
    by = [*keys, "window", "group", "period"]
    priced = counts.assign(value=counts["value"] * counts["measure"].map(unit))
    out = priced.groupby(by, sort=False)["value"].sum(min_count=len(PRICED)).reset_index()
    return out.assign(measure=PRICED_COUNTS)[[*keys, *TABLE_COLUMNS]]


def baseline_table(events: pd.DataFrame, spells: pd.DataFrame, people: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """Each group at entry (weighted means): measure, group, value.

    Parameters
    ----------
    events, spells, people : pandas.DataFrame
        One replication's tables (the people table with entry_day, female, age_years,
        prior_arrests).
    cohort : pandas.DataFrame
        person_id, group (1 LEAD, 0 comparison), entry_day, optional weight (default 1).

    Returns
    -------
    pandas.DataFrame
        Per group (lead, comparison): ``prior_arrests`` (the people table's arrests before the
        person entered the population plus the arrests recorded from then until entry),
        ``share_active_use``, ``share_housed``, ``share_employed`` (in that state just before
        entry: a spell with start < entry <= end), ``age_years`` at entry, ``share_female`` and
        ``n`` (people, unweighted).
    """
    ids = pd.Index(cohort["person_id"].to_numpy())
    t = _cohort_tables(events, spells, ids)
    entry = cohort["entry_day"].to_numpy(dtype=float)
    group = cohort["group"].to_numpy(dtype=int)
    w = _weights(cohort)
    pop = people.set_index("person_id").reindex(ids)
    arrests = t.ev_event == N.ARREST
    before = arrests & (t.ev_day < entry[t.ev_row])
    prior = pop["prior_arrests"].to_numpy(dtype=float) + np.bincount(t.ev_row[before], minlength=len(ids))
    age = pop["age_years"].to_numpy(dtype=float) + (entry - pop["entry_day"].to_numpy(dtype=float)) / N.DAYS_PER_YEAR
    values = {"prior_arrests": prior, "age_years": age, "share_female": pop["female"].to_numpy(dtype=float)}
    for name, kind in (("share_active_use", N.ACTIVE_USE), ("share_housed", N.HOUSED), ("share_employed", N.EMPLOYED)):
        sel = t.sp_kind == kind
        row = t.sp_row[sel]
        inside = (t.sp_start[sel] < entry[row]) & (entry[row] <= t.sp_end[sel])
        values[name] = (np.bincount(row[inside], minlength=len(ids)) > 0).astype(float)
    rows = []
    for gname, g in ((LEAD, group == 1), (COMPARISON, group == 0)):
        for name in ("prior_arrests", "share_active_use", "share_housed", "share_employed", "age_years", "share_female"):
            rows.append((name, gname, _group_mean(values[name], w, g)))
        rows.append(("n", gname, float(g.sum())))
    return pd.DataFrame(rows, columns=BASELINE_COLUMNS)
