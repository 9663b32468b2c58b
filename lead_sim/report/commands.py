"""``lead-sim report`` and ``lead-sim rerun``, and the ``--report`` flag of compare, budget and cea.

Thin click wrappers; the work is in :func:`lead_sim.report.write_report` and
:func:`lead_sim.report.rerun.rerun`, imported only when a command runs (they load matplotlib
and openpyxl, which the other commands do not need).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

report_option = click.option(
    "--report", "report", is_flag=True, default=False,
    help="also write report.html, brief.html, workbook.xlsx and checklist.csv into the run folder")


def _echo_report(files) -> None:
    for label, path in (("report", files.html), ("brief", files.brief), ("workbook", files.workbook),
                        ("checklists", files.checklist)):
        if path is not None:
            click.echo(f"{label}: {path}", err=True)
    for problem in files.problems:
        click.echo(f"warning: {problem}", err=True)


def maybe_report(run_dir: Path, enabled: bool) -> None:
    """Write the report of a committed run folder when ``--report`` was given."""
    if not enabled:
        return
    from lead_sim.report import ReportError, write_report

    try:
        _echo_report(write_report(run_dir))
    except ReportError as exc:
        click.echo(f"error: report: {exc}", err=True)
        sys.exit(2)


@click.command(name="report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder for the report files (default: the run folder)")
@click.option("--psa", "psa", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="a lead-sim psa run folder of the same scenario: adds the chance of saving money and the PSA figures")
@click.option("--tornado", "tornado", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="a lead-sim tornado run folder: its one-way bars for the tornado chart (with a PSA)")
@click.option("--combine", "combine", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="another run folder of the same scenario (a cea run beside a budget run, or the other way "
                   "round): one report and one brief with both answers")
def report_cmd(run_dir: Path, out: Path | None, psa: Path | None, tornado: Path | None, combine: Path | None) -> None:
    """Write an HTML report, a one-page funding brief, an Excel workbook and reporting checklists for RUN_DIR.

    RUN_DIR is a folder written by compare, run, budget or cea, or by psa (then report.html and
    workbook.xlsx show the PSA: cost-effectiveness plane, acceptability curves and frontier,
    EVPI, tornado chart, chance of saving per payer). The files go into RUN_DIR unless --out
    says otherwise. The report is self-contained (figures embedded) and opens offline.
    """
    from lead_sim.report import ReportError, write_report

    try:
        files = write_report(run_dir, out, psa, tornado, combine)
    except ReportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _echo_report(files)
    click.echo(str(files.html))


@click.command(name="rerun")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder that receives the new run folder (default: the one holding RUN_DIR's scenario folder)")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="worker processes (results do not depend on it)")
@click.option("--report", "report", is_flag=True, default=False, help="also write the report of the new run")
def rerun_cmd(run_dir: Path, out: Path | None, jobs: int | None, report: bool) -> None:
    """Re-run RUN_DIR from its saved scenario.resolved.yaml and manifest, and report any difference.

    Same command kind, seed, replications, arms and options, into a new run folder; then every
    CSV file the two folders share is compared (summary.csv and comparison.csv first). Exit
    code 0: no difference; 1: differences (listed); 2: the run cannot be re-run.
    """
    from lead_sim.report import ReportError, read_run
    from lead_sim.report.rerun import rerun, version_warnings

    try:
        run = read_run(run_dir)
        before = version_warnings(run)
        for w in before:
            click.echo(f"warning: {w}", err=True)
        result = rerun(run, out, jobs)
    except ReportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for w in result.warnings:
        if w not in before:
            click.echo(f"warning: {w}", err=True)
    click.echo(f"re-ran {result.old} as: {' '.join(result.command)}")
    click.echo(f"new run: {result.new}")
    for name in result.only_in_one:
        click.echo(f"only in one of the two folders: {name}")
    if result.identical:
        click.echo(f"no differences in {len(result.compared)} file(s): {', '.join(result.compared)}")
    else:
        d = result.differences
        click.echo(f"{len(d)} difference(s) in {d['file'].nunique()} file(s):")
        for r in d.head(30).itertuples(index=False):
            click.echo(f"  {r.file} row {r.row} [{r.key}] {r.column}: saved {r.saved}, re-run {r.rerun}")
        if len(d) > 30:
            click.echo(f"  ... and {len(d) - 30} more (all in {result.new / 'rerun_differences.csv'})")
    maybe_report(result.new, report)
    sys.exit(0 if result.identical else 1)
