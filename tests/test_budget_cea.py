"""Budget and cost-effectiveness: price years, fiscal-year splits, dominance, break-even, totals."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim import names as N
from lead_sim.analysis import breakeven as BE
from lead_sim.analysis import budget as B
from lead_sim.analysis import cea as C
from lead_sim.cli.main import main
from lead_sim.model.engine import simulate
from lead_sim.outcomes.costing import cost_lines, discounted_days, fiscal_year_of, split_periods, to_price_year
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import ScenarioError, load, with_value
from lead_sim.scenario.schema import PricedUSD
from lead_sim.stats import ratio_ci
from tests.conftest import SCENARIOS, SMALL, load_arms

DEMO = SCENARIOS / "demo.yaml"


@pytest.fixture(scope="module")
def pilot():
    return load_arms(SCENARIOS / "denver_pilot.yaml")["lead_continued"]


# ---- price years and discounting -------------------------------------------------------------------


def test_price_year_conversion_by_hand(pilot):
    # CPI (2019 = 100): 2015 = 90.0, so $54 of 2015 is $60 of 2019
    assert to_price_year(PricedUSD(usd=54, price_year=2015), pilot) == pytest.approx(60.0)
    assert to_price_year(PricedUSD(usd=2792, price_year=2007), pilot) == pytest.approx(2792 * 100 / 81.2)
    assert to_price_year(75.0, pilot) == 75.0
    assert to_price_year(100.0, pilot, year=2022) == pytest.approx(100 * 100 / 114.7)


def test_changing_price_year_rescales_every_cost(pilot):
    """The same scenario priced in 2022 dollars costs CPI(2022)/CPI(2019) times as much, line by
    line: costs entered in other years' dollars and the plain numbers (2019 dollars:
    costs.default_price_year) are all converted."""
    sim = simulate(load_arms(DEMO, SMALL)["lead_continued"], 0)
    sc19 = load_arms(DEMO, SMALL)["lead_continued"]
    assert sc19.costs.default_price_year == 2019
    lines19 = cost_lines(sim.events, sim.spells, sc19, sim.t_end)
    lines22 = cost_lines(sim.events, sim.spells, with_value(sc19, "run.price_year", 2022), sim.t_end)
    assert len(lines19) == len(lines22) and (lines19["usd"] > 0).any()
    np.testing.assert_allclose(lines22["usd"], lines19["usd"] * (114.7 / 100.0), rtol=1e-12)


def test_without_default_price_year_plain_numbers_are_in_the_run_price_year(pilot):
    """costs.default_price_year null: a plain number is read in run.price_year dollars, so changing
    the price year converts only the costs entered as {usd, price_year}."""
    sim = simulate(load_arms(DEMO, SMALL)["lead_continued"], 0)
    sc19 = with_value(load_arms(DEMO, SMALL)["lead_continued"], "costs.default_price_year", None)
    lines19 = cost_lines(sim.events, sim.spells, sc19, sim.t_end)
    lines22 = cost_lines(sim.events, sim.spells, with_value(sc19, "run.price_year", 2022), sim.t_end)
    priced = lines19["item"].isin([N.CHARGE_FELONY, N.PUBLIC_DEFENSE, N.JAIL]) & lines19["agency"].isin(
        ["district_attorney", "public_defender", "jail"])
    ratio = lines22.loc[priced, "usd"].sum() / lines19.loc[priced, "usd"].sum()
    assert ratio == pytest.approx(114.7 / 100.0), f"entered-year costs should scale by the CPI ratio; found {ratio}"
    assert lines22.loc[~priced, "usd"].sum() == pytest.approx(lines19.loc[~priced, "usd"].sum())


def test_price_year_without_a_cpi_entry_is_a_clear_error():
    with pytest.raises(ScenarioError) as info:
        load(DEMO, ["run.price_year=2020"])
    line = info.value.problems[0]
    assert line.startswith("--set: run.price_year: costs.cpi has no 2020, needed to convert costs.default_price_year"), line


def test_discount_rate_zero_and_positive_by_hand():
    assert discounted_days([0.0], [730.5], 0.0)[0] == pytest.approx(730.5)
    delta = math.log(1.07) / 365.25
    assert discounted_days([365.25], [730.5], 0.07)[0] == pytest.approx((math.exp(-delta * 365.25) - math.exp(-delta * 730.5)) / delta)


# ---- fiscal years -------------------------------------------------------------------------------------


def test_fiscal_year_names():
    assert fiscal_year_of(dt.date(2019, 6, 30), 7) == 2019
    assert fiscal_year_of(dt.date(2019, 7, 1), 7) == 2020
    assert fiscal_year_of(dt.date(2019, 12, 31), 1) == 2019
    assert fiscal_year_of(dt.date(2019, 10, 1), 10) == 2020


def test_spell_crossing_a_fiscal_year_is_split(pilot):
    origin = pilot.run.start_date  # 2019-01-22
    start = (dt.date(2019, 6, 20) - origin).days
    cut = (dt.date(2019, 7, 1) - origin).days
    end = (dt.date(2019, 7, 10) - origin).days
    lines = pd.DataFrame({
        "person_id": [1, 1], "item": [N.PRISON, N.JAIL], "agency": ["state_prison", "jail"],
        "payer": ["state_of_colorado", "city_and_county_of_denver"],
        "day": [float(start)] * 2, "end_day": [float(end)] * 2, "usd": [100.0 * (end - start), 60.0 * (end - start)],
        "usd_discounted": [100.0 * discounted_days([start], [end], 0.03)[0], 60.0 * discounted_days([start], [end], 0.03)[0]],
    })
    fy = split_periods(lines, pilot, t_end=2000.0, period="fiscal_year")
    state = fy[fy.payer == "state_of_colorado"].set_index("period")
    # the state's fiscal year starts 1 July: 11 days in FY2019, 9 days in FY2020
    assert state.loc[2019, "usd"] == pytest.approx(100.0 * (cut - start))
    assert state.loc[2020, "usd"] == pytest.approx(100.0 * (end - cut))
    assert state.loc[2019, "usd_discounted"] == pytest.approx(100.0 * discounted_days([start], [cut], 0.03)[0])
    city = fy[fy.payer == "city_and_county_of_denver"]
    assert list(city.period) == [2019] and city.usd.iloc[0] == pytest.approx(60.0 * (end - start))
    assert fy.usd.sum() == pytest.approx(lines.usd.sum()) and fy.usd_discounted.sum() == pytest.approx(lines.usd_discounted.sum())


# ---- totals add up -----------------------------------------------------------------------------------


def test_payer_totals_add_up_to_the_grand_total():
    arms = load_arms(DEMO, SMALL)
    res = run_experiment(arms, 2, jobs=1, keep_tables="none", analyses=("budget", "cea"))
    m = res.metrics.pivot_table(index=["arm", "replication"], columns="metric", values="value")
    payers = [c for c in m.columns if c.startswith("cost_payer_") and c.endswith("_per_person_usd")]
    agencies = [f"cost_{a}_per_person_usd" for a in arms["usual_processing"].costs.agencies]
    assert np.allclose(m[payers].sum(axis=1), m["cost_total_per_person_usd"], rtol=1e-12, atol=1e-9)
    assert np.allclose(m[agencies].sum(axis=1), m["cost_total_per_person_usd"], rtol=1e-12, atol=1e-9)
    for (arm, rep), fy in res.extras["fiscal_year"].items():
        total = res.extras["cea"][(arm, rep)]["cost_total_usd"].iloc[0]
        assert fy["usd_discounted"].sum() == pytest.approx(total, rel=1e-12), f"{arm} rep {rep}: fiscal years vs total"
        cal = res.extras["calendar_year"][(arm, rep)]
        assert cal["usd"].sum() == pytest.approx(fy["usd"].sum(), rel=1e-12)


def test_jail_savings_by_hand(pilot):
    """Two fiscal years, two replications: 64 fewer beds for a whole year closes one housing unit.
    The bundled jail day: average 85 USD of 2017 = 89.47 USD of 2019, marginal 54 USD of 2015 =
    60 USD of 2019 (what one bed-day saves at once); a housing unit of 64 beds."""
    def fy(bed_days_2019, bed_days_2020):
        return pd.DataFrame({"fiscal_year": [2019, 2020], "bed_days": [bed_days_2019, bed_days_2020],
                             "days_in_window": [100.0, 366.0]})
    per_task = {("usual_processing", 0): fy(1000.0, 40000.0), ("lead_pilot", 0): fy(900.0, 40000.0 - 64 * 366),
                ("usual_processing", 1): fy(1000.0, 40000.0), ("lead_pilot", 1): fy(700.0, 40000.0 - 64 * 366)}
    j = B.jail_savings(per_task, pilot, "usual_processing").set_index("fiscal_year")
    jc = pilot.costs.jail_capacity
    average, marginal = 85 * 100 / 95, 54 * 100 / 90
    assert j.loc[2019, "average_usd_per_bed_day"] == pytest.approx(average)
    assert j.loc[2019, "marginal_usd_per_bed_day"] == pytest.approx(marginal)
    assert j.loc[2019, "adp_difference"] == pytest.approx(-2.0)  # -100 and -300 bed-days over 100 days
    assert j.loc[2019, "short_run_saving_usd"] == pytest.approx(marginal * 200)
    assert j.loc[2019, "average_cost_saving_usd"] == pytest.approx(average * 200)
    assert j.loc[2019, "long_run_saving_usd"] == pytest.approx(marginal * 200), "2 beds fewer close no unit"
    assert j.loc[2020, "housing_units_closed_mean"] == 1
    unit = to_price_year(jc.unit_usd_per_year, pilot)
    assert j.loc[2020, "long_run_saving_usd"] == pytest.approx(marginal * 64 * 366 + unit * 366 / 365.25)


def test_the_short_run_jail_saving_is_what_the_cost_tables_price_under_the_marginal_lens(pilot):
    """One jail-day unit cost, read in each lens: the budget's short-run saving per bed-day equals
    the price the cost tables use under the marginal lens; the average saving, under the average lens."""
    from lead_sim.outcomes.costing import price_table
    per_task = {("usual_processing", 0): pd.DataFrame({"fiscal_year": [2019], "bed_days": [10.0], "days_in_window": [100.0]}),
                ("lead_pilot", 0): pd.DataFrame({"fiscal_year": [2019], "bed_days": [9.0], "days_in_window": [100.0]})}
    j = B.jail_savings(per_task, pilot, "usual_processing").iloc[0]
    for lens, column in (("marginal", "short_run_saving_usd"), ("average", "average_cost_saving_usd")):
        days = price_table(with_value(pilot, "costs.lens", lens)).spells.set_index("kind")
        assert j[column] == pytest.approx(float(days.loc[N.JAIL, "usd_per_day"])), lens


# ---- ICERs and dominance --------------------------------------------------------------------------------


def test_frontier_reproduces_the_herc_worked_example():
    """VA Health Economics Resource Center worked example (also dampack's test): C is excluded by
    extended dominance, A is dominated, and the frontier ICERs are 5,000, 12,500 and 20,000."""
    names = ["E", "D", "C", "B", "A", "UC"]
    f = C.frontier(names, [55000, 35000, 25000, 10000, 12000, 5000], [5, 4, 3, 2, 1.5, 1]).set_index("option")
    assert f.loc["A", "status"] == C.DOMINATED
    assert f.loc["C", "status"] == C.EXTENDED
    assert list(f[f.status == C.ND].index) == ["UC", "B", "D", "E"]
    assert f.loc[["B", "D", "E"], "icer"].tolist() == [5000, 12500, 20000]
    assert math.isnan(f.loc["UC", "icer"])


def test_incremental_table_dominance_and_net_benefit():
    totals = pd.DataFrame({
        "arm": ["base", "new", "base", "new"], "replication": [0, 0, 1, 1],
        "cost_total_usd": [100.0, 150.0, 110.0, 170.0],
        "rearrests": [10.0, 8.0, 12.0, 9.0], "bookings": [10.0, 10.0, 10.0, 10.0], "jail_days": [5.0, 6.0, 5.0, 6.0],
        "active_use_years": [1.0, 1.0, 1.0, 1.0], "housed_days": [0.0, 10.0, 0.0, 20.0],
    })
    t = C.incremental_table(totals, "base", [0.0, 40.0]).set_index("outcome")
    # cost +55 on average; 2.5 re-arrests averted -> 22 USD per re-arrest averted
    assert t.loc["rearrests", "incremental_cost_usd"] == pytest.approx(55.0)
    assert t.loc["rearrests", "icer_usd_per_unit"] == pytest.approx(22.0)
    assert t.loc["rearrests", "nmb_at_40"] == pytest.approx(40 * 2.5 - 55)
    assert t.loc["jail_days", "verdict"].startswith("dominated")
    assert t.loc["housed_days", "incremental_effect"] == pytest.approx(15.0)


def _inside_by_t_test(x, y, r: float) -> bool:
    """Fieller's interval by its definition: R is inside when the paired t-test of x - R y keeps 0."""
    from scipy import stats

    d = np.asarray(x) - r * np.asarray(y)
    return abs(d.mean()) <= stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))


