"""The simulated evaluation design and calibration to odds ratios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim import names as N
from lead_sim.calibration import fit as K
from lead_sim.cli.main import main
from lead_sim.outcomes import evaluation as E
from lead_sim.scenario.loading import ScenarioError, with_value
from tests.conftest import SCENARIOS, SMALL, load_arms

DEMO = SCENARIOS / "demo.yaml"
TARGETS = SCENARIOS / "targets" / "seattle_2017_recidivism.csv"


def test_estimator_recovers_a_known_odds_ratio_on_a_large_synthetic_population():
    rng = np.random.default_rng(1)
    n = 40_000
    group = rng.integers(0, 2, n)
    frailty = rng.normal(0, 0.8, n)  # person effect: before and after outcomes correlate
    b0, b1, b2, b3 = -0.2, 0.5, 0.3, math.log(0.4)
    rows = []
    for period in (0, 1):
        eta = b0 + b1 * group + b2 * period + b3 * group * period + frailty
        y = rng.random(n) < 1 / (1 + np.exp(-eta))
        rows.append(pd.DataFrame({"person_id": np.arange(n), "group": group, "period": period, "y": y.astype(int)}))
    est = E.odds_ratio(pd.concat(rows, ignore_index=True), "synthetic")
    # with a person effect the marginal odds ratio is attenuated towards 1 but close at this size;
    # the estimator must land within its own interval's reach of the conditional truth's marginal analogue
    assert est.ci_low < est.odds_ratio < est.ci_high
    assert abs(est.log_or - b3) < 0.15, f"expected log OR near {b3:.3f}; estimated {est.log_or:.3f} (se {est.se_log_or:.3f})"


def test_estimator_exact_on_a_table_without_person_effects():
    # 2x2x2 counts chosen so that the odds ratio of the interaction is exactly (1/4)/(1/1) = 0.25
    cells = {(0, 0): (50, 50), (0, 1): (50, 50), (1, 0): (50, 50), (1, 1): (20, 80)}  # (y=1, y=0)
    rows, pid = [], 0
    for (g, p), (yes, no) in cells.items():
        for y, count in ((1, yes), (0, no)):
            for _ in range(count):
                rows.append((pid, g, p, y))
                pid += 1
    est = E.odds_ratio(pd.DataFrame(rows, columns=["person_id", "group", "period", "y"]), "cells")
    assert est.odds_ratio == pytest.approx(0.25, rel=1e-6)


def test_design_table_by_hand():
    ev = pd.DataFrame([
        (1, 200.0, N.ARREST, "new_offense"),  # LEAD person: arrested in the 6 months before entry
        (1, 300.0, N.LEAD_REFERRAL, "arrest"),  # entry
        (2, 150.0, N.ARREST, "new_offense"),  # comparison: in the 6 months before
        (2, 300.0, N.POLICE_CONTACT, N.POSSESSION),
        (2, 300.0, N.ARREST, "new_offense"),  # entry (an eligible charge, not diverted)
        (2, 400.0, N.ARREST, "new_offense"),  # after
        (3, 300.0, N.POLICE_CONTACT, N.OTHER),
        (3, 300.0, N.ARREST, "new_offense"),  # not an eligible charge: in no group
    ], columns=list(N.EVENT_COLUMNS))
    t = E.design_table(ev, t_start=-400.0, t_end=800.0, window="6m").set_index(["person_id", "period"])
    assert t.loc[(1, 0), "group"] == 1 and t.loc[(1, 0), "y"] == 1 and t.loc[(1, 1), "y"] == 0
    assert t.loc[(2, 0), "group"] == 0 and t.loc[(2, 0), "y"] == 1 and t.loc[(2, 1), "y"] == 1
    assert 3 not in t.index.get_level_values(0)
    # entry too close to the end for a 6-month follow-up: dropped
    t2 = E.design_table(ev, t_start=-400.0, t_end=400.0, window="6m")
    assert t2.empty


def test_read_targets_and_bad_targets(tmp_path):
    targets = K.read_targets(TARGETS)
    assert [t.name for t in targets] == [*E.TARGETS, N.TARGET_LEAD_GROUP_SIZE]
    assert targets[0].se_log_or == pytest.approx(math.sqrt(2 / (0.25 * 203) + 2 / (0.25 * 115)))
    bad = tmp_path / "bad.csv"
    bad.write_text("target,value\nany_arrest_6m,0.4\n")
    with pytest.raises(ScenarioError, match="missing"):
        K.read_targets(bad)
    bad.write_text("target,measure,value,n_lead,n_comparison\nsomething_else,odds_ratio,0.4,10,10\n")
    with pytest.raises(ScenarioError, match="row 2: target 'something_else'"):
        K.read_targets(bad)
    with pytest.raises(ScenarioError, match="low < high"):
        K.parse_parameter("lead.rr_contact_engaged=1:0.2")


@pytest.mark.slow
def test_calibration_recovers_a_known_parameter_from_model_generated_targets(tmp_path):
    arms = load_arms(DEMO, SMALL + ["run.end_date=2021-06-30"])
    arm, reps, truth = "lead_continued", 3, 0.35
    est = K.simulated_estimates(with_value(arms[arm], "lead.rr_contact_engaged", truth), arm, reps, 2)
    targets = [K.Target(name, e.odds_ratio, 0.3) for name, e in est.items() if name == "any_arrest_6m"]
    cal = K.Calibration(arms[arm], arm, [K.Parameter("lead.rr_contact_engaged", 0.1, 1.0)], targets, reps, 2)
    best = cal.run("nelder-mead", budget=16, starts=2)
    assert abs(best[0] - truth) < 0.15, f"expected about {truth}; calibrated {best[0]:.3f} ({len(cal.trials)} trials)"


@pytest.mark.slow
def test_calibrate_command(tmp_path):
    args = ["calibrate", str(DEMO), "--param", "lead.rr_contact_engaged=0.2:1", "--method", "nelder-mead", "--budget", "5", "--starts", "1",
            "--reps", "1", "--jobs", "1", "--out", str(tmp_path), *sum((["--set", s] for s in SMALL), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    folder = next((tmp_path / "demo").iterdir())
    fit = pd.read_csv(folder / "goodness_of_fit.csv")
    assert set(fit["target"]) == {*E.TARGETS, N.TARGET_LEAD_GROUP_SIZE}
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) >= 5 and {"objective", "component_any_arrest_6m"} <= set(trials.columns)
    assert "lead.rr_contact_engaged" in (folder / "scenario.calibrated.yaml").read_text().splitlines()[2]


def test_sir_posterior_concentrates_where_the_objective_is_low():
    class Toy(K.Calibration):
        def objective(self, x):  # a known likelihood: normal around 0.3 with sd 0.05
            v = float(x[0])
            self.trials.append({"trial": len(self.trials), "p": v, "objective": (v - 0.3) ** 2 / (2 * 0.05**2)})
            return self.trials[-1]["objective"]

    cal = Toy(None, "arm", [K.Parameter("p", 0.0, 1.0)], [], 1, 1)
    post = cal.sir(budget=512, resample=2000, seed=3)
    assert abs(post["p"].mean() - 0.3) < 0.01 and abs(post["p"].std() - 0.05) < 0.01, post["p"].describe()
    assert cal.best()[0] == pytest.approx(0.3, abs=0.01)


def test_compare_reports_the_simulated_evaluation(tmp_path):
    # LEAD in every district, every officer trained: 40 to 70 LEAD people per replication, so every
    # estimate exists in every replication (with the demo's handful, 3 to 15, an empty cell often leaves
    # the felony odds ratio undefined in one of them)
    lead_everywhere = ["lead.districts=[1,2,3,4,5,6]", "lead.p_officer_trained=1", "lead.case_managers=10"]
    args = ["compare", str(DEMO), "--evaluation", "--reps", "2", "--jobs", "1", "--out", str(tmp_path), "--keep-events", "none",
            *sum((["--set", s] for s in SMALL + lead_everywhere), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "Simulated evaluation (Seattle design)" in r.output
    ev = pd.read_csv(next((tmp_path / "demo").iterdir()) / "evaluation.csv")
    assert set(ev["target"]) == set(E.TARGETS)
    lead = ev[ev["arm"] == "lead_continued"]
    # the estimates exist but are too noisy to sign
    assert (lead["odds_ratio"] > 0).all() and (lead["reps"] == 2).all(), lead
    assert (lead["ci_low"] <= lead["odds_ratio"]).all() and (lead["odds_ratio"] <= lead["ci_high"]).all()
    assert ev.loc[ev["arm"] == "usual_processing", "odds_ratio"].isna().all(), "no LEAD group without LEAD"


@pytest.mark.slow
def test_interrupted_calibration_resumes_to_the_same_result(tmp_path):
    small = sum((["--set", s] for s in SMALL), [])
    base = ["calibrate", str(DEMO), "--param", "lead.rr_contact_engaged=0.2:1", "--method", "nelder-mead", "--budget", "6", "--starts", "1",
            "--reps", "1", "--jobs", "1", *small]
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "full")])
    assert r.exit_code == 0, r.output
    full = next((tmp_path / "full" / "demo").iterdir())
    # an interrupted run: the same folder contents with only the first two trials checkpointed
    part = tmp_path / "part" / "demo" / (full.name + "x.incomplete")
    part.mkdir(parents=True)
    (part / "calibration.json").write_text((full / "calibration.json").read_text())
    lines = (full / "checkpoint.jsonl").read_text().splitlines(keepends=True)
    (part / "checkpoint.jsonl").write_text("".join(lines[:2]))
    r2 = CliRunner().invoke(main, [*base, "--resume", str(part)])
    assert r2.exit_code == 0, r2.output
    assert "resuming: 2 finished trial(s) will not be redone" in r2.output
    done = part.with_name(part.name[: -len(".incomplete")])
    a = pd.read_csv(full / "goodness_of_fit.csv")
    b = pd.read_csv(done / "goodness_of_fit.csv")
    pd.testing.assert_frame_equal(a, b)
    assert (full / "scenario.calibrated.yaml").read_text().splitlines()[2] == (done / "scenario.calibrated.yaml").read_text().splitlines()[2]
    # a changed command is refused
    part2 = tmp_path / "part2" / "demo" / "x.incomplete"
    part2.mkdir(parents=True)
    (part2 / "calibration.json").write_text((full / "calibration.json").read_text())
    r3 = CliRunner().invoke(main, [*base[:-len(small)], "--reps", "2", *small, "--resume", str(part2)])
    assert r3.exit_code == 2 and "differ from the interrupted run" in r3.output
