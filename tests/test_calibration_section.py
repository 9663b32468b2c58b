"""The scenario's ``calibration`` section: what it accepts and refuses, how ``calibrate`` uses it,
and held-out targets (predicted and reported, never fitted)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from lead_sim import names as N
from lead_sim.calibration import fit as K
from lead_sim.cli.main import main
from lead_sim.model.engine import simulate
from lead_sim.outcomes import evaluation as E
from lead_sim.scenario.loading import ScenarioError, load, resolved_yaml
from tests.conftest import SCENARIOS, SMALL, TEST_SCENARIOS

TARGETS = SCENARIOS / "targets" / "seattle_2017_recidivism.csv"
GOOD = {
    "targets": str(TARGETS),
    "parameters": {"lead.rr_contact_engaged": {"low": 0.2, "high": 1.0}},
    "weights": {"any_arrest_6m": 2.0},
    "held_out": ["any_arrest_long_term"],
}


def write(folder: Path, section, name: str = "scenario.yaml") -> Path:
    """A scenario declaring ``section``, extending the demo without the section it inherits."""
    (folder / "no_calibration.yaml").write_text(f"extends: {SCENARIOS / 'demo.yaml'}\ncalibration: null\n", encoding="utf-8")
    path = folder / name
    doc = {"extends": "no_calibration.yaml", "calibration": section}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path, list(overrides))
    return info.value.problems


def one_problem(path: Path, key: str, fragment: str, overrides=(), origin: str | None = None) -> None:
    """The problem is reported on its key; every problem is one line naming where it comes from."""
    problems = problems_of(path, overrides)
    prefix = f"{origin or path}: {key}: "
    hits = [p for p in problems if p.startswith(prefix) and fragment in p]
    assert hits, f"expected a problem starting {prefix!r} and saying {fragment!r}; found {problems}"
    assert all(p.startswith(f"{origin or path}: ") and "\n" not in p for p in problems), problems


# ---- what the schema accepts -------------------------------------------------------------------------


def test_section_is_accepted_and_targets_are_read_from_the_declaring_file(tmp_path):
    section = dict(GOOD, targets="targets/seattle_2017_recidivism.csv")  # relative to scenarios/
    parent = tmp_path / "scenarios" / "parent.yaml"
    (tmp_path / "scenarios" / "targets").mkdir(parents=True)
    (tmp_path / "scenarios" / "targets" / TARGETS.name).write_bytes(TARGETS.read_bytes())
    write(parent.parent, section, parent.name)
    (tmp_path / "runs").mkdir()
    child = tmp_path / "runs" / "child.yaml"
    child.write_text(f"extends: ../scenarios/{parent.name}\ncalibration:\n  parameters:\n"
                     "    lead.rr_contact_engaged: {high: 0.9}\n", encoding="utf-8")
    loaded = load(child)
    cal = loaded.base.calibration
    assert cal is not None and cal.parameters["lead.rr_contact_engaged"].high == 0.9, cal
    assert cal.parameters["lead.rr_contact_engaged"].low == 0.2, "the child changes one bound; the parent's other stays"
    expected = tmp_path / "scenarios" / "targets" / TARGETS.name
    assert Path(cal.targets) == expected, f"expected the parent's relative path read from its folder; found {cal.targets}"
    plan = K.setup(loaded)
    assert plan.arm == "lead_pilot" and [p.path for p in plan.parameters] == ["lead.rr_contact_engaged"]
    assert [(t.name, t.fitted, t.weight) for t in plan.targets] == [
        ("any_arrest_6m", True, 2.0), ("any_arrest_long_term", False, 1.0), ("any_felony_charge_long_term", True, 1.0),
        ("lead_group_size", True, 1.0)]


def test_bundled_seattle_scenario_declares_its_calibration():
    plan = K.setup(load(SCENARIOS / "seattle_lead.yaml"))
    assert len(plan.parameters) >= 5 and "lead.rr_contact_engaged" in [p.path for p in plan.parameters]
    assert plan.held_out == ["any_arrest_long_term"]
    assert {t.name for t in plan.targets if t.fitted} == {"any_arrest_6m", "any_felony_charge_long_term", "lead_group_size"}


def test_section_survives_the_resolved_scenario(tmp_path):
    loaded = load(write(tmp_path, GOOD))
    copy = tmp_path / "elsewhere" / "scenario.resolved.yaml"
    copy.parent.mkdir()
    copy.write_text(resolved_yaml(loaded.base), encoding="utf-8")
    again = load(copy)
    assert again.base.calibration == loaded.base.calibration, "the resolved scenario keeps the section, targets included"


def test_set_changes_a_bound_and_is_blamed_for_a_bad_one(tmp_path):
    path = write(tmp_path, GOOD)
    loaded = load(path, ["calibration.parameters.lead.rr_contact_engaged.low=0.5"])
    assert loaded.base.calibration.parameters["lead.rr_contact_engaged"].low == 0.5
    one_problem(path, "calibration.parameters.lead.rr_contact_engaged", "expected low < high",
                ["calibration.parameters.lead.rr_contact_engaged.low=1.5"], origin="--set")


def test_section_changes_no_simulation_result():
    tiny = load(TEST_SCENARIOS / "tiny.yaml").arms["lead_continued"]
    declared = tiny.model_copy(update={"calibration": load(SCENARIOS / "seattle_lead.yaml").base.calibration})
    a, b = simulate(tiny, 0), simulate(declared, 0)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.spells, b.spells)


# ---- what it refuses: one line per problem, naming the file and the key -----------------------------------------


@pytest.mark.parametrize(("change", "key", "fragment"), [
    pytest.param({"bounds": {}}, "calibration.bounds", "unknown key; expected one of ['targets', 'arm',", id="unknown-key"),
    pytest.param({"parameters": {"lead.rr_contact_engaged": {"low": 0.2, "hgh": 1}}},
                 "calibration.parameters.lead.rr_contact_engaged.hgh", "unknown key; did you mean high? expected one of ['low', 'high']",
                 id="unknown-bound-key"),
    pytest.param({"parameters": {"lead.rr_contact_engagd": {"low": 0.2, "high": 1}}},
                 "calibration.parameters.lead.rr_contact_engagd", "no such key in the scenario", id="bad-path"),
    pytest.param({"parameters": {"lead.enrollment_days": {"low": 100, "high": 400}}},
                 "calibration.parameters.lead.enrollment_days", "found a distribution", id="path-not-a-number"),
    pytest.param({"parameters": {"lead.caseload_per_manager": {"low": 10, "high": 30}}},
                 "calibration.parameters.lead.caseload_per_manager", "a whole number", id="path-an-integer"),
    pytest.param({"parameters": {"run.seed": {"low": 1, "high": 3}}},
                 "calibration.parameters.run.seed", "cannot be calibrated", id="path-a-seed"),
    pytest.param({"parameters": {"lead.rr_contact_engaged": {"low": 1.0, "high": 0.2}}},
                 "calibration.parameters.lead.rr_contact_engaged", "expected low < high; found low 1, high 0.2",
                 id="low-above-high"),
    pytest.param({"parameters": {"lead.rr_contact_engaged": {"low": 0.5, "high": 0.5}}},
                 "calibration.parameters.lead.rr_contact_engaged", "expected low < high", id="low-equals-high"),
    pytest.param({"parameters": {"lead.rr_contact_engaged": {"low": "0.2", "high": 1}}},
                 "calibration.parameters.lead.rr_contact_engaged.low", "expected a number", id="bound-a-string"),
    pytest.param({"parameters": {"lead.rr_contact_engaged": {"low": 0.2, "high": math.inf}}},
                 "calibration.parameters.lead.rr_contact_engaged.high", "finite", id="bound-infinite"),
    pytest.param({"parameters": {"lead.p_divert_if_eligible": {"low": 0.2, "high": 1.5}}},
                 "calibration.parameters.lead.p_divert_if_eligible.high", "arm lead_pilot refuses", id="bound-refused"),
    pytest.param({"parameters": {}}, "calibration.parameters", "at least 1", id="no-parameters"),
    pytest.param({"weights": {"any_arrest_12m": 1}}, "calibration.weights",
                 "expected names of targets the evaluation design produces", id="unknown-target-in-weights"),
    pytest.param({"held_out": ["any_arrest_12m"]}, "calibration.held_out",
                 "expected names of targets the evaluation design produces", id="unknown-target-in-held-out"),
    pytest.param({"weights": {"any_arrest_long_term": 1}}, "calibration.weights.any_arrest_long_term",
                 "is held out", id="weight-of-a-held-out-target"),
    pytest.param({"weights": {"any_arrest_6m": 0}}, "calibration.weights.any_arrest_6m", "greater than 0",
                 id="weight-zero"),
    pytest.param({"held_out": list(N.CALIBRATION_TARGETS), "weights": {}}, "calibration.held_out", "nothing is left to fit", id="all-held-out"),
    pytest.param({"held_out": ["any_arrest_6m", "any_arrest_6m"]}, "calibration.held_out", "twice",
                 id="held-out-twice"),
    pytest.param({"arm": "lead_everywhere"}, "calibration.arm", "expected one of the arms", id="unknown-arm"),
    pytest.param({"targets": ""}, "calibration.targets", "expected a file name", id="empty-targets"),
])
def test_bad_section_is_refused_on_its_key(tmp_path, change, key, fragment):
    one_problem(write(tmp_path, {**GOOD, **change}), key, fragment)


def test_missing_targets_file_is_refused_by_validate_and_calibrate(tmp_path):
    path = write(tmp_path, dict(GOOD, targets="no/such.csv"))
    expected = f"{path}: calibration.targets: targets file {tmp_path / 'no' / 'such.csv'} not found"
    load(path)  # compare, psa ... never read the targets: a scenario copied without them still runs
    for args in (["validate", str(path)], ["calibrate", str(path), "--jobs", "1", "--out", str(tmp_path / "out")]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and expected in r.stderr and "Traceback" not in r.output, (
            f"{args[0]}: expected exit 2 and {expected!r}; found {r.exit_code}: {r.output}")
    assert not (tmp_path / "out").exists(), "a refused calibration writes no output folder"


def test_target_named_in_the_section_must_be_in_the_targets_file(tmp_path):
    short = tmp_path / "short.csv"
    rows = pd.read_csv(TARGETS)
    rows[rows["target"] != "any_arrest_long_term"].to_csv(short, index=False)
    path = write(tmp_path, dict(GOOD, targets=str(short)))
    with pytest.raises(ScenarioError) as info:
        K.setup(load(path))
    assert info.value.problems == [
        f"{path}: calibration.held_out: no target 'any_arrest_long_term' with a value in {short}; expected one of "
        "['any_arrest_6m', 'any_felony_charge_long_term', 'lead_group_size']"], info.value.problems


def test_command_line_overrides_the_section(tmp_path):
    loaded = load(write(tmp_path, GOOD))
    plan = K.setup(loaded, ["lead.p_divert_if_eligible=0.1:0.9"], {"any_arrest_6m": 3.0}, None,
                   ["any_felony_charge_long_term"], "lead_continued")
    assert [(p.path, p.low, p.high) for p in plan.parameters] == [("lead.p_divert_if_eligible", 0.1, 0.9)]
    assert plan.arm == "lead_continued" and plan.held_out == ["any_felony_charge_long_term"]
    assert {t.name: (t.fitted, t.weight) for t in plan.targets} == {
        "any_arrest_6m": (True, 3.0), "any_arrest_long_term": (True, 1.0), "any_felony_charge_long_term": (False, 1.0),
        "lead_group_size": (True, 1.0)}
    with pytest.raises(ScenarioError, match=r"^--param lead.p_divert_if_eligible=0:2: arm lead_pilot refuses"):
        K.setup(loaded, ["lead.p_divert_if_eligible=0:2"])
    with pytest.raises(ScenarioError, match=r"--weight nothing=1: no target 'nothing'"):
        K.setup(loaded, weights={"nothing": 1.0})
    with pytest.raises(ScenarioError, match="nothing to calibrate: give --param"):
        K.setup(load(SCENARIOS / "demo.yaml", ["calibration=null"]))


# ---- held-out targets: predicted and reported, not fitted ----------------------------------------------


def test_held_out_target_is_reported_but_not_in_the_objective(monkeypatch):
    est = {name: E.Estimate(name, orr, orr * 0.8, orr * 1.25, math.log(orr), 0.1, 500, 5000)
           for name, orr in zip(E.TARGETS, (0.45, 0.5, 0.55), strict=True)}
    monkeypatch.setattr(K, "simulated_estimates", lambda *args: est)

    def objective(observed_long_term: float, observed_6m: float = 0.40) -> tuple[float, dict]:
        targets = [K.Target("any_arrest_6m", observed_6m, 0.33), K.Target("any_arrest_long_term", observed_long_term, 0.33,
                   fitted=False), K.Target("any_felony_charge_long_term", 0.61, 0.33)]
        cal = K.Calibration(None, "arm", [K.Parameter("p", 0.0, 1.0)], targets, 1, 1)
        cal.scenario_at = lambda x: None
        return cal.objective([0.5]), cal.trials[-1]

    f, row = objective(0.42)
    assert objective(0.05)[0] == f and objective(5.0)[0] == f, "a held-out target's observed value moved the objective"
    assert objective(0.42, observed_6m=0.2)[0] != f, "a fitted target's observed value should move the objective"
    assert "component_any_arrest_long_term" not in row and row["simulated_or_any_arrest_long_term"] == 0.5, row
    expected = sum((math.log(s) - math.log(o)) ** 2 / (2 * 0.33**2) for s, o in ((0.45, 0.40), (0.55, 0.61)))
    assert f == pytest.approx(expected), f"expected only the two fitted components ({expected:.4f}); found {f:.4f}"
    fit = K.goodness_of_fit(est, [K.Target("any_arrest_6m", 0.4, 0.33), K.Target("any_arrest_long_term", 0.42, 0.33,
                                                                                fitted=False)])
    assert list(fit["role"]) == ["fitted", "held_out"] and fit.loc[1, "simulated_value"] == 0.5, fit


def test_calibrate_uses_the_declared_section_and_reports_held_out_targets(tmp_path):
    path = write(tmp_path, GOOD)
    args = ["calibrate", str(path), "--method", "nelder-mead", "--budget", "4", "--starts", "1", "--reps", "1", "--jobs", "1",
            "--out", str(tmp_path / "out"), *sum((["--set", s] for s in SMALL), [])]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "to 3 target(s) (any_arrest_6m, any_felony_charge_long_term, lead_group_size;" in r.stderr, r.stderr
    assert "held out (predicted)" in r.stdout, r.stdout
    folder = next((tmp_path / "out" / "demo").iterdir())
    fit = pd.read_csv(folder / "goodness_of_fit.csv").set_index("target")
    assert fit["role"].to_dict() == {"any_arrest_6m": "fitted", "any_arrest_long_term": "held_out",
                                     "any_felony_charge_long_term": "fitted", "lead_group_size": "fitted"}, fit
    assert fit["simulated_value"].notna().all(), "held-out targets are simulated too"
    trials = pd.read_csv(folder / "trials.csv")
    assert "lead.rr_contact_engaged" in trials and "component_any_arrest_long_term" not in trials, trials.columns
    assert "simulated_or_any_arrest_long_term" in trials
    calibrated = load(folder / "scenario.calibrated.yaml")
    cal = calibrated.base.calibration
    assert cal is not None and cal.held_out == ["any_arrest_long_term"] and Path(cal.targets) == TARGETS, cal
    assert cal.parameters["lead.rr_contact_engaged"].low == 0.2 and cal.weights == {"any_arrest_6m": 2.0}
    # the demo's PSA range was drawn around the value before calibration: gone, the rest kept
    unc = calibrated.base.uncertainty
    assert "lead.rr_contact_engaged" not in unc.parameters and "lead.rr_contact_engaged" not in unc.one_way_ranges
    assert set(unc.parameters) == set(load(SCENARIOS / "demo.yaml").base.uncertainty.parameters) - {"lead.rr_contact_engaged"}
    assert pd.read_csv(folder / "goodness_of_fit_before.csv")["role"].tolist() == fit["role"].tolist()


def test_goodness_of_fit_counts_both_estimates_uncertainty():
    """z = (log simulated - log published) / sqrt(se_sim^2 + se_published^2), by hand."""
    from lead_sim.outcomes import evaluation as E

    def est(or_, se):
        lo, hi = or_ * math.exp(-1.96 * se), or_ * math.exp(1.96 * se)
        return E.Estimate("t", or_, lo, hi, math.log(or_), se, 200, 100)

    close = K.goodness_of_fit({"t": est(0.50, 0.05)}, [K.Target("t", 0.40, 0.20)]).iloc[0]
    z = (math.log(0.50) - math.log(0.40)) / math.hypot(0.05, 0.20)
    assert close["z_difference"] == pytest.approx(z) and bool(close["consistent_95"]), close
    assert not bool(close["observed_inside_interval"]), "0.40 is outside the narrow simulated interval"
    far = K.goodness_of_fit({"t": est(0.90, 0.05)}, [K.Target("t", 0.40, 0.20)]).iloc[0]
    assert not bool(far["consistent_95"]), far