@pytest.mark.parametrize("seed", range(5))
def test_icer_interval_is_fiellers_set_found_by_inverting_the_t_test(seed):
    rng = np.random.default_rng(seed)
    eff = rng.normal(3.0, 1.0, 12)
    cost = 800.0 * eff + rng.normal(400.0, 600.0, 12)
    lo, hi = ratio_ci(cost, eff)
    assert lo < cost.mean() / eff.mean() < hi
    for r, inside in ((lo * (1 + 1e-9), True), (hi * (1 - 1e-9), True), (lo - 1e-6 * abs(lo) - 1e-3, False),
                      (hi + 1e-6 * abs(hi) + 1e-3, False), ((lo + hi) / 2, True)):
        assert _inside_by_t_test(cost, eff, r) == inside, f"R={r}: expected inside={inside} for the interval [{lo}, {hi}]"


def test_icer_interval_limits():
    assert ratio_ci([2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0, 4.0 + 1e-12])[0] == pytest.approx(2.0)  # cost = 2 x effect
    assert all(math.isnan(v) for v in ratio_ci([1.0, 2.0, 3.0], [0.5, -0.4, 0.2])), "effect not different from 0"
    assert all(math.isnan(v) for v in ratio_ci([1.0], [1.0])), "one replication: no interval"


