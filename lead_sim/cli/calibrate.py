"""``lead-sim calibrate``: fit scenario parameters to published odds ratios (see calibration.py)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

from lead_sim.calibration import fit as K
from lead_sim.cli.errors import PROCESS_DIED, fail, process_died
from lead_sim.report.text import fmt, frame_table
from lead_sim.runs import experiment
from lead_sim.runs.checkpoint import LOCK as CHECKPOINT_LOCK
from lead_sim.runs.checkpoint import Checkpoint, CheckpointError
from lead_sim.runs.output import OutputError, RunFolder, manifest, sha256_file
from lead_sim.scenario.loading import ScenarioError, load, resolved_yaml

TARGETS_DEFAULT = K.DEFAULT_TARGETS


@click.command(name="calibrate")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--targets", "targets_path", type=click.Path(path_type=Path), default=None,
              help="odds-ratio targets (CSV) [default: the scenario's calibration.targets, else "
                   "scenarios/targets/seattle_2017_recidivism.csv]")
@click.option("--param", "params", multiple=True, metavar="PATH=LOW:HIGH",
              help="a parameter to fit with its bounds, e.g. lead.rr_contact_engaged=0.2:1 (repeatable); replaces the "
                   "scenario's calibration.parameters [default: those]")
@click.option("--arm", default=None, help="the arm in which LEAD runs [default: the scenario's calibration.arm, else the "
                                          "first arm that is not the comparator]")
@click.option("--method", type=click.Choice(["history-matching", "nelder-mead", "differential-evolution", "sir"]),
              default="history-matching", show_default=True,
              help="history-matching: waves of simulated parameter sets, Gaussian-process emulators and the posterior on "
                   "them (posterior.csv, identifiability.csv); nelder-mead, differential-evolution: a best fit only; "
                   "sir: sampling-importance-resampling on the simulation itself")
@click.option("--waves", type=click.IntRange(min=1, max=20), default=3, show_default=True,
              help="with history-matching: waves of design points (each after the first drawn where the targets are "
                   "not yet ruled out)")
@click.option("--points", type=click.IntRange(min=4), default=None,
              help="with history-matching: parameter sets simulated in the first wave [default: 10 per parameter]; "
                   "later waves simulate half as many")
@click.option("--mcmc-steps", "mcmc_steps", type=click.IntRange(min=100, max=1_000_000), default=3000, show_default=True,
              help="with history-matching: steps of each of the 32 MCMC walkers on the emulators (the first third "
                   "discarded as burn-in)")
@click.option("--discrepancy-sd", "discrepancy_sd", type=click.FloatRange(min=0, max=5), default=0.1, show_default=True,
              help="with history-matching: the model's structural error on the log scale of each target (an assumption)")
@click.option("--posterior-size", type=click.IntRange(min=1, max=100_000), default=1000, show_default=True,
              help="with history-matching or sir: parameter sets written to posterior.csv")
@click.option("--budget", type=click.IntRange(min=4), default=24, show_default=True, help="objective evaluations at most (Nelder-Mead stops sooner when it converges; the trials run are reported)")
@click.option("--starts", type=click.IntRange(min=1), default=2, show_default=True, help="Nelder-Mead starting points")
@click.option("--reps", type=click.IntRange(min=1), default=4, show_default=True, help="replications per trial (same seeds)")
@click.option("--weight", "weights", multiple=True, metavar="TARGET=W",
              help="weight of a fitted target's component (default 1); overrides the scenario's calibration.weights "
                   "for that target")
@click.option("--held-out", "held_out", multiple=True, metavar="TARGET",
              help="a target to predict and report but not fit (repeatable); replaces the scenario's "
                   "calibration.held_out")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a scenario key")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="worker processes (default: all cores)")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="continue an interrupted calibration (its .incomplete folder): finished trials are not redone")
def calibrate(scenario, targets_path, params, arm, method, waves, points, mcmc_steps, discrepancy_sd, posterior_size, budget, starts,
              reps, weights, held_out, overrides, out, jobs, resume_dir):
    """Fit parameters of SCENARIO so that the simulated Seattle evaluation reproduces the targets.

    What to fit comes from the scenario's calibration section (parameters with bounds, targets
    file, weights, held-out targets); --param, --targets, --weight, --held-out and --arm override
    it. Each trial re-simulates the LEAD arm with the same seeds, applies the evaluation design
    (LEAD referrals vs people arrested for possession or prostitution who were not diverted;
    any arrest after vs before entry; logistic regression with group x period) and scores the
    simulated odds ratios against the fitted targets; held-out targets are predicted and
    reported, never fitted. Writes trials.csv (as it grows), goodness_of_fit.csv (role: fitted
    or held_out), and scenario.calibrated.yaml with the fitted values and the calibration used.
    """
    started = time.perf_counter()
    try:
        loaded = load(scenario, list(overrides))
        w = {}
        for item in weights:
            name, _, value = item.partition("=")
            try:
                w[name] = float(value)
            except ValueError:
                raise ScenarioError([f"--weight {item!r}: expected TARGET=number"]) from None
        plan = K.setup(loaded, params, w, targets_path, held_out, arm, TARGETS_DEFAULT)
    except ScenarioError as exc:
        fail(exc.problems)
    base, arm, parameters, targets = loaded.base, plan.arm, plan.parameters, plan.targets
    targets_path = plan.targets_path
    arm_sc = loaded.arms[arm]
    settings = {"scenario_sha256": {str(p): sha256_file(p) for p in loaded.files}, "overrides": list(overrides),
                "params": [f"{p.path}={p.low}:{p.high}" for p in parameters], "targets": sha256_file(targets_path),
                "weights": plan.weights, "held_out": plan.held_out, "arm": arm, "method": method, "budget": budget,
                "starts": starts, "reps": reps, "posterior_size": posterior_size}
    if method == "history-matching":
        settings.update({"waves": waves, "points": points, "discrepancy_sd": discrepancy_sd, "mcmc_steps": mcmc_steps})
    try:
        folder = RunFolder.reopen(resume_dir) if resume_dir else RunFolder(out, base.name)
        ckpt = Checkpoint(folder.path)
    except (OutputError, CheckpointError) as exc:
        fail([str(exc)], code=3)
    settings_path = folder.path / "calibration.json"
    if resume_dir:
        saved = json.loads(settings_path.read_text()) if settings_path.exists() else None
        if saved != json.loads(json.dumps(settings)):
            fail([f"--resume {resume_dir}: the calibration settings or inputs differ from the interrupted run's; "
                   "resume with the same command"])
    else:
        settings_path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    jobs = jobs or experiment.default_jobs()
    if method == "history-matching":
        _history_matching(folder, ckpt, loaded, plan, reps, jobs, waves, points, discrepancy_sd, posterior_size,
                          mcmc_steps, started)
        return
    trials_path = folder.path / "trials.csv"

    def on_trial(row: dict) -> None:
        ckpt.append(json.dumps([round(row[p.path], 12) for p in parameters]), row)
        pd.DataFrame([row]).to_csv(trials_path, mode="a", header=not trials_path.exists(), index=False,
                                   float_format="%.10g", lineterminator="\n")
        values = ", ".join(f"{p.path}={row[p.path]:.4f}" for p in parameters)
        click.echo(f"  trial {row['trial']:>3}: {values}  objective {row['objective']:.3f}", err=True)

    cal = K.Calibration(arm_sc, arm, parameters, targets, reps, jobs, on_trial=on_trial)
    try:
        done = ckpt.load()
    except CheckpointError as exc:
        fail([str(exc)], code=3)
    for key, row in sorted(done.items(), key=lambda kv: kv[1]["trial"]):
        cal.trials.append(row)
        cal._cache[tuple(json.loads(key))] = row["objective"]
    if done:
        click.echo(f"resuming: {len(done)} finished trial(s) will not be redone", err=True)
    try:
        fitted_names = [t.name for t in targets if t.fitted]
        click.echo(f"calibrating {len(parameters)} parameter(s) of arm {arm} to {len(fitted_names)} target(s) "
                   f"({', '.join(fitted_names)}; {method}, budget {budget}, {reps} replications per trial)"
                   + (f"; held out: {', '.join(plan.held_out)}" if plan.held_out else ""), err=True)
        base_est = K.simulated_estimates(arm_sc, arm, reps, jobs)
        before = K.goodness_of_fit(base_est, targets)
        if method == "sir":
            posterior = cal.sir(budget, posterior_size, seed=base.run.seed % 2**32)
            folder.write_csv("posterior.csv", posterior)
            click.echo(f"posterior: {posterior_size} sets resampled from {budget} prior draws; effective sample size "
                       f"{posterior.attrs['effective_sample_size']:.1f}", err=True)
            best = cal.best()
        else:
            best = cal.run(method, budget, starts, seed=base.run.seed % 2**32)
        fitted = cal.scenario_at(best)
        after = K.goodness_of_fit(K.simulated_estimates(fitted, arm, reps, jobs), targets)
        calibrated = K.with_value(base, "calibration", plan.section())  # the calibration as run
        for p, v in zip(parameters, best, strict=True):
            calibrated = K.with_value(calibrated, p.path, float(v))
        calibrated, dropped = _without_uncertainty_on(calibrated, [p.path for p in parameters])
        header = [f"# Calibrated by lead-sim calibrate ({method}, {len(cal.trials)} trials, {reps} replications per trial,",
                  f"# arm {arm}) to {targets_path}:"]
        header += [f"#   {p.path} = {v:.6g}   [calibrated; bounds {p.low:g} to {p.high:g}]" for p, v in zip(parameters, best, strict=True)]
        if dropped:
            header += [f"# uncertainty.parameters no longer lists {', '.join(dropped)}: the distribution was around the "
                       f"value before calibration (for the calibrated uncertainty: lead-sim psa --posterior, after --method sir)"]
        header += [f"# fitted to {', '.join(fitted_names)}"
                   + (f"; held out (predicted only): {', '.join(plan.held_out)}" if plan.held_out else "")]
        folder.write_text("scenario.calibrated.yaml", "\n".join(header) + "\n" + resolved_yaml(calibrated))
        folder.write_csv("goodness_of_fit_before.csv", before)
        folder.write_csv("goodness_of_fit.csv", after)
        K.fit_plot(before, after, folder.path / "fit.png")
        inputs = [Path(p) for p in loaded.files] + [Path(targets_path)]
        folder.write_json("manifest.json", manifest(
            seed=base.run.seed, replications=reps, arms=[arm], inputs=inputs, wall_seconds=time.perf_counter() - started,
            jobs=jobs, command_line=click.get_current_context().find_root().meta.get("lead_sim.argv"),
            extra={"scenario": base.name, "command": "calibrate", "method": method, "trials": len(cal.trials),
                   "fitted": {p.path: float(v) for p, v in zip(parameters, best, strict=True)},
                   "fitted_targets": fitted_names, "held_out_targets": plan.held_out,
                   "input_sha256": {str(p): sha256_file(p) for p in inputs}}))
        ckpt.close()
        (folder.path / CHECKPOINT_LOCK).unlink(missing_ok=True)  # only an unfinished folder needs guarding
        final = folder.commit()
    except PROCESS_DIED as exc:
        process_died(exc, f"trials so far in {trials_path} (folder marked incomplete); continue with --resume {folder.path}")
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: trials so far in {trials_path} (folder marked incomplete); continue with "
                   f"--resume {folder.path}", err=True)
        sys.exit(130)
    n_trials = len(cal.trials)
    why = "" if method == "sir" or n_trials >= budget else (
        "; the rest went to points already tried, not simulated again, or was left when the search converged")
    click.echo("fitted: " + ", ".join(f"{p.path} = {v:.4g}" for p, v in zip(parameters, best, strict=True))
               + f" ({n_trials} trial(s) simulated, budget {budget}{why})")
    table = after[["target", "role", "observed_value", "simulated_value", "simulated_ci_low",
                   "simulated_ci_high", "observed_inside_interval", "consistent_95"]].assign(
        role=after["role"].map({K.FITTED: "fitted", K.HELD_OUT: "held out (predicted)"}))
    click.echo("\ngoodness of fit (simulated evaluation, pooled over replications; 95% interval of the simulated odds "
               "ratio, which narrows with --reps; consistent_95: the difference within 1.96 standard errors, the "
               "published estimate's uncertainty included)")
    click.echo(frame_table(table))
    click.echo("\nbefore calibration: " + ", ".join(
        f"{r.target} {fmt(r.simulated_value)}" for r in before.itertuples(index=False)))
    click.echo(f"\nresults: {final}  ({time.perf_counter() - started:.1f} s on {jobs} worker(s))")


@click.command(name="targets")
@click.argument("records_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="first day of the period (default: the earliest record)")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="last day of the period (default: the latest record)")
@click.option("--source", default=None, help="text for the targets' source column (default: the folder)")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the targets CSV here (default: print it)")
@click.option("--scenario", "scenario", type=click.Path(path_type=Path), default=None,
              help="price the utilisation table's counts with this scenario's unit prices (its cost lens)")
@click.option("--utilisation", "util_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the utilisation table (window, measure, group, period, value) as CSV here, "
                   "row for row as compare --evaluation's evaluation_utilisation.csv")
def targets_cmd(records_dir, start, end, source, out_file, scenario, util_file):
    """Build calibration targets from administrative records in RECORDS_DIR.

    The folder holds arrests.csv (person, date, charge, charge_class), jail_stays.csv (person,
    booking_date, release_date), lead_log.csv (person, referral_date, referral_type,
    intake_date, exit_date) and, optionally, prison_admissions.csv (person, admission_date).
    Every malformed row is reported with its file and row number and nothing is written; fix
    the rows and run again.

    Besides the re-arrest and odds-ratio targets, the table holds the evaluation's utilisation
    rows (utilisation_<window>_<group>_<period>_<measure>: bookings, jail days, felony charges,
    prison admissions per person-year before and after entry, LEAD from its first referral),
    which check-fit compares with the model measured the same way.
    """
    from lead_sim.calibration import records as R
    from lead_sim.outcomes import utilisation as U

    prison = records_dir / "prison_admissions.csv"
    try:
        rec = R.read_records(records_dir / "arrests.csv", records_dir / "jail_stays.csv", records_dir / "lead_log.csv",
                             prison if prison.exists() else None)
    except R.RecordsError as exc:
        fail(exc.problems + [f"{len(exc.problems)} problem(s); no targets written"])
    prices = None
    if scenario is not None:
        try:
            prices = U.legal_prices(load(scenario).base)
        except ScenarioError as exc:
            fail(exc.problems)
    dates = list(rec.arrests["date"]) + list(rec.jail_stays["booking_date"]) + list(rec.lead_log["referral_date"])
    first, last = (start.date() if start else min(dates)), (end.date() if end else max(dates))
    if last <= first:
        fail([f"--end {last} must be after --start {first}"])
    table = R.build_targets(rec, first, last, source or str(records_dir), prices=prices)
    notes = ["legal-system cost: not computed (records hold no police contacts without arrest, misdemeanor filings, "
             "public defense or probation); "
             + ("the counts are priced with the scenario's prices (priced_counts rows)" if prices is not None
                else "use --scenario to price the counts")]
    if rec.prison_admissions is None:
        notes.append(f"prison admissions: not available (no {prison.name}); their rows are empty")
    for note in notes:
        click.echo(note, err=True)
    if util_file is not None:
        util = R.utilisation_from_records(rec, first, last, prices=prices)
        _write_text(util_file, util.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    text = table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    if out_file is None:
        click.echo(text, nl=False)
        return
    _write_text(out_file, text)
    click.echo(f"wrote {len(table)} targets for {first} to {last} to {out_file}")


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a partial file (exit 3 if it cannot be written)."""
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        fail([f"{path}: cannot write ({exc.strerror or exc})"], code=3)


