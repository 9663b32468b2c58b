"""Who may import whom (STYLE.md): the model never imports costing, metrics, reports or the CLI;
costing and metrics never import simpy."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "lead_sim"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_model_does_not_import_downstream():
    banned = ("lead_sim.costing", "lead_sim.metrics", "lead_sim.cli", "lead_sim.report", "lead_sim.experiment",
              "lead_sim.output")
    for f in (PKG / "model").glob("*.py"):
        bad = [m for m in imports_of(f) if m.startswith(banned)]
        assert not bad, f"{f.name} imports {bad}"


def test_costing_and_metrics_do_not_import_simpy():
    for name in ("costing.py", "metrics.py"):
        bad = [m for m in imports_of(PKG / name) if m.split(".")[0] == "simpy" or m.startswith("lead_sim.model")]
        assert not bad, f"{name} imports {bad}"


def test_no_eval_or_global_numpy_random_in_library():
    for f in PKG.rglob("*.py"):
        text = f.read_text()
        assert "eval(" not in text, f"{f} uses eval"
        assert "np.random.seed" not in text and "np.random.rand" not in text, f"{f} uses global NumPy random state"
        assert "yaml.load(" not in text or "Loader=_UniqueKeyLoader" in text, f"{f} loads YAML without the safe loader"


def test_the_repository_stands_alone():
    """Users have only the repository: nothing in it points at files outside it (../shared)."""
    root = PKG.parent
    files = [root / "README.md", *(root / "docs").rglob("*"), *(root / "scenarios").rglob("*.yaml"), *PKG.rglob("*.py")]
    bad = [str(f.relative_to(root)) for f in files if f.is_file() and "../shared" in f.read_text(errors="replace")]
    assert not bad, f"these files point outside the repository: {bad}"
    for doc in ("docs/domain.md", "docs/parameters.csv"):
        assert (root / doc).is_file(), f"{doc} is cited by the README and the scenarios"
