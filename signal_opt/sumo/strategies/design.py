"""Plans designed once from a demand period (the engineer's count survey + Webster)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from signal_opt.core import CoreSettings, retime
from signal_opt.model import Plan
from signal_opt.retiming import build_problem
from signal_opt.sumo.simulation import RunContext
from signal_opt.sumo.turning import design_flows


def design_demand(
    ctx: RunContext, routes: Sequence[str | Path] | None = None
) -> list[dict[str, float]]:
    """Busiest-15-minute flow rates per lane group, from ``routes`` or the scenario's own."""
    files = [Path(p) for p in routes] if routes else list(ctx.scenario.route_files)
    scale = ctx.scenario.scale if "--scale" in ctx.scenario.extra_args else 1.0
    return design_flows(
        ctx.intersections, files, ctx.net, ctx.scenario.begin, ctx.scenario.end, scale=scale
    )


def design_plans(ctx: RunContext, routes: Sequence[str | Path] | None = None) -> dict[str, Plan]:
    """Webster plans for every intersection from the design demand.

    Splits by Webster's equal degree of saturation; the cycle is the one that minimises
    the predicted delay among all cycles between the bounds (the core's search), rather
    than Webster's closed-form ``C0``, whose short cycles at light demand lose to the
    network's own programs in simulation.
    """
    demand = design_demand(ctx, routes)
    problem = build_problem(ctx.intersections, demand, None)
    result = retime(problem, CoreSettings())
    plans = result.to_plans(ctx.intersections)
    return {p.intersection_id: replace(p, source="webster") for p in plans}
