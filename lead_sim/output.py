"""Run folders: written under a temporary name and renamed into place only when complete.

A run writes into ``outputs/<scenario>/<timestamp>-<id>.incomplete/``; only after every file,
the manifest last, is written does it become ``<timestamp>-<id>/`` (an atomic rename on the
same file system). A crashed or interrupted run therefore never leaves a folder that looks
complete: its name still ends in ``.incomplete``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

INCOMPLETE_SUFFIX = ".incomplete"
PACKAGES = ("simpy", "numpy", "pandas", "scipy", "pydantic", "PyYAML", "click", "pyarrow")


class OutputError(Exception):
    """The output folder cannot be used."""


def lead_sim_version() -> str:
    try:
        return metadata.version("lead-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "lead-sim": lead_sim_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunFolder:
    """A run folder being written; ``commit()`` makes it complete."""

    def __init__(self, out_root: Path, scenario_name: str):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{secrets.token_hex(3)}"
        parent = Path(out_root) / scenario_name
        self.final = parent / run_id
        if self.final.resolve().parent != parent.resolve():
            raise OutputError(f"scenario name {scenario_name!r} would put results outside {out_root}")
        self.path = parent / (run_id + INCOMPLETE_SUFFIX)
        try:
            self.path.mkdir(parents=True, exist_ok=False)
            probe = self.path / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"cannot write to output folder {parent}: {exc.strerror or exc}") from None

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target

    def write_csv(self, name: str, df: pd.DataFrame) -> Path:
        target = self.path / name
        df.to_csv(target, index=False, float_format="%.10g", lineterminator="\n")
        return target

    def write_parquet(self, name: str, df: pd.DataFrame) -> Path:
        target = self.path / name
        df.to_parquet(target, index=False)
        return target

    def write_json(self, name: str, data: dict) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def commit(self) -> Path:
        os.replace(self.path, self.final)
        return self.final


def manifest(*, seed: int, replications: int, arms: list[str], inputs: list[Path], wall_seconds: float,
             jobs: int, command_line: list[str] | None = None, extra: dict | None = None) -> dict:
    data = {
        "lead_sim_version": lead_sim_version(),
        "git_commit": git_commit(),
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
