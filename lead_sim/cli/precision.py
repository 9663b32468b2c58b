"""``lead-sim compare --precision``: its options, their checks, and adding replications (``runs.precision``).

The three options reach the command as arguments and travel as one :class:`Precision` value
(no shared state in the click context): the command checks it against the scenario before
anything runs (:meth:`Precision.problems`) and hands it to :func:`to_precision` after the first
replications.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from dataclasses import dataclass

import click

from lead_sim.cli.errors import fail
from lead_sim.outcomes.metrics import metric_names
from lead_sim.runs import experiment
from lead_sim.runs.precision import run_to_precision
from lead_sim.scenario.loading import with_value
from lead_sim.scenario.schema import Scenario

DEFAULT_PRECISION_METRICS = ("bookings_per_person_year", "cost_total_per_person_usd")
DEFAULT_MAX_REPS = 200


def precision_options(f):
    """``--precision``, ``--precision-metric``, ``--max-reps`` for compare: the command gets them as
    its arguments ``precision``, ``precision_metric`` and ``max_reps`` (see :class:`Precision`)."""
    opts = [
        click.option("--precision", "precision", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="REL",
                     help="add replications until the chosen metrics' 95% intervals (every arm's mean and every "
                          "paired difference) have half-widths at most REL times the number, e.g. 0.05"),
        click.option("--precision-metric", "precision_metric", multiple=True, metavar="METRIC",
                     help="metric for --precision (repeatable; default bookings_per_person_year and "
                          "cost_total_per_person_usd)"),
        click.option("--max-reps", "max_reps", type=click.IntRange(min=2), default=DEFAULT_MAX_REPS, show_default=True,
                     help="with --precision: never run more replications than this"),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@dataclass(frozen=True)
class Precision:
    """What ``--precision`` asks for: the relative half-width (None: no precision target), the
    metrics (empty: the defaults) and the most replications to run."""

    target: float | None = None
    metrics: tuple[str, ...] = ()
    max_reps: int = DEFAULT_MAX_REPS

    @property
    def chosen(self) -> list[str]:
        """The metrics whose intervals must be narrow enough."""
        return list(self.metrics or DEFAULT_PRECISION_METRICS)

    def problems(self, base: Scenario) -> list[str]:
        """What is wrong with these options for scenario ``base`` (checked before anything runs:
        ``cli.main._start``); empty without ``--precision``."""
        if not self.target:
            return []
        problems = []
        known = metric_names(base)
        bad = [m for m in self.chosen if m not in known]
        if bad:
            close = sorted({c for m in bad for c in difflib.get_close_matches(m, known, n=2, cutoff=0.5)})
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            problems.append(f"--precision-metric: {hint}expected metrics of this scenario, e.g. {known[2:8]}; found {bad}")
        if self.max_reps < base.run.replications:
            problems.append(f"--max-reps {self.max_reps}: below the {base.run.replications} replications asked for "
                            f"(--reps or run.replications); expected at least {base.run.replications}")
        return problems


#: no ``--precision``: the replications asked for, no more (commands without the options)
NO_PRECISION = Precision()


def to_precision(run, precision: Precision, analyses: tuple[str, ...]) -> None:
    """With a precision target: add replications to ``run.result`` until it is met (``cli.main.Run``),
    write precision.csv and say whether it was reached."""
    target = precision.target
    if not target:
        return
    chosen = precision.chosen
    problems = precision.problems(run.base)  # checked before the run started too (cli.main._start)
    if problems:
        fail(problems)

    def more(first: int, count: int):
        with click.progressbar(length=len(run.arms) * count, file=sys.stderr, show_eta=True,
                               label=f"simulating replications {first} to {first + count - 1}") as bar:
            return experiment.run_experiment(run.arms, count, jobs=run.jobs, keep_tables=run.keep_events,
                                             analyses=analyses, on_done=lambda _r: bar.update(1),
                                             first_replication=first)

    run.result, table = run_to_precision(run.result, run.comparator, chosen, target, precision.max_reps, more,
                                         report=lambda s: click.echo(s, err=True))
    n = run.result.replications
    if n != run.base.run.replications:  # the folder records the replications actually run
        run.loaded = dataclasses.replace(run.loaded, base=with_value(run.base, "run.replications", n))
    run.folder.write_csv("precision.csv", table)
    worst = table["relative_half_width"].max()
    state = "reached" if table["met"].all() else f"NOT reached (--max-reps {n}; worst {worst:.1%})"
    click.echo(f"precision: relative half-width <= {target:.1%} for {', '.join(chosen)}: {state} with {n} "
               "replications (precision.csv)", err=True)
