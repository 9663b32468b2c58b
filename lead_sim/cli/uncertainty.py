"""Command line for uncertainty: ``lead-sim psa``, ``lead-sim tornado``, ``lead-sim sweep``.

Each command checks its options, makes its cases and hands them to the resumable case run
(``runs.case_run``: validate every case, write the inputs into a new run folder, simulate with
checkpoints, write the results and the manifest, then mark the folder complete; ``--resume
RUN_DIR`` finishes an interrupted folder). The tables come from ``analysis`` (``psa_analysis.psa_files``,
``sensitivity.tornado_files`` and ``sweep_files``); this module prints them, turns the library's
problems into ``error:`` lines and exit codes, and shows the progress bar.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import click
import numpy as np
import pandas as pd

from lead_sim.analysis import psa as P
from lead_sim.analysis import psa_analysis as A
from lead_sim.analysis import sensitivity as S
from lead_sim.calibration import posterior as PO
from lead_sim.cli.common import default_scenario
from lead_sim.cli.errors import fail, process_died
from lead_sim.cli.lens import costs_option, lens_line, lens_overrides
from lead_sim.outcomes.metrics import CEA_OUTCOMES
from lead_sim.report.headline import Period, pointer, psa_headline
from lead_sim.report.headline import render as render_headline
from lead_sim.report.text import fmt, frame_table
from lead_sim.runs import case_run as CR
from lead_sim.runs.case_run import CaseRun, CaseRunError
from lead_sim.runs.checkpoint import CheckpointError
from lead_sim.runs.executors import SchedulerError
from lead_sim.runs.output import OutputError, RunFolder, sha256_file
from lead_sim.scenario.loading import LoadedScenario, ScenarioError, load
from lead_sim.scenario.uncertainty import key_problem

DEFAULT_WTP_MAX = {"rearrests": 50_000.0, "jail_days": 1_000.0}


def _options(f):
    opts = [
        click.argument("scenario", required=False, type=click.Path(path_type=Path)),
        click.option("--arm", "arms", multiple=True, help="arms to run (repeatable; default: all; the comparator is always run)"),
        click.option("--reps", type=click.IntRange(min=1), default=None, help="paired replications per case"),
        click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=None,
                     help="root seed of the simulations (and of the draws unless uncertainty.seed is set)"),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a scenario key (value read as YAML)"),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True,
                     help="folder that receives the run folder"),
        click.option("--jobs", type=click.IntRange(min=1), default=None, help="local worker processes (default: all cores)"),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="run the simulations on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs lead-sim[dask])"),
        click.option("--resume", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="RUN_DIR",
                     help="finish an interrupted run (its .incomplete folder) without redoing completed work"),
        costs_option,
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _argv() -> list[str] | None:
    """The command line that started this run (recorded in plan.json and the manifest)."""
    return click.get_current_context().meta.get("lead_sim.argv")


def _warn(text: str) -> None:
    click.echo(f"warning: {text}", err=True)


@contextmanager
def _or_fail() -> Iterator[None]:
    """Turn the library's one-line problems into ``error:`` lines and the exit code: 2 for what was
    asked (scenario, options, the run's own inputs), 3 for the output folder, checkpoint or cluster."""
    try:
        yield
    except (ScenarioError, CaseRunError) as exc:
        fail(exc.problems)
    except (OutputError, CheckpointError, SchedulerError) as exc:
        fail([str(exc)], code=3)


def _load(scenario: Path | None, overrides, seed, costs) -> tuple[Path, LoadedScenario]:
    path = Path(scenario) if scenario else default_scenario()
    overrides = list(overrides) + lens_overrides(costs) + ([f"run.seed={seed}"] if seed is not None else [])
    with _or_fail():
        return path, load(path, overrides)


def _uncertainty(loaded: LoadedScenario, path: Path):
    if loaded.base.uncertainty is None:
        fail([f"{path}: this command needs an `uncertainty` section (see scenarios/denver_pilot.yaml)"])
    return loaded.base.uncertainty


def _new_run(command, scenario, arms, seed, overrides, costs, jobs, scheduler, build) -> CaseRun:
    """Load the scenario, pick the arms, and let ``build(loaded, path, chosen_arms)`` make the cases."""
    path, loaded = _load(scenario, overrides, seed, costs)
    with _or_fail():
        chosen = CR.pick_arms(loaded, arms, command, path)
    return CR.new_run(command, loaded, chosen, build(loaded, path, chosen), jobs, scheduler, _argv())


def _resume_run(command: str, folder_path: Path, jobs, scheduler) -> CaseRun:
    with _or_fail():
        return CR.resume_run(command, folder_path, jobs, scheduler, _argv(), warn=_warn)


def _plan(run: CaseRun) -> P.Plan:
    """Validate every case of every arm and list the distinct simulations (the run's plan)."""
    with _or_fail():
        plan = P.make_plan(run.arm_scenarios, run.arm_keys, run.cases, run.replications, run.labels)
    CR.use_plan(run, plan, warn=_warn)
    return plan


def _write_inputs(run: CaseRun, out: Path, tables: dict[str, pd.DataFrame]) -> None:
    with _or_fail():
        CR.write_inputs(run, out, tables)


def _progress(label: str, todo: int):
    return click.progressbar(length=todo, label=label, file=sys.stderr, show_eta=True, show_pos=True)


def _simulate(run: CaseRun) -> dict[str, dict]:
    try:
        with _or_fail():
            return CR.simulate(run, P.execute, _progress)
    except CR.Stopped as exc:
        if isinstance(exc.cause, KeyboardInterrupt):
            click.echo(f"\ninterrupted: {exc.where}", err=True)
            sys.exit(130)
        process_died(exc.cause, exc.where)


def _footer(run: CaseRun, final: Path) -> str:
    return (f"\nresults: {final}\n({len(cast(P.Plan, run.plan).tasks)} simulations for {len(run.cases)} case(s) x {len(run.arms)} arm(s) x "
            f"{run.replications} rep(s); {time.perf_counter() - run.started:.1f} s on {run.where})")


def _guard(run: CaseRun, work):
    try:
        return work()
    except KeyboardInterrupt:
        where = run.folder.path if run.folder else "(no folder yet)"
        click.echo(f"\ninterrupted; continue with: lead-sim {run.command} --resume {where}", err=True)
        sys.exit(130)


def _read_posterior(path: Path, loaded: LoadedScenario, chosen: list[str]) -> PO.Posterior:
    """The posterior file, checked on its own and against every arm to be run (fails with one line)."""
    try:
        post = PO.read_posterior(path)
        PO.check_against(post, loaded.base, {a: loaded.arms[a] for a in chosen},
                         {a: [str(k) for k in loaded.base.arms[a].set] for a in chosen})
    except PO.PosteriorError as exc:
        fail(exc.problems)
    return post


def _same_posterior(run: CaseRun, path: Path) -> None:
    """--resume with --posterior: refuse a file other than the one the run was started with."""
    saved = run.options.get("posterior")
    if saved is None:
        # (only a resumed run, whose folder is set, is checked)
        fail([f"--posterior {path}: the run in {cast(RunFolder, run.folder).path} was started without --posterior; resume it "
              "without --posterior"])
    try:
        found = PO.locate(path)
        digest = sha256_file(found)
    except PO.PosteriorError as exc:
        fail(exc.problems)
    except OSError as exc:
        fail([f"--posterior {path}: cannot read ({exc.strerror or exc})"])
    if digest != saved["sha256"]:
        fail([f"--posterior {found}: not the posterior this run was started with ({saved['file']}, sha256 "
              f"{saved['sha256'][:12]}...; this file {digest[:12]}...); resume with that file or without --posterior"])


# ---- psa -----------------------------------------------------------------------------------------------


def _parse_wtp(items: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for text in items:
        key, sep, value = text.partition("=")
        if not sep or key not in CEA_OUTCOMES:
            fail([f"--wtp-max {text!r}: expected OUTCOME=USD with OUTCOME one of {list(CEA_OUTCOMES)}"])
        try:
            out[key] = float(value)
        except ValueError:
            fail([f"--wtp-max {text!r}: expected a number after '='"])
        if not out[key] > 0:
            fail([f"--wtp-max {text!r}: expected a positive amount"])
    return out or dict(DEFAULT_WTP_MAX)


@click.command(name="psa")
@_options
@click.option("--draws", type=click.IntRange(min=2, max=1_000_000), default=None,
              help="number of parameter draws (default: uncertainty.draws; with --posterior, its number of rows)")
@click.option("--wtp-max", "wtp_max", multiple=True, metavar="OUTCOME=USD",
              help="CEAC/EVPI: willingness-to-pay range per unit of an outcome, from 0 (repeatable; "
                   "default rearrests=50000 and jail_days=1000)")
@click.option("--wtp-points", type=click.IntRange(min=2, max=10_001), default=101, show_default=True)
@click.option("--posterior", "posterior_path", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="take the calibrated parameters jointly from the parameter sets of a posterior.csv (or of the "
                   "`lead-sim calibrate --method sir` run folder holding it); the other uncertain parameters are "
                   "sampled as usual, and a parameter in both comes from the posterior. Rows are equally likely "
                   "(the file is already resampled; its weight column is checked, not reused). Draw i uses row "
                   "perm_k[i mod R], k = i div R, where each pass over the R rows is its own shuffle from the draw "
                   "seed: with --draws R every row once, fewer: a random subset without repeats, more: every row "
                   "equally often (+-1). Default --draws: R. draws.csv records each draw's posterior_row (0-based "
                   "data row of the file); --resume refuses a different file")
def psa_cmd(scenario, arms, reps, seed, overrides, out, jobs, scheduler, resume, costs, draws, wtp_max, wtp_points,
            posterior_path):
    """Probabilistic sensitivity analysis over the scenario's `uncertainty` parameters.

    Draws every uncertain parameter (draws.csv), validates each draw, simulates each draw's arms
    with the same seeds (simulations that differ only in unit costs are shared and re-priced),
    and writes psa.csv (one row per draw and arm), psa_summary.csv, psa_savings.csv (chance of
    saving money, overall and per payer), ceac.csv (at each willingness to pay, each arm's chance of
    being cost-effective against the comparator and of being the best of all arms), evpi.csv and
    psa_drivers.csv. Prints a few sentences per arm first. With
    --posterior, calibrated parameters come from a calibration's posterior sample instead.
    """
    if resume:
        run = _resume_run("psa", resume, jobs, scheduler)
        if posterior_path is not None:
            _same_posterior(run, posterior_path)
        plan = _plan(run)
    else:
        posterior_rows: list[int] = []  # filled by build: the posterior row of each draw

        def build(loaded, path, chosen):
            post = _read_posterior(posterior_path, loaded, chosen) if posterior_path is not None else None
            unc = loaded.base.uncertainty if post is not None else _uncertainty(loaded, path)
            n = draws or (max(2, post.rows) if post is not None else unc.draws)
            draw_seed = unc.seed if unc is not None and unc.seed is not None else loaded.base.run.seed
            table = P.generate_draws(unc, n, draw_seed, loaded.base) if unc is not None else pd.DataFrame({"draw": range(n)})
            options = {"draws": n, "draw_seed": draw_seed, "wtp_max": _parse_wtp(wtp_max), "wtp_points": wtp_points}
            labels = [f"PSA draw {i}" for i in range(n)]
            if post is not None:
                both = [p for p in post.parameters if p in table.columns]
                if both:
                    dropped = [c for c in unc.correlation if set(c.parameters) & set(both)]
                    click.echo(f"note: {', '.join(both)} also in uncertainty.parameters: --posterior's values are used"
                               + (f" ({len(dropped)} of its correlations dropped)" if dropped else ""), err=True)
                table = PO.with_posterior(table, post, draw_seed, P.integer_keys(loaded.base, post.parameters))
                options["posterior"] = post.settings()
                posterior_rows.extend(int(r) for r in table["posterior_row"])
                labels = [f"PSA draw {i} (posterior row {r})" for i, r in enumerate(posterior_rows)]
            params = table.drop(columns=["draw", "posterior_row"], errors="ignore")
            cases = [{k: float(v) for k, v in row.items()} for row in params.to_dict("records")]
            unc_reps = loaded.base.uncertainty.replications_per_draw if loaded.base.uncertainty is not None else 1
            return CR.Cases(cases, labels, options, reps or unc_reps)

        run = _new_run("psa", scenario, arms, seed, overrides, costs, jobs, scheduler, build)
        if "posterior" in run.options:
            run.inputs[run.options["posterior"]["file"]] = run.options["posterior"]["sha256"]
        plan = _plan(run)
        draws_table = pd.DataFrame([{"draw": i, **c} for i, c in enumerate(run.cases)])
        if posterior_rows:
            draws_table.insert(1, "posterior_row", posterior_rows)
        _write_inputs(run, out, {"draws.csv": draws_table})

    def work():
        results = _simulate(run)
        return results, A.psa_files(plan, results, run.cases, run.comparator, list(run.base.costs.payers),
                                    run.options["wtp_max"], run.options["wtp_points"])

    results, files = _guard(run, work)
    final = CR.finish(run, files, results)
    _psa_report(run, files, final)


def _psa_report(run: CaseRun, files: dict[str, pd.DataFrame], final: Path) -> None:
    b = run.base.run
    first = next(iter(run.options["wtp_max"]), "rearrests")
    paragraphs = psa_headline(files["psa_summary.csv"], files["psa_savings.csv"], files["ceac.csv"], list(run.arms),
                              run.comparator, Period(b.start_date, b.end_date, b.price_year, b.discount_rate_per_year,
                                                     run.replications), len(run.cases), first,
                              f"{CEA_OUTCOMES[first][1]} {CEA_OUTCOMES[first][0]}")
    click.echo(render_headline(paragraphs) + "\n")
    for line in (f"scenario {run.base.name}: PSA of {len(run.cases)} draws x {run.replications} replication(s) per "
                 f"draw, seed {b.seed}; costs in {b.price_year} USD discounted at {b.discount_rate_per_year:.0%}/yr, "
                 "for the whole target group over the analysis period", lens_line(run.base)):
        click.echo(textwrap.fill(line, 100, break_on_hyphens=False))
    post = run.options.get("posterior")
    if post:
        click.echo(f"calibrated parameters ({', '.join(post['parameters'])}) jointly from the {post['rows']} parameter "
                   f"sets of {post['file']} (draws.csv: posterior_row)")
    click.echo("mean over draws [Monte Carlo 95% interval of the mean]; 2.5th to 97.5th percentile of the draws\n")
    summ, sav = files["psa_summary.csv"], files["psa_savings.csv"]
    for arm in [a for a in run.arms if a != run.comparator]:
        click.echo(f"{arm} minus {run.comparator}:")
        d = summ[(summ["kind"] == "difference") & (summ["arm"] == arm)].set_index("metric")
        for metric in ["cost_total_usd", *[m for m in ("rearrests", "jail_days") if m in d.index]]:
            r = d.loc[metric]
            click.echo(f"  {metric:<26} {fmt(r['mean']):>12} [{fmt(r['mc_ci_low'])} to {fmt(r['mc_ci_high'])}]; "
                       f"{fmt(r['p2_5'])} to {fmt(r['p97_5'])}")
        s = sav[sav["arm"] == arm]
        click.echo("  probability of saving money: " + ", ".join(
            f"{r.payer} {'n/a' if r.p_saves_money != r.p_saves_money else format(r.p_saves_money, '.0%')}"
            for r in s.itertuples(index=False)))
        for outcome in run.options["wtp_max"]:
            c = files["ceac.csv"]
            c = c[(c["outcome"] == outcome) & (c["arm"] == arm)]
            picks = c.iloc[np.linspace(0, len(c) - 1, 5).round().astype(int)]
            per = f"per {CEA_OUTCOMES[outcome][1]} {CEA_OUTCOMES[outcome][0]}"
            click.echo(f"  P(cost-effective vs {run.comparator}) {per}: " + ", ".join(
                f"{r.p_cost_effective_vs_comparator:.0%} at {fmt(r.wtp_usd)} USD" for r in picks.itertuples(index=False)))
            if len(run.arms) > 2:
                click.echo(f"  P(best of all {len(run.arms)} arms) {per}: " + ", ".join(
                    f"{r.p_best_of_all_arms:.0%} at {fmt(r.wtp_usd)} USD" for r in picks.itertuples(index=False)))
        dr = files["psa_drivers.csv"]
        dr = dr[(dr["arm"] == arm) & (dr["outcome"] == "difference in cost_total_usd")].head(5)
        if len(dr):
            if dr["r2"].notna().all():
                click.echo(f"  drivers of the cost difference (SRC; R^2 {dr['r2'].iloc[0]:.2f}): " + ", ".join(
                    f"{r.parameter} {r.src:+.2f}" for r in dr.itertuples(index=False)))
            else:
                click.echo("  drivers of the cost difference (Spearman; too few draws for SRC): " + ", ".join(
                    f"{r.parameter} {r.spearman:+.2f}" for r in dr.itertuples(index=False)))
        click.echo("")
    for outcome in run.options["wtp_max"]:  # EVPI is the whole decision's, among all the arms
        e = files["evpi.csv"][files["evpi.csv"]["outcome"] == outcome]
        if len(e):
            top = e.loc[e["evpi_usd"].idxmax()]
            click.echo(f"EVPI of choosing among the {len(run.arms)} arms, valuing a {CEA_OUTCOMES[outcome][1]} "
                       f"{CEA_OUTCOMES[outcome][0]}: up to {fmt(top['evpi_usd'])} USD (at {fmt(top['wtp_usd'])} USD each)")
    click.echo(_footer(run, final))
    click.echo(pointer(str(final), "psa"))


# ---- tornado -----------------------------------------------------------------------------------------


@click.command(name="tornado")
@_options
@click.option("--param", "params", multiple=True, metavar="KEY", help="only these uncertain parameters (repeatable)")
def tornado_cmd(scenario, arms, reps, seed, overrides, out, jobs, scheduler, resume, costs, params):
    """One-way sensitivity: each uncertain parameter at its low and high value, the rest at base.

    Low and high are uncertainty.one_way_ranges, or the 2.5th and 97.5th percentiles of the
    parameter's distribution. Writes tornado.csv (the bars: differences from the comparator at
    base, low and high, and the swing) and tornado_runs.csv (every metric of every case and arm).
    """
    if resume:
        run = _resume_run("tornado", resume, jobs, scheduler)
        plan = _plan(run)
    else:
        def build(loaded, path, _chosen):
            unc = _uncertainty(loaded, path)
            bad = [p for p in params if p not in unc.parameters]
            if bad:
                fail([f"--param: expected keys of uncertainty.parameters; found {bad}"])
            cases, table = S.tornado_cases(unc, list(params) or None, P.integer_keys(loaded.base, unc.names()))
            labels = ["base case"] + [f"tornado {r.parameter}={r.level} ({r.value:.6g})"
                                      for r in table.iloc[1:].itertuples(index=False)]
            return CR.Cases(cases, labels, {"cases": table.to_dict("list")}, reps or loaded.base.run.replications)

        run = _new_run("tornado", scenario, arms, seed, overrides, costs, jobs, scheduler, build)
        plan = _plan(run)
        _write_inputs(run, out, {"cases.csv": pd.DataFrame(run.options["cases"])})

    def work():
        results = _simulate(run)
        return results, S.tornado_files(plan, results, pd.DataFrame(run.options["cases"]), run.comparator, run.base)

    results, files = _guard(run, work)
    final = CR.finish(run, files, results)
    t = files["tornado.csv"]
    click.echo(f"scenario {run.base.name}: one-way sensitivity, {run.replications} paired replication(s) per case; "
               f"differences from the comparator (discounted, whole target group)\n{lens_line(run.base)}\n")
    for arm in [a for a in run.arms if a != run.comparator]:
        g = t[(t["arm"] == arm) & (t["outcome"] == "difference in cost_total_usd")].head(12)
        click.echo(f"{arm} minus {run.comparator}, total cost (USD): base {fmt(g['result_at_base'].iloc[0])}")
        click.echo(frame_table(g[["parameter", "low_value", "high_value", "result_at_low", "result_at_high", "swing"]]))
        click.echo("")
    click.echo(_footer(run, final))


# ---- sweep ---------------------------------------------------------------------------------------------


@click.command(name="sweep")
@_options
@click.option("--param", "params", multiple=True, metavar="KEY=START:STOP:N|V1,V2,..",
              help="a parameter and its grid (once for a one-way grid, twice for a two-way grid)")
@click.option("--perspective", default="all", show_default=True,
              help="whose costs decide break-even: all (every payer) or one payer of costs.payers")
def sweep_cmd(scenario, arms, reps, seed, overrides, out, jobs, scheduler, resume, costs, params, perspective):
    """A one- or two-parameter grid; where each arm breaks even against the comparator.

    Any numeric scenario key can be swept (not only uncertain ones). Writes sweep.csv (every
    metric of every grid point and arm), sweep_differences.csv and sweep_breakeven.csv (along
    the first parameter, for each value of the second, where the cost difference is zero).
    """
    if resume:
        run = _resume_run("sweep", resume, jobs, scheduler)
        plan = _plan(run)
    else:
        def build(loaded, path, _chosen):
            if not 1 <= len(params) <= 2:
                fail(["--param: give one parameter (one-way grid) or two (two-way grid), e.g. "
                       "--param costs.per_month.lead_enrolled.lead_case_management=300:900:7 "
                       "--param lead.rr_contact_engaged=0.3:1.0:8"])
            try:
                grids = [S.parse_grid(p) for p in params]
            except S.GridError as exc:
                fail([str(exc)])
            if len(grids) == 2 and grids[0][0] == grids[1][0]:
                fail([f"--param: the two parameters must differ; found {grids[0][0]} twice"])
            data = loaded.base.model_dump(mode="python", by_alias=True, exclude_none=True)
            unknown = [f"--param {key}: {problem}" for key, _ in grids
                       if (problem := key_problem(data, key)) is not None]
            if unknown:
                fail(unknown)
            if perspective != "all" and perspective not in loaded.base.costs.payers:
                fail([f"--perspective: expected all or one of costs.payers {list(loaded.base.costs.payers)}; "
                       f"found {perspective!r}"])
            cases, table = S.sweep_cases(grids)
            labels = ["sweep " + ", ".join(f"{k}={v:.6g}" for k, v in c.items()) for c in cases]
            options = {"grids": [[k, v] for k, v in grids], "perspective": perspective}
            return CR.Cases(cases, labels, options, reps or loaded.base.run.replications)

        run = _new_run("sweep", scenario, arms, seed, overrides, costs, jobs, scheduler, build)
        plan = _plan(run)
        _write_inputs(run, out, {"cases.csv": S.sweep_cases([tuple(g) for g in run.options["grids"]])[1]})

    grids = [(k, v) for k, v in run.options["grids"]]
    column = S.perspective_column(run.options["perspective"])

    def work():
        results = _simulate(run)
        return results, S.sweep_files(plan, results, grids, run.options["perspective"], run.comparator,
                                      list(run.base.costs.payers))

    results, files = _guard(run, work)
    final = CR.finish(run, files, results)
    click.echo(f"scenario {run.base.name}: sweep, {run.replications} paired replication(s) per grid point; "
               f"difference in {column} from {run.comparator} (discounted, whole target group)\n{lens_line(run.base)}\n")
    d = files["sweep_differences.csv"]
    p1 = grids[0][0]
    for arm in [a for a in run.arms if a != run.comparator]:
        g = d[d["arm"] == arm]
        click.echo(f"{arm} minus {run.comparator}:")
        if len(grids) == 2:
            p2 = grids[1][0]
            grid = g.pivot(index=p2, columns=p1, values=column)
            grid.index = [f"{p2}={v:.4g}" for v in grid.index]
            grid.columns = [f"{v:.4g}" for v in grid.columns]
            click.echo(f"(columns: {p1})")
            click.echo(frame_table(grid.reset_index(names="")))
        else:
            click.echo(frame_table(g[[p1, column]]))
        b = files["sweep_breakeven.csv"]
        for r in b[b["arm"] == arm].to_dict("records"):
            at = f" at {grids[1][0]}={r[grids[1][0]]:.4g}" if len(grids) == 2 else ""
            value = "none" if r["breakeven_value"] != r["breakeven_value"] else fmt(r["breakeven_value"])
            click.echo(f"  breaks even{at}: {p1} = {value} ({r['method']})")
        click.echo("")
    click.echo(_footer(run, final))
