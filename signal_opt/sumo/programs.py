"""Signal programs as SUMO sees them: plan -> phases, transitions, ``tlLogic`` export.

Everything here is pure string / list work on the model types; the running simulation is
driven by :mod:`signal_opt.sumo.driver`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from signal_opt.model import GREEN_STATES, Intersection, Phase, Plan, check_plan, plan_phases

PROGRAM_ID = "signal-opt"


def quantize_greens(
    intersection: Intersection, greens: Sequence[float], step: float = 1.0
) -> list[float]:
    """Greens rounded to the simulation step, never below their (rounded-up) minimum."""
    out = []
    for stage, green in zip(intersection.stages, greens):
        floor = -(-stage.min_green // step) * step  # ceil to the step
        out.append(max(floor, round(green / step) * step))
    return out


def transition_phases(intersection: Intersection, src: int, dst: int) -> list[Phase]:
    """Intergreen phases from stage ``src`` to stage ``dst`` (any pair, not only the next).

    The network's own intergreen after ``src`` is used when ``dst`` is the next stage.
    Otherwise one is built with the same yellow and all-red times: links green in both
    stages keep their green, links losing green show yellow then red, links gaining green
    wait for the end of the all-red. Greens during a transition are a subset of ``src``'s
    greens, so it can never show conflicting greens.
    """
    stages = intersection.stages
    if dst == (src + 1) % len(stages):
        return list(stages[src].intergreen)
    a, b = stages[src].state, stages[dst].state
    yellow = sum(p.duration for p in stages[src].intergreen if any(c in "yY" for c in p.state))
    all_red = stages[src].intergreen_time - yellow
    keep = [a[i] in GREEN_STATES and b[i] in GREEN_STATES for i in range(len(a))]
    # Pedestrian crossings have no yellow: they turn red when the vehicles' yellow starts
    # (as netconvert's programs do); their clearance time is part of the minimum green.
    crossing = {lk.index for lk in intersection.links if lk.is_crossing}
    phases = []
    if yellow > 0:
        state = "".join(
            a[i] if keep[i] else ("y" if a[i] in GREEN_STATES and i not in crossing else "r")
            for i in range(len(a))
        )
        phases.append(Phase(yellow, state))
    if all_red > 0:
        state = "".join(a[i] if keep[i] else "r" for i in range(len(a)))
        phases.append(Phase(all_red, state))
    return phases


def tl_logic_xml(intersection: Intersection, plan: Plan, program_id: str = PROGRAM_ID) -> str:
    """One ``<tlLogic>`` element running ``plan`` (validated first)."""
    check_plan(intersection, plan)
    phases = plan_phases(intersection, plan.greens)
    lines = [
        f'    <tlLogic id={quoteattr(intersection.id)} type="static" '
        f'programID={quoteattr(program_id)} offset="{plan.offset:.2f}">'
    ]
    for p in phases:
        lines.append(f'        <phase duration="{p.duration:.2f}" state="{p.state}"/>')
    lines.append("    </tlLogic>")
    return "\n".join(lines)


def plans_additional_xml(
    intersections: Iterable[Intersection], plans: Iterable[Plan], program_id: str = PROGRAM_ID
) -> str:
    """A SUMO additional file whose ``tlLogic`` elements run ``plans`` (sumo / sumo-gui load it)."""
    by_id = {x.id: x for x in intersections}
    body = []
    for plan in plans:
        if plan.intersection_id not in by_id:
            raise KeyError(f"plan for unknown intersection {plan.intersection_id!r}")
        body.append(tl_logic_xml(by_id[plan.intersection_id], plan, program_id))
    return "<additional>\n" + "\n".join(body) + "\n</additional>\n"


def write_plans_additional(
    path: str | Path, intersections: Iterable[Intersection], plans: Iterable[Plan]
) -> Path:
    path = Path(path)
    path.write_text(plans_additional_xml(intersections, plans), encoding="utf-8")
    return path
