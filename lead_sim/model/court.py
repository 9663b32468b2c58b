"""Court: the charge class under the law of the day, filing, defense, failure to appear, the
disposition and sentence, probation and its violations (on the violation clock, or at a new
arrest), and LEAD's prosecutor coordination at intake."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from lead_sim import names as N
from lead_sim.model.custody import enter_custody
from lead_sim.model.state import (
    A_DISPOSITION,
    A_FTA,
    A_PROBATION_END,
    C_VIOLATION,
    CASE_CLASS,
    CASE_LOW_LEVEL,
    CASE_U_DISMISSED,
    CASE_U_FTA,
    COMMUNITY,
    K_DISMISSED_AT_INTAKE,
    K_DISPOSITION,
    K_DISPOSITION_DAYS,
    K_FILED,
    K_FTA,
    K_FTA_DAY,
    K_PUBLIC_DEFENDER,
    K_SENTENCE,
    K_SENTENCE_LENGTH,
    LONG_AGO,
    S_ARREST_VIOLATION,
    Person,
    close_spell,
    open_spell,
)

if TYPE_CHECKING:
    from lead_sim.model.person import World


def charge_class(P, offense: str, under: bool, t: float, u: float) -> str:
    """The charge class of an offense found on day ``t``: a felony if the uniform ``u`` falls under
    its felony share, else a misdemeanor.

    Possession under the threshold (``under``) follows the law of the day
    (``usual_processing.p_possession_felony``), over it its own share; prostitution is always a
    misdemeanor. Returns ``names.FELONY`` or ``names.MISDEMEANOR``."""
    if offense == N.POSSESSION:
        p_felony = P.p_possession_felony.at(t) if under else P.p_possession_over_threshold_felony
    elif offense == N.PROSTITUTION:
        p_felony = 0.0
    else:
        p_felony = P.p_other_felony
    return N.FELONY if u < p_felony else N.MISDEMEANOR


def sentence_key(P, offense: str, under: bool, cls: str, t: float) -> str:
    """Which sentence mix (``usual_processing.sentence``) a case of an offense found on day ``t``
    is sentenced by: under-threshold possession charged as a misdemeanor on or after
    ``usual_processing.drug_misdemeanor_start_date`` by the drug-misdemeanor mix (Colorado
    HB19-1263, from 1 March 2020: a level 1 drug misdemeanor, probation with jail mostly as a
    sanction); every other case by its charge class's (``cls``)."""
    if cls == N.MISDEMEANOR and offense == N.POSSESSION and under and t >= P.drug_misdemeanor_t0:
        return N.DRUG_MISDEMEANOR
    return cls


def file_case(w: World, p: Person, t: float, cls: str, u, detention: float, sentence: str, low_level: bool) -> None:
    """Charging, defense, failure to appear and a dated disposition for one case.

    ``sentence``: the sentence mix it is sentenced by if convicted (``sentence_key``);
    ``low_level``: a case LEAD's prosecutor coordination may dismiss at intake (a misdemeanor, or
    an offense LEAD could divert). The case (``state.CASE_*``) is the payload of its disposition
    and of its failure to appear, if one is drawn."""
    P = w.P
    if u[K_FILED] >= P.p_charges_filed[cls]:
        return  # not filed
    w.rec.event(p.pid, t, N.CHARGE_FELONY if cls == N.FELONY else N.CHARGE_MISDEMEANOR, "")
    if u[K_PUBLIC_DEFENDER] < P.p_public_defender:
        w.rec.event(p.pid, t, N.PUBLIC_DEFENSE, "")
    t_dispo = t + P.days_to_disposition[cls](u[K_DISPOSITION_DAYS])
    released = t + detention
    case = (cls, u[K_DISPOSITION], u[K_SENTENCE], u[K_SENTENCE_LENGTH], detention, sentence, low_level,
            u[K_DISMISSED_AT_INTAKE], u[K_FTA])
    if u[K_FTA] < P.p_failure_to_appear[cls] and t_dispo > released:
        p.push(released + u[K_FTA_DAY] * (t_dispo - released), A_FTA, case)
    p.push(t_dispo, A_DISPOSITION, case)


def on_failure_to_appear(w: World, p: Person, t: float, case) -> None:
    """The day ``p`` fails to appear in court for ``case`` (drawn at filing), if in the community:
    a warrant. An engaged LEAD participant appears after all unless the case's uniform also falls
    under ``p_failure_to_appear * rr_failure_to_appear_engaged`` (their case manager reminds and
    accompanies them; with the ratio 1 nothing changes)."""
    if p.location != COMMUNITY:
        return
    if p.lead.engaged:
        P = w.P
        if case[CASE_U_FTA] >= P.p_failure_to_appear[case[CASE_CLASS]] * P.rr_failure_to_appear_engaged:
            return
    w.rec.event(p.pid, t, N.FAILURE_TO_APPEAR, "")
    p.warrant = True


