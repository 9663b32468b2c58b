"""The ``uncertainty`` section of a scenario: which parameters are uncertain, and how.

Each uncertain parameter is a dotted key of the scenario (the same keys ``--set`` and arms use)
that holds a number, with a distribution for its value::

    uncertainty:
      draws: 1000                       # PSA draws (lead-sim psa --draws overrides)
      replications_per_draw: 1          # paired replications simulated for every draw
      parameters:
        lead.rr_contact_engaged: {dist: lognormal, median: 0.5, p90: 0.75}
        costs.per_day.jail.jail: {dist: triangular, min: 40, mode: 60, max: 90}
      correlation:                      # optional; Gaussian copula, rho on the normal scale
        - {parameters: [costs.per_event.arrest.police, costs.per_event.lead_referral.police], rho: 0.8}
      one_way_ranges:                   # optional low/high for the tornado (default: 2.5th and 97.5th percentiles)
        lead.rr_contact_engaged: [0.25, 0.9]

A key may point at a plain number, at one entry of a dated schedule
(``lead.p_officer_trained.2019-07-01``), at a parameter of a distribution
(``lead.enrollment_days.median``) or at a unit cost entered as ``{usd, price_year}`` (the drawn
value then replaces it as a plain number: in dollars of ``costs.default_price_year``, else of
``run.price_year``). A key whose value is an integer
(``lead.caseload_per_manager``) receives draws rounded to the nearest integer.

This module checks the section on its own (distributions, correlation matrix, ranges);
:func:`check_paths` checks the keys against the rest of the scenario.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lead_sim.scenario.distributions import Distribution
from lead_sim.scenario.paths import key_text, lookup

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)+$")
#: sections whose values are never parameters (structure, names, seeds)
NOT_PARAMETERS = ("name", "description", "arms", "uncertainty", "run.seed", "run.replications", "run.comparator")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Correlation(_Strict):
    """Correlation between two uncertain parameters (Gaussian copula; rho of the normal scores)."""

    parameters: list[str] = Field(min_length=2, max_length=2)
    rho: float = Field(gt=-1, lt=1, allow_inf_nan=False)


class Uncertainty(_Strict):
    """Uncertain parameters for probabilistic and one-way sensitivity analysis."""

    draws: int = Field(default=1000, ge=1, le=1_000_000, description="PSA draws")
    replications_per_draw: int = Field(default=1, ge=1, le=10_000, description="paired replications per draw")
    seed: int | None = Field(default=None, ge=0, lt=2**63, description="seed of the draws; null: run.seed")
    parameters: dict[str, Distribution] = Field(min_length=1, description="dotted key -> distribution of its value")
    correlation: list[Correlation] = Field(default_factory=list)
    one_way_ranges: dict[str, list[float]] = Field(
        default_factory=dict, description="dotted key -> [low, high] for one-way sensitivity (tornado)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Uncertainty:
        for path in self.parameters:
            if not _PATH.match(path):
                raise ValueError(f"parameters: expected dotted keys like lead.rr_contact_engaged; found {path!r}")
            for banned in NOT_PARAMETERS:
                if path == banned or path.startswith(banned + "."):
                    raise ValueError(f"parameters.{path}: {banned} cannot be an uncertain parameter")
        known = set(self.parameters)
        seen: set[frozenset] = set()
        for i, c in enumerate(self.correlation):
            a, b = c.parameters
            for p in (a, b):
                if p not in known:
                    raise ValueError(f"correlation.{i}: expected keys listed in uncertainty.parameters; found {p!r}")
            if a == b:
                raise ValueError(f"correlation.{i}: a parameter cannot be correlated with itself; found {a} twice")
            pair = frozenset((a, b))
            if pair in seen:
                raise ValueError(f"correlation.{i}: each pair may be given once; found {a}, {b} again")
            seen.add(pair)
        if self.correlation:
            try:
                np.linalg.cholesky(self.correlation_matrix())
            except np.linalg.LinAlgError:
                raise ValueError("correlation: the correlations found do not form a valid (positive definite) "
                                 "correlation matrix; weaken some of them") from None
        for path, bounds in self.one_way_ranges.items():
            if len(bounds) != 2:
                raise ValueError(f"one_way_ranges.{path}: expected [low, high]; found {bounds}")
            lo, hi = bounds
            if path not in known:
                raise ValueError(f"one_way_ranges.{path}: expected a key listed in uncertainty.parameters; found none")
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"one_way_ranges.{path}: expected [low, high] with low < high; found [{lo:g}, {hi:g}]")
        return self

    def names(self) -> list[str]:
        """The uncertain parameters' dotted keys, in the order they are given."""
        return list(self.parameters)

    def correlation_matrix(self) -> np.ndarray:
        """The parameters' correlation matrix on the normal scale (Gaussian copula), in the order of
        :meth:`names`; 1 on the diagonal, 0 where no correlation is given."""
        names = self.names()
        idx = {n: i for i, n in enumerate(names)}
        m = np.eye(len(names))
        for c in self.correlation:
            i, j = idx[c.parameters[0]], idx[c.parameters[1]]
            m[i, j] = m[j, i] = c.rho
        return m

    def one_way_range(self, path: str) -> tuple[float, float]:
        """Low and high value for one-way sensitivity: given, or the 2.5th and 97.5th percentiles."""
        if path in self.one_way_ranges:
            lo, hi = self.one_way_ranges[path]
            return float(lo), float(hi)
        d = self.parameters[path]
        return float(d.ppf(0.025)), float(d.ppf(0.975))


# ---- keys against the scenario ------------------------------------------------------------------


def is_priced(value: Any) -> bool:
    """A unit cost entered as {usd, price_year}."""
    return isinstance(value, dict) and set(value) == {"usd", "price_year"}


def is_number(value: Any) -> bool:
    """Whether ``value`` is a plain number (int or float, not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_paths(data: dict, uncertainty: Uncertainty) -> None:
    """Raise ValueError naming the key when an uncertain parameter is not a number of the scenario.

    ``data`` is the scenario dumped to plain Python (``model_dump(by_alias=True)``).
    """
    for path in uncertainty.parameters:
        problem = key_problem(data, path, "(uncertain keys must exist: remove it, or --set uncertainty=null)")
        if problem:
            raise ValueError(f"uncertainty.parameters.{path}: {problem}")


def key_problem(data: dict, path: str, remedy: str = "") -> str | None:
    """Why ``path`` is not a key of the scenario ``data`` holding a number (None when it is one).

    The text suggests close matches; ``remedy`` is appended when the key does not exist.
    """
    found, value, stop = lookup(data, path)
    if not found:
        if isinstance(value, dict):
            keys = sorted(map(key_text, value))
            missing = path.split(".")[len(stop.split(".")) if stop else 0]
            close = difflib.get_close_matches(missing, keys, n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
            at = stop or "the top level"
            return (f"no such key in the scenario{hint}; found under {at}: {shown or 'nothing'}"
                    + (f" {remedy}" if remedy else ""))
        return f"no such key in the scenario; found a value, not a mapping, at {stop}"
    if not (is_number(value) or is_priced(value)):
        kind = type(value).__name__
        if isinstance(value, dict):
            kind = "a distribution" if "dist" in value else "a dated schedule" if "start" in value else "a mapping"
        return (f"expected a key holding a number; found {kind} "
                "(point at one of its numbers: a distribution's median, a schedule's date)")
    return None
