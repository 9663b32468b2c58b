"""Reports of a finished run: an HTML report with figures, an Excel workbook, a one-page
funding brief and reporting checklists (``lead-sim report RUN_DIR``), and re-running a run
from its saved scenario and manifest (``lead-sim rerun RUN_DIR``).

Reports are formatting only: they read the run folder's files and never import the model.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lead_sim.report.rundata import REPORT_FILES, ReportError, RunData, read_run

__all__ = ["REPORT_FILES", "ReportError", "ReportFiles", "RunData", "read_run", "write_report"]


@dataclass
class ReportFiles:
    """Paths of the files :func:`write_report` wrote, and the problems it met (source notes not found, an attached
    PSA of another scenario). A PSA run folder alone has no brief or checklist (None)."""

    html: Path
    brief: Path | None
    workbook: Path
    checklist: Path | None
    problems: list[str]

    def paths(self) -> list[Path]:
        """The report files written, in the order written."""
        return [p for p in (self.html, self.brief, self.workbook, self.checklist) if p is not None]


def _atomic(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, then rename: no half-written report."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_report(run_dir: Path | str, out_dir: Path | str | None = None, psa_dir: Path | str | None = None,
                 tornado_dir: Path | str | None = None, combine_dir: Path | str | None = None) -> ReportFiles:
    """Write report.html, brief.html, workbook.xlsx and checklist.csv for a run folder.

    ``out_dir`` defaults to the run folder itself; ``psa_dir`` attaches a ``lead-sim psa`` run
    of the same scenario (its chance of saving money then appears in the report and the brief, its
    figures in the report and the workbook); ``tornado_dir`` a ``lead-sim tornado`` run for the
    tornado chart; ``combine_dir`` another run of the same scenario (a cea run beside a budget run,
    or the other way round), whose tables join this one's so that one report and one brief hold
    both answers. ``run_dir`` may be a PSA run folder: then report.html and workbook.xlsx show the
    PSA alone. Raises :class:`ReportError` when a folder is not a complete run.
    """
    from lead_sim.report import brief, checklist, html, psa_report, workbook
    from lead_sim.report.figures import all_figures
    from lead_sim.report.psa_figures import psa_figures
    from lead_sim.report.rundata import combine, is_psa_folder, read_psa, read_psa_folder, read_tornado
    from lead_sim.report.sources import parameter_table

    if is_psa_folder(run_dir):
        if psa_dir is not None or combine_dir is not None:
            raise ReportError(f"{run_dir}: is a PSA run folder; --psa and --combine attach folders to a compare, "
                              f"budget or cea run (give --tornado only)")
        psa = read_psa_folder(run_dir)
        problems = read_tornado(psa, tornado_dir) if tornado_dir is not None else []
        out = _out_dir(out_dir, psa.path)
        figs = psa_figures(psa)
        pngs = [(f.title, f.png()) for f in figs]
        try:
            return ReportFiles(
                html=_atomic(out / "report.html", lambda p: p.write_text(psa_report.render(psa, problems, figs),
                                                                          encoding="utf-8")),
                brief=None,
                workbook=_atomic(out / "workbook.xlsx", lambda p: workbook.build_psa(psa, pngs).save(p)),
                checklist=None, problems=problems)
        except OSError as exc:
            raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None

    run = read_run(run_dir)
    problems = combine(run, combine_dir) if combine_dir is not None else []
    problems += read_psa(run, psa_dir) if psa_dir is not None else []
    if tornado_dir is not None:
        if run.psa is None:
            raise ReportError("--tornado: attach the PSA run too (--psa PSA_DIR): the tornado chart is drawn with its "
                              "figures")
        problems += read_tornado(run.psa, tornado_dir)
    out = _out_dir(out_dir, run.path)
    params, more = parameter_table(run)
    problems += more
    check = checklist.checklist(run, params)
    figs = all_figures(run)
    pfigs = psa_figures(run.psa) if run.psa is not None else []
    psa_html = psa_report.psa_body(run.psa, pfigs) if run.psa is not None else ""
    try:
        files = ReportFiles(
            html=_atomic(out / "report.html", lambda p: p.write_text(
                html.render(run, params, problems, check, psa_html, figs), encoding="utf-8")),
            brief=_atomic(out / "brief.html", lambda p: p.write_text(brief.render(run, params), encoding="utf-8")),
            workbook=_atomic(out / "workbook.xlsx", lambda p: workbook.write(
                run, params, check, p, [(f.title, f.png()) for f in figs], [(f.title, f.png()) for f in pfigs])),
            checklist=_atomic(out / "checklist.csv", lambda p: check.to_csv(p, index=False, lineterminator="\n")),
            problems=problems,
        )
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    return files


def _out_dir(out_dir: Path | str | None, default: Path) -> Path:
    out = Path(out_dir) if out_dir is not None else default
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
    return out