def _without_uncertainty_on(sc, paths: list[str]):
    """``sc`` with the calibrated ``paths`` removed from its uncertainty section (parameters,
    correlations, one-way ranges: they describe the value before calibration, and a PSA or
    tornado would otherwise draw around it), and the paths removed."""
    unc = sc.uncertainty
    if unc is None:
        return sc, []
    dropped = [p for p in paths if p in unc.parameters]
    if not dropped:
        return sc, []
    data = unc.model_dump(mode="python", by_alias=True, exclude_none=True)
    data["parameters"] = {k: v for k, v in data["parameters"].items() if k not in dropped}
    data["correlation"] = [c for c in data.get("correlation", []) if not set(c["parameters"]) & set(dropped)]
    data["one_way_ranges"] = {k: v for k, v in data.get("one_way_ranges", {}).items() if k not in dropped}
    return K.with_value(sc, "uncertainty", data if data["parameters"] else None), dropped


def _decisive(table: pd.DataFrame) -> pd.DataFrame:
    """check-fit's numbers as text, each row with enough digits to show why it is in or out
    (0.678 against a lower bound of 0.678 reads as inside; 0.67808 against 0.67841 does not)."""
    out = table.copy().astype(object)
    cols = ["observed", "predicted_mean", "prediction_low", "prediction_high"]
    for i, r in table.iterrows():
        digits = 3
        while digits < 10 and any(f"{r['observed']:.{digits}g}" == f"{r[b]:.{digits}g}" and r["observed"] != r[b]
                                  for b in ("prediction_low", "prediction_high")):
            digits += 1
        for c in cols:
            out.at[i, c] = "n/a" if pd.isna(r[c]) else f"{r[c]:.{digits}g}"
    return out


