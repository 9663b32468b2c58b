"""The package type-checks: ``mypy lead_sim`` with the settings of ``[tool.mypy]`` in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_passes():
    """``mypy lead_sim`` exits 0 (tens of seconds without a cache, so only with -m slow)."""
    res = subprocess.run([sys.executable, "-m", "mypy", "lead_sim"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"mypy lead_sim failed (exit {res.returncode}):\n{res.stdout[-4000:]}{res.stderr[-2000:]}"
