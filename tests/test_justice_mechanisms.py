"""LEAD's legal coordination, referral of people the police know, violations at a new arrest,
drug-misdemeanor sentencing (HB19-1263) and an effect on contacts after exit: each rule at its
extremes (exact oracles from the tables), in between (binomial tolerances), and neutral where it
must change nothing."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lead_sim import names as N
from lead_sim.model.court import on_failure_to_appear, sentence_key
from lead_sim.model.engine import simulate
from lead_sim.model.params import ModelParams
from lead_sim.model.state import CASE_U_FTA, Lead, Person
from lead_sim.scenario.loading import load
from tests.conftest import SCENARIOS, SMALL, load_arms

DEMO = SCENARIOS / "demo.yaml"
#: every offense found is possession or prostitution under the threshold, none excluded: all eligible
ALL_ELIGIBLE = [
    "contact.p_excluded=0",
    "contact.p_possession_under_threshold=1",
    "contact.offense_mix={possession: {possession: 0.8, prostitution: 0, other: 0}, "
    "prostitution: {possession: 0, prostitution: 0.8, other: 0}, both: {possession: 0.4, prostitution: 0.4, other: 0}}",
]
#: many participants, who also meet officers who are not LEAD-trained
PARTICIPANTS = SMALL + ALL_ELIGIBLE + [
    "lead.districts=[1,2,3,4,5,6]",
    "lead.p_officer_trained=0.5",
    "lead.p_divert_if_eligible=1",
    "lead.p_social_referral_per_contact=0.5",
    "lead.case_managers=1000",
    "lead.enrollment_days={dist: fixed, value: 700}",
    "lead.disengage_rate_per_year=0.3",
    "behaviour.contact_rate_per_year=2",
    "uncertainty=null",  # its ranges name distribution parameters replaced here
]


def lead_run(overrides, rep: int = 0, arm: str = "lead_continued"):
    return simulate(load_arms(DEMO, PARTICIPANTS + list(overrides))[arm], rep)


def inside(events: pd.DataFrame, spells: pd.DataFrame, kind: str, closed_end: bool = False) -> pd.Series:
    """For each of ``events``: whether it lies strictly inside a spell of ``kind`` of its person
    (``closed_end``: or on its last day)."""
    s = spells[spells.kind == kind][["person_id", "start_day", "end_day"]]
    m = events[["person_id", "day"]].reset_index().merge(s, on="person_id")
    hit = (m.day > m.start_day) & ((m.day <= m.end_day) if closed_end else (m.day < m.end_day))
    return events.index.isin(m.loc[hit, "index"])


def within_binomial(k: int, n: int, p: float) -> tuple[bool, str]:
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p)
    return lo <= k <= hi, f"{k} of {n} outside the 99.9% binomial interval [{lo:g}, {hi:g}] around p = {p}"


# ---- 1a. an engaged participant's eligible contact: diverted by any officer ----------------------------------------


def _participant_contacts(sim):
    ev = sim.events
    arrests = ev[(ev.event == N.ARREST) & (ev.detail == "new_offense")]
    engaged_arrests = arrests[inside(arrests, sim.spells, N.LEAD_ENGAGED)]
    diverted = ev[(ev.event == N.LEAD_PARTICIPANT_CONTACT) & (ev.detail == N.PARTICIPANT_DIVERTED)]
    return len(engaged_arrests), len(diverted)


def test_certain_participant_diversion_arrests_no_engaged_participant_for_an_eligible_offense():
    arrested, diverted = _participant_contacts(lead_run(["lead.p_divert_participant_contact=1"]))
    assert arrested == 0, f"expected no new-offense arrest while engaged (every offense eligible); found {arrested}"
    assert diverted > 20, f"expected many contacts diverted by officers who are not LEAD-trained; found {diverted}"
    arrested, diverted = _participant_contacts(lead_run(["lead.p_divert_participant_contact=0"]))
    assert diverted == 0 and arrested > 20, f"with the rule off engaged participants are arrested ({arrested}, {diverted})"


def test_participant_diversion_share_is_binomial():
    p = 0.4
    arrested, diverted = _participant_contacts(lead_run([f"lead.p_divert_participant_contact={p}"], rep=1))
    ok, why = within_binomial(diverted, arrested + diverted, p)
    assert arrested + diverted > 50 and ok, why


# ---- 1b. open low-level cases dismissed at intake ------------------------------------------------------------------

DISPO_DAYS = 120.0
#: every arrest is a misdemeanor, filed, decided exactly DISPO_DAYS later: pending cases are known from the charges
ALL_MISDEMEANORS = ["usual_processing.p_possession_felony=0", "usual_processing.p_other_felony=0",
                    "usual_processing.p_possession_over_threshold_felony=0",
                    "usual_processing.p_charges_filed={misdemeanor: 1, felony: 1}",
                    f"usual_processing.days_to_disposition={{misdemeanor: {{dist: fixed, value: {DISPO_DAYS}}}, "
                    f"felony: {{dist: fixed, value: {DISPO_DAYS}}}}}"]


def _pending_at_intake(sim):
    """Per intake: the charges filed before it whose disposition was still to come, not already
    pending at an earlier intake of the person; and the regular dispositions of those cases."""
    ev = sim.events
    charges = ev[ev.event == N.CHARGE_MISDEMEANOR][["person_id", "day"]]
    dispositions = ev[(ev.event == N.DISPOSITION) & (ev.detail != N.DISMISSED_AT_LEAD_INTAKE)]
    decided = set(zip(dispositions.person_id, dispositions.day, strict=True))
    dismissed = ev[(ev.event == N.DISPOSITION) & (ev.detail == N.DISMISSED_AT_LEAD_INTAKE)]
    n_dismissed = dismissed.groupby(["person_id", "day"]).size()
    rows = []
    for pid, intakes in ev[ev.event == N.LEAD_INTAKE].groupby("person_id")["day"]:
        filed = charges[charges.person_id == pid].day.to_numpy()
        seen: set[float] = set()
        for t in sorted(intakes):
            pending = [f for f in filed if f < t < f + DISPO_DAYS and f not in seen]
            seen.update(pending)
            rows.append({"person_id": pid, "day": t, "pending": len(pending),
                         "dismissed": int(n_dismissed.get((pid, t), 0)),
                         "decided_later": sum((pid, f + DISPO_DAYS) in decided for f in pending)})
    return pd.DataFrame(rows)


def test_certain_dismissal_at_intake_leaves_no_pending_case_to_be_decided():
    table = _pending_at_intake(lead_run(ALL_MISDEMEANORS + ["lead.p_open_case_dismissed_at_intake=1"]))
    assert table.pending.sum() > 20, f"the test needs cases pending at intake; found {table.pending.sum()}"
    assert (table.dismissed == table.pending).all(), table[table.dismissed != table.pending].head()
    assert table.decided_later.sum() == 0, "a case dismissed at intake was still decided (convicted) later"
    off = _pending_at_intake(lead_run(ALL_MISDEMEANORS + ["lead.p_open_case_dismissed_at_intake=0"]))
    assert off.dismissed.sum() == 0 and off.decided_later.sum() > 20, "with the rule off pending cases are decided"


def test_dismissal_at_intake_share_is_binomial():
    p = 0.5
    table = _pending_at_intake(lead_run(ALL_MISDEMEANORS + [f"lead.p_open_case_dismissed_at_intake={p}"], rep=1))
    ok, why = within_binomial(int(table.dismissed.sum()), int(table.pending.sum()), p)
    assert ok, why
    assert (table.dismissed + table.decided_later <= table.pending).all(), "a pending case both dismissed and decided"


def test_only_low_level_cases_are_dismissed_at_intake():
    """Felonies for offenses LEAD cannot divert ("other") stay; eligible-offense felonies go."""
    felonies = ["usual_processing.p_possession_felony=1", "usual_processing.p_other_felony=1",
                "contact.offense_mix={possession: {possession: 0, prostitution: 0, other: 0.8}, "
                "prostitution: {possession: 0, prostitution: 0, other: 0.8}, both: {possession: 0, prostitution: 0, other: 0.8}}",
                "lead.p_open_case_dismissed_at_intake=1"]
    sim = lead_run(felonies)
    ev = sim.events
    assert (ev.event == N.LEAD_INTAKE).sum() > 20 and (ev.event == N.CHARGE_FELONY).sum() > 50
    assert (ev.detail == N.DISMISSED_AT_LEAD_INTAKE).sum() == 0, "felonies for other offenses are not low-level"
    possession = lead_run([o for o in felonies if "offense_mix" not in o])
    assert (possession.events.detail == N.DISMISSED_AT_LEAD_INTAKE).sum() > 10, "possession felonies are low-level"


# ---- 1c. failure to appear while engaged ---------------------------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.events = []

    def event(self, pid, t, name, detail):
        self.events.append((pid, t, name, detail))


@pytest.mark.parametrize(("engaged", "u", "rr", "fails"), [
    (False, 0.39, 0.5, True),   # not engaged: the failure drawn at filing (u < 0.4) stands
    (True, 0.39, 0.5, False),   # engaged: it stands only if u < 0.4 * 0.5
    (True, 0.19, 0.5, True),
    (True, 0.39, 1.0, True),    # a ratio of 1 changes nothing
    (True, 0.0, 0.0, False),    # a ratio of 0: never while engaged
])
def test_failure_to_appear_while_engaged_follows_the_ratio(engaged, u, rr, fails):
    P = SimpleNamespace(p_failure_to_appear={N.MISDEMEANOR: 0.4}, rr_failure_to_appear_engaged=rr)
    w = SimpleNamespace(P=P, rec=_Recorder())
    p = Person(1)
    p.lead = Lead()
    p.lead.engaged = engaged
    case = [None] * (CASE_U_FTA + 1)
    case[0], case[CASE_U_FTA] = N.MISDEMEANOR, u
    on_failure_to_appear(w, p, 10.0, tuple(case))
    assert p.warrant is fails and (w.rec.events == [(1, 10.0, N.FAILURE_TO_APPEAR, "")]) is fails


ALWAYS_FAIL = ["usual_processing.p_failure_to_appear={misdemeanor: 1, felony: 1}"]


def test_no_failure_to_appear_while_engaged_at_ratio_zero():
    def engaged_ftas(rr):
        sim = lead_run(ALWAYS_FAIL + [f"lead.rr_failure_to_appear_engaged={rr}"])
        fta = sim.events[sim.events.event == N.FAILURE_TO_APPEAR]
        return int(inside(fta, sim.spells, N.LEAD_ENGAGED).sum()), len(fta)

    engaged, total = engaged_ftas(0)
    assert engaged == 0 and total > 100, f"{engaged} failures to appear while engaged (of {total})"
    engaged, _ = engaged_ftas(1)
    assert engaged > 10, "with the ratio 1 engaged participants fail to appear too"


# ---- 1d. an engaged participant's warrant resolved through the case manager --------------------------------------


def test_certain_warrant_resolution_serves_no_warrant_on_an_engaged_participant():
    def warrants(p):
        sim = lead_run(ALWAYS_FAIL + ["lead.rr_contact_engaged=1.0", f"lead.p_warrant_resolved_engaged={p}"])
        ev = sim.events
        arrests = ev[(ev.event == N.ARREST) & (ev.detail == "warrant")]
        return int(inside(arrests, sim.spells, N.LEAD_ENGAGED).sum()), int((ev.event == N.WARRANT_RESOLVED).sum())

    served, resolved = warrants(1)
    assert served == 0 and resolved > 10, f"{served} warrants served while engaged, {resolved} resolved"
    served, resolved = warrants(0)
    assert served > 10 and resolved == 0, f"with the rule off warrants are served ({served}, {resolved})"
    served, resolved = warrants(0.5)
    ok, why = within_binomial(resolved, served + resolved, 0.5)
    assert ok, why


# ---- 2. officers refer people they know ------------------------------------------------------------------------


def test_referral_ratio_zero_refers_only_people_never_arrested():
    """rr ** arrests: 0 ** 0 = 1, so only people with no arrest known to the police are referred."""
    def referred(rr):
        sim = lead_run([f"lead.rr_referral_per_prior_arrest={rr}"])
        ev, people = sim.events, sim.people.set_index("person_id")
        first = ev[ev.event == N.LEAD_REFERRAL].groupby("person_id")["day"].min()
        arrests = ev[ev.event == N.ARREST]
        before = {pid: int(((arrests.person_id == pid) & (arrests.day < t)).sum()) for pid, t in first.items()}
        known = pd.Series({pid: people.loc[pid, "prior_arrests"] + n for pid, n in before.items()}, dtype=float)
        return known

    known = referred(0)
    assert len(known) > 5 and (known == 0).all(), f"people with arrests were referred: {known[known > 0].head()}"
    known = referred(1)
    assert (known > 0).sum() > 50, "with the ratio 1 people with arrests are referred"


def test_referral_chance_multiplies_per_known_arrest_capped():
    from lead_sim.model.policing import referral_chance

    P = SimpleNamespace(rr_referral_per_prior_arrest=1.2)
    p = Person(1)
    for arrests, expected in [(0, 0.3), (1, 0.36), (3, 0.3 * 1.2**3), (10, 1.0), (40, 1.0)]:
        p.arrests = arrests
        assert math.isclose(referral_chance(P, 0.3, p), expected), (arrests, referral_chance(P, 0.3, p))
    P.rr_referral_per_prior_arrest = 0.5
    p.arrests = 40
    assert math.isclose(referral_chance(P, 0.3, p), 0.3 * 0.5**10), "counted up to 10 arrests"
    P.rr_referral_per_prior_arrest = 1.0
    assert referral_chance(P, 0.3, p) == 0.3


# ---- 3. a new arrest on probation ------------------------------------------------------------------------------


def _arrests_on_probation(overrides, rep=0):
    sim = simulate(load_arms(DEMO, SMALL + overrides)["usual_processing"], rep)
    ev = sim.events
    arrests = ev[(ev.event == N.ARREST) & (ev.detail == "new_offense")]
    # on probation at the arrest: a revocation then closes the spell that day
    on_probation = arrests[inside(arrests, sim.spells, N.PROBATION, closed_end=True)]
    violations = set(zip(*[ev.loc[ev.event == N.PROBATION_VIOLATION, c] for c in ("person_id", "day")], strict=True))
    with_violation = [(pid, d) in violations for pid, d in zip(on_probation.person_id, on_probation.day, strict=True)]
    off_probation = arrests[~arrests.index.isin(on_probation.index)]
    stray = sum((pid, d) in violations for pid, d in zip(off_probation.person_id, off_probation.day, strict=True))
    return len(on_probation), int(np.sum(with_violation)), stray


def test_every_new_arrest_on_probation_is_a_violation_at_probability_one():
    n, violated, stray = _arrests_on_probation(["usual_processing.p_violation_on_new_arrest=1"])
    assert n > 50 and violated == n, f"{violated} of {n} arrests on probation were violations"
    assert stray == 0, "an arrest off probation was a violation"
    n, violated, _ = _arrests_on_probation(["usual_processing.p_violation_on_new_arrest=0"])
    assert n > 50 and violated == 0, f"with probability 0, {violated} of {n} arrests on probation were violations"


def test_violation_at_a_new_arrest_share_is_binomial():
    p = 0.3
    n, violated, _ = _arrests_on_probation([f"usual_processing.p_violation_on_new_arrest={p}"], rep=1)
    ok, why = within_binomial(violated, n, p)
    assert ok, why


# ---- 4. drug-misdemeanor sentencing from HB19-1263 -----------------------------------------------------------


def test_sentence_key_is_the_drug_misdemeanor_mix_only_for_possession_misdemeanors_from_the_date():
    P = SimpleNamespace(drug_misdemeanor_t0=404.0)
    dm, m, f = N.DRUG_MISDEMEANOR, N.MISDEMEANOR, N.FELONY
    assert sentence_key(P, N.POSSESSION, True, m, 404.0) == dm
    assert sentence_key(P, N.POSSESSION, True, m, 403.9) == m, "before the date: a misdemeanor"
    assert sentence_key(P, N.POSSESSION, False, m, 500.0) == m, "over the threshold: not the drug misdemeanor"
    assert sentence_key(P, N.POSSESSION, True, f, 500.0) == f, "a felony stays a felony"
    assert sentence_key(P, N.PROSTITUTION, True, m, 500.0) == m
    assert sentence_key(P, N.OTHER, True, m, 500.0) == m
    assert sentence_key(SimpleNamespace(drug_misdemeanor_t0=math.inf), N.POSSESSION, True, m, 1e9) == m


#: every conviction is a fine except the drug misdemeanor's, which is always probation; decided 30 days after filing
ONLY_DRUG_MISDEMEANORS_ON_PROBATION = SMALL + [
    "contact.p_possession_under_threshold=1",
    "usual_processing.p_charges_filed={misdemeanor: 1, felony: 1}",
    "usual_processing.disposition={misdemeanor: {dismissed: 0, deferred: 0}, felony: {dismissed: 0, deferred: 0}}",
    "usual_processing.sentence={misdemeanor: {jail: 0, probation: 0}, felony: {prison: 0, jail: 0, probation: 0}, "
    "drug_misdemeanor: {jail: 0, probation: 1}}",
    "usual_processing.days_to_disposition={misdemeanor: {dist: fixed, value: 30}, felony: {dist: fixed, value: 30}}",
    "usual_processing.p_possession_felony={start: 0.7, 2020-03-01: 0.0}",
]


def test_drug_misdemeanor_mix_sentences_exactly_the_possession_misdemeanors_from_the_date():
    arms = load_arms(DEMO, ONLY_DRUG_MISDEMEANORS_ON_PROBATION + ["usual_processing.drug_misdemeanor_start_date=2020-03-01"])
    sc = arms["usual_processing"]
    t0 = ModelParams(sc).drug_misdemeanor_t0
    sim = simulate(sc, 0)
    ev = sim.events
    contacts = ev[ev.event == N.POLICE_CONTACT].drop_duplicates(["person_id", "day"]).set_index(["person_id", "day"]).detail
    charges = ev[ev.event == N.CHARGE_MISDEMEANOR]
    offense = [contacts.get((pid, d)) for pid, d in zip(charges.person_id, charges.day, strict=True)]
    dm = charges[(np.array(offense, dtype=object) == N.POSSESSION) & (charges.day.to_numpy() >= t0)]
    starts = set(zip(*[ev.loc[ev.event == N.PROBATION_START, c] for c in ("person_id", "day")], strict=True))
    exits = sim.people.set_index("person_id").exit_day
    due = [(pid, d + 30.0) for pid, d in zip(dm.person_id, dm.day, strict=True) if d + 30.0 < min(sim.t_end, exits[pid])]
    assert len(due) > 20, f"the test needs possession misdemeanors decided after the date; found {len(due)}"
    assert set(due) <= starts, "a possession misdemeanor from the date was not sentenced to probation"
    assert starts <= set(due), f"{len(starts - set(due))} probation terms did not come from a possession misdemeanor from the date"
    # without the date (or a date after the run) nobody is put on probation at all
    never = simulate(load_arms(DEMO, ONLY_DRUG_MISDEMEANORS_ON_PROBATION
                               + ["usual_processing.drug_misdemeanor_start_date=null"])["usual_processing"], 0).events
    assert (never.event == N.PROBATION_START).sum() == 0


def test_a_drug_misdemeanor_date_needs_its_sentence_mix():
    from lead_sim.scenario.loading import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        load(DEMO, ["usual_processing.sentence={misdemeanor: {jail: 0.35, probation: 0.4}, "
                    "felony: {prison: 0.15, jail: 0.25, probation: 0.55}}"])
    line = next(x for x in exc.value.problems if "drug_misdemeanor_start_date" in x)
    assert "usual_processing.sentence.drug_misdemeanor must be given" in line and "\n" not in line


def test_seattle_never_sentences_by_colorado_drug_misdemeanor_rules():
    for sc in load(SCENARIOS / "seattle_lead.yaml").arms.values():
        assert sc.usual_processing.drug_misdemeanor_start_date is None
        assert ModelParams(sc).drug_misdemeanor_t0 == math.inf
    denver = load(SCENARIOS / "denver_pilot.yaml").base.usual_processing
    assert str(denver.drug_misdemeanor_start_date) == "2020-03-01" and denver.sentence.drug_misdemeanor is not None


# ---- 5. an effect on contacts of its own after exit ------------------------------------------------------------


@pytest.mark.parametrize(("rr_engaged", "rr_after"), [(0.5, 1.0), (0.5, 0.6), (1.0, 0.3), (0.8, 1.2)])
def test_after_exit_multiplier_fades_one_half_life_at_a_time(rr_engaged, rr_after):
    from lead_sim.model.lead_program import exit_lead, fade_step
    from lead_sim.model.state import N_FADE_STEPS

    class _Pool:
        def release(self):
            pass

    P = SimpleNamespace(rr_contact_engaged=rr_engaged, rr_contact_after_exit=rr_after, effect_half_life_after_exit_days=90.0)
    w = SimpleNamespace(P=P, rec=_Recorder(), pool=_Pool())
    p = Person(1)
    p.lead = Lead()
    p.lead.engaged = True
    p.lead_status = N.ENROLLED
    exit_lead(w, p, 0.0, "completed")
    seen = [p.lead.contact_mult]
    for _ in range(N_FADE_STEPS):
        fade_step(w, p, 0.0)
        seen.append(p.lead.contact_mult)
    expected = [rr_engaged ** (0.5**k) * rr_after ** (0.5 ** (k - 1)) for k in range(1, N_FADE_STEPS + 1)] + [1.0]
    assert seen == pytest.approx(expected, rel=1e-12)
    if rr_after == 1.0:  # exactly the fade of the engaged effect alone, as before the ratio existed
        assert seen[:-1] == [rr_engaged ** (0.5**k) for k in range(1, N_FADE_STEPS + 1)]
    assert [e[0] for e in p.agenda] == [90.0] * N_FADE_STEPS  # one fade step per half-life (t fixed here)


def test_after_exit_ratio_zero_stops_contacts_for_four_half_lives():
    """rr_contact_after_exit = 0: nobody who left LEAD engaged (and stayed) is contacted for four half-lives."""
    half = 40.0

    def contacts_after_exit(rr_after):
        sim = lead_run(["lead.rr_contact_engaged=1", f"lead.rr_contact_after_exit={rr_after}",
                        f"lead.effect_half_life_after_exit_days={half}", "lead.enrollment_days={dist: fixed, value: 100}"])
        ev, sp = sim.events, sim.spells
        exits = ev[(ev.event == N.LEAD_EXIT) & (ev.detail != "left")][["person_id", "day"]]
        engaged_at_exit = exits.merge(sp[sp.kind == N.LEAD_ENGAGED][["person_id", "end_day"]], on="person_id")
        engaged_at_exit = engaged_at_exit[engaged_at_exit.end_day == engaged_at_exit.day]
        contacts = ev[ev.event == N.POLICE_CONTACT][["person_id", "day"]]
        m = engaged_at_exit.merge(contacts, on="person_id", suffixes=("", "_contact"))
        window = (m.day_contact > m.day) & (m.day_contact < m.day + 4 * half)
        return len(engaged_at_exit), int(window.sum())

    exited, contacted = contacts_after_exit(0)
    assert exited > 20 and contacted == 0, f"{contacted} contacts within four half-lives of {exited} exits"
    exited, contacted = contacts_after_exit(1)
    assert contacted > 10, "with the ratio 1 people who left LEAD are contacted again"


# ---- every parameter: --set, uncertainty and calibration keys, bounds ----------------------------------------

#: key -> the schema's bounds, and bounds a calibration may search (the sentence shares share the remainder)
NEW_KEYS = {
    "lead.rr_contact_after_exit": ((0.0, 2.0), (0.3, 1.2)),
    "lead.p_divert_participant_contact": ((0.0, 1.0), (0.0, 1.0)),
    "lead.p_open_case_dismissed_at_intake": ((0.0, 1.0), (0.0, 1.0)),
    "lead.rr_failure_to_appear_engaged": ((0.0, 1.0), (0.0, 1.0)),
    "lead.p_warrant_resolved_engaged": ((0.0, 1.0), (0.0, 1.0)),
    "lead.rr_referral_per_prior_arrest": ((0.0, 2.0), (0.0, 2.0)),
    "usual_processing.p_violation_on_new_arrest": ((0.0, 1.0), (0.0, 1.0)),
    "usual_processing.sentence.drug_misdemeanor.jail": ((0.0, 1.0), (0.0, 0.3)),
    "usual_processing.sentence.drug_misdemeanor.probation": ((0.0, 1.0), (0.3, 0.9)),
}


@pytest.mark.parametrize("key", list(NEW_KEYS))
def test_each_new_parameter_is_sampled_settable_calibratable_and_bounded(key):
    from lead_sim.scenario.loading import ScenarioError

    base = load(SCENARIOS / "denver_pilot.yaml").base
    assert key in base.uncertainty.parameters, f"{key}: no range in denver_pilot.yaml's uncertainty section"
    (lo, hi), (fit_lo, fit_hi) = NEW_KEYS[key]
    loaded = load(DEMO, [f"{key}={fit_lo}", f"calibration.parameters.{key}={{low: {fit_lo}, high: {fit_hi}}}"])
    assert key in loaded.base.calibration.parameters
    for bad in (lo - 0.01, hi + 0.01):
        with pytest.raises(ScenarioError) as exc:
            load(DEMO, [f"{key}={bad}"])
        assert any(key in line for line in exc.value.problems), exc.value.problems
