"""Numerical edge cases, each through ``lead-sim compare`` and through ``run_experiment``.

Zero people, one person, the shortest analysis period, a caseload of one, capacities so large
they never bind (and none at all), a discount rate of 0, every probability at 0 or at 1 and
every branch at its extreme: each must give a sensible result (checked against what the case
implies) or a clear one-line error, never a traceback. Every simulation here also passes the
invariants of tests/invariants.py (tests/conftest.py checks each one).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lead_sim import names as N
from lead_sim.cli.main import main
from lead_sim.outcomes.costing import cost_lines
from lead_sim.runs.experiment import compare, run_experiment, summarise
from lead_sim.scenario.loading import ScenarioError, load, load_document
from tests.conftest import SCENARIOS

DEMO = SCENARIOS / "demo.yaml"
BASE = ["population.initial_people=80", "population.arrivals_per_year=20", "run.warmup_days=120",
        "run.end_date=2020-06-30"]
ARMS = ["usual_processing", "lead_pilot", "lead_continued"]
REPS = 2
SERVICES = list(load(DEMO).base.lead.services)
CERTAIN_DIVERSION = ["lead.districts=[1,2,3,4,5,6]", "lead.p_officer_trained=1", "lead.p_divert_if_eligible=1",
                     "contact.p_excluded=0", "contact.p_possession_under_threshold=1"]


# ---- running a case both ways ------------------------------------------------------------------------


def cli_compare(out: Path, overrides: list[str], reps: int = REPS) -> Result:
    args = ["compare", str(DEMO), "--reps", str(reps), "--jobs", "1", "--out", str(out), "--format", "json"]
    for o in overrides:
        args += ["--set", o]
    return CliRunner().invoke(main, args)


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\n--- stdout:\n{result.stdout[-3000:]}\n--- stderr:\n{result.stderr[-3000:]}"


def run_both(tmp_path: Path, overrides: list[str], reps: int = REPS):
    """Run the case through the CLI and through run_experiment; both must agree exactly.

    Returns (metrics: arm x replication x metric, summary, comparison, experiment result).
    """
    result = cli_compare(tmp_path / "out", BASE + overrides, reps)
    assert result.exit_code == 0, f"expected compare to succeed; found {describe(result)}"
    assert "Traceback" not in result.stderr
    info = json.loads(result.stdout)
    folder = Path(info["run_dir"])
    assert not folder.name.endswith(".incomplete") and (folder / "manifest.json").exists(), folder
    arms = load(DEMO, BASE + overrides + [f"run.replications={reps}"]).arms
    res = run_experiment(arms, reps, jobs=1, keep_tables="all")
    summary, comparison = summarise(res.metrics), compare(res.metrics, "usual_processing")
    for name, ours in (("metrics.csv", res.metrics), ("summary.csv", summary), ("comparison.csv", comparison)):
        theirs = pd.read_csv(folder / name)
        pd.testing.assert_frame_equal(theirs, ours.reset_index(drop=True), check_dtype=False, rtol=1e-9,
                                      obj=f"{name}: compare vs run_experiment")
    wide = res.metrics.set_index(["arm", "replication", "metric"])["value"]
    return wide, summary, comparison, res


def metric(wide: pd.Series, name: str, arm: str | None = None) -> np.ndarray:
    values = wide.xs(name, level="metric")
    if arm is not None:
        values = values.xs(arm, level="arm")
    return values.to_numpy(dtype=float)


def assert_finite_except(wide: pd.Series, allowed_nan: set[str], label: str) -> None:
    bad = [m for (_, _, m), v in wide.items() if not math.isfinite(v) and m not in allowed_nan]
    assert not bad, f"{label}: expected finite metrics apart from {sorted(allowed_nan)}; found NaN/inf in {sorted(set(bad))}"


def p_keys() -> list[str]:
    """Every probability key (``p_*``) of the demo, as dotted paths to plain numbers."""
    out: list[str] = []

    def walk(node, prefix):
        for k, v in node.items():
            path = f"{prefix}{k}"
            if str(k).startswith("p_"):
                if isinstance(v, dict) and "start" not in v:
                    out.extend(f"{path}.{c}" for c in v)
                else:
                    out.append(path)
            elif isinstance(v, dict) and k != "arms":
                walk(v, path + ".")

    walk(load_document(DEMO).data, "")
    return out


P_KEYS = p_keys()
RATE_METRICS = [m for m in N.RATE_METRICS] + ["jail_days_per_person_year"]
KM = {f"p_rearrest_{m}m" for m in N.REARREST_WINDOWS_MONTHS}


# ---- the cases ------------------------------------------------------------------------------------------


def test_zero_people(tmp_path):
    wide, summary, comparison, _ = run_both(tmp_path, ["population.initial_people=0", "population.arrivals_per_year=0"])
    assert (metric(wide, "people") == 0).all() and (metric(wide, "person_years") == 0).all()
    for name in ("lead_referrals", "lead_enrolled", "lead_participant_months"):
        assert (metric(wide, name) == 0).all(), f"expected {name} 0 with nobody; found {metric(wide, name)}"
    per_unit = [m for m in wide.index.get_level_values("metric").unique() if "per_person" in m or m in KM]
    for name in per_unit:
        assert np.isnan(metric(wide, name)).all(), f"expected {name} n/a with nobody; found {metric(wide, name)}"
    assert summary[summary.metric == "people"]["mean"].eq(0).all()


def test_one_person(tmp_path):
    wide, *_ = run_both(tmp_path, ["population.initial_people=1", "population.arrivals_per_year=0",
                                   "population.exit={desist_per_year: 0, move_away_per_year: 0, death_per_year: 0}"])
    assert (metric(wide, "people") == 1).all(), f"expected 1 person; found {metric(wide, 'people')}"
    period_years = (pd.Timestamp("2020-06-30") - pd.Timestamp("2019-01-22")).days / 365.25 + 1 / 365.25
    assert np.allclose(metric(wide, "person_years"), period_years), (
        f"expected the one person present the whole period ({period_years:.4f} years); found {metric(wide, 'person_years')}"
    )
    assert_finite_except(wide, KM, "one person")


def test_shortest_analysis_period_two_days(tmp_path):
    """end_date is inclusive and must be after start_date, so the shortest period is two days."""
    overrides = ["run.end_date=2019-01-23", "lead.p_officer_trained=0.2", "usual_processing.p_possession_felony=0.7"]
    wide, *_ = run_both(tmp_path, overrides)
    people, years = metric(wide, "people"), metric(wide, "person_years")
    assert (people > 0).all() and (years <= people * 2 / 365.25 + 1e-12).all(), (
        f"expected at most 2 days per person; found {years} years for {people} people"
    )
    assert np.isnan(metric(wide, "p_rearrest_6m")).all(), "nobody can be followed 6 months in a 2-day period"


def test_dated_changes_outside_the_simulation_are_allowed_and_exact(tmp_path):
    """A schedule may change before the simulation starts or after it ends, so ``--set
    run.end_date`` shortens any scenario as it is. Oracle, exactly: a change dated after the end
    is never reached, and one dated before the start is the value in force from the start."""
    # the scenario's own changes on 2019-07-01 and 2020-03-01 are after the end; LEAD diverts whom it can
    short = ["run.end_date=2019-06-30"] + [o for o in CERTAIN_DIVERSION if not o.startswith("lead.p_officer_trained")]
    wide, *_ = run_both(tmp_path / "as_is", short + [
        "population.arrivals_per_year={start: 5000, 2000-01-01: 20, 2100-01-01: 90000}",
        "lead.case_managers={start: 1, 2019-07-01: 40}",
    ])
    flat, *_ = run_both(tmp_path / "flat", short + [
        "population.arrivals_per_year=20",
        "lead.case_managers=1",
        "lead.p_officer_trained={start: 0.0, 2019-01-22: 0.15}",
        "usual_processing.p_possession_felony=0.7",
    ])
    pd.testing.assert_series_equal(wide, flat, check_exact=True)
    assert (metric(wide, "lead_referrals", "lead_pilot") > 0).any(), "expected LEAD to run in the shortened period"


def test_arrivals_are_not_drawn_past_the_end():
    """A change of the arrival rate dated long after the end costs nothing: no arrival is drawn past it."""
    from lead_sim.model.engine import entry_days
    from lead_sim.model.params import ModelParams
    from lead_sim.model.streams import Streams

    def entries(rate: str) -> list[float]:
        sc = load(DEMO, BASE + [f"population.arrivals_per_year={rate}"]).arms["usual_processing"]
        P = ModelParams(sc)
        days = entry_days(P, Streams(sc.run.seed, 0))
        assert max(days) <= P.t_end, f"{rate}: expected no entry after day {P.t_end}; found {max(days)}"
        return days

    assert entries("{start: 20, 2900-01-01: 10000000}") == entries("20")


def test_one_day_analysis_period_is_a_clear_error(tmp_path):
    overrides = ["run.end_date=2019-01-22", "lead.p_officer_trained=0.2", "usual_processing.p_possession_felony=0.7"]
    result = cli_compare(tmp_path / "out", BASE + overrides)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), describe(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --set: run"), f"expected one error line; found {lines}"
    assert "end_date (2019-01-22) must be after start_date (2019-01-22)" in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(ScenarioError):
        load(DEMO, BASE + overrides)


def test_one_day_analysis_period_error_names_run_end_date(tmp_path):
    overrides = ["run.end_date=2019-01-22", "lead.p_officer_trained=0.2", "usual_processing.p_possession_felony=0.7"]
    with pytest.raises(ScenarioError) as info:
        load(DEMO, BASE + overrides)
    line = info.value.problems[0]
    assert line.startswith("--set: run.end_date: ") and "found keys" not in line, f"found {line!r}"


def _max_concurrent(spells: pd.DataFrame) -> int:
    if spells.empty:
        return 0
    edges = np.concatenate([np.c_[spells.start_day, np.ones(len(spells))], np.c_[spells.end_day, -np.ones(len(spells))]])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    return int(np.cumsum(edges[:, 1]).max())


def test_caseload_of_one(tmp_path):
    wide, _, _, res = run_both(tmp_path, CERTAIN_DIVERSION + ["lead.case_managers=1", "lead.caseload_per_manager=1"])
    spells = res.tables["spells"]
    for (arm, rep), s in spells.groupby(["arm", "replication"]):
        most = _max_concurrent(s[s.kind == N.LEAD_ENROLLED])
        assert most <= 1, f"{arm} rep {rep}: expected at most 1 person enrolled at a time; found {most}"
    assert (metric(wide, "lead_enrolled", "lead_continued") >= 1).all(), "expected someone enrolled"
    assert (spells.kind == N.LEAD_WAITING).any(), "a caseload of one should make referrals wait"


def test_capacity_so_large_it_never_binds(tmp_path):
    # priced all in, so the program costs nothing until someone enrols (a staffing budget would pay the
    # million case managers, and the two runs would differ by their salaries)
    huge = ["costs.program.form=all_in", "lead.case_managers=1000000", "lead.caseload_per_manager=1000", "jail.capacity_beds=1000000000",
            *[f"lead.services.{s}.capacity=1000000000" for s in SERVICES]]
    unlimited = ["costs.program.form=all_in", "lead.case_managers=10000", "jail.capacity_beds=null",
                 *[f"lead.services.{s}.capacity=null" for s in SERVICES]]
    wide, _, _, res = run_both(tmp_path, CERTAIN_DIVERSION + huge)
    assert not (res.tables["spells"].kind == N.LEAD_WAITING).any(), "nobody should wait for a case manager"
    assert not (res.tables["events"].event == N.SERVICE_UNAVAILABLE).any(), "no service should be full"
    arms = load(DEMO, BASE + CERTAIN_DIVERSION + unlimited).arms
    other = run_experiment(arms, REPS, jobs=1, keep_tables="none").metrics.set_index(["arm", "replication", "metric"])
    pd.testing.assert_series_equal(wide, other["value"], obj="huge capacity vs no capacity limit")


def test_zero_capacity(tmp_path):
    wide, _, _, res = run_both(tmp_path, CERTAIN_DIVERSION + ["lead.case_managers=0", "jail.capacity_beds=0"])
    assert (metric(wide, "lead_enrolled") == 0).all(), "nobody can be enrolled without case managers"
    assert (metric(wide, "jail_days_per_person_year") == 0).all(), "nobody can be jailed without beds"
    assert (metric(wide, "lead_referrals", "lead_continued") > 0).all(), "referrals still happen (and wait)"


def test_discount_rate_zero(tmp_path):
    wide, _, _, res = run_both(tmp_path, ["run.discount_rate_per_year=0"])
    sc = load(DEMO, BASE + ["run.discount_rate_per_year=0"]).arms["lead_continued"]
    ev, sp = res.tables["events"], res.tables["spells"]
    pick = (ev.arm == "lead_continued") & (ev.replication == 0)
    lines = cost_lines(ev[pick], sp[(sp.arm == "lead_continued") & (sp.replication == 0)], sc,
                       float((sc.run.end_date - sc.run.start_date).days + 1))
    assert len(lines) > 0
    assert (lines.usd_discounted == lines.usd).all(), "at a discount rate of 0, discounted costs equal the costs"
    assert_finite_except(wide, KM, "discount rate 0")
    with_discount = load(DEMO, BASE).arms
    other = run_experiment(with_discount, REPS, jobs=1, keep_tables="none").metrics
    a = metric(wide, "cost_total_per_person_usd")
    b = other[other.metric == "cost_total_per_person_usd"]["value"].to_numpy()
    assert (a > b).all(), f"undiscounted costs should exceed costs discounted at 3%; found {a} vs {b}"


def test_every_probability_zero(tmp_path):
    # all in: a staffing budget would pay the case managers even though nobody is referred
    wide, _, comparison, _ = run_both(tmp_path, [f"{k}=0" for k in P_KEYS] + ["costs.program.form=all_in"])
    for name in ("arrests_per_person_year", "bookings_per_person_year", "jail_days_per_person_year",
                 "felony_charges_per_person_year", "prison_admissions_per_person_year", "lead_referrals"):
        assert (metric(wide, name) == 0).all(), f"with every probability 0 expected {name} = 0; found {metric(wide, name)}"
    assert np.isnan(metric(wide, "p_rearrest_6m")).all(), "nobody is arrested, so nobody is followed"
    assert (metric(wide, "police_contacts_per_person_year") > 0).all(), "contacts still happen"
    diffs = comparison.dropna(subset=["difference"])
    assert (diffs.difference == 0).all(), "with nobody trained, every arm equals the comparator"


def test_every_probability_one_is_a_clear_error(tmp_path):
    overrides = [f"{k}=1" for k in P_KEYS]
    result = cli_compare(tmp_path / "out", BASE + overrides)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), describe(result)
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: --set: ") for line in lines), f"expected --set errors; found {lines}"
    assert any("p_referral_ineligible + p_referral_declined must be at most 1; found 2" in line for line in lines), lines
    assert not (tmp_path / "out").exists()


def test_every_probability_one_where_allowed(tmp_path):
    overrides = [f"{k}={0 if k.endswith('p_referral_declined') else 1}" for k in P_KEYS]
    wide, _, _, res = run_both(tmp_path, overrides)
    assert (metric(wide, "lead_enrolled") == 0).all(), "every referral is ineligible (p_referral_ineligible=1)"
    assert (metric(wide, "arrests_per_person_year") > 0).all(), "every offense is an arrest"
    assert (metric(wide, "bookings_per_person_year") == metric(wide, "arrests_per_person_year")).all()
    ev = res.tables["events"]
    referrals = ev[ev.event == N.LEAD_REFERRAL]
    assert set(referrals.detail.astype(str)) <= {"social_contact"}, (
        "p_excluded=1 makes no offense eligible: only social-contact referrals remain"
    )


BRANCHES_AT_EXTREMES = [
    "contact.offense_mix={possession: {possession: 1, prostitution: 0, other: 0}, "
    "prostitution: {possession: 0, prostitution: 1, other: 0}, both: {possession: 0, prostitution: 0, other: 1}}",
    "usual_processing.disposition={misdemeanor: {dismissed: 0, deferred: 1}, felony: {dismissed: 0, deferred: 0}}",
    "usual_processing.sentence={misdemeanor: {jail: 0, probation: 1}, felony: {prison: 1, jail: 0, probation: 0}, "
    "drug_misdemeanor: {jail: 1, probation: 0}}",
    "population.offense_profile={possession: 0, prostitution: 0, both: 1}",
    "districts.shares={1: 1, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0}",
]


def test_every_branch_at_an_extreme(tmp_path):
    wide, _, _, res = run_both(tmp_path, BRANCHES_AT_EXTREMES)
    ev = res.tables["events"]
    offenses = set(ev[ev.event == N.POLICE_CONTACT].detail.astype(str))
    assert offenses == {"other"}, f"profile 'both' always finds 'other'; found {offenses}"
    assert (metric(wide, "prison_admissions_per_person_year") > 0).all(), "convicted felonies all go to prison"
    assert (res.tables["people"].district == 1).all(), "everyone lives in district 1"
    assert_finite_except(wide, KM, "branches at extremes")
