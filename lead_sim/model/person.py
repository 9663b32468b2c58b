"""One person's life on the SimPy clock: community states, police contacts, both pathways.

This module is the step: the hazard clocks, the agenda and running ahead (``_stepper``), and
leaving. The changes a step makes live by concern: ``policing`` (a contact), ``court``
(charging to sentence, probation), ``custody`` (jail and prison), ``lead_program`` (referral,
enrolment, services); ``state`` holds the person, their part in LEAD, the constants and the
spells.

A person's life is a chain of *steps*, each the person's next change: the first of their
*competing hazards* or the next date on their personal *agenda*:

* hazards (police contact, drug-use change, housing change, employment change, probation
  violation, LEAD engagement change, treatment found without LEAD) use the next-reaction
  method: each has a unit-exponential clock drawn from its own stream, consumed at the current
  rate. Rates change when the person's state changes, but the clocks are not redrawn, so two
  arms in which a person's states differ still share the same underlying numbers (common
  random numbers);
* the agenda holds dated personal events decided earlier (release from custody, court
  disposition, end of probation, LEAD intake deadline, end of a service or treatment); leaving
  the area (``Person.exit_time``) is kept beside it and comes first on equal dates.

The only cross-person interactions are the LEAD case-manager pool and counted places (jail
beds, service places); a referral waiting for a case manager is woken by an urgent step that
replaces their pending one.

A person is a plain object, not a SimPy process: a step is a small event (``Step``) on SimPy's
queue whose callback runs the person's next change and schedules the step after it (no
generator, no ``Process`` and no ``Timeout`` per person: ~1 KB less per person present, and
less work per step). Changes that touch nothing shared are made at once, without a step of
their own (*running ahead*, see ``_stepper``): the default scenario's LEAD arm makes its
88,843 changes with 24,236 SimPy events in all, where one step per change took 99,137. Every
person's changes are those of a generator process per person, to the last bit.

Steps only *record* what happened (events and state spells, see ``recorder.py``); costs and
outcomes are computed from those records afterwards.
"""

from __future__ import annotations

import heapq
import math
import struct

from simpy.events import NORMAL, URGENT

from lead_sim import names as N
from lead_sim.model.court import on_disposition, on_failure_to_appear, on_violation
from lead_sim.model.custody import release
from lead_sim.model.lead_program import (
    end_service,
    enroll,
    exit_lead,
    fade_step,
    missed_intake,
    on_slot,
    on_treatment,
    set_engaged,
)
from lead_sim.model.policing import on_contact
from lead_sim.model.state import (
    A_DEADLINE,
    A_DISPOSITION,
    A_FADE,
    A_FTA,
    A_INTAKE,
    A_LEAD_EXIT,
    A_PROBATION_END,
    A_RELEASE,
    A_SERVICE_END,
    A_TREATMENT_END,
    AGENDA,
    C_CONTACT,
    C_EMPLOYMENT,
    C_ENGAGEMENT,
    C_HOUSING,
    C_TREATMENT,
    C_USE,
    C_VIOLATION,
    COMMUNITY,
    EXIT,
    LONG_AGO,
    N_CLOCKS,
    PERSON_STREAMS,
    SLOT,
    START,
    STREAM_BLOCKS,
    Person,
    Step,
    close_spell,
    new_bare,
    open_community_spells,
    schedule_step,
    set_flag,
)


class World:
    """What every person shares in one arm-replication."""

    __slots__ = ("env", "P", "streams", "rec", "pool", "jail", "service_places", "persons", "n_steps", "step_callbacks", "until")

    def __init__(self, env, params, streams, recorder, pool, jail, service_places):
        """The arm-replication's SimPy environment, parameters, streams, recorder, case-manager pool,
        jail beds (a ``Counter``) and LEAD's service places (service name -> ``Counter``)."""
        self.env = env
        self.P = params
        self.streams = streams
        self.rec = recorder
        self.pool = pool
        self.jail = jail
        self.service_places = service_places
        self.persons: dict[int, Person] = {}
        self.n_steps = 0
        #: the day the current ``env.run`` stops (``engine.Simulation.run_until``): no one runs ahead to it
        self.until = -math.inf
        self.step_callbacks = _stepper(self)  # the callbacks of every step (one tuple: SimPy only reads it)
        streams.prepare(PERSON_STREAMS)

    def start(self, p: Person) -> None:
        """Start ``p``'s life now (their entry day), as SimPy starts a process: an urgent first step."""
        self.persons[p.pid] = p
        schedule_step(self, p, URGENT, 0.0)

    def rng(self, p: Person, i: int):
        """``p``'s stream ``PERSON_STREAMS[i]`` (a list of one place per stream, not a dict: ~70 bytes
        less per person present at the end of a 10x run)."""
        rngs = p.rngs
        if rngs is None:
            rngs = p.rngs = [None] * len(PERSON_STREAMS)
        r = rngs[i]
        if r is None:
            r = rngs[i] = self.streams.per_person(PERSON_STREAMS[i], p.pid, STREAM_BLOCKS[i])
        return r




