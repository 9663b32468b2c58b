"""Calibrated parameter sets as PSA draws: ``lead-sim psa --posterior``.

``lead-sim calibrate --method sir`` writes ``posterior.csv``: one row per parameter set, columns
``draw``, one per calibrated parameter (dotted scenario keys) and ``prior_importance_weight``
(``weight`` in files written before 2026-12-03). Its rows are already a sample of the posterior
(resampled in proportion to the likelihood), so here every row is equally likely; the weight
(that of the prior point a row was resampled from) is checked, not used again: resampling by it
a second time would count the likelihood twice.

A PSA with a posterior takes the calibrated parameters *jointly* from the rows (a draw never
mixes values of different rows) and every other uncertain parameter from the scenario's
``uncertainty`` section exactly as without ``--posterior`` (same seed, same values). A
parameter in both is taken from the posterior.

Which row a draw uses (:func:`assign_rows`): the draws pass over the posterior's R rows again
and again, each pass in its own shuffled order from a stream of the draw seed. With as many
draws as rows every row is used once; with fewer, a random subset without repeats; with more,
every row is used equally often (to within one). Draw ``i`` depends only on the seed, ``i`` and
R, not on the number of draws.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lead_sim.analysis.psa import apply_values
from lead_sim.scenario.loading import ScenarioError
from lead_sim.scenario.schema import Scenario
from lead_sim.scenario.uncertainty import NOT_PARAMETERS, key_problem

FILE = "posterior.csv"
#: columns of posterior.csv that are not parameters
RESERVED = ("draw", "weight", "prior_importance_weight")
#: mixed into the draw seed so the choice of rows never shares a stream with the draws
POSTERIOR_STREAM = 0x504F5354  # "POST"
MAX_BYTES = 200_000_000
MAX_ROWS = 1_000_000
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)+$")

RULE = ("draw i uses posterior row perm_k[i mod R], k = i div R: each pass over the R rows is its own "
        "shuffle from the draw seed")


class PosteriorError(Exception):
    """The posterior cannot be used; ``problems`` are one-line messages naming file, row and column."""

    def __init__(self, problems: list[str]):
        """``problems``: every reason the posterior cannot be used, one message each."""
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Posterior:
    """The parameter sets of a posterior file, in file order (row ``i`` is its ``i``-th data row)."""

    path: Path
    sha256: str
    values: pd.DataFrame  # one float column per parameter

    @property
    def parameters(self) -> list[str]:
        """The calibrated parameters (dotted scenario keys), in file column order."""
        return list(self.values.columns)

    @property
    def rows(self) -> int:
        """Number of parameter sets (data rows) in the file."""
        return len(self.values)

    def settings(self) -> dict:
        """What a run records about its posterior (plan.json, manifest.json)."""
        return {"file": str(self.path.resolve()), "sha256": self.sha256, "rows": self.rows, "parameters": self.parameters,
                "row_rule": RULE}


def locate(path: Path) -> Path:
    """``path`` itself, or the posterior.csv inside a calibration run folder."""
    path = Path(path)
    if path.is_dir():
        inner = path / FILE
        if not inner.is_file():
            raise PosteriorError([f"--posterior {path}: the folder holds no {FILE} (it is written by "
                                  "lead-sim calibrate --method sir)"])
        return inner
    if not path.exists():
        raise PosteriorError([f"--posterior {path}: no such file or folder"])
    return path


def read_posterior(path: Path) -> Posterior:
    """Read and check a posterior file (or a calibration run folder holding posterior.csv).

    Checks the file on its own: text CSV, unique columns, at least one parameter column of
    dotted keys, one or more rows, every value a finite number, weights (if any) non-negative
    and not all zero. :func:`check_against` checks it against a scenario.
    """
    path = locate(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PosteriorError([f"--posterior {path}: cannot read ({exc.strerror or exc})"]) from None
    where = f"{path}"
    if len(raw) > MAX_BYTES:
        raise PosteriorError([f"{where}: larger than {MAX_BYTES // 1_000_000} MB; not a posterior sample"])
    if not raw.strip():
        raise PosteriorError([f"{where}: the file is empty; expected a header (draw, parameter keys, weight) and rows"])
    try:
        if b"\0" in raw:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PosteriorError([f"{where}: not a CSV text file (binary content)"]) from None
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise PosteriorError([f"{where}: not a readable CSV file ({exc})"]) from None
    table = [r for r in table if any(cell.strip() for cell in r)]
    if not table:
        raise PosteriorError([f"{where}: the file is empty; expected a header (draw, parameter keys, weight) and rows"])
    header = [h.strip() for h in table[0]]
    body = table[1:]
    _check_header(where, header)
    if not body:
        raise PosteriorError([f"{where}: a header but no rows; expected one row per parameter set"])
    if len(body) > MAX_ROWS:
        raise PosteriorError([f"{where}: {len(body)} rows; at most {MAX_ROWS:,} parameter sets are supported"])
    columns: dict[str, list[float]] = {h: [] for h in header}
    for i, cells in enumerate(body):
        if len(cells) != len(header):
            raise PosteriorError([f"{where}: row {i} (line {i + 2}): expected {len(header)} values as in the "
                                  f"header; found {len(cells)}"])
        for h, cell in zip(header, cells, strict=True):
            columns[h].append(_number(where, i, h, cell))
    params = [h for h in header if h not in RESERVED]
    for name in ("weight", "prior_importance_weight"):
        if name not in columns:
            continue
        w = np.array(columns[name])
        bad = np.flatnonzero(w < 0)
        if len(bad):
            i = int(bad[0])
            raise PosteriorError([f"{where}: row {i} (line {i + 2}), column {name}: expected a weight >= 0; "
                                  f"found {w[i]:g}"])
        if not w.sum() > 0:
            raise PosteriorError([f"{where}: column {name}: every weight is 0; expected some positive weight"])
    digest = hashlib.sha256(raw).hexdigest()
    values = pd.DataFrame({p: np.array(columns[p], dtype=float) for p in params})
    return Posterior(path, digest, values)


def _check_header(where: str, header: list[str]) -> None:
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise PosteriorError([f"{where}: column {_short(h)} appears twice; expected each column once"])
        seen.add(h)
    params = [h for h in header if h not in RESERVED]
    if not params:
        raise PosteriorError([f"{where}: no parameter columns; expected dotted scenario keys such as "
                              f"lead.rr_contact_engaged besides {', '.join(RESERVED)}; found only {header[:5]}"])
    for h in params:
        if not _PATH.match(h):
            raise PosteriorError([f"{where}: column {_short(h)} is not a scenario key; expected dotted keys such as "
                                  f"lead.rr_contact_engaged, or {' or '.join(RESERVED)}"])
        for banned in NOT_PARAMETERS:
            if h == banned or h.startswith(banned + "."):
                raise PosteriorError([f"{where}: column {h!r}: {banned} cannot be a calibrated parameter"])


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _number(where: str, i: int, column: str, cell: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        shown = _short(cell) if cell.strip() else "an empty cell"
        raise PosteriorError([f"{where}: row {i} (line {i + 2}), column {column}: expected a number; "
                              f"found {shown}"]) from None
    if not math.isfinite(v):
        raise PosteriorError([f"{where}: row {i} (line {i + 2}), column {column}: expected a finite number; "
                              f"found {cell.strip()}"])
    return v


def check_against(post: Posterior, base: Scenario, arms: dict[str, Scenario], arm_keys: dict[str, list[str]]) -> None:
    """Raise PosteriorError when a column is not a numeric key of ``base`` or a row is not a valid
    scenario in some arm (the first such row: its number, the key and what was expected)."""
    data = base.model_dump(mode="python", by_alias=True, exclude_none=True)
    for p in post.parameters:
        problem = key_problem(data, p)
        if problem:
            raise PosteriorError([f"{post.path}: column {p} is not a scenario key that holds a number: {problem}"])
    frame = post.values
    first_of = frame.drop_duplicates().index  # a resampled posterior repeats rows: check each set once
    for i in first_of:
        values = {p: float(frame.at[i, p]) for p in post.parameters}
        label = f"{post.path}: row {i} (line {i + 2})"
        for arm, sc in arms.items():
            try:
                apply_values(sc, values, skip=arm_keys.get(arm, ()), label=f"{label}, arm {arm}")
            except ScenarioError as exc:
                lines = [line for line in exc.problems if ": values: " not in line]
                raise PosteriorError(lines or exc.problems) from None


def assign_rows(n_rows: int, n_draws: int, seed: int) -> np.ndarray:
    """The posterior row (0-based) each draw uses: pass ``k`` over the rows (draws ``k*R`` to
    ``k*R + R - 1``) follows its own shuffle, the passes drawn in order from one seeded stream,
    so draw ``i`` depends only on ``seed``, ``i`` and ``n_rows``."""
    passes = -(-n_draws // n_rows)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), POSTERIOR_STREAM]))
    keys = rng.random((passes, n_rows))  # filled pass by pass: earlier passes do not depend on n_draws
    order = np.argsort(keys, axis=1, kind="stable")
    return order.reshape(-1)[:n_draws].astype(np.int64)


def with_posterior(draws: pd.DataFrame, post: Posterior, seed: int, integer: set[str]) -> pd.DataFrame:
    """``draws`` (columns draw, then parameters) with the posterior's parameters taken from its rows.

    Adds ``posterior_row`` after ``draw``; a parameter already in ``draws`` is replaced in place,
    others are appended. Keys in ``integer`` are rounded, as sampled draws are.
    """
    rows = assign_rows(post.rows, len(draws), seed)
    out = draws.copy()
    for p in post.parameters:
        v = post.values[p].to_numpy()[rows]
        out[p] = np.rint(v) if p in integer else v
    out.insert(1, "posterior_row", rows)
    return out
