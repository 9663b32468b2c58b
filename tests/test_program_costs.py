"""How the program and every unit cost are priced: the two program-cost forms, the two cost
lenses, who pays on which date, and one price table behind compare, budget, CEA and PSA.

The by-hand cases build the event log and spells of one participant directly, so every dollar
below can be checked with a calculator against the bundled scenario's unit costs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim import names as N
from lead_sim.analysis import budget as B
from lead_sim.cli.main import main
from lead_sim.model.engine import simulate
from lead_sim.outcomes.costing import cost_by_agency, cost_lines, program_segments
from lead_sim.outcomes.periods import by_funder
from lead_sim.outcomes.repricing import cost_values, prices, quantities
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import ScenarioError, load
from tests.conftest import SCENARIOS, SMALL

PILOT = SCENARIOS / "denver_pilot.yaml"
M = N.DAYS_PER_MONTH
Y = N.DAYS_PER_YEAR
#: the analysis runs 2019-01-22 .. 2019-12-31 (t_end 344 days), undiscounted; LEAD with 2 case managers
TINY = ["run.end_date=2019-12-31", "run.discount_rate_per_year=0", "lead.case_managers=2"]


def _arm(*extra: str):
    return load(PILOT, TINY + list(extra)).arms["lead_continued"]


def _participant() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One participant: arrested (day 10), booked, 2 jail days, referred; enrolled 2 months from
    day 20 with outpatient treatment (an episode) and 30 days of residential treatment."""
    events = pd.DataFrame(
        [(1, 10.0, N.ARREST, "new_offense"), (1, 10.0, N.BOOKING, ""), (1, 20.0, N.LEAD_REFERRAL, "arrest"),
         (1, 20.0, N.LEAD_INTAKE, "ARTS"), (1, 20.0, N.SERVICE_START, "sud_outpatient"),
         (1, 20.0, N.SERVICE_START, "sud_residential")],
        columns=list(N.EVENT_COLUMNS))
    spells = pd.DataFrame(
        [(1, N.JAIL, 10.0, 12.0), (1, N.LEAD_ENROLLED, 20.0, 20.0 + 2 * M),
         (1, N.SERVICE_PREFIX + "sud_residential", 20.0, 50.0)],
        columns=list(N.SPELL_COLUMNS))
    return events, spells


#: the participant's justice costs by hand, per lens (unit costs of scenarios/denver_pilot.yaml,
#: 2019 dollars: $85 of 2017 = 85 * 100 / 95; $54 of 2015 = 54 * 100 / 90)
JUSTICE = {
    "average": {"police": 300.0 + 112.5, "jail": 150.0 + 2 * 85 * 100 / 95},  # arrest + referral; booking + 2 days
    "marginal": {"police": 176.0 + 66.0, "jail": 75.0 + 2 * 54 * 100 / 90},
}
# outpatient: $2,940 an episode, Medicaid; residential: $142 a day, paid by the state (behavioral
# health) before 2021-01-01
TREATMENT = {"treatment": 2940.0, "behavioral_health": 30 * 142.0}


@pytest.mark.parametrize("lens", ["average", "marginal"])
def test_all_in_price_by_hand(lens):
    """All in: $591 a participant-month covers case management, housing help and job training;
    treatment is billed on top, each to its payer; no staffing costs."""
    sc = _arm(f"costs.lens={lens}", "costs.program.form=all_in")
    events, spells = _participant()
    lines = cost_lines(events, spells, sc, 344.0)
    got = cost_by_agency(lines, list(sc.costs.agencies), column="usd")
    expect = dict.fromkeys(sc.costs.agencies, 0.0)
    expect.update(JUSTICE[lens])
    expect.update(TREATMENT)
    expect["lead_case_management"] = 2 * 591.0
    for agency, usd in expect.items():
        assert got[agency] == pytest.approx(usd, rel=1e-12), f"{lens}, all in: {agency} costs {got[agency]}, by hand {usd}"