_CLOCKS = struct.Struct(f"{N_CLOCKS}d")


_get_clocks = _CLOCKS.unpack_from  # a person's seven clocks at once (a tuple)


_put_clocks = _CLOCKS.pack_into  # all seven clocks into a person's array at once


#: agenda kinds that touch nothing shared: a step for one of them can be run ahead (see ``_stepper``)
PRIVATE_AGENDA = frozenset((A_FTA, A_PROBATION_END, A_FADE, A_TREATMENT_END))


#: agenda kinds whose only shared resource is the jail (a bed taken or given back)
JAIL_AGENDA = frozenset((A_RELEASE, A_DISPOSITION))


def _stepper(w: World) -> tuple:
    """The callbacks of every step (one function): the person's change that is due, then their next.

    *Running ahead*: a person's next change that touches nothing another person can see or
    change is made at once, in the same callback, instead of through a step on SimPy's queue:
    only the first change that may touch something shared (the LEAD case-manager pool and
    service places, jail beds when they are counted) gets a step, at its exact time. So a
    chain of private changes (drug use, housing, work, probation ending, release from an
    uncounted jail, contacts while LEAD cannot act, ...) costs one SimPy event, not one each.
    A change is private when it is, by kind:

    * drug use, housing, employment or engagement changing, failure to appear, the end of
      probation, a step of the fading LEAD effect, the start or end of a treatment found without
      LEAD (it holds no counted place: ``on_treatment``): always;
    * a probation violation, a release or a court disposition: when the jail is not counted
      (``jail.capacity_beds`` null: a bed taken or given back changes nothing anyone sees);
    * a police contact: also only on days when LEAD cannot act (it may ask the case-manager
      pool for a slot);
    * leaving the target group: also only when not in LEAD and holding no service place (a
      treatment found without LEAD holds none).

    A person waiting for a case manager never runs ahead: a slot freed by someone else may
    wake them at any moment (``grant_slot``). Nothing runs ahead to or past the day the
    current ``env.run`` stops (``World.until``): between runs the arm's LEAD parameters are set
    (``engine.Simulation.set_lead``), and after the last one the people still present are closed.

    Each person's changes, and so their records, are exactly those of a run without running
    ahead (a person's steps read only their own state, their own random streams and
    parameters that depend on the day alone); only the order in which different people's
    records are appended changes, and the tables are sorted when they are built
    (``recorder.Recorder``). The next step is put on SimPy's queue at its exact time: a delay
    from ``env.now`` could miss it in the last place.

    The seven hazard clocks are written out one by one (``N_CLOCKS``): this runs once per model
    event, and a loop or comprehension over seven items costs more than the arithmetic.
    """
    env, persons, inf, log1p, heappop = w.env, w.persons, math.inf, math.log1p, heapq.heappop
    new_step, get_clocks, put_clocks = new_bare, _get_clocks, _put_clocks
    P = w.P  # the same object all run: set_lead updates it in place
    jail_counted = w.jail.capacity is not None
    # SimPy 4's queue: Environment.schedule pushes (now + delay, priority, next(eid), event)
    # (tests/test_model.py checks the layout on the installed SimPy)
    queue, eid, heappush = env._queue, env._eid, heapq.heappush

    def on_step(step: Step) -> None:
        p = persons[step.pid]
        now = env.now
        k = p.next_k
        clocks = p.clocks
        if k == START:
            open_community_spells(p, now)
        else:
            rates = p.rates
            if rates is not None:  # the clocks are as of t_wait: see below
                p.rates = None
                elapsed = now - p.t_wait
                if elapsed > 0.0:  # exposure used since the wait began (c - 0.0 * elapsed is c exactly)
                    r0, r1, r2, r3, r4, r5, r6 = rates
                    c0, c1, c2, c3, c4, c5, c6 = get_clocks(clocks)
                    put_clocks(clocks, 0, c0 - r0 * elapsed, c1 - r1 * elapsed, c2 - r2 * elapsed,
                               c3 - r3 * elapsed, c4 - r4 * elapsed, c5 - r5 * elapsed, c6 - r6 * elapsed)
        until = w.until
        while True:
            # the change that is due now (START: the first step, done above)
            if k == AGENDA:
                agenda = p.agenda
                # an AGENDA step comes only from a non-empty agenda; a cast would cost a call per step
                _, _, kind, payload = heappop(agenda)  # type: ignore[arg-type]
                if not agenda:
                    p.agenda = None
                _on_agenda(w, p, now, kind, payload)
            elif k == EXIT:
                _leave(w, p, now)
                return
            elif k == SLOT:
                on_slot(w, p, now)
            elif k >= 0:
                rngs = p.rngs
                r = (rngs is not None and rngs[k]) or w.rng(p, k)
                clocks[k] = -log1p(-r.random())
                _on_hazard(w, p, now, k)
            w.n_steps += 1
            # the next change: the first hazard clock to run out (next-reaction method: each
            # fires after its remaining unit exposure / its rate) or the next date (the exit, or
            # the agenda's next one), whichever is sooner; the first of equal waits wins, as min() would
            community = p.location == COMMUNITY
            if community:
                r0, r1, r2, r3, r4, r5, r6 = _rates(P, p)
                c0, c1, c2, c3, c4, c5, c6 = get_clocks(clocks)
                best_dt, best_k = inf, EXIT
                if r0 > 0.0:
                    best_dt, best_k = c0 / r0, 0
                if r1 > 0.0 and c1 / r1 < best_dt:
                    best_dt, best_k = c1 / r1, 1
                if r2 > 0.0 and c2 / r2 < best_dt:
                    best_dt, best_k = c2 / r2, 2
                if r3 > 0.0 and c3 / r3 < best_dt:
                    best_dt, best_k = c3 / r3, 3
                if r4 > 0.0 and c4 / r4 < best_dt:
                    best_dt, best_k = c4 / r4, 4
                if r5 > 0.0 and c5 / r5 < best_dt:
                    best_dt, best_k = c5 / r5, 5
                if r6 > 0.0 and c6 / r6 < best_dt:
                    best_dt, best_k = c6 / r6, 6
            else:  # in custody every hazard is paused (rate 0): only a date can come next
                best_dt, best_k = inf, EXIT
            # the exit comes before an agenda event on the same day (it was the first one dated)
            t_next, next_k = p.exit_time, EXIT
            agenda = p.agenda
            if agenda is not None and agenda[0][0] < t_next:
                t_next, next_k = agenda[0][0], AGENDA
            date_dt = t_next - now
            if date_dt <= best_dt:
                best_dt, best_k = date_dt, next_k
            delay = best_dt if best_dt > 0.0 else 0.0
            waiting = p.lead_status == N.REFERRED and not p.lead.has_slot  # for a case manager
            if community:
                if waiting:
                    # a slot may wake them before this step is due, so the clocks stay as of
                    # now and the rates are kept to advance them then
                    p.rates, p.t_wait = (r0, r1, r2, r3, r4, r5, r6), now
                else:
                    # nothing can move this step: advance the clocks to its time now, exactly as
                    # they would be then, and keep no rates: ~170 bytes less per person
                    elapsed = (now + delay) - now
                    if 0.0 < elapsed < inf:  # an infinite wait never comes
                        put_clocks(clocks, 0, c0 - r0 * elapsed, c1 - r1 * elapsed, c2 - r2 * elapsed,
                                   c3 - r3 * elapsed, c4 - r4 * elapsed, c5 - r5 * elapsed, c6 - r6 * elapsed)
            t_next = now + delay  # the day a step would fire (as SimPy adds a delay)
            if t_next < until and not waiting:  # run ahead if the change is private (docstring)
                if best_k > 0:
                    private = best_k != C_VIOLATION or not jail_counted
                elif best_k == C_CONTACT:
                    private = not jail_counted and not P.lead_active(t_next)
                elif best_k == AGENDA:
                    kind = agenda[0][2]  # type: ignore[index]  # best_k == AGENDA: the agenda is not None (above)
                    private = kind in PRIVATE_AGENDA or (kind in JAIL_AGENDA and not jail_counted)
                else:  # EXIT
                    services = p.lead.services
                    private = not jail_counted and p.lead_status is None and (
                        services is None or not any(e[2] for e in services.values()))
                if private:
                    now, k = t_next, best_k
                    continue
            p.next_k = best_k
            p.step = s = new_step(Step)
            s.callbacks, s.pid = callbacks, step.pid
            heappush(queue, (t_next, NORMAL, next(eid), s))
            return

    callbacks = (on_step,)
    return callbacks


