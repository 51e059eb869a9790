"""Retime a whole network: the use-case shared by the adaptive controller and the service.

demand per lane group -> core (best cycle and splits of every intersection in one array
pass) -> coordinated groups take a common cycle (or half of it) -> offsets from platoon
links -> plans, each checked against its intersection's safety rules. An intersection
whose plan cannot be made safe gets its current plan (or its base plan) instead: one bad
intersection never stops the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from signal_opt.core import (
    CoordinationProblem,
    CoreSettings,
    RetimingProblem,
    RetimingResult,
    problem_from_intersections,
    retime,
    retime_coordinated,
)
from signal_opt.core.offsets import LinkLike
from signal_opt.fallback import Fallback, FallbackReason, fallback
from signal_opt.model import Intersection, Plan, PlanError, check_plan


def lane_shared_saturation(
    intersections: Sequence[Intersection], demand: Sequence[Mapping[str, float]]
) -> np.ndarray:
    """Saturation flow ``(N, K)`` with each shared lane split by the flows using it.

    A lane used by several lane groups (a through + right lane, a left + U-turn lane)
    gives each group the part of its capacity that the group's flow takes, as HCM does
    for shared lanes, instead of an equal split that starves the busy movement.
    """
    k = max(len(x.lane_groups) for x in intersections)
    out = np.ones((len(intersections), k))
    for i, (x, d) in enumerate(zip(intersections, demand)):
        rates = [g.saturation_flow / g.n_lanes for g in x.lane_groups]  # veh/h per full lane
        flows: list[list[float]] = []
        lane_flow: dict[str, float] = {}
        lane_time: dict[str, float] = {}  # hours of green per hour of flow: sum f / s
        for g, rate in zip(x.lane_groups, rates):
            q = float(d.get(g.id, 0.0))
            q = q if np.isfinite(q) and q > 0 else 0.0
            f = [q * share / g.n_lanes for share in g.lane_shares]
            flows.append(f)
            for lane, fl in zip(g.lanes, f):
                lane_flow[lane] = lane_flow.get(lane, 0.0) + fl
                lane_time[lane] = lane_time.get(lane, 0.0) + fl / rate
        for j, g in enumerate(x.lane_groups):
            sat = 0.0
            for lane, share, fl in zip(g.lanes, g.lane_shares, flows[j]):
                total = lane_flow[lane]
                if total > 0 and fl > 0:
                    # HCM shared lane: the lane discharges at the flow-weighted harmonic
                    # mean of its movements' rates; each takes its share of the flow.
                    sat += (total / lane_time[lane]) * fl / total
                else:
                    sat += rates[j] * share
            out[i, j] = max(sat, 0.05 * rates[j])
    return out


def build_problem(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]],
    current: Sequence[Plan | None] | None = None,
) -> RetimingProblem:
    """The core's problem for ``intersections``, shared lanes split by flow."""
    problem = problem_from_intersections(intersections, demand, current)
    sat = lane_shared_saturation(intersections, demand)
    return replace(problem, saturation=np.where(problem.group_mask, sat, problem.saturation))


@dataclass(frozen=True)
class NetworkRetiming:
    plans: list[Plan]
    result: RetimingResult
    problem: RetimingProblem
    fallbacks: dict[str, Fallback]
    """Intersections that got a fallback plan instead of a new one, with the reason."""
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
    problem = build_problem(intersections, demand, current)
    result = retime(problem, settings)
    if links:
        coord = CoordinationProblem.from_links(problem, list(links))
        result = retime_coordinated(coord, settings, result)
        offsets = _closest_shift(result.offsets, result.cycle, coord.groups(), current)
        result = result.with_offsets(offsets)
    plans = result.to_plans(list(intersections), source=source)
    out: list[Plan] = []
    fallbacks: dict[str, Fallback] = {}
    for i, (x, plan) in enumerate(zip(intersections, plans)):
        try:
            check_plan(x, plan)
            out.append(plan)
        except PlanError as exc:
            prev = current[i] if current is not None else None
            reason = FallbackReason.UNSAFE if plan_is_finite(plan) else FallbackReason.NOT_FINITE
            fallbacks[x.id] = fallback(x, reason, prev, str(exc))
            out.append(fallbacks[x.id].plan)
    return NetworkRetiming(out, result, problem, fallbacks, time.perf_counter() - t0)


def plan_is_finite(plan: Plan) -> bool:
    return math.isfinite(plan.cycle) and all(math.isfinite(g) for g in plan.greens)


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
