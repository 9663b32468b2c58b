"""What every command shares: where the bundled scenarios are, and the default one."""

from __future__ import annotations

from pathlib import Path

import click

REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_SCENARIO = "denver_pilot.yaml"


def default_scenario() -> Path:
    """The bundled default scenario (a usage error naming where it was looked for, if missing)."""
    candidate = REPO_SCENARIOS / DEFAULT_SCENARIO
    if candidate.exists():
        return candidate
    raise click.UsageError(
        f"the bundled scenario {DEFAULT_SCENARIO} was not found next to the package "
        f"(looked in {REPO_SCENARIOS}); pass a scenario file, or install with `pip install -e .` from a checkout"
    )


def refuse_short_through(path: Path, overrides, through: int | None) -> None:
    """``budget --through YEAR``: stop with one ``error:`` line when YEAR is before the end of the
    scenario's own analysis (``--through`` only extends it; ``--set run.end_date=...`` shortens it).

    A scenario that does not load is left for the command to report as usual.
    """
    if through is None:
        return
    from lead_sim.analysis.budget import through_problem
    from lead_sim.cli.errors import fail
    from lead_sim.scenario.loading import ScenarioError, load

    try:
        base = load(path, list(overrides)).base
    except ScenarioError:
        return
    problem = through_problem(base, through)
    if problem:
        fail([problem])