def _rates(P, p: Person) -> tuple:
    """The seven hazard rates of a person in the community (in custody the step pauses them all)."""
    lead = p.lead
    active, housed, employed, engaged = p.active_use, p.housed, p.employed, lead.engaged
    contact = P.contact_rate_per_day * p.base_mult * lead.contact_mult
    if active:
        contact *= P.rr_contact_active_use
        use = P.remission_rate_per_day * lead.svc_remission
        # treatment found without LEAD: none while already in every service it may be
        treatment = P.treatment_entry_rate_per_day
        if treatment > 0.0 and lead.services is not None and P.treatment_names <= lead.services.keys():
            treatment = 0.0
    else:
        use = P.relapse_rate_per_day * lead.svc_relapse
        treatment = 0.0
    if housed:
        housing = P.housing_loss_rate_per_day * lead.svc_housing_loss * (P.rr_housing_loss_active_use if active else 1.0)
    else:
        contact *= P.rr_contact_unhoused
        housing = P.housing_gain_rate_per_day * (P.rr_housing_gain_engaged if engaged else 1.0)
    if employed:
        employment = P.employment_loss_rate_per_day
    else:
        contact *= P.rr_contact_unemployed
        employment = P.employment_gain_rate_per_day * lead.svc_employment_gain
        if active:
            employment *= P.rr_employment_gain_active_use
        if engaged:
            employment *= P.rr_employment_gain_engaged
    violation = P.probation_violation_rate_per_day if p.on_probation else 0.0
    if p.lead_status == N.ENROLLED:
        engagement = P.disengage_rate_per_day if engaged else P.reengage_rate_per_day
    else:
        engagement = 0.0
    return (contact, use, housing, employment, violation, engagement, treatment)


