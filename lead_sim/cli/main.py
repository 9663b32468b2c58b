"""The command line: parse, call the analysis functions, print where the results went.

``lead-sim compare``   every arm of a scenario, paired by replication (default: Denver pilot)
``lead-sim run``       one arm
``lead-sim budget``    costs by payer, agency and fiscal year; the grant; jail savings; funding need
``lead-sim cea``       incremental cost-effectiveness, dominance, net benefit, break-even values
``lead-sim validate``  check scenario files without running them
``lead-sim psa``       probabilistic sensitivity analysis (CEAC, EVPI, drivers); ``tornado``; ``sweep``
"""

from __future__ import annotations

import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import click
import pandas as pd

from lead_sim.analysis import budget as B
from lead_sim.analysis.cea_tables import cea_files
from lead_sim.cli.common import default_scenario, refuse_short_through
from lead_sim.cli.errors import PROCESS_DIED, fail, process_died
from lead_sim.cli.lens import costs_option, lens_line, lens_overrides
from lead_sim.cli.precision import NO_PRECISION, Precision, precision_options, to_precision
from lead_sim.report.commands import maybe_report, report_option
from lead_sim.report.headline import Period, compact_table, headline, pointer
from lead_sim.report.headline import render as render_headline
from lead_sim.report.labels import grant_spent_by
from lead_sim.report.text import comparison_csv, comparison_json, comparison_table, frame_table
from lead_sim.report.text import fmt as fmt_num
from lead_sim.runs import experiment
from lead_sim.runs.output import OutputError, RunFolder, manifest, sha256_file
from lead_sim.scenario.loading import LoadedScenario, ScenarioError, load, resolved_yaml

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
    costs_option,
]


all_option = click.option("--all", "show_all", is_flag=True, default=False,
                          help="print every metric (snake_case names as in summary.csv), each arm's mean with its "
                               "95% interval and each difference, instead of the compact table")


def with_common(f):
    """Decorate a command with the options every simulating command shares (``common_options``, in order)."""
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


# ---- shared run machinery ------------------------------------------------------------------------


@dataclass
class Run:
    """One command's run: the loaded scenario, its run folder, and what it produced."""

    path: Path
    loaded: LoadedScenario
    arms: dict
    comparator: str | None
    jobs: int
    keep_events: str
    folder: RunFolder
    result: experiment.ExperimentResult | None = None
    summary: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    started: float = field(default_factory=time.perf_counter)
    precision: Precision = NO_PRECISION

    @property
    def base(self):
        """The validated base scenario (overrides applied, before any arm's settings)."""
        return self.loaded.base


def _start(path, arm, reps, seed, overrides, out, jobs, keep_events, costs, extra_overrides=(), option="",
           precision: Precision = NO_PRECISION) -> Run:
    """``costs``: the ``--costs`` lens (None: the scenario's). ``extra_overrides``: keys a command's own
    ``option`` (e.g. ``--through 2025``) sets, named in place of ``--set`` when the scenario refuses
    them. ``precision``: compare's ``--precision`` options, checked here before anything runs."""
    overrides = list(overrides) + lens_overrides(costs) + list(extra_overrides)
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    if reps is not None:
        overrides.append(f"run.replications={reps}")
    try:
        loaded = load(path, overrides)
    except ScenarioError as exc:
        keys = [o.split("=", 1)[0] for o in extra_overrides]
        fail([f"{option}: {line[len('--set: '):]}" if option and any(line.startswith(f"--set: {k}:") for k in keys)
              else line for line in exc.problems])
    if arm is not None and arm not in loaded.arms:
        fail([f"{path}: --arm {arm!r} is not an arm of this scenario; arms are {list(loaded.arms)}"])
    problems = precision.problems(loaded.base)
    if problems:
        fail(problems)
    arms = {arm: loaded.arms[arm]} if arm else loaded.arms
    comparator = None if arm or len(arms) < 2 else loaded.base.run.comparator
    try:
        folder = RunFolder(out, loaded.base.name)
    except OutputError as exc:
        fail([str(exc)], code=3)
    return Run(Path(path), loaded, arms, comparator, jobs or experiment.default_jobs(), keep_events, folder,
               precision=precision)


