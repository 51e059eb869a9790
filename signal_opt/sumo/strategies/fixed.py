"""``fixed``: the network's own signal programs, or a plan file."""

from __future__ import annotations

import json
from pathlib import Path

from signal_opt.controllers.base import Controller
from signal_opt.model import Plan
from signal_opt.sumo.programs import write_plans_additional
from signal_opt.sumo.simulation import RunContext


class PlanFileError(ValueError):
    """A plan file that cannot be read or names unknown intersections."""


def read_plan_file(path: str | Path) -> list[Plan]:
    """Plans from JSON: ``{"plans": [{"intersection", "cycle", "greens", "offset"}]}``
    (a bare list, or one object per line as in ``plans.jsonl``, also work; for a JSONL log
    the last plan of each intersection is taken)."""
    path = Path(path)
    if not path.is_file():
        raise PlanFileError(f"plan file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        rows = data["plans"] if isinstance(data, dict) else data
    except json.JSONDecodeError:
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise PlanFileError(f"{path}: not JSON or JSON lines: {exc}") from exc
    plans: dict[str, Plan] = {}
    for i, row in enumerate(rows):
        try:
            plans[str(row["intersection"])] = Plan(
                intersection_id=str(row["intersection"]),
                cycle=float(row["cycle"]),
                greens=tuple(float(g) for g in row["greens"]),
                offset=float(row.get("offset", 0.0)),
                source="plan-file",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanFileError(f"{path}: plan {i} is missing or has a bad field: {exc}") from exc
    return list(plans.values())


class FixedController(Controller):
    """Runs fixed-time plans natively in SUMO (no per-step work).

    Without a plan file it leaves the network's own programs running; with one, the plans
    are checked against each intersection's safety rules and loaded as ``tlLogic``s.
    """

    name = "fixed"

    def __init__(self, plan_file: str | Path | None = None) -> None:
        self.plan_file = plan_file
        self.plans: list[Plan] = []

    def plans_for(self, ctx: RunContext) -> list[Plan]:
        if self.plan_file is None:
            return [x.base_plan() for x in ctx.intersections]
        plans = read_plan_file(self.plan_file)
        known = {x.id for x in ctx.intersections}
        unknown = [p.intersection_id for p in plans if p.intersection_id not in known]
        if unknown:
            raise PlanFileError(f"plan file names unknown intersection(s): {', '.join(unknown)}")
        return plans

    def prepare(self, ctx: RunContext) -> list[Path]:
        self.plans = self.plans_for(ctx)
        if self.plan_file is None:
            return []
        path = ctx.out_dir / f"{self.name}.tll.xml"
        write_plans_additional(path, ctx.intersections, self.plans)
        return [path]

    def start(self, sim) -> None:
        t = sim.conn.simulation.getTime()
        for plan in self.plans:
            sim.plan_log.write(t, plan)