@click.command(name="check-fit")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--targets", "targets_path", type=click.Path(path_type=Path), required=True,
              help="targets not used in fitting: published odds ratios, or a table from lead-sim targets")
@click.option("--arm", default=None, help="the arm to predict with (default: the first arm that is not the comparator)")
@click.option("--reps", type=click.IntRange(min=2), default=10, show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a scenario key")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="worker processes (default: all cores)")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the table as CSV here")
def check_fit_cmd(scenario, targets_path, arm, reps, overrides, jobs, out_file):
    """Compare SCENARIO's predictions with TARGETS it was not fitted to.

    Each replication is one simulated evaluation; the 95% prediction interval is the 2.5th to
    97.5th percentile over replications. Targets the model does not produce are listed as such.
    """
    try:
        loaded = load(scenario, list(overrides))
        targets = K.read_any_targets(targets_path)
        arm = arm or next(a for a in loaded.arms if a != loaded.base.run.comparator)
        if arm not in loaded.arms:
            raise ScenarioError([f"--arm {arm!r}: expected one of {list(loaded.arms)}"])
    except ScenarioError as exc:
        fail(exc.problems)
    with click.progressbar(length=1, label=f"simulating {arm} x {reps} replications", file=sys.stderr) as bar:
        pred = K.predictions(loaded.arms[arm], arm, reps, jobs or experiment.default_jobs())
        bar.update(1)
    from lead_sim.calibration.records import with_priced_counts
    from lead_sim.outcomes.utilisation import legal_prices

    pred = with_priced_counts(pred, legal_prices(loaded.arms[arm]))  # as targets --scenario prices records
    table = K.check_fit(targets, pred)
    click.echo(frame_table(_decisive(table), raw=True))
    inside = (table["inside_95_prediction_interval"] == "yes").sum()
    judged = table["inside_95_prediction_interval"].isin(["yes", "no"]).sum()
    click.echo(f"\n{inside} of {judged} predicted target(s) inside the model's 95% prediction interval")
    if out_file is not None:
        tmp = out_file.with_name(out_file.name + ".partial")
        table.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
        tmp.replace(out_file)


