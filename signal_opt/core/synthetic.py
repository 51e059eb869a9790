"""Synthetic but realistic problems for tests and the benchmark (seeded, no IO).

Each intersection has four approaches and four stages (N-S through, N-S left, E-W through,
E-W left). Every approach has a through and a left-turn group; with probability 1/2 it also
has a separate right-turn group, served both by its through stage and by the conflicting
left-turn stage (a right-turn overlap), so 8 to 12 lane groups.
"""

from __future__ import annotations

import numpy as np

from signal_opt.core.problem import RetimingProblem

# Approach a (0 N, 1 S, 2 E, 3 W): through stage, left stage, overlap stage of its right turn.
_THROUGH_STAGE = (0, 0, 2, 2)
_LEFT_STAGE = (1, 1, 3, 3)
_OVERLAP_STAGE = (3, 3, 1, 1)


def random_problem(
    n: int,
    rng: np.random.Generator,
    *,
    load: tuple[float, float] = (0.3, 0.95),
    current_fraction: float = 0.5,
    cycle_bounds: tuple[float, float] = (40.0, 180.0),
) -> RetimingProblem:
    """``n`` random 4-stage intersections with 8-12 lane groups.

    ``load`` is the range of the critical flow ratio sum ``Y`` the demand is scaled to (the
    upper end above 1 gives oversaturated intersections). A ``current_fraction`` of the
    intersections run a current plan (a feasible split of a random cycle).
    """
    p, k = 4, 12
    group_mask = np.zeros((n, k), dtype=bool)  # (N, K)
    serves = np.zeros((n, p, k), dtype=bool)  # (N, P, K)
    saturation = np.ones((n, k))  # (N, K)
    has_right = rng.random((n, 4)) < 0.5  # (N, 4)
    lanes_t = rng.integers(1, 4, size=(n, 4))
    lanes_l = rng.integers(1, 3, size=(n, 4))
    rows = np.arange(n)
    for a in range(4):
        t, left, right = 3 * a, 3 * a + 1, 3 * a + 2
        group_mask[:, t] = True
        group_mask[:, left] = True
        group_mask[:, right] = has_right[:, a]
        serves[:, _THROUGH_STAGE[a], t] = True
        serves[:, _LEFT_STAGE[a], left] = True
        serves[rows, _THROUGH_STAGE[a], right] = has_right[:, a]
        serves[rows, _OVERLAP_STAGE[a], right] = has_right[:, a]
        saturation[:, t] = 1800.0 * lanes_t[:, a]
        saturation[:, left] = 1700.0 * lanes_l[:, a]
        saturation[:, right] = 1600.0
    # Demand: random flow ratios scaled so that the critical ratio sum hits a random load.
    y = rng.uniform(0.2, 1.0, size=(n, k)) * group_mask  # (N, K)
    y[:, 2::3] *= 0.5
    crit = np.stack(
        [
            np.maximum(y[:, 0], y[:, 3]),
            np.maximum(y[:, 1], y[:, 4]),
            np.maximum(y[:, 6], y[:, 9]),
            np.maximum(y[:, 7], y[:, 10]),
        ],
        axis=1,
    ).sum(axis=1)  # (N,)
    target = rng.uniform(*load, size=n)
    y *= (target / crit)[:, None]
    demand = np.round(y * saturation, 1) * group_mask  # (N, K) veh/h

    stage_mask = np.ones((n, p), dtype=bool)
    intergreen = rng.choice([4.0, 5.0, 6.0], size=(n, p))  # (N, P)
    min_green = rng.choice([5.0, 7.0, 10.0, 15.0, 20.0], size=(n, p))  # (N, P)
    max_green = np.where(rng.random((n, p)) < 0.5, np.inf, rng.uniform(60.0, 90.0, (n, p)))
    max_green = np.maximum(max_green, min_green)
    lo, hi = cycle_bounds
    cycle_min = np.full(n, lo)
    cycle_max = np.full(n, hi)

    base = min_green.sum(1) + intergreen.sum(1)  # (N,)
    cur_cycle = np.maximum(np.round(rng.uniform(lo, max(lo, 0.7 * hi), size=n)), np.ceil(base))
    cur_cycle = np.clip(cur_cycle, cycle_min, cycle_max)
    spare = cur_cycle - base  # (N,)
    w = rng.dirichlet(np.ones(p), size=n)  # (N, P)
    cur_greens = min_green + spare[:, None] * w
    over = cur_greens > max_green
    cur_greens = np.where(over, np.nan, cur_greens)  # drop plans that break a max green
    has = (rng.random(n) < current_fraction) & ~over.any(axis=1) & (base <= hi)
    cur_cycle = np.where(has, cur_cycle, np.nan)
    cur_greens = np.where(has[:, None], cur_greens, np.nan)
    return RetimingProblem(
        demand=demand,
        saturation=saturation,
        group_mask=group_mask,
        serves=serves,
        stage_mask=stage_mask,
        intergreen=intergreen,
        min_green=min_green,
        max_green=max_green,
        cycle_min=cycle_min,
        cycle_max=cycle_max,
        current_cycle=cur_cycle,
        current_greens=cur_greens,
        ids=tuple(f"J{i}" for i in range(n)),
    )