def _simulate(run: Run, analyses: tuple[str, ...] = ()) -> None:
    n_reps = run.base.run.replications
    with click.progressbar(length=len(run.arms) * n_reps, label=f"simulating {len(run.arms)} arm(s) x {n_reps} replication(s)",
                           file=sys.stderr, show_eta=True) as bar:
        run.result = experiment.run_experiment(run.arms, n_reps, jobs=run.jobs, keep_tables=run.keep_events,
                                               analyses=analyses, on_done=lambda _r: bar.update(1))
    to_precision(run, run.precision, analyses)  # compare --precision: more replications until precise enough
    result = cast(experiment.ExperimentResult, run.result)  # set just above
    run.summary = experiment.summarise(result.metrics)
    run.comparison = experiment.compare(result.metrics, run.comparator) if run.comparator else None


def _finish(run: Run, files: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write the standard files plus ``files`` and the manifest, then mark the folder complete."""
    folder, base, result = run.folder, run.base, cast(experiment.ExperimentResult, run.result)  # after _simulate
    folder.write_text("scenario.resolved.yaml", resolved_yaml(base))
    folder.write_csv("metrics.csv", result.metrics)
    folder.write_csv("summary.csv", run.summary)
    if run.comparison is not None:
        folder.write_csv("comparison.csv", run.comparison)
    for name, df in (files or {}).items():
        folder.write_csv(name, df)
    for name, df in result.tables.items():
        folder.write_parquet(f"{name}.parquet", df)
    inputs = [Path(p) for p in run.loaded.files]
    folder.write_json("manifest.json", manifest(
        seed=base.run.seed, replications=base.run.replications, arms=list(run.arms), inputs=inputs,
        wall_seconds=time.perf_counter() - run.started, jobs=run.jobs,
        command_line=click.get_current_context().meta.get("lead_sim.argv"),
        extra={"scenario": base.name, "comparator": run.comparator, "input_sha256": {str(p): sha256_file(p) for p in inputs},
               "keep_events": run.keep_events, "model_events": result.n_steps,
               "person_years_simulated": round(result.person_years_simulated, 1),
               "analysis_period": [str(base.run.start_date), str(base.run.end_date)],
               "price_year": base.run.price_year, "discount_rate_per_year": base.run.discount_rate_per_year},
    ))
    return folder.commit()


def _guarded(work):
    """Run ``work(run)``; on Ctrl-C or a failed write say where the partial (incomplete) results are."""
    def wrapper(run: Run):
        try:
            return work(run)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: partial results left in {run.folder.path} (marked incomplete)", err=True)
            sys.exit(130)
        except PROCESS_DIED as exc:
            process_died(exc, f"partial results left in {run.folder.path} (marked incomplete)")
        except OSError as exc:
            where = exc.filename or run.folder.path
            fail([f"cannot write results ({where}): {exc.strerror or exc}; partial results left in "
                   f"{run.folder.path} (marked incomplete)"], code=3)
    return wrapper


def _header(run: Run) -> str:
    b = run.base.run
    reps = "1 replication" if b.replications == 1 else \
        f"{b.replications} {'paired ' if len(run.arms) > 1 else ''}replications"
    text = (f"scenario {run.base.name}: {len(run.arms)} arm(s), {reps}, seed {b.seed}, "
            f"analysis {b.start_date} to {b.end_date}, costs in {b.price_year} USD discounted at {b.discount_rate_per_year:.0%}/yr")
    return "\n".join(textwrap.wrap(text, 100, break_on_hyphens=False)
                     + textwrap.wrap(lens_line(run.base), 100, break_on_hyphens=False))


def _interval_note(run: Run) -> str:
    """What the intervals printed below are, and how far to trust them."""
    n = run.base.run.replications
    paired = "; differences are paired by replication" if run.comparator else ""
    if n == 1:
        return f"one replication: means without intervals{paired} (use --reps for intervals)"
    few = "; few replications, so the intervals are wide (and may cross 0 where no value can)" if n < 5 else ""
    return f"mean (95% CI over replications){paired}{few}"


def _headline(run: Run) -> list[list[str]]:
    """The run's headline paragraphs (``report.headline``); none without a comparator."""
    b = run.base.run
    return headline(cast(pd.DataFrame, run.summary), run.comparison, list(run.arms), run.comparator,
                    Period(b.start_date, b.end_date, b.price_year, b.discount_rate_per_year, b.replications))


def _echo_headline(run: Run) -> None:
    """Print the headline, then a blank line (nothing without a comparator)."""
    paragraphs = _headline(run)
    if paragraphs:
        click.echo(render_headline(paragraphs) + "\n")


def _info(run: Run, final: Path) -> dict:
    b = run.base.run
    return {"scenario": run.base.name, "run_dir": str(final), "arms": list(run.arms), "comparator": run.comparator,
            "replications": b.replications, "seed": b.seed, "analysis_period": [str(b.start_date), str(b.end_date)]}


# ---- compare / run ---------------------------------------------------------------------------------

GROUP_CHOICES = ["district", "sex", "race_ethnicity"]


@main.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@with_common
@precision_options
@click.option("--by", "by", multiple=True, type=click.Choice(GROUP_CHOICES),
              help="also report every metric by subgroup (summary_by_<group>.csv, comparison_by_<group>.csv, e.g. "
                   "summary_by_district.csv; district: a person's home district, not where each contact happened)")
@click.option("--evaluation", is_flag=True,
              help="also run the Seattle evaluation design in every arm where LEAD runs (evaluation.csv)")
@all_option
@report_option
def compare(scenario, reps, seed, overrides, out, jobs, keep_events, fmt, costs, precision, precision_metric, max_reps,
            by, evaluation, show_all, report):
    """Run every arm of SCENARIO (default: the bundled Denver pilot) and compare them.

    Opens with a few sentences per arm against the comparator (total cost for the whole group,
    per LEAD participant and per person; who pays and who saves; re-arrests, jail days and days
    of drug use per participant), then a compact table. Arms are paired by replication (common
    random numbers); each difference from the comparator has a 95% interval of the paired
    differences (simulation noise only). --all prints every metric, each arm's mean with its
    95% interval and the differences.
    """
    run = _start(scenario or default_scenario(), None, reps, seed, overrides, out, jobs, keep_events, costs,
                 precision=Precision(precision, precision_metric, max_reps))
    _compare_body(run, fmt, by, report, evaluation, show_all)


@main.command(name="run")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--arm", required=True, help="name of the arm to run")
@with_common
@all_option
def run_arm(scenario, arm, reps, seed, overrides, out, jobs, keep_events, fmt, costs, show_all):
    """Run one ARM of SCENARIO (a compact table of its measures; --all: every metric)."""
    run = _start(scenario, arm, reps, seed, overrides, out, jobs, keep_events, costs)
    _compare_body(run, fmt, (), show_all=show_all)


def _compare_body(run: Run, fmt: str, by, report: bool = False, evaluation: bool = False,
                  show_all: bool = False) -> None:
    @_guarded
    def work(run: Run):
        _simulate(run, tuple(f"group:{g}" for g in by) + (("evaluation",) if evaluation else ()))
        files = {}
        if evaluation:
            extras = cast(experiment.ExperimentResult, run.result).extras  # set by _simulate
            files["evaluation.csv"] = experiment.summarise_evaluation(extras["evaluation"])
            files["evaluation_utilisation.csv"] = experiment.summarise_utilisation(extras["evaluation_utilisation"])
            files["evaluation_baseline.csv"] = experiment.summarise_baseline(extras["evaluation_baseline"])
        for g in by:
            extras = cast(experiment.ExperimentResult, run.result).extras  # set by _simulate
            long = pd.concat([df.assign(arm=a, replication=r) for (a, r), df in extras[f"group:{g}"].items()],
                             ignore_index=True)
            s, c = experiment.summarise_groups(long, run.comparator)
            files[f"summary_by_{g}.csv"] = s
            if c is not None:
                files[f"comparison_by_{g}.csv"] = c
        return _finish(run, files), files

    final, files = work(run)
    if fmt == "json":
        info = _info(run, final)
        info["headline"] = _headline(run)
        info.update({name[:-4]: _records(df) for name, df in files.items()})  # --by, --evaluation tables
        click.echo(comparison_json(info, run.summary, run.comparison))
    elif fmt == "csv":
        click.echo(comparison_csv(run.summary, run.comparison), nl=False)
        _results_to_stderr(final)
    else:
        _echo_headline(run)
        click.echo(_header(run))
        if show_all:
            click.echo(_interval_note(run) + "\n")
            click.echo(comparison_table(run.summary, run.comparison, list(run.arms), run.comparator))
        else:
            click.echo("")
            click.echo(compact_table(cast(pd.DataFrame, run.summary), run.comparison, list(run.arms), run.comparator))
        for name, df in files.items():
            if name.startswith("comparison_by_"):
                key = df[df["metric"].isin(["bookings_per_person_year", "lead_enrolled", "cost_total_per_person_usd"])]
                click.echo(f"\n{name[len('comparison_by_'):-4]}: differences vs {run.comparator} (all metrics in {name})")
                click.echo(frame_table(key[["level", "arm", "metric", "difference", "ci_low", "ci_high"]]))
        if "evaluation.csv" in files:
            ev = files["evaluation.csv"].dropna(subset=["odds_ratio"])
            click.echo("\nSimulated evaluation (Seattle design): each target's odds ratio, LEAD group vs comparison "
                       "group (geometric mean over replications; 95% interval of the mean, from the t-interval of the "
                       "log odds ratios: the simulation's noise, not a published study's)")
            click.echo(frame_table(ev) if len(ev) else "(no arm with enough LEAD referrals)")
            click.echo(_utilisation_text(files["evaluation_utilisation.csv"], files["evaluation_baseline.csv"]))
        click.echo(f"\nresults: {final}  ({time.perf_counter() - run.started:.1f} s on {run.jobs} worker(s))")
        click.echo(pointer(str(final), "compare" if run.comparator else "run"))
    maybe_report(final, report)


def _utilisation_text(table: pd.DataFrame, baseline: pd.DataFrame) -> str:
    """compare --evaluation: per arm with a LEAD group, each window's rates per person-year before and
    after entry by group and the difference in differences; the prison shares; the groups at entry."""
    from lead_sim.outcomes import utilisation as U

    lines = ["\nSimulated evaluation: legal-system use per person-year before and after entry (mean over replications; "
             "after entry ends at LEAD exit or leaving; DiD = LEAD change - comparison change, 95% interval; "
             "every row in evaluation_utilisation.csv, the groups at entry in evaluation_baseline.csv)"]
    shown: dict[str, pd.DataFrame] = {}
    for arm, t in table.groupby("arm", sort=False):
        if t.loc[(t["group"] == U.LEAD) & (t["measure"] == U.PEOPLE), "mean"].fillna(0).max() == 0:
            continue  # no LEAD group in this arm
        values = t.drop(columns="arm").reset_index(drop=True)
        same = next((a for a, v in shown.items() if v.equals(values)), None)
        shown[str(arm)] = values
        if same is not None:
            lines.append(f"\n{arm}: the same as {same} (the arms do not differ during the evaluation)")
            continue
        at = t.set_index(["window", "measure", "group", "period"])
        for window in U.WINDOWS:
            n = {g: at["mean"].get((window, U.PEOPLE, g, U.ENTRY), float("nan")) for g in (U.LEAD, U.COMPARISON)}
            lines.append(f"\n{arm}, {U.LABELS[window]} (LEAD n {fmt_num(n[U.LEAD])}, comparison n "
                         f"{fmt_num(n[U.COMPARISON])})")
            rows = []
            for m in U.RATES:
                if (window, m, U.LEAD, U.BEFORE) not in at.index:
                    continue
                did = at.loc[(window, m, U.DIFFERENCE, U.DID)]
                rows.append({"per person-year": U.LABELS[m],
                             "LEAD before": fmt_num(at.loc[(window, m, U.LEAD, U.BEFORE), "mean"]),
                             "LEAD after": fmt_num(at.loc[(window, m, U.LEAD, U.AFTER), "mean"]),
                             "comparison before": fmt_num(at.loc[(window, m, U.COMPARISON, U.BEFORE), "mean"]),
                             "comparison after": fmt_num(at.loc[(window, m, U.COMPARISON, U.AFTER), "mean"]),
                             "DiD (95% CI)": _interval(did["mean"], did["ci_low"], did["ci_high"])})
            lines.append(frame_table(pd.DataFrame(rows)))
            share = {g: at["mean"].get((window, U.SHARE_ANY_PRISON, g, U.AFTER), float("nan")) for g in (U.LEAD, U.COMPARISON)}
            ratio = at.loc[(window, U.ANY_PRISON_OR, U.RATIO, U.AFTER)]
            lines.append(f"any prison admission after entry: LEAD {share[U.LEAD]:.1%}, comparison {share[U.COMPARISON]:.1%}; "
                         f"odds ratio {_interval(ratio['mean'], ratio['ci_low'], ratio['ci_high'])}")
        b = baseline[baseline["arm"] == arm].set_index(["measure", "group"])["mean"]
        for g, label in ((U.LEAD, "LEAD"), (U.COMPARISON, "comparison")):
            lines.append(f"at entry, {label}: n {fmt_num(b.get(('n', g)))}, prior arrests {fmt_num(b.get(('prior_arrests', g)))}, "
                         f"age {fmt_num(b.get(('age_years', g)))}, female {b.get(('share_female', g)):.0%}, "
                         f"in active use {b.get(('share_active_use', g)):.0%}, housed {b.get(('share_housed', g)):.0%}, "
                         f"employed {b.get(('share_employed', g)):.0%}")
    if not shown:
        lines.append("(no arm with a LEAD group)")
    return "\n".join(lines)


def _interval(mean: float, lo: float, hi: float) -> str:
    return fmt_num(mean) if pd.isna(lo) or pd.isna(hi) else f"{fmt_num(mean)} ({fmt_num(lo)} to {fmt_num(hi)})"


# ---- budget ------------------------------------------------------------------------------------------


@main.command(name="budget")
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@with_common
@click.option("--through", type=click.IntRange(min=1900, max=2100), default=None,
              help="extend the analysis to the end of this calendar year (a budget-impact projection; a year before the "
                   "scenario's end is refused)")
@click.option("--dollars", type=click.Choice(["constant", "nominal"]), default="constant", show_default=True,
              help="constant run.price_year dollars, or nominal (then-year) dollars for appropriations: CPI table, "
                   "then costs.projected_inflation_per_year; nominal tables hold undiscounted amounts only")
@report_option
def budget_cmd(scenario, reps, seed, overrides, out, jobs, keep_events, fmt, costs, through, dollars, report):
    """Costs by payer, agency and fiscal year; grant burn-down; jail savings; funding need.

    Fiscal years follow each payer's start month (costs.payers) and are named by the calendar
    year in which they end; spells crossing a boundary are split between years. Amounts are
    undiscounted in run.price_year dollars (constant prices, not then-year dollars) unless a column says discounted.
    """
    refuse_short_through(scenario or default_scenario(), overrides, through)
    extra = [f"run.end_date={through}-12-31"] if through else []
    run = _start(scenario or default_scenario(), None, reps, seed, overrides, out, jobs, keep_events, costs, extra,
                 f"--through {through}")
    if run.comparator is None:
        fail([f"{run.path}: budget compares arms; the scenario needs at least two arms"])

    @_guarded
    def work(run: Run):
        _simulate(run, ("budget",))
        # (the comparator was checked above)
        files, after = B.budget_files(cast(experiment.ExperimentResult, run.result).extras, run.arms, run.base,
                                      cast(str, run.comparator), dollars)
        return _finish(run, files), files, after

    final, files, after = work(run)
    maybe_report(final, report)
    if _machine_output(run, final, files, fmt, "budget.csv"):
        return
    _echo_headline(run)
    click.echo(_header(run))
    n = run.base.run.replications
    money = (f"undiscounted {run.base.run.price_year} USD (constant prices)" if dollars == "constant" else
             f"undiscounted then-year USD (nominal: {run.base.run.price_year} prices x CPI, then "
             f"{run.base.costs.projected_inflation_per_year:.1%}/yr)")
    click.echo(f"{money}, mean of {n} replications (95% interval); fiscal years named by the year they end\n")
    click.echo("Cost by payer and fiscal year")
    click.echo(_payer_table(files["budget_by_payer.csv"], files["budget_by_payer_differences.csv"], list(run.arms), run.comparator))
    fd = files["budget_by_funder_differences.csv"]
    if fd is not None and len(fd):
        click.echo("\nWho ultimately pays (each payer split by its costs.payers.<payer>.funded_by shares), difference "
                   f"from {run.comparator}, all fiscal years")
        total = fd.groupby(["arm", "funder"], as_index=False)["difference_undiscounted_usd"].sum()
        for arm, g in total.groupby("arm", sort=False):
            parts = ", ".join(f"{r.funder} {fmt_num(r.difference_undiscounted_usd)}" for r in g.itertuples(index=False))
            click.echo(f"  {arm:<22} {parts}")
    if "grant.csv" in files:
        click.echo("\nProgram spending against the grant (grant payer's agencies)")
        g = files["grant.csv"]
        for row in g.itertuples(index=False):
            runs_out = row.month_grant_runs_out or "not within the period"
            click.echo(f"  {row.arm:<22} grant {fmt_num(row.grant_usd)}; spent by {grant_spent_by(row)}: {fmt_num(row.spent_by_program_end_usd)} "
                       f"({fmt_num(row.ci_low)} to {fmt_num(row.ci_high)}); runs out: {runs_out} "
                       f"(in {row.share_of_reps_running_out:.0%} of replications)")
    if "jail_savings.csv" in files:
        j = files["jail_savings.csv"]
        click.echo(f"\nJail savings vs {run.comparator}: a jail day costs {fmt_num(j['average_usd_per_bed_day'].iloc[0])} USD "
                   f"on average (fully loaded: average_cost_saving); the jail saves at once only its marginal cost "
                   f"({fmt_num(j['marginal_usd_per_bed_day'].iloc[0])} USD: short_run); the long run adds whole housing "
                   f"units closed. The tables above use the {run.base.costs.lens} value")
        click.echo(frame_table(j[["fiscal_year", "arm", "adp_difference", "average_cost_saving_usd", "short_run_saving_usd",
                                  "long_run_saving_usd", "housing_units_closed_mean"]]))
    need = files["funding_need.csv"]
    if len(need):
        click.echo(f"\nFunding needed after {after} (program agencies, calendar years) with offsetting savings by payer")
        click.echo(frame_table(need))
    else:
        click.echo(f"\nFunding need after {after}: the analysis ends in {run.base.run.end_date.year}; "
                   "use --through 2025 for a projection")
    click.echo(f"\nresults: {final}  ({time.perf_counter() - run.started:.1f} s on {run.jobs} worker(s))")
    click.echo(pointer(str(final), "budget"))


def _machine_output(run: Run, final: Path, files: dict[str, pd.DataFrame], fmt: str, csv_name: str,
                    leave_out: tuple[str, ...] = ()) -> bool:
    """Print a command's tables as JSON (every file but ``leave_out``, with the run's facts) or its
    main table ``csv_name`` as CSV; True when done, False for the human-readable table format."""
    if fmt == "json":
        import json
        data = _info(run, final)
        data.update({name[:-4]: _records(df) for name, df in files.items() if name not in leave_out})
        click.echo(json.dumps(data, indent=2, default=str))
        return True
    if fmt == "csv":
        click.echo(files[csv_name].to_csv(index=False, float_format="%.10g", lineterminator="\n"), nl=False)
        _results_to_stderr(final)
        return True
    return False


def _results_to_stderr(final: Path) -> None:
    """Where the run folder is, when standard output holds only a CSV (the other tables are there)."""
    click.echo(f"results: {final}", err=True)


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _payer_table(per_arm: pd.DataFrame, diffs: pd.DataFrame, arms: list[str], comparator: str) -> str:
    rows = []
    for (fy, payer), g in per_arm.groupby(["fiscal_year", "payer"], sort=True):
        row = {"fiscal_year": fy, "payer": payer}
        for arm in arms:
            row[arm] = fmt_num(float(g.loc[g["arm"] == arm, "cost_undiscounted_usd"].iloc[0]))
        d = diffs[(diffs["fiscal_year"] == fy) & (diffs["payer"] == payer)].set_index("arm")
        for arm in arms:
            if arm in d.index:
                r = d.loc[arm]
                row[f"{arm} - {comparator}"] = f"{fmt_num(r.difference_undiscounted_usd)} ({fmt_num(r.ci_low)} to {fmt_num(r.ci_high)})"
        rows.append(row)
    return frame_table(pd.DataFrame(rows), raw=True)


# ---- cost-effectiveness --------------------------------------------------------------------------------


@main.command(name="cea")
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@with_common
@click.option("--wtp", "wtp", multiple=True, type=click.FloatRange(min=0), default=(0.0, 1000.0, 10000.0), show_default=True,
              help="willingness to pay per unit of outcome, for net monetary benefit (repeatable)")
@click.option("--perspective", default=None, help="payer for the program-price break-even (default: the first payer)")
@click.option("--breakeven/--no-breakeven", default=True, show_default=True,
              help="search for the contact-effect break-even by re-simulation (slower)")
@report_option
def cea_cmd(scenario, reps, seed, overrides, out, jobs, keep_events, fmt, costs, wtp, perspective, breakeven, report):
    """Incremental costs and outcomes, ICERs with dominance, net monetary benefit, break-even values.

    Outcomes (discounted like costs): re-arrests, bookings and jail days averted, person-years
    of active drug use averted, housed days gained. Costs: all payers, discounted.
    """
    run = _start(scenario or default_scenario(), None, reps, seed, overrides, out, jobs, keep_events, costs)
    if run.comparator is None:
        fail([f"{run.path}: cea compares arms; the scenario needs at least two arms"])
    payer = perspective or next(iter(run.base.costs.payers))
    if payer not in run.base.costs.payers:
        fail([f"--perspective: expected one of costs.payers {list(run.base.costs.payers)}; found {payer!r}"])

    @_guarded
    def work(run: Run):
        _simulate(run, ("cea", "budget"))
        # (the comparator was checked above)
        files = cea_files(
            cast(experiment.ExperimentResult, run.result).extras, run.arms, cast(str, run.comparator), list(wtp), payer,
            search_contact_effect=breakeven, jobs=run.jobs,
            on_search=lambda arm: click.echo(f"break-even search for {arm}: re-simulating at trial values of "
                                             "lead.rr_contact_engaged", err=True),
            progress=lambda x, v: click.echo(f"  rr={x:.4f}: {fmt_num(v)} USD", err=True))
        return _finish(run, files), files

    final, files = work(run)
    maybe_report(final, report)
    if _machine_output(run, final, files, fmt, "cea.csv", leave_out=("cea_totals.csv",)):
        return
    n = run.base.run.replications
    _echo_headline(run)
    click.echo(_header(run))
    click.echo(f"all payers, discounted; mean of {n} paired replications (95% interval)\n")
    t = files["cea.csv"]
    for arm, g in t.groupby("arm", sort=False):
        r0 = g.iloc[0]
        click.echo(f"{arm} vs {run.comparator}: incremental cost {fmt_num(r0.incremental_cost_usd)} USD "
                   f"({fmt_num(r0.cost_ci_low)} to {fmt_num(r0.cost_ci_high)})")
        for r in g.itertuples(index=False):
            click.echo(f"  {r.outcome:<18} {r.direction} {fmt_num(r.incremental_effect):>10} ({fmt_num(r.effect_ci_low)} to "
                       f"{fmt_num(r.effect_ci_high)}): {r.verdict}")
    f = files["cea_frontier.csv"]
    if f["arm"].nunique() > 2:
        click.echo("\nEfficiency frontier (ND on the frontier, D dominated, ED extended dominance)")
        click.echo(frame_table(f))
    click.echo("\nBudget view: program cost vs savings elsewhere (discounted)")
    click.echo(frame_table(files["cea_budget_view.csv"][["arm", "program_cost_usd", "benefit_usd", "npv_usd", "npv_ci_low",
                                                          "npv_ci_high", "benefit_cost_ratio"]]))
    click.echo(f"\nBreak-even values (perspective for the program price: {payer})")
    for r in files["breakeven.csv"].itertuples(index=False):
        value = "none" if r.value != r.value else fmt_num(r.value)
        click.echo(f"  {r.arm:<16} {r.name:<36} {value:>10}  {r.note}")
    click.echo(f"\nresults: {final}  ({time.perf_counter() - run.started:.1f} s on {run.jobs} worker(s))")
    click.echo(pointer(str(final), "cea"))


# ---- validate ------------------------------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a key before validating")
def validate(files, overrides):
    """Check scenario FILES (and every arm in them) without running anything.

    A calibration section is checked with its targets file (which only lead-sim calibrate reads).
    """
    from lead_sim.calibration import fit as calibration

    bad = 0
    for path in files:
        try:
            loaded = load(path, overrides)
            plan = calibration.setup(loaded) if loaded.base.calibration is not None else None
        except ScenarioError as exc:
            bad += 1
            for line in exc.problems:
                click.echo(f"error: {line}", err=True)
            continue
        note = ""
        if plan is not None:
            fitted = [t.name for t in plan.targets if t.fitted]
            note = (f"; calibrates {', '.join(p.path for p in plan.parameters)} in {plan.arm} to {', '.join(fitted)}"
                    + (f", holding out {', '.join(plan.held_out)}" if plan.held_out else ""))
        click.echo(f"ok: {path} (scenario {loaded.base.name}; arms: {', '.join(loaded.arms)}{note})")
    if bad:
        click.echo(f"{bad} of {len(files)} file(s) invalid", err=True)
        sys.exit(2)


# ---- uncertainty: psa, tornado, sweep (lead_sim/cli/uncertainty.py) ------------------------------------

from lead_sim.cli.uncertainty import psa_cmd, sweep_cmd, tornado_cmd  # noqa: E402

main.add_command(psa_cmd)
main.add_command(tornado_cmd)
main.add_command(sweep_cmd)

# ---- calibration (lead_sim/calibrate_cli.py) ------------------------------------------------------------

from lead_sim.cli.calibrate import calibrate, check_fit_cmd, targets_cmd  # noqa: E402

main.add_command(calibrate)
main.add_command(targets_cmd)
main.add_command(check_fit_cmd)

# ---- reports and re-runs (lead_sim/report/commands.py) -----------------------------------------------

from lead_sim.report.commands import report_cmd, rerun_cmd  # noqa: E402

main.add_command(report_cmd)
main.add_command(rerun_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()

