"""``actuated``: SUMO's own gap-based actuated control, tuned as a field engineer would.

Each stage gets its minimum green (pedestrian time included) as ``minDur`` and a maximum
green sized from the design flows (1.5 x its Webster green at the busiest 15 minutes,
between min + 10 s and 90 s); yellow and all-red stay as the network has them. SUMO
places its own stop-bar detectors for the gap logic; a green ends after a 3 s gap.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from signal_opt.controllers.base import Controller
from signal_opt.model import Intersection, Plan
from signal_opt.sumo.simulation import RunContext
from signal_opt.sumo.strategies.design import design_plans

MAX_GAP = 3.0
MAX_GREEN_CAP = 90.0


def actuated_logic(x: Intersection, plan: Plan | None) -> str:
    lines = [
        f'    <tlLogic id={quoteattr(x.id)} type="actuated" programID="signal-opt-actuated" '
        f'offset="0">',
        f'        <param key="max-gap" value="{MAX_GAP}"/>',
        '        <param key="detector-gap" value="2.0"/>',
        '        <param key="passing-time" value="2.0"/>',
    ]
    for k, stage in enumerate(x.stages):
        base = plan.greens[k] if plan is not None else stage.base_green
        max_green = min(
            max(1.5 * base, stage.min_green + 10.0), max(MAX_GREEN_CAP, stage.min_green)
        )
        lines.append(
            f'        <phase duration="{max(stage.min_green, base):.1f}" state="{stage.state}" '
            f'minDur="{stage.min_green:.1f}" maxDur="{max_green:.1f}"/>'
        )
        for p in stage.intergreen:
            lines.append(f'        <phase duration="{p.duration:.1f}" state="{p.state}"/>')
    lines.append("    </tlLogic>")
    return "\n".join(lines)


class ActuatedController(Controller):
    name = "actuated"

    def prepare(self, ctx: RunContext) -> list[Path]:
        plans = design_plans(ctx)
        body = [actuated_logic(x, plans.get(x.id)) for x in ctx.intersections]
        path = ctx.out_dir / "actuated.tll.xml"
        path.write_text("<additional>\n" + "\n".join(body) + "\n</additional>\n")
        self._plans = plans
        return [path]