def test_icer_interval_covers_the_true_ratio_95_percent_of_the_time():
    """2,000 samples of 10 correlated (cost, effect) pairs with ratio of means 500: Fieller's
    interval is exact for normal data, so coverage is 95% within binomial error (3 sd: 1.5 points)."""
    rng = np.random.default_rng(20261203)
    hits = 0
    n_sets = 2000
    for _ in range(n_sets):
        eff = rng.normal(2.0, 0.8, 10)
        cost = 1000.0 + 0.6 * 400.0 * (eff - 2.0) / 0.8 + rng.normal(0.0, 400.0 * 0.8, 10)
        lo, hi = ratio_ci(cost, eff)
        hits += bool(lo <= 500.0 <= hi)
    coverage = hits / n_sets
    assert abs(coverage - 0.95) < 3 * math.sqrt(0.95 * 0.05 / n_sets), f"coverage {coverage:.3f}"


def test_incremental_table_states_the_icer_interval():
    totals = pd.DataFrame({
        "arm": ["base", "new"] * 4, "replication": [0, 0, 1, 1, 2, 2, 3, 3],
        "cost_total_usd": [100.0, 150.0, 110.0, 170.0, 100.0, 148.0, 105.0, 160.0],
        "rearrests": [10.0, 8.0, 12.0, 9.0, 11.0, 9.0, 10.0, 7.5], "bookings": [10.0] * 8, "jail_days": [5.0, 6.0] * 4,
        "active_use_years": [1.0, 1.1, 1.0, 0.8, 1.0, 1.05, 1.0, 0.9],
        "housed_days": [0.0, 10.0, 0.0, 20.0, 0.0, 10.0, 0.0, 11.0],
    })
    t = C.incremental_table(totals, "base", [40.0]).set_index("outcome")
    lo, hi = ratio_ci([50.0, 60.0, 48.0, 55.0], [2.0, 3.0, 2.0, 2.5])
    assert (t.loc["rearrests", "icer_ci_low"], t.loc["rearrests", "icer_ci_high"]) == (lo, hi)
    assert t.loc["rearrests", "verdict"].endswith(f"(95% interval {lo:,.0f} to {hi:,.0f})")
    assert t.loc["bookings", "verdict"] == "dominated (costs more, no improvement)", "no booking averted in any replication"
    shaky = totals.copy()
    shaky.loc[5, "jail_days"] = 4.0  # replication 2: one jail day averted, the others one more
    verdict = C.incremental_table(shaky, "base", [40.0]).set_index("outcome").loc["jail_days", "verdict"]
    assert verdict == "dominated (costs more, no improvement; on average only: the intervals allow otherwise)", verdict
    housed = t.loc["housed_days", "verdict"]  # 10, 20, 10 and 11 days gained: clearly more than 0
    assert "(95% interval" in housed and "unbounded" not in housed, housed
    # -0.1, 0.2, -0.05 and 0.1 years averted: more averted on average, but not distinguishable from 0
    use = t.loc["active_use_years"]
    assert use["verdict"].startswith("costs") and "95% interval unbounded" in use["verdict"], use["verdict"]
    assert math.isnan(use["icer_ci_low"]) and math.isnan(use["icer_ci_high"])


