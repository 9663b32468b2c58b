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
    """Paths of the files :func:`write_report` wrote, and the problems it met (source notes not found, an attached PSA of another scenario)."""

    html: Path
    brief: Path
    workbook: Path
    checklist: Path
    problems: list[str]

    def paths(self) -> list[Path]:
        """The four report files, in the order written."""
        return [self.html, self.brief, self.workbook, self.checklist]


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


def write_report(run_dir: Path | str, out_dir: Path | str | None = None, psa_dir: Path | str | None = None) -> ReportFiles:
    """Write report.html, brief.html, workbook.xlsx and checklist.csv for a run folder.

    ``out_dir`` defaults to the run folder itself; ``psa_dir`` attaches a ``lead-sim psa`` run
    of the same scenario (its chance of saving money then appears in the report and the brief).
    Raises :class:`ReportError` when a folder is not a complete run.
    """
    from lead_sim.report import brief, checklist, html, workbook
    from lead_sim.report.rundata import read_psa
    from lead_sim.report.sources import parameter_table

    run = read_run(run_dir)
    psa_problems = read_psa(run, psa_dir) if psa_dir is not None else []
    out = Path(out_dir) if out_dir is not None else run.path
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
    params, problems = parameter_table(run)
    problems = psa_problems + problems
    check = checklist.checklist(run, params)
    try:
        files = ReportFiles(
            html=_atomic(out / "report.html", lambda p: p.write_text(html.render(run, params, problems, check),
                                                                      encoding="utf-8")),
            brief=_atomic(out / "brief.html", lambda p: p.write_text(brief.render(run, params), encoding="utf-8")),
            workbook=_atomic(out / "workbook.xlsx", lambda p: workbook.write(run, params, check, p)),
            checklist=_atomic(out / "checklist.csv", lambda p: check.to_csv(p, index=False, lineterminator="\n")),
            problems=problems,
        )
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    return files
