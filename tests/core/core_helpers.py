"""Small problems built by hand for the core tests."""

from __future__ import annotations

import numpy as np

from signal_opt.core import RetimingProblem


def simple_problem(
    flow_ratios: list[list[float]],
    *,
    saturation: float = 1800.0,
    intergreen: float = 4.0,
    min_green: float = 5.0,
    cycle_min: float = 30.0,
    cycle_max: float = 180.0,
    current: tuple[float, list[float]] | None = None,
) -> RetimingProblem:
    """One intersection; stage ``p`` serves its own groups with the given flow ratios."""
    p = len(flow_ratios)
    k = sum(len(r) for r in flow_ratios)
    serves = np.zeros((1, p, k), dtype=bool)
    demand = np.zeros((1, k))
    j = 0
    for s, ratios in enumerate(flow_ratios):
        for y in ratios:
            serves[0, s, j] = True
            demand[0, j] = y * saturation
            j += 1
    return RetimingProblem(
        demand=demand,
        saturation=np.full((1, k), saturation),
        group_mask=np.ones((1, k), dtype=bool),
        serves=serves,
        stage_mask=np.ones((1, p), dtype=bool),
        intergreen=np.full((1, p), intergreen),
        min_green=np.full((1, p), min_green),
        max_green=np.full((1, p), np.inf),
        cycle_min=np.array([cycle_min]),
        cycle_max=np.array([cycle_max]),
        current_cycle=None if current is None else np.array([current[0]]),
        current_greens=None if current is None else np.array([current[1]]),
    )
