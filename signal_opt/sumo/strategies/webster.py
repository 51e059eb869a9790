"""``webster``: one plan per signal from a demand period, then held all day.

This is the "retimed once a year" practice done well: turning counts for the busiest 15
minutes (from the scenario's demand, or another demand given as ``design`` route files,
e.g. the base year's), Webster's optimum cycle and splits, loaded into SUMO as fixed-time
programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from signal_opt.sumo.programs import write_plans_additional
from signal_opt.sumo.simulation import RunContext
from signal_opt.sumo.strategies.design import design_plans
from signal_opt.sumo.strategies.fixed import FixedController


class WebsterController(FixedController):
    name = "webster"

    def __init__(self, design: Sequence[str | Path] | None = None) -> None:
        super().__init__()
        self.design = design

    def prepare(self, ctx: RunContext) -> list[Path]:
        self.plans = list(design_plans(ctx, self.design).values())
        path = ctx.out_dir / "webster.tll.xml"
        write_plans_additional(path, ctx.intersections, self.plans)
        return [path]
