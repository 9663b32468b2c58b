"""Sharing the years before LEAD starts (lead_sim.runs.branching): identical results, or no sharing.

The oracle is the plain path: ``simulate(sc, r)`` for each arm on its own. Forked branches must
give exactly the same events, spells and people, whatever LEAD's start, end, capacity schedule
or switch; scenarios that differ outside LEAD are never grouped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from lead_sim.model.engine import Simulation, simulate
from lead_sim.runs import branching as B
from lead_sim.scenario.loading import load

SCEN = Path(__file__).resolve().parents[1] / "scenarios"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs os.fork")

SMALL = ["population.initial_people=150", "population.arrivals_per_year=30", "run.warmup_days=200",
         "run.end_date=2020-06-30"]


def tables(sim) -> tuple:
    return sim.events, sim.spells, sim.people, sim.n_steps


def assert_same(a: tuple, b: tuple) -> None:
    for x, y in zip(a[:3], b[:3], strict=True):
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert a[3] == b[3]


def arms(extra: list[str] = ()) -> dict:
    return load(SCEN / "demo.yaml", SMALL + list(extra)).arms


def variants() -> list:
    """LEAD arms that differ in what LEAD does and when, around one usual-processing arm."""
    base = arms()
    out = [base["usual_processing"], base["lead_pilot"], base["lead_continued"]]
    more = [
        ["lead.start_date=2019-06-01"],                          # starts later than the others
        ["lead.start_date=2018-10-01"],                          # starts during the warm-up
        ["lead.case_managers={start: 1, 2019-09-01: 3, 2020-01-01: 0}"],  # capacity changes, to zero
        ["lead.when_full=book", "lead.caseload_per_manager=2"],  # full programme books instead
        ["lead.rr_contact_engaged=0.1", "lead.districts=[1,2,3,4,5,6]"],
    ]
    for extra in more:
        out.append(arms(extra)["lead_continued"])
    return out


def test_branches_equal_separate_simulations():
    scs = variants()
    assert len({B.prefix_key(sc) for sc in scs}) == 1
    for r in (0, 3):
        expected = [tables(simulate(sc, r)) for sc in scs]
        got = B.simulate_branches(scs, r, lambda i, sim: tables(sim))
        assert B.can_fork()  # the comparison above really exercised the forked path
        for e, g in zip(expected, got, strict=True):
            assert_same(e, g)


def test_lead_really_differs_between_branches():
    # not a vacuous equality: the branches' histories are not all the same
    got = B.simulate_branches(variants(), 1, lambda i, sim: len(sim.events))
    assert len(set(got)) >= 4


def test_no_fork_gives_the_same(monkeypatch):
    scs = variants()[:3]
    forked = B.simulate_branches(scs, 2, lambda i, sim: tables(sim))
    monkeypatch.setenv("LEAD_SIM_NO_FORK", "1")
    assert not B.can_fork()
    plain = B.simulate_branches(scs, 2, lambda i, sim: tables(sim))
    for a, b in zip(forked, plain, strict=True):
        assert_same(a, b)


def test_scenarios_that_differ_outside_lead_are_not_grouped():
    a = arms()["lead_pilot"]
    b = arms(["contact.p_arrest_if_offense=0.5"])["lead_pilot"]
    c = arms(["costs.per_event.arrest.police.average=1"])["lead_pilot"]  # costs do not matter to the model
    assert B.prefix_key(a) != B.prefix_key(b)
    assert B.prefix_key(a) == B.prefix_key(c)
    items = [(a, 0), (b, 0), (a, 1), (c, 0), (a, 0)]
    groups = B.group_by_prefix(items, lambda x: x[0], lambda x: x[1])
    assert groups == [[0, 3, 4], [1], [2]]
    assert B.group_by_prefix(items, lambda x: x[0], lambda x: x[1], max_size=2) == [[0, 3], [1], [2], [4]]
    with pytest.raises(ValueError, match="differ outside LEAD"):
        B.simulate_branches([a, b], 0, lambda i, sim: None)


def test_an_error_in_a_branch_reaches_the_caller():
    def finish(i, sim):
        if i == 0:
            raise ArithmeticError(f"branch {i} failed")
        return i

    with pytest.raises(ArithmeticError, match="branch 0 failed") as info:
        B.simulate_branches(variants()[:2], 0, finish)
    assert any("forked simulation process" in n for n in getattr(info.value, "__notes__", []))


def test_lead_parameters_cannot_be_set_after_lead_started():
    sc = arms()["lead_pilot"]
    sim = Simulation(sc, 0)
    sim.run_until(30.0)  # LEAD started on day 0
    with pytest.raises(RuntimeError, match="before LEAD starts"):
        sim.set_lead(sc)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["denver_pilot.yaml", "citywide.yaml", "seattle_lead.yaml"])
def test_bundled_scenarios_branch_exactly(name):
    loaded = load(SCEN / name, [])
    groups = B.group_by_prefix(list(loaded.arms.values()), lambda sc: sc, lambda sc: 0)
    assert len(groups) == 1  # every bundled arm differs from the others only in LEAD and costs
    scs = list(loaded.arms.values())
    got = B.simulate_branches(scs, 0, lambda i, sim: tables(sim))
    for sc, g in zip(scs, got, strict=True):
        assert_same(tables(simulate(sc, 0)), g)


def test_a_branch_killed_without_a_result_is_reported():
    def finish(i, sim):
        if i == 0:
            os.kill(os.getpid(), 9)  # as the out-of-memory killer would
        return i

    with pytest.raises(RuntimeError, match="killed by signal 9"):
        B.simulate_branches(variants()[:2], 0, finish)


CTRL_C_DURING_FORK = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from lead_sim.runs import branching as B
from test_branching import variants
# Ctrl-C raises KeyboardInterrupt, as in a terminal (pytest-xdist's workers ignore SIGINT, and so
# would this process, which inherits that)
signal.signal(signal.SIGINT, signal.default_int_handler)
# Ctrl-C while os.fork runs its at-fork hooks in the parent (as logging's are): the worst moment
os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))
children = []
real_fork = os.fork
def fork():
    pid = real_fork()
    if pid:
        children.append(pid)
    return pid
os.fork = fork
try:
    B.simulate_branches(variants()[:2], 0, lambda i, sim: i)
except KeyboardInterrupt:
    for pid in children:
        try:
            os.waitpid(pid, os.WNOHANG)
            print("a child was left behind:", pid)  # not reaped: still running or a zombie
        except ChildProcessError:
            pass  # ended and reaped by simulate_branches
    print("interrupted, children:", len(children))
    sys.exit(130)
print("not interrupted")
"""


def test_ctrl_c_during_a_fork_is_raised_not_lost(tmp_path):
    # the interrupt must reach the caller as KeyboardInterrupt (no 'Exception ignored'
    # traceback, no lost Ctrl-C) and the child must not be left running
    import subprocess
    import sys

    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_DURING_FORK.format(tests=str(Path(__file__).resolve().parent)), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 130, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    assert run.stdout.strip() == "interrupted, children: 1", run.stdout
