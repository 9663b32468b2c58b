"""Shared fixtures: paths to the bundled scenarios and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

import lead_sim.model.engine as engine
from lead_sim.scenario.loading import load
from tests.invariants import check_invariants

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TEST_SCENARIOS = Path(__file__).resolve().parent / "scenarios"

#: shrinks the demo further for fast model tests
SMALL = [
    "population.initial_people=200",
    "population.arrivals_per_year=40",
    "run.warmup_days=180",
    "run.end_date=2020-06-30",
]


@pytest.fixture(scope="session")
def demo_path() -> Path:
    return SCENARIOS / "demo.yaml"


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return TEST_SCENARIOS / "tiny.yaml"


def load_arms(path: Path, overrides=()):
    return load(path, list(overrides)).arms


# ---- invariants on every simulated run -----------------------------------------------------------------------------
# Every simulation ends in ``Simulation.finish`` (``simulate`` calls it; so does each forked
# branch of lead_sim.runs.branching). For the whole test session it is replaced by one that checks
# the invariants of tests/invariants.py on what it returns, so every simulation a test makes
# (directly, through run_experiment, the CLI in-process, pool workers or forked branches) is
# checked.

_finish = getattr(engine.Simulation.finish, "__wrapped__", engine.Simulation.finish)  # may be imported twice


def _finish_checked(self):
    sim = _finish(self)
    check_invariants(sim, self.label)
    return sim


_finish_checked.__doc__ = _finish.__doc__
_finish_checked.__wrapped__ = _finish
_finish_checked.checks_invariants = True
if not getattr(engine.Simulation.finish, "checks_invariants", False):
    engine.Simulation.finish = _finish_checked
