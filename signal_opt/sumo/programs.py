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
    YELLOW_STATES,
    Intersection,
    Phase,
    Plan,
    Stage,
    check_plan,
    plan_phases,
)
from signal_opt.sumo.stages import always_green

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
    return clearing_phases(intersection, a, b, *clearance_times(intersection, src))


def clearing_phases(
    intersection: Intersection, a: str, b: str, yellow: float, all_red: float
) -> list[Phase]:
    """Yellow then all-red from state ``a`` to state ``b``: links green in both keep their
    green, links losing green show yellow then red, links gaining green wait for the end
    of the all-red."""
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


def program_clearances(x: Intersection) -> tuple[float, float, frozenset[int]]:
    """Shortest yellow and shortest all-red the intersection's own program shows, and the
    links it takes from green to red without a yellow (as SUMO does for crossings).

    Read link by link from the program's cycle (stage greens and their intergreens), so
    that an engineered program whose movements clear at different times (one continues
    while another shows yellow) sets the bar it meets itself. Yellow: the shortest run of
    yellow any vehicle link shows. All-red: the shortest time from a link's yellow ending
    to a conflicting link's green starting.
    """
    foes: dict[int, list[int]] = {}
    for a, b in x.conflicts:
        foes.setdefault(a, []).append(b)
        foes.setdefault(b, []).append(a)
    phases = [
        (p.duration, p.state)
        for s in x.stages
        for p in (Phase(s.base_green, s.state), *s.intergreen)
    ]
    n = len(phases)
    starts = [sum(d for d, _ in phases[:k]) for k in range(n)]
    cycle = sum(d for d, _ in phases)
    yellows: list[float] = []
    reds: list[float] = []
    no_yellow = set()
    for i in range(len(phases[0][1]) if phases else 0):
        if i in x.crossings:
            continue
        for k in range(n):
            if phases[k - 1][1][i] in GREEN_STATES and phases[k][1][i] in "rs":
                no_yellow.add(i)
            if phases[k][1][i] not in YELLOW_STATES or phases[k - 1][1][i] in YELLOW_STATES:
                continue
            e = k
            while phases[e % n][1][i] in YELLOW_STATES and e < k + n:
                e += 1
            yellows.append(sum(phases[m % n][0] for m in range(k, e)))
            for j in foes.get(i, ()):
                for m in range(e, e + n):
                    here, before = phases[m % n][1][j], phases[(m - 1) % n][1][j]
                    if here in GREEN_STATES and before not in GREEN_STATES:
                        reds.append((starts[m % n] - starts[e % n]) % cycle)
                        break
    return (
        (min(yellows) if yellows else 0.0),
        (min(reds) if reds else 0.0),
        frozenset(no_yellow),
    )


_CLEARANCES: dict[int, tuple[Intersection, list[tuple[float, float]]]] = {}
"""Per intersection (by identity, kept alive with it): :func:`clearance_times` of each
stage, worked out once."""


def clearance_times(intersection: Intersection, k: int) -> tuple[float, float]:
    """Yellow and all-red (s) of a transition built to leave stage ``k`` for any stage
    (:func:`_clearance_times`, remembered per intersection)."""
    known = _CLEARANCES.get(id(intersection))
    if known is None or known[0] is not intersection:
        times = [_clearance_times(intersection, j) for j in range(len(intersection.stages))]
        known = _CLEARANCES[id(intersection)] = (intersection, times)
    return known[1][k]


def _clearance_times(intersection: Intersection, k: int) -> tuple[float, float]:
    """Yellow and all-red (s) of a transition built to leave stage ``k`` for any stage.

    Yellow: that of the stage's own intergreen (for a leading green whose program goes
    on without a yellow, the longest of the intersection). All-red: the longest all-red
    phase time of any stage's intergreen (phases after a yellow in which nothing but the
    links green all cycle shows green), and never less than the shortest all-red the
    program gives any conflicting pair (:func:`program_clearances`). A stage's own
    intergreen may have no all-red when its program's next stage does not conflict with
    it, and movements that continue while others clear are green time, not all-red; a
    netconvert program's intergreens are all alike, so nothing changes there. A stage
    that shows pedestrian crossings green keeps at least its own all-red.
    """
    stages = intersection.stages
    states = [s.state for s in stages] + [p.state for s in stages for p in s.intergreen]
    always = always_green(states)

    def yellow(stage: Stage) -> float:
        return float(sum(p.duration for p in stage.intergreen if any(c in "yY" for c in p.state)))

    def all_red(stage: Stage) -> float:
        red, seen_yellow = 0.0, False
        for p in stage.intergreen:
            seen_yellow = seen_yellow or any(c in "yY" for c in p.state)
            if seen_yellow and not any(
                c in GREEN_STATES or c in "yY" for i, c in enumerate(p.state) if i not in always
            ):
                red += p.duration
        return red

    own = yellow(stages[k])
    y = own if own > 0 else max(yellow(s) for s in stages)
    red = max(max(all_red(s) for s in stages), program_clearances(intersection)[1])
    if any(stages[k].state[i] in GREEN_STATES for i in intersection.crossings):
        # pedestrians' clearance runs into the intergreen the minimum green counted on
        red = max(red, stages[k].intergreen_time - own)
    return y, red


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
