"""Community days: the shares of community time in active use, housing and work, and the
cost-effectiveness outcomes counted at the community-day rate, on hand-made tables.

Community days = days in the target group inside the window minus days in jail or prison. The
states ``active_use``, ``housed`` and ``employed`` are recorded in the community only, so days
in them per person-year grow when custody shrinks; their share of community days does not.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lead_sim import names as N
from lead_sim.outcomes.costing import TOTALS_COLUMNS
from lead_sim.outcomes.metrics import CEA_OUTCOMES, arm_metrics, community_time, metric_names, outcome_totals

Y = N.DAYS_PER_YEAR
#: what arm_metrics reads of a scenario when it is given the cost lines (none here): the agency and
#: payer lists. A stand-in keeps these tests about time, not about any scenario file.
NO_COSTS = SimpleNamespace(costs=SimpleNamespace(agencies=(), payers=()))
NO_LINES = pd.DataFrame({c: pd.Series(dtype=float if c == "usd_discounted" else object) for c in TOTALS_COLUMNS})
T_END = 1000.0


def frames(events, spells, people):
    ev = pd.DataFrame(events, columns=list(N.EVENT_COLUMNS)).astype({"event": "category", "detail": "category"})
    sp = pd.DataFrame(spells, columns=list(N.SPELL_COLUMNS)).astype({"kind": "category"})
    pe = pd.DataFrame(people, columns=["person_id", "entry_day", "exit_day"])
    return ev, sp, pe


def metrics(ev, sp, pe, t_end=T_END):
    return arm_metrics(ev, sp, pe, NO_COSTS, t_end, lines=NO_LINES)


@pytest.fixture
def two_people():
    """Window [0, 1000).

    Person 1: in the target group from day -100 to 2000 -> 1000 days in the window; jail -10..50
    (50 days in the window), prison 300..500 (200) -> 750 community days; active use 50..300 and
    500..700 (450 days); housed 600..1200 (400 days in the window); never employed.
    Person 2: in the group 200..700 (500 days); jail 400..450 (50) -> 450 community days; active
    use 200..400 (200); housed 450..650 (200); employed 450..550 (100).
    Together: 1500 days present, 300 in custody (100 of them in jail), 1200 in the community;
    650 days of active use, 600 housed, 100 employed.
    """
    return frames(
        [
            (1, 10.0, N.ARREST, "new_offense"),
            (1, 10.0, N.BOOKING, ""),
            (1, 100.0, N.ARREST, "new_offense"),  # a re-arrest, 100 days in
        ],
        [
            (1, N.JAIL, -10.0, 50.0),
            (1, N.ACTIVE_USE, 50.0, 300.0),
            (1, N.PRISON, 300.0, 500.0),
            (1, N.ACTIVE_USE, 500.0, 700.0),
            (1, N.HOUSED, 600.0, 1200.0),
            (2, N.ACTIVE_USE, 200.0, 400.0),
            (2, N.JAIL, 400.0, 450.0),
            (2, N.HOUSED, 450.0, 650.0),
            (2, N.EMPLOYED, 450.0, 550.0),
        ],
        [(1, -100.0, 2000.0), (2, 200.0, 700.0)],
    )


def test_new_metrics_are_listed_after_the_old_day_metrics():
    names = metric_names(NO_COSTS)
    i = names.index("employed_days_per_person_year")
    assert names[i + 1:i + 5] == ["community_days_per_person_year", "share_of_community_days_active_use",
                                  "share_of_community_days_housed", "share_of_community_days_employed"]
    assert {"days_active_use_per_person_year", "housed_days_per_person_year"} <= set(names)


def test_community_metrics_by_hand(two_people):
    m = metrics(*two_people)
    assert m["person_years"] == pytest.approx(1500 / Y)
    assert m["community_days_per_person_year"] == pytest.approx(1200 / 1500 * Y)  # 292.2
    assert m["share_of_community_days_active_use"] == pytest.approx(650 / 1200)  # 0.5417
    assert m["share_of_community_days_housed"] == pytest.approx(600 / 1200)  # 0.5
    assert m["share_of_community_days_employed"] == pytest.approx(100 / 1200)  # 0.0833
    # the old per-person-year measures are kept, unchanged
    assert m["days_active_use_per_person_year"] == pytest.approx(650 / 1500 * Y)  # 158.275
    assert m["housed_days_per_person_year"] == pytest.approx(600 / 1500 * Y)  # 146.1
    assert m["employed_days_per_person_year"] == pytest.approx(100 / 1500 * Y)  # 24.35
    assert m["jail_days_per_person_year"] == pytest.approx(100 / 1500 * Y)  # 24.35


def test_community_time_by_hand(two_people):
    _ev, sp, pe = two_people
    assert community_time(pe, sp, T_END) == pytest.approx((1500.0, 1200.0))


def test_outcome_totals_by_hand_undiscounted(two_people):
    out = outcome_totals(*two_people, 0.0, T_END)
    assert list(out) == list(CEA_OUTCOMES)
    assert out["rearrests"] == pytest.approx(1.0) and out["bookings"] == pytest.approx(1.0)
    assert out["jail_days"] == pytest.approx(100.0)
    # 650/1200 of the 1500/365.25 person-years: 812.5 / 365.25 = 2.2245 (not 650 / 365.25 = 1.7796)
    assert out["active_use_years"] == pytest.approx(812.5 / Y)
    assert out["active_use_years"] == pytest.approx(2.2245037645448322, rel=1e-12)
    assert out["housed_days"] == pytest.approx(750.0)  # 600/1200 of 1500 days


def test_outcome_totals_by_hand_discounted(two_people):
    rate = 0.03
    delta = math.log(1.03) / Y

    def d(a, b):  # integral of 1.03^(-t/365.25) over [a, b)
        return (math.exp(-delta * a) - math.exp(-delta * b)) / delta

    present = d(0, 1000) + d(200, 700)
    community = present - (d(0, 50) + d(300, 500) + d(400, 450))
    active = d(50, 300) + d(500, 700) + d(200, 400)
    housed = d(600, 1000) + d(450, 650)
    _ev, sp, pe = two_people
    assert community_time(pe, sp, T_END, rate) == pytest.approx((present, community), rel=1e-12)
    assert (present, community) == pytest.approx((1442.757771896587, 1150.9176623546568), rel=1e-12)
    out = outcome_totals(*two_people, rate, T_END)
    assert out["rearrests"] == pytest.approx(1.03 ** (-100 / Y))  # 0.99194
    assert out["bookings"] == pytest.approx(1.03 ** (-10 / Y))  # 0.99919
    assert out["jail_days"] == pytest.approx(d(0, 50) + d(400, 450))  # 98.2085
    assert out["active_use_years"] == pytest.approx(active / community * present / Y, rel=1e-12)
    assert out["active_use_years"] == pytest.approx(2.169824589540086, rel=1e-12)
    assert out["housed_days"] == pytest.approx(housed / community * present, rel=1e-12)
    assert out["housed_days"] == pytest.approx(709.8165386616523, rel=1e-12)


def test_no_community_time_gives_nan_shares_and_zero_totals():
    ev, sp, pe = frames([], [(1, N.PRISON, 0.0, 100.0)], [(1, 0.0, 100.0)])
    m = metrics(ev, sp, pe, t_end=100.0)
    assert m["community_days_per_person_year"] == 0.0
    assert all(math.isnan(m[k]) for k in N.SHARE_METRICS)
    out = outcome_totals(ev, sp, pe, 0.03, 100.0)
    assert out["active_use_years"] == 0.0 and out["housed_days"] == 0.0


def test_same_community_rate_same_outcome_whatever_the_custody():
    """The problem this measure solves: half of every community day in active use, with 200 days
    of jail or without. Days of use per person-year differ (400 vs 500 per 1000 days); the
    share and the CEA outcome do not."""
    ev, sp_jail, pe = frames([], [(1, N.JAIL, 0.0, 200.0), (1, N.ACTIVE_USE, 200.0, 600.0)], [(1, 0.0, 1000.0)])
    _, sp_free, _ = frames([], [(1, N.ACTIVE_USE, 0.0, 500.0)], [])
    with_jail, without = metrics(ev, sp_jail, pe), metrics(ev, sp_free, pe)
    assert with_jail["days_active_use_per_person_year"] < without["days_active_use_per_person_year"]
    assert with_jail["share_of_community_days_active_use"] == pytest.approx(0.5)
    assert without["share_of_community_days_active_use"] == pytest.approx(0.5)
    a = outcome_totals(ev, sp_jail, pe, 0.0, 1000.0)["active_use_years"]
    b = outcome_totals(ev, sp_free, pe, 0.0, 1000.0)["active_use_years"]
    assert a == pytest.approx(500 / Y) and b == pytest.approx(500 / Y)  # counted as plain days: 400 vs 500


# ---- property: custody days moved around a fixed community pattern -----------------------------------------------

SEGMENTS = st.lists(st.tuples(st.integers(1, 60), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=8)
CUSTODY = st.lists(st.tuples(st.integers(1, 90), st.sampled_from([N.JAIL, N.PRISON])), max_size=5)


def timeline(segments, custody, gaps, stretch=1):
    """One person's tables: the community ``segments`` (days, active, housed, employed) in order,
    with custody block ``k`` (days x ``stretch``, kind) placed before community segment
    ``gaps[k]`` (``len(segments)``: after the last)."""
    spells, t = [], 0.0
    before = {i: [c for c, g in zip(custody, gaps, strict=True) if g == i] for i in range(len(segments) + 1)}
    for i in range(len(segments) + 1):
        for days, kind in before[i]:
            spells.append((1, kind, t, t + days * stretch))
            t += days * stretch
        if i < len(segments):
            days, active, housed, employed = segments[i]
            for flag, kind in ((active, N.ACTIVE_USE), (housed, N.HOUSED), (employed, N.EMPLOYED)):
                if flag:
                    spells.append((1, kind, t, t + days))
            t += days
    return frames([], spells, [(1, 0.0, t)]), t


@settings(derandomize=True, database=None, deadline=None, print_blob=False, max_examples=60)
@given(SEGMENTS, CUSTODY, st.data())
def test_moving_custody_days_keeps_the_shares(segments, custody, data):
    gap = st.integers(0, len(segments))
    gaps_a = data.draw(st.lists(gap, min_size=len(custody), max_size=len(custody)))
    gaps_b = data.draw(st.lists(gap, min_size=len(custody), max_size=len(custody)))
    community = sum(s[0] for s in segments)
    (ev, sp_a, pe_a), end_a = timeline(segments, custody, gaps_a)
    (_, sp_b, pe_b), end_b = timeline(segments, custody, gaps_b)
    (_, sp_c, pe_c), end_c = timeline(segments, custody, gaps_b, stretch=3)  # more custody, same community
    assert end_a == end_b
    m_a, m_b, m_c = (metrics(ev, sp, pe, t_end=end) for sp, pe, end in
                     ((sp_a, pe_a, end_a), (sp_b, pe_b, end_b), (sp_c, pe_c, end_c)))
    for k, i in zip(N.SHARE_METRICS, (1, 2, 3), strict=True):
        expected = sum(s[0] for s in segments if s[i]) / community
        assert m_a[k] == pytest.approx(expected) and m_b[k] == pytest.approx(expected)
        assert m_c[k] == pytest.approx(expected)
    assert m_a["community_days_per_person_year"] == pytest.approx(m_b["community_days_per_person_year"])
    # undiscounted, moving custody changes no outcome total; more custody (same share) scales them
    # with the person-time
    out_a, out_b = outcome_totals(ev, sp_a, pe_a, 0.0, end_a), outcome_totals(ev, sp_b, pe_b, 0.0, end_b)
    out_c = outcome_totals(ev, sp_c, pe_c, 0.0, end_c)
    for k in ("active_use_years", "housed_days", "jail_days"):
        assert out_a[k] == pytest.approx(out_b[k])
    for k in ("active_use_years", "housed_days"):
        assert out_c[k] / end_c == pytest.approx(out_a[k] / end_a)


# ---- a simulated run ----------------------------------------------------------------------------------------------


def test_simulated_arms_share_person_time_and_count_use_at_the_community_rate(tiny_path):
    """tests/scenarios/tiny.yaml: two people always in active use who never leave. In every arm
    every community day is one of active use (share 1), community + custody days = days present,
    and at the community-day rate the active-use years equal the person-years, the same in every
    arm (entry and exit do not depend on the arm), whatever the days spent in jail."""
    from lead_sim.model.engine import simulate
    from lead_sim.outcomes.metrics import spell_days
    from tests.conftest import load_arms

    arms = load_arms(tiny_path)
    sims = {name: simulate(sc, 0) for name, sc in arms.items()}
    base = next(iter(sims.values()))
    for name, sim in sims.items():
        pd.testing.assert_frame_equal(sim.people[["person_id", "entry_day", "exit_day"]],
                                      base.people[["person_id", "entry_day", "exit_day"]], obj=name)
        m = metrics(sim.events, sim.spells, sim.people, t_end=sim.t_end)
        present, community = community_time(sim.people, sim.spells, sim.t_end)
        custody = spell_days(sim.spells, N.JAIL, sim.t_end) + spell_days(sim.spells, N.PRISON, sim.t_end)
        assert community + custody == pytest.approx(present) and present == pytest.approx(m["person_years"] * Y)
        assert m["share_of_community_days_active_use"] == pytest.approx(1.0), name
        assert m["share_of_community_days_housed"] == 0.0 and m["share_of_community_days_employed"] == 0.0
        out = outcome_totals(sim.events, sim.spells, sim.people, 0.0, sim.t_end)
        assert out["active_use_years"] == pytest.approx(m["person_years"]), name
