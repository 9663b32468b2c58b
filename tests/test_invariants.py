"""Invariants on random valid variations of the demo, and proof that the checks can fail.

The hypothesis test draws random valid perturbations of a small demo (a dozen keys at a time
from about fifty: probabilities at 0, 1 or between, rates, durations, capacities, districts,
LEAD on or off, seeds, replications), simulates every arm and checks tests/invariants.py on
each run: people conserved, no one in two custody or program states at once, time never
backwards, spells inside the horizon and never overlapping, costs finite, non-negative, of
listed agencies and payers and adding up exactly; with LEAD off every arm equals the
comparator exactly, and every arm always sees the same people.
"""

from __future__ import annotations

import copy
import datetime as dt
import math

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lead_sim.model.engine as engine
from lead_sim import names as N
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import ScenarioError
from tests.conftest import SCENARIOS, load_arms
from tests.invariants import check_arms_identical, check_costs, check_invariants

DEMO = SCENARIOS / "demo.yaml"
#: a demo small enough to simulate three arms in a fraction of a second
BASE = ["population.initial_people=60", "population.arrivals_per_year=15", "run.warmup_days=120",
        "run.end_date=2020-06-30", "uncertainty=null"]  # PSA ranges name distribution parameters we replace
SIM_START = dt.date(2019, 1, 22) - dt.timedelta(days=120)
SERVICES = ["housing_subsidy", "sud_outpatient", "sud_intensive_outpatient", "sud_residential", "medication_for_oud",
            "mental_health", "job_training"]

SETTINGS = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- valid perturbations ---------------------------------------------------------------------------------------

prob = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1).map(lambda x: round(x, 4)))


def rate(hi: float):
    return st.one_of(st.just(0.0), st.floats(0, hi).map(lambda x: round(x, 3)))


def split(n: int):
    """``n`` probabilities summing to at most 1 (the remainder is the implicit last branch)."""
    return st.lists(st.integers(0, 100), min_size=n + 1, max_size=n + 1).map(
        lambda w: [0.0] * n if sum(w) == 0 else [math.floor(1000 * x / sum(w)) / 1000 for x in w[:n]]
    )


def duration(hi: float):
    return st.one_of(
        st.floats(0, hi).map(lambda x: {"dist": "fixed", "value": round(x, 2)}),
        st.floats(0.5, hi + 1).map(lambda x: {"dist": "exponential", "mean": round(x, 2)}),
        st.tuples(st.floats(0, hi), st.floats(0.1, hi + 1)).map(
            lambda t: {"dist": "uniform", "min": round(t[0], 2), "max": round(t[0] + t[1], 2)}),
    )


def by_class(strategy):
    return st.fixed_dictionaries({"misdemeanor": strategy, "felony": strategy})


