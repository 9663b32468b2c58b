"""Slow statistical checks of the bundled Denver scenario (run with ``pytest -m slow``)."""

from __future__ import annotations

import pytest

from lead_sim.runs.experiment import compare, run_experiment, summarise
from tests.conftest import SCENARIOS, load_arms

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pilot_to_early_2021():
    arms = load_arms(SCENARIOS / "denver_pilot.yaml", ["run.end_date=2021-01-31"])
    res = run_experiment(arms, 16, jobs=2, keep_tables="none")
    return summarise(res.metrics).set_index(["arm", "metric"]), compare(res.metrics, "usual_processing")


def test_pilot_enrols_about_118_by_early_2021(pilot_to_early_2021):
    """Denver: about 118 people served by early 2021 (PRIMER). The scenario was tuned to it."""
    summary, _ = pilot_to_early_2021
    row = summary.loc[("lead_pilot", "lead_enrolled")]
    assert 118 * 0.9 <= row["mean"] <= 118 * 1.1, f"expected about 118 enrolled; simulated {row['mean']:.1f}"
    assert row["ci_low"] <= 118 * 1.05 and row["ci_high"] >= 118 * 0.95, f"interval {row['ci_low']:.1f}-{row['ci_high']:.1f}"


def test_lead_reduces_bookings_and_adds_program_cost(pilot_to_early_2021):
    _, comparison = pilot_to_early_2021
    c = comparison.set_index(["arm", "metric"])
    bookings = c.loc[("lead_pilot", "bookings_per_person_year")]
    assert bookings["ci_high"] < 0, f"LEAD should reduce bookings; difference {bookings['difference']:.4f}"
    cm = c.loc[("lead_pilot", "cost_lead_case_management_per_person_usd")]
    assert cm["ci_low"] > 0
    jail = c.loc[("lead_pilot", "jail_days_per_person_year")]
    assert jail["ci_high"] < 0, f"LEAD should reduce jail days; difference {jail['difference']:.4f}"
