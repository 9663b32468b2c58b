"""One person's life on the SimPy clock: community states, police contacts, both pathways.

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

Steps only *record* what happened (events and state spells, see ``records.py``); costs and
outcomes are computed from those records afterwards.
"""

from __future__ import annotations

import heapq
import math
import struct
from typing import NamedTuple

from simpy.events import NORMAL, URGENT

from lead_sim import names as N

COMMUNITY = "community"

# hazard clocks
C_CONTACT, C_USE, C_HOUSING, C_EMPLOYMENT, C_VIOLATION, C_ENGAGEMENT, C_TREATMENT = range(7)
# A clock's stream also serves the decisions taken when it fires (a contact's offense and case,
# a violation's sanction, a treatment's service and length), in a fixed number of draws per
# firing: one stream object fewer per person and decision, same alignment across arms.
CLOCK_STREAMS = (
    "contact", "clock.use", "clock.housing", "clock.employment", "probation", "clock.engagement", "clock.treatment",
)
N_CLOCKS = len(CLOCK_STREAMS)
if N_CLOCKS != 7 or C_TREATMENT != N_CLOCKS - 1:
    raise ImportError("person.py: the step (_stepper) handles exactly seven hazard clocks, one by one, "
                      "the treatment clock last (engine.new_person draws its first value last)")
AGENDA, SLOT, START, EXIT = -1, -2, -3, -4  # what a step does besides a hazard clock: see ``Person.next_k``

# agenda kinds
A_RELEASE, A_DISPOSITION, A_FTA, A_PROBATION_END = "release", "disposition", "fta", "probation_end"
A_INTAKE, A_DEADLINE, A_LEAD_EXIT, A_SERVICE_END, A_FADE = "intake", "deadline", "lead_exit", "service_end", "fade"
# the end of a treatment found without LEAD: it holds no counted place, so its end is private
A_TREATMENT_END = "treatment_end"

N_CONTACT_DRAWS = 20  # uniforms per contact: 0-9 the contact, 10-19 the case if one follows
# what each of a contact's draws decides (``_on_contact``): its number in the contact's uniforms
(U_OFFENSE, U_ARREST, U_UNDER_THRESHOLD, U_EXCLUDED, U_HOME_DISTRICT, U_DISTRICT, U_TRAINED, U_DIVERT,
 U_SOCIAL_REFERRAL, U_FELONY) = range(10)
U_CASE = 10  # u[U_CASE:] are the draws of the case that may follow (a referral keeps them for later)
# what each of a case's draws decides (``_file_case``, ``_on_disposition``): its number in the case's uniforms
(K_DETENTION, K_FILED, K_PUBLIC_DEFENDER, K_DISPOSITION_DAYS, K_FTA, K_FTA_DAY, K_DISPOSITION, K_SENTENCE,
 K_SENTENCE_LENGTH) = range(9)
# Numbers a person's stream holds at a time (``streams.BlockStream``): about what one person uses
# in the simulation (measured on the default scenario: a clock fires 1-3 times, a probation
# violation takes 3 numbers, a treatment found without LEAD 3, LEAD 18), two contacts' worth of
# the contact stream (21 each, with its clock's number). Smaller blocks take less memory and
# remake the generator more often; the numbers drawn are the same whatever the sizes.
STREAM_BLOCK = {"contact": 2 * (N_CONTACT_DRAWS + 1), "probation": 6, "clock.treatment": 6, "lead": 18}
CLOCK_BLOCK = 4
#: every stream a person may draw from, by number (``World.rng``; the attributes stream is made at
#: entry): a clock's stream has the clock's number
PERSON_STREAMS = (*CLOCK_STREAMS, "lead")
S_LEAD = PERSON_STREAMS.index("lead")
_BLOCKS = tuple(STREAM_BLOCK.get(name, CLOCK_BLOCK) for name in PERSON_STREAMS)
N_FADE_STEPS = 4
LONG_AGO = -math.inf  # one float object for every person (``-math.inf`` in __init__ makes a new one each time)


