"""Treatment people find without LEAD (``behaviour.treatment_entry_rate_per_year``, every arm).

A hazard (``person.C_TREATMENT``) while in active use in the community starts an episode of a
service of ``behaviour.treatment_mix`` (lengths and effects from ``lead.services``), recorded as
LEAD's own are (a ``service_start`` event, a ``service:<name>`` spell), holding none of LEAD's
counted places. Rate 0 (the default) must leave every table exactly as it was.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from lead_sim import names as N
from lead_sim.model import engine
from lead_sim.model.engine import Simulation, lead_start_day, prefix_key, simulate
from lead_sim.model.params import ModelParams
from lead_sim.model.streams import Streams
from lead_sim.scenario.schema import Scenario
from tests.conftest import SCENARIOS, SMALL, TEST_SCENARIOS, load_arms

TINY = TEST_SCENARIOS / "tiny.yaml"
DEMO = SCENARIOS / "demo.yaml"
OUTPATIENT = N.SERVICE_PREFIX + "sud_outpatient"
#: the attributes stream's number that gives the treatment clock's first value (engine.new_person:
#: 12 attributes, the 6 other clocks, the race/ethnicity, then this one)
TREATMENT_CLOCK_DRAW = 19


def treatment(rate: float, mix: str = "{sud_outpatient: 1}", days: float | None = None, service: str = "sud_outpatient") -> list[str]:
    """Overrides: treatment found without LEAD at ``rate`` per year, ``mix``, and (if ``days``) a
    fixed length for ``service``."""
    out = [f"behaviour.treatment_entry_rate_per_year={rate}", f"behaviour.treatment_mix={mix}"]
    if days is not None:
        out.append(f"lead.services.{service}.duration_days={{dist: fixed, value: {days}}}")
    return out


def assert_same_tables(a, b, what: str = "") -> None:
    for name in ("events", "spells", "people"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=f"{what} {name}")
    assert a.n_steps == b.n_steps


def starts(sim, service: str | None = None) -> pd.DataFrame:
    ev = sim.events
    out = ev[ev.event == N.SERVICE_START]
    return out if service is None else out[out.detail == service]


# ---- (a) by hand -------------------------------------------------------------------------------


def test_exact_trace_of_treatment_in_tiny_scenario():
    # tiny.yaml's two people are always in active use and never leave; with no police contact
    # nothing but treatment happens. The rate is 0 while the person holds the one service of the
    # mix (the clock pauses), so starts come at t1 = E0 / rate, then end + E_i / rate, each
    # episode lasting exactly 10 days; E0 is the attributes stream's draw TREATMENT_CLOCK_DRAW,
    # E_i the "clock.treatment" stream's numbers 0, 3, 6, ... (each firing draws its next clock,
    # then the service pick and the length)
    rate_per_year, days = 6.0, 10.0
    sc = load_arms(TINY, ["behaviour.contact_rate_per_year=0", *treatment(rate_per_year, days=days)])["usual_processing"]
    sim = simulate(sc, 0)
    rate = rate_per_year / N.DAYS_PER_YEAR
    seed = sc.run.seed
    for pid in (0, 1):
        attributes = Streams(seed, 0).get("attributes", pid)
        exposure = -math.log1p(-[attributes.random() for _ in range(TREATMENT_CLOCK_DRAW + 1)][-1])
        own = Streams(seed, 0).get("clock.treatment", pid)
        expected, t = [], 0.0
        while True:
            t += exposure / rate
            if t >= sim.t_end:
                break
            expected.append(t)
            exposure = -math.log1p(-own.random())
            own.random(), own.random()  # the service pick (one service) and the length (fixed)
            t += days
        got = starts(sim)
        got = got[got.person_id == pid]
        assert len(expected) >= 3
        assert list(got.detail) == ["sud_outpatient"] * len(expected)
        np.testing.assert_allclose(got.day.to_numpy(), expected, rtol=1e-12)
        spells = sim.spells[(sim.spells.person_id == pid) & (sim.spells.kind == OUTPATIENT)]
        ends = [min(x + days, sim.t_end) for x in expected]
        np.testing.assert_allclose(spells.start_day.to_numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(spells.end_day.to_numpy(), ends, rtol=1e-12)
    # nothing else happened to them
    assert set(sim.events.event) == {N.SERVICE_START}


@pytest.fixture(scope="module")
def tiny_with_custody():
    """tiny.yaml (contacts every ~3 months, each 2 + 8 days in jail) with frequent treatment."""
    return load_arms(TINY, ["population.initial_people=40", *treatment(30.0, days=5)])


def test_usual_processing_now_has_treatment(tiny_with_custody):
    sim = simulate(tiny_with_custody["usual_processing"], 0)
    assert not (sim.events.event == N.LEAD_INTAKE).any()  # nobody is in LEAD
    s = starts(sim)
    assert len(s) > 200 and set(s.detail) == {"sud_outpatient"}
    assert s.person_id.nunique() == 40
    sp = sim.spells[sim.spells.kind == OUTPATIENT]
    assert len(sp) == len(s)
    np.testing.assert_array_equal(np.sort(sp.start_day.to_numpy()), np.sort(s.day.to_numpy()))


def test_nobody_starts_treatment_in_custody(tiny_with_custody):
    sim = simulate(tiny_with_custody["usual_processing"], 0)
    custody = sim.spells[sim.spells.kind.isin([N.JAIL, N.PRISON])]
    assert len(custody) > 50
    merged = starts(sim).merge(custody, on="person_id")
    inside = merged[(merged.start_day <= merged.day) & (merged.day < merged.end_day)]
    assert inside.empty, inside.head()


def test_no_second_episode_of_a_service_held():
    # one service in the mix: a person's episodes never overlap (the rate is 0 while in it)
    sim = simulate(load_arms(TINY, ["population.initial_people=40", *treatment(200.0, days=20)])["usual_processing"], 0)
    sp = sim.spells[sim.spells.kind == OUTPATIENT].sort_values(["person_id", "start_day"])
    nxt = sp.groupby("person_id").start_day.shift(-1)
    assert (nxt.dropna() >= sp.end_day[nxt.notna()]).all()
    # two services, one of them held for a long time: a pick of the held one starts nothing, the other still starts
    mix = "{sud_outpatient: 0.5, medication_for_oud: 0.5}"
    over = ["population.initial_people=40", *treatment(20.0, mix=mix, days=1000),
            "lead.services.medication_for_oud.duration_days={dist: fixed, value: 1}"]
    sim = simulate(load_arms(TINY, over)["usual_processing"], 0)
    per_person = starts(sim, "sud_outpatient").groupby("person_id").size()
    assert (per_person == 1).all() and len(per_person) == 40
    assert len(starts(sim, "medication_for_oud")) > 40 * 5


# ---- (b) statistical --------------------------------------------------------------------------


def test_start_rate_matches_the_hazard():
    # always in active use, never in custody (no contacts): starts per person-year outside the
    # service (the rate is 0 while in it) are Poisson at the rate
    rate = 3.0
    over = ["population.initial_people=400", "behaviour.contact_rate_per_year=0", *treatment(rate, days=7)]
    sim = simulate(load_arms(TINY, over)["usual_processing"], 0)
    sp = sim.spells[sim.spells.kind == OUTPATIENT]
    exposure_years = (400 * (sim.t_end - sim.t_start) - (sp.end_day - sp.start_day).sum()) / N.DAYS_PER_YEAR
    n, expected = len(starts(sim)), rate * exposure_years
    assert abs(n - expected) < 4 * math.sqrt(expected), (n, expected)


def test_mix_shares_match():
    # episodes far shorter than the time between starts: the pick is close to the mix
    mix = {"sud_outpatient": 0.6, "medication_for_oud": 0.3, "sud_residential": 0.1}
    over = ["population.initial_people=300", "behaviour.contact_rate_per_year=0",
            *treatment(4.0, mix="{" + ", ".join(f"{k}: {v}" for k, v in mix.items()) + "}")]
    over += [f"lead.services.{name}.duration_days={{dist: fixed, value: 0.01}}" for name in mix]
    sim = simulate(load_arms(TINY, over)["usual_processing"], 1)
    counts = starts(sim).detail.value_counts()
    n = int(counts.sum())
    assert n > 800
    for name, share in mix.items():
        assert abs(counts.get(name, 0) - n * share) < 4 * math.sqrt(n * share * (1 - share)), (name, counts.to_dict())


def test_only_in_active_use():
    # nobody in active use and no relapse: no treatment at all; demo's people come in and out of use
    sim = simulate(load_arms(DEMO, SMALL + ["population.p_active_use=0", "behaviour.relapse_rate_per_year=0",
                                            *treatment(5.0)])["usual_processing"], 0)
    assert starts(sim).empty
    sim = simulate(load_arms(DEMO, SMALL + treatment(5.0))["usual_processing"], 0)
    use = sim.spells[sim.spells.kind == N.ACTIVE_USE]
    merged = starts(sim).merge(use, on="person_id")
    merged["in_use"] = (merged.start_day <= merged.day) & (merged.day < merged.end_day)
    in_use = merged.groupby(["person_id", "day"]).in_use.any()
    assert len(in_use) > 100 and in_use.all()


# ---- (c) rate 0 changes nothing ---------------------------------------------------------------


def _without_treatment_keys(sc: Scenario) -> Scenario:
    d = sc.model_dump(by_alias=True)
    d["behaviour"].pop("treatment_entry_rate_per_year")
    d["behaviour"].pop("treatment_mix")
    return Scenario.model_validate(d)


@pytest.mark.parametrize("arm", ["usual_processing", "lead_pilot", "lead_continued"])
def test_rate_zero_equals_a_scenario_without_the_keys(arm):
    sc = load_arms(DEMO, SMALL + treatment(0.0, mix="{sud_outpatient: 0.5, sud_residential: 0.5}"))[arm]
    bare = _without_treatment_keys(sc)
    assert bare.behaviour.treatment_entry_rate_per_year == 0 and not bare.behaviour.treatment_mix
    assert_same_tables(simulate(sc, 1), simulate(bare, 1), arm)
    # and the feature is not a no-op when switched on
    on = load_arms(DEMO, SMALL + treatment(1.0, mix="{sud_outpatient: 0.5, sud_residential: 0.5}"))[arm]
    assert len(starts(simulate(on, 1))) > len(starts(simulate(sc, 1)))


# ---- (d) LEAD intake and places --------------------------------------------------------------

#: everyone eligible is diverted, everyone diverted is enrolled, stays enrolled past the end
#: (nobody is enrolled twice) and takes sud_outpatient, which has 3 LEAD places
LEAD_FOR_ALL = SMALL + [
    "lead.districts=[1,2,3,4,5,6]", "lead.p_officer_trained=1", "lead.p_divert_if_eligible=1",
    "lead.case_managers=1000", "lead.p_referral_ineligible=0", "lead.p_referral_declined=0",
    "lead.enrollment_days={dist: fixed, value: 5000}", "uncertainty=null",
    "lead.services.sud_outpatient.p_uptake=1", "lead.services.sud_outpatient.capacity=3",
    "lead.services.sud_outpatient.duration_days={dist: fixed, value: 150}",
]


@pytest.fixture(scope="module")
def lead_for_all():
    return load_arms(DEMO, LEAD_FOR_ALL + treatment(2.0))["lead_continued"]


def test_lead_intake_starts_no_second_episode(lead_for_all):
    sim = simulate(lead_for_all, 0)
    ev, sp = sim.events, sim.spells[sim.spells.kind == OUTPATIENT]
    intakes = ev[ev.event == N.LEAD_INTAKE][["person_id", "day"]]
    held = intakes.merge(sp, on="person_id")
    held = held[(held.start_day < held.day) & (held.day < held.end_day)]  # in it at intake
    assert len(held) >= 10, "the case must occur"
    at_intake = held[["person_id", "day"]].merge(starts(sim, "sud_outpatient"), on=["person_id", "day"])
    assert at_intake.empty, "a LEAD intake started a second episode of a service held"
    unavailable = held[["person_id", "day"]].merge(ev[ev.event == N.SERVICE_UNAVAILABLE], on=["person_id", "day"])
    assert unavailable.empty, "nothing is recorded for a service held"
    # the others do get it at intake when a place is free, or find it unavailable
    others = intakes.merge(pd.concat([starts(sim, "sud_outpatient"), ev[ev.event == N.SERVICE_UNAVAILABLE]]),
                           on=["person_id", "day"])
    assert len(others) > 0
    # episodes of one service never overlap for one person
    sp = sp.sort_values(["person_id", "start_day"])
    nxt = sp.groupby("person_id").start_day.shift(-1)
    assert (nxt.dropna() >= sp.end_day[nxt.notna()]).all()


def test_treatment_takes_no_lead_place(lead_for_all):
    # LEAD's places count only the episodes LEAD started, at every step of the way; treatment
    # found without LEAD is never refused for want of a place
    sim = Simulation(lead_for_all, 0)
    P = ModelParams(lead_for_all)
    sim.run_until(lead_start_day(P))
    sim.set_lead(lead_for_all, P)
    places = sim.world.service_places["sud_outpatient"]
    counted_seen = community_seen = 0
    for t in np.linspace(lead_start_day(P) + 1, P.t_end, 40):
        sim.run_until(float(t))
        held = [e for p in sim.world.persons.values() if p.lead.services for e in p.lead.services.values()
                if e[1].name == "sud_outpatient"]
        counted = sum(1 for e in held if e[2])
        assert places.in_use == counted <= 3
        counted_seen = max(counted_seen, counted)
        community_seen = max(community_seen, len(held) - counted)
    assert counted_seen == 3
    assert community_seen > 3


# ---- (e) LEAD switched off, arms, sharing -------------------------------------------------------


def test_lead_disabled_equals_comparator_exactly_with_treatment():
    arms = load_arms(DEMO, SMALL + ["lead.enabled=false", *treatment(1.0, mix="{sud_outpatient: 0.7, sud_residential: 0.3}")])
    base = simulate(arms["usual_processing"], 1)
    assert len(starts(base)) > 20
    for name in ("lead_pilot", "lead_continued"):
        assert_same_tables(base, simulate(arms[name], 1), name)


def test_arms_share_treatment_history_until_lead_starts():
    # common random numbers: before LEAD can act, the treatment in every arm is the same
    arms = load_arms(DEMO, SMALL + treatment(1.0))
    sims = {name: simulate(sc, 0) for name, sc in arms.items()}
    t0 = min(lead_start_day(ModelParams(sc)) for sc in arms.values())
    before = {name: starts(s)[lambda d: d.day < t0].astype({"event": str, "detail": str}).reset_index(drop=True)
              for name, s in sims.items()}
    assert len(before["usual_processing"]) > 20
    for name in ("lead_pilot", "lead_continued"):
        pd.testing.assert_frame_equal(before["usual_processing"], before[name])


def test_prefix_key_holds_what_treatment_reads_of_the_services():
    # with the rate > 0, phase 1 (before LEAD) reads the mix's services: arms that differ in them
    # must not share it; they still may when they differ only in what LEAD alone reads
    on = treatment(1.0)
    key = prefix_key(load_arms(DEMO, SMALL + on)["lead_continued"])
    longer = prefix_key(load_arms(DEMO, SMALL + on + ["lead.services.sud_outpatient.duration_days={dist: fixed, value: 9}"])["lead_continued"])
    stronger = prefix_key(load_arms(DEMO, SMALL + on + ["lead.services.sud_outpatient.rr_remission=7"])["lead_continued"])
    lead_only = prefix_key(load_arms(DEMO, SMALL + on + ["lead.services.sud_outpatient.p_uptake=0.9",
                                                        "lead.services.sud_outpatient.capacity=2",
                                                        "lead.services.sud_residential.rr_remission=7"])["lead_continued"])
    assert len({key, longer, stronger}) == 3
    assert lead_only == key
    off = treatment(0.0)
    assert prefix_key(load_arms(DEMO, SMALL + off)["lead_continued"]) == prefix_key(
        load_arms(DEMO, SMALL + off + ["lead.services.sud_outpatient.rr_remission=7"])["lead_continued"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs os.fork")
def test_branches_equal_separate_simulations_with_treatment():
    from lead_sim.runs.branching import simulate_branches

    arms = load_arms(DEMO, SMALL + treatment(1.0, mix="{sud_outpatient: 0.5, medication_for_oud: 0.5}"))
    scs = list(arms.values())
    got = simulate_branches(scs, 1, lambda i, res: (res.events, res.spells, res.people))
    for (events, spells, people), sc in zip(got, scs, strict=True):
        ref = simulate(sc, 1)
        pd.testing.assert_frame_equal(events, ref.events, check_exact=True)
        pd.testing.assert_frame_equal(spells, ref.spells, check_exact=True)
        pd.testing.assert_frame_equal(people, ref.people, check_exact=True)


@pytest.mark.parametrize("extra", [[], ["jail.capacity_beds=20"]], ids=["uncounted-jail", "counted-jail"])
def test_running_ahead_changes_no_result_with_treatment(monkeypatch, extra):
    # a treatment's start and end are private (person._stepper): run ahead, the tables are those
    # of one SimPy step per change
    arms = load_arms(DEMO, SMALL + extra + treatment(2.0, mix="{sud_outpatient: 0.5, sud_residential: 0.5}")
                     + ["lead.p_officer_trained=1", "lead.p_divert_if_eligible=1", "lead.caseload_per_manager=4"])
    for name, sc in arms.items():
        monkeypatch.setattr(engine, "RUN_AHEAD", False)
        stepped = simulate(sc, 1)
        monkeypatch.setattr(engine, "RUN_AHEAD", True)
        ahead = simulate(sc, 1)
        assert_same_tables(stepped, ahead, name)
        assert len(starts(ahead)) > 20
