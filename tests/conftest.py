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
# The model's one entry point is replaced, for the whole test session, by one that checks the
# invariants of tests/invariants.py on what it returns. This runs when pytest imports this file,
# before any test module or lead_sim.experiment binds `simulate`, so every simulation a test
# makes (directly, through run_experiment, the CLI in-process, or pool workers forked from
# here) is checked.

_simulate = getattr(engine.simulate, "__wrapped__", engine.simulate)  # this file may be imported twice


def _simulate_checked(scenario, replication: int):
    sim = _simulate(scenario, replication)
    check_invariants(sim, f"{scenario.name} replication {replication}")
    return sim


_simulate_checked.__doc__ = _simulate.__doc__
_simulate_checked.__wrapped__ = _simulate
_simulate_checked.checks_invariants = True
if not getattr(engine.simulate, "checks_invariants", False):
    engine.simulate = _simulate_checked
