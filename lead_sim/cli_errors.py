"""The one way the command line reports bad input: one ``error:`` line per problem, then exit."""

from __future__ import annotations

import sys

import click


def fail(lines: list[str], code: int = 2) -> None:
    """Print each problem as ``error: ...`` on stderr and exit with ``code`` (2 bad input, 3 output)."""
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)
