"""Re-run a finished run from its saved scenario and manifest, and compare the results.

``lead-sim rerun RUN_DIR`` runs the same command kind (compare, run, budget, cea) on the run's
``scenario.resolved.yaml`` with the seed, replications, arms and command options the manifest
recorded, into a new run folder, then compares every CSV file the two folders share, starting
with summary.csv and comparison.csv. On the same lead-sim version nothing should differ
(results do not depend on the number of worker processes). It warns when lead-sim, its git
commit or a package version differs from the manifest's, since then differences are expected.

The simulation runs in a child process (``python -m lead_sim``), so this module never imports
the model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lead_sim.report.rundata import REPORT_FILES, ReportError, RunData, read_run
from lead_sim.runs.output import git_commit, git_uncommitted, package_versions

#: compared first and always: the issue of any run
PRIMARY = ("summary.csv", "comparison.csv")
#: options replayed as given (the scenario file already holds --set, --seed, --reps and --through)
REPLAYED = {
    "compare": {"--by": True, "--evaluation": False},
    "run": {},
    "budget": {},
    "cea": {"--wtp": True, "--perspective": True, "--breakeven": False, "--no-breakeven": False},
}
RTOL, ATOL = 1e-9, 1e-9


@dataclass
class RerunResult:
    """What :func:`rerun` found: the old and new run folders, the command it ran, and the differences.

    ``differences`` has one row per differing cell (``row`` -1 when columns or row counts differ);
    ``only_in_one`` lists CSV files that one folder has and the other lacks.
    """

    old: Path
    new: Path
    command: list[str]
    differences: pd.DataFrame  # file, row, key, column, saved, rerun
    compared: list[str]
    only_in_one: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when no compared cell differs and both folders have summary.csv and comparison.csv (or both lack them)."""
        return self.differences.empty and not any(f in self.only_in_one for f in PRIMARY)


def rerun_args(run: RunData, out: Path, jobs: int | None = None) -> list[str]:
    """The lead-sim arguments that repeat ``run`` into ``out`` (JSON output, to learn the new folder)."""
    kind = run.kind
    if kind not in REPLAYED:
        raise ReportError(f"{run.path}: cannot re-run a {kind!r} run (re-runnable: {', '.join(REPLAYED)})")
    args = [kind, str(run.path / "scenario.resolved.yaml")]
    if kind == "run":
        args += ["--arm", run.arms[0]]
    args += ["--seed", str(run.seed), "--reps", str(run.replications)]
    keep = run.manifest.get("keep_events")
    if keep:
        args += ["--keep-events", str(keep)]
    line = run.command_line
    for i, arg in enumerate(line):
        name, eq, value = arg.partition("=")
        takes_value = REPLAYED[kind].get(name)
        if takes_value is None:
            continue
        if not takes_value:
            args.append(name)
        elif eq:
            args += [name, value]
        elif i + 1 < len(line):
            args += [name, line[i + 1]]
    args += ["--out", str(out), "--format", "json"]
    if jobs:
        args += ["--jobs", str(jobs)]
    return args


def version_warnings(run: RunData) -> list[str]:
    """Where the software now differs from what made the run."""
    out = []
    saved = run.manifest.get("package_versions") or {}
    now = package_versions()
    for name, version in saved.items():
        current = now.get(name)
        if current is not None and current != version:
            out.append(f"{name} is {current} now; the run used {version}: differences are possible")
    commit, now_commit = run.manifest.get("git_commit"), git_commit()
    if commit and now_commit and commit != now_commit:
        out.append(f"lead-sim code is at git commit {now_commit[:12]} now; the run used {commit[:12]}: "
                   f"differences are possible if the model changed in between")
    if run.manifest.get("git_uncommitted_changes") or git_uncommitted():
        out.append("lead-sim had uncommitted changes to its code when the run was made, or has them now: "
                   "differences are possible although the git commit is the same")
    return out


def compare_csv(old: Path, new: Path, name: str) -> pd.DataFrame:
    """Cell-by-cell differences between two CSV files of the same run kind."""
    a, b = pd.read_csv(old / name), pd.read_csv(new / name)
    cols = ["file", "row", "key", "column", "saved", "rerun"]
    rows: list[tuple[str, int, str, str, object, object]] = []
    if list(a.columns) != list(b.columns):
        rows.append((name, -1, "", "(columns)", ",".join(map(str, a.columns)), ",".join(map(str, b.columns))))
        return pd.DataFrame(rows, columns=cols)
    if len(a) != len(b):
        rows.append((name, -1, "", "(rows)", len(a), len(b)))
    text_cols = [c for c in a.columns if not pd.api.types.is_numeric_dtype(a[c])]
    n = min(len(a), len(b))
    for c in a.columns:
        x, y = a[c].iloc[:n], b[c].iloc[:n]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            same = np.isclose(xv, yv, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            same = (x.astype(str) == y.astype(str)).to_numpy() | (x.isna() & y.isna()).to_numpy()
        for i in np.flatnonzero(~same):
            key = " / ".join(str(a[k].iloc[i]) for k in text_cols[:3])
            rows.append((name, int(i), key, c, x.iloc[i], y.iloc[i]))
    return pd.DataFrame(rows, columns=cols)


def compare_folders(old: Path, new: Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(differences, files compared, files present in only one folder) over the CSV files."""
    skip = set(REPORT_FILES) | {"rerun_differences.csv"}
    a = {p.name for p in old.glob("*.csv")} - skip
    b = {p.name for p in new.glob("*.csv")} - skip
    shared = [n for n in PRIMARY if n in a & b] + sorted((a & b) - set(PRIMARY))
    parts = [compare_csv(old, new, n) for n in shared]
    diffs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["file", "row", "key", "column", "saved", "rerun"])
    return diffs, shared, sorted(a ^ b)


def rerun(run_dir: Path | str | RunData, out: Path | str | None = None, jobs: int | None = None) -> RerunResult:
    """Re-run the run in ``run_dir`` into a new folder under ``out`` and compare the two.

    ``RerunResult.warnings`` holds :func:`version_warnings` and any mismatch of the arms run.
    """
    run = run_dir if isinstance(run_dir, RunData) else read_run(run_dir)
    out = Path(out) if out is not None else run.path.parent.parent
    args = rerun_args(run, out, jobs)
    warnings = version_warnings(run)
    proc = subprocess.run([sys.executable, "-m", "lead_sim", *args], stdout=subprocess.PIPE, stderr=None, text=True,
                          check=False)
    if proc.returncode != 0:
        raise ReportError(f"re-running {run.path} failed (exit {proc.returncode}): lead-sim {' '.join(args)}")
    try:
        new = Path(json.loads(proc.stdout)["run_dir"])
    except (ValueError, KeyError) as exc:
        raise ReportError(f"re-running {run.path}: could not read the new run folder from the output ({exc})") from None
    diffs, compared, only = compare_folders(run.path, new)
    new_manifest = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
    if list(new_manifest.get("arms") or []) != run.arms:
        warnings.append(f"the re-run ran arms {new_manifest.get('arms')}; the run had {run.arms}")
    result = RerunResult(run.path, new, ["lead-sim", *args], diffs, compared, only, warnings)
    if len(diffs):  # as the README says: saved when there are differences
        diffs.to_csv(new / "rerun_differences.csv", index=False, lineterminator="\n")
    (new / "rerun.json").write_text(json.dumps({
        "rerun_of": str(run.path), "command_line": result.command, "files_compared": compared,
        "files_in_only_one": only, "differences": len(diffs), "warnings": warnings,
    }, indent=2) + "\n", encoding="utf-8")
    return result
