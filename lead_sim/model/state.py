"""A person's state and what every part of the model shares: constants, the person, their part in
LEAD, and opening and closing state spells (recorded only; see ``recorder``)."""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

from lead_sim import names as N

if TYPE_CHECKING:
    from lead_sim.model.params import ServiceParams
    from lead_sim.model.person import World

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
# what each of a contact's draws decides (``on_contact``): its number in the contact's uniforms
(U_OFFENSE, U_ARREST, U_UNDER_THRESHOLD, U_EXCLUDED, U_HOME_DISTRICT, U_DISTRICT, U_TRAINED, U_DIVERT,
 U_SOCIAL_REFERRAL, U_FELONY) = range(10)
U_CASE = 10  # u[U_CASE:] are the draws of the case that may follow (a referral keeps them for later)
# what each of a case's draws decides (``file_case``, ``on_disposition``, ``dismiss_open_cases``): its
# number in the case's uniforms (the last, K_DISMISSED_AT_INTAKE, was drawn but unused before it decided
# LEAD's prosecutor coordination: no other draw moved)
(K_DETENTION, K_FILED, K_PUBLIC_DEFENDER, K_DISPOSITION_DAYS, K_FTA, K_FTA_DAY, K_DISPOSITION, K_SENTENCE,
 K_SENTENCE_LENGTH, K_DISMISSED_AT_INTAKE) = range(10)
if U_CASE + K_DISMISSED_AT_INTAKE != N_CONTACT_DRAWS - 1:
    raise ImportError("state.py: a contact's draws end with its case's draws (U_CASE + the K_* draws)")
# a filed case as the agenda holds it (``file_case``): its disposition's payload, and the failure to
# appear's; what each place holds
(CASE_CLASS, CASE_U_DISPOSITION, CASE_U_SENTENCE, CASE_U_LENGTH, CASE_DETAINED, CASE_SENTENCE, CASE_LOW_LEVEL,
 CASE_U_DISMISSED, CASE_U_FTA) = range(9)
#: prior arrests counted at most, by ``behaviour.rr_contact_per_prior_arrest`` and ``lead.rr_referral_per_prior_arrest``
MAX_PRIOR_ARRESTS_COUNTED = 10
# Numbers a person's stream holds at a time (``streams.BlockStream``): about what one person uses
# in the simulation (measured on the default scenario: a clock fires 1-3 times, a probation
# violation takes 3 numbers, a treatment found without LEAD 3, LEAD 18), two contacts' worth of
# the contact stream (21 each, with its clock's number). Smaller blocks take less memory and
# remake the generator more often; the numbers drawn are the same whatever the sizes.
STREAM_BLOCK = {"contact": 2 * (N_CONTACT_DRAWS + 1), "probation": 6, "clock.treatment": 6, "lead": 18,
                "probation.arrest": 6}
CLOCK_BLOCK = 4
#: every stream a person may draw from, by number (``World.rng``; the attributes stream is made at
#: entry): a clock's stream has the clock's number. Added streams go at the end (a stream's name, not
#: its number, seeds it: adding one shifts no other). "lead.contact": one number per contact of an
#: engaged LEAD participant that LEAD's legal coordination may change (a warrant resolved, an
#: eligible offense diverted by any officer); "probation.arrest": three per new-offense arrest on
#: probation (whether it is a violation, revocation, sanction length)
PERSON_STREAMS = (*CLOCK_STREAMS, "lead", "lead.contact", "probation.arrest")
S_LEAD = PERSON_STREAMS.index("lead")
S_LEAD_CONTACT = PERSON_STREAMS.index("lead.contact")
S_ARREST_VIOLATION = PERSON_STREAMS.index("probation.arrest")
STREAM_BLOCKS = tuple(STREAM_BLOCK.get(name, CLOCK_BLOCK) for name in PERSON_STREAMS)
N_FADE_STEPS = 4
LONG_AGO = -math.inf  # one float object for every person (``-math.inf`` in __init__ makes a new one each time)


