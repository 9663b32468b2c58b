"""Small statistics shared by the analyses: means with t-intervals over replications."""

from __future__ import annotations

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
