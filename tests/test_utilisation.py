"""The evaluator's utilisation table: a case by hand, records against the model, the command line."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim import names as N
from lead_sim.calibration import fit as K
from lead_sim.calibration import records as R
from lead_sim.cli.main import main
from lead_sim.model.params import ModelParams
from lead_sim.outcomes import evaluation as E
from lead_sim.outcomes import utilisation as U
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import load
from tests.conftest import SCENARIOS, SMALL

Y = N.DAYS_PER_YEAR
H = 6 * N.DAYS_PER_MONTH  # 182.625 days


def hand_case():
    """Three people, t_start 0, t_end 1000, LEAD from day 350.

    1 LEAD, entry (referral) day 400, in the population throughout: arrest and booking on day 300
    with a felony charge, jail 390-410 (across the entry), booking on day 450, LEAD exit on day 500,
    booking on day 550 (after the exit: not counted).
    2 comparison, entry (index arrest and booking) day 400: booking on day 250, jail 200-230
    (across the 6-month window's start, day 217.375), jail 400-402 after the index booking, prison
    admission on day 450, leaves the population on day 500.
    3 comparison, weight 3, entry day 420, entered the population on day 300, nothing recorded.
    """
    ev = [
        (1, 300, N.ARREST, "new_offense"), (1, 300, N.BOOKING, ""), (1, 300, N.CHARGE_FELONY, ""),
        (1, 400, N.LEAD_REFERRAL, "arrest"), (1, 450, N.ARREST, "new_offense"), (1, 450, N.BOOKING, ""),
        (1, 500, N.LEAD_EXIT, "completed"), (1, 550, N.ARREST, "new_offense"), (1, 550, N.BOOKING, ""),
        (2, 250, N.ARREST, "new_offense"), (2, 250, N.BOOKING, ""),
        (2, 400, N.POLICE_CONTACT, N.POSSESSION), (2, 400, N.ARREST, "new_offense"), (2, 400, N.BOOKING, ""),
        (2, 450, N.PRISON_ADMISSION, ""), (2, 500, N.PERSON_EXIT, "move_away"),
    ]
    events = pd.DataFrame(ev, columns=list(N.EVENT_COLUMNS)).astype({"day": float})
    spells = pd.DataFrame([
        (1, N.JAIL, 390, 410), (2, N.JAIL, 200, 230), (2, N.JAIL, 400, 402),
        (1, N.ACTIVE_USE, 100, 390), (1, N.HOUSED, 0, 400), (2, N.ACTIVE_USE, 0, 400),
    ], columns=list(N.SPELL_COLUMNS)).astype({"start_day": float, "end_day": float})
    people = pd.DataFrame({"person_id": [1, 2, 3], "entry_day": [0.0, 0.0, 300.0], "exit_day": [1000.0, 500.0, 1000.0],
                           "female": [True, False, True], "age_years": [30.0, 20.0, 40.0], "prior_arrests": [2, 0, 5]})
    cohort = pd.DataFrame({"person_id": [1, 2, 3], "group": [1, 0, 0], "entry_day": [400.0, 400.0, 420.0],
                           "weight": [1.0, 1.0, 3.0]})
    prices = U.LegalPrices(
        events=pd.DataFrame([(N.BOOKING, "", 100.0, -math.inf, math.inf), (N.CHARGE_FELONY, "", 1000.0, -math.inf, math.inf),
                             (N.POLICE_CONTACT, N.POSSESSION, 10.0, -math.inf, math.inf)],
                            columns=["event", "detail", "usd", "from_day", "to_day"]),
        spells=pd.DataFrame([(N.JAIL, 50.0, -math.inf, math.inf)], columns=["kind", "usd_per_day", "from_day", "to_day"]),
        agencies=("police", "jail"))
    return events, spells, people, cohort, prices


def test_utilisation_by_hand():
    events, spells, people, cohort, prices = hand_case()
    t = U.utilisation_table(events, spells, people, cohort, 0.0, 1000.0, 350.0, prices)
    v = t.set_index(["window", "measure", "group", "period"])["value"]

    # 6 months. LEAD (person 1): before (217.375, 400) = 0.5 years; after (400, exit 500) = 100 days
    lead_after_py = 100 / Y
    assert v[("6m", U.PERSON_YEARS, U.LEAD, U.BEFORE)] == pytest.approx(0.5)
    assert v[("6m", U.PERSON_YEARS, U.LEAD, U.AFTER)] == pytest.approx(lead_after_py)
    assert v[("6m", U.BOOKINGS, U.LEAD, U.BEFORE)] == pytest.approx(1 / 0.5)
    assert v[("6m", U.BOOKINGS, U.LEAD, U.AFTER)] == pytest.approx(1 / lead_after_py)  # day 550 is after the exit
    assert v[("6m", U.JAIL_DAYS, U.LEAD, U.BEFORE)] == pytest.approx(10 / 0.5)  # 390-400 of the stay 390-410
    assert v[("6m", U.JAIL_DAYS, U.LEAD, U.AFTER)] == pytest.approx(10 / lead_after_py)
    assert v[("6m", U.FELONY_CHARGES, U.LEAD, U.BEFORE)] == pytest.approx(2.0)
    # comparison: person 2 before (217.375, 400) and after (400, leaves 500); person 3 (weight 3) before
    # (entered 300, 420) = 120 days and after (420, 602.625) = 182.625 days
    cmp_before = (H + 3 * 120) / Y
    cmp_after = (100 + 3 * H) / Y
    assert v[("6m", U.PERSON_YEARS, U.COMPARISON, U.BEFORE)] == pytest.approx(cmp_before)
    assert v[("6m", U.PERSON_YEARS, U.COMPARISON, U.AFTER)] == pytest.approx(cmp_after)
    assert v[("6m", U.BOOKINGS, U.COMPARISON, U.BEFORE)] == pytest.approx(1 / cmp_before)  # day 250; the index booking is in neither
    assert v[("6m", U.BOOKINGS, U.COMPARISON, U.AFTER)] == 0
    assert v[("6m", U.JAIL_DAYS, U.COMPARISON, U.BEFORE)] == pytest.approx((230 - (400 - H)) / cmp_before)  # 12.625 days inside
    assert v[("6m", U.JAIL_DAYS, U.COMPARISON, U.AFTER)] == pytest.approx(2 / cmp_after)
    assert v[("6m", U.PRISON_ADMISSIONS, U.COMPARISON, U.AFTER)] == pytest.approx(1 / cmp_after)
    change_lead = 1 / lead_after_py - 2.0
    change_cmp = 0 - 1 / cmp_before
    assert v[("6m", U.BOOKINGS, U.LEAD, U.CHANGE)] == pytest.approx(change_lead)
    assert v[("6m", U.BOOKINGS, U.DIFFERENCE, U.DID)] == pytest.approx(change_lead - change_cmp)
    # prison: weighted shares 0 (LEAD) and 1/4 (comparison); an empty cell leaves the odds ratio undefined
    assert v[("6m", U.SHARE_ANY_PRISON, U.COMPARISON, U.AFTER)] == pytest.approx(0.25)
    assert v[("6m", U.SHARE_ANY_PRISON, U.LEAD, U.AFTER)] == 0
    assert math.isnan(v[("6m", U.ANY_PRISON_OR, U.RATIO, U.AFTER)])
    assert v[("6m", U.PEOPLE, U.COMPARISON, U.ENTRY)] == 2
    # costs: booking 100, felony 1000, jail 50 a day; the possession contact (10) at the entry is in neither window
    assert v[("6m", U.LEGAL_COST, U.LEAD, U.BEFORE)] == pytest.approx((100 + 1000 + 10 * 50) / 0.5)
    assert v[("6m", U.LEGAL_COST, U.LEAD, U.AFTER)] == pytest.approx((100 + 10 * 50) / lead_after_py)
    assert v[("6m", U.LEGAL_COST, U.COMPARISON, U.AFTER)] == pytest.approx(2 * 50 / cmp_after)
    assert v[("6m", U.PRICED_COUNTS, U.LEAD, U.BEFORE)] == pytest.approx(2.0 * 100 + 2.0 * 1000 + 20 * 50)

    # long term: from day 0 (t_start; the 2 years before it are not in the tables)
    cmp_before_long = (400 + 3 * 120) / Y
    assert v[("long", U.PERSON_YEARS, U.LEAD, U.BEFORE)] == pytest.approx(400 / Y)
    assert v[("long", U.PERSON_YEARS, U.LEAD, U.AFTER)] == pytest.approx(100 / Y)  # the exit, not t_end
    assert v[("long", U.PERSON_YEARS, U.COMPARISON, U.AFTER)] == pytest.approx((100 + 3 * 580) / Y)
    assert v[("long", U.JAIL_DAYS, U.COMPARISON, U.BEFORE)] == pytest.approx(30 / cmp_before_long)

    # a shorter 6-month fit: with t_end 580 nobody's 6 months after entry fit, and the groups are empty
    short = U.utilisation_table(events, spells, people, cohort, 0.0, 580.0, 350.0).set_index(
        ["window", "measure", "group", "period"])["value"]
    assert short[("6m", U.PEOPLE, U.LEAD, U.ENTRY)] == 0 and math.isnan(short[("6m", U.BOOKINGS, U.LEAD, U.BEFORE)])


def test_weights_default_to_one_and_scale_the_groups():
    events, spells, people, cohort, _ = hand_case()
    plain = U.utilisation_table(events, spells, people, cohort.drop(columns="weight"), 0.0, 1000.0, 350.0)
    v = plain.set_index(["window", "measure", "group", "period"])["value"]
    assert v[("6m", U.BOOKINGS, U.COMPARISON, U.BEFORE)] == pytest.approx(1 / ((H + 120) / Y))
    assert v[("6m", U.SHARE_ANY_PRISON, U.COMPARISON, U.AFTER)] == pytest.approx(0.5)


def test_baseline_by_hand():
    events, spells, people, cohort, _ = hand_case()
    b = U.baseline_table(events, spells, people, cohort).set_index(["measure", "group"])["value"]
    assert b[("prior_arrests", U.LEAD)] == 3  # 2 before entering + the arrest on day 300
    assert b[("prior_arrests", U.COMPARISON)] == pytest.approx((1 * 1 + 3 * 5) / 4)  # the index arrest is not prior
    assert b[("share_active_use", U.LEAD)] == 0 and b[("share_housed", U.LEAD)] == 1  # use ended at day 390
    assert b[("share_active_use", U.COMPARISON)] == pytest.approx(0.25)
    assert b[("age_years", U.COMPARISON)] == pytest.approx((20 + 400 / Y + 3 * (40 + 120 / Y)) / 4)
    assert b[("share_female", U.COMPARISON)] == pytest.approx(0.75)
    assert b[("n", U.COMPARISON)] == 2


def test_cohort_checks():
    events, spells, people, cohort, _ = hand_case()
    with pytest.raises(ValueError, match="more than once"):
        U.utilisation_table(events, spells, people, pd.concat([cohort, cohort]), 0.0, 1000.0, 350.0)
    with pytest.raises(ValueError, match="before LEAD started"):
        U.utilisation_table(events, spells, people, cohort, 0.0, 1000.0, 410.0)


def test_legal_system_agencies_of_the_bundled_scenario():
    sc = load(SCENARIOS / "seattle_lead.yaml").base
    assert U.legal_system_agencies(sc) == ("police", "jail", "city_attorney", "district_attorney", "public_defender",
                                           "county_court", "district_court", "probation")


def test_records_give_the_model_table_for_the_same_arm(tmp_path):
    """Records exported from a simulated arm (through the CSV files) measured by ``targets`` equal
    the model-side table on the same tables in whole days, the same cohort rule and the records'
    view (from the analysis start; nobody seen entering or leaving). Felony charges in records are
    arrests charged as felonies, so they match the model's felony filings on arrest days."""
    overrides = ["population.initial_people=600", "population.arrivals_per_year=120", "run.warmup_days=180",
                 "run.end_date=2020-12-31"]
    sc = load(SCENARIOS / "demo.yaml", overrides).arms["lead_pilot"]
    res = run_experiment({"lead_pilot": sc}, 1, keep_tables="all")
    ev, sp = res.tables["events"], res.tables["spells"]
    P = ModelParams(sc)
    R.write_records(R.records_from_simulation(ev, sp, sc.run.start_date, P.t_end), tmp_path)
    rec = R.read_records(tmp_path / "arrests.csv", tmp_path / "jail_stays.csv", tmp_path / "lead_log.csv",
                         tmp_path / "prison_admissions.csv")
    observed = R.utilisation_from_records(rec, sc.run.start_date, sc.run.end_date, lead_start=sc.lead.start_date)

    # the model's side: the same tables in whole days, the analysis window only
    inside = ev[(ev["day"] >= 0) & (ev["day"] < P.t_end)].astype({"event": str, "detail": str})
    arrest_days = inside.loc[inside["event"] == N.ARREST, ["person_id", "day"]].drop_duplicates()
    felony_at_arrest = inside[inside["event"] == N.CHARGE_FELONY].merge(arrest_days, on=["person_id", "day"])
    assert len(felony_at_arrest) < (inside["event"] == N.CHARGE_FELONY).sum(), "expected felonies filed without an arrest"
    model_ev = pd.concat([inside[inside["event"] != N.CHARGE_FELONY], felony_at_arrest]).assign(day=lambda d: np.floor(d["day"]))
    jail = sp[(sp["kind"] == N.JAIL) & (sp["end_day"] > 0) & (sp["start_day"] < P.t_end)]
    model_sp = jail.assign(start_day=np.floor(jail["start_day"].clip(lower=0)), end_day=np.floor(jail["end_day"].clip(upper=P.t_end)))
    cohort = E.cohorts(ev, P.t_end, P.lead_t0)
    cohort = cohort.assign(entry_day=np.floor(cohort["entry_day"]))
    cohort = cohort.assign(weight=E.propensity_weights(model_ev, cohort))  # records are weighted the same way
    model = U.utilisation_table(model_ev, model_sp, None, cohort, 0.0, P.t_end, P.lead_t0)

    both = observed.merge(model, on=["window", "measure", "group", "period"], suffixes=("_records", "_model"),
                          validate="one_to_one")
    assert len(both) == len(observed) == len(model)
    n = both.set_index(["window", "measure", "group", "period"])
    assert n.loc[("long", U.PEOPLE, U.LEAD, U.ENTRY), "value_records"] >= 15, "expected a LEAD group to compare"
    assert n.loc[("long", U.PRISON_ADMISSIONS, U.COMPARISON, U.AFTER), "value_records"] > 0
    pd.testing.assert_series_equal(both["value_records"], both["value_model"], check_names=False, rtol=1e-12, atol=1e-12)
    counts = both[both["measure"] == U.PEOPLE]
    assert (counts["value_records"] == counts["value_model"]).all()


def test_priced_counts_for_check_fit_are_priced_like_the_records():
    unit = {U.BOOKINGS: 100.0, U.FELONY_CHARGES: 1000.0, U.JAIL_DAYS: 50.0}
    prices = U.LegalPrices(
        events=pd.DataFrame([(N.ARREST, "", 40.0, -math.inf, math.inf), (N.BOOKING, "", 60.0, -math.inf, math.inf),
                             (N.CHARGE_FELONY, "", 1000.0, -math.inf, math.inf)],
                            columns=["event", "detail", "usd", "from_day", "to_day"]),
        spells=pd.DataFrame([(N.JAIL, 50.0, -math.inf, math.inf)], columns=["kind", "usd_per_day", "from_day", "to_day"]),
        agencies=("police", "jail"))
    assert prices.unit_prices() == unit
    name = lambda m: R.utilisation_target("6m", m, U.LEAD, U.AFTER)  # noqa: E731
    pred = pd.DataFrame({"replication": [0, 0, 0, 1, 1, 1], "target": [name(U.BOOKINGS), name(U.FELONY_CHARGES),
                                                                       name(U.JAIL_DAYS)] * 2,
                         "value": [1.0, 0.5, 10.0, 2.0, 0.0, 4.0]})
    out = R.with_priced_counts(pred, prices)
    priced = out[out["target"] == name(U.PRICED_COUNTS)].set_index("replication")["value"]
    assert priced.to_dict() == {0: pytest.approx(100 + 500 + 500), 1: pytest.approx(200 + 0 + 200)}
    table = K.check_fit(pd.DataFrame({"target": [name(U.PRICED_COUNTS)], "value": [1000.0]}), out)
    assert table["replications"].iloc[0] == 2


def test_compare_evaluation_writes_the_utilisation_and_baseline_tables(tmp_path):
    args = ["compare", str(SCENARIOS / "demo.yaml"), "--evaluation", "--reps", "2", "--jobs", "1", "--out", str(tmp_path),
            "--keep-events", "none", *sum((["--set", s] for s in SMALL), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "legal-system use per person-year before and after entry" in r.output and "jail bookings" in r.output
    folder = next((tmp_path / "demo").iterdir())
    util = pd.read_csv(folder / "evaluation_utilisation.csv")
    assert list(util.columns) == ["arm", "window", "measure", "group", "period", "mean", "ci_low", "ci_high", "reps"]
    assert set(util["group"]) == {U.LEAD, U.COMPARISON, U.DIFFERENCE, U.RATIO}
    assert set(util["period"]) == {U.BEFORE, U.AFTER, U.CHANGE, U.DID, U.ENTRY}
    assert set(util["window"]) == set(U.WINDOWS)
    assert set(U.RATES) <= set(util["measure"])
    lead = util[(util["arm"] == "lead_continued") & (util["measure"] == U.BOOKINGS) & (util["group"] == U.COMPARISON)]
    assert (lead["reps"] == 2).all() and lead["mean"].notna().all()
    base = pd.read_csv(folder / "evaluation_baseline.csv")
    assert list(base.columns) == ["arm", "measure", "group", "mean", "ci_low", "ci_high", "reps"]
    assert {"prior_arrests", "share_active_use", "share_housed", "share_employed", "age_years", "share_female",
            "n"} == set(base["measure"])
