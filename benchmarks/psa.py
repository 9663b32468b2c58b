"""Benchmark of lead-sim psa: a 1,000-draw PSA of the default scenario, and parallel speed-ups.

    python benchmarks/psa.py                  # 1,000 draws on all cores, then speed-ups on 60 draws (~20 min on 2 cores)
    python benchmarks/psa.py --draws 200 --speedup-draws 30 --no-write

Every figure is measured in this run: each PSA is a ``python -m lead_sim psa`` subprocess on
``scenarios/denver_pilot.yaml`` with the arms usual_processing and lead_pilot and 1 replication
per draw; wall time is the subprocess's, from start to exit (imports, validating the draws,
simulating, analysis and writing the run folder). Speed-ups compare the same smaller PSA on 1
and 2 local worker processes, and on a local Dask cluster (``distributed.LocalCluster``, one
single-threaded worker process per worker) of 1 and 2 workers. A section is appended to
benchmarks/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "denver_pilot.yaml"


def run_psa(draws: int, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "lead_sim", "psa", str(SCENARIO), "--arm", "lead_pilot", "--reps", "1",
           "--draws", str(draws), "--out", str(out), *extra]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-3000:]}")
    folder = sorted(p for p in (out / "denver_pilot").iterdir() if not p.name.endswith(".incomplete"))[-1]
    m = json.loads((folder / "manifest.json").read_text())
    return {"wall_s": wall, "in_cli_s": m["wall_seconds"], "simulations": m["simulations"],
            "simulation_s": m["simulation_seconds"], "folder": folder, "stdout": res.stdout}


def dask_psa(draws: int, out: Path, workers: int) -> dict:
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        return run_psa(draws, out, ["--scheduler", cluster.scheduler_address])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--speedup-draws", type=int, default=60)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "lead_sim"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"full PSA: {args.draws} draws on {cores} local workers ...", flush=True)
        full = run_psa(args.draws, tmp / "full", ["--jobs", str(cores)])
        print(f"  {full['wall_s']:.1f} s wall, {full['simulations']} simulations", flush=True)
        summary = [line for line in full["stdout"].splitlines() if line.startswith("  ")][:8]
        n = args.speedup_draws
        for label, fn in (("local, 1 worker", lambda o: run_psa(n, o, ["--jobs", "1"])),
                          ("local, 2 workers", lambda o: run_psa(n, o, ["--jobs", "2"])),
                          ("Dask LocalCluster, 1 worker", lambda o: dask_psa(n, o, 1)),
                          ("Dask LocalCluster, 2 workers", lambda o: dask_psa(n, o, 2))):
            print(f"{label}: {n} draws ...", flush=True)
            r = fn(tmp / label.replace(" ", "_").replace(",", ""))
            rows.append((label, r))
            print(f"  {r['wall_s']:.1f} s wall", flush=True)
        same = len({(r["folder"] / "psa.csv").read_bytes() for _, r in rows}) == 1
    per_sim = full["simulation_s"] / full["simulations"]
    lines = [
        f"\n## PSA benchmark {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} (git {commit}{', lead_sim/ modified' if dirty else ''})\n",
        f"`python benchmarks/psa.py --draws {args.draws} --speedup-draws {n}` on {cores} cores; load average before "
        f"{load_before:.2f}. `lead-sim psa scenarios/denver_pilot.yaml --arm lead_pilot --reps 1` (arms usual_processing "
        "and lead_pilot), wall time of the whole command as a subprocess.\n",
        "| run | draws | simulations | wall s | in-CLI s | simulation CPU s (sum over tasks) |",
        "|---|---|---|---|---|---|",
        f"| {args.draws}-draw PSA, {cores} local workers | {args.draws} | {full['simulations']} | {full['wall_s']:.1f} | "
        f"{full['in_cli_s']:.1f} | {full['simulation_s']:.1f} |",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {n} | {r['simulations']} | {r['wall_s']:.1f} | {r['in_cli_s']:.1f} | {r['simulation_s']:.1f} |")
    lw = {label: r["wall_s"] for label, r in rows}
    lines += [
        "",
        f"- mean time per simulation (one arm-replication, in the workers): {per_sim:.2f} s; usual processing is "
        f"simulated once and re-priced for every draw, so {args.draws} draws need {full['simulations']} simulations",
        f"- speed-up 1 -> 2 local workers: {lw['local, 1 worker'] / lw['local, 2 workers']:.2f}x; "
        f"Dask LocalCluster 1 -> 2 workers: {lw['Dask LocalCluster, 1 worker'] / lw['Dask LocalCluster, 2 workers']:.2f}x "
        f"(wall, {n} draws, including start-up)",
        f"- psa.csv identical across the four speed-up runs: {'yes' if same else 'NO'}",
        f"- goal 1,000 draws in under 10 minutes on 2 cores: "
        f"{'met' if full['wall_s'] < 600 and args.draws >= 1000 else 'not met' if args.draws >= 1000 else 'not measured'}"
        f" ({full['wall_s'] / 60:.1f} min)",
        "",
        "Result of the full PSA (lead_pilot minus usual_processing):",
        "",
        "```",
        *summary,
        "```",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
