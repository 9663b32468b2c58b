"""Policing: a police contact, the offense found, arrest or warning, eligibility, the LEAD-trained
officer's referral (more or less likely for people the police know), a LEAD participant's
contact handled with their case manager, a warrant served or resolved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lead_sim import names as N
from lead_sim.model.court import charge_class, file_case, on_new_arrest_on_probation, sentence_key
from lead_sim.model.custody import enter_custody
from lead_sim.model.lead_program import refer
from lead_sim.model.state import (
    C_CONTACT,
    K_DETENTION,
    MAX_PRIOR_ARRESTS_COUNTED,
    N_CONTACT_DRAWS,
    S_LEAD_CONTACT,
    U_ARREST,
    U_CASE,
    U_DISTRICT,
    U_DIVERT,
    U_EXCLUDED,
    U_FELONY,
    U_HOME_DISTRICT,
    U_OFFENSE,
    U_SOCIAL_REFERRAL,
    U_TRAINED,
    U_UNDER_THRESHOLD,
    Person,
)

if TYPE_CHECKING:
    from lead_sim.model.person import World


def on_contact(w: World, p: Person, t: float) -> None:
    """A police contact of ``p`` on day ``t`` (the contact clock fired).

    The offense found is recorded, then: a person with a warrant is arrested on it, unless they
    are an engaged LEAD participant whose warrant their case manager resolves
    (``lead.p_warrant_resolved_engaged``: the contact then goes on); with no offense, a
    LEAD-trained officer may make a social referral; an offense ends in a warning, a diversion
    referral by a LEAD-trained officer in a LEAD district (an eligible offense, the person not
    yet in LEAD), no arrest for a LEAD participant met there for an eligible offense, or for an
    engaged participant met by any officer anywhere whose case manager is called
    (``lead.p_divert_participant_contact``), or else arrest, booking, pretrial detention, a
    filed case and, on probation, perhaps a violation. With ``lead.sham_referrals`` (a negative
    control) a referral is recorded and nothing else changes: the person is processed as usual. Referrals are more or less likely for
    people with more arrests (``lead.rr_referral_per_prior_arrest``, see ``referral_chance``).

    The contact's ``N_CONTACT_DRAWS`` uniforms are drawn at once, however many are used, so that
    the arms keep the same numbers for the same contact. The two decisions of LEAD's legal
    coordination take one number each from the participant's stream "lead.contact", drawn only
    when the decision arises (whatever its probability)."""
    P = w.P
    u = w.rng(p, C_CONTACT).take(N_CONTACT_DRAWS)
    offense = P.offense_mix[p.profile].pick(u[U_OFFENSE])
    w.rec.event(p.pid, t, N.POLICE_CONTACT, offense)
    if p.warrant:
        if not p.lead.engaged or w.rng(p, S_LEAD_CONTACT).random() >= P.p_warrant_resolved_engaged:
            warrant_arrest(w, p, t, u[U_CASE + K_DETENTION])
            return
        p.warrant = False
        w.rec.event(p.pid, t, N.WARRANT_RESOLVED, "")
    if u[U_HOME_DISTRICT] < P.p_contact_in_home_district:
        district = p.district
    else:
        district = int(P.district.pick(u[U_DISTRICT]))
    lead_here = P.lead_active(t) and district in P.lead_districts
    trained = lead_here and u[U_TRAINED] < P.p_officer_trained.at(t)
    if offense == N.NO_OFFENSE:
        if trained and p.lead_status is None and u[U_SOCIAL_REFERRAL] < referral_chance(P, P.p_social_referral_per_contact, p):
            if P.sham_referrals:
                w.rec.event(p.pid, t, N.LEAD_REFERRAL, N.SHAM_REFERRAL)
            elif not (P.book_when_full and w.pool.full()):
                refer(w, p, t, "social_contact", None)
        return
    if u[U_ARREST] >= P.p_arrest_if_offense:
        return  # warned and released; the contact is recorded, no arrest
    under = offense != N.POSSESSION or u[U_UNDER_THRESHOLD] < P.p_possession_under_threshold
    eligible = offense in (N.POSSESSION, N.PROSTITUTION) and under and u[U_EXCLUDED] >= P.p_excluded
    cls = charge_class(P, offense, under, t, u[U_FELONY])
    sentence = sentence_key(P, offense, under, cls, t)
    if eligible and trained:
        if p.lead_status is not None:
            w.rec.event(p.pid, t, N.LEAD_PARTICIPANT_CONTACT, "")
            return
        if u[U_DIVERT] < referral_chance(P, P.p_divert_if_eligible, p) and not (P.book_when_full and w.pool.full()):
            if not P.sham_referrals:
                refer(w, p, t, "arrest", cls, u[U_CASE:], sentence)
                return
            w.rec.event(p.pid, t, N.LEAD_REFERRAL, N.SHAM_REFERRAL)  # and processed as usual, below
    if eligible and p.lead.engaged and w.rng(p, S_LEAD_CONTACT).random() < P.p_divert_participant_contact:
        w.rec.event(p.pid, t, N.LEAD_PARTICIPANT_CONTACT, N.PARTICIPANT_DIVERTED)
        return
    p.arrests += 1
    w.rec.event(p.pid, t, N.ARREST, "new_offense")
    w.rec.event(p.pid, t, N.BOOKING, "")
    detention = P.pretrial_detention_days[cls](u[U_CASE + K_DETENTION])
    enter_custody(w, p, t, N.JAIL, detention, pretrial=True)
    file_case(w, p, t, cls, u[U_CASE:], detention, sentence, eligible or cls == N.MISDEMEANOR)
    if p.on_probation:
        on_new_arrest_on_probation(w, p, t)


def referral_chance(P, p_base: float, p: Person) -> float:
    """The chance a LEAD-trained officer refers ``p`` (``p_base``: ``p_divert_if_eligible`` or
    ``p_social_referral_per_contact``): times ``lead.rr_referral_per_prior_arrest`` per arrest
    the police know of (``Person.arrests``: prior arrests at entry and each since, at most
    ``MAX_PRIOR_ARRESTS_COUNTED``), at most 1. Officers refer people they know; a ratio of 1
    changes nothing."""
    rr = P.rr_referral_per_prior_arrest
    if rr == 1.0:
        return p_base
    return min(1.0, p_base * rr ** min(p.arrests, MAX_PRIOR_ARRESTS_COUNTED))


def warrant_arrest(w: World, p: Person, t: float, u: float) -> None:
    """Arrest ``p`` on their warrant (a failure to appear): booking and pretrial detention of
    ``warrant_detention_days``, drawn from the uniform ``u``."""
    p.warrant = False
    p.arrests += 1
    w.rec.event(p.pid, t, N.ARREST, "warrant")
    w.rec.event(p.pid, t, N.BOOKING, "")
    enter_custody(w, p, t, N.JAIL, w.P.warrant_detention_days(u), pretrial=True)
