"""Recording only the analysis window (``record_from=0.0``) changes the tables, never a result.

Costs, metrics, budgets, cost-effectiveness totals and PSA summaries read the window only, so a
run that does not keep the warm-up's events and spells (every replication whose tables are not
kept, every PSA simulation) must give exactly what the full record gives.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from lead_sim.analysis.psa import _summary
from lead_sim.model.engine import simulate
from lead_sim.runs.experiment import run_experiment
from lead_sim.scenario.loading import load

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
ANALYSES = ("budget", "cea", "group:race_ethnicity")


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as strings: the two tables may use different sets of categories."""
    return df.astype({c: str for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)})


@pytest.mark.slow  # simulates every arm twice: ~7 s; CI runs it with -m slow
def test_results_are_identical_with_or_without_the_warm_up_records():
    arms = load(DEMO).arms
    full = run_experiment(arms, 2, jobs=1, keep_tables="all", analyses=ANALYSES)  # records everything
    window = run_experiment(arms, 2, jobs=1, keep_tables="none", analyses=ANALYSES)  # from day 0 only
    assert not window.tables and full.tables
    pd.testing.assert_frame_equal(full.metrics, window.metrics, check_exact=True)
    assert full.n_steps == window.n_steps
    assert set(full.extras) == set(window.extras) and {"cea", "fiscal_year", "group:race_ethnicity"} <= set(full.extras)
    for name, per_task in full.extras.items():
        assert set(per_task) == set(window.extras[name])
        for key, df in per_task.items():
            pd.testing.assert_frame_equal(df, window.extras[name][key], check_exact=True)


def test_window_tables_are_the_full_tables_from_day_zero():
    sc = load(DEMO).arms["lead_continued"]
    full, part = simulate(sc, 1), simulate(sc, 1, record_from=0.0)
    assert full.records_from == -math.inf and part.records_from == 0.0
    assert full.n_steps == part.n_steps
    pd.testing.assert_frame_equal(full.people, part.people, check_exact=True)
    ev = full.events[full.events["day"] >= 0.0].reset_index(drop=True)
    sp = full.spells[full.spells["end_day"] > 0.0].reset_index(drop=True)
    assert 0 < len(part.events) < len(full.events) and 0 < len(part.spells) < len(full.spells)
    pd.testing.assert_frame_equal(_as_text(ev), _as_text(part.events), check_exact=True)
    pd.testing.assert_frame_equal(_as_text(sp), _as_text(part.spells), check_exact=True)
    # the PSA's per-simulation summary (metrics, outcome totals, priced quantities) is the same too
    assert _summary(sc, full) == _summary(sc, part)


def test_the_warm_up_is_recorded_only_when_something_reads_it():
    from lead_sim.runs.experiment import Task, _record_from

    sc = load(DEMO).arms["lead_pilot"]
    assert _record_from([Task("a", 0, sc, False, ANALYSES)]) == 0.0
    assert _record_from([Task("a", 0, sc, False, ()), Task("b", 0, sc, True, ())]) == -math.inf  # tables kept
    assert _record_from([Task("a", 0, sc, False, ("evaluation",))]) == -math.inf  # histories before LEAD
