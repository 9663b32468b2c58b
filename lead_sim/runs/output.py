"""Run folders: written under a temporary name and renamed into place only when complete.

A run writes into ``outputs/<scenario>/<timestamp>-<id>.incomplete/``; only after every file,
the manifest last, is written does it become ``<timestamp>-<id>/`` (an atomic rename on the
same file system). A crashed or interrupted run therefore never leaves a folder that looks
complete: its name still ends in ``.incomplete``. Every file is flushed to disk (fsync) before
the rename and the rename itself after it, so a power cut cannot leave a complete-looking folder
with empty or truncated files either.

Runs started at the same moment into the same folder get different names: the ``.incomplete``
folder is created exclusively, and a name whose complete folder already exists is never reused.
The folder is checked before any simulation starts: it must be writable and its file system
must have at least ``MIN_FREE_BYTES`` free.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

INCOMPLETE_SUFFIX = ".incomplete"
#: refuse to start a run when the output file system has less free space than this: a run folder
#: of the bundled scenarios takes a few MB (more with --keep-events all)
MIN_FREE_BYTES = 50 * 1024**2
_NAME_ATTEMPTS = 20
PACKAGES = ("simpy", "numpy", "pandas", "scipy", "pydantic", "PyYAML", "click", "pyarrow")


class OutputError(Exception):
    """The output folder cannot be used."""


def lead_sim_version() -> str:
    """The installed lead-sim version ("unknown" when it is not installed)."""
    try:
        return metadata.version("lead-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions() -> dict[str, str]:
    """The versions of Python, lead-sim and the main packages a run depends on, for the manifest."""
    out = {"python": platform.python_version(), "lead-sim": lead_sim_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


#: the package's folder (lead_sim/), whose files a run's commit and uncommitted changes describe
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def git_commit() -> str | None:
    """The git commit (HEAD) of the package's repository (None when not in git or git is unavailable)."""
    here = PACKAGE_DIR
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def git_uncommitted() -> bool | None:
    """Whether the package's own files (``lead_sim/``) differ from the git commit (None: not in git):
    a run made with uncommitted changes cannot be told from one at the commit by the commit alone."""
    here = PACKAGE_DIR
    try:
        res = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(res.stdout.strip()) if res.returncode == 0 else None


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex: records which input files a run read."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunFolder:
    """A run folder being written; ``commit()`` makes it complete."""

    def __init__(self, out_root: Path, scenario_name: str, *, min_free_bytes: int = MIN_FREE_BYTES):
        """Claim a new ``<timestamp>-<id>.incomplete`` folder under ``out_root/scenario_name``.

        Raises OutputError when the scenario name is not a single folder name, when the file system has
        less than ``min_free_bytes`` free, or when the folder cannot be written."""
        # the scenario name becomes one folder name: never a path (absolute, "..", separators)
        if (not scenario_name or scenario_name in (".", "..") or Path(scenario_name).name != scenario_name
                or "/" in scenario_name or "\\" in scenario_name):
            raise OutputError(f"scenario name {scenario_name!r} would put results outside {out_root}")
        parent = Path(out_root) / scenario_name
        _check_free_space(parent, min_free_bytes)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.final, self.path = _claim_run_name(parent)
            probe = self.path / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"cannot write to output folder {parent}: {exc.strerror or exc}") from None

    @classmethod
    def reopen(cls, incomplete: Path) -> RunFolder:
        """An interrupted run's folder (``<name>.incomplete``), to be finished and committed."""
        incomplete = Path(incomplete)
        if not incomplete.name.endswith(INCOMPLETE_SUFFIX):
            raise OutputError(f"{incomplete}: not an interrupted run (its name does not end in {INCOMPLETE_SUFFIX})")
        if not incomplete.is_dir():
            raise OutputError(f"{incomplete}: no such run folder")
        final = incomplete.with_name(incomplete.name[: -len(INCOMPLETE_SUFFIX)])
        if final.exists():
            raise OutputError(f"{final} already exists; this run was finished before")
        folder = cls.__new__(cls)
        folder.final, folder.path = final, incomplete
        return folder

    def write_text(self, name: str, text: str) -> Path:
        """Write ``name`` in the folder as UTF-8 text; returns its path."""
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target

    def write_csv(self, name: str, df: pd.DataFrame) -> Path:
        """Write ``df`` as ``name`` in CSV, without the index, floats to 10 significant digits; returns
        its path."""
        target = self.path / name
        df.to_csv(target, index=False, float_format="%.10g", lineterminator="\n")
        return target

    def write_parquet(self, name: str, df: pd.DataFrame) -> Path:
        """Write ``df`` as ``name`` in Parquet, without the index; returns its path."""
        target = self.path / name
        df.to_parquet(target, index=False)
        return target

    def write_json(self, name: str, data: dict) -> Path:
        """Write ``data`` as ``name`` in indented JSON (values JSON cannot hold written as text); returns its path."""
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def commit(self) -> Path:
        """Sync every file to disk, then rename the folder to its final name; returns that path."""
        _fsync_tree(self.path)  # the data first, then the name that says it is complete
        os.replace(self.path, self.final)
        _fsync_dir(self.final.parent)
        return self.final


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries where the system allows it (not on Windows, not every file system)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _claim_run_name(parent: Path) -> tuple[Path, Path]:
    """Create ``<timestamp>-<id>.incomplete`` exclusively; return (final, incomplete) paths.

    ``mkdir`` fails if the name is taken, so two runs can never share an incomplete folder; and a
    name whose complete folder exists (an earlier run that drew the same id) is skipped, so the
    final rename never lands on another run's results.
    """
    for _ in range(_NAME_ATTEMPTS):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{secrets.token_hex(3)}"
        final, incomplete = parent / run_id, parent / (run_id + INCOMPLETE_SUFFIX)
        try:
            incomplete.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        if final.exists():
            incomplete.rmdir()
            continue
        return final, incomplete
    raise OSError(f"no free run folder name after {_NAME_ATTEMPTS} attempts")


def _check_free_space(folder: Path, min_free_bytes: int) -> None:
    """Refuse (OutputError) when the file system that will hold ``folder`` is nearly full."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return  # cannot tell; the write test that follows still catches an unusable folder
    if usage.total == 0:
        return  # a pseudo file system (/proc, /sys) holds no files: the write test says so
    free = usage.free
    if free < min_free_bytes:
        raise OutputError(
            f"not enough free space for the output folder {folder}: {free / 1024**2:.1f} MB free on "
            f"{probe}, at least {min_free_bytes / 1024**2:.0f} MB needed; free some space or choose another --out"
        )


def manifest(*, seed: int, replications: int, arms: list[str], inputs: list[Path], wall_seconds: float,
             jobs: int, command_line: list[str] | None = None, extra: dict | None = None) -> dict:
    """The run's ``manifest.json``: version, git commit and uncommitted changes, time, command line,
    seed, replications, arms, jobs, package versions, the SHA-256 of each input file and the wall
    time in seconds, with ``extra`` added last."""
    data = {
        "lead_sim_version": lead_sim_version(),
        "git_commit": git_commit(),
        "git_uncommitted_changes": git_uncommitted(),
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command_line": command_line if command_line is not None else list(sys.argv),
        "seed": seed,
        "replications": replications,
        "arms": arms,
        "jobs": jobs,
        "package_versions": package_versions(),
        "input_files": {str(p): sha256_file(p) for p in inputs},
        "wall_seconds": round(wall_seconds, 3),
    }
    if extra:
        data.update(extra)
    return data