# ---- break-even ----------------------------------------------------------------------------------------


def test_program_price_breakeven_is_cost_neutral_when_the_payer_pays_it():
    """At the break-even price per participant-month, a city that pays for case management at
    that price sees no change in its costs: re-simulated (same seeds) and re-priced."""
    arms = load_arms(DEMO, SMALL + ["costs.program.form=all_in"])
    res = run_experiment(arms, 3, jobs=1, keep_tables="none", analyses=("cea",))
    totals = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in res.extras["cea"].items()], ignore_index=True)
    city = "city_and_county_of_denver"
    be = BE.program_price(totals, "lead_continued", "usual_processing", city)
    assert be.value > 0, be.note
    moved = SMALL + [
        "costs.program.form=all_in",
        "costs.payers.city_and_county_of_denver.agencies=[police, jail, city_attorney, district_attorney, county_court, lead_coordination, lead_case_management]",
        "costs.payers.lead_grant.agencies=[job_training]",
        f"costs.program.all_in.usd_per_participant_month={be.value}",
    ]
    arms2 = load(DEMO, moved).arms
    res2 = run_experiment({k: arms2[k] for k in ("usual_processing", "lead_continued")}, 3, jobs=1, keep_tables="none",
                          analyses=("cea",))
    diff = [res2.extras["cea"][("lead_continued", r)][f"cost_payer_{city}_usd"].iloc[0]
            - res2.extras["cea"][("usual_processing", r)][f"cost_payer_{city}_usd"].iloc[0] for r in range(3)]
    scale = abs(totals[f"cost_payer_{city}_usd"]).mean()
    assert abs(np.mean(diff)) < 1e-9 * scale, f"city cost difference at the break-even price: {np.mean(diff)}"


