"""The optimizer behind the service: :func:`signal_opt.retiming.retime_network`.

The service calls it through the :class:`Optimizer` signature so tests can inject a
failing one; its answer is read into one :class:`Optimized` per intersection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from signal_opt.core import CoreSettings
from signal_opt.core.offsets import LinkLike
from signal_opt.model import Intersection, Plan
from signal_opt.settings import Settings

if TYPE_CHECKING:
    from signal_opt.sumo.coordination import PlatoonLink

__all__ = [
    "Optimized",
    "Optimizer",
    "change_limit_error",
    "core_settings",
    "optimize_with_core",
]


@dataclass(frozen=True)
class Optimized:
    """What the optimizer proposes for one intersection."""

    plan: Plan
    delay: dict[str, float | None] = field(default_factory=dict)
    """Predicted delay per lane group, s/veh."""
    degree_of_saturation: dict[str, float | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    error: str | None = None
    """Set when the optimizer refused the input or its plan (the plan is then not used)."""
    coordinated: bool = False
    """True when the offset was chosen for platoons from coordinated neighbours."""


class Optimizer(Protocol):
    def __call__(
        self,
        intersections: Sequence[Intersection],
        demand: Sequence[Mapping[str, float]],
        current: Sequence[Plan | None],
        links: Sequence[PlatoonLink],
        settings: CoreSettings,
    ) -> list[Optimized]: ...


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def optimize_with_core(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]],
    current: Sequence[Plan | None],
    links: Sequence[PlatoonLink] = (),
    settings: CoreSettings | None = None,
) -> list[Optimized]:
    """The one place the service calls the optimization: the shared retiming use-case."""
    from signal_opt.retiming import retime_network

    xs = list(intersections)
    run = retime_network(
        xs,
        [dict(d) for d in demand],
        list(current),
        cast(Sequence[LinkLike], links),
        settings,
        source="optimized",
    )
    result, rejected = run.result, set(run.fallbacks)
    linked = {lk.up for lk in links} | {lk.down for lk in links}
    out = []
    for i, (x, plan) in enumerate(zip(xs, run.plans, strict=True)):
        flags = tuple(result.flag_names(i))
        groups = [g.id for g in x.lane_groups]
        error = None
        if "BAD_INPUT" in flags:
            error = "the core rejected the demand (BAD_INPUT)"
        elif x.id in rejected:
            error = f"optimized plan rejected: {run.fallbacks[x.id].detail}"
        out.append(
            Optimized(
                plan=plan,
                delay={g: _finite(result.delay[i, k]) for k, g in enumerate(groups)},
                degree_of_saturation={
                    g: _finite(result.degree_of_saturation[i, k]) for k, g in enumerate(groups)
                },
                flags=flags,
                error=error,
                coordinated=i in linked and "NOT_COORDINATED" not in flags,
            )
        )
    return out


def core_settings(settings: Settings) -> CoreSettings:
    """The core's settings for the service (change limits, cycle policy)."""
    return CoreSettings(
        max_cycle_change=settings.max_cycle_change_s,
        max_green_change=settings.max_green_change_s,
        target_degree_of_saturation=settings.target_degree_of_saturation,
    )


def change_limit_error(
    plan: Plan, current: Plan | None, core: CoreSettings, flags: Sequence[str] = ()
) -> str | None:
    """Why ``plan`` changes more from ``current`` than ``core`` allows, or None.

    The core drops the limits (flag ``CHANGE_LIMITS_RELAXED``) only when they cannot be met
    together with the intersection's own bounds; such a plan is accepted.
    """
    if current is None or "CHANGE_LIMITS_RELAXED" in flags:
        return None
    tol = 1e-6
    dc = core.max_cycle_change
    if dc is not None and abs(plan.cycle - current.cycle) > dc + tol:
        return (
            f"cycle {plan.cycle:.1f} s is more than {dc} s from the current {current.cycle:.1f} s"
        )
    dg = core.max_green_change
    if dg is not None and len(plan.greens) == len(current.greens):
        for i, (g, c) in enumerate(zip(plan.greens, current.greens)):
            if abs(g - c) > dg + tol:
                return f"stage {i} green {g:.1f} s is more than {dg} s from the current {c:.1f} s"
    return None
