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