def test_contact_effect_breakeven_matches_a_grid_scan():
    """Brent's search over re-simulations finds the sign change a grid scan finds.

    The program price is chosen from two simulations so that a root exists in (0, 1) whatever
    the model's current numbers: cost differences are linear in the price per participant-month.
    """
    # no services, so no uncertainty about their costs either (uncertain keys must exist)
    setup = SMALL + ["lead.services={}", "behaviour.treatment_entry_rate_per_year=0", "behaviour.treatment_mix={}", "uncertainty=null", "lead.p_divert_if_eligible=1", "lead.p_officer_trained=1",
                     "costs.program.form=all_in", "costs.program.all_in.usd_per_participant_month=0",
                     "costs.program.all_in.includes_services=[]", "costs.program.all_in.billed_separately=[]"]
    arms = load_arms(DEMO, setup)
    reps, arm = 2, "lead_continued"

    def totals(scenarios):
        res = run_experiment(scenarios, reps, jobs=1, keep_tables="none", analyses=("cea",))
        return pd.concat([df.assign(arm=a, replication=r) for (a, r), df in res.extras["cea"].items()], ignore_index=True)

    comp = totals({"usual_processing": arms["usual_processing"]})
    ends = {}
    for rr in (0.0, 1.0):
        t = pd.concat([comp, totals({arm: with_value(arms[arm], "lead.rr_contact_engaged", rr)})], ignore_index=True)
        ends[rr] = (BE._paired(t, arm, "usual_processing", "cost_total_usd").mean(),
                    BE._paired(t, arm, "usual_processing", "participant_months_discounted").mean())
    (a0, m0), (a1, m1) = ends[0.0], ends[1.0]
    price = ((-a1 / m1) + (-a0 / m0)) / 2  # f(0) < 0 < f(1) at this price (more contacts cost more)
    assert -a1 / m1 < price < -a0 / m0, f"no price gives a root in (0, 1): {ends}"
    priced = with_value(arms[arm], "costs.program.all_in.usd_per_participant_month", price)
    seen: dict[float, float] = {}
    be = BE.contact_effect(priced, comp, arm, reps, 1, xtol=0.01, progress=lambda x, v: seen.__setitem__(x, v))
    assert not math.isnan(be.value), f"expected a break-even in [0, 1] at {price:.0f} USD a month; {be.note}"
    grid = sorted(seen.items())
    below = [x for x, v in grid if v <= 0 and x <= be.value + 1e-9]
    above = [x for x, v in grid if v > 0 and x >= be.value - 1e-9]
    assert below and above, f"root {be.value} not bracketed by evaluated points {grid}"
    assert max(below) <= be.value <= min(above) and min(above) - max(below) <= 0.02


