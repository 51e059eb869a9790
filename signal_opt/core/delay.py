"""Delay model: HCM 2000 uniform + incremental delay, Akcelik stop rate, Webster's cycle.

Every function broadcasts over arrays of any shape (the retiming search calls them on
``(n, C, K)`` blocks: intersections x candidate cycles x lane groups).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def uniform_delay(cycle: ArrayLike, green_ratio: ArrayLike, x: ArrayLike) -> FloatArray:
    """HCM uniform delay ``d1 = 0.5 C (1 - u)^2 / (1 - min(1, x) u)`` (s/veh).

    ``green_ratio`` is ``u = g / C`` (effective green over cycle), ``x`` the degree of
    saturation; above saturation ``x`` is taken as 1 (the incremental term carries the rest).
    """
    c = np.asarray(cycle, dtype=np.float64)
    u = np.asarray(green_ratio, dtype=np.float64)
    xx = np.minimum(np.asarray(x, dtype=np.float64), 1.0)
    return 0.5 * c * (1.0 - u) ** 2 / (1.0 - xx * u)


def incremental_delay(
    x: ArrayLike,
    capacity: ArrayLike,
    period_h: float = 0.25,
    k: float = 0.5,
    filtering: float = 1.0,
) -> FloatArray:
    """HCM incremental delay ``d2 = 900 T [(x-1) + sqrt((x-1)^2 + 8 k I x / (c T))]`` (s/veh).

    ``capacity`` ``c`` in veh/h, ``period_h`` ``T`` in hours. Valid above saturation: the
    term grows with the queue built over the analysis period.
    """
    xx = np.asarray(x, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    xm1 = xx - 1.0
    return (
        900.0 * period_h * (xm1 + np.sqrt(xm1 * xm1 + 8.0 * k * filtering * xx / (cap * period_h)))
    )


def stop_rate(green_ratio: ArrayLike, x: ArrayLike, factor: float = 0.9) -> FloatArray:
    """Akcelik's stops per vehicle ``h = factor (1 - u) / (1 - min(1, x) u)``."""
    u = np.asarray(green_ratio, dtype=np.float64)
    xx = np.minimum(np.asarray(x, dtype=np.float64), 1.0)
    return factor * (1.0 - u) / (1.0 - xx * u)


def control_delay(
    cycle: ArrayLike,
    effective_green: ArrayLike,
    flow_ratio: ArrayLike,
    saturation: ArrayLike,
    period_h: float = 0.25,
    k: float = 0.5,
    filtering: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Delay (s/veh) and degree of saturation of lane groups.

    ``flow_ratio`` is ``y = v / s``; returns ``(d1 + d2, x)`` with ``x = y C / g``.
    """
    c = np.asarray(cycle, dtype=np.float64)
    g = np.asarray(effective_green, dtype=np.float64)
    u = g / c
    x = np.asarray(flow_ratio, dtype=np.float64) / u
    cap = np.asarray(saturation, dtype=np.float64) * u
    d = uniform_delay(c, u, x) + incremental_delay(x, cap, period_h, k, filtering)
    return d, x


def webster_cycle(lost_time: ArrayLike, flow_ratio_sum: ArrayLike) -> FloatArray:
    """Webster's optimum cycle ``C0 = (1.5 L + 5) / (1 - Y)`` (s); inf where ``Y >= 1``."""
    lt = np.asarray(lost_time, dtype=np.float64)
    y = np.asarray(flow_ratio_sum, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y < 1.0, (1.5 * lt + 5.0) / np.maximum(1.0 - y, 1e-300), np.inf)