class Lead:
    """A person's part in LEAD and its lasting effects (engagement, the fading contact
    multiplier, services, and treatment found without LEAD, which shares the services' slots):
    made at their first referral or treatment, so the people never referred nor treated (96% of
    those present at the end of the default scenario at 10x) share one (``NEVER_REFERRED``)
    and each carries 13 fewer slots."""

    __slots__ = (
        "engaged", "has_slot", "intake_ready", "referral_route", "referral_class", "referral_draws",
        "contact_mult", "fade_k", "exit_t",
        "services", "svc_remission", "svc_relapse", "svc_housing_loss", "svc_employment_gain",
    )

    def __init__(self):
        self.engaged = False
        self.has_slot = False
        self.intake_ready = False
        self.referral_route = None
        self.referral_class = None
        self.referral_draws = None
        self.contact_mult = 1.0  # on the contact rate: rr_contact_engaged while engaged, then fading
        self.fade_k = 0
        self.exit_t = LONG_AGO  # the end of the enrollment
        # service name -> (end day, ServiceParams, counted): counted when the episode holds one of
        # LEAD's places (``World.service_places``: a LEAD intake's), not when it is treatment
        # found without LEAD (``_on_treatment``); None: no service now
        self.services: dict[str, tuple[float, object, bool]] | None = None
        self.svc_remission = self.svc_relapse = self.svc_housing_loss = self.svc_employment_gain = 1.0


