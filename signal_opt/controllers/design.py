"""Plans designed once from a demand period (the engineer's count survey + Webster)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from signal_opt.core import CoreSettings, problem_from_intersections, webster_plan
from signal_opt.model import Plan
from signal_opt.sumo.simulation import RunContext
from signal_opt.sumo.turning import design_flows


def design_demand(ctx: RunContext, routes: Sequence[str | Path] | None = None) -> list[dict[str, float]]:
    """Busiest-15-minute flow rates per lane group, from ``routes`` or the scenario's own."""
    files = [Path(p) for p in routes] if routes else list(ctx.scenario.route_files)
    scale = ctx.scenario.scale if "--scale" in ctx.scenario.extra_args else 1.0
    return design_flows(ctx.intersections, files, ctx.net, ctx.scenario.begin, ctx.scenario.end,
                        scale=scale)


def design_plans(ctx: RunContext, routes: Sequence[str | Path] | None = None) -> dict[str, Plan]:
    """Webster plans for every intersection from the design demand."""
    demand = design_demand(ctx, routes)
    problem = problem_from_intersections(ctx.intersections, demand, None)
    result = webster_plan(problem, CoreSettings())
    plans = result.to_plans(ctx.intersections)
    return {p.intersection_id: replace(p, source="webster") for p in plans}
