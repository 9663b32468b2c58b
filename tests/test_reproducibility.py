"""Same scenario and seed: byte-identical results, whatever the workers, process or hash seed.

tests/test_cli.py compares runs made inside one test process; here each run is a fresh
``python -m lead_sim compare`` (different ``--jobs`` and ``PYTHONHASHSEED``, started together),
and ``run_experiment`` is run with 1 and 3 workers and with one arm or all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lead_sim.runs.experiment import compare, run_experiment, summarise
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
SMALL = ["population.initial_people=150", "population.arrivals_per_year=30", "run.end_date=2020-06-30",
         "run.warmup_days=180"]
FILES = ("summary.csv", "comparison.csv", "metrics.csv")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """As the run folder writes it (lead_sim.runs.output.RunFolder.write_csv)."""
    return df.to_csv(index=False, float_format="%.10g", lineterminator="\n").encode()


def start(out: Path, seed: int, jobs: int, hash_seed: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    args = [sys.executable, "-m", "lead_sim", "compare", str(DEMO), "--reps", "3", "--seed", str(seed),
            "--jobs", str(jobs), "--out", str(out)]
    for o in SMALL:
        args += ["--set", o]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def results_of(out: Path) -> dict[str, bytes]:
    folders = [p for p in (out / "demo").iterdir()]
    assert len(folders) == 1 and not folders[0].name.endswith(".incomplete"), f"expected one complete run; found {folders}"
    return {name: (folders[0] / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def fresh_processes(tmp_path_factory):
    runs = {"a": (7, 1, "0"), "b": (7, 2, "12345"), "c": (8, 2, "0")}
    outs = {k: tmp_path_factory.mktemp(f"fresh-{k}") for k in runs}
    procs = {k: start(outs[k], *spec) for k, spec in runs.items()}
    try:
        for k, p in procs.items():
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, f"run {k} {runs[k]} failed (exit {p.returncode}):\n{err.decode()[-3000:]}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
    return {k: results_of(out) for k, out in outs.items()}


@pytest.mark.parametrize("name", FILES)
def test_two_fresh_processes_give_identical_files(fresh_processes, name):
    a, b = fresh_processes["a"][name], fresh_processes["b"][name]
    assert a == b, (
        f"{name}: expected identical bytes from seed 7 with --jobs 1/PYTHONHASHSEED=0 and --jobs 2/PYTHONHASHSEED=12345; "
        f"first difference at byte {next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)}"
    )


@pytest.mark.parametrize("name", FILES)
def test_a_different_seed_changes_the_files(fresh_processes, name):
    assert fresh_processes["a"][name] != fresh_processes["c"][name], f"{name}: seeds 7 and 8 gave identical bytes"


@pytest.fixture(scope="module")
def arms():
    return load(DEMO, SMALL).arms


def test_worker_count_does_not_change_results_in_process(arms):
    one = run_experiment(arms, 3, jobs=1, keep_tables="none").metrics
    three = run_experiment(arms, 3, jobs=3, keep_tables="none").metrics
    assert csv_bytes(one) == csv_bytes(three), "metrics differ between 1 and 3 workers"
    for f in (summarise, lambda m: compare(m, "usual_processing")):
        assert csv_bytes(f(one)) == csv_bytes(f(three)), "summary or comparison differs between 1 and 3 workers"


def test_an_arm_gives_the_same_numbers_alone_or_with_the_others(arms):
    everything = run_experiment(arms, 2, jobs=1, keep_tables="none").metrics
    alone = run_experiment({"lead_pilot": arms["lead_pilot"]}, 2, jobs=1, keep_tables="none").metrics
    together = everything[everything.arm == "lead_pilot"].reset_index(drop=True)
    assert csv_bytes(alone) == csv_bytes(together), "lead_pilot's metrics depend on which other arms ran"
