"""Invariants every simulated arm-replication must satisfy, whatever the scenario.

``check_invariants(sim, label)`` checks the tables of one run: people are conserved, nobody is
in two custody or program states at once, a person's events never go back in time, spells do
not overlap and lie within the horizon and the person's stay, LEAD's legal coordination acts
only for engaged participants (a warrant resolved, a contact diverted by any officer) and
dismisses open cases only on an intake day. With the scenario,
``check_costs`` adds: every cost line is finite and non-negative, belongs to an agency listed in
``costs.agencies`` (and a listed payer), and the lines split by agency add up to the total
exactly (so no cost is dropped or counted twice); the cost metrics agree with the lines.
``check_arms_identical`` is the rule that with LEAD off every arm equals the comparator.

``tests/conftest.py`` runs ``check_invariants`` on every simulation made in the test session.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from lead_sim import names as N
from lead_sim.outcomes.costing import cost_lines
from lead_sim.outcomes.metrics import arm_metrics

TOLERANCE_DAYS = 1e-9

#: states of which a person is in at most one at a time
EXCLUSIVE_STATES = [
    [N.JAIL, N.PRISON],  # custody
    [N.LEAD_WAITING, N.LEAD_ENROLLED],  # program: waiting for a case manager or enrolled
    # custody excludes the community states
    [N.ACTIVE_USE, N.JAIL, N.PRISON],
    [N.HOUSED, N.JAIL, N.PRISON],
    [N.EMPLOYED, N.JAIL, N.PRISON],
]
KNOWN_EVENTS = {v for k, v in vars(N).items() if k.isupper() and isinstance(v, str)}


def _overlaps(spells: pd.DataFrame) -> pd.DataFrame:
    """Spells that start before the previous spell of the same person (in start order) ended."""
    s = spells.sort_values(["person_id", "start_day", "end_day"], kind="stable")
    prev_end = s.groupby("person_id")["end_day"].cummax().groupby(s["person_id"]).shift()
    return s[s["start_day"] < prev_end - TOLERANCE_DAYS]


def check_invariants(sim, label: str) -> None:
    ev, sp, people = sim.events, sim.spells, sim.people
    # the people table: one row per person, entry before exit
    assert people.person_id.is_unique, f"{label}: expected one row per person; found duplicated person ids"
    bad_stay = people[people.exit_day < people.entry_day]
    assert bad_stay.empty, f"{label}: expected entry <= exit; found people {bad_stay.person_id.tolist()[:5]}"
    # people are conserved: everyone who entered either left (one exit event) or is present at the end
    # (of a run that recorded from day ``records_from`` on: everyone who had not left before it)
    recorded_from = sim.records_from
    entered = people[(people.entry_day < sim.t_end) & (people.exit_day >= recorded_from)]
    exits = ev[ev.event == N.PERSON_EXIT]
    assert exits.person_id.is_unique, f"{label}: someone left twice: {exits.person_id[exits.person_id.duplicated()].tolist()[:5]}"
    present = entered[entered.exit_day >= sim.t_end]
    assert len(entered) == len(exits) + len(present), (
        f"{label}: expected entered = left + present; found {len(entered)} != {len(exits)} + {len(present)}"
    )
    assert set(ev.person_id) <= set(people.person_id), f"{label}: events of people not in the people table"
    after_exit = ev.merge(exits[["person_id", "day"]].rename(columns={"day": "exit"}), on="person_id")
    after_exit = after_exit[after_exit.day > after_exit.exit]
    assert after_exit.empty, f"{label}: expected no event after a person left; found {after_exit.head(3).to_dict('records')}"
    # events: known names, finite times within the horizon, never decreasing for a person
    unknown = {str(e) for e in pd.unique(ev.event)} - KNOWN_EVENTS
    assert not unknown, f"{label}: expected only known event names; found {sorted(unknown)}"
    assert np.isfinite(ev.day.to_numpy()).all(), f"{label}: expected finite event times; found NaN or inf"
    backwards = ev.groupby("person_id")["day"].diff().dropna() < 0
    assert not backwards.any(), f"{label}: time ran backwards for people {ev.person_id[backwards[backwards].index].unique()[:5]}"
    first_day = max(sim.t_start, recorded_from)
    assert ev.day.between(first_day, sim.t_end).all(), (
        f"{label}: expected events in [{first_day}, {sim.t_end}]; found {ev.day.min()} to {ev.day.max()}"
    )
    # spells: finite, non-empty, inside the horizon and the person's stay
    assert np.isfinite(sp[["start_day", "end_day"]].to_numpy()).all(), f"{label}: expected finite spell bounds"
    assert (sp.end_day > sp.start_day).all(), f"{label}: empty or negative spell: {sp[sp.end_day <= sp.start_day].head(3)}"
    assert (sp.start_day >= sim.t_start).all() and (sp.end_day <= sim.t_end).all(), (
        f"{label}: expected spells in [{sim.t_start}, {sim.t_end}]; found {sp.start_day.min()} to {sp.end_day.max()}"
    )
    assert (sp.end_day > recorded_from).all(), f"{label}: a spell that ended before recording began was kept"
    stay = people.set_index("person_id")
    assert (sp.start_day.to_numpy() >= stay.loc[sp.person_id, "entry_day"].to_numpy() - TOLERANCE_DAYS).all(), (
        f"{label}: a spell starts before its person entered"
    )
    assert (sp.end_day.to_numpy() <= stay.loc[sp.person_id, "exit_day"].to_numpy() + TOLERANCE_DAYS).all(), (
        f"{label}: a spell ends after its person left"
    )
    # nobody is twice in one state at once (every kind, services included)
    for kind, s in sp.groupby("kind", observed=True):
        overlap = _overlaps(s)
        assert overlap.empty, f"{label}: overlapping {kind} spells for people {overlap.person_id.unique()[:5]}"
    # nobody in two custody or program states at once; custody excludes community states
    for kinds in EXCLUSIVE_STATES:
        overlap = _overlaps(sp[sp.kind.isin(kinds)])
        assert overlap.empty, f"{label}: people in two of {kinds} at once: {overlap.person_id.unique()[:5]}"
    # engaged only while enrolled
    _check_within(sp, N.LEAD_ENGAGED, N.LEAD_ENROLLED, label)
    # LEAD's legal coordination acts only for engaged participants, and dismisses cases only at intake
    coordinated = ev[(ev.event == N.WARRANT_RESOLVED)
                     | ((ev.event == N.LEAD_PARTICIPANT_CONTACT) & (ev.detail == N.PARTICIPANT_DIVERTED))]
    _check_events_within(coordinated, sp, N.LEAD_ENGAGED, label)
    dismissed = ev[(ev.event == N.DISPOSITION) & (ev.detail == N.DISMISSED_AT_LEAD_INTAKE)][["person_id", "day"]]
    intakes = ev[ev.event == N.LEAD_INTAKE][["person_id", "day"]].drop_duplicates()
    stray = dismissed.merge(intakes, how="left", indicator=True)
    stray = stray[stray["_merge"] == "left_only"]
    assert stray.empty, f"{label}: cases dismissed at a LEAD intake that did not happen: {stray.head(3).to_dict('records')}"


def _check_events_within(events: pd.DataFrame, sp: pd.DataFrame, kind: str, label: str) -> None:
    """Every one of ``events`` lies inside a spell of ``kind`` of its person (ends included)."""
    if events.empty:
        return
    b = sp[sp.kind == kind][["person_id", "start_day", "end_day"]]
    m = events[["person_id", "day", "event"]].reset_index().merge(b, on="person_id")
    inside = m[(m.day >= m.start_day - TOLERANCE_DAYS) & (m.day <= m.end_day + TOLERANCE_DAYS)]
    outside = events[~events.index.isin(inside["index"])]
    assert outside.empty, f"{label}: {sorted(set(outside.event.astype(str)))} outside any {kind} spell: " \
        f"{outside.head(3).to_dict('records')}"


def _check_within(sp: pd.DataFrame, inner: str, outer: str, label: str) -> None:
    a = sp[sp.kind == inner][["person_id", "start_day", "end_day"]]
    if a.empty:
        return
    b = sp[sp.kind == outer][["person_id", "start_day", "end_day"]]
    m = a.reset_index().merge(b, on="person_id", suffixes=("", "_outer"))
    inside = m[(m.start_day >= m.start_day_outer - TOLERANCE_DAYS) & (m.end_day <= m.end_day_outer + TOLERANCE_DAYS)]
    outside = a[~a.index.isin(inside["index"])]
    assert outside.empty, f"{label}: {inner} spells outside any {outer} spell: {outside.head(3).to_dict('records')}"


def _exact(values) -> Fraction:
    return sum((Fraction(float(v)) for v in values), Fraction(0))


def check_costs(sim, sc, label: str, metrics: dict[str, float] | None = None) -> None:
    """Cost lines are finite, non-negative, of listed agencies and payers, and add up exactly."""
    lines = cost_lines(sim.events, sim.spells, sc, sim.t_end)
    agencies, payers = list(sc.costs.agencies), list(sc.costs.payers)
    for col in ("usd", "usd_discounted"):
        v = lines[col].to_numpy(dtype=float)
        assert np.isfinite(v).all(), f"{label}: expected finite {col}; found {lines[~np.isfinite(v)].head(3)}"
        assert (v >= 0).all(), f"{label}: expected costs >= 0; found {lines[v < 0].head(3).to_dict('records')}"
    unknown = set(lines.agency) - set(agencies)
    assert not unknown, f"{label}: cost lines of agencies {sorted(unknown)} not in costs.agencies {agencies}"
    unknown = set(lines.payer) - set(payers)
    assert not unknown, f"{label}: cost lines of payers {sorted(unknown)} not in costs.payers {payers}"
    total = _exact(lines.usd_discounted)
    by_agency = {a: _exact(lines.usd_discounted[lines.agency == a]) for a in agencies}
    by_payer = {p: _exact(lines.usd_discounted[lines.payer == p]) for p in payers}
    assert sum(by_agency.values(), Fraction(0)) == total, (
        f"{label}: expected the costs by agency to add up to the total {float(total)!r} exactly; "
        f"found {float(sum(by_agency.values(), Fraction(0)))!r}"
    )
    assert sum(by_payer.values(), Fraction(0)) == total, (
        f"{label}: expected the costs by payer to add up to the total {float(total)!r} exactly; "
        f"found {float(sum(by_payer.values(), Fraction(0)))!r}"
    )
    # the metrics report the same totals (each a float: equal up to rounding)
    m = metrics if metrics is not None else arm_metrics(sim.events, sim.spells, sim.people, sc, sim.t_end)
    n = m["people"]
    if n > 0:
        for name, exact in [("cost_total_per_person_usd", total)] + [
            (f"cost_{a}_per_person_usd", v) for a, v in by_agency.items()
        ] + [(f"cost_payer_{p}_per_person_usd", v) for p, v in by_payer.items()]:
            if name not in m:
                continue
            assert math.isclose(m[name], float(exact) / n, rel_tol=1e-12, abs_tol=1e-9), (
                f"{label}: expected {name} = {float(exact) / n!r} (from the cost lines); found {m[name]!r}"
            )
        parts = math.fsum(m[f"cost_{a}_per_person_usd"] for a in agencies)
        assert math.isclose(parts, m["cost_total_per_person_usd"], rel_tol=1e-12, abs_tol=1e-9), (
            f"{label}: expected the per-agency costs per person to add up to cost_total_per_person_usd "
            f"{m['cost_total_per_person_usd']!r}; found {parts!r}"
        )


def check_arms_identical(sims: dict, comparator: str, label: str) -> None:
    """Every arm's tables equal the comparator's exactly (as when LEAD is switched off)."""
    base = sims[comparator]
    for arm, sim in sims.items():
        for table in ("events", "spells", "people"):
            pd.testing.assert_frame_equal(getattr(base, table), getattr(sim, table),
                                          obj=f"{label}: {table} of {arm} vs {comparator}")
        assert sim.t_end == base.t_end and sim.n_steps == base.n_steps, f"{label}: {arm} ran differently"
