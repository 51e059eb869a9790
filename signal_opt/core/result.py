"""The result of a retiming: plans, predicted performance and per-intersection flags."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from signal_opt.model import Intersection, Plan

# Flags (bitmask, one int per intersection).
INFEASIBLE = 1
"""Demand cannot be served (critical flow ratio sum >= 1), or the minimum greens and
intergreens do not fit in ``cycle_max`` (the plan then runs the shortest cycle that fits
them, above ``cycle_max``: minimum greens win over the cycle bound)."""
OVERSATURATED = 2
"""Some lane group has a degree of saturation above 1 in the chosen plan."""
CHANGE_LIMITED = 4
"""A limit on change (cycle or green) is binding in the chosen plan."""
BAD_INPUT = 8
"""Demand was NaN, negative, infinite or absurd: the intersection keeps its current plan
(or, without one, an equal split at its shortest feasible cycle); delays are NaN."""
CHANGE_LIMITS_RELAXED = 16
"""The change limits could not be met together with the bounds and were dropped."""
MAX_GREEN_RELAXED = 32
"""The maximum greens could not be met together with the cycle bounds and were dropped."""
UNSERVED_DEMAND = 64
"""A lane group with demand is served by no stage (its demand is ignored)."""
NOT_COORDINATED = 128
"""The intersection belongs to a coordinated group but could not take the group's cycle."""

FLAG_NAMES: dict[int, str] = {
    INFEASIBLE: "INFEASIBLE",
    OVERSATURATED: "OVERSATURATED",
    CHANGE_LIMITED: "CHANGE_LIMITED",
    BAD_INPUT: "BAD_INPUT",
    CHANGE_LIMITS_RELAXED: "CHANGE_LIMITS_RELAXED",
    MAX_GREEN_RELAXED: "MAX_GREEN_RELAXED",
    UNSERVED_DEMAND: "UNSERVED_DEMAND",
    NOT_COORDINATED: "NOT_COORDINATED",
}


def flag_names(flags: int) -> list[str]:
    """Names of the flags set in ``flags`` (e.g. ``["OVERSATURATED"]``)."""
    return [name for bit, name in FLAG_NAMES.items() if int(flags) & bit]


@dataclass(frozen=True, eq=False)
class RetimingResult:
    """Plans and predicted performance of ``N`` intersections.

    - ``cycle (N,)`` s; ``greens (N, P)`` displayed green per stage, s (0 where masked);
      ``cycle == greens.sum(1) + intergreens`` for every intersection.
    - ``offsets (N,)`` s in ``[0, cycle)`` (zeros unless coordinated).
    - ``delay (N, K)`` s/veh per lane group (HCM uniform + incremental), 0 for padding.
    - ``degree_of_saturation (N, K)``, 0 for padding.
    - ``total_delay (N,)`` veh·h/h: vehicle-hours of delay per hour of operation
      (sum over lane groups of demand x delay / 3600).
    - ``objective (N,)`` veh·s/h: the minimised quantity, demand x (delay + stop_weight x
      stops) summed over lane groups.
    - ``flags (N,)`` int bitmask of :data:`INFEASIBLE`, :data:`OVERSATURATED`, ... .

    Rows flagged :data:`BAD_INPUT` have NaN delay, degree of saturation and totals.
    """

    cycle: NDArray[np.float64]
    greens: NDArray[np.float64]
    offsets: NDArray[np.float64]
    delay: NDArray[np.float64]
    degree_of_saturation: NDArray[np.float64]
    total_delay: NDArray[np.float64]
    objective: NDArray[np.float64]
    flags: NDArray[np.int64]
    ids: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(self.cycle.shape[0])

    def flag_names(self, i: int) -> list[str]:
        """Names of the flags of intersection ``i``."""
        return flag_names(int(self.flags[i]))

    def has_flag(self, flag: int) -> NDArray[np.bool_]:
        """``(N,)`` bool: intersections with ``flag`` set."""
        return (self.flags & flag) != 0

    def with_offsets(self, offsets: ArrayLike) -> RetimingResult:
        """A copy with ``offsets (N,)`` (taken modulo each cycle)."""
        off = np.asarray(offsets, dtype=np.float64)
        if off.shape != self.cycle.shape:
            raise ValueError(f"offsets has shape {off.shape}, expected {self.cycle.shape}")
        return dataclasses.replace(self, offsets=np.mod(off, self.cycle))

    def to_plans(self, intersections: Sequence[Intersection], source: str = "core") -> list[Plan]:
        """One :class:`~signal_opt.model.Plan` per intersection (same order as the problem)."""
        if len(intersections) != self.n:
            raise ValueError(
                f"to_plans got {len(intersections)} intersections, result has {self.n}"
            )
        plans = []
        for i, inter in enumerate(intersections):
            p = len(inter.stages)
            plans.append(
                Plan(
                    intersection_id=inter.id,
                    cycle=float(self.cycle[i]),
                    greens=tuple(float(g) for g in self.greens[i, :p]),
                    offset=float(self.offsets[i]),
                    source=source,
                    details={
                        "flags": self.flag_names(i),
                        "total_delay_veh_h_per_h": float(self.total_delay[i]),
                    },
                )
            )
        return plans