def _on_hazard(w: World, p: Person, t: float, k: int) -> None:
    if k == C_CONTACT:
        on_contact(w, p, t)
    elif k == C_USE:
        set_flag(w, p, t, N.ACTIVE_USE, "active_use", not p.active_use)
    elif k == C_HOUSING:
        set_flag(w, p, t, N.HOUSED, "housed", not p.housed)
    elif k == C_EMPLOYMENT:
        set_flag(w, p, t, N.EMPLOYED, "employed", not p.employed)
    elif k == C_VIOLATION:
        on_violation(w, p, t)
    elif k == C_ENGAGEMENT:
        set_engaged(w, p, t, not p.lead.engaged)
    elif k == C_TREATMENT:
        on_treatment(w, p, t)


def _on_agenda(w: World, p: Person, t: float, kind: str, payload) -> None:
    if kind == A_RELEASE:
        if p.location != COMMUNITY and t >= p.custody_end:
            release(w, p, t)
    elif kind == A_DISPOSITION:
        on_disposition(w, p, t, payload)
    elif kind == A_FTA:
        on_failure_to_appear(w, p, t, payload)
    elif kind == A_PROBATION_END:
        if p.on_probation and t >= p.probation_end:
            p.on_probation = False
            p.probation_end = LONG_AGO  # read only on probation: drop the day's float (24 bytes)
            close_spell(w, p, N.PROBATION, t)
    elif kind == A_INTAKE:
        if p.lead_status == N.REFERRED:
            p.lead.intake_ready = True
            if p.lead.has_slot:
                enroll(w, p, t)
    elif kind == A_DEADLINE:
        if p.lead_status == N.REFERRED:
            missed_intake(w, p, t)
    elif kind == A_LEAD_EXIT:
        if p.lead_status == N.ENROLLED and t >= p.lead.exit_t:
            exit_lead(w, p, t, "program_end" if t >= w.P.lead_t1 else "completed")
    elif kind == A_SERVICE_END or kind == A_TREATMENT_END:
        entry = p.lead.services.get(payload) if p.lead.services is not None else None
        # an end only ends its own kind of episode (A_TREATMENT_END, run ahead, must never give
        # back a place): a LEAD episode is counted, a treatment found without LEAD is not
        if entry is not None and t >= entry[0] and entry[2] == (kind == A_SERVICE_END):
            end_service(w, p, t, payload)
    elif kind == A_FADE:
        if p.lead_status != N.ENROLLED and p.lead.fade_k == payload:
            fade_step(w, p, t)


def _leave(w: World, p: Person, t: float) -> None:
    """Desistance, moving away or death: close everything the person holds."""
    if p.lead_status == N.ENROLLED:
        exit_lead(w, p, t, "left")
    elif p.lead_status == N.REFERRED:
        if p.lead.has_slot:
            w.pool.release()
        else:
            w.pool.cancel(p.pid)
        p.lead_status = None
    for name in list(p.lead.services or ()):
        end_service(w, p, t, name)
    if p.location == N.JAIL:
        w.jail.give_back()
    w.rec.event(p.pid, t, N.PERSON_EXIT, p.exit_reason)
    close_all(w, p, t)
    p.location = "gone"
    del w.persons[p.pid]  # their row of the people table was written at entry
    p.rngs = None  # nothing is drawn for this person again; free the generators


def close_all(w: World, p: Person, t: float) -> None:
    """Close every spell ``p`` has open, on day ``t`` (on leaving, or at the end of the run)."""
    for kind in p.open[::2]:
        close_spell(w, p, kind, t)
