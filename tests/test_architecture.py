"""Who may import whom: the package's layers (import-linter contracts in pyproject.toml), outcomes
free of SimPy, no private names across modules; and the repository stands alone."""

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


def test_layers_and_no_cycles_hold():
    """The import-linter contracts of pyproject.toml: layers run one way (command line > reports >
    calibration > analyses > runs > outcomes | model > scenario > names | stats) and the modules
    of a layer import each other without cycles."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                          "--config", str(PKG.parent / "pyproject.toml"), "--no-cache"],
                         cwd=PKG.parent, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"broken import contracts (lint-imports):\n{res.stdout[-3000:]}{res.stderr[-2000:]}"
    assert "BROKEN" not in res.stdout and res.stdout.count("KEPT") == 2, res.stdout[-2000:]


def test_outcomes_do_not_import_simpy():
    for f in (PKG / "outcomes").glob("*.py"):
        bad = [m for m in imports_of(f) if m.split(".")[0] == "simpy"]
        assert not bad, f"{f.name} imports {bad}: outcomes are functions of tables, not of the simulation"


def test_no_private_names_cross_modules():
    """A name starting with _ is its module's own: no module imports another's."""
    bad = []
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lead_sim"):
                bad += [f"{f.relative_to(PKG)}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, f"private names imported across modules: {bad}"


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


def test_ruff_passes():
    """The lint rules of pyproject.toml (docstrings on every public name in lead_sim included)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "ruff", "check", "lead_sim", "tests", "benchmarks", "scripts"],
                         cwd=PKG.parent, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"ruff check failed:\n{res.stdout[-3000:]}{res.stderr[-1000:]}"


def test_dotted_paths_are_walked_in_one_module():
    """scenario/paths.py walks a scenario document by dotted key (lookup, set a number, find the
    parameter holding a path); no other module defines those walkers again. (scenario/loading.py
    keeps the --set walker, which also resolves mapping keys that themselves hold dots.)"""
    from lead_sim.scenario import paths

    doc = {"costs": {"per_day": {"jail": {"jail": {"average": 85, "marginal": {"usd": 54, "price_year": 2015}}}}},
           "lead": {"p_officer_trained": {"start": 0.0, "2019-07-01": 0.25}, "case_managers": 3}}
    assert paths.lookup(doc, "costs.per_day.jail.jail.average") == (True, 85, "")
    assert paths.lookup(doc, "costs.per_day.prison")[0] is False
    assert paths.set_number(doc, "lead.case_managers", 4.6) and doc["lead"]["case_managers"] == 5, "a whole number stays whole"
    assert paths.parameter_at(doc, ("lead", "p_officer_trained", "start")) == (True, {"start": 0.0, "2019-07-01": 0.25})
    assert paths.parameter_at(doc, ("costs", "per_day", "jail", "jail", "marginal", "usd")) == (True, {"usd": 54, "price_year": 2015})
    for f in PKG.rglob("*.py"):
        if f.name == "paths.py":
            continue
        names = {n.name for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.FunctionDef)}
        assert not names & {"lookup", "set_number", "parameter_at", "_set_in_place", "_has_path"}, f"{f}: a walker of its own"


def test_only_the_command_line_uses_click():
    """The library prints nothing and never exits: click belongs to the command line (cli/) and to the
    report commands' thin wrappers (report/commands.py). runs/case_run.py, for one, reports through
    exceptions and callbacks."""
    bad = [str(f.relative_to(PKG)) for f in PKG.rglob("*.py")
           if f.parent.name != "cli" and f.relative_to(PKG).as_posix() != "report/commands.py"
           and any(m.split(".")[0] == "click" for m in imports_of(f))]
    assert not bad, f"these library modules import click: {bad}"
