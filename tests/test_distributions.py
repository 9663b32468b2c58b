"""Distributions: inverse-CDF sampling matches each parameterisation's moments and quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from lead_sim.scenario.distributions import Distribution, compile_sampler

ADAPTER = TypeAdapter(Distribution)
U = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule over (0, 1): E[X] = integral of ppf(u)


def parse(d: dict):
    return ADAPTER.validate_python(d)


@pytest.mark.parametrize(
    "spec,mean,sd",
    [
        ({"dist": "fixed", "value": 3.0}, 3.0, 0.0),
        ({"dist": "exponential", "mean": 5.0}, 5.0, 5.0),
        ({"dist": "gamma", "mean": 4.0, "sd": 2.0}, 4.0, 2.0),
        ({"dist": "lognormal", "mean": 10.0, "sd": 6.0}, 10.0, 6.0),
        ({"dist": "beta", "mean": 0.3, "sd": 0.1}, 0.3, 0.1),
        ({"dist": "triangular", "min": 1.0, "mode": 2.0, "max": 6.0}, 3.0, np.sqrt((1 + 4 + 36 - 2 - 6 - 12) / 18)),
        ({"dist": "uniform", "min": 2.0, "max": 4.0}, 3.0, 2 / np.sqrt(12)),
        ({"dist": "empirical", "values": [1, 2, 10], "weights": [1, 1, 2]}, 5.75, np.sqrt((1 + 4 + 200) / 4 - 5.75**2)),
    ],
)
def test_inverse_cdf_moments(spec, mean, sd):
    d = parse(spec)
    x = np.array([compile_sampler(d)(u) for u in U])
    assert x.mean() == pytest.approx(mean, rel=2e-3, abs=1e-9), f"{spec}: mean {x.mean()} vs {mean}"
    assert x.std() == pytest.approx(sd, rel=2e-2, abs=1e-9), f"{spec}: sd {x.std()} vs {sd}"
    assert d.mean() == pytest.approx(mean, rel=1e-9)


def test_lognormal_by_median_and_p90():
    d = parse({"dist": "lognormal", "median": 60, "p90": 240})
    f = compile_sampler(d)
    assert f(0.5) == pytest.approx(60)
    assert f(0.9) == pytest.approx(240)


def test_samplers_are_monotone_in_u():
    for spec in ({"dist": "gamma", "mean": 4.0, "sd": 3.0}, {"dist": "lognormal", "median": 2, "p90": 9},
                 {"dist": "triangular", "min": 0, "mode": 0, "max": 1}):
        f = compile_sampler(parse(spec))
        x = [f(u) for u in np.linspace(0.001, 0.999, 500)]
        assert all(b >= a for a, b in zip(x, x[1:], strict=False)), f"{spec} not monotone"


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "lognormal", "mean": 3},
        {"dist": "lognormal", "median": 5, "p90": 4},
        {"dist": "lognormal", "mean": 3, "sd": 1, "median": 2, "p90": 5},
        {"dist": "beta", "mean": 0.5, "sd": 0.6},
        {"dist": "triangular", "min": 3, "mode": 2, "max": 1},
        {"dist": "gamma", "mean": -1, "sd": 1},
        {"dist": "empirical", "values": [1, 2], "weights": [1]},
        {"dist": "exponential", "mean": float("nan")},
        {"dist": "normal", "mean": 1, "sd": 1},
        {"dist": "fixed", "value": 1, "sd": 2},
    ],
)
def test_invalid_parameterisations_are_rejected(spec):
    with pytest.raises(ValidationError):
        parse(spec)
