"""The ``calibration`` section of a scenario: what ``lead-sim calibrate`` fits, and to which targets.

::

    calibration:
      targets: targets/seattle_2017_recidivism.csv   # relative to the file that declares it
      arm: lead_pilot                    # optional; default: the first arm that is not the comparator
      parameters:                        # dotted key (as for --set) -> bounds of the search
        lead.rr_contact_engaged: {low: 0.2, high: 1.0}
      weights: {any_arrest_6m: 1.0}      # optional; a fitted target's weight in the objective (default 1)
      held_out: [any_arrest_long_term]   # optional; predicted and reported, never fitted

The model never reads this section, so it changes no simulation result; ``lead-sim calibrate``
uses it when no ``--param`` is given. This module checks the section on its own (names, bounds)
and, in :func:`check_keys`, its keys against the rest of the scenario. Two checks need more than
the scenario's data and live elsewhere: that the scenario accepts each bound (``loading.load``
re-validates the calibrated arm at both), and that the targets file exists and holds the named
targets (``calibration.setup``, run by ``lead-sim calibrate`` and ``lead-sim validate``; a
scenario copied without its targets still runs).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lead_sim import names
from lead_sim.scenario.paths import lookup
from lead_sim.scenario.uncertainty import key_problem

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)+$")
#: keys that are never fitted: labels, structure, seeds, the analysis sections themselves
NOT_FITTED = ("name", "description", "arms", "uncertainty", "calibration", "evaluation", "run.seed", "run.replications",
              "run.comparator")


def _number(v: Any) -> Any:
    """A number written as a number: not a boolean, not a string (YAML would read both)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, found {v!r}")
    if isinstance(v, int) and abs(v) > 1e300:
        raise ValueError(f"expected a number of at most 1e300 in size, found {v:.3g}")
    return v


def _text(v: Any) -> Any:
    if not isinstance(v, str) or not v.strip() or not v.isprintable():
        raise ValueError(f"expected a file name (printable text), found {v!r}")
    return v


Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
TargetName = Annotated[str, Field(max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Strict):
    """The range a calibrated parameter is searched over."""

    low: Number
    high: Number


class Calibration(_Strict):
    """Parameters to fit, their bounds, and the observed targets to fit them to."""

    targets: Annotated[str, BeforeValidator(_text), Field(max_length=4096)] = Field(
        description="targets file (CSV); a relative path is read from the folder of the file that declares it"
    )
    arm: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)] | None = Field(
        default=None, description="the arm in which LEAD runs; null: the first arm that is not the comparator"
    )
    parameters: dict[str, Bounds] = Field(min_length=1, max_length=50, description="dotted key -> {low, high}")
    weights: dict[TargetName, Annotated[Number, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, description="fitted target -> weight of its likelihood component (default 1)"
    )
    held_out: list[TargetName] = Field(
        default_factory=list, max_length=len(names.CALIBRATION_TARGETS),
        description="targets predicted and reported but not fitted (validation)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Calibration:
        for path, b in self.parameters.items():
            if not _PATH.match(path):
                raise ValueError(f"parameters: expected dotted keys like lead.rr_contact_engaged; found {path!r}")
            for banned in NOT_FITTED:
                if path == banned or path.startswith(banned + "."):
                    raise ValueError(f"parameters.{path}: {banned} cannot be calibrated")
            if not b.low < b.high:
                raise ValueError(f"parameters.{path}: expected low < high; found low {b.low:g}, high {b.high:g}")
        known = names.CALIBRATION_TARGETS
        for label, given in (("weights", list(self.weights)), ("held_out", self.held_out)):
            for t in given:
                if t not in known:
                    raise ValueError(f"{label}: expected names of targets the evaluation design produces "
                                     f"{list(known)}; found {t!r}")
        seen: set[str] = set()
        for t in self.held_out:
            if t in seen:
                raise ValueError(f"held_out: each target may be listed once; found {t!r} twice")
            seen.add(t)
        for t in self.weights:
            if t in seen:
                raise ValueError(f"weights.{t}: {t} is held out (predicted, not fitted), so it takes no weight")
        if seen >= set(known):
            raise ValueError(f"held_out: every target is held out, so nothing is left to fit; found {self.held_out}")
        return self


class EvaluationDesign(_Strict):
    """How the simulated evaluation forms and weights its groups (``outcomes/evaluation.py``)."""

    comparison_entry: Literal["first_encounter", "first_arrest", "random_arrest"] = Field(
        default="first_encounter",
        description="first_encounter: each person's first referral or eligible arrest while LEAD runs decides the group "
                    "(both groups recruited alike); first_arrest: never-referred people at their first eligible arrest; "
                    "random_arrest: never-referred people at a randomly chosen eligible arrest")
    weighting: Literal["propensity_att", "none"] = Field(
        default="propensity_att",
        description="propensity_att: comparison people weighted by p/(1-p) on their arrest history at entry, as the "
                    "Seattle evaluation's effect on the treated; none: unweighted")
    long_term_before_days: Annotated[float, Field(ge=0, le=36_500, allow_inf_nan=False)] = Field(
        default=2 * names.DAYS_PER_YEAR, description="the long-term window starts this many days before the analysis start (Seattle: "
                                 "October 2009, two years before LEAD)")
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = Field(default=0, description="for random_arrest")


def check_keys(data: dict, section: Calibration, arms: list[str]) -> None:
    """Raise ValueError naming the key when a calibrated parameter is not a real, continuous key
    of the scenario, or the arm does not exist. ``data`` is the scenario dumped to plain Python."""
    if section.arm is not None and section.arm not in arms:
        raise ValueError(f"calibration.arm: expected one of the arms {arms}; found {section.arm!r}")
    for path in section.parameters:
        where = f"calibration.parameters.{path}"
        problem = key_problem(data, path)
        if problem:
            raise ValueError(f"{where}: {problem}")
        value = lookup(data, path)[1]
        if isinstance(value, bool | int):
            raise ValueError(f"{where}: expected a key holding a continuous number; found a whole number ({value!r}), "
                             "which calibration cannot vary continuously")


def calibrated_arm(arms: list[str], comparator: str, section: Calibration | None, requested: str | None = None) -> str:
    """The arm a calibration runs in: ``requested`` (--arm), else the section's, else the first
    arm that is not the comparator (the comparator when it is the only arm)."""
    if requested is not None:
        return requested
    if section is not None and section.arm is not None:
        return section.arm
    return next((a for a in arms if a != comparator), comparator)
