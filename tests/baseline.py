"""The regression baseline of the bundled demo scenario.

``python -m tests.baseline`` rewrites ``tests/baselines/demo_metrics.csv``; do that only in a
commit that says why the model's results changed. ``test_regression.py`` checks that a fresh
run reproduces the file exactly.
"""

from __future__ import annotations

from pathlib import Path

from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).resolve().parent / "baselines" / "demo_metrics.csv"
REPS = 2


def demo_metrics_csv() -> str:
    arms = load(ROOT / "scenarios" / "demo.yaml").arms
    result = run_experiment(arms, REPS, jobs=1, keep_tables="none")
    return result.metrics.to_csv(index=False, float_format="%.10g", lineterminator="\n")


if __name__ == "__main__":
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    BASELINE.write_text(demo_metrics_csv(), encoding="utf-8")
    print(f"wrote {BASELINE}")  # noqa: T201
