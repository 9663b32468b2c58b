"""Run one arm for one replication: build the population, run SimPy, return tidy tables.

``simulate(scenario, replication)`` is the model's only entry point. It returns the event log,
the state spells and the people table as pandas DataFrames (built once, after the run), plus
a few run diagnostics. It knows nothing about costs or metrics.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
from array import array
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import simpy

from lead_sim.model.params import ModelParams
from lead_sim.model.person import World, close_all
from lead_sim.model.recorder import MAX_PEOPLE, Recorder
from lead_sim.model.resources import Counter, SlotPool
from lead_sim.model.state import C_TREATMENT, MAX_PRIOR_ARRESTS_COUNTED, N_CLOCKS, EntryRow, Person
from lead_sim.model.streams import Streams
from lead_sim.scenario.schema import Scenario


@dataclass
class SimResult:
    """One arm-replication's tables and run diagnostics, as ``simulate`` returns them (days since
    the analysis start)."""

    events: pd.DataFrame  # person_id, day, event, detail
    spells: pd.DataFrame  # person_id, kind, start_day, end_day
    people: pd.DataFrame  # one row per person: attributes at entry, entry_day, exit_day
    n_steps: int  # person steps (model events: each a change of one person; most need no SimPy event, see person._stepper)
    t_start: float
    t_end: float
    #: events before this day and spells ending on or before it were not recorded (-inf: all were)
    records_from: float = -math.inf
    #: events SimPy scheduled in the whole run (steps, arrivals, capacity changes, stops): a
    #: diagnostic of running ahead (``person._stepper``), far fewer than ``n_steps``
    simpy_events: int = 0


def _arrival_times(P: ModelParams, rng) -> list[float]:
    """Poisson arrivals with a piecewise-constant rate, by inverting the cumulative hazard."""
    sched = P.arrivals_per_day
    # a rate may change before the simulation starts or after it ends: each change clipped to it
    bounds = [min(max(t, P.t_start), P.t_end) for t in sched.times] + [P.t_end]
    out: list[float] = []
    t = P.t_start
    need = -math.log1p(-rng.random())
    for i, rate in enumerate(sched.values):
        seg_end = bounds[i + 1]
        if seg_end <= t:
            continue
        while rate > 0.0:
            step = need / rate
            if t + step >= seg_end:
                need -= (seg_end - t) * rate
                break
            t += step
            out.append(t)
            need = -math.log1p(-rng.random())
        t = max(t, seg_end)
    return out


def entry_days(P: ModelParams, streams: Streams) -> list[float]:
    """Entry day of everyone who is ever in the target group, in person-id order."""
    return [P.t_start] * P.initial_people + _arrival_times(P, streams.get("arrivals"))


def new_person(P: ModelParams, streams: Streams, pid: int, entry: float) -> tuple[Person, EntryRow]:
    """One person with the attributes drawn from their own stream (whenever it is called), and
    those of them that are only recorded."""
    p = Person(pid)
    r = streams.get("attributes", pid).random
    p.female = r() < P.p_female
    age = P.age_years(r())
    p.district = int(P.district.pick(r()))
    p.profile = P.offense_profile.pick(r())
    p.active_use = r() < P.p_active_use
    p.housed = r() < P.p_housed
    p.employed = r() < P.p_employed
    p.mh_need = r() < P.p_mental_health_need
    prior_arrests = int(P.prior_arrests(r()))
    p.arrests = prior_arrests
    p.base_mult = P.contact_frailty(r()) * P.rr_contact_per_prior_arrest ** min(prior_arrests, MAX_PRIOR_ARRESTS_COUNTED)
    u_exit, u_reason = r(), r()
    rate = P.exit_rate_per_day
    p.exit_time = entry - math.log1p(-u_exit) / rate if rate > 0 else math.inf
    p.exit_reason = P.exit_reason.pick(u_reason)
    # the first value of each hazard clock comes from the attributes stream, so a clock's own
    # stream is only created if that clock ever fires (most people never violate probation)
    clocks = [-math.log1p(-r()) for _ in range(C_TREATMENT)]  # the six clocks before treatment's
    u_race = r()  # drawn after those clocks so that adding it shifted nothing
    race_ethnicity = P.race_ethnicity.pick(u_race) if P.race_ethnicity else "not_modelled"
    # the treatment clock (treatment found without LEAD), the last one, is drawn last: adding it
    # shifted nothing either
    clocks.append(-math.log1p(-r()))
    p.clocks = array("d", clocks)
    return p, EntryRow(entry, age, race_ethnicity, prior_arrests)


def _at(t0: float, entry: float) -> float:
    """The day a person who enters on ``entry`` starts: ``t0 + (entry - t0)``, as a timeout of
    ``entry - t0`` started on ``t0`` gives it (floating point; the model's results depend on it)."""
    return t0 + (entry - t0)


def _delays_to(now: float, t: float) -> tuple[float, ...]:
    """Delays of one or two timeouts, started at ``now``, that end exactly on ``t >= now``.

    ``now + (t - now)`` can miss ``t`` in the last place when ``now`` is far from ``t`` (or of
    the other sign); then the first timeout stops at ``m``, between ``t / 2`` and ``t`` (or
    ``2t`` and ``t / 2`` for negative ``t``), from where ``t - m`` is exact (Sterbenz's lemma).
    """
    d = t - now
    if now + d == t:
        return (d,)
    first = (0.75 if t > 0.0 else 1.5) * t - now
    m = now + first
    return first, t - m


def _arrival_process(env, sim: Simulation):
    """Makes each arriving person on their entry day and starts their life (people who have not
    arrived yet take no memory: a single process waits for all of them)."""
    t0, entries = env.now, sim.entries
    for pid in range(sim.P.initial_people, len(entries)):
        for delay in _delays_to(env.now, _at(t0, entries[pid])):
            yield env.timeout(delay)
        sim.start_person(pid)


def _capacity_process(env, P: ModelParams, pool: SlotPool):
    """Case managers change on their dated schedule (from the moment LEAD's parameters are set)."""
    for t, cms in zip(P.case_managers.times, P.case_managers.values, strict=True):
        if t > env.now:
            yield env.timeout(t - env.now)
            pool.set_capacity(int(round(cms * P.caseload_per_manager)))


#: simulations with more people than this (everyone who ever enters) keep compact random streams
#: (``streams.BlockStream``): ~0.6 KB instead of ~7 KB of stream state per person present, for ~13%
#: more instructions (callgrind at 1x). The default scenario has 6,621 people; 10 times its population, 65,676.
COMPACT_STREAMS_ABOVE_PEOPLE = 50_000


#: people make the changes that touch nothing shared at once (``person._stepper``); False: each
#: change waits for its own SimPy step (slower; the same results: tests/test_model.py compares them)
RUN_AHEAD = True


if C_TREATMENT != N_CLOCKS - 1:
    raise ImportError("engine.new_person draws the treatment clock last: it must be the last clock")

#: keys of the scenario the model never reads (``costs`` only prices a simulation)
NOT_READ_BY_MODEL = ("name", "description", "arms", "uncertainty", "calibration", "costs")


def model_inputs(sc: Scenario) -> dict:
    """The scenario as the model reads it (JSON-able): without names, arms, uncertainty and costs."""
    d = sc.model_dump(mode="json", by_alias=True, exclude_none=True)
    for k in NOT_READ_BY_MODEL:
        d.pop(k, None)
    d["run"] = {k: v for k, v in d["run"].items() if k not in ("replications", "comparator")}
    return d


#: what treatment found without LEAD does not read of a service in ``lead.services`` (LEAD's
#: own intake reads them; ``cost`` only prices it)
LEAD_ONLY_SERVICE_KEYS = ("need", "p_uptake", "capacity", "cost")


def prefix_key(sc: Scenario) -> str:
    """Equal keys: the scenarios differ at most in LEAD and costs, so they can share phase 1.

    Treatment found without LEAD (``behaviour.treatment_entry_rate_per_year`` > 0) runs from
    the start in every arm and reads the services of its mix in ``lead.services`` (length and
    effects): those are then part of the key."""
    d = model_inputs(sc)
    lead = d.pop("lead", None)
    if sc.behaviour.treatment_entry_rate_per_year > 0 and lead is not None:
        services = lead.get("services", {})
        d["treatment_services"] = {
            name: {k: v for k, v in services[name].items() if k not in LEAD_ONLY_SERVICE_KEYS}
            for name in sorted(sc.behaviour.treatment_mix)
        }
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:24]


