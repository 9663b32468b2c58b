"""The command line: parse, call one function, print where the results went.

``lead-sim compare``   every arm of a scenario, paired by replication (default: Denver pilot)
``lead-sim run``       one arm
``lead-sim validate``  check scenario files without running them
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from lead_sim import experiment
from lead_sim.output import OutputError, RunFolder, manifest, sha256_file
from lead_sim.report_text import comparison_csv, comparison_json, comparison_table
from lead_sim.scenario.loading import LoadedScenario, ScenarioError, load, resolved_yaml

REPO_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SCENARIO = "denver_pilot.yaml"


def default_scenario() -> Path:
    candidate = REPO_SCENARIOS / DEFAULT_SCENARIO
    if candidate.exists():
        return candidate
    raise click.UsageError(
        f"the bundled scenario {DEFAULT_SCENARIO} was not found next to the package "
        f"(looked in {REPO_SCENARIOS}); pass a scenario file, or install with `pip install -e .` from a checkout"
    )


def _fail(lines: list[str], code: int = 2) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def _load(path: Path, overrides: list[str]) -> LoadedScenario:
    try:
        return load(path, overrides)
    except ScenarioError as exc:
        _fail(exc.problems)
        raise  # unreachable


common_options = [
    click.option("--reps", type=click.IntRange(min=1), default=None, help="replications (default: run.replications)"),
    click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=None, help="root seed (default: run.seed)"),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                 help="override a scenario key, e.g. --set lead.case_managers=5 (value read as YAML)"),
    click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True,
                 help="folder that receives the run folder"),
    click.option("--jobs", type=click.IntRange(min=1), default=None, help="worker processes (default: all cores)"),
    click.option("--keep-events", type=click.Choice(["none", "first", "all"]), default="first", show_default=True,
                 help="which replications' events/spells/people tables to save as Parquet"),
    click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True),
]


def with_common(f):
    for opt in reversed(common_options):
        f = opt(f)
    return f


class _Group(click.Group):
    """Keeps the arguments it was given, so a run records the command that started it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["lead_sim.argv"] = ["lead-sim", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lead-sim")
def main() -> None:
    """lead-sim: cost-effectiveness simulation of police diversion (LEAD) vs usual processing."""


@main.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@with_common
def compare(scenario, reps, seed, overrides, out, jobs, keep_events, fmt):
    """Run every arm of SCENARIO (default: the bundled Denver pilot) and compare them.

    Arms are paired by replication (common random numbers); each metric is shown as every
    arm's mean with a 95% confidence interval, and each arm's difference from the comparator
    arm with a 95% interval of the paired differences.
    """
    _run_command(scenario or default_scenario(), None, reps, seed, overrides, out, jobs, keep_events, fmt)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--arm", required=True, help="name of the arm to run")
@with_common
def run(scenario, arm, reps, seed, overrides, out, jobs, keep_events, fmt):
    """Run one ARM of SCENARIO."""
    _run_command(scenario, arm, reps, seed, overrides, out, jobs, keep_events, fmt)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a key before validating")
def validate(files, overrides):
    """Check scenario FILES (and every arm in them) without running anything."""
    bad = 0
    for path in files:
        try:
            loaded = load(path, overrides)
        except ScenarioError as exc:
            bad += 1
            for line in exc.problems:
                click.echo(f"error: {line}", err=True)
            continue
        click.echo(f"ok: {path} (scenario {loaded.base.name}; arms: {', '.join(loaded.arms)})")
    if bad:
        click.echo(f"{bad} of {len(files)} file(s) invalid", err=True)
        sys.exit(2)


def _run_command(path, arm, reps, seed, overrides, out, jobs, keep_events, fmt):
    overrides = list(overrides)
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    if reps is not None:
        overrides.append(f"run.replications={reps}")
    loaded = _load(path, overrides)
    base = loaded.base
    if arm is not None and arm not in loaded.arms:
        _fail([f"{path}: --arm {arm!r} is not an arm of this scenario; arms are {list(loaded.arms)}"])
    arms = {arm: loaded.arms[arm]} if arm else loaded.arms
    comparator = None if arm else base.run.comparator
    n_reps = base.run.replications
    jobs = jobs or experiment.default_jobs()
    try:
        folder = RunFolder(out, base.name)
    except OutputError as exc:
        _fail([str(exc)], code=3)
    inputs = [Path(p) for p in loaded.files]
    input_hashes = {str(p): sha256_file(p) for p in inputs}
    start = time.perf_counter()
    n_tasks = len(arms) * n_reps
    try:
        with click.progressbar(length=n_tasks, label=f"simulating {len(arms)} arm(s) x {n_reps} replication(s)",
                               file=sys.stderr, show_eta=True) as bar:
            result = experiment.run_experiment(arms, n_reps, jobs=jobs, keep_tables=keep_events,
                                               on_done=lambda _r: bar.update(1))
        summary = experiment.summarise(result.metrics)
        comparison = experiment.compare(result.metrics, comparator) if comparator and len(arms) > 1 else None
        folder.write_text("scenario.resolved.yaml", resolved_yaml(base))
        folder.write_csv("metrics.csv", result.metrics)
        folder.write_csv("summary.csv", summary)
        if comparison is not None:
            folder.write_csv("comparison.csv", comparison)
        for name, df in result.tables.items():
            folder.write_parquet(f"{name}.parquet", df)
        wall = time.perf_counter() - start
        folder.write_json("manifest.json", manifest(
            seed=base.run.seed, replications=n_reps, arms=list(arms), inputs=inputs, wall_seconds=wall, jobs=jobs,
            command_line=click.get_current_context().meta.get("lead_sim.argv"),
            extra={"scenario": base.name, "comparator": comparator, "input_sha256": input_hashes,
                   "keep_events": keep_events, "model_events": result.n_steps,
                   "person_years_simulated": round(result.person_years_simulated, 1),
                   "analysis_period": [str(base.run.start_date), str(base.run.end_date)]},
        ))
        final = folder.commit()
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: partial results left in {folder.path} (marked incomplete)", err=True)
        sys.exit(130)
    info = {"scenario": base.name, "run_dir": str(final), "arms": list(arms), "comparator": comparator,
            "replications": n_reps, "seed": base.run.seed,
            "analysis_period": [str(base.run.start_date), str(base.run.end_date)]}
    if fmt == "json":
        click.echo(comparison_json(info, summary, comparison))
    elif fmt == "csv":
        click.echo(comparison_csv(summary, comparison), nl=False)
    else:
        click.echo(
            f"scenario {base.name}: {len(arms)} arm(s), {n_reps} paired replications, seed {base.run.seed}, "
            f"analysis {base.run.start_date} to {base.run.end_date}, costs in {base.run.price_year} USD "
            f"discounted at {base.run.discount_rate_per_year:.0%}/yr"
        )
        click.echo("mean (95% CI over replications); differences are paired by replication\n")
        click.echo(comparison_table(summary, comparison, list(arms), comparator))
        click.echo(f"\nresults: {final}  ({wall:.1f} s on {jobs} worker(s))")


if __name__ == "__main__":  # pragma: no cover
    main()