@pytest.mark.parametrize("lens", ["average", "marginal"])
def test_staffing_budget_by_hand(lens):
    """Staffing: 2 case managers and 1 supervisor paid over the whole period (344 days) whether or
    not the caseload fills, half a project manager, the evaluation, start-up and two trainings on
    day 0, and flexible funds for the participant's 2 months."""
    sc = _arm(f"costs.lens={lens}")
    assert sc.costs.program.form == "staffing"
    events, spells = _participant()
    lines = cost_lines(events, spells, sc, 344.0)
    got = cost_by_agency(lines, list(sc.costs.agencies), column="usd")
    # the grant's providers: 2 case managers and 1 supervisor, loaded, trainings and flexible funds
    grant = (2 * 51550 + 1 * 64000) * 1.4 * 344 / Y + 2 * 2500 + 2 * 50
    assert got["lead_case_management"] == pytest.approx(grant, rel=1e-12)
    # the city: half a project manager, loaded, and the start-up; the state: the evaluation
    city = {"lead_coordination": 32500 * 1.4 * 344 / Y + 25000}
    state = {"lead_evaluation": 25000 * 344 / Y}
    for agency, usd in {**JUSTICE[lens], **TREATMENT, **city, **state}.items():
        assert got[agency] == pytest.approx(usd, rel=1e-12), f"{lens}, staffing: {agency}"
    # housing and job training are itemised in this form; this participant had neither
    assert got["housing"] == 0.0 and got["job_training"] == 0.0
    # the program's own lines belong to no one (person -1) and hold the capacity cost
    own = lines[lines["person_id"] == -1]
    assert set(own["item"]) == {"case_manager_fte_day", "supervisor_day", "other_staff_day", "evaluation_day", "startup",
                                "case_manager_trained"}


def test_staffing_follows_the_case_manager_schedule_and_the_program_period():
    """3 case managers from the start, 7 from 2019-07-01 (2 supervisors then), the program ending
    2019-09-30: training for 3 on day 0 and 4 more on 2019-07-01; nothing after the end."""
    sc = _arm("lead.case_managers={start: 3, 2019-07-01: 7}", "lead.end_date=2019-09-30")
    seg = program_segments(sc, 344.0)
    july, end = 160.0, 252.0  # days from 2019-01-22 to 2019-07-01, and to 2019-10-01
    rows = {(r.item, r.day, r.end_day): r.amount for r in seg.itertuples(index=False)}
    assert rows == {
        ("case_manager_trained", 0.0, 0.0): 3.0, ("case_manager_fte_day", 0.0, july): 3.0, ("supervisor_day", 0.0, july): 1.0,
        ("case_manager_trained", july, july): 4.0, ("case_manager_fte_day", july, end): 7.0, ("supervisor_day", july, end): 2.0,
        ("other_staff_day", 0.0, end): 1.0, ("evaluation_day", 0.0, end): 1.0, ("startup", 0.0, 0.0): 1.0,
    }
    assert program_segments(load(PILOT, TINY).arms["usual_processing"], 344.0).empty, "no program without LEAD"


def test_who_pays_changes_on_the_date_coverage_starts():
    """Residential treatment is paid by the state's behavioral health office before 2021 and by
    Medicaid from 2021-01-01: a stay across the date is split there; an episode-priced service
    is paid by the agency of its first day."""
    # (all in: the staffing form's evaluation is paid by the same agency)
    sc = load(PILOT, ["run.end_date=2021-12-31", "run.discount_rate_per_year=0", "costs.program.form=all_in"]).arms["lead_continued"]
    new_year = float((pd.Timestamp("2021-01-01") - pd.Timestamp("2019-01-22")).days)
    spells = pd.DataFrame([(1, N.SERVICE_PREFIX + "sud_residential", new_year - 10, new_year + 20)], columns=list(N.SPELL_COLUMNS))
    events = pd.DataFrame(columns=list(N.EVENT_COLUMNS))
    got = cost_by_agency(cost_lines(events, spells, sc, 1000.0), list(sc.costs.agencies), column="usd")
    assert got["behavioral_health"] == pytest.approx(10 * 142.0) and got["treatment"] == pytest.approx(20 * 142.0)


