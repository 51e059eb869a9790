"""Signal programs as SUMO sees them: plan -> phases, transitions, ``tlLogic`` export.

Everything here is pure string / list work on the model types; the running simulation is
driven by :mod:`signal_opt.sumo.driver`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from signal_opt.model import (
    GREEN_STATES,
    Intersection,
    Phase,
    Plan,
    Stage,
    check_plan,
    plan_phases,
)

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


def transition_phases(
    intersection: Intersection, src: int, dst: int, shown: str | None = None, walk: bool = True
) -> list[Phase]:
    """Intergreen phases from stage ``src`` to stage ``dst`` (any pair, not only the next).

    ``shown`` is the state stage ``src`` actually shows (default: its full state; it
    differs when the stage runs without its walk), ``walk`` whether ``dst`` will show its
    pedestrian crossings green.

    The network's own intergreen after ``src`` is used when ``dst`` is the next stage and
    both run in full. Otherwise one is built with the same yellow and all-red times: links
    green in both keep their green, links losing green show yellow then red, links gaining
    green wait for the end of the all-red. Greens during a transition are a subset of the
    shown greens, so it can never show conflicting greens.
    """
    stages = intersection.stages
    a = shown if shown is not None else stages[src].state
    b = stages[dst].state if walk else intersection.without_walk(stages[dst].state)
    if dst == (src + 1) % len(stages) and a == stages[src].state and b == stages[dst].state:
        return list(stages[src].intergreen)
    yellow, all_red = clearance_times(intersection, src)
    keep = [a[i] in GREEN_STATES and b[i] in GREEN_STATES for i in range(len(a))]
    # Pedestrian crossings have no yellow: they turn red when the vehicles' yellow starts
    # (as netconvert's programs do); their clearance time is part of the minimum green.
    crossing = intersection.crossings
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


def clearance_times(intersection: Intersection, k: int) -> tuple[float, float]:
    """Yellow and all-red (s) of a transition built to leave stage ``k`` for any stage.

    Yellow: that of the stage's own intergreen (for a leading green whose program goes
    on without a yellow, the longest of the intersection). All-red: the longest of the
    intersection's intergreens, since the stage's own may have none when its program's
    next stage does not conflict with it (a netconvert program's are all alike, so
    nothing changes there).
    """

    def yellow(stage: Stage) -> float:
        return float(sum(p.duration for p in stage.intergreen if any(c in "yY" for c in p.state)))

    stages = intersection.stages
    own = yellow(stages[k])
    y = own if own > 0 else max(yellow(s) for s in stages)
    return y, max(float(s.intergreen_time) - yellow(s) for s in stages)


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
