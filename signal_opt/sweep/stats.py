"""Mean and Student-t confidence interval across seeds, without scipy.

For an integer number of degrees of freedom the t distribution's two-sided probability
``P(|T| < t)`` has a closed form (a finite series in ``cos(theta)``, ``theta =
atan(t / sqrt(df))``, Abramowitz & Stegun 26.7.3-4); the quantile is found by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def t_two_sided_probability(t: float, df: int) -> float:
    """``P(|T| < t)`` for Student's t with ``df`` (>= 1) degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 1:
        total, term = 0.0, math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):  # cos + 2/3 cos^3 + (2*4)/(3*5) cos^5 ...
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return (2.0 / math.pi) * (theta + s * total) if df > 1 else 2.0 * theta / math.pi
    total, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):  # 1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 ...
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return s * total


def t_critical(df: int, confidence: float = 0.95) -> float:
    """The ``t`` with ``P(|T| < t) = confidence`` (2.776 for df = 4 at 95 %)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    lo, hi = 0.0, 1.0
    while t_two_sided_probability(hi, df) < confidence:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_two_sided_probability(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its confidence interval (NaN with fewer than 2 values)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_critical(n - 1, confidence) * math.sqrt(var / n)