# ---- charging a service twice is refused ----------------------------------------------------------------


@pytest.mark.parametrize(("override", "keys"), [
    ("costs.per_month.lead_enrolled={lead_case_management: 575}", ["costs.per_month.lead_enrolled", "costs.program"]),
    ("costs.program.all_in.billed_separately=[housing_subsidy, sud_outpatient, sud_intensive_outpatient, sud_residential, "
     "medication_for_oud, mental_health]",
     ["costs.program.all_in.includes_services", "costs.program.all_in.billed_separately", "housing_subsidy"]),
])
def test_validate_refuses_charging_a_service_both_ways(override, keys):
    result = CliRunner().invoke(main, ["validate", str(PILOT), "--set", override])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, f"expected one error line, found {lines}"
    for key in keys:
        assert key in lines[0], f"the error should name {key}: {lines[0]}"
    assert "Traceback" not in result.output


def test_an_all_in_price_must_say_where_each_service_is():
    with pytest.raises(ScenarioError) as err:
        load(PILOT, ["costs.program.all_in.billed_separately=[sud_outpatient]"])
    assert any("neither includes_services nor billed_separately" in p and "mental_health" in p for p in err.value.problems)


# ---- one price table behind every command ----------------------------------------------------------------


@pytest.mark.parametrize("lens", ["average", "marginal"])
@pytest.mark.parametrize("form", ["all_in", "staffing"])
def test_compare_budget_cea_and_psa_agree_on_every_total(lens, form):
    """The same simulation priced four ways, under each lens and program form: compare's cost
    metrics, the budget's fiscal-year tables and the CEA's totals (all from one run of the
    experiment) and the PSA's re-pricing (quantities x prices) agree on every agency's and
    payer's total and on the total."""
    sc = load(SCENARIOS / "demo.yaml", SMALL + [f"costs.lens={lens}", f"costs.program.form={form}"]).arms["lead_continued"]
    res = run_experiment({"lead_continued": sc}, 1, jobs=1, keep_tables="none", analyses=("cea", "budget"))
    compare = res.metrics.set_index("metric")["value"]
    people = compare["people"]
    budget = res.extras["fiscal_year"][("lead_continued", 0)]
    cea = res.extras["cea"][("lead_continued", 0)].iloc[0]
    sim = simulate(sc, 0)
    psa = cost_values(quantities(sim.events, sim.spells, sc, sim.t_end), prices(sc), people)
    assert compare["cost_lead_case_management_per_person_usd"] > 0
    close = lambda x, y: math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)  # noqa: E731
    for agency in sc.costs.agencies:
        key = f"cost_{agency}_per_person_usd"
        b = float(budget.loc[budget["agency"] == agency, "usd_discounted"].sum()) / people
        assert close(compare[key], b), f"{lens}/{form} {agency}: compare {compare[key]}, budget {b}"
        assert close(compare[key], psa[key]), f"{lens}/{form} {agency}: compare {compare[key]}, psa {psa[key]}"
    for payer in sc.costs.payers:
        key = f"cost_payer_{payer}_usd"
        assert close(cea[key], psa[key]), f"{lens}/{form} {payer}: cea {cea[key]}, psa {psa[key]}"
        assert close(cea[key], compare[f"cost_payer_{payer}_per_person_usd"] * people), f"{lens}/{form} {payer}"
    assert close(cea["cost_total_usd"], psa["cost_total_usd"])
    assert close(cea["cost_total_usd"], compare["cost_total_per_person_usd"] * people)
    assert close(cea["cost_program_usd"], psa["cost_program_usd"])
    assert close(compare["cost_no_modelled_benefit_per_person_usd"], psa["cost_no_modelled_benefit_per_person_usd"])


