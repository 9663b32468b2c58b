"""Benchmark of lead-sim calibrate: the default history matching of the Seattle scenario, and a resume.

    python benchmarks/calibration.py              # the full default calibration (target: <= 30 min on 2 cores)
    python benchmarks/calibration.py --no-write --extra=--waves=2 --extra=--points=20   # a quick look

Every figure is measured in this run: the calibration is a ``python -m lead_sim calibrate``
subprocess on ``scenarios/seattle_lead.yaml`` with its own calibration section (the parameters
and targets it declares) and the command's defaults (history matching: 3 waves, 10 parameter
sets per parameter in the first and half as many in each later wave, 4 replications each, 1,000
posterior draws); wall time is the subprocess's, start to exit. With ``--kill-after S`` the
first attempt is killed (SIGKILL) after S seconds and resumed with ``--resume``: the resumed
run's total simulations and its posterior medians are reported next to an uninterrupted run's.
A section is appended to benchmarks/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "seattle_lead.yaml"
TARGET_MINUTES = 30.0


def calibrate(out: Path, extra: list[str], resume: Path | None = None, kill_after: float | None = None) -> dict:
    cmd = [sys.executable, "-m", "lead_sim", "calibrate", str(SCENARIO), "--out", str(out), *extra]
    if resume is not None:
        cmd += ["--resume", str(resume)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"killed_after_seconds": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    folder = sorted(p for p in (out / "seattle_lead").iterdir() if not p.name.endswith(".incomplete"))[-1]
    m = json.loads((folder / "manifest.json").read_text())
    return {"wall_seconds": wall, "folder": str(folder), "simulations": m.get("simulations"),
            "parameter_sets": m.get("parameter_sets"), "posterior_median": m.get("posterior_median"),
            "stdout": stdout}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra", action="append", default=[], help="an extra calibrate option, e.g. --extra=--waves=2")
    ap.add_argument("--kill-after", type=float, default=None, help="kill the first attempt after this many seconds, then resume")
    ap.add_argument("--no-write", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = ap.parse_args()
    extra = [e.replace("=", " ", 1).split(" ", 1) if e.startswith("--") and "=" in e else [e] for e in args.extra]
    extra_flat = [x for part in extra for x in part]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        lines = [f"\n## calibrate (history matching), {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, "
                 f"load average {os.getloadavg()[0]:.1f}", "", f"options: {' '.join(extra_flat) or '(defaults)'}", ""]
        if args.kill_after:
            killed = calibrate(out, extra_flat, kill_after=args.kill_after)
            incomplete = next((p for p in (out / "seattle_lead").iterdir() if p.name.endswith(".incomplete")), None)
            if incomplete is None:
                raise SystemExit("the first attempt finished before it could be killed; lower --kill-after")
            lines.append(f"- killed (SIGKILL) after {killed['killed_after_seconds']:.0f} s; resumed:")
            res = calibrate(out, extra_flat, resume=incomplete)
        else:
            res = calibrate(out, extra_flat)
        minutes = res["wall_seconds"] / 60
        lines += [f"- wall time: {minutes:.1f} min ({res['parameter_sets']} parameter sets, {res['simulations']} "
                  f"simulations); target <= {TARGET_MINUTES:g} min: {'met' if minutes <= TARGET_MINUTES else 'NOT met'}",
                  "- posterior medians: " + ", ".join(f"{k} = {v:.4g}" for k, v in (res["posterior_median"] or {}).items())]
        print("\n".join(lines))
        print(res["stdout"])
        if not args.no_write:
            with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
