"""Probability distributions that a scenario file can name.

Every distribution is written in the file as a mapping with a ``dist`` key and is sampled by
*inverse transform*: one uniform number ``u`` in (0, 1) maps to one value. That is what makes
common random numbers work: the same ``u`` gives monotonically coupled values in two arms, or
in two PSA draws whose parameters differ.

Parameterisations (all durations in days, all costs in US dollars unless a key says otherwise):

======================  ==============================================================
``dist: fixed``         ``value``
``dist: exponential``   ``mean`` (> 0)
``dist: gamma``         ``mean`` and ``sd`` (shape = (mean/sd)^2, scale = sd^2/mean)
``dist: lognormal``     either ``mean`` and ``sd`` of the variable itself (not of its log),
                        or ``median`` and ``p90`` (the 50th and 90th percentiles)
``dist: beta``          ``mean`` and ``sd`` on [0, 1] (method of moments), for probabilities
``dist: triangular``    ``min``, ``mode``, ``max``
``dist: uniform``       ``min``, ``max``
``dist: empirical``     ``values`` and optional ``weights`` (discrete; default equal weights)
======================  ==============================================================
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
from statistics import NormalDist
from typing import Annotated, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import betaincinv, gammaincinv

_STD_NORMAL = NormalDist()
_Z90 = _STD_NORMAL.inv_cdf(0.9)


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def ppf(self, u: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def lower_bound(self) -> float:
        """Smallest value the distribution can take (used to check signs)."""
        return self.ppf(0.0)


class Fixed(_Dist):
    """``dist: fixed``: always ``value``."""

    dist: Literal["fixed"]
    value: float = Field(allow_inf_nan=False)

    def ppf(self, u: float) -> float:
        """``value``, whatever ``u``."""
        return self.value

    def mean(self) -> float:
        """``value``."""
        return self.value


class Exponential(_Dist):
    """``dist: exponential`` with the given ``mean`` (> 0)."""

    dist: Literal["exponential"]
    mean_: float = Field(alias="mean", gt=0, allow_inf_nan=False)

    def ppf(self, u: float) -> float:
        """The value at quantile ``u``: ``-mean * log(1 - u)`` (infinite at ``u`` = 1)."""
        return -self.mean_ * math.log1p(-u) if u < 1.0 else math.inf

    def mean(self) -> float:
        """The ``mean`` given."""
        return self.mean_

    def lower_bound(self) -> float:
        """0: the distribution takes no negative values."""
        return 0.0


def _finite_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"these parameters give {name} = {value!r}; expected a finite positive number")


class Gamma(_Dist):
    """``dist: gamma`` with the given ``mean`` and ``sd``: shape (mean/sd)^2, scale sd^2/mean."""

    dist: Literal["gamma"]
    mean_: float = Field(alias="mean", gt=0, allow_inf_nan=False)
    sd: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _usable(self) -> Gamma:
        try:
            shape, scale = (self.mean_ / self.sd) ** 2, self.sd**2 / self.mean_
        except OverflowError:
            raise ValueError("gamma mean and sd are too extreme to use (overflow)") from None
        _finite_positive("shape (mean/sd)^2", shape)
        _finite_positive("scale sd^2/mean", scale)
        return self

    def ppf(self, u: float) -> float:
        """The value at quantile ``u`` (the inverse of the regularised incomplete gamma function)."""
        shape = (self.mean_ / self.sd) ** 2
        scale = self.sd**2 / self.mean_
        return float(gammaincinv(shape, u)) * scale

    def mean(self) -> float:
        """The ``mean`` given."""
        return self.mean_

    def lower_bound(self) -> float:
        """0: the distribution takes no negative values."""
        return 0.0


class LogNormal(_Dist):
    """``dist: lognormal`` given either the ``mean`` and ``sd`` of the variable itself or its
    ``median`` and ``p90`` (never a mix of the two); the log-scale sd may be at most 10."""

    dist: Literal["lognormal"]
    mean_: float | None = Field(default=None, alias="mean", gt=0, allow_inf_nan=False)
    sd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    median: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    p90: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_parameterisation(self) -> LogNormal:
        by_moments = self.mean_ is not None and self.sd is not None
        by_quantiles = self.median is not None and self.p90 is not None
        mixed = (self.mean_ is not None or self.sd is not None) and (
            self.median is not None or self.p90 is not None
        )
        if mixed or not (by_moments or by_quantiles):
            given = [k for k, v in (("mean", self.mean_), ("sd", self.sd), ("median", self.median), ("p90", self.p90))
                     if v is not None]
            raise ValueError(f"lognormal needs either mean and sd, or median and p90; found {given or 'neither'}")
        if by_quantiles and cast(float, self.p90) <= cast(float, self.median):  # both given (by_quantiles)
            raise ValueError(f"lognormal p90 ({self.p90}) must exceed median ({self.median})")
        try:
            mu, sigma = self._mu_sigma()
        except (OverflowError, ValueError, ZeroDivisionError):
            raise ValueError("lognormal parameters are too extreme to use") from None
        if not (math.isfinite(mu) and math.isfinite(sigma)) or sigma > 10:
            raise ValueError(f"lognormal parameters give log-scale sd {sigma:g}; expected at most 10 "
                             "(a spread of more than 10^5-fold between median and 90th percentile)")
        return self

    def _mu_sigma(self) -> tuple[float, float]:
        # the validator allows median with p90, or mean with sd
        if self.median is not None:
            return math.log(self.median), math.log(cast(float, self.p90) / self.median) / _Z90
        mean, sd = cast(float, self.mean_), cast(float, self.sd)
        sigma2 = math.log1p((sd / mean) ** 2)
        return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)

    def ppf(self, u: float) -> float:
        """The value at quantile ``u``: 0 at ``u`` <= 0, infinite at ``u`` >= 1."""
        mu, sigma = self._mu_sigma()
        if u <= 0.0:
            return 0.0
        if u >= 1.0:
            return math.inf
        return math.exp(mu + sigma * _STD_NORMAL.inv_cdf(u))

    def mean(self) -> float:
        """The mean of the variable, ``exp(mu + sigma^2 / 2)`` (the ``mean`` given, if it was)."""
        mu, sigma = self._mu_sigma()
        return math.exp(mu + sigma**2 / 2)

    def lower_bound(self) -> float:
        """0: the distribution takes no negative values."""
        return 0.0


class Beta(_Dist):
    """``dist: beta`` on [0, 1] with the given ``mean`` and ``sd`` (method of moments, so sd^2 <
    mean * (1 - mean)): for probabilities."""

    dist: Literal["beta"]
    mean_: float = Field(alias="mean", gt=0, lt=1, allow_inf_nan=False)
    sd: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _feasible(self) -> Beta:
        if self.sd**2 >= self.mean_ * (1 - self.mean_):
            raise ValueError(
                f"beta sd must satisfy sd^2 < mean*(1-mean) = {self.mean_ * (1 - self.mean_):.4g}"
            )
        if self.sd**2 == 0.0:
            raise ValueError(f"beta sd {self.sd!r} is too small to use (its square is 0)")
        a, b = self.ab()
        _finite_positive("alpha", a)
        _finite_positive("beta", b)
        return self

    def ab(self) -> tuple[float, float]:
        """The shape parameters (alpha, beta) with the given mean and sd."""
        k = self.mean_ * (1 - self.mean_) / self.sd**2 - 1
        return self.mean_ * k, (1 - self.mean_) * k

    def ppf(self, u: float) -> float:
        """The value at quantile ``u`` (the inverse of the regularised incomplete beta function)."""
        a, b = self.ab()
        return float(betaincinv(a, b, u))

    def mean(self) -> float:
        """The ``mean`` given."""
        return self.mean_


class Triangular(_Dist):
    """``dist: triangular`` from ``min`` to ``max`` with its peak at ``mode`` (min < max)."""

    dist: Literal["triangular"]
    min: float = Field(allow_inf_nan=False)
    mode: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.min <= self.mode <= self.max) or self.min == self.max:
            raise ValueError(
                f"triangular needs min <= mode <= max and min < max; found "
                f"min={self.min}, mode={self.mode}, max={self.max}"
            )
        if not math.isfinite(self.max - self.min):
            raise ValueError(f"triangular range max - min overflows; found min={self.min}, max={self.max}")
        return self

    def ppf(self, u: float) -> float:
        """The value at quantile ``u``."""
        lo, c, hi = self.min, self.mode, self.max
        f = (c - lo) / (hi - lo)
        if u < f:
            return lo + math.sqrt(u * (hi - lo) * (c - lo))
        return hi - math.sqrt((1 - u) * (hi - lo) * (hi - c))

    def mean(self) -> float:
        """``(min + mode + max) / 3``."""
        return (self.min + self.mode + self.max) / 3


class Uniform(_Dist):
    """``dist: uniform`` from ``min`` to ``max`` (min < max)."""

    dist: Literal["uniform"]
    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.min < self.max:
            raise ValueError(f"uniform needs min < max; found min={self.min}, max={self.max}")
        if not math.isfinite(self.max - self.min):
            raise ValueError(f"uniform range max - min overflows; found min={self.min}, max={self.max}")
        return self

    def ppf(self, u: float) -> float:
        """The value at quantile ``u``: ``min + u * (max - min)``."""
        return self.min + u * (self.max - self.min)

    def mean(self) -> float:
        """``(min + max) / 2``."""
        return (self.min + self.max) / 2


class Empirical(_Dist):
    """``dist: empirical``: one of ``values``, with probabilities in proportion to ``weights``
    (equal when not given)."""

    dist: Literal["empirical"]
    values: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"empirical needs one weight per value; found {len(self.values)} values "
                    f"and {len(self.weights)} weights"
                )
            if sum(self.weights) <= 0:
                raise ValueError("empirical weights must not all be zero")
        return self

    def _cdf(self) -> list[float]:
        w = self.weights or [1.0] * len(self.values)
        total = sum(w)
        return [c / total for c in accumulate(w)]

    def ppf(self, u: float) -> float:
        """The value whose share of the cumulative weight the uniform ``u`` falls in."""
        cdf = self._cdf()
        return self.values[min(bisect_right(cdf, u), len(self.values) - 1)]

    def mean(self) -> float:
        """The weighted mean of ``values``."""
        w = self.weights or [1.0] * len(self.values)
        return sum(v * wi for v, wi in zip(self.values, w, strict=True)) / sum(w)

    def lower_bound(self) -> float:
        """The smallest of ``values``."""
        return min(self.values)


Distribution = Annotated[
    Union[Fixed, Exponential, Gamma, LogNormal, Beta, Triangular, Uniform, Empirical],  # noqa: UP007
    Field(discriminator="dist"),
]


def compile_sampler(dist: _Dist):
    """Return a fast ``u -> value`` function with the parameters precomputed.

    The simulation calls samplers many thousands of times, so pydantic attribute access and
    re-deriving parameters are kept out of the event loop.
    """
    if isinstance(dist, Fixed):
        v = dist.value
        return lambda u: v
    if isinstance(dist, Exponential):
        m = dist.mean_
        return lambda u: -m * math.log1p(-u)
    if isinstance(dist, LogNormal):
        mu, sigma = dist._mu_sigma()
        inv = _STD_NORMAL.inv_cdf
        return lambda u: math.exp(mu + sigma * inv(min(max(u, 1e-12), 1 - 1e-12)))
    if isinstance(dist, Gamma):
        shape, scale = (dist.mean_ / dist.sd) ** 2, dist.sd**2 / dist.mean_
        return lambda u: float(gammaincinv(shape, u)) * scale
    if isinstance(dist, Beta):
        a, b = dist.ab()
        return lambda u: float(betaincinv(a, b, u))
    if isinstance(dist, Empirical):
        cdf, values, last = dist._cdf(), list(dist.values), len(dist.values) - 1
        return lambda u: values[min(bisect_right(cdf, u), last)]
    return dist.ppf