PERTURBATIONS = {
    "run.seed": st.integers(0, 2**40),
    "run.discount_rate_per_year": st.sampled_from([0.0, 0.03, 0.07, 1.0]),
    "population.initial_people": st.sampled_from([0, 1, 2, 30, 80]),
    "population.arrivals_per_year": st.sampled_from([0.0, 1.0, 15.0, 40.0]),
    "population.p_female": prob,
    "population.p_active_use": prob,
    "population.p_housed": prob,
    "population.p_employed": prob,
    "population.p_mental_health_need": prob,
    "population.exit": st.fixed_dictionaries({"desist_per_year": rate(2), "move_away_per_year": rate(2),
                                              "death_per_year": rate(1)}),
    "behaviour.contact_rate_per_year": rate(12),
    "behaviour.rr_contact_active_use": rate(3),
    "behaviour.rr_contact_unhoused": rate(3),
    "behaviour.rr_contact_per_prior_arrest": rate(2),
    "behaviour.remission_rate_per_year": rate(3),
    "behaviour.relapse_rate_per_year": rate(3),
    "behaviour.housing_gain_rate_per_year": rate(3),
    "behaviour.housing_loss_rate_per_year": rate(3),
    "behaviour.employment_gain_rate_per_year": rate(3),
    "behaviour.employment_loss_rate_per_year": rate(3),
    "contact.offense_mix": st.fixed_dictionaries({
        profile: split(3).map(lambda s: dict(zip(["possession", "prostitution", "other"], s, strict=True)))
        for profile in ("possession", "prostitution", "both")}),
    "contact.p_arrest_if_offense": prob,
    "contact.p_possession_under_threshold": prob,
    "contact.p_excluded": prob,
    "usual_processing.p_possession_felony": prob,
    "usual_processing.p_other_felony": prob,
    "usual_processing.p_charges_filed": by_class(prob),
    "usual_processing.p_public_defender": prob,
    "usual_processing.p_failure_to_appear": by_class(prob),
    "usual_processing.disposition": by_class(split(2).map(lambda s: {"dismissed": s[0], "deferred": s[1]})),
    "usual_processing.sentence": st.fixed_dictionaries({
        "misdemeanor": split(2).map(lambda s: {"jail": s[0], "probation": s[1]}),
        "felony": split(3).map(lambda s: {"prison": s[0], "jail": s[1], "probation": s[2]}),
        "drug_misdemeanor": split(2).map(lambda s: {"jail": s[0], "probation": s[1]})}),
    "usual_processing.pretrial_detention_days": by_class(duration(20)),
    "usual_processing.days_to_disposition": by_class(duration(120)),
    "usual_processing.jail_sentence_days": by_class(duration(90)),
    "usual_processing.probation_days": by_class(duration(400)),
    "usual_processing.prison_days": duration(800),
    "usual_processing.warrant_detention_days": duration(10),
    "usual_processing.probation_violation_rate_per_year": rate(6),
    "usual_processing.p_revocation_per_violation": prob,
    "usual_processing.sanction_jail_days": duration(30),
    "jail.capacity_beds": st.one_of(st.none(), st.integers(0, 20)),
    "lead.enabled": st.booleans(),
    "lead.start_date": st.dates(SIM_START, dt.date(2020, 6, 30)),
    "lead.districts": st.lists(st.integers(1, 6), unique=True, max_size=6).map(sorted),
    "lead.p_officer_trained": prob,
    "lead.p_divert_if_eligible": prob,
    "lead.p_social_referral_per_contact": prob,
    "lead.case_managers": st.sampled_from([0, 0.5, 1, 3]),
    "lead.caseload_per_manager": st.integers(1, 25),
    "lead.when_full": st.sampled_from(["wait", "book"]),
    "lead.intake_deadline_days": rate(60),
    "lead.intake_delay_days": duration(40),
    "lead.enrollment_days": duration(400),
    "lead.p_referral_ineligible,lead.p_referral_declined": split(2),
    "lead.p_empowerment_if_female": prob,
    "lead.disengage_rate_per_year": rate(6),
    "lead.reengage_rate_per_year": rate(6),
    "lead.rr_contact_engaged": rate(3),
    "lead.effect_half_life_after_exit_days": st.floats(1, 400).map(lambda x: round(x, 1)),
    "lead.rr_contact_after_exit": st.one_of(st.sampled_from([0.0, 1.0, 2.0]), st.floats(0, 2).map(lambda x: round(x, 3))),
    "lead.p_divert_participant_contact": prob,
    "lead.p_open_case_dismissed_at_intake": prob,
    "lead.rr_failure_to_appear_engaged": prob,
    "lead.p_warrant_resolved_engaged": prob,
    "lead.rr_referral_per_prior_arrest": st.one_of(st.sampled_from([0.0, 1.0, 2.0]), st.floats(0, 2).map(lambda x: round(x, 3))),
    "usual_processing.p_violation_on_new_arrest": prob,
    "usual_processing.drug_misdemeanor_start_date,usual_processing.sentence.drug_misdemeanor": st.tuples(
        st.one_of(st.none(), st.dates(SIM_START, dt.date(2021, 1, 1))),
        split(2).map(lambda s: {"jail": s[0], "probation": s[1]})),
    **{f"lead.services.{s}.capacity": st.one_of(st.none(), st.integers(0, 3)) for s in SERVICES[:3]},
    **{f"lead.services.{s}.p_uptake": prob for s in SERVICES[3:]},
}


