"""Shared fixtures: paths to the bundled scenarios and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead_sim.scenario.loading import load

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
