"""Whole-group totals and differences per LEAD participant, on hand-made tables.

A participant is a person enrolled in LEAD at least once in the analysis period; the difference
per participant is (arm - comparator) in a whole-group total, averaged over replications, divided
by the arm's mean number of participants (per enrolled person-year: by its mean years enrolled).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import stdtrit

from lead_sim import names as N
from lead_sim.outcomes.costing import TOTALS_COLUMNS
from lead_sim.outcomes.metrics import (
    WHOLE_GROUP_METRICS,
    arm_metrics,
    lead_participants,
    metric_names,
    per_participant_differences,
)
from lead_sim.runs.experiment import compare, run_experiment
from lead_sim.scenario.loading import load
from tests.conftest import SCENARIOS

Y = N.DAYS_PER_YEAR
NO_COSTS = SimpleNamespace(costs=SimpleNamespace(agencies=(), payers=()))
NO_LINES = pd.DataFrame({c: pd.Series(dtype=float if c == "usd_discounted" else object) for c in TOTALS_COLUMNS})


def spells(rows):
    return pd.DataFrame(rows, columns=list(N.SPELL_COLUMNS)).astype({"kind": "category"})


# ---- counting participants ----------------------------------------------------------------------------


def test_lead_participants_by_hand():
    sp = spells([
        (1, N.LEAD_ENROLLED, -50.0, 20.0),      # enrolled before the window, still enrolled in it: counts
        (1, N.LEAD_ENROLLED, 300.0, 400.0),     # the same person again: counted once
        (2, N.LEAD_ENROLLED, 1000.0, 1100.0),   # after the window [0, 1000): not a participant
        (3, N.LEAD_ENROLLED, 500.0, 500.0),     # no time enrolled: not a participant
        (4, N.LEAD_ENROLLED, 900.0, 1500.0),    # enrolled in the window's last 100 days: counts
        (5, N.JAIL, 0.0, 10.0),                 # another kind of spell
    ])
    assert lead_participants(sp, 1000.0) == 2


def test_whole_group_metrics_by_hand():
    """Two people in [0, 1000): person 1 present the whole window, person 2 from 200 to 700.
    Jail 100 days in the window, prison 200: 1200 community days of 1500 present; active use 650
    days, so 650/1200 of community days and 812.5 days at the community-day rate; one re-arrest
    (person 1's arrest on day 100 after their first on day 10); person 1 enrolled in LEAD from
    day 600 on (400 days in the window), person 2 never."""
    ev = pd.DataFrame([(1, 10.0, N.ARREST, "new_offense"), (1, 10.0, N.BOOKING, ""),
                       (1, 100.0, N.ARREST, "new_offense"), (2, 1200.0, N.ARREST, "new_offense")],
                      columns=list(N.EVENT_COLUMNS)).astype({"event": "category", "detail": "category"})
    sp = spells([(1, N.JAIL, -10.0, 50.0), (1, N.ACTIVE_USE, 50.0, 300.0), (1, N.PRISON, 300.0, 500.0),
                 (1, N.ACTIVE_USE, 500.0, 700.0), (1, N.LEAD_ENROLLED, 600.0, 1400.0),
                 (2, N.ACTIVE_USE, 200.0, 400.0), (2, N.JAIL, 400.0, 450.0)])
    pe = pd.DataFrame([(1, -100.0, 2000.0), (2, 200.0, 700.0)], columns=["person_id", "entry_day", "exit_day"])
    m = arm_metrics(ev, sp, pe, NO_COSTS, 1000.0, lines=NO_LINES)
    assert m["lead_participants"] == 1
    assert m["lead_participant_years"] == pytest.approx(400 / Y)
    assert m["rearrests_in_period"] == 1  # the arrest on day 1200 is outside the window
    assert m["jail_days_in_period"] == pytest.approx(100.0)
    assert m["active_use_days_in_period"] == pytest.approx(650 / 1200 * 1500)  # 812.5, not the 650 plain days
    assert m["cost_total_usd"] == 0.0
    names = metric_names(NO_COSTS)
    assert names[-len(WHOLE_GROUP_METRICS):] == list(WHOLE_GROUP_METRICS), "the totals come last, in print order"


def test_cost_totals_are_per_person_costs_times_people():
    arms = load(SCENARIOS / "demo.yaml", ["population.initial_people=200", "population.arrivals_per_year=40",
                                          "run.end_date=2020-06-30"]).arms
    res = run_experiment({"lead_pilot": arms["lead_pilot"]}, 1, jobs=1, keep_tables="none")
    m = res.metrics.set_index("metric")["value"]
    assert m["cost_total_usd"] == pytest.approx(m["cost_total_per_person_usd"] * m["people"], rel=1e-12)
    payers = list(arms["lead_pilot"].costs.payers)
    for p in payers:
        assert m[f"cost_payer_{p}_usd"] == pytest.approx(m[f"cost_payer_{p}_per_person_usd"] * m["people"], rel=1e-12)
    assert sum(m[f"cost_payer_{p}_usd"] for p in payers) == pytest.approx(m["cost_total_usd"], rel=1e-12)
    assert m["lead_participants"] <= m["lead_enrolled"], "a person enrolled twice is one participant, two intakes"
    assert m["lead_participant_years"] == pytest.approx(m["lead_participant_months"] / 12)


# ---- differences per participant --------------------------------------------------------------------------


def long(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """(arm, metric) -> one value per replication, as metrics.csv holds them."""
    return pd.DataFrame([(arm, r, metric, v) for (arm, metric), vs in values.items() for r, v in enumerate(vs)],
                        columns=["arm", "replication", "metric", "value"])


def test_per_participant_with_a_fixed_divisor_by_hand():
    """Differences in total cost 60, 60, 70 (mean 63.33); 2 participants in every replication:
    31.67 per participant, and the interval is the t-interval of the differences halved:
    sd 5.774, se 3.333, t(2) 4.303 -> 63.33 +- 14.34 -> (24.50, 38.84) per participant."""
    m = long({("A", "cost_total_usd"): [100, 110, 120], ("B", "cost_total_usd"): [160, 170, 190],
              ("A", "cost_payer_city_usd"): [50, 50, 50], ("B", "cost_payer_city_usd"): [40, 40, 40],
              ("A", "lead_participants"): [0, 0, 0], ("B", "lead_participants"): [2, 2, 2],
              ("A", "lead_participant_years"): [0, 0, 0], ("B", "lead_participant_years"): [0.5, 0.5, 0.5]})
    d = per_participant_differences(m, "A").set_index("metric")
    r = d.loc["cost_total_per_participant_usd"]
    assert r["arm"] == "B" and r["comparator"] == "A"
    assert math.isnan(r["comparator_mean"]) and math.isnan(r["arm_mean"]), "no value for one arm alone"
    assert r["difference"] == pytest.approx(190 / 6)
    half = stdtrit(2, 0.975) * np.std([60, 60, 70], ddof=1) / math.sqrt(3)
    assert half == pytest.approx(14.342, abs=1e-3)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(((190 / 3 - half) / 2, (190 / 3 + half) / 2))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((24.50, 38.84), abs=0.01)
    assert d.loc["cost_total_per_participant_year_usd", "difference"] == pytest.approx(190 / 3 / 0.5)
    c = d.loc["cost_payer_city_per_participant_usd"]
    assert c["difference"] == pytest.approx(-5.0) and c["ci_low"] == pytest.approx(-5.0), "no noise: no width"
    assert "rearrests_per_participant" not in d.index, "a ratio whose total is not in the table is left out"


def test_per_participant_with_a_varying_divisor_is_a_ratio_of_means_with_fiellers_interval():
    """Participants 8, 10, 12 (mean 10); differences in jail days -70, -110, -120 (mean -100):
    -10 per participant. At each end R of Fieller's interval the paired values diff - R * participants
    have a t statistic of exactly -+t(2, 0.975)."""
    diffs, part = np.array([-70.0, -110.0, -120.0]), np.array([8.0, 10.0, 12.0])
    m = long({("A", "jail_days_in_period"): [500, 500, 500], ("B", "jail_days_in_period"): list(500 + diffs),
              ("A", "lead_participants"): [0, 0, 0], ("B", "lead_participants"): list(part),
              ("C", "jail_days_in_period"): [400, 450, 500], ("C", "lead_participants"): [0, 0, 0]})
    d = per_participant_differences(m, "A").set_index(["metric", "arm"])
    r = d.loc[("jail_days_per_participant", "B")]
    assert r["difference"] == pytest.approx(-10.0)
    t = stdtrit(2, 0.975)
    for end, sign in ((r["ci_low"], -1), (r["ci_high"], 1)):
        v = diffs - end * part
        assert v.mean() / (v.std(ddof=1) / math.sqrt(3)) == pytest.approx(-sign * t, rel=1e-9)
    assert r["ci_low"] < -10 < r["ci_high"]
    assert d.loc[("jail_days_per_participant", "C")][["difference", "ci_low", "ci_high"]].isna().all(), \
        "an arm with no participants has no difference per participant"


def test_compare_appends_the_per_participant_rows():
    m = long({("A", "cost_total_usd"): [100, 110], ("B", "cost_total_usd"): [160, 170],
              ("A", "lead_participants"): [0, 0], ("B", "lead_participants"): [3, 3]})
    c = compare(m, "A")
    assert list(c["metric"]) == ["cost_total_usd", "lead_participants", "cost_total_per_participant_usd"]
    assert c.iloc[-1]["difference"] == pytest.approx(20.0)
