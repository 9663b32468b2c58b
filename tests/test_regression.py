"""The demo scenario reproduces its recorded baseline exactly (update: python -m tests.baseline)."""

from __future__ import annotations

import difflib

from tests.baseline import BASELINE, demo_metrics_csv


def test_demo_matches_baseline():
    expected = BASELINE.read_text(encoding="utf-8")
    got = demo_metrics_csv()
    if got != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "baseline", "now"))[:40])
        raise AssertionError(f"demo results differ from {BASELINE.name} (run `python -m tests.baseline` if intended):\n{diff}")