def lead_start_day(P: ModelParams) -> float:
    """Before this day nothing in LEAD can happen: no referral, no slot, no service."""
    return max(P.lead_t0, P.t_start) if P.lead_enabled else P.t_end


class Simulation:
    """One arm-replication in progress, in two phases.

    Phase 1 runs with LEAD switched off up to a day on or before LEAD starts (nothing LEAD does
    can happen before then, so LEAD's parameters cannot matter); :meth:`set_lead` then puts in
    the arm's LEAD parameters and phase 2 runs to the end. Every simulation takes this path, so
    arms (or PSA draws) that differ only in LEAD can share phase 1: ``lead_sim.runs.branching`` runs
    it once and forks the process for each of them, with identical results.
    """

    def __init__(self, scenario: Scenario, replication: int, record_from: float = -math.inf):
        """``record_from``: keep only events from that day on and spells that end after it (0.0:
        what costs and metrics in the analysis window need; the warm-up's records are about half
        of the tables). The simulation itself, and so every result in the window, is the same."""
        P = ModelParams(scenario)
        P.lead_enabled = False  # phase 1: see the class docstring
        self.P = P
        self.streams = Streams(scenario.run.seed, replication)
        self.entries = array("d", entry_days(P, self.streams))  # 8 bytes a person, not a float object
        if len(self.entries) > MAX_PEOPLE:
            raise ValueError(f"{scenario.name}: {len(self.entries):,} people would enter; a simulation holds at most {MAX_PEOPLE:,}")
        # people keep their streams' generators (~7 KB per person present) in small simulations
        # and only the next few numbers in large ones; the numbers are the same
        self.streams.compact = len(self.entries) > COMPACT_STREAMS_ABOVE_PEOPLE
        with gc_paused():  # only long-lived objects are made here: collections would find nothing
            self.env = simpy.Environment(initial_time=P.t_start)
            self.pool = SlotPool(0)
            self.world = World(self.env, P, self.streams, Recorder(record_from), self.pool, Counter(P.jail_capacity), {})
            for pid in range(P.initial_people):
                self.start_person(pid)
            self.env.process(_arrival_process(self.env, self))
        self.lead_set = False
        self.outside_lead = prefix_key(scenario)
        self.replication = replication
        self.label = f"{scenario.name} replication {replication}"  # for messages

    def run_until(self, t: float) -> None:
        """Run to day ``t`` (the end of the simulation at most; nothing if it is there already)."""
        if t > self.env.now:
            until = min(t, self.P.t_end)
            self.world.until = until if RUN_AHEAD else -math.inf  # no one runs ahead to it: see person._stepper
            _run_without_gc(self.env, until)

    def start_person(self, pid: int) -> None:
        """Make person ``pid`` (now: their entry day) and start their life; they are dropped at exit."""
        w = self.world
        p, row = new_person(self.P, self.streams, pid, self.entries[pid])
        w.rec.person(p, row, self.P.t_end)
        w.start(p)

    def set_lead(self, scenario: Scenario, params: ModelParams | None = None) -> None:
        """Give the simulation ``scenario``'s parameters: it must differ only in LEAD (and costs),
        and LEAD must not have started yet. ``params``: ``ModelParams(scenario)``, made by the
        caller before the simulation started (see :meth:`finish`)."""
        new = ModelParams(scenario) if params is None else params
        if self.lead_set or self.env.now > lead_start_day(new):
            raise RuntimeError("LEAD parameters can only be set once, before LEAD starts")
        if prefix_key(scenario) != self.outside_lead:
            raise ValueError("set_lead: the scenario differs from the simulated one outside LEAD and costs")
        self.P.__dict__.update(new.__dict__)  # in place: every process holds this object
        self.world.service_places.update({s.name: Counter(s.capacity) for s in new.services})
        if new.lead_enabled:
            self.pool.set_capacity(int(round(new.case_managers.at(self.env.now) * new.caseload_per_manager)))
            self.env.process(_capacity_process(self.env, self.P, self.pool))
        self.lead_set = True
        self.label = f"{scenario.name} replication {self.replication}"

    def finish(self) -> SimResult:
        """Run to the end and return the tables.

        The people still present are freed *before* the tables are built, so that the tables,
        and the costs and metrics computed from them next, can reuse their memory instead of
        adding to it: the peak of a large simulation is then the end of the run. Python only
        gives memory back to the system in whole arenas (1 MiB) with nothing alive in them, so
        objects that outlive the people must not be made among them, halfway through the run:
        the parameters an arm gets at :meth:`set_lead` are made before the run starts, and the
        random streams' hashers are made with the world.
        """
        P, w = self.P, self.world
        self.run_until(P.t_end)
        for p in list(w.persons.values()):  # everyone still in the target group, by id
            close_all(w, p, P.t_end)
        rec, n_steps = w.rec, w.n_steps
        simpy_events = next(self.env._eid)  # SimPy numbers the events it schedules from 0
        self._release()
        _empty_free_lists()
        return SimResult(
            events=rec.events_frame(),
            spells=rec.spells_frame(),
            people=rec.people_frame(),
            n_steps=n_steps,
            t_start=P.t_start,
            t_end=P.t_end,
            records_from=rec.record_from,
            simpy_events=simpy_events,
        )

    def _release(self) -> None:
        """Free the people still in the simulation and its queue of steps (it cannot go on after
        ``finish``) now, by reference counting: the environment and the steps' callback hold
        each other in a cycle that only a full garbage collection would free."""
        self.world.persons.clear()
        self.env._queue.clear()
        self.world.rec = None


