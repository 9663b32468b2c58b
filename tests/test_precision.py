"""compare --precision: replications are added until the chosen intervals are narrow enough."""

from __future__ import annotations

import json
import math

import pandas as pd
from click.testing import CliRunner
from conftest import SCENARIOS

from lead_sim.cli.main import main
from lead_sim.runs.precision import precision_table, replications_needed

SMALL = ["--set", "population.initial_people=160", "--set", "population.arrivals_per_year=32",
         "--set", "run.warmup_days=180", "--set", "run.end_date=2020-06-30"]
DEMO = SCENARIOS / "demo.yaml"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_precision_table_by_hand():
    metrics = pd.DataFrame({"arm": ["A"] * 4 + ["B"] * 4, "replication": [0, 1, 2, 3] * 2, "metric": "m",
                            "value": [10.0, 12.0, 10.0, 12.0, 9.0, 11.0, 9.0, 11.0]})
    t = precision_table(metrics, "A", ["m"], 0.2).set_index(["arm", "number"])
    # A: mean 11, sd 1.1547, half-width t(0.975, 3) * sd / 2 = 3.1824 * 0.57735 = 1.8374
    assert math.isclose(t.loc[("A", "mean"), "half_width"], 3.182446305 * 1.154700538 / 2, rel_tol=1e-6)
    assert math.isclose(t.loc[("A", "mean"), "relative_half_width"], t.loc[("A", "mean"), "half_width"] / 11)
    # B - A is -1 in every replication: zero-width interval, met
    assert t.loc[("B", "difference"), "half_width"] == 0 and bool(t.loc[("B", "difference"), "met"])
    assert bool(t.loc[("A", "mean"), "met"]) == (t.loc[("A", "mean"), "relative_half_width"] <= 0.2)
    assert replications_needed(10, 0.1, 0.05) == 44  # 10 * 4 * 1.1
    assert replications_needed(10, 0.051, 0.05) >= 11


def test_compare_precision_equals_a_run_with_that_many_replications(tmp_path):
    r = invoke("compare", DEMO, *SMALL, "--reps", 2, "--jobs", 1, "--keep-events", "none", "--precision", 0.25,
               "--precision-metric", "bookings_per_person_year", "--max-reps", 10, "--out", tmp_path / "p")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "precision: relative half-width <= 25.0%" in r.stderr, r.stderr
    folder = next((tmp_path / "p" / "demo").iterdir())
    n = json.loads((folder / "manifest.json").read_text())["replications"]
    table = pd.read_csv(folder / "precision.csv")
    assert set(table["metric"]) == {"bookings_per_person_year"} and (table["reps"] == n).all()
    assert 2 < n <= 10, f"expected more than the 2 starting replications and at most --max-reps; found {n}"
    assert table["met"].all() or n == 10
    plain = invoke("compare", DEMO, *SMALL, "--reps", n, "--jobs", 2, "--keep-events", "none", "--out", tmp_path / "q")
    assert plain.exit_code == 0, plain.stderr
    other = next((tmp_path / "q" / "demo").iterdir())
    for name in ("metrics.csv", "summary.csv", "comparison.csv"):
        assert (folder / name).read_bytes() == (other / name).read_bytes(), f"{name} differs from compare --reps {n}"
    bad = invoke("compare", DEMO, *SMALL, "--precision", 0.1, "--precision-metric", "bookings", "--out", tmp_path / "b")
    assert bad.exit_code == 2 and "--precision-metric: did you mean bookings_per_person_year?" in bad.stderr
    assert "simulating" not in bad.stderr and not (tmp_path / "b").exists(), "refused before anything runs or is written"
    low = invoke("compare", DEMO, *SMALL, "--reps", 6, "--precision", 0.2, "--max-reps", 3, "--out", tmp_path / "c")
    assert low.exit_code == 2 and "--max-reps 3: below the 6 replications" in low.stderr, low.stderr
