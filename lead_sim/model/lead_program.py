"""LEAD: referral, the case-manager pool, intake, enrolment, engagement, the fading effect after
exit, and services (started by LEAD or found without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from simpy.events import URGENT

from lead_sim import names as N
from lead_sim.model.court import dismiss_open_cases, file_case
from lead_sim.model.state import (
    A_DEADLINE,
    A_FADE,
    A_INTAKE,
    A_LEAD_EXIT,
    A_SERVICE_END,
    A_TREATMENT_END,
    C_TREATMENT,
    N_FADE_STEPS,
    NEVER_REFERRED,
    S_LEAD,
    SLOT,
    Lead,
    Person,
    close_spell,
    open_spell,
    schedule_step,
    set_flag,
)

if TYPE_CHECKING:
    from lead_sim.model.params import ServiceParams
    from lead_sim.model.person import World


def refer(w: World, p: Person, t: float, route: str, cls: str | None, case_draws=None, sentence: str | None = None) -> None:
    """Refer ``p`` to LEAD on day ``t`` by ``route`` ("arrest" or "social_contact").

    Screening may end it at once (ineligible or declined); otherwise an intake date and an intake
    deadline go on the agenda and a case-manager slot is asked for (waiting if none is free).
    ``cls``, ``case_draws`` and ``sentence``, for an arrest referral: the charge class, the case's
    uniforms and its sentence mix (``court.sentence_key``), kept so that the case can go back to
    prosecution if the person is not enrolled."""
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
    lead.referral_sentence = sentence
    lead.referral_draws = case_draws
    lead.intake_ready = False
    lead.has_slot = False
    if u_screen < P.p_referral_ineligible:
        not_enrolled(w, p, t, "ineligible")
        return
    if u_screen < P.p_referral_ineligible + P.p_referral_declined:
        not_enrolled(w, p, t, "declined")
        return
    p.push(t + P.intake_delay_days(u_delay), A_INTAKE)
    p.push(t + P.intake_deadline_days, A_DEADLINE)
    if w.pool.request(p.pid, grant_slot(w)):
        p.lead.has_slot = True
    else:
        open_spell(p, N.LEAD_WAITING, t)


def grant_slot(w: World):
    """The callback the case-manager pool calls when a person waiting in ``w`` gets a slot."""
    def on_grant(pid: int) -> None:
        """Wake the waiting person now: an urgent step replaces their pending one."""
        p = w.persons[pid]
        if p.step.callbacks is None:  # SimPy is processing it: the person would wake twice
            raise RuntimeError(f"person {pid} was granted a case-manager slot during their own step")
        p.step.callbacks = ()
        p.next_k = SLOT
        schedule_step(w, p, URGENT, 0.0)
    return on_grant


def on_slot(w: World, p: Person, t: float) -> None:
    """A waiting person's step after they were granted a slot: stop waiting, and enrol if their
    intake is ready."""
    close_spell(w, p, N.LEAD_WAITING, t)
    if p.lead_status != N.REFERRED:  # cannot happen: waiters are withdrawn first; keep the pool honest
        w.pool.release()
        return
    p.lead.has_slot = True
    if p.lead.intake_ready:
        enroll(w, p, t)


def not_enrolled(w: World, p: Person, t: float, why: str) -> None:
    """End a referral without enrolment on day ``t`` (``why``: the recorded reason); an arrest
    referral's case is filed after all, with no days detained."""
    w.rec.event(p.pid, t, N.LEAD_NOT_ENROLLED, why)
    lead = p.lead
    route, cls, sentence, draws = lead.referral_route, lead.referral_class, lead.referral_sentence, lead.referral_draws
    p.lead_status = None
    lead.referral_route = lead.referral_class = lead.referral_sentence = lead.referral_draws = None
    if route == "arrest" and draws is not None:
        # an arrest referral always has a charge class and a sentence mix (``policing.on_contact``);
        # its offense was one LEAD diverts, so a low-level case
        file_case(w, p, t, cast(str, cls), draws, 0.0, cast(str, sentence), True)  # the case goes back to prosecution


def missed_intake(w: World, p: Person, t: float) -> None:
    """The intake deadline passed before enrolment: give back the slot (or stop waiting for one) and
    end the referral."""
    if p.lead.has_slot:
        w.pool.release()
        p.lead.has_slot = False
    else:
        w.pool.cancel(p.pid)
        close_spell(w, p, N.LEAD_WAITING, t)
    not_enrolled(w, p, t, "missed_intake")


def enroll(w: World, p: Person, t: float) -> None:
    """Enrol a referred person who has a slot and is ready for intake, on day ``t``.

    The provider, the length of the enrolment (ending with the program at the latest), engagement,
    and each service they need and take up, where a place is free; then the prosecutors may
    dismiss their open low-level cases (``court.dismiss_open_cases``). Once LEAD has ended the
    slot is given back and they are not enrolled."""
    P = w.P
    if not P.lead_active(t):
        w.pool.release()
        p.lead.has_slot = False
        not_enrolled(w, p, t, "program_end")
        return
    r = w.rng(p, S_LEAD).random
    u_length, u_provider = r(), r()
    provider = N.PROVIDER_EMPOWERMENT if p.female and u_provider < P.p_empowerment_if_female else N.PROVIDER_ARTS
    w.rec.event(p.pid, t, N.LEAD_INTAKE, provider)
    p.lead_status = N.ENROLLED
    lead = p.lead
    lead.referral_route = lead.referral_class = lead.referral_sentence = lead.referral_draws = None
    lead.exit_t = min(t + P.enrollment_days(u_length), P.lead_t1)
    p.push(lead.exit_t, A_LEAD_EXIT)
    lead.fade_k = 0
    open_spell(p, N.LEAD_ENROLLED, t)
    set_engaged(w, p, t, True)
    for svc in P.services:
        u_take, u_days = r(), r()
        if u_take >= svc.p_uptake or not needs(p, svc.need):
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
        start_service(w, p, t, svc, t + svc.duration(u_days), True)
    update_service_effects(p)
    dismiss_open_cases(w, p, t)


