"""Building the padded array problem from the model types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from signal_opt.core.problem import RetimingProblem
from signal_opt.model import Intersection, Plan


def problem_from_intersections(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]] | np.ndarray,
    current: Sequence[Plan | None] | None = None,
) -> RetimingProblem:
    """The :class:`RetimingProblem` of ``intersections``, padded to the largest counts.

    ``demand``: per intersection a mapping lane-group id -> veh/h (missing groups get 0),
    or an array ``(N, K)`` in lane-group order. ``current``: the plan running at each
    intersection (``None`` = no plan, no change limits).

    Stage ``p`` serves the groups ``Stage.lane_groups``; its intergreen is
    ``Stage.intergreen_time``, and the intersection's lead phases (transitions before the
    first stage) are added to the last stage's intergreen, so that ``cycle = greens +
    intergreens`` matches :attr:`Intersection.base_cycle`. Lane groups with a non-positive
    saturation flow carry no traffic and are masked out. Stages have no maximum green.
    """
    n = len(intersections)
    if n == 0:
        raise ValueError("problem_from_intersections: no intersections given")
    k = max(max(len(i.lane_groups) for i in intersections), 1)
    p = max(len(i.stages) for i in intersections)
    if p == 0:
        raise ValueError("problem_from_intersections: no intersection has a stage")

    saturation = np.ones((n, k))  # (N, K)
    group_mask = np.zeros((n, k), dtype=bool)  # (N, K)
    serves = np.zeros((n, p, k), dtype=bool)  # (N, P, K)
    stage_mask = np.zeros((n, p), dtype=bool)  # (N, P)
    intergreen = np.zeros((n, p))  # (N, P)
    min_green = np.zeros((n, p))  # (N, P)
    for i, inter in enumerate(intersections):
        for j, group in enumerate(inter.lane_groups):
            if group.saturation_flow > 0:
                saturation[i, j] = group.saturation_flow
                group_mask[i, j] = True
        for s, stage in enumerate(inter.stages):
            stage_mask[i, s] = True
            intergreen[i, s] = stage.intergreen_time
            min_green[i, s] = stage.min_green
            for g in stage.lane_groups:
                if not 0 <= g < len(inter.lane_groups):
                    raise ValueError(
                        f"intersection {inter.id!r}: stage {s} serves lane group {g}, "
                        f"which does not exist ({len(inter.lane_groups)} groups)"
                    )
                serves[i, s, g] = True
        if inter.stages:
            intergreen[i, len(inter.stages) - 1] += sum(ph.duration for ph in inter.lead_phases)

    dem = _demand_array(intersections, demand, k)
    cur_cycle = np.full(n, np.nan)  # (N,)
    cur_greens = np.full((n, p), np.nan)  # (N, P)
    if current is not None:
        if len(current) != n:
            raise ValueError(f"current has {len(current)} plans for {n} intersections")
        for i, (inter, plan) in enumerate(zip(intersections, current, strict=True)):
            if plan is None:
                continue
            if len(plan.greens) != len(inter.stages):
                raise ValueError(
                    f"current plan for {inter.id!r} has {len(plan.greens)} greens; "
                    f"the intersection has {len(inter.stages)} stages"
                )
            cur_cycle[i] = plan.cycle
            cur_greens[i, : len(plan.greens)] = plan.greens
    return RetimingProblem(
        demand=dem,
        saturation=saturation,
        group_mask=group_mask,
        serves=serves,
        stage_mask=stage_mask,
        intergreen=intergreen,
        min_green=min_green,
        max_green=np.full((n, p), np.inf),
        cycle_min=np.array([i.cycle_min for i in intersections], dtype=np.float64),
        cycle_max=np.array([i.cycle_max for i in intersections], dtype=np.float64),
        current_cycle=cur_cycle,
        current_greens=cur_greens,
        ids=tuple(i.id for i in intersections),
    )


def _demand_array(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]] | np.ndarray,
    k: int,
) -> np.ndarray:
    n = len(intersections)
    if isinstance(demand, np.ndarray):
        arr = np.asarray(demand, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] > k:
            raise ValueError(f"demand has shape {arr.shape}, expected ({n}, {k})")
        out = np.zeros((n, k))
        out[:, : arr.shape[1]] = arr
        return out
    if len(demand) != n:
        raise ValueError(f"demand has {len(demand)} entries for {n} intersections")
    out = np.zeros((n, k))  # (N, K)
    for i, (inter, flows) in enumerate(zip(intersections, demand, strict=True)):
        index = {g.id: j for j, g in enumerate(inter.lane_groups)}
        for gid, value in flows.items():
            if gid not in index:
                raise ValueError(f"demand for {inter.id!r} names unknown lane group {gid!r}")
            try:
                out[i, index[gid]] = float(value)
            except (TypeError, ValueError):
                out[i, index[gid]] = np.nan  # flagged BAD_INPUT by the search
    return out