def yaml_text(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()


@st.composite
def perturbations(draw) -> list[str]:
    keys = draw(st.lists(st.sampled_from(sorted(PERTURBATIONS)), unique=True, min_size=1, max_size=12))
    overrides = []
    for key in keys:
        value = draw(PERTURBATIONS[key])
        if "," in key:
            overrides += [f"{k}={yaml_text(v)}" for k, v in zip(key.split(","), value, strict=True)]
        else:
            overrides.append(f"{key}={yaml_text(value)}")
    return overrides


def simulate_all(overrides: list[str], replication: int) -> tuple[dict, dict]:
    try:
        arms = load_arms(DEMO, BASE + overrides)
    except ScenarioError as exc:
        raise AssertionError(f"the generator made an invalid scenario: {exc.problems}\noverrides: {overrides}") from None
    return arms, {name: engine.simulate(sc, replication) for name, sc in arms.items()}


def check_variant(overrides: list[str], replication: int) -> None:
    arms, sims = simulate_all(overrides, replication)
    comparator = next(iter(arms.values())).run.comparator
    for name, sim in sims.items():
        label = f"{name} replication {replication} with {overrides}"
        check_invariants(sim, label)
        check_costs(sim, arms[name], label)
        pd.testing.assert_frame_equal(sims[comparator].people, sim.people, obj=f"people of {name} vs {comparator}")
    if not any(sc.lead.enabled for sc in arms.values()):
        check_arms_identical(sims, comparator, f"LEAD off, replication {replication}, {overrides}")


@settings(SETTINGS, max_examples=30)
@given(overrides=perturbations(), replication=st.integers(0, 3))
def test_invariants_hold_for_random_valid_variations_of_the_demo(overrides, replication):
    check_variant(overrides, replication)


@pytest.mark.slow
@settings(SETTINGS, max_examples=150)
@given(overrides=perturbations(), replication=st.integers(0, 3))
def test_invariants_hold_for_many_random_variations_of_the_demo(overrides, replication):
    check_variant(overrides, replication)


# ---- fixed cases -----------------------------------------------------------------------------------------------


def test_costs_add_up_on_the_demo():
    arms = load_arms(DEMO, BASE)
    for name, sc in arms.items():
        check_costs(engine.simulate(sc, 0), sc, name)


@pytest.mark.parametrize("extra", [[], ["lead.p_officer_trained=1", "lead.p_divert_if_eligible=1",
                                        "lead.p_social_referral_per_contact=1"],
                                   ["lead.p_officer_trained=1", "lead.p_divert_if_eligible=1", "lead.p_divert_participant_contact=1",
                                    "lead.p_open_case_dismissed_at_intake=1", "lead.rr_failure_to_appear_engaged=0",
                                    "lead.p_warrant_resolved_engaged=1", "lead.rr_referral_per_prior_arrest=1.5",
                                    "usual_processing.p_failure_to_appear={misdemeanor: 1, felony: 1}"]],
                         ids=["demo", "certain-diversion", "certain-legal-coordination"])
def test_lead_switched_off_makes_every_arm_equal_the_comparator(extra):
    overrides = BASE + extra + ["lead.enabled=false", "population.initial_people=150"]
    arms = load_arms(DEMO, overrides)
    sims = {name: engine.simulate(sc, 2) for name, sc in arms.items()}
    check_arms_identical(sims, "usual_processing", "lead.enabled=false")
    result = run_experiment(arms, 2, jobs=1, keep_tables="none")
    wide = result.metrics.pivot_table(index=["metric", "replication"], columns="arm", values="value", dropna=False)
    for arm in arms:
        same = (wide[arm] == wide["usual_processing"]) | (wide[arm].isna() & wide["usual_processing"].isna())
        assert same.all(), f"with LEAD off, {arm} differs from usual_processing on {wide.index[~same].tolist()[:5]}"
    # and with LEAD on the same scenario does differ (the test could fail)
    on = {name: engine.simulate(sc, 2) for name, sc in load_arms(DEMO, BASE + extra + ["population.initial_people=150"]).items()}
    assert not on["lead_continued"].events.equals(on["usual_processing"].events), "LEAD on should change the events"


def test_every_simulation_in_the_test_session_is_checked():
    fn = engine.Simulation.finish
    assert getattr(fn, "checks_invariants", False), (
        f"expected tests/conftest.py to have wrapped lead_sim.model.engine.Simulation.finish; found {fn!r}"
    )
    assert fn.__wrapped__.__module__ == "lead_sim.model.engine", "Simulation.finish is wrapped twice"
    assert engine.simulate.__module__ == "lead_sim.model.engine"  # simulate ends in finish (not replaced)


# ---- the checks can fail --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run():
    arms = load_arms(DEMO, BASE + ["population.initial_people=120", "lead.p_officer_trained=1",
                                   "lead.p_divert_if_eligible=1", "lead.districts=[1,2,3,4,5,6]"])
    sc = arms["lead_continued"]
    sim = engine.simulate(sc, 0)
    assert (sim.spells.kind == N.LEAD_ENROLLED).any() and (sim.spells.kind == N.JAIL).any(), "need LEAD and jail spells"
    return sc, sim


def corrupt(sim, **tables):
    out = copy.copy(sim)
    for name, df in tables.items():
        setattr(out, name, df)
    return out


def _first(df, kind):
    return df.index[df.kind == kind][0]


CORRUPTIONS = {
    "person lost": lambda s: corrupt(s, people=pd.concat([s.people, s.people.tail(1).assign(
        person_id=s.people.person_id.max() + 1, entry_day=s.t_start, exit_day=s.t_start + 10)], ignore_index=True)),
    "time runs backwards": lambda s: corrupt(s, events=s.events.assign(
        day=s.events.day.where(s.events.index != s.events[s.events.event == N.BOOKING].index[0], s.t_start))),
    "overlapping jail and prison": lambda s: corrupt(s, spells=pd.concat([s.spells, s.spells.loc[[_first(s.spells, N.JAIL)]]
                                                                           .assign(kind=N.PRISON)], ignore_index=True)),
    "waiting while enrolled": lambda s: corrupt(s, spells=pd.concat([s.spells, s.spells.loc[[_first(s.spells, N.LEAD_ENROLLED)]]
                                                                      .assign(kind=N.LEAD_WAITING)], ignore_index=True)),
    "spell beyond the horizon": lambda s: corrupt(s, spells=s.spells.assign(
        end_day=s.spells.end_day.where(s.spells.index != s.spells.index[0], s.t_end + 1))),
    "engaged without enrolment": lambda s: corrupt(s, spells=s.spells[s.spells.kind != N.LEAD_ENROLLED]),
    "event after leaving": lambda s: corrupt(s, events=pd.concat([s.events, s.events[s.events.event == N.PERSON_EXIT].head(1)
                                                                   .assign(day=lambda d: d.day + 0.5,
                                                                           event=N.POLICE_CONTACT)], ignore_index=True)),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_check_invariants_catches(demo_run, name):
    _, sim = demo_run
    check_invariants(sim, "intact")
    with pytest.raises(AssertionError):
        check_invariants(CORRUPTIONS[name](sim), name)


def _after_last_event_of_someone_never_in(sim, kind: str, event: str, detail: str):
    """The tables with one more event, on the last event day of someone never in a ``kind`` spell."""
    ev = sim.events
    never = sorted(set(ev.person_id) - set(sim.spells.person_id[sim.spells.kind == kind]))
    last = ev[ev.person_id == never[0]].tail(1)
    row = last.assign(event=event, detail=detail).astype({"event": str, "detail": str})
    return corrupt(sim, events=pd.concat([ev.astype({"event": str, "detail": str}), row], ignore_index=True))


@pytest.mark.parametrize(("event", "detail", "kind", "message"), [
    (N.WARRANT_RESOLVED, "", N.LEAD_ENGAGED, "outside any lead_engaged spell"),
    (N.LEAD_PARTICIPANT_CONTACT, N.PARTICIPANT_DIVERTED, N.LEAD_ENGAGED, "outside any lead_engaged spell"),
    (N.DISPOSITION, N.DISMISSED_AT_LEAD_INTAKE, N.LEAD_ENROLLED, "dismissed at a LEAD intake that did not happen"),
])
def test_check_invariants_catches_legal_coordination_outside_lead(demo_run, event, detail, kind, message):
    _, sim = demo_run
    with pytest.raises(AssertionError, match=message):
        check_invariants(_after_last_event_of_someone_never_in(sim, kind, event, detail), event)


@pytest.mark.parametrize("case", ["negative cost", "unlisted agency"])
def test_check_costs_catches(demo_run, case):
    sc, sim = demo_run
    check_costs(sim, sc, "intact")
    costs = sc.costs
    if case == "negative cost":
        per_event = dict(costs.per_event)
        per_event["booking"] = {agency: -150.0 for agency in per_event["booking"]}
        bad = sc.model_copy(update={"costs": costs.model_copy(update={"per_event": per_event})})
    else:
        bad = sc.model_copy(update={"costs": costs.model_copy(update={"agencies": list(costs.agencies)[1:]})})
    with pytest.raises(AssertionError):
        check_costs(sim, bad, case)
