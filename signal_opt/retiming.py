"""Retime a whole network: the use-case shared by the adaptive controller and the service.

demand per lane group -> core (best cycle and splits of every intersection in one array
pass) -> coordinated groups take a common cycle (or half of it) -> offsets from platoon
links -> plans, each checked against its intersection's safety rules. An intersection
whose plan cannot be made safe gets its current plan (or its base plan) instead: one bad
intersection never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from signal_opt.core import (
    CoordinationProblem,
    CoreSettings,
    RetimingProblem,
    RetimingResult,
    optimize_offsets,
    problem_from_intersections,
    retime,
)
from signal_opt.core.offsets import LinkLike, choose_common_cycle
from signal_opt.model import Intersection, Plan, PlanError, check_plan


@dataclass(frozen=True)
class NetworkRetiming:
    plans: list[Plan]
    result: RetimingResult
    problem: RetimingProblem
    fallbacks: list[str]
    """Ids of intersections that got their current / base plan instead of a new one."""
    seconds: float


def retime_network(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]],
    current: Sequence[Plan | None] | None = None,
    links: Sequence[LinkLike] = (),
    settings: CoreSettings | None = None,
    source: str = "adaptive",
) -> NetworkRetiming:
    """New plans for ``intersections`` from ``demand`` (veh/h per lane group id)."""
    t0 = time.perf_counter()
    settings = settings or CoreSettings()
    problem = problem_from_intersections(intersections, demand, current)
    result = retime(problem, settings)
    if links:
        coord = CoordinationProblem.from_links(problem, list(links))
        cycle = choose_common_cycle(problem, result, coord.groups(), settings)
        if np.isfinite(cycle).any():
            result = retime(problem, settings, cycle=cycle)
            offsets = optimize_offsets(coord, result, settings)  # (N,)
            offsets = _closest_shift(offsets, result.cycle, coord.groups(), current)
            result = replace(result, offsets=offsets)
    plans = result.to_plans(list(intersections), source=source)
    out, fallbacks = [], []
    for i, (x, plan) in enumerate(zip(intersections, plans)):
        try:
            check_plan(x, plan)
            out.append(plan)
        except PlanError as exc:
            prev = current[i] if current is not None else None
            safe = prev if prev is not None else x.base_plan()
            out.append(replace(safe, source="fallback", details={"error": str(exc)}))
            fallbacks.append(x.id)
    return NetworkRetiming(out, result, problem, fallbacks, time.perf_counter() - t0)


def _closest_shift(
    offsets: np.ndarray,
    cycle: np.ndarray,
    groups: np.ndarray,
    current: Sequence[Plan | None] | None,
) -> np.ndarray:
    """Offsets of each group shifted together so the signals move as little as possible.

    Only offset differences matter to the platoons; adding one constant per group keeps
    them and lets the running signals reach the new plan in the fewest transition cycles.
    """
    if current is None:
        return offsets
    out = offsets.copy()
    cur = np.array([np.nan if p is None else p.offset for p in current])  # (N,)
    for g in np.unique(groups[groups >= 0]):
        members = (groups == g) & np.isfinite(cur)
        if not members.any():
            continue
        cm = float(cycle[members].max())
        shifts = np.arange(0.0, cm, 1.0)  # (S,)
        c = cycle[members][None, :]  # (1, n)
        diff = (offsets[members][None, :] + shifts[:, None] - cur[members][None, :]) % c
        cost = np.minimum(diff, c - diff).sum(axis=1)  # (S,)
        s = shifts[int(np.argmin(cost))]
        sel = groups == g
        out[sel] = (offsets[sel] + s) % cycle[sel]
    return out