def dismiss_open_cases(w: World, p: Person, t: float) -> None:
    """LEAD's prosecutor coordination at ``p``'s intake on day ``t``: each low-level case still
    open (its disposition on the agenda) is dismissed now if its own uniform falls under
    ``lead.p_open_case_dismissed_at_intake``; its disposition and failure to appear are taken
    off the agenda, and a disposition ``dismissed_at_lead_intake`` is recorded. A warrant
    already issued stays (it is served or resolved at a contact)."""
    p_dismiss = w.P.p_open_case_dismissed_at_intake
    agenda = p.agenda
    if agenda is None or p_dismiss <= 0.0:
        return
    dismissed = sorted(e for e in agenda if e[2] == A_DISPOSITION and e[3][CASE_LOW_LEVEL]
                       and e[3][CASE_U_DISMISSED] < p_dismiss)
    if not dismissed:
        return
    cases = [e[3] for e in dismissed]
    kept = [e for e in agenda if not (e[2] in (A_DISPOSITION, A_FTA) and any(e[3] is c for c in cases))]
    heapq.heapify(kept)
    p.agenda = kept or None
    for _ in dismissed:
        w.rec.event(p.pid, t, N.DISPOSITION, N.DISMISSED_AT_LEAD_INTAKE)


def on_disposition(w: World, p: Person, t: float, case) -> None:
    """Decide a filed case on its disposition day: dismissed, deferred (supervision run as
    probation), or convicted and sentenced to jail (less the days already detained), prison,
    probation or nothing more (a fine).

    ``case`` is what ``file_case`` put on the agenda (``state.CASE_*``): the charge class, the
    uniforms of the disposition, the sentence and its length, the days detained before trial
    and the sentence mix."""
    P = w.P
    cls, u_dispo, u_sentence, u_length, served, mix = case[:6]
    outcome = P.disposition[cls].pick(u_dispo)
    w.rec.event(p.pid, t, N.DISPOSITION, outcome)
    if outcome == "dismissed":
        return
    if outcome == "deferred":
        start_probation(w, p, t, P.deferred_supervision_days(u_length), cls)
        return
    sentence = P.sentence[mix].pick(u_sentence)
    if sentence == "jail":
        enter_custody(w, p, t, N.JAIL, max(0.0, P.jail_sentence_days[cls](u_length) - served))
    elif sentence == "prison":
        w.rec.event(p.pid, t, N.PRISON_ADMISSION, "")
        enter_custody(w, p, t, N.PRISON, P.prison_days(u_length))
    elif sentence == "probation":
        start_probation(w, p, t, P.probation_days[cls](u_length), cls)


def start_probation(w: World, p: Person, t: float, days: float, cls: str) -> None:
    """Put ``p`` on probation for ``days`` from day ``t`` (nothing if ``days`` <= 0).

    Already on probation, a term that ends sooner changes nothing and a longer one extends it; a
    felony case that starts or extends it makes it felony probation, whose revocation means prison."""
    if days <= 0:
        return
    w.rec.event(p.pid, t, N.PROBATION_START, "")
    end = t + days
    if p.on_probation:
        if end <= p.probation_end:
            return
    else:
        p.on_probation = True
        open_spell(p, N.PROBATION, t)
    p.probation_end = end
    if cls == N.FELONY:
        p.probation_class = N.FELONY
    p.push(end, A_PROBATION_END)


def on_violation(w: World, p: Person, t: float) -> None:
    """A probation violation on day ``t`` (the violation clock fired): see ``violate``; its two
    uniforms come from the violation clock's stream."""
    r = w.rng(p, C_VIOLATION).random
    u0, u1 = r(), r()
    violate(w, p, t, u0, u1)


def on_new_arrest_on_probation(w: World, p: Person, t: float) -> None:
    """A new-offense arrest of ``p`` on probation, on day ``t``: a violation (``violate``) with
    probability ``usual_processing.p_violation_on_new_arrest`` (not committing another offense is
    a condition of every probation, C.R.S. 18-1.3-204(1)(a)). Three uniforms of the stream
    "probation.arrest" per such arrest: the violation, then the two of ``violate``; none is
    drawn when the probability is 0 (nothing else reads that stream). A sanction runs
    alongside any pretrial detention (custody lasts to the later end)."""
    p_violation = w.P.p_violation_on_new_arrest
    if p_violation <= 0.0:
        return
    r = w.rng(p, S_ARREST_VIOLATION).random
    u_violation, u0, u1 = r(), r(), r()
    if u_violation < p_violation:
        violate(w, p, t, u0, u1)


def violate(w: World, p: Person, t: float, u0: float, u1: float) -> None:
    """A probation violation on day ``t``: revocation if ``u0`` falls under
    ``p_revocation_per_violation`` (probation ends; prison after felony probation, else
    ``revocation_jail_days`` in jail), otherwise a sanction of ``sanction_jail_days`` in jail;
    ``u1`` draws the days."""
    P = w.P
    if u0 < P.p_revocation_per_violation:
        w.rec.event(p.pid, t, N.PROBATION_VIOLATION, "revocation")
        p.on_probation = False
        p.probation_end = LONG_AGO
        close_spell(w, p, N.PROBATION, t)
        if p.probation_class == N.FELONY:
            w.rec.event(p.pid, t, N.PRISON_ADMISSION, "")
            enter_custody(w, p, t, N.PRISON, P.prison_days(u1))
        else:
            enter_custody(w, p, t, N.JAIL, P.revocation_jail_days(u1))
        p.probation_class = N.MISDEMEANOR
    else:
        w.rec.event(p.pid, t, N.PROBATION_VIOLATION, "sanction")
        enter_custody(w, p, t, N.JAIL, P.sanction_jail_days(u1))