def _empty_free_lists() -> None:
    """Give Python's free lists (the last ~2,000 freed tuples of each size, floats, dicts, ...)
    back to the allocator, so that the arenas the people filled can be given back to the system.

    Only a full collection empties them, and one walks every object tracked (~50 ms after the
    imports): frozen objects are skipped, so everything is frozen first and the collection
    walks nothing. A caller that froze objects itself (a forked branch, see
    ``lead_sim.runs.branching``) keeps them, and those made since, frozen.
    """
    frozen_by_caller = gc.get_freeze_count() > 0
    gc.freeze()
    gc.collect()
    if not frozen_by_caller:
        gc.unfreeze()


@contextmanager
def gc_paused():
    """No garbage collection inside (nested uses are fine).

    A simulation makes many short-lived objects and no cyclic garbage until it is released
    (see PERFORMANCE_NOTES.md). Pausing for the whole simulation, not only while SimPy runs,
    also saves a collection that would walk every person present when the collector is turned
    back on between the two phases (about 2% of a 1x simulation's samples under py-spy).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_without_gc(env, until: float) -> None:
    with gc_paused():
        env.run(until=until)


def simulate(scenario: Scenario, replication: int, record_from: float = -math.inf) -> SimResult:
    """Simulate one arm (a fully resolved scenario) for one replication (``record_from``: see
    :class:`Simulation`)."""
    with gc_paused():
        params = ModelParams(scenario)  # before the people: see Simulation.finish
        sim = Simulation(scenario, replication, record_from)
        sim.run_until(lead_start_day(params))
        sim.set_lead(scenario, params)
        return sim.finish()