def test_the_lens_changes_justice_costs_not_the_program():
    """Marginal prices are at most the average ones for every justice agency; the program and
    treatment are prices actually paid, the same in both lenses."""
    sims = {}
    for lens in ("average", "marginal"):
        sc = load(SCENARIOS / "demo.yaml", SMALL + [f"costs.lens={lens}"]).arms["lead_continued"]
        sim = sims.setdefault("sim", simulate(sc, 0))
        sims[lens] = cost_by_agency(cost_lines(sim.events, sim.spells, sc, sim.t_end), list(sc.costs.agencies))
    for agency in ("police", "jail", "city_attorney", "county_court", "public_defender", "probation"):
        assert sims["marginal"][agency] < sims["average"][agency], agency
    for agency in ("lead_case_management", "treatment", "housing"):
        assert sims["marginal"][agency] == sims["average"][agency], agency


# ---- who ultimately pays; then-year dollars; the --costs option ------------------------------------------


def test_funder_view_splits_each_payer_by_its_shares():
    """Medicaid 90% federal / 10% state, housing vouchers federal, the grant state money; the city
    and the state fund themselves."""
    sc = load(PILOT).base
    by_fy = pd.DataFrame({"fiscal_year": [2020] * 4, "payer": ["medicaid", "housing_vouchers", "lead_grant",
                                                               "city_and_county_of_denver"],
                          "agency": ["treatment", "housing", "lead_case_management", "jail"],
                          "usd": [1000.0, 200.0, 300.0, 50.0], "usd_discounted": [900.0, 180.0, 270.0, 45.0]})
    got = by_funder(by_fy, sc).set_index("funder")
    assert got.loc["federal_government", "usd"] == pytest.approx(900 + 200)
    assert got.loc["state_of_colorado", "usd"] == pytest.approx(100 + 300)
    assert got.loc["city_and_county_of_denver", "usd"] == pytest.approx(50)
    assert got["usd"].sum() == pytest.approx(by_fy["usd"].sum()) and got["usd_discounted"].sum() == pytest.approx(by_fy["usd_discounted"].sum())


def test_then_year_dollars_by_hand():
    """2019 dollars to then-year dollars: the CPI table where it has the year (2021: 106.0, 2022:
    114.7), then 2.5% a year after 2022; discounted columns are dropped."""
    sc = load(PILOT).base
    assert B.nominal_factor(sc, 2019) == 1.0
    assert B.nominal_factor(sc, 2021) == pytest.approx(1.06)
    assert B.nominal_factor(sc, 2024) == pytest.approx(1.147 * 1.025 ** 2)
    table = pd.DataFrame({"fiscal_year": [2021, 2024], "payer": ["x", "x"], "cost_undiscounted_usd": [100.0, 100.0],
                          "cost_discounted_usd": [90.0, 80.0], "ci_low": [90.0, 90.0], "ci_high": [110.0, 110.0]})
    got = B.to_nominal(table, sc, "fiscal_year")
    assert "cost_discounted_usd" not in got
    assert list(got["cost_undiscounted_usd"]) == pytest.approx([106.0, 114.7 * 1.025 ** 2])
    assert list(got["ci_high"]) == pytest.approx([110 * 1.06, 110 * 1.147 * 1.025 ** 2])


def test_costs_option_is_the_lens_key(tmp_path):
    """--costs average gives exactly what --set costs.lens=average gives, and the header says so."""
    common = ["compare", str(SCENARIOS / "demo.yaml"), *[a for o in SMALL for a in ("--set", o)], "--reps", "1",
              "--jobs", "1", "--keep-events", "none", "--format", "csv"]
    a = CliRunner().invoke(main, [*common, "--costs", "average", "--out", str(tmp_path / "a")])
    b = CliRunner().invoke(main, [*common, "--set", "costs.lens=average", "--out", str(tmp_path / "b")])
    m = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "m")])
    assert a.exit_code == b.exit_code == m.exit_code == 0, a.output + b.output
    assert a.stdout == b.stdout, "--costs average and --set costs.lens=average must give the same results"
    assert a.stdout != m.stdout, "the default (marginal) lens must price differently"
    header = CliRunner().invoke(main, [*common[:-2], "--costs", "average", "--out", str(tmp_path / "h")])
    assert "cost lens: average" in header.stdout, header.stdout[:400]