def _history_matching(folder, ckpt, loaded, plan, reps, jobs, waves, points, discrepancy_sd, posterior_size,
                      mcmc_steps, started) -> None:
    """``calibrate --method history-matching``: waves, emulators, posterior, identifiability (emulator.py)."""
    from lead_sim.calibration import emulator as H

    base, arm, parameters, targets = loaded.base, plan.arm, plan.parameters, plan.targets
    arm_sc = loaded.arms[arm]
    d = len(parameters)
    first = points or 10 * d
    later = max(4, first // 2)
    try:
        done = ckpt.load()
    except CheckpointError as exc:
        fail([str(exc)], code=3)
    if done:
        click.echo(f"resuming: {len(done)} finished simulation(s) will not be redone", err=True)
    fitted_names = [t.name for t in targets if t.fitted]
    total = first + later * (waves - 1)
    click.echo(f"calibrating {d} parameter(s) of arm {arm} to {len(fitted_names)} target(s) ({', '.join(fitted_names)}) "
               f"by history matching: {waves} wave(s), {total} parameter sets x {reps} replications"
               + (f"; held out: {', '.join(plan.held_out)}" if plan.held_out else ""), err=True)
    bar = click.progressbar(length=total * reps, label="simulations", file=sys.stderr, show_eta=True, show_pos=True)

    def on_result(key: str, rows: list[dict]) -> None:
        ckpt.append(key, rows)
        bar.update(1)

    runner = K.PointRunner(arm_sc, parameters, reps, jobs, done=dict(done), on_result=on_result)
    bounds = H.Bounds(tuple(p.path for p in parameters), np.array([p.low for p in parameters]),
                      np.array([p.high for p in parameters]))
    hm = H.HistoryMatch(bounds, K.observed(targets), runner, discrepancy_sd, seed=base.run.seed % 2**32)
    wave_rows: list[dict] = []

    def on_wave(w) -> None:
        wave_rows.append(w.__dict__)
        click.echo(f"\n  wave {w.number}: {w.points} parameter sets simulated; {100 * w.nroy_share:.1f}% of the "
                   f"parameter space not ruled out (largest implausibility < {H.CUTOFF:g})", err=True)

    try:
        bar.update(min(len(done), total * reps))
        with bar:
            hm.run(waves, first, later, on_wave=on_wave)
        post = hm.posterior(posterior_size, steps=mcmc_steps, burn=mcmc_steps // 3)
        ident = hm.identifiability(post)
        informs = hm.informs()
        check = hm.emulator_check()
        median = ident["posterior_median"].to_numpy(float)
        fitted_sc = runner.scenario_at(median)
        after = K.goodness_of_fit(K.simulated_estimates(fitted_sc, arm, reps, jobs), targets)
        before = K.goodness_of_fit(K.simulated_estimates(arm_sc, arm, reps, jobs), targets)
        folder.write_csv("posterior.csv", post)
        folder.write_csv("identifiability.csv", ident)
        folder.write_csv("posterior_correlation.csv", post.drop(columns="draw").corr().reset_index(names="parameter"))
        folder.write_csv("targets_inform.csv", informs)
        folder.write_csv("emulator_check.csv", check)
        folder.write_csv("design_points.csv", hm.design_table())
        folder.write_csv("waves.csv", pd.DataFrame(wave_rows))
        folder.write_csv("goodness_of_fit_before.csv", before)
        folder.write_csv("goodness_of_fit.csv", after)
        K.fit_plot(before, after, folder.path / "fit.png")
        H.posterior_plot(hm, post, folder.path / "posterior.png")
        calibrated = K.with_value(base, "calibration", plan.section())
        for p, v in zip(parameters, median, strict=True):
            calibrated = K.with_value(calibrated, p.path, float(v))
        calibrated, dropped = _without_uncertainty_on(calibrated, [p.path for p in parameters])
        header = [f"# Calibrated by lead-sim calibrate (history matching: {waves} waves, {len(hm.X)} parameter sets x "
                  f"{reps} replications, arm {arm}) to {plan.targets_path}: posterior medians",
                  *[f"#   {r.parameter} = {r.posterior_median:.6g}   [calibrated; 95% interval {r.posterior_low_95:.4g} to "
                    f"{r.posterior_high_95:.4g}; bounds {r.prior_low:g} to {r.prior_high:g}; {r.verdict}]"
                    for r in ident.itertuples()],
                  f"# fitted to {', '.join(fitted_names)}"
                  + (f"; held out (predicted only): {', '.join(plan.held_out)}" if plan.held_out else "")]
        if dropped:
            header.append(f"# uncertainty.parameters no longer lists {', '.join(dropped)}: use lead-sim psa --posterior "
                          "with this run's posterior.csv")
        folder.write_text("scenario.calibrated.yaml", "\n".join(header) + "\n" + resolved_yaml(calibrated))
        inputs = [Path(p) for p in loaded.files] + [Path(plan.targets_path)]
        folder.write_json("manifest.json", manifest(
            seed=base.run.seed, replications=reps, arms=[arm], inputs=inputs, wall_seconds=time.perf_counter() - started,
            jobs=jobs, command_line=click.get_current_context().find_root().meta.get("lead_sim.argv"),
            extra={"scenario": base.name, "command": "calibrate", "method": "history-matching", "waves": waves,
                   "parameter_sets": len(hm.X), "simulations": len(hm.X) * reps, "discrepancy_sd": discrepancy_sd,
                   "posterior_median": {p.path: float(v) for p, v in zip(parameters, median, strict=True)},
                   "sampler": post.attrs, "fitted_targets": fitted_names, "held_out_targets": plan.held_out,
                   "input_sha256": {str(p): sha256_file(p) for p in inputs}}))
        ckpt.close()
        (folder.path / CHECKPOINT_LOCK).unlink(missing_ok=True)
        final = folder.commit()
    except ValueError as exc:  # an emulator that cannot be fitted (too few finite summaries)
        fail([f"history matching: {exc}; widen the bounds or add --reps (the folder {folder.path} is kept and "
              "can be resumed)"])
    except PROCESS_DIED as exc:
        process_died(exc, f"simulations so far are saved in {folder.path}; continue with --resume {folder.path}")
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: simulations so far are saved in {folder.path}; continue with --resume {folder.path}",
                   err=True)
        sys.exit(130)
    show = ident.assign(**{"posterior (95% interval)": [
        f"{fmt(r.posterior_median)} ({fmt(r.posterior_low_95)} to {fmt(r.posterior_high_95)})" for r in ident.itertuples()],
        "bounds": [f"{fmt(r.prior_low)} to {fmt(r.prior_high)}" for r in ident.itertuples()],
        "shrinkage": [f"{r.shrinkage:.2f}" for r in ident.itertuples()]})
    click.echo("\nposterior (history matching on Gaussian-process emulators; shrinkage 1 = pinned down by the targets, "
               "0 = as uncertain as the bounds)")
    click.echo(frame_table(show[["parameter", "posterior (95% interval)", "bounds", "shrinkage", "verdict"]]))
    table = after[["target", "role", "observed_value", "simulated_value", "simulated_ci_low", "simulated_ci_high",
                   "consistent_95"]].assign(role=after["role"].map({K.FITTED: "fitted", K.HELD_OUT: "held out (predicted)"}))
    click.echo("\ngoodness of fit at the posterior median (simulated evaluation pooled over replications; consistent_95: "
               "within 1.96 standard errors, the published estimate's uncertainty included)")
    click.echo(frame_table(table))
    weak = [r.parameter for r in ident.itertuples() if r.shrinkage < H.NOT_IDENTIFIED_BELOW]
    if weak:
        click.echo(f"\nnot pinned down by these targets (posterior close to the bounds given): {', '.join(weak)}")
    edge = [f"{r.parameter} ({r.median_at_bound} bound)" for r in ident.itertuples() if r.median_at_bound]
    if edge:
        click.echo(f"on a bound of its range (the data may want a value outside it): {', '.join(edge)}")
    click.echo(f"\nresults: {final}  ({time.perf_counter() - started:.1f} s on {jobs} worker(s))")
