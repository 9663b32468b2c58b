"""runs.case_run without the command line: a case run started, stopped by Ctrl-C, resumed and finished.

The library prints nothing and never exits: problems are exceptions with one line each, the
stop is :class:`Stopped` saying what the checkpoint kept, and the resumed run's tables equal
those of a run never interrupted. The tiny scenario keeps each simulation a few milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lead_sim.analysis import psa as P
from lead_sim.analysis import sensitivity as S
from lead_sim.runs import case_run as CR
from lead_sim.runs.output import INCOMPLETE_SUFFIX, OutputError
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "scenarios" / "tiny.yaml"
GRID = [("lead.rr_contact_engaged", [0.3, 0.5, 0.7])]


def start(out: Path, warnings: list[str]) -> CR.CaseRun:
    loaded = load(TINY)
    arms = CR.pick_arms(loaded, (), "sweep", TINY)
    values, table = S.sweep_cases(GRID)
    cases = CR.Cases(values, [f"point {i}" for i in range(len(values))], {"grids": [list(g) for g in GRID]}, 1)
    run = CR.new_run("sweep", loaded, arms, cases, 1, None, ["lead-sim", "sweep"])
    CR.use_plan(run, plan(run), warnings.append)
    CR.write_inputs(run, out, {"cases.csv": table})
    return run


def plan(run: CR.CaseRun) -> P.Plan:
    return P.make_plan(run.arm_scenarios, run.arm_keys, run.cases, run.replications, run.labels)


def files(run: CR.CaseRun, results: dict) -> dict[str, pd.DataFrame]:
    return S.sweep_files(plan(run), results, GRID, "all", run.comparator, list(run.base.costs.payers))


def test_stopped_run_resumes_to_the_tables_of_an_uninterrupted_run(tmp_path):
    warnings: list[str] = []
    whole = start(tmp_path / "whole", warnings)
    results = CR.simulate(whole, P.execute)
    final = CR.finish(whole, files(whole, results), results)
    assert not final.name.endswith(INCOMPLETE_SUFFIX) and (final / "sweep.csv").is_file()
    assert json.loads((final / "manifest.json").read_text())["command_line"] == ["lead-sim", "sweep"]

    run = start(tmp_path / "cut", warnings)
    calls = []

    def stops_after_one(plan, *, on_result, **kw):
        def once(key, res):
            on_result(key, res)
            calls.append(key)
            raise KeyboardInterrupt
        return P.execute(plan, on_result=once, **kw)

    with pytest.raises(CR.Stopped) as stop:
        CR.simulate(run, stops_after_one)
    folder = run.folder.path
    assert isinstance(stop.value.cause, KeyboardInterrupt)
    assert stop.value.where == (f"1 of {len(run.plan.tasks)} simulations are saved in {folder}; "
                                f"continue with: lead-sim sweep --resume {folder}")

    with pytest.raises(CR.CaseRunError, match="this is a `lead-sim sweep` run; resume it with that command"):
        CR.resume_run("psa", folder, 1, None, None, warnings.append)
    again = CR.resume_run("sweep", folder, 1, None, ["lead-sim", "sweep", "--resume"], warnings.append)
    CR.use_plan(again, plan(again), warnings.append)
    bars = []

    class Bar:
        def update(self, n):
            bars.append(n)

    def progress(label, todo):
        assert "(1 done before)" in label and todo == len(again.plan.tasks) - 1
        from contextlib import nullcontext
        return nullcontext(Bar())

    results = CR.simulate(again, P.execute, progress)
    assert len(bars) == len(again.plan.tasks) - 1 and again.resumed_from == 1
    resumed = CR.finish(again, files(again, results), results)
    for name in ("sweep.csv", "sweep_differences.csv", "sweep_breakeven.csv", "cases.csv"):
        assert (resumed / name).read_bytes() == (final / name).read_bytes(), f"{name} differs after the resume"
    assert warnings == [], "same code, same plan: no warning"
    with pytest.raises(OutputError, match="already exists; this run was finished before|not an interrupted run"):
        CR.resume_run("sweep", resumed, 1, None, None, warnings.append)


def test_arms_are_checked_with_one_line_each():
    loaded = load(TINY)
    with pytest.raises(CR.CaseRunError) as exc:
        CR.pick_arms(loaded, ("nope",), "psa", TINY)
    assert exc.value.problems == [f"--arm: expected arms of the scenario {list(loaded.arms)}; found ['nope']"]
    one = load(TINY, ["arms={usual_processing: {set: {lead.enabled: false}}}", "calibration=null"])
    with pytest.raises(CR.CaseRunError, match="psa compares arms; the scenario needs at least two arms"):
        CR.pick_arms(one, (), "psa", TINY)