# ---- bad settings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("override", "fragment"), [
    ("costs.payers.society.agencies=[]", "costs.payers.society.agencies: expected a list with at least 1 item"),
    ("costs.payers.society.agencies=[nobody]", "costs.payers.society.agencies: expected agencies listed in costs.agencies"),
    ("costs.payers.society={agencies: [police]}", "costs.payers.society.agencies: agency 'police' already belongs"),
    ("costs.payers={city: {agencies: [police, jail]}}", "costs.payers: every agency needs a payer"),
    ("costs.payers.society.fiscal_year_start_month=13", "costs.payers.society.fiscal_year_start_month: expected less than or equal to 12"),
    ("costs.payers.society.fiscal_year_start_month=0", "costs.payers.society.fiscal_year_start_month: expected greater than or equal to 1"),
    ("costs.per_day.jail.jail.marginal={usd: 54, price_year: 2014}", "costs.per_day.jail.jail: entered in 2014 dollars, so costs.cpi needs the year 2014"),
    ("lead.grant_payer=nobody", "lead.grant_payer: expected one of costs.payers"),
])
def test_bad_budget_settings_name_the_key(override, fragment):
    with pytest.raises(ScenarioError) as info:
        load(DEMO, [override])
    assert any(p.startswith("--set: ") and fragment in p for p in info.value.problems), (
        f"expected a line '--set: ...{fragment}...'; found {info.value.problems}"
    )


# ---- command line --------------------------------------------------------------------------------------------


