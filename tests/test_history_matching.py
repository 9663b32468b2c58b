"""Calibration by history matching on Gaussian-process emulators (calibration/emulator.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim.calibration import emulator as H
from lead_sim.calibration import fit as K
from lead_sim.cli.main import main
from tests.conftest import SCENARIOS


def _toy(noise_sd: float, seed: int):
    """Two summaries that depend on parameter a (through log a) and b; c changes nothing."""
    rng = np.random.default_rng(seed)

    def simulate(X: np.ndarray) -> list[dict[str, float]]:
        return [{"t1": math.log(a) + 0.5 * b + rng.normal(0, noise_sd),
                 "t2": math.log(a) - 0.5 * b + rng.normal(0, noise_sd)} for a, b, _c in X]
    return simulate


@pytest.mark.slow
def test_history_matching_recovers_known_parameters_and_names_the_one_the_targets_cannot_see():
    truth_a, truth_b = 0.4, 0.6
    targets = [H.Observed("t1", math.log(truth_a) + 0.5 * truth_b, 0.03),
               H.Observed("t2", math.log(truth_a) - 0.5 * truth_b, 0.03)]
    bounds = H.Bounds(("a", "b", "c"), np.array([0.1, 0.0, 0.0]), np.array([1.0, 1.0, 1.0]))
    hm = H.HistoryMatch(bounds, targets, _toy(0.02, 1), discrepancy_sd=0.01, seed=3)
    hm.run(waves=2, first_points=24, later_points=12)
    assert hm.waves[-1].nroy_share < 0.2  # the targets rule out most of the box
    post = hm.posterior(400, walkers=16, steps=600, burn=200)
    ident = hm.identifiability(post).set_index("parameter")
    # a and b are pinned down near the truth (posterior sd ~ 0.03 on a, ~0.06 on b by the delta method)
    assert abs(ident.loc["a", "posterior_median"] - truth_a) < 0.06
    assert abs(ident.loc["b", "posterior_median"] - truth_b) < 0.15
    assert ident.loc["a", "shrinkage"] > 0.8 and ident.loc["b", "shrinkage"] > 0.6
    # c moves nothing: its posterior stays the prior
    assert abs(ident.loc["c", "shrinkage"]) < 0.2 and ident.loc["c", "verdict"].startswith("not identified")
    informs = hm.informs(4096).set_index("target")
    assert informs.loc["t1", "a"] > 0.3 and abs(informs.loc["t1", "c"]) < 0.05
    check = hm.emulator_check()
    assert set(check["target"]) == {"t1", "t2"} and (check["within_2sd"] >= 0.7).all()


def test_implausibility_by_hand_on_a_flat_emulator():
    # an emulator fitted to constant data predicts that constant with ~0 variance: I = |z - m| / sqrt(se^2 + d^2)
    U = np.linspace(0, 1, 12)[:, None]
    em = H.Emulators().fit(U, {"t": np.full(12, 2.0)})
    imp = H.implausibility(em, [H.Observed("t", 2.5, 0.3)], np.array([[0.5]]), discrepancy_sd=0.4)
    assert imp[0, 0] == pytest.approx(0.5 / math.hypot(0.3, 0.4), rel=0.02)


def test_summaries_average_log_odds_ratios_and_take_the_log_of_the_group_size():
    reps = [[{"target": "any_arrest_6m", "log_or": math.log(0.5), "n_lead": 90},
             {"target": "any_arrest_long_term", "log_or": math.log(0.6), "n_lead": 100}],
            [{"target": "any_arrest_6m", "log_or": math.log(0.3), "n_lead": 95},
             {"target": "any_arrest_long_term", "log_or": float("nan"), "n_lead": 110}]]
    s = K.summaries(reps)
    assert s["any_arrest_6m"] == pytest.approx((math.log(0.5) + math.log(0.3)) / 2)
    assert s["any_arrest_long_term"] == pytest.approx(math.log(0.6))  # half the replications finite: kept
    assert s["lead_group_size"] == pytest.approx(math.log(105))


@pytest.mark.slow
def test_calibrate_history_matching_writes_posterior_and_identifiability(tmp_path):
    out = tmp_path / "out"
    args = ["calibrate", str(SCENARIOS / "demo.yaml"), "--param", "lead.rr_contact_engaged=0.2:1",
            "--param", "lead.p_divert_if_eligible=0.1:0.9", "--waves", "1", "--points", "6", "--reps", "1",
            "--posterior-size", "40", "--mcmc-steps", "150", "--jobs", "1", "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    folder = next((out / "demo").iterdir())
    for name in ("posterior.csv", "identifiability.csv", "posterior_correlation.csv", "targets_inform.csv",
                 "design_points.csv", "waves.csv", "goodness_of_fit.csv", "posterior.png", "scenario.calibrated.yaml"):
        assert (folder / name).is_file(), name
    post = pd.read_csv(folder / "posterior.csv")
    assert list(post.columns) == ["draw", "lead.rr_contact_engaged", "lead.p_divert_if_eligible"] and len(post) == 40
    assert post["lead.rr_contact_engaged"].between(0.2, 1).all()
    ident = pd.read_csv(folder / "identifiability.csv")
    assert set(ident["parameter"]) == {"lead.rr_contact_engaged", "lead.p_divert_if_eligible"}
    assert "shrinkage" in r.output and "posterior" in r.output
    design = pd.read_csv(folder / "design_points.csv")
    assert len(design) == 6 and design["summary_lead_group_size"].notna().all()


def test_point_runner_reuses_checkpointed_replications_and_simulates_only_the_rest(monkeypatch):
    from lead_sim.runs import experiment
    from lead_sim.scenario.loading import load

    sc = load(SCENARIOS / "demo.yaml").arms["lead_pilot"]
    params = [K.Parameter("lead.rr_contact_engaged", 0.2, 1.0)]
    x = np.array([[0.5]])
    rows = [{"target": "any_arrest_6m", "log_or": -0.5, "n_lead": 10},
            {"target": "any_arrest_long_term", "log_or": -0.4, "n_lead": 12}]
    key = K.point_key(x[0])
    asked: list = []
    monkeypatch.setattr(experiment, "execute", lambda tasks, jobs, on_done: asked.extend(tasks))
    runner = K.PointRunner(sc, params, 2, 1, done={f"{key}|0": rows, f"{key}|1": rows})
    assert runner(x) == [K.summaries([rows, rows])] and asked == []  # everything saved: nothing simulated
    runner = K.PointRunner(sc, params, 2, 1, done={f"{key}|0": rows})
    with pytest.raises(KeyError):  # the stub simulates nothing, so replication 1 stays missing
        runner(x)
    assert [(t.arm, t.replication) for t in asked] == [(key, 1)]
