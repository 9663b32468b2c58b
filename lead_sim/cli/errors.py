"""The one way the command line reports bad input: one ``error:`` line per problem, then exit."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from lead_sim.runs.executors import PROCESS_DIED

__all__ = ["PROCESS_DIED", "fail", "process_died"]


def fail(lines: list[str], code: int = 2) -> NoReturn:
    """Print each problem as ``error: ...`` on stderr and exit with ``code`` (2 bad input, 3 output)."""
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def process_died(exc: BaseException, where: str) -> NoReturn:
    """Report a dead worker or simulation process (exit 3): what happened and what was kept."""
    what = str(exc) or "a worker process ended abruptly"
    fail([f"a simulation process died ({what}); {where}"], code=3)