class Lead:
    """A person's part in LEAD and its lasting effects (engagement, the fading contact
    multiplier, services, and treatment found without LEAD, which shares the services' slots):
    made at their first referral or treatment, so the people never referred nor treated (96% of
    those present at the end of the default scenario at 10x) share one (``NEVER_REFERRED``)
    and each carries 14 fewer slots."""

    __slots__ = (
        "engaged", "has_slot", "intake_ready", "referral_route", "referral_class", "referral_sentence", "referral_draws",
        "contact_mult", "fade_k", "exit_t",
        "services", "svc_remission", "svc_relapse", "svc_housing_loss", "svc_employment_gain",
    )

    def __init__(self) -> None:
        """A new part in LEAD: not engaged, no slot, no referral, no service, contact multiplier 1."""
        self.engaged = False
        self.has_slot = False
        self.intake_ready = False
        self.referral_route: str | None = None
        self.referral_class: str | None = None
        self.referral_sentence: str | None = None  # the sentence mix of the referral's case (``court.sentence_key``)
        self.referral_draws: Sequence[float] | None = None
        self.contact_mult = 1.0  # on the contact rate: rr_contact_engaged while engaged, then fading
        self.fade_k = 0
        self.exit_t = LONG_AGO  # the end of the enrollment
        # service name -> (end day, ServiceParams, counted): counted when the episode holds one of
        # LEAD's places (``World.service_places``: a LEAD intake's), not when it is treatment
        # found without LEAD (``on_treatment``); None: no service now
        self.services: dict[str, tuple[float, ServiceParams, bool]] | None = None
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
        "pid", "exit_time", "exit_reason", "female", "district", "profile", "mh_need", "base_mult", "arrests",
        "active_use", "housed", "employed", "location", "custody_end", "on_probation",
        "probation_end", "probation_class", "warrant",
        "lead_status", "lead",
        "agenda", "seq", "open", "rngs", "clocks", "rates", "t_wait", "next_k", "step",
    )
    # drawn at entry by ``engine.new_person`` (not set in __init__; annotations only, no class attributes)
    exit_time: float
    exit_reason: str
    female: bool
    district: int
    profile: str
    mh_need: bool
    base_mult: float
    #: arrests known to the police: prior arrests at entry, plus each arrest since (``policing``)
    arrests: int
    active_use: bool
    housed: bool
    employed: bool

    def __init__(self, pid: int):
        """Person ``pid`` in the community with nothing pending; ``engine.new_person`` draws the rest."""
        self.pid = pid
        self.location = COMMUNITY
        self.custody_end = LONG_AGO
        self.on_probation = False
        self.probation_end = LONG_AGO
        self.probation_class = N.MISDEMEANOR
        self.warrant = False
        self.lead_status: str | None = None  # None | N.REFERRED | N.ENROLLED
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
        self.clocks: array[float] = cast("array[float]", None)  # set by engine.new_person before the first step
        self.rates: tuple[float, ...] | None = None  # the clocks' rates since t_wait, kept only while a step may come early
        self.t_wait = LONG_AGO  # when the rates were set (read only with them)
        self.next_k = START  # what the pending step does: a clock (0..N_CLOCKS-1), AGENDA, EXIT, SLOT or START
        self.step: Step = cast("Step", None)  # the pending step; set when the person starts (``World.start``)

    def push(self, t: float, kind: str, payload=None) -> None:
        """Put a dated event of ``kind`` (an ``A_*`` constant) on the agenda for day ``t``; events of
        the same day come in the order they were pushed."""
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


def open_spell(p: Person, kind: str, t: float) -> None:
    """Open a spell of ``kind`` for ``p`` on day ``t``, unless one is open already."""
    spells = p.open
    if kind not in spells:  # a kind (str) never equals a day (float)
        spells.append(kind)
        spells.append(t)


def close_spell(w: World, p: Person, kind: str, t: float) -> None:
    """Close ``p``'s open spell of ``kind`` on day ``t`` and record it if it lasted; nothing if none
    is open."""
    spells = p.open
    try:
        i = spells.index(kind)  # a kind (str) never equals a day (float)
    except ValueError:  # not open: rare (22 of ~70,000 calls in a 1x simulation)
        return
    start = spells[i + 1]
    del spells[i:i + 2]
    if t > start:
        w.rec.spell(p.pid, kind, start, t)


def open_community_spells(p: Person, t: float) -> None:
    """Open the spells of the flags ``p`` has set (active use, housed, employed): on entry and on
    release, as these spells run only in the community."""
    if p.active_use:
        open_spell(p, N.ACTIVE_USE, t)
    if p.housed:
        open_spell(p, N.HOUSED, t)
    if p.employed:
        open_spell(p, N.EMPLOYED, t)


def close_community_spells(w: World, p: Person, t: float) -> None:
    """Close the spells of the flags ``p`` has set, on entering custody."""
    # in the community a flag's spell is open exactly while the flag is set (open_community_spells,
    # set_flag): closing only those saves ~36,000 calls that find nothing in a 1x simulation
    if p.active_use:
        close_spell(w, p, N.ACTIVE_USE, t)
    if p.housed:
        close_spell(w, p, N.HOUSED, t)
    if p.employed:
        close_spell(w, p, N.EMPLOYED, t)


def set_flag(w: World, p: Person, t: float, kind: str, attr: str, value: bool) -> None:
    """Set ``p``'s flag ``attr`` to ``value`` on day ``t`` and, in the community, open or close its
    spell ``kind`` (in custody it opens on release)."""
    setattr(p, attr, value)
    if p.location == COMMUNITY:
        if value:
            open_spell(p, kind, t)
        else:
            close_spell(w, p, kind, t)


class Step:
    """A person's next step as SimPy's ``Environment.step`` processes an event: it reads
    ``callbacks`` (and sets it to None) and ``_ok``. Much lighter than a ``Timeout``; cancelled
    by emptying ``callbacks`` (it stays queued, as an interrupted process's timeout does)."""

    __slots__ = ("callbacks", "pid")
    callbacks: tuple[Callable[[Step], None], ...] | None  # SimPy sets it to None while processing the step
    pid: int
    _ok = True


new_bare = object.__new__  # Step(...) without running a Python __init__ (once per step)


def schedule_step(w: World, p: Person, priority: int, delay: float) -> None:
    """Put ``p``'s next step on SimPy's queue, ``delay`` days from now at ``priority`` (URGENT:
    before the normal steps of the same time)."""
    p.step = s = new_bare(Step)
    s.callbacks, s.pid = w.step_callbacks, p.pid
    w.env.schedule(s, priority, delay)