def start_service(w: World, p: Person, t: float, svc, end: float, counted: bool) -> None:
    """An episode of ``svc`` until ``end`` (``counted``: it took one of LEAD's places); the
    caller updates the services' effects (``update_service_effects``) once it has started all."""
    w.rec.event(p.pid, t, N.SERVICE_START, svc.name)
    lead = p.lead
    if lead.services is None:
        lead.services = {}
    lead.services[svc.name] = (end, svc, counted)
    open_spell(p, N.SERVICE_PREFIX + svc.name, t)
    p.push(end, A_SERVICE_END if counted else A_TREATMENT_END, svc.name)
    if svc.houses_on_start and not p.housed:
        set_flag(w, p, t, N.HOUSED, "housed", True)


def on_treatment(w: World, p: Person, t: float) -> None:
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
    start_service(w, p, t, svc, t + svc.duration(u_days), False)
    update_service_effects(p)


def needs(p: Person, need: str) -> bool:
    """Whether ``p`` has the need a service is for: "any", "active_use", "unhoused", "unemployed"
    or "mental_health"."""
    if need == "any":
        return True
    if need == "active_use":
        return p.active_use
    if need == "unhoused":
        return not p.housed
    if need == "unemployed":
        return not p.employed
    return p.mh_need  # "mental_health"


def set_engaged(w: World, p: Person, t: float, engaged: bool) -> None:
    """Engage or disengage ``p`` on day ``t``: while engaged their contact rate is multiplied by
    ``rr_contact_engaged`` and the engaged spell is open."""
    p.lead.engaged = engaged
    if engaged:
        p.lead.contact_mult = w.P.rr_contact_engaged
        open_spell(p, N.LEAD_ENGAGED, t)
    else:
        p.lead.contact_mult = 1.0
        close_spell(w, p, N.LEAD_ENGAGED, t)


def exit_lead(w: World, p: Person, t: float, why: str) -> None:
    """End ``p``'s enrolment on day ``t`` (``why``: "completed", "program_end" or "left") and give
    back the case-manager slot.

    Someone engaged at exit who did not leave the target group keeps an effect on contacts that fades one
    half-life at a time (``fade_step``): what remains of the engaged effect, times an effect of its
    own after exit (``lead.rr_contact_after_exit``, 1: none)."""
    w.rec.event(p.pid, t, N.LEAD_EXIT, why)
    was_engaged = p.lead.engaged
    set_engaged(w, p, t, False)
    close_spell(w, p, N.LEAD_ENROLLED, t)
    p.lead_status = None
    p.lead.has_slot = False
    w.pool.release()
    if was_engaged and why != "left":
        # the direct effect on contacts fades: rr ** (1/2), rr ** (1/4), ... one half-life apart,
        # times the effect after exit: rr_after, rr_after ** (1/2), ... (``fade_step``)
        p.lead.fade_k = 1
        p.lead.contact_mult = w.P.rr_contact_engaged ** 0.5 * w.P.rr_contact_after_exit
        p.push(t + w.P.effect_half_life_after_exit_days, A_FADE, 1)


def fade_step(w: World, p: Person, t: float) -> None:
    """The next step of the fading effect on contacts after exit: at step k the multiplier is
    ``rr_contact_engaged ** (1/2**k) * rr_contact_after_exit ** (1/2**(k-1))`` (each log halves
    one half-life apart; an after-exit ratio of 1 leaves the engaged effect's fade exactly as it
    was), and 1 after ``N_FADE_STEPS``."""
    lead = p.lead
    lead.fade_k += 1
    if lead.fade_k > N_FADE_STEPS:
        lead.contact_mult = 1.0
        return
    P = w.P
    lead.contact_mult = P.rr_contact_engaged ** (0.5**lead.fade_k) * P.rr_contact_after_exit ** (0.5 ** (lead.fade_k - 1))
    p.push(t + P.effect_half_life_after_exit_days, A_FADE, lead.fade_k)


def end_service(w: World, p: Person, t: float, name: str) -> None:
    """End ``p``'s episode of the service ``name`` on day ``t``: give back its place if it held one,
    close its spell and update the services' effects."""
    lead = p.lead
    services = cast("dict[str, tuple[float, ServiceParams, bool]]", lead.services)  # ``p`` is in ``name``
    counted = services.pop(name)[2]
    if not lead.services:
        lead.services = None
    if counted:  # a treatment found without LEAD took no place
        w.service_places[name].give_back()
    close_spell(w, p, N.SERVICE_PREFIX + name, t)
    update_service_effects(p)


def update_service_effects(p: Person) -> None:
    """Recompute ``p``'s service multipliers (remission, relapse, housing loss, employment gain):
    the product over the services they are in now, 1 when none."""
    rem = rel = hl = eg = 1.0
    lead = p.lead
    for _, svc, _ in (lead.services or {}).values():
        rem *= svc.rr_remission
        rel *= svc.rr_relapse
        hl *= svc.rr_housing_loss
        eg *= svc.rr_employment_gain
    lead.svc_remission, lead.svc_relapse, lead.svc_housing_loss, lead.svc_employment_gain = rem, rel, hl, eg
