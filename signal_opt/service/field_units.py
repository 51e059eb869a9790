"""Plans in field units: whole seconds (or the configured resolution), and the timing
sheet a field controller is programmed from.

Rounding keeps every rule :func:`~signal_opt.model.check_plan` checks: each green at or
above its minimum (rounded up to the grid), the total green rounded once and handed out
by largest remainder (so the cycle moves by less than one step), the cycle within its
bounds, the offset on the grid within the cycle. Each green ends on the floor or the ceiling
of its exact value, so a plan within the change limits of a plan on the grid stays within
them. Intergreens (yellow, all-red) are the network's and never change: the cycle is on
the grid whenever they are. A minimum green off the grid, rounded up, lengthens the cycle
by that step instead of shortening another green below its floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from signal_opt.model import GREEN_STATES, YELLOW_STATES, Intersection, Plan
from signal_opt.storage import StoredPlan

__all__ = ["SHEET_COLUMNS", "on_grid", "timing_sheet", "to_field_units"]

_EPS = 1e-9


def _value(n: int, step: float) -> float:
    return round(n * step, 6)


def on_grid(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


def to_field_units(x: Intersection, plan: Plan, step: float, toward: Plan | None = None) -> Plan:
    """``plan`` with greens, cycle and offset on a grid of ``step`` seconds.

    ``toward`` (the plan in force) breaks ties: of two greens with the same remainder,
    the one whose current green is larger gets the extra step.
    """
    n = len(x.stages)
    if len(plan.greens) != n:
        return plan  # check_plan names the mismatch
    lost = x.lost_time
    if all(on_grid(v, step) for v in (*plan.greens, plan.offset)):
        # already there (a rollback to a plan stored in field units): only snap off the
        # floating-point dust (17.000000000000007)
        greens = tuple(_value(round(g / step), step) for g in plan.greens)
        offset = _value(round(plan.offset / step), step)
        return replace(plan, cycle=round(sum(greens) + lost, 6), greens=greens, offset=offset)
    low = [math.ceil(s.min_green / step - _EPS) for s in x.stages]
    exact = [g / step for g in plan.greens]
    total = round(sum(exact))
    t_min = math.ceil((x.cycle_min - lost) / step - _EPS)
    t_max = math.floor((x.cycle_max - lost) / step + _EPS)
    total = max(min(total, t_max), t_min, sum(low))
    units = [max(lo, math.floor(e + _EPS)) for lo, e in zip(low, exact, strict=True)]
    ref = toward.greens if toward is not None and len(toward.greens) == n else plan.greens
    if sum(units) <= t_max:
        # a minimum rounded up makes the cycle longer rather than another green shorter
        # than the floor of its exact value (which could break a change limit)
        total = max(total, sum(units))
    rest = total - sum(units)
    if rest > 0:
        order = sorted(range(n), key=lambda i: (exact[i] - units[i], ref[i]), reverse=True)
        for k in range(rest):
            units[order[k % n]] += 1
    while rest < 0:
        shrink = [i for i in range(n) if units[i] > low[i]]
        if not shrink:
            break
        i = min(shrink, key=lambda i: (exact[i] - units[i] + 1, ref[i]))
        units[i] -= 1
        rest += 1
    greens = tuple(_value(u, step) for u in units)
    cycle = round(sum(greens) + lost, 6)
    offset = _value(round(plan.offset / step), step)
    if offset >= cycle - _EPS:
        offset = 0.0
    return replace(plan, cycle=cycle, greens=greens, offset=offset)


SHEET_COLUMNS = (
    "network",
    "intersection_id",
    "plan_version",
    "cycle_s",
    "offset_s",
    "stage",
    "sumo_phase_index",
    "lane_groups",
    "movements",
    "state",
    "green_start_s",
    "min_green_s",
    "max_green_s",
    "planned_green_s",
    "yellow_s",
    "all_red_s",
    "other_intergreen_s",
)
"""One row per stage of each plan; the columns of the CSV and the keys of the JSON."""


def _intergreen(x: Intersection, stage: int) -> tuple[float, float, float]:
    """(yellow, all-red, other) seconds after ``stage``: a phase with a yellow counts as
    yellow, one without any green or yellow as all-red, the rest (movements that go on
    while others clear) as other."""
    yellow = red = other = 0.0
    for p in x.stages[stage].intergreen:
        if any(c in YELLOW_STATES for c in p.state):
            yellow += p.duration
        elif not any(c in GREEN_STATES for c in p.state):
            red += p.duration
        else:
            other += p.duration
    return yellow, red, other


def timing_sheet(
    network: str, xs: dict[str, Intersection], plans: Sequence[StoredPlan]
) -> list[dict[str, Any]]:
    """The controller-neutral timing sheet of ``plans``: one row per stage.

    ``green_start_s`` is when the stage's green starts within the cycle, counted like
    the offset (from the cycle reference: offset + lead phases + the stages before it);
    ``max_green_s`` is the longest green the stage can have in this cycle with every
    other stage at its minimum.
    """
    rows = []
    for p in plans:
        x = xs[p.intersection_id]
        t = p.offset + sum(ph.duration for ph in x.lead_phases)
        free = p.cycle - x.lost_time
        mins = [s.min_green for s in x.stages]
        for i, (s, green) in enumerate(zip(x.stages, p.greens, strict=True)):
            yellow, red, other = _intergreen(x, i)
            groups = [x.lane_groups[k] for k in s.lane_groups]
            rows.append(
                {
                    "network": network,
                    "intersection_id": x.id,
                    "plan_version": p.version,
                    "cycle_s": p.cycle,
                    "offset_s": p.offset,
                    "stage": i,
                    "sumo_phase_index": s.phase_index,
                    "lane_groups": " ".join(g.id for g in groups),
                    "movements": " ".join(f"{g.approach}:{g.movement}" for g in groups),
                    "state": s.state,
                    "green_start_s": round(t % p.cycle, 6),
                    "min_green_s": s.min_green,
                    "max_green_s": round(free - (sum(mins) - mins[i]), 6),
                    "planned_green_s": green,
                    "yellow_s": yellow,
                    "all_red_s": red,
                    "other_intergreen_s": other,
                }
            )
            t += green + s.intergreen_time
    return rows