class _NeverReferred(Lead):
    """The defaults every person not yet referred reads; shared, so it refuses to change."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"NEVER_REFERRED is shared by everyone not yet referred: give the person a Lead() first (setting {name})")


def _never_referred() -> Lead:
    shared = object.__new__(_NeverReferred)
    defaults = Lead()
    for name in Lead.__slots__:  # a new Lead's values, all immutable
        object.__setattr__(shared, name, getattr(defaults, name))
    return shared


NEVER_REFERRED = _never_referred()


class Person:
    """Attributes drawn at entry and the mutable state of one person in one arm."""

    __slots__ = (
        "pid", "exit_time", "exit_reason", "female", "district", "profile", "mh_need", "base_mult",
        "active_use", "housed", "employed", "location", "custody_end", "on_probation",
        "probation_end", "probation_class", "warrant",
        "lead_status", "lead",
        "agenda", "seq", "open", "rngs", "clocks", "rates", "t_wait", "next_k", "step",
    )

    def __init__(self, pid: int):
        self.pid = pid
        self.location = COMMUNITY
        self.custody_end = LONG_AGO
        self.on_probation = False
        self.probation_end = LONG_AGO
        self.probation_class = N.MISDEMEANOR
        self.warrant = False
        self.lead_status = None  # None | N.REFERRED | N.ENROLLED
        self.lead: Lead = NEVER_REFERRED  # their own Lead from their first referral on
        self.agenda: list | None = None  # a heap of (day, seq, kind, payload); None when empty
        self.seq = 0
        # the spells open now, in the order they were opened: [kind, start day, kind, start day, ...]
        # (a dict of the same, as a list: ~130 bytes less per person present at the end of a 10x run)
        self.open: list = []
        self.rngs: list | None = None  # the person's streams by number (PERSON_STREAMS), made when first used
        # unit exposure left on each hazard clock (engine.new_person): as of the pending step's
        # time, or, if ``rates`` is set, as of ``t_wait`` (see ``_stepper``)
        # (an array("d") of seven: 136 bytes, where a list of seven float objects takes 280; read
        # and written whole, ``_get_clocks`` and ``_put_clocks``, as item access on an array is slow)
        self.clocks = None
        self.rates = None  # the clocks' rates since t_wait, kept only while a step may come early
        self.t_wait = LONG_AGO  # when the rates were set (read only with them)
        self.next_k = START  # what the pending step does: a clock (0..N_CLOCKS-1), AGENDA, EXIT, SLOT or START
        self.step = None  # the pending step (a ``Step``)

    def push(self, t: float, kind: str, payload=None) -> None:
        self.seq += 1
        if self.agenda is None:
            self.agenda = [(t, self.seq, kind, payload)]
        else:
            heapq.heappush(self.agenda, (t, self.seq, kind, payload))


class EntryRow(NamedTuple):
    """What is drawn for a person at entry and only recorded (the people table), not kept on them."""

    entry_day: float
    age_years: float
    race_ethnicity: str
    prior_arrests: int


class Step:
    """A person's next step as SimPy's ``Environment.step`` processes an event: it reads
    ``callbacks`` (and sets it to None) and ``_ok``. Much lighter than a ``Timeout``; cancelled
    by emptying ``callbacks`` (it stays queued, as an interrupted process's timeout does)."""

    __slots__ = ("callbacks", "pid")
    _ok = True


class World:
    """What every person shares in one arm-replication."""

    __slots__ = ("env", "P", "streams", "rec", "pool", "jail", "service_places", "persons", "n_steps", "step_callbacks", "until")

    def __init__(self, env, params, streams, recorder, pool, jail, service_places):
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
        _schedule(self, p, URGENT, 0.0)

    def rng(self, p: Person, i: int):
        """``p``'s stream ``PERSON_STREAMS[i]`` (a list of seven places, not a dict: ~70 bytes
        less per person present at the end of a 10x run)."""
        rngs = p.rngs
        if rngs is None:
            rngs = p.rngs = [None] * len(PERSON_STREAMS)
        r = rngs[i]
        if r is None:
            r = rngs[i] = self.streams.per_person(PERSON_STREAMS[i], p.pid, _BLOCKS[i])
        return r


# ---- spells -----------------------------------------------------------------------------------


def _open(p: Person, kind: str, t: float) -> None:
    spells = p.open
    if kind not in spells:  # a kind (str) never equals a day (float)
        spells.append(kind)
        spells.append(t)


def _close(w: World, p: Person, kind: str, t: float) -> None:
    spells = p.open
    try:
        i = spells.index(kind)  # a kind (str) never equals a day (float)
    except ValueError:  # not open: rare (22 of ~70,000 calls in a 1x simulation)
        return
    start = spells[i + 1]
    del spells[i:i + 2]
    if t > start:
        w.rec.spell(p.pid, kind, start, t)


def _open_community(p: Person, t: float) -> None:
    if p.active_use:
        _open(p, N.ACTIVE_USE, t)
    if p.housed:
        _open(p, N.HOUSED, t)
    if p.employed:
        _open(p, N.EMPLOYED, t)


def _close_community(w: World, p: Person, t: float) -> None:
    # in the community a flag's spell is open exactly while the flag is set (_open_community,
    # _set_flag): closing only those saves ~36,000 calls that find nothing in a 1x simulation
    if p.active_use:
        _close(w, p, N.ACTIVE_USE, t)
    if p.housed:
        _close(w, p, N.HOUSED, t)
    if p.employed:
        _close(w, p, N.EMPLOYED, t)


def _set_flag(w: World, p: Person, t: float, kind: str, attr: str, value: bool) -> None:
    setattr(p, attr, value)
    if p.location == COMMUNITY:
        if value:
            _open(p, kind, t)
        else:
            _close(w, p, kind, t)


# ---- steps -----------------------------------------------------------------------------------


def _schedule(w: World, p: Person, priority: int, delay: float) -> None:
    p.step = s = _new_step(Step)
    s.callbacks, s.pid = w.step_callbacks, p.pid
    w.env.schedule(s, priority, delay)


_new_step = object.__new__  # Step(...) without running a Python __init__ (once per step)
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
      LEAD (it holds no counted place: ``_on_treatment``): always;
    * a probation violation, a release or a court disposition: when the jail is not counted
      (``jail.capacity_beds`` null: a bed taken or given back changes nothing anyone sees);
    * a police contact: also only on days when LEAD cannot act (it may ask the case-manager
      pool for a slot);
    * leaving the target group: also only when not in LEAD and holding no service place (a
      treatment found without LEAD holds none).

    A person waiting for a case manager never runs ahead: a slot freed by someone else may
    wake them at any moment (``_grant_slot``). Nothing runs ahead to or past the day the
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
    new_step, get_clocks, put_clocks = _new_step, _get_clocks, _put_clocks
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
            _open_community(p, now)
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
                _, _, kind, payload = heappop(agenda)
                if not agenda:
                    p.agenda = None
                _on_agenda(w, p, now, kind, payload)
            elif k == EXIT:
                _leave(w, p, now)
                return
            elif k == SLOT:
                _on_slot(w, p, now)
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
                    kind = agenda[0][2]
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
        _on_contact(w, p, t)
    elif k == C_USE:
        _set_flag(w, p, t, N.ACTIVE_USE, "active_use", not p.active_use)
    elif k == C_HOUSING:
        _set_flag(w, p, t, N.HOUSED, "housed", not p.housed)
    elif k == C_EMPLOYMENT:
        _set_flag(w, p, t, N.EMPLOYED, "employed", not p.employed)
    elif k == C_VIOLATION:
        _on_violation(w, p, t)
    elif k == C_ENGAGEMENT:
        _set_engaged(w, p, t, not p.lead.engaged)
    elif k == C_TREATMENT:
        _on_treatment(w, p, t)


def _on_agenda(w: World, p: Person, t: float, kind: str, payload) -> None:
    if kind == A_RELEASE:
        if p.location != COMMUNITY and t >= p.custody_end:
            _release(w, p, t)
    elif kind == A_DISPOSITION:
        _on_disposition(w, p, t, payload)
    elif kind == A_FTA:
        if p.location == COMMUNITY:
            w.rec.event(p.pid, t, N.FAILURE_TO_APPEAR, "")
            p.warrant = True
    elif kind == A_PROBATION_END:
        if p.on_probation and t >= p.probation_end:
            p.on_probation = False
            p.probation_end = LONG_AGO  # read only on probation: drop the day's float (24 bytes)
            _close(w, p, N.PROBATION, t)
    elif kind == A_INTAKE:
        if p.lead_status == N.REFERRED:
            p.lead.intake_ready = True
            if p.lead.has_slot:
                _enroll(w, p, t)
    elif kind == A_DEADLINE:
        if p.lead_status == N.REFERRED:
            _missed_intake(w, p, t)
    elif kind == A_LEAD_EXIT:
        if p.lead_status == N.ENROLLED and t >= p.lead.exit_t:
            _exit_lead(w, p, t, "program_end" if t >= w.P.lead_t1 else "completed")
    elif kind == A_SERVICE_END or kind == A_TREATMENT_END:
        entry = p.lead.services.get(payload) if p.lead.services is not None else None
        # an end only ends its own kind of episode (A_TREATMENT_END, run ahead, must never give
        # back a place): a LEAD episode is counted, a treatment found without LEAD is not
        if entry is not None and t >= entry[0] and entry[2] == (kind == A_SERVICE_END):
            _end_service(w, p, t, payload)
    elif kind == A_FADE:
        if p.lead_status != N.ENROLLED and p.lead.fade_k == payload:
            _fade_step(w, p, t)


# ---- contacts ---------------------------------------------------------------------------------


def _on_contact(w: World, p: Person, t: float) -> None:
    P = w.P
    u = w.rng(p, C_CONTACT).take(N_CONTACT_DRAWS)
    offense = P.offense_mix[p.profile].pick(u[U_OFFENSE])
    w.rec.event(p.pid, t, N.POLICE_CONTACT, offense)
    if p.warrant:
        _warrant_arrest(w, p, t, u[U_CASE + K_DETENTION])
        return
    if u[U_HOME_DISTRICT] < P.p_contact_in_home_district:
        district = p.district
    else:
        district = int(P.district.pick(u[U_DISTRICT]))
    lead_here = P.lead_active(t) and district in P.lead_districts
    trained = lead_here and u[U_TRAINED] < P.p_officer_trained.at(t)
    if offense == N.NO_OFFENSE:
        if trained and p.lead_status is None and u[U_SOCIAL_REFERRAL] < P.p_social_referral_per_contact:
            if not (P.book_when_full and w.pool.full()):
                _refer(w, p, t, "social_contact", None)
        return
    if u[U_ARREST] >= P.p_arrest_if_offense:
        return  # warned and released; the contact is recorded, no arrest
    under = offense != N.POSSESSION or u[U_UNDER_THRESHOLD] < P.p_possession_under_threshold
    eligible = offense in (N.POSSESSION, N.PROSTITUTION) and under and u[U_EXCLUDED] >= P.p_excluded
    cls = _charge_class(P, offense, under, t, u[U_FELONY])
    if eligible and trained:
        if p.lead_status is not None:
            w.rec.event(p.pid, t, N.LEAD_PARTICIPANT_CONTACT, "")
            return
        if u[U_DIVERT] < P.p_divert_if_eligible and not (P.book_when_full and w.pool.full()):
            _refer(w, p, t, "arrest", cls, u[U_CASE:])
            return
    w.rec.event(p.pid, t, N.ARREST, "new_offense")
    w.rec.event(p.pid, t, N.BOOKING, "")
    detention = P.pretrial_detention_days[cls](u[U_CASE + K_DETENTION])
    _enter_custody(w, p, t, N.JAIL, detention, pretrial=True)
    _file_case(w, p, t, cls, u[U_CASE:], detention)


def _charge_class(P, offense: str, under: bool, t: float, u: float) -> str:
    if offense == N.POSSESSION:
        p_felony = P.p_possession_felony.at(t) if under else P.p_possession_over_threshold_felony
    elif offense == N.PROSTITUTION:
        p_felony = 0.0
    else:
        p_felony = P.p_other_felony
    return N.FELONY if u < p_felony else N.MISDEMEANOR


def _warrant_arrest(w: World, p: Person, t: float, u: float) -> None:
    p.warrant = False
    w.rec.event(p.pid, t, N.ARREST, "warrant")
    w.rec.event(p.pid, t, N.BOOKING, "")
    _enter_custody(w, p, t, N.JAIL, w.P.warrant_detention_days(u), pretrial=True)


def _file_case(w: World, p: Person, t: float, cls: str, u, detention: float) -> None:
    """Charging, defense, failure to appear and a dated disposition for one case."""
    P = w.P
    if u[K_FILED] >= P.p_charges_filed[cls]:
        return  # not filed
    w.rec.event(p.pid, t, N.CHARGE_FELONY if cls == N.FELONY else N.CHARGE_MISDEMEANOR, "")
    if u[K_PUBLIC_DEFENDER] < P.p_public_defender:
        w.rec.event(p.pid, t, N.PUBLIC_DEFENSE, "")
    t_dispo = t + P.days_to_disposition[cls](u[K_DISPOSITION_DAYS])
    released = t + detention
    if u[K_FTA] < P.p_failure_to_appear[cls] and t_dispo > released:
        p.push(released + u[K_FTA_DAY] * (t_dispo - released), A_FTA)
    p.push(t_dispo, A_DISPOSITION, (cls, u[K_DISPOSITION], u[K_SENTENCE], u[K_SENTENCE_LENGTH], detention))


def _on_disposition(w: World, p: Person, t: float, case) -> None:
    P = w.P
    cls, u_dispo, u_sentence, u_length, served = case
    outcome = P.disposition[cls].pick(u_dispo)
    w.rec.event(p.pid, t, N.DISPOSITION, outcome)
    if outcome == "dismissed":
        return
    if outcome == "deferred":
        _start_probation(w, p, t, P.deferred_supervision_days(u_length), cls)
        return
    sentence = P.sentence[cls].pick(u_sentence)
    if sentence == "jail":
        _enter_custody(w, p, t, N.JAIL, max(0.0, P.jail_sentence_days[cls](u_length) - served))
    elif sentence == "prison":
        w.rec.event(p.pid, t, N.PRISON_ADMISSION, "")
        _enter_custody(w, p, t, N.PRISON, P.prison_days(u_length))
    elif sentence == "probation":
        _start_probation(w, p, t, P.probation_days[cls](u_length), cls)


def _start_probation(w: World, p: Person, t: float, days: float, cls: str) -> None:
    if days <= 0:
        return
    w.rec.event(p.pid, t, N.PROBATION_START, "")
    end = t + days
    if p.on_probation:
        if end <= p.probation_end:
            return
    else:
        p.on_probation = True
        _open(p, N.PROBATION, t)
    p.probation_end = end
    if cls == N.FELONY:
        p.probation_class = N.FELONY
    p.push(end, A_PROBATION_END)


def _on_violation(w: World, p: Person, t: float) -> None:
    P = w.P
    r = w.rng(p, C_VIOLATION).random
    u0, u1 = r(), r()
    if u0 < P.p_revocation_per_violation:
        w.rec.event(p.pid, t, N.PROBATION_VIOLATION, "revocation")
        p.on_probation = False
        p.probation_end = LONG_AGO
        _close(w, p, N.PROBATION, t)
        if p.probation_class == N.FELONY:
            w.rec.event(p.pid, t, N.PRISON_ADMISSION, "")
            _enter_custody(w, p, t, N.PRISON, P.prison_days(u1))
        else:
            _enter_custody(w, p, t, N.JAIL, P.revocation_jail_days(u1))
        p.probation_class = N.MISDEMEANOR
    else:
        w.rec.event(p.pid, t, N.PROBATION_VIOLATION, "sanction")
        _enter_custody(w, p, t, N.JAIL, P.sanction_jail_days(u1))


# ---- custody ----------------------------------------------------------------------------------


def _enter_custody(w: World, p: Person, t: float, kind: str, days: float, pretrial: bool = False) -> None:
    if days <= 0.0:
        return
    end = t + days
    if p.location == COMMUNITY:
        if kind == N.JAIL and not w.jail.try_take():
            return  # no bed: released instead of detained
        _close_community(w, p, t)
        p.location = kind
        _open(p, kind, t)
        p.custody_end = end
        p.push(end, A_RELEASE)
        return
    if kind == N.PRISON and p.location == N.JAIL:
        _close(w, p, N.JAIL, t)
        w.jail.give_back()
        p.location = N.PRISON
        _open(p, N.PRISON, t)
    if end > p.custody_end:
        p.custody_end = end
        p.push(end, A_RELEASE)


def _release(w: World, p: Person, t: float) -> None:
    _close(w, p, p.location, t)
    if p.location == N.JAIL:
        w.jail.give_back()
    p.location = COMMUNITY
    p.custody_end = LONG_AGO  # read only in custody: drop the day's float (24 bytes)
    _open_community(p, t)


# ---- LEAD -------------------------------------------------------------------------------------


def _refer(w: World, p: Person, t: float, route: str, cls: str | None, case_draws=None) -> None:
    P = w.P
    r = w.rng(p, S_LEAD).random
    u_screen, u_delay = r(), r()
    w.rec.event(p.pid, t, N.LEAD_REFERRAL, route)
    if p.lead is NEVER_REFERRED:
        p.lead = Lead()
    lead = p.lead
    p.lead_status = N.REFERRED
    lead.referral_route = route
    lead.referral_class = cls
    lead.referral_draws = case_draws
    lead.intake_ready = False
    lead.has_slot = False
    if u_screen < P.p_referral_ineligible:
        _not_enrolled(w, p, t, "ineligible")
        return
    if u_screen < P.p_referral_ineligible + P.p_referral_declined:
        _not_enrolled(w, p, t, "declined")
        return
    p.push(t + P.intake_delay_days(u_delay), A_INTAKE)
    p.push(t + P.intake_deadline_days, A_DEADLINE)
    if w.pool.request(p.pid, _grant_slot(w)):
        p.lead.has_slot = True
    else:
        _open(p, N.LEAD_WAITING, t)


def _grant_slot(w: World):
    def on_grant(pid: int) -> None:
        """Wake the waiting person now: an urgent step replaces their pending one."""
        p = w.persons[pid]
        if p.step.callbacks is None:  # SimPy is processing it: the person would wake twice
            raise RuntimeError(f"person {pid} was granted a case-manager slot during their own step")
        p.step.callbacks = ()
        p.next_k = SLOT
        _schedule(w, p, URGENT, 0.0)
    return on_grant


def _on_slot(w: World, p: Person, t: float) -> None:
    _close(w, p, N.LEAD_WAITING, t)
    if p.lead_status != N.REFERRED:  # cannot happen: waiters are withdrawn first; keep the pool honest
        w.pool.release()
        return
    p.lead.has_slot = True
    if p.lead.intake_ready:
        _enroll(w, p, t)


def _not_enrolled(w: World, p: Person, t: float, why: str) -> None:
    w.rec.event(p.pid, t, N.LEAD_NOT_ENROLLED, why)
    lead = p.lead
    route, cls, draws = lead.referral_route, lead.referral_class, lead.referral_draws
    p.lead_status = None
    lead.referral_route = lead.referral_class = lead.referral_draws = None
    if route == "arrest" and draws is not None:
        _file_case(w, p, t, cls, draws, 0.0)  # the case goes back to prosecution


def _missed_intake(w: World, p: Person, t: float) -> None:
    if p.lead.has_slot:
        w.pool.release()
        p.lead.has_slot = False
    else:
        w.pool.cancel(p.pid)
        _close(w, p, N.LEAD_WAITING, t)
    _not_enrolled(w, p, t, "missed_intake")


def _enroll(w: World, p: Person, t: float) -> None:
    P = w.P
    if not P.lead_active(t):
        w.pool.release()
        p.lead.has_slot = False
        _not_enrolled(w, p, t, "program_end")
        return
    r = w.rng(p, S_LEAD).random
    u_length, u_provider = r(), r()
    provider = N.PROVIDER_EMPOWERMENT if p.female and u_provider < P.p_empowerment_if_female else N.PROVIDER_ARTS
    w.rec.event(p.pid, t, N.LEAD_INTAKE, provider)
    p.lead_status = N.ENROLLED
    lead = p.lead
    lead.referral_route = lead.referral_class = lead.referral_draws = None
    lead.exit_t = min(t + P.enrollment_days(u_length), P.lead_t1)
    p.push(lead.exit_t, A_LEAD_EXIT)
    lead.fade_k = 0
    _open(p, N.LEAD_ENROLLED, t)
    _set_engaged(w, p, t, True)
    for svc in P.services:
        u_take, u_days = r(), r()
        if u_take >= svc.p_uptake or not _needs(p, svc.need):
            continue
        held = lead.services.get(svc.name) if lead.services is not None else None
        if held is not None:
            # already in it (found without LEAD, or still from an earlier enrolment): no second
            # episode, no second place (a place taken twice was never given back), nothing recorded
            continue
        places = w.service_places[svc.name]
        if not places.try_take():
            w.rec.event(p.pid, t, N.SERVICE_UNAVAILABLE, svc.name)
            continue
        _start_service(w, p, t, svc, t + svc.duration(u_days), True)
    _update_service_effects(p)


def _start_service(w: World, p: Person, t: float, svc, end: float, counted: bool) -> None:
    """An episode of ``svc`` until ``end`` (``counted``: it took one of LEAD's places); the
    caller updates the services' effects (``_update_service_effects``) once it has started all."""
    w.rec.event(p.pid, t, N.SERVICE_START, svc.name)
    lead = p.lead
    if lead.services is None:
        lead.services = {}
    lead.services[svc.name] = (end, svc, counted)
    _open(p, N.SERVICE_PREFIX + svc.name, t)
    p.push(end, A_SERVICE_END if counted else A_TREATMENT_END, svc.name)
    if svc.houses_on_start and not p.housed:
        _set_flag(w, p, t, N.HOUSED, "housed", True)


def _on_treatment(w: World, p: Person, t: float) -> None:
    """Treatment found without LEAD (any arm; the hazard runs only in active use in the
    community): one uniform picks the service (``behaviour.treatment_mix``), one its length.
    It holds none of LEAD's places (those are for LEAD's own referrals), so it touches nothing
    shared. Nothing starts if the person is already in that service."""
    P = w.P
    r = w.rng(p, C_TREATMENT).random
    u_pick, u_days = r(), r()
    svc = P.treatment_services[P.treatment_pick.pick(u_pick)]
    if p.lead.services is not None and svc.name in p.lead.services:
        return
    if p.lead is NEVER_REFERRED:
        p.lead = Lead()
    _start_service(w, p, t, svc, t + svc.duration(u_days), False)
    _update_service_effects(p)


def _needs(p: Person, need: str) -> bool:
    if need == "any":
        return True
    if need == "active_use":
        return p.active_use
    if need == "unhoused":
        return not p.housed
    if need == "unemployed":
        return not p.employed
    return p.mh_need  # "mental_health"


def _set_engaged(w: World, p: Person, t: float, engaged: bool) -> None:
    p.lead.engaged = engaged
    if engaged:
        p.lead.contact_mult = w.P.rr_contact_engaged
        _open(p, N.LEAD_ENGAGED, t)
    else:
        p.lead.contact_mult = 1.0
        _close(w, p, N.LEAD_ENGAGED, t)


def _exit_lead(w: World, p: Person, t: float, why: str) -> None:
    w.rec.event(p.pid, t, N.LEAD_EXIT, why)
    was_engaged = p.lead.engaged
    _set_engaged(w, p, t, False)
    _close(w, p, N.LEAD_ENROLLED, t)
    p.lead_status = None
    p.lead.has_slot = False
    w.pool.release()
    if was_engaged and why != "left":
        # the direct effect on contacts fades: rr ** (1/2), rr ** (1/4), ... one half-life apart
        p.lead.fade_k = 1
        p.lead.contact_mult = w.P.rr_contact_engaged ** 0.5
        p.push(t + w.P.effect_half_life_after_exit_days, A_FADE, 1)


def _fade_step(w: World, p: Person, t: float) -> None:
    lead = p.lead
    lead.fade_k += 1
    if lead.fade_k > N_FADE_STEPS:
        lead.contact_mult = 1.0
        return
    lead.contact_mult = w.P.rr_contact_engaged ** (0.5**lead.fade_k)
    p.push(t + w.P.effect_half_life_after_exit_days, A_FADE, lead.fade_k)


def _end_service(w: World, p: Person, t: float, name: str) -> None:
    lead = p.lead
    counted = lead.services.pop(name)[2]
    if not lead.services:
        lead.services = None
    if counted:  # a treatment found without LEAD took no place
        w.service_places[name].give_back()
    _close(w, p, N.SERVICE_PREFIX + name, t)
    _update_service_effects(p)


def _update_service_effects(p: Person) -> None:
    rem = rel = hl = eg = 1.0
    lead = p.lead
    for _, svc, _ in (lead.services or {}).values():
        rem *= svc.rr_remission
        rel *= svc.rr_relapse
        hl *= svc.rr_housing_loss
        eg *= svc.rr_employment_gain
    lead.svc_remission, lead.svc_relapse, lead.svc_housing_loss, lead.svc_employment_gain = rem, rel, hl, eg


# ---- leaving ----------------------------------------------------------------------------------


def _leave(w: World, p: Person, t: float) -> None:
    """Desistance, moving away or death: close everything the person holds."""
    if p.lead_status == N.ENROLLED:
        _exit_lead(w, p, t, "left")
    elif p.lead_status == N.REFERRED:
        if p.lead.has_slot:
            w.pool.release()
        else:
            w.pool.cancel(p.pid)
        p.lead_status = None
    for name in list(p.lead.services or ()):
        _end_service(w, p, t, name)
    if p.location == N.JAIL:
        w.jail.give_back()
    w.rec.event(p.pid, t, N.PERSON_EXIT, p.exit_reason)
    close_all(w, p, t)
    p.location = "gone"
    del w.persons[p.pid]  # their row of the people table was written at entry
    p.rngs = None  # nothing is drawn for this person again; free the generators


def close_all(w: World, p: Person, t: float) -> None:
    for kind in p.open[::2]:
        _close(w, p, kind, t)