def test_an_all_in_price_cannot_include_treatment_people_find_without_lead():
    """Treatment found without LEAD starts in every arm and is not paid by LEAD's price, so a
    service in behaviour.treatment_mix must be billed on its own."""
    with pytest.raises(ScenarioError) as err:
        load(PILOT, ["costs.program.all_in.includes_services=[housing_subsidy, job_training, sud_outpatient]",
                     "costs.program.all_in.billed_separately=[sud_intensive_outpatient, sud_residential, medication_for_oud, "
                     "mental_health]"])
    assert any("behaviour.treatment_mix" in p and "sud_outpatient" in p for p in err.value.problems), err.value.problems


def test_funding_need_is_the_program_spending_beyond_the_comparators():
    """Treatment found without LEAD is spent in every arm: only the extra is program funding.
    2021: the arm's case management 100 and treatment 70 against the comparator's treatment 50;
    the city's jail 30 lower."""
    sc = load(PILOT).base
    rows = [("lead_continued", "lead_case_management", "lead_grant", 100.0), ("lead_continued", "treatment", "medicaid", 70.0),
            ("usual_processing", "treatment", "medicaid", 50.0), ("lead_continued", "jail", "city_and_county_of_denver", 170.0),
            ("usual_processing", "jail", "city_and_county_of_denver", 200.0)]
    per_arm = pd.DataFrame([(2021, payer, agency, arm, usd) for arm, agency, payer, usd in rows],
                           columns=["year", "payer", "agency", "arm", "cost_undiscounted_usd"])
    diffs = pd.DataFrame([(2021, "lead_grant", "lead_case_management", "lead_continued", 100.0),
                          (2021, "medicaid", "treatment", "lead_continued", 20.0),
                          (2021, "city_and_county_of_denver", "jail", "lead_continued", -30.0)],
                         columns=["year", "payer", "agency", "arm", "difference_undiscounted_usd"])
    need = B.funding_need(per_arm, diffs, sc, 2020).set_index("arm")
    assert need.loc["lead_continued", "program_funding_needed_usd"] == pytest.approx(120.0)
    assert need.loc["lead_continued", "saving_city_and_county_of_denver"] == pytest.approx(30.0)
    assert need.loc["lead_continued", "net_cost_usd"] == pytest.approx(90.0)


def test_a_scenario_from_before_the_cost_lens_names_what_it_lacks(tmp_path):
    """A scenario written before costs.lens and costs.program existed gets one line per missing
    key, each named by its full path (the error paths keep a key called 'lens')."""
    import yaml

    from lead_sim.scenario.loading import resolved_yaml
    data = yaml.safe_load(resolved_yaml(load(PILOT).base))
    del data["costs"]["lens"], data["costs"]["program"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert f"error: {path}: costs.lens: missing required key" in lines, lines
    assert f"error: {path}: costs.program: missing required key" in lines, lines


def test_funding_is_projected_after_the_earliest_programme_end():
    """No arm name is special: the pilot's end is the earliest lead.end_date among the arms that
    are not the comparator (2020 here); with none ending, the analysis start's year."""
    arms = load(PILOT).arms
    assert B.program_end_year(arms, "usual_processing") == 2020
    renamed = {"usual_processing": arms["usual_processing"], "a_two_year_trial": arms["lead_pilot"],
               "for_good": arms["lead_continued"]}
    assert B.program_end_year(renamed, "usual_processing") == 2020
    assert B.program_end_year({k: arms[k] for k in ("usual_processing", "lead_continued")}, "usual_processing") == 2019