def test_budget_command_writes_budget_csv(tmp_path):
    args = ["budget", str(DEMO), "--reps", "2", "--jobs", "1", "--out", str(tmp_path), "--keep-events", "none", *sum((["--set", s] for s in SMALL), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "Cost by payer and fiscal year" in r.output and "grant" in r.output
    folder = next((tmp_path / "demo").iterdir())
    budget = pd.read_csv(folder / "budget.csv")
    assert list(budget.columns[:8]) == ["fiscal_year", "payer", "agency", "arm", "cost_undiscounted_usd", "cost_discounted_usd",
                                        "ci_low", "ci_high"]
    for name in ("budget_differences.csv", "grant.csv", "grant_monthly.csv", "jail_savings.csv", "funding_need.csv"):
        assert (folder / name).exists(), name


def test_grant_spending_is_counted_to_the_run_end_when_the_run_ends_before_the_pilot(tmp_path):
    short = [*SMALL, "run.end_date=2019-12-31"]  # the pilot runs to 2020-12-31
    args = ["budget", str(DEMO), "--reps", "2", "--jobs", "1", "--out", str(tmp_path), "--keep-events", "none",
            *sum((["--set", s] for s in short), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    folder = next((tmp_path / "demo").iterdir())
    grant = pd.read_csv(folder / "grant.csv").set_index("arm")
    assert grant.loc["lead_pilot", "program_end"] == "2020-12-31"
    assert grant.loc["lead_pilot", "spent_through"] == "2019-12-31"
    monthly = pd.read_csv(folder / "grant_monthly.csv")
    last = monthly[monthly["arm"] == "lead_pilot"].sort_values("month").iloc[-1]
    assert last["month"] == "2019-12"
    assert grant.loc["lead_pilot", "spent_by_program_end_usd"] == pytest.approx(last["cumulative_usd"], rel=1e-12)
    assert "spent by 2019-12-31 (the run's end; the program runs to 2020-12-31)" in r.output, r.output


@pytest.mark.parametrize("year", [2018, 2019, 2020])
def test_a_through_year_before_the_scenarios_end_is_refused_in_one_line(tmp_path, year):
    """--through only extends the analysis: a year before the scenario's end (2021-12-31 in the demo)
    would silently shorten it, so it is refused, blamed on --through, before anything runs."""
    r = CliRunner().invoke(main, ["budget", str(DEMO), "--through", str(year), "--out", str(tmp_path)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --through {year}: the scenario's analysis runs to "
                                                   "2021-12-31; --through only extends it"), r.stderr
    assert not any((tmp_path).iterdir()), "nothing is written"


def test_cea_command_writes_tables(tmp_path):
    args = ["cea", str(DEMO), "--reps", "2", "--jobs", "1", "--out", str(tmp_path), "--keep-events", "none",
            "--no-breakeven", "--wtp", "500", *sum((["--set", s] for s in SMALL), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "Efficiency frontier" in r.output and "Break-even values" in r.output
    folder = next((tmp_path / "demo").iterdir())
    cea = pd.read_csv(folder / "cea.csv")
    assert set(cea["outcome"]) == set(C.CEA_OUTCOMES) and "nmb_at_500" in cea.columns
    be = pd.read_csv(folder / "breakeven.csv")
    assert set(be["name"]) == {"program_cost_per_participant_month", "payback_year"}


def test_bad_perspective_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(main, ["cea", str(DEMO), "--perspective", "nobody", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--perspective: expected one of costs.payers" in r.output
    assert "Traceback" not in r.output


# ---- totals over named periods, funding need with intervals, cumulative, willingness to pay per outcome -----


def _months(arm: str, rep: int, spend: dict[str, float]) -> pd.DataFrame:
    """A per-task month table: one agency of the city and one program agency."""
    rows = []
    for month, usd in spend.items():
        rows.append((month, "city_and_county_of_denver", "jail", usd))
        rows.append((month, "lead_grant", "lead_case_management", 10.0 if arm != "usual_processing" else 0.0))
    return pd.DataFrame(rows, columns=["month", "payer", "agency", "usd"]).assign(usd_discounted=lambda d: d["usd"] * 0.9)


def test_period_totals_sum_the_programs_own_months_and_never_average_over_idle_years():
    """The pilot (2019-01-22 to 2020-12-31) is summed over its own months; the years after it are
    another period; a program year is the program's months / 12, whatever the analysis length."""
    arms = load_arms(SCENARIOS / "denver_pilot.yaml", ["run.end_date=2025-12-31"])
    arms = {a: arms[a] for a in ("usual_processing", "lead_pilot")}
    months = [f"{y}-{m:02d}" for y in range(2019, 2026) for m in range(1, 13)]
    per_task = {}
    for rep, noise in enumerate((0.0, 2.0)):
        per_task[("usual_processing", rep)] = _months("usual_processing", rep, {m: 100.0 + noise for m in months})
        pilot = {m: (90.0 if m <= "2020-12" else 100.0) + noise for m in months}
        per_task[("lead_pilot", rep)] = _months("lead_pilot", rep, pilot)
    t = B.period_totals(per_task, arms, "usual_processing")
    t = t[t["arm"] == "lead_pilot"].set_index(["kind", "group"])
    prog = t.loc[("program", "all_payers")]
    # 24 months: -10 at the jail and +10 in case management each month
    assert prog["first_day"] == "2019-01-22" and prog["last_day"] == "2020-12-31" and prog["months"] == 24
    assert prog["difference_undiscounted_usd"] == pytest.approx(0.0)
    city = t.loc[("program", "city_and_county_of_denver")]
    assert city["difference_undiscounted_usd"] == pytest.approx(-240.0)
    assert city["per_year_undiscounted_usd"] == pytest.approx(-240.0 / city["years"])
    assert city["years"] == pytest.approx(((dt.date(2020, 12, 31) - dt.date(2019, 1, 22)).days + 1) / 365.25)
    assert t.loc[("program", "program_agencies"), "difference_undiscounted_usd"] == pytest.approx(240.0)
    after = t.loc[("after_program", "lead_grant")]
    assert after["first_day"] == "2021-01-01" and after["months"] == 60
    assert after["difference_undiscounted_usd"] == pytest.approx(600.0), "the grant line pays on (10 a month) here"
    assert t.loc[("calendar_year", "city_and_county_of_denver")].set_index("period").loc["2020",
                                                                                          "difference_undiscounted_usd"] \
        == pytest.approx(-120.0)
    assert math.isnan(t.loc[("analysis", "all_payers"), "per_year_undiscounted_usd"]), "no per-year figure over idle years"


def test_funding_need_lists_only_arms_running_after_the_pilot_with_intervals():
    arms = load_arms(SCENARIOS / "denver_pilot.yaml", ["run.end_date=2022-12-31"])
    per_task = {}
    for rep, noise in enumerate((0.0, 4.0, 8.0)):
        for arm in arms:
            rows = [(y, "lead_grant", "lead_case_management", 0.0 if arm == "usual_processing" else 50.0 + noise)
                    for y in range(2019, 2023)]
            rows += [(y, "city_and_county_of_denver", "jail", 100.0 - (noise if arm == "lead_continued" else 0.0))
                     for y in range(2019, 2023)]
            per_task[(arm, rep)] = pd.DataFrame(rows, columns=["year", "payer", "agency", "usd"]).assign(usd_discounted=0.0)
    need = B.funding_need_table(per_task, arms, "usual_processing", B.program_end_year(arms, "usual_processing"))
    assert set(need["arm"]) == {"lead_continued"}, "lead_pilot ended in 2020: it needs no funding after it"
    assert list(need["year"]) == [2021, 2022]
    r = need.iloc[0]
    assert r["program_funding_needed_usd"] == pytest.approx(54.0) and r["program_ci_low"] < 54.0 < r["program_ci_high"]
    assert r["saving_city_and_county_of_denver"] == pytest.approx(4.0)
    assert r["net_cost_usd"] == pytest.approx(50.0) and r["net_ci_low"] == pytest.approx(50.0)
    assert "saving_medicaid" not in need.columns, "a payer saving nothing anywhere adds no columns"


def test_cumulative_differences_mark_the_payback_year():
    per_fy, per_cal = {}, {}
    spend = {"usual_processing": [100, 100, 100, 100], "new": [150, 90, 70, 70]}  # +50, -10, -30, -30: back in year 4
    for rep in (0, 1):
        for arm, values in spend.items():
            fy = pd.DataFrame([(2019 + i, "city_and_county_of_denver", "jail", float(v) + rep) for i, v in enumerate(values)],
                              columns=["fiscal_year", "payer", "agency", "usd"]).assign(usd_discounted=0.0)
            per_fy[(arm, rep)] = fy
            per_cal[(arm, rep)] = fy.rename(columns={"fiscal_year": "year"})
    c = B.cumulative_differences(per_fy, per_cal, "usual_processing", ["city_and_county_of_denver"])
    city = c[(c["payer"] == "city_and_county_of_denver")].set_index("year")
    assert list(city["cumulative_difference_usd"]) == pytest.approx([50, 40, 10, -20])
    assert list(city["pays_back_here"]) == [False, False, False, True]
    assert (c["year_kind"] == "calendar_year").sum() == 4 and set(c["payer"]) == {"city_and_county_of_denver", "all_payers"}


def test_each_outcome_has_its_own_willingness_to_pay():
    from lead_sim.outcomes.metrics import CEA_OUTCOMES
    from lead_sim.scenario.valuation import CEA_OUTCOME_NAMES, DEFAULT_WTP_USD_PER_UNIT

    assert tuple(CEA_OUTCOMES) == CEA_OUTCOME_NAMES
    sc = load(DEMO, ["cea.wtp_usd_per_unit.rearrests=40"]).base
    assert sc.cea.wtp_usd_per_unit["rearrests"] == 40.0 and not sc.cea.is_default("rearrests")
    assert sc.cea.wtp_usd_per_unit["housed_days"] == DEFAULT_WTP_USD_PER_UNIT["housed_days"]
    totals = pd.DataFrame({
        "arm": ["base", "new", "base", "new"], "replication": [0, 0, 1, 1], "cost_total_usd": [100.0, 150.0, 110.0, 170.0],
        "rearrests": [10.0, 8.0, 12.0, 9.0], "bookings": [10.0, 10.0, 10.0, 10.0], "jail_days": [5.0, 6.0, 5.0, 6.0],
        "active_use_years": [1.0, 1.0, 1.0, 1.0], "housed_days": [0.0, 10.0, 0.0, 20.0]})
    t = C.incremental_table(totals, "base", [40.0], dict(sc.cea.wtp_usd_per_unit)).set_index("outcome")
    assert t.loc["rearrests", "nmb_usd"] == pytest.approx(40 * 2.5 - 55) == pytest.approx(t.loc["rearrests", "nmb_at_40"])
    assert t.loc["housed_days", "wtp_usd"] == DEFAULT_WTP_USD_PER_UNIT["housed_days"]
    assert t.loc["housed_days", "nmb_usd"] == pytest.approx(DEFAULT_WTP_USD_PER_UNIT["housed_days"] * 15 - 55)
    with pytest.raises(ScenarioError) as err:
        load(DEMO, ["cea.wtp_usd_per_unit.rearest=40"])
    assert any("cea.wtp_usd_per_unit" in p and "rearest" in p for p in err.value.problems)
