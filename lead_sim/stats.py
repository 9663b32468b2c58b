"""Small statistics shared by the analyses: means with t-intervals over replications, and Fieller's interval on a ratio of means."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import stdtrit  # Student t quantile; scipy.stats.t.ppf calls it (same numbers)


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a t-based confidence interval over replications (NaN interval if n < 2)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if n < 2:
        return m, float("nan"), float("nan")
    half = float(stdtrit(n - 1, 0.5 + level / 2) * v.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half


def ratio_ci(num, den, level: float = 0.95) -> tuple[float, float]:
    """Fieller's confidence interval for ``mean(num) / mean(den)`` over paired replications
    (an ICER: incremental costs over incremental effects, replication by replication).

    The interval is the set of ratios R for which ``mean(num) - R * mean(den)`` is not
    significantly different from 0 (a t-test on the paired values, ``n - 1`` degrees of
    freedom, covariance included). It is a finite interval only when ``mean(den)`` is
    itself significantly different from 0; otherwise it is unbounded and ``(nan, nan)`` is
    returned, as it is with fewer than two pairs. Fieller (1954), J R Stat Soc B 16:175-185;
    Willan & O'Brien (1996), Health Econ 5:297-305.
    """
    x = np.asarray(num, dtype=float)
    y = np.asarray(den, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 2:
        return float("nan"), float("nan")
    t2 = float(stdtrit(n - 1, 0.5 + level / 2)) ** 2
    mx, my = float(x.mean()), float(y.mean())
    cov = np.cov(x, y, ddof=1) / n  # of the means
    vx, vy, vxy = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    # (mx - R my)^2 <= t2 (vx - 2 R vxy + R^2 vy)  <=>  a R^2 + b R + c <= 0
    a = my * my - t2 * vy
    if not a > 0.0:
        return float("nan"), float("nan")
    half_b = -(mx * my - t2 * vxy)
    c = mx * mx - t2 * vx
    root = math.sqrt(max(half_b * half_b - a * c, 0.0))  # >= 0 when a > 0: mx / my is inside
    return (-half_b - root) / a, (-half_b + root) / a
