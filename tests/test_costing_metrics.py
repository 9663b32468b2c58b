"""Costing and metrics on hand-made tables with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lead_sim import names as N
from lead_sim.outcomes.costing import COST_COLUMNS, TOTALS_COLUMNS, cost_by_agency, cost_lines, discounted_days
from lead_sim.outcomes.metrics import arm_metrics, exposure, rearrest
from lead_sim.outcomes.survival import kaplan_meier_failure
from tests.conftest import SCENARIOS, load_arms


@pytest.fixture(scope="module")
def scenario():
    """The pilot priced at average (fully loaded) unit costs, the program all in (by-hand figures
    below; tests/test_program_costs.py prices both lenses and both program forms)."""
    return load_arms(SCENARIOS / "denver_pilot.yaml", ["costs.lens=average", "costs.program.form=all_in"])["lead_continued"]


def frames(events, spells):
    ev = pd.DataFrame(events, columns=list(N.EVENT_COLUMNS)).astype({"event": "category", "detail": "category"})
    sp = pd.DataFrame(spells, columns=list(N.SPELL_COLUMNS)).astype({"kind": "category"})
    return ev, sp


def test_discounted_days_exact_integral():
    assert discounted_days([0.0], [365.25], 0.0)[0] == pytest.approx(365.25)
    # integral of (1.03)^(-t/365.25) over one year
    delta = math.log(1.03) / 365.25
    assert discounted_days([0.0], [365.25], 0.03)[0] == pytest.approx((1 - 1 / 1.03) / delta)
    t = np.linspace(100, 500, 400_001)
    numeric = np.trapezoid(1.03 ** (-t / 365.25), t)
    assert discounted_days([100.0], [500.0], 0.03)[0] == pytest.approx(numeric, rel=1e-9)


def test_cost_lines_by_hand(scenario):
    t_end = 1000.0
    ev, sp = frames(
        [
            (1, -5.0, N.ARREST, "new_offense"),  # before the window: not counted
            (1, 0.0, N.ARREST, "new_offense"),
            (1, 0.0, N.BOOKING, ""),
            (1, 365.25, N.CHARGE_FELONY, ""),
            (2, 10.0, N.SERVICE_START, "sud_outpatient"),
            (2, 20.0, N.LEAD_INTAKE, "ARTS"),
            (2, 2000.0, N.ARREST, "new_offense"),  # after the window
        ],
        [
            (1, N.JAIL, -2.0, 3.0),  # 3 days inside the window
            (2, N.LEAD_ENROLLED, 20.0, 20.0 + N.DAYS_PER_MONTH),
            (2, N.SERVICE_PREFIX + "medication_for_oud", 0.0, 365.25),
            (2, N.ACTIVE_USE, 0.0, 100.0),  # not priced
        ],
    )
    lines = cost_lines(ev, sp, scenario.model_copy(update={"run": scenario.run.model_copy(update={"discount_rate_per_year": 0.0})}), t_end)
    by = cost_by_agency(lines, list(scenario.costs.agencies), "usd")
    assert by["police"] == pytest.approx(300)
    assert by["jail"] == pytest.approx(150 + 3 * 85 * 100 / 95)  # $85 of 2017 a day, average
    # the DA's cost is entered as $2,792 in 2007 dollars: x CPI 100 / 81.2 to 2019 dollars
    assert by["district_attorney"] == pytest.approx(2792 * 100 / 81.2) and by["district_court"] == pytest.approx(3440)
    assert by["lead_case_management"] == pytest.approx(591)  # one month all in
    assert by["treatment"] == pytest.approx(2940 + 6370)
    assert sum(by.values()) == pytest.approx(lines["usd"].sum())
    assert (lines["usd"] >= 0).all() and lines["agency"].isin(scenario.costs.agencies).all()
    # discounted: a cost one year in is worth 1/1.03
    disc = cost_lines(ev, sp, scenario, t_end)
    felony = disc[disc["item"] == N.CHARGE_FELONY]
    assert felony["usd_discounted"].sum() == pytest.approx((2792 * 100 / 81.2 + 3440) / 1.03)


def test_kaplan_meier_by_hand():
    # textbook example: times 1,2,2,3(censored),4 -> S(1)=4/5, S(2)=4/5*1/3... computed below
    times = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    observed = np.array([True, True, False, False, True])
    # at t=1: 5 at risk, 1 event -> 0.8; t=2: 4 at risk, 1 event -> 0.6; t=4: 1 at risk, 1 event -> 0
    f = kaplan_meier_failure(times, observed, [0.5, 1.0, 2.5, 4.0, 5.0])
    assert f[:4] == pytest.approx([0.0, 0.2, 0.4, 1.0])
    assert math.isnan(f[4]), "beyond the longest follow-up the estimate is undefined"
    # no censoring: the empirical proportion
    t = np.arange(1, 11, dtype=float)
    assert kaplan_meier_failure(t, np.ones(10, bool), [3.0])[0] == pytest.approx(0.3)


def test_rearrest_index_and_censoring():
    ev, _ = frames(
        [
            (1, 10.0, N.ARREST, "new_offense"),
            (1, 50.0, N.ARREST, "new_offense"),  # re-arrest after 40 days
            (2, 20.0, N.LEAD_REFERRAL, "social_contact"),  # index is a referral; never re-arrested
            (3, -30.0, N.ARREST, "new_offense"),  # index before the window does not count
        ],
        [],
    )
    people = pd.DataFrame({"person_id": [1, 2, 3], "entry_day": [0.0, 0.0, 0.0], "exit_day": [800.0, 700.0, 800.0]})
    r = rearrest(ev, people, t_end=800.0)
    # two indexed people, one re-arrested at day 40 of follow-up, the other censored when leaving
    # 680 days after the index: nobody is followed for the full 24 months
    assert r["p_rearrest_6m"] == pytest.approx(0.5)
    assert r["p_rearrest_12m"] == pytest.approx(0.5)
    assert math.isnan(r["p_rearrest_24m"])


def test_exposure_clips_to_window():
    people = pd.DataFrame({"person_id": [1, 2, 3], "entry_day": [-100.0, 50.0, 400.0], "exit_day": [100.0, 500.0, 900.0]})
    n, py = exposure(people, t_end=365.25)
    assert n == 2 and py == pytest.approx((100 + 315.25) / 365.25)


def test_arm_metrics_cost_total_equals_sum_of_agencies(scenario):
    from lead_sim.model.engine import simulate
    arms = load_arms(SCENARIOS / "demo.yaml", ["population.initial_people=150", "population.arrivals_per_year=30"])
    sc = arms["lead_continued"]
    sim = simulate(sc, 0)
    m = arm_metrics(sim.events, sim.spells, sim.people, sc, sim.t_end)
    agencies = sum(m[f"cost_{a}_per_person_usd"] for a in sc.costs.agencies)
    assert m["cost_total_per_person_usd"] == pytest.approx(agencies, rel=1e-12)
    assert all(m[f"cost_{a}_per_person_usd"] >= 0 for a in sc.costs.agencies)


def merge_cost_lines(events, spells, sc, t_end):
    """The plain pandas formulation of cost_lines (inner merges on strings): the oracle for the
    code-based join, which must give the same rows in the same order."""
    from lead_sim.outcomes.costing import COST_COLUMNS, discount_factor, price_table

    rate = sc.run.discount_rate_per_year
    table = price_table(sc)
    ev_costs, day_costs = table.events, table.spells
    parts = []
    ev = events[(events["day"] >= 0.0) & (events["day"] < t_end)]
    ev = ev.assign(event=ev["event"].astype(str), detail=ev["detail"].astype(str))
    plain = ev_costs[ev_costs["detail"] == ""].drop(columns="detail")
    by_detail = ev_costs[ev_costs["detail"] != ""]
    for m, with_detail in ((ev.merge(plain, on="event", how="inner"), False),
                           (ev.merge(by_detail, on=["event", "detail"], how="inner"), True)):
        m = m[(m["day"] >= m["from_day"]) & (m["day"] < m["to_day"])]  # who pays on the event's day
        if len(m):
            usd, day = m["usd"].to_numpy(dtype=float), m["day"].to_numpy(dtype=float)
            item = (m["event"] + ":" + m["detail"]) if with_detail else m["event"]
            parts.append(pd.DataFrame({"person_id": m["person_id"].to_numpy(), "item": item.to_numpy(),
                                       "agency": m["agency"].to_numpy(), "day": day, "end_day": day, "usd": usd,
                                       "usd_discounted": usd * discount_factor(day, rate)}))
    sp = spells.assign(kind=spells["kind"].astype(str)).merge(day_costs, on="kind", how="inner")
    a = np.maximum(sp["start_day"].clip(lower=0.0, upper=t_end).to_numpy(), sp["from_day"].to_numpy())
    b = np.minimum(sp["end_day"].clip(lower=0.0, upper=t_end).to_numpy(), sp["to_day"].to_numpy())
    keep = b > a
    per_day = sp["usd_per_day"].to_numpy(dtype=float)[keep]
    parts.append(pd.DataFrame({"person_id": sp["person_id"].to_numpy()[keep], "item": sp["kind"].to_numpy()[keep],
                               "agency": sp["agency"].to_numpy()[keep], "day": a[keep], "end_day": b[keep],
                               "usd": per_day * (b[keep] - a[keep]),
                               "usd_discounted": per_day * discounted_days(a[keep], b[keep], rate)}))
    out = pd.concat(parts, ignore_index=True)
    out["payer"] = out["agency"].map(sc.costs.payer_of())
    return out[COST_COLUMNS]


@pytest.mark.parametrize("arm", ["usual_processing", "lead_continued"])
def test_cost_lines_equal_the_merge_formulation(arm):
    from lead_sim.model.engine import simulate

    # victim costs by offense put detail-keyed lines next to the plain ones and the services'
    # (all in: the staffing form adds the program's own lines, which are not joined from the log)
    sc = load_arms(SCENARIOS / "demo.yaml", ["costs.program.form=all_in", "costs.victim_cost_per_offense.possession=7",
                                             "costs.victim_cost_per_offense.prostitution=11",
                                             "population.initial_people=300"])[arm]
    sim = simulate(sc, 1)
    got = cost_lines(sim.events, sim.spells, sc, sim.t_end)
    assert got["item"].str.contains(":").any() and (got["end_day"] > got["day"]).any()
    # text columns are categoricals of the values used, in sorted order; as strings, the oracle
    for c in ("item", "agency", "payer"):
        cats = list(got[c].cat.categories)
        assert cats == sorted(cats) and set(cats) == set(got[c].dropna())
    text = {c: "str" for c in ("item", "agency", "payer")}
    pd.testing.assert_frame_equal(got.astype(text), merge_cost_lines(sim.events, sim.spells, sc, sim.t_end),
                                  check_exact=True)
    # plain string columns (hand-made tables) are joined the same way as categoricals
    plain = (sim.events.astype({"event": str, "detail": str}), sim.spells.astype({"kind": str}))
    pd.testing.assert_frame_equal(cost_lines(*plain, sc, sim.t_end), got, check_exact=True)
    # a subset of the columns: the same rows and values, the columns in COST_COLUMNS order
    for columns in (TOTALS_COLUMNS, ("person_id", "usd_discounted", "agency", "payer"), ("item", "day"), ("usd",)):
        some = cost_lines(sim.events, sim.spells, sc, sim.t_end, columns=columns)
        want = [c for c in COST_COLUMNS if c in columns]
        assert list(some.columns) == want
        pd.testing.assert_frame_equal(some, got[want], check_exact=True)
    # metrics from the lean lines (their default) equal those from the full ones, to the last bit
    pd.testing.assert_series_equal(pd.Series(arm_metrics(sim.events, sim.spells, sim.people, sc, sim.t_end)),
                                   pd.Series(arm_metrics(sim.events, sim.spells, sim.people, sc, sim.t_end, lines=got)),
                                   check_exact=True)
    with pytest.raises(ValueError, match="unknown columns"):
        cost_lines(sim.events, sim.spells, sc, sim.t_end, columns=("usd", "dollars"))
