"""The simulation: exact traces, extremes, common random numbers, reproducibility, invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lead_sim import names as N
from lead_sim.model.engine import simulate
from lead_sim.model.streams import Streams
from tests.conftest import SCENARIOS, SMALL, load_arms
from tests.invariants import check_invariants


def _expected_tiny_trace(seed: int, pid: int, t_end: float) -> list[tuple[float, str]]:
    """Hand-derived trace for tests/scenarios/tiny.yaml: a person with a constant contact rate
    (4/yr, paused in custody); every contact is a possession arrest, booked, 2 days' detention,
    a misdemeanor filed with a public defender; conviction 60 days later with a 10-day jail
    sentence less the 2 days served."""
    rate = 4.0 / N.DAYS_PER_YEAR
    # stream layout (engine.new_person): the attributes stream gives 12 attributes, then the
    # first value of each hazard clock, contact first; at each contact the "contact" stream gives
    # the next contact clock, then the contact's 20 decision draws (person.N_CONTACT_DRAWS)
    attributes = Streams(seed, 0).get("attributes", pid)
    first_u = [attributes.random() for _ in range(13)][-1]
    rng = Streams(seed, 0).get("contact", pid)
    trace: list[tuple[float, str]] = []
    custody: list[tuple[float, float]] = []  # (start, end) intervals, merged as they come
    dispositions: list[float] = []
    t = 0.0
    need = -math.log1p(-first_u) / rate  # community days until the next contact

    def in_custody_until(x: float) -> float | None:
        for a, b in custody:
            if a <= x < b:
                return b
        return None

    while True:
        # advance through community time, skipping custody intervals and dispositions in order
        pending = sorted(d for d in dispositions if d >= t)
        nxt_contact = None
        cursor, left = t, need
        while True:
            end = in_custody_until(cursor)
            if end is not None:
                cursor = end
                continue
            nxt_dispo = next((d for d in pending if d >= cursor), None)
            if nxt_dispo is not None and nxt_dispo < cursor + left and nxt_dispo < t_end:
                left -= nxt_dispo - cursor
                trace.append((nxt_dispo, N.DISPOSITION))
                pending.remove(nxt_dispo)
                dispositions.remove(nxt_dispo)
                custody.append((nxt_dispo, nxt_dispo + 8.0))
                cursor = nxt_dispo
                continue
            nxt_contact = cursor + left
            break
        if nxt_contact >= t_end:
            for d in sorted(dispositions):
                if d < t_end:
                    trace.append((d, N.DISPOSITION))
            break
        trace += [(nxt_contact, e) for e in (N.POLICE_CONTACT, N.ARREST, N.BOOKING, N.CHARGE_MISDEMEANOR, N.PUBLIC_DEFENSE)]
        custody.append((nxt_contact, nxt_contact + 2.0))
        dispositions.append(nxt_contact + 60.0)
        t = nxt_contact
        need = -math.log1p(-rng.random()) / rate
        for _ in range(20):
            rng.random()
    return sorted(trace, key=lambda x: x[0])


def test_exact_trace_of_tiny_deterministic_scenario(tiny_path):
    sc = load_arms(tiny_path)["usual_processing"]
    sim = simulate(sc, 0)
    for pid in (0, 1):
        got = sim.events[sim.events.person_id == pid]
        got = [(round(d, 9), e) for d, e in zip(got["day"], got["event"].astype(str), strict=True)]
        want = [(round(d, 9), e) for d, e in _expected_tiny_trace(sc.run.seed, pid, sim.t_end)]
        assert got == want, f"person {pid}: expected trace {want}, simulated {got}"
    # jail days equal the hand calculation: 2 per booking plus 8 per conviction (no overlap here)
    jail = sim.spells[sim.spells.kind == N.JAIL]
    n_book = (sim.events.event == N.BOOKING).sum()
    n_conv = (sim.events.event == N.DISPOSITION).sum()
    total = (jail.end_day.clip(upper=sim.t_end) - jail.start_day).sum()
    truncated = (jail.end_day > sim.t_end).any()
    if not truncated:
        assert total == pytest.approx(2 * n_book + 8 * n_conv), f"jail days {total} vs 2*{n_book} + 8*{n_conv}"


def test_no_trained_officers_makes_every_arm_identical(demo_path):
    arms = load_arms(demo_path, SMALL + ["lead.p_officer_trained=0", "lead.p_social_referral_per_contact=0.5"])
    base = simulate(arms["usual_processing"], 0)
    for name in ("lead_pilot", "lead_continued"):
        other = simulate(arms[name], 0)
        pd.testing.assert_frame_equal(base.events, other.events, obj=f"events of {name}")
        pd.testing.assert_frame_equal(base.spells, other.spells, obj=f"spells of {name}")


def test_lead_disabled_equals_comparator_exactly(demo_path):
    arms = load_arms(demo_path, SMALL + ["lead.enabled=false"])
    base = simulate(arms["usual_processing"], 1)
    other = simulate(arms["lead_continued"], 1)
    pd.testing.assert_frame_equal(base.events, other.events)


CERTAIN_DIVERSION = SMALL + [
    "lead.districts=[1,2,3,4,5,6]",
    "lead.p_officer_trained=1",
    "lead.p_divert_if_eligible=1",
    "lead.case_managers=1000",
    "contact.p_excluded=0",
    "contact.p_possession_under_threshold=1",
    "contact.offense_mix={possession: {possession: 0.8, prostitution: 0, other: 0}, "
    "prostitution: {possession: 0, prostitution: 0.8, other: 0}, both: {possession: 0.4, prostitution: 0.4, other: 0}}",
]


def test_certain_diversion_books_no_eligible_offense_after_lead_starts(demo_path):
    arms = load_arms(demo_path, CERTAIN_DIVERSION)
    sim = simulate(arms["lead_continued"], 0)
    ev = sim.events
    new_arrests = ev[(ev.event == N.ARREST) & (ev.detail == "new_offense") & (ev.day >= 0)]
    assert len(new_arrests) == 0, f"expected no bookings for new eligible offenses, found {len(new_arrests)}"
    assert (ev.event == N.LEAD_REFERRAL).sum() > 50, "expected many referrals when diversion is certain"
    # before LEAD starts (warm-up) people were arrested as usual
    assert ((ev.event == N.ARREST) & (ev.day < 0)).sum() > 20
    comparator = simulate(arms["usual_processing"], 0).events
    assert ((comparator.event == N.ARREST) & (comparator.day >= 0)).sum() > 50


def test_zero_contact_hazard_gives_no_justice_events(demo_path):
    arms = load_arms(demo_path, SMALL + ["behaviour.contact_rate_per_year=0"])
    for name, sc in arms.items():
        ev = simulate(sc, 0).events
        # treatment found without LEAD still starts (it needs no police contact)
        justice = ev[(ev.event != N.PERSON_EXIT) & (ev.event != N.SERVICE_START)]
        assert justice.empty, f"{name}: expected no events with a zero contact rate, found {justice.event.unique()}"


def test_proportion_diverted_matches_officer_discretion(demo_path):
    p = 0.3
    arms = load_arms(demo_path, [o for o in CERTAIN_DIVERSION if "p_divert" not in o] + [f"lead.p_divert_if_eligible={p}"])
    ev = simulate(arms["lead_continued"], 2).events
    ev = ev[ev.day >= 0]
    referred = ((ev.event == N.LEAD_REFERRAL) & (ev.detail == "arrest")).sum()
    booked = ((ev.event == N.ARREST) & (ev.detail == "new_offense")).sum()
    n = referred + booked
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p) / n
    share = referred / n
    assert lo <= share <= hi, f"diverted share {share:.3f} of {n} outside the 99.9% binomial interval [{lo:.3f}, {hi:.3f}] around {p}"


def test_same_people_in_every_arm(demo_path):
    arms = load_arms(demo_path, SMALL)
    people = [simulate(sc, 3).people for sc in arms.values()]
    for other in people[1:]:
        pd.testing.assert_frame_equal(people[0], other)


def test_same_seed_identical_tables_and_different_seed_differs(demo_path):
    arms = load_arms(demo_path, SMALL)
    a = simulate(arms["lead_pilot"], 0)
    b = simulate(arms["lead_pilot"], 0)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.spells, b.spells)
    c = simulate(load_arms(demo_path, SMALL + ["run.seed=7"])["lead_pilot"], 0)
    assert not a.events.equals(c.events), "a different seed should change the event log"
    d = simulate(arms["lead_pilot"], 1)
    assert not a.events.equals(d.events), "a different replication should change the event log"


def test_arms_share_history_until_first_referral(demo_path):
    """Common random numbers: a person's events are identical in both arms before LEAD touches them."""
    arms = load_arms(demo_path, SMALL)
    a = simulate(arms["usual_processing"], 0).events.astype({"event": str, "detail": str})
    b = simulate(arms["lead_continued"], 0).events.astype({"event": str, "detail": str})
    first_ref = b[b.event == N.LEAD_REFERRAL].groupby("person_id")["day"].min()
    never = set(b.person_id) - set(first_ref.index)
    # people never referred: identical histories (they share no resource with those who were)
    same = [pid for pid in never if a[a.person_id == pid][["day", "event"]].reset_index(drop=True).equals(
        b[b.person_id == pid][["day", "event"]].reset_index(drop=True))]
    assert len(same) == len(never), f"{len(never) - len(same)} never-referred people differ between arms"
    for pid, t in first_ref.items():
        before_a = a[(a.person_id == pid) & (a.day < t)][["day", "event"]].reset_index(drop=True)
        before_b = b[(b.person_id == pid) & (b.day < t)][["day", "event"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(before_a, before_b, obj=f"person {pid} before referral")


# ---- invariants ----------------------------------------------------------------------------------


# check_invariants (tests/invariants.py) also runs on every simulation of the session (tests/conftest.py)


def test_invariants_hold_in_every_arm(demo_path):
    arms = load_arms(demo_path, SMALL)
    for name, sc in arms.items():
        for rep in (0, 1):
            check_invariants(simulate(sc, rep), f"{name} rep {rep}")


def test_invariants_hold_with_a_tight_waitlist_and_jail_capacity(demo_path):
    arms = load_arms(demo_path, SMALL + ["lead.case_managers=0.1", "lead.caseload_per_manager=20",
                                         "jail.capacity_beds=15", "lead.p_divert_if_eligible=1", "lead.p_officer_trained=1"])
    sim = simulate(arms["lead_continued"], 0)
    check_invariants(sim, "tight capacity")
    enrolled = sim.spells[sim.spells.kind == N.LEAD_ENROLLED]
    # at no time more than 2 people enrolled (capacity round(0.1 * 20) = 2)
    edges = np.concatenate([np.c_[enrolled.start_day, np.ones(len(enrolled))], np.c_[enrolled.end_day, -np.ones(len(enrolled))]])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    assert np.cumsum(edges[:, 1]).max() <= 2
    assert (sim.events.detail == "missed_intake").sum() > 0, "a tight pool should make referrals miss the deadline"
    assert (sim.spells.kind == N.LEAD_WAITING).sum() > 0


def test_streams_give_the_documented_mersenne_twister_sequence():
    # Streams.get uses the C generator directly; it must give what random.Random(seed) gives,
    # which Python guarantees across versions for an integer seed
    import random

    from lead_sim.model.streams import stream_seed

    for name, pid in (("contact", 0), ("attributes", 12345), ("arrivals", -1)):
        want = random.Random(stream_seed(99, 3, name, pid))
        got = Streams(99, 3).get(name, pid)
        assert [got.random() for _ in range(50)] == [want.random() for _ in range(50)]
    assert Streams(99, 3).get("contact", 1).random() != Streams(99, 4).get("contact", 1).random()


def test_stream_seeds_from_the_shared_hash_equal_the_documented_seed():
    # Streams.seed hashes "root|replication|name|" once per name and copies it for each person;
    # the seed must be stream_seed's, whatever the order in which names and people come
    from lead_sim.model.streams import stream_seed

    streams = Streams(2024, 7)
    cases = [(name, pid) for pid in (-1, 0, 1, 9, 10, 123456789, 2**40) for name in ("contact", "clock.use", "a|b", "")]
    for name, pid in cases + cases[::-1]:
        assert streams.seed(name, pid) == stream_seed(2024, 7, name, pid), (name, pid)


def test_compact_streams_change_no_result(monkeypatch):
    # large simulations keep compact streams (engine.COMPACT_STREAMS_ABOVE_PEOPLE); the tables
    # must be exactly those of the same simulation with the generators kept
    from lead_sim.model import engine

    sc = load_arms(SCENARIOS / "demo.yaml")["lead_continued"]
    monkeypatch.setattr(engine, "COMPACT_STREAMS_ABOVE_PEOPLE", 10**9)
    kept = simulate(sc, 1)
    monkeypatch.setattr(engine, "COMPACT_STREAMS_ABOVE_PEOPLE", 0)
    sim = engine.Simulation(sc, 1)
    assert sim.streams.compact
    compact = simulate(sc, 1)
    for name in ("events", "spells", "people"):
        pd.testing.assert_frame_equal(getattr(kept, name), getattr(compact, name), check_exact=True)
    assert kept.n_steps == compact.n_steps


RUN_AHEAD_CASES = [
    pytest.param([], id="demo"),
    # hundreds waiting for a case manager: they must never run ahead, a slot wakes them
    pytest.param(["lead.caseload_per_manager=2", "lead.p_divert_if_eligible=1", "lead.p_officer_trained=1"], id="waitlist"),
    pytest.param(["lead.caseload_per_manager=8", "lead.intake_deadline_days=200", "lead.p_divert_if_eligible=1",
                  "lead.p_officer_trained=1", "lead.p_social_referral_per_contact=0.9"], id="long-waits"),
    # a counted jail: custody is shared, so contacts, releases and dispositions take steps
    pytest.param(["lead.caseload_per_manager=2", "lead.p_divert_if_eligible=1", "lead.p_officer_trained=1",
                  "jail.capacity_beds=20"], id="counted-jail"),
]


@pytest.mark.parametrize("overrides", RUN_AHEAD_CASES)
def test_running_ahead_changes_no_result(monkeypatch, overrides):
    # people make private changes at once (person._stepper); the tables must be exactly those
    # of the same simulation with one SimPy step per change (engine.RUN_AHEAD False), row for row
    from lead_sim.model import engine
    from lead_sim.runs.branching import simulate_branches

    arms = load_arms(SCENARIOS / "demo.yaml", overrides)
    for name, sc in arms.items():
        monkeypatch.setattr(engine, "RUN_AHEAD", False)
        stepped = simulate(sc, 1)
        monkeypatch.setattr(engine, "RUN_AHEAD", True)
        ahead = simulate(sc, 1)
        for table in ("events", "spells", "people"):
            pd.testing.assert_frame_equal(getattr(stepped, table), getattr(ahead, table), check_exact=True, obj=f"{name} {table}")
        assert stepped.n_steps == ahead.n_steps
        assert ahead.simpy_events < stepped.simpy_events, f"{name}: nobody ran ahead"
    if not overrides:  # and through branching, which sets LEAD between the two runs in forked processes
        got = simulate_branches(list(arms.values()), 1, lambda i, res: res.events)
        monkeypatch.setattr(engine, "RUN_AHEAD", False)
        for events, sc in zip(got, arms.values(), strict=True):
            pd.testing.assert_frame_equal(events, simulate(sc, 1).events, check_exact=True)


def test_steps_scheduled_for_a_day_go_on_simpys_queue_as_schedule_puts_them():
    # person._stepper puts a step on env._queue itself, at its exact day: SimPy's own schedule
    # must still push (time, priority, event id, event), ids from env._eid
    import simpy
    from simpy.events import NORMAL

    from lead_sim.model.state import Step

    env = simpy.Environment(initial_time=1.0)
    s = object.__new__(Step)
    env.schedule(s, NORMAL, 2.5)
    assert env._queue == [(3.5, NORMAL, 0, s)]
    assert next(env._eid) == 1


def test_block_streams_give_the_same_numbers_as_a_kept_generator():
    # a person's stream holds a few numbers at a time and remakes its generator to go on: across
    # every refill, whatever mix of single draws and runs is asked for, the sequence is the one
    # random.Random(seed) gives
    import random

    from lead_sim.model.streams import stream_seed

    asks = np.random.default_rng(5).integers(0, 25, size=300)
    asks[[10, 11, 150]] = 100  # more than a stream ever holds (MAX_BLOCK)
    streams = Streams(99, 3, compact=True)
    streams.prepare(["contact"])  # as a simulation does (the packers of every block size)
    for size in (1, 4, 42):
        block = streams.per_person("contact", 7, size)
        assert type(block).__name__ == "BlockStream"
        want = random.Random(stream_seed(99, 3, "contact", 7))
        for n in asks:
            if n == 0:
                assert block.random() == want.random()
            else:
                got = block.take(int(n))
                assert len(got) == n
                assert list(got) == [want.random() for _ in range(n)]


def test_arrival_timeouts_land_exactly_on_the_day():
    from lead_sim.model.engine import _delays_to
    rng = np.random.default_rng(7)
    now = np.r_[rng.uniform(-1e-3, 0.0, 400_000), rng.uniform(-400.0, 1100.0, 2000), -rng.uniform(0.0, 1100.0, 400_000)]
    t = np.r_[rng.uniform(0.0, 1100.0, 400_000), rng.uniform(-400.0, 1100.0, 2000), rng.uniform(-1e-3, 0.0, 400_000)]
    now, t = np.minimum(now, t), np.maximum(now, t)
    naive_misses = now + (t - now) != t
    assert naive_misses.sum() >= 2  # the cases the nudging is for are among the inputs
    for a, b in zip(now[naive_misses | (np.arange(len(now)) % 200 == 0)].tolist(),
                    t[naive_misses | (np.arange(len(now)) % 200 == 0)].tolist(), strict=True):
        at = a
        for d in _delays_to(a, b):
            assert d >= 0.0
            at = at + d  # as SimPy's clock adds a timeout's delay
        assert at == b, (a, b)


def test_people_exist_only_between_entry_and_exit(demo_path):
    """People are made on their entry day and dropped at exit; the people table still has
    everyone, each row as drawing their attributes up front gives it."""
    from lead_sim.model.engine import Simulation, entry_days, new_person
    sc = next(iter(load_arms(demo_path).values()))
    sim = Simulation(sc, 2)
    mid = sim.P.t_start + 0.5 * (sim.P.t_end - sim.P.t_start)
    sim.run_until(mid)
    live = list(sim.world.persons.values())
    assert live and all(sim.entries[p.pid] <= mid < p.exit_time for p in live)
    assert len(live) < len(sim.entries)  # some have not arrived yet or have left
    sim.set_lead(sc)
    sim.run_until(sim.P.t_end)
    live_at_end = sorted(sim.world.persons)
    res = sim.finish()
    assert not sim.world.persons  # released: the simulation cannot go on
    still_in = res.people.loc[res.people.exit_day >= res.t_end, "person_id"].tolist()
    assert live_at_end == still_in
    entries = entry_days(sim.P, Streams(sc.run.seed, 2))
    assert res.people.entry_day.tolist() == entries
    for pid in (0, len(entries) // 2, len(entries) - 1):
        p, drawn = new_person(sim.P, Streams(sc.run.seed, 2), pid, entries[pid])
        row = res.people.iloc[pid]
        assert (row.age_years, row.district, row.offense_profile, row.contact_multiplier, row.prior_arrests) == \
               (drawn.age_years, p.district, p.profile, p.base_mult, drawn.prior_arrests)
        assert row.exit_day == min(p.exit_time, res.t_end)


def test_steps_are_events_as_simpy_processes_them():
    # a person's Step is not a SimPy class: check the installed SimPy runs it like an event, in
    # the order of (time, priority, scheduling), and that a cancelled one calls nothing
    import simpy
    from simpy.events import NORMAL, URGENT

    from lead_sim.model.state import Step

    env = simpy.Environment()
    seen = []

    def make(tag, priority, delay, callbacks=None):
        s = object.__new__(Step)
        s.callbacks, s.pid = callbacks if callbacks is not None else ((lambda ev: seen.append((env.now, ev.pid))),), tag
        env.schedule(s, priority, delay)
        return s

    env.timeout(2.0).callbacks.append(lambda ev: seen.append((env.now, "timeout")))
    make("late", NORMAL, 2.0)
    make("urgent", URGENT, 2.0)
    make("first", NORMAL, 1.0)
    cancelled = make("cancelled", NORMAL, 1.5)
    cancelled.callbacks = ()
    env.run()
    assert seen == [(1.0, "first"), (2.0, "urgent"), (2.0, "timeout"), (2.0, "late")]


def test_emptying_free_lists_leaves_the_collector_as_it_found_it():
    # finish() freezes everything so that its collection walks nothing; it must not unfreeze
    # what a caller froze (a forked branch), nor leave anything frozen otherwise
    import gc

    from lead_sim.model.engine import _empty_free_lists

    assert gc.get_freeze_count() == 0
    _empty_free_lists()
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        _empty_free_lists()
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def test_people_never_referred_share_lead_defaults_that_cannot_change():
    # everyone not yet referred reads one shared Lead (person.NEVER_REFERRED): it must hold a new
    # Lead's values and refuse to be changed, or one person's LEAD state would leak to everyone
    from lead_sim.model.state import NEVER_REFERRED, Lead
    fresh = Lead()
    assert {k: getattr(NEVER_REFERRED, k) for k in Lead.__slots__} == {k: getattr(fresh, k) for k in Lead.__slots__}
    with pytest.raises(AttributeError, match="NEVER_REFERRED"):
        NEVER_REFERRED.engaged = True
    assert NEVER_REFERRED.engaged is False
