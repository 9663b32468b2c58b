"""Court: the charge class under the law of the day, filing, defense, failure to appear, the
disposition and sentence, probation and its violations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lead_sim import names as N
from lead_sim.model.custody import enter_custody
from lead_sim.model.state import (
    A_DISPOSITION,
    A_FTA,
    A_PROBATION_END,
    C_VIOLATION,
    K_DISPOSITION,
    K_DISPOSITION_DAYS,
    K_FILED,
    K_FTA,
    K_FTA_DAY,
    K_PUBLIC_DEFENDER,
    K_SENTENCE,
    K_SENTENCE_LENGTH,
    LONG_AGO,
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


def file_case(w: World, p: Person, t: float, cls: str, u, detention: float) -> None:
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


def on_disposition(w: World, p: Person, t: float, case) -> None:
    """Decide a filed case on its disposition day: dismissed, deferred (supervision run as
    probation), or convicted and sentenced to jail (less the days already detained), prison,
    probation or nothing more (a fine).

    ``case`` is what ``file_case`` put on the agenda: the charge class, the uniforms of the
    disposition, the sentence and its length, and the days detained before trial."""
    P = w.P
    cls, u_dispo, u_sentence, u_length, served = case
    outcome = P.disposition[cls].pick(u_dispo)
    w.rec.event(p.pid, t, N.DISPOSITION, outcome)
    if outcome == "dismissed":
        return
    if outcome == "deferred":
        start_probation(w, p, t, P.deferred_supervision_days(u_length), cls)
        return
    sentence = P.sentence[cls].pick(u_sentence)
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
    """A probation violation on day ``t`` (the violation clock fired): revocation with probability
    ``p_revocation_per_violation`` (probation ends; prison after felony probation, else
    ``revocation_jail_days`` in jail), otherwise a sanction of ``sanction_jail_days`` in jail."""
    P = w.P
    r = w.rng(p, C_VIOLATION).random
    u0, u1 = r(), r()
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
