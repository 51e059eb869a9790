"""Free operation inside a plan: which stage a signal shows next (no simulation)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from signal_opt.controllers.actuation import choose_stage, free_signal
from signal_opt.controllers.kernel import FreeSettings
from signal_opt.controllers.max_pressure import Pressure
from signal_opt.detectors import StepReading
from signal_opt.model import Plan
from signal_opt.sumo.network import load_intersections, read_net

NET = Path(__file__).resolve().parents[1] / "networks/yizhuang_core/yizhuang_core.net.xml"
S = FreeSettings()


@pytest.fixture(scope="module")
def x():
    return load_intersections(read_net(NET))[0]


def _signal(x, t0=0.0):
    n = len(x.stages)
    queues = [[f"q{k}"] for k in range(n)]
    loops = [[f"s{k}"] for k in range(n)]
    one_lane_each = np.einsum("pl,ld->pld", np.eye(n), np.eye(n))  # stage k serves q{k}
    pressure = Pressure(tuple(f"q{k}" for k in range(n)), one_lane_each)
    return free_signal(x, pressure, loops, queues, S, t0)


def _counts(*vehicles):
    return {f"q{k}": v for k, v in enumerate(vehicles)}


def _choose_walk(
    sig,
    stage,
    elapsed,
    counts,
    gaps=None,
    bad=frozenset(),
    t=1000.0,
    calls=(),
    halting=None,
    settings=S,
    clearance=0.0,
):
    """``stage`` has shown green for ``elapsed`` s, chosen for a queue that needed
    ``clearance`` s of it."""
    sig.clearance = clearance
    gaps = gaps if gaps is not None else {f"s{k}": 0.0 for k in range(len(sig.x.stages))}
    # the controller leaves faulty detectors out of what it passes
    counts = {d: n for d, n in counts.items() if d not in bad}
    gaps = {d: g for d, g in gaps.items() if d not in bad}
    # unless told otherwise, every vehicle on a queue zone stands (none is moving)
    halting = halting if halting is not None else dict(counts)
    seen = StepReading(counts, halting, gaps, {})
    return choose_stage(sig, stage, t - elapsed, t, seen, settings, frozenset(calls))


def _choose(*args, **kwargs):
    return _choose_walk(*args, **kwargs)[0]


def test_a_green_keeps_its_minimum(x):
    sig = _signal(x, t0=990.0)
    # without its walk a stage needs only its vehicle minimum (the driver enforces the
    # walk's longer minimum when the walk is shown)
    min_green = x.stages[0].min_green_for(False)
    assert min_green < x.stages[0].min_green_for(True)
    assert _choose(sig, 0, min_green - 1, _counts(0, 9, 9, 9), {"s0": 99.0}) == 0
    assert _choose(sig, 0, min_green, _counts(0, 9, 9, 9), {"s0": 99.0}) != 0


def _walk_stage(x):
    """The first stage with a walk, and a crossing green in it and in no other stage."""
    stage = next(k for k, s in enumerate(x.stages) if any(s.state[i] == "G" for i in x.crossings))
    others = {
        i for k, s in enumerate(x.stages) if k != stage for i, c in enumerate(s.state) if c in "Gg"
    }
    crossing = next(i for i in x.crossings if x.stages[stage].state[i] == "G" and i not in others)
    return stage, crossing


def test_the_walk_is_shown_only_on_call(x):
    sig = _signal(x, t0=990.0)
    walk_stage, c = _walk_stage(x)
    other = (walk_stage + 1) % len(x.stages)
    counts = {f"q{k}": (5 if k == walk_stage else 0) for k in range(len(x.stages))}
    gaps = {f"s{k}": 99.0 for k in range(len(x.stages))}
    # going to the stage: with its walk only if one of its buttons is pressed
    assert _choose_walk(sig, other, 500.0, counts, gaps) == (walk_stage, False)
    assert _choose_walk(sig, other, 500.0, counts, gaps, calls={c}) == (walk_stage, True)
    # a button pressed while the stage is green without its walk adds the walk now
    assert _choose_walk(sig, walk_stage, 3.0, counts, calls={c}) == (walk_stage, True)


def test_a_pressed_button_is_served(x):
    sig = _signal(x, t0=0.0)
    walk_stage, c = _walk_stage(x)
    other = (walk_stage + 1) % len(x.stages)
    busy = {f"q{k}": (9 if k == other else 0) for k in range(len(x.stages))}
    assert sig.max_greens[other] > 30.0
    # nobody else waits: a green rests...
    assert _choose_walk(sig, other, 30.0, busy, t=100.0) == (other, False)
    # ...until a button is pressed: then its stage waits too, and once the green has
    # no vehicles left (gap-out) the walk comes
    assert _choose_walk(sig, other, 31.0, busy, t=101.0, calls={c}) == (other, False)
    quiet = {f"q{k}": 0 for k in range(len(x.stages))}
    gaps = {f"s{k}": 99.0 for k in range(len(x.stages))}
    assert _choose_walk(sig, other, 32.0, quiet, gaps, t=102.0, calls={c}) == (walk_stage, True)
    # with a steady stream on the green, the pedestrian still never waits past the limit
    t = 101.0 + S.max_ped_wait
    assert _choose_walk(sig, other, 30.0, busy, t=t - 1, calls={c}) == (other, False)
    assert _choose_walk(sig, other, 30.0, busy, t=t, calls={c}) == (walk_stage, True)


def test_rests_in_green_when_nobody_waits_elsewhere(x):
    sig = _signal(x, t0=990.0)
    assert _choose(sig, 0, 500.0, _counts(3, 0, 0, 0)) == 0


def test_gap_out_when_nobody_is_left(x):
    sig = _signal(x, t0=990.0)
    min_green = x.stages[0].min_green
    gaps = {"s0": S.gap + 0.5}
    assert _choose(sig, 0, min_green, _counts(0, 1, 3, 0), gaps) == 2  # most pressure
    # loops quiet but the queue zone still holds vehicles: no gap-out inside the hold
    assert _choose(sig, 0, min_green, _counts(2, 1, 0, 0), gaps) == 0


def test_pressure_ends_a_green_only_after_its_hold(x):
    sig = _signal(x, t0=990.0)
    k = min(range(len(x.stages)), key=lambda i: x.stages[i].min_green)
    hold = sig.holds[k]
    assert hold == pytest.approx(max(S.min_hold, S.hold_intergreens * x.stages[k].intergreen_time))
    counts = {f"q{i}": (2 if i == k else 0) for i in range(len(x.stages))}
    other = (k + 1) % len(x.stages)
    counts[f"q{other}"] = 6
    start = max(x.stages[k].min_green, hold - 2)
    assert _choose(sig, k, start, counts) == k
    assert _choose(sig, k, hold, counts) == other


def test_pressure_ends_a_green_only_after_its_queue_has_cleared(x):
    sig = _signal(x)
    hold = sig.holds[1]
    # stage 1 is chosen with 9 vehicles on its zone: they need 2 s + 9 x 2 s of green
    assert _choose(sig, 0, 60.0, _counts(1, 9, 0, 0), {"s0": 99.0}) == 1
    need = S.startup_lost + 9 * S.clear_headway
    assert sig.clearance == pytest.approx(need) and need > hold
    # a bigger queue waits for stage 2; stage 1's loops are quiet, 3 vehicles drive up
    counts, quiet, moving = _counts(0, 3, 30, 0), {f"s{k}": 99.0 for k in range(4)}, {}
    assert _choose(sig, 1, hold + 1, counts, quiet, halting=moving, clearance=need) == 1
    assert _choose(sig, 1, need, counts, quiet, halting=moving, clearance=need) == 2
    off = replace(S, queue_clearance=False)
    assert _choose(sig, 1, hold + 1, counts, quiet, halting=moving, settings=off) == 2
    # into a blocked exit holding the green serves nobody: only the hold counts
    sig = _with_exit(x, 1)
    args = (sig, 1, hold + 1, counts, quiet)
    assert _choose(*args, halting={"x1": 1}, clearance=need) == 1
    assert _choose(*args, halting={"x1": 4}, clearance=need) == 2


def test_a_moving_platoon_is_not_cut_for_a_smaller_queue(x):
    # stage 0's platoon has crossed into its outgoing lane's queue zone, so its pressure
    # has dropped (q0 - out), while five of its vehicles are still moving through q0
    n = len(x.stages)
    terms = np.einsum("pl,ld->pld", np.eye(n), np.eye(n, n + 1))
    terms[0, 0, n] = -1.0
    sig = _signal(x, t0=990.0)
    sig.pressure = Pressure((*(f"q{k}" for k in range(n)), "out"), terms)
    # past the lost-time hold of a discharging green too: only moving vehicles keep it
    elapsed = max(x.stages[0].min_green, sig.holds[0], x.lost_time)
    counts = {**_counts(5, 3, 0, 0), "out": 4}  # pressures 1 and 3
    assert _choose(sig, 0, elapsed, counts, halting={"q0": 0}) == 0
    # once those vehicles stand (or have left), pressure decides
    assert _choose(sig, 0, elapsed, counts, halting={"q0": 5}) == 1
    assert _choose(sig, 0, elapsed, {**counts, "q0": 2}, halting={"q0": 0}) == 1


def _discharging(sig, stage, elapsed, counts, halting=None):
    """Choose with every stop-line loop busy and stage ``stage``'s vehicles moving."""
    halting = {**counts, f"q{stage}": 0, **(halting or {})}
    return _choose(sig, stage, elapsed, counts, halting=halting)


def test_a_discharging_green_runs_the_lost_time_before_pressure_ends_it(x):
    sig = _signal(x, t0=990.0)
    hold, lost = sig.holds[1], x.lost_time
    assert hold < lost
    counts = _counts(0, 2, 9, 0)  # stage 1 drains one lane; stage 2 waits on one
    assert _discharging(sig, 1, hold + 1, counts) == 1
    assert _discharging(sig, 1, lost, counts) == 2
    # a green whose vehicles stand (a blocked queue) is not held
    assert _choose(sig, 1, hold + 1, counts) == 2


def test_a_green_is_not_held_against_a_stage_that_drains_more_lanes(x):
    n = len(x.stages)
    lanes = [f"q{k}" for k in range(n)] + ["q2b"]
    terms = np.zeros((n, n + 1, n + 1))
    for k in range(n):
        terms[k, k, k] = 1.0
    terms[2, n, n] = 1.0  # stage 2 serves two lanes
    sig = _signal(x, t0=990.0)
    sig.pressure = Pressure(tuple(lanes), terms)
    hold = sig.holds[1]
    assert _discharging(sig, 1, hold + 1, {**_counts(0, 2, 5, 0), "q2b": 4}) == 2
    # with one of them empty, stage 1 drains as fast and keeps its green
    assert _discharging(sig, 1, hold + 1, {**_counts(0, 2, 5, 0), "q2b": 0}) == 1


def _with_exit(x, k):
    """A signal whose stage ``k`` serves its one lane into exit zone ``x{k}`` (holding 4
    vehicles standing)."""
    n = len(x.stages)
    sig = _signal(x, t0=990.0)
    exits = np.zeros((n, n, 1))
    exits[k, k, 0] = 1.0
    sig.pressure = Pressure(sig.pressure.detectors, sig.pressure.terms, (f"x{k}",), exits)
    sig.capacity = {f"x{k}": 4.0}
    return sig


def test_a_green_into_a_blocked_exit_is_not_held(x):
    sig = _with_exit(x, 1)
    hold = sig.holds[1]
    counts = _counts(0, 2, 9, 0)
    assert _discharging(sig, 1, hold + 1, counts, halting={"x1": 1}) == 1
    assert _discharging(sig, 1, hold + 1, counts, halting={"x1": 4}) == 2


def test_no_green_starts_into_a_blocked_exit(x):
    sig = _with_exit(x, 2)
    hold = sig.holds[1]
    counts = _counts(0, 2, 9, 5)  # stage 2 has the longest queue, stage 3 the next
    assert _choose(sig, 1, hold + 1, counts, halting={**counts, "x2": 1}) == 2
    # its exit full of standing vehicles, stage 2's queue has nowhere to go
    blocked = {**counts, "x2": 4}
    assert _choose(sig, 1, hold + 1, counts, halting=blocked) == 3
    off = replace(S, exit_blocking=False)
    assert _choose(sig, 1, hold + 1, counts, halting=blocked, settings=off) == 2


def test_max_green_comes_from_the_plan(x):
    sig = _signal(x, t0=990.0)
    greens = tuple(s.min_green + 10 for s in x.stages)
    sig.bound_by(Plan(x.id, sum(greens) + x.lost_time, greens), S)
    limit = max(S.max_green_factor * greens[0], x.stages[0].min_green + S.max_green_floor)
    assert sig.max_greens[0] == pytest.approx(limit)
    counts = _counts(20, 1, 0, 0)  # stage 0 keeps the most pressure...
    assert _choose(sig, 0, limit - 1, counts) == 0
    assert _choose(sig, 0, limit + 0.5, counts) == 1  # ...but maxes out


def _stage_3_overdue(x):
    """A signal at time ``t`` (returned with it) whose stages 0-2 were green 5 s ago and
    whose stage 3 has not been green since t = 0: past its longest wait."""
    sig = _signal(x, t0=0.0)
    greens = tuple(s.min_green for s in x.stages)
    plan = Plan(x.id, sum(greens) + x.lost_time, greens)
    sig.bound_by(plan, S)
    t = S.max_wait_cycles * plan.cycle + 1.0
    for k in range(3):
        sig.last_green[k] = t - 5
        sig.zone_green[f"q{k}"] = t - 5
    return sig, t


def test_a_lane_waiting_too_long_is_served_next(x):
    sig, t = _stage_3_overdue(x)
    counts = _counts(0, 9, 9, 1)
    assert _choose(sig, 0, x.stages[0].min_green, counts, {"s0": 0.0}, t=t) == 3


def test_a_lane_waiting_too_long_does_not_cut_a_busy_green_short(x):
    sig, t = _stage_3_overdue(x)
    counts = _counts(12, 9, 9, 1)
    moving = {"q0": 0, "q1": 9, "q2": 9, "q3": 1}  # stage 0's twelve vehicles move
    elapsed = max(x.stages[0].min_green, sig.holds[0])
    # past its minimum and hold, the busy green keeps going...
    assert _choose(sig, 0, elapsed, counts, t=t, halting=moving) == 0
    # ...until it maxes out (or gaps out): then the overdue stage, not the most pressed
    assert _choose(sig, 0, sig.max_greens[0] + 0.5, counts, t=t, halting=moving) == 3
    assert _choose(sig, 0, elapsed, {**counts, "q0": 0}, {"s0": 99.0}, t=t) == 3


def test_faulty_detectors_are_left_out(x):
    sig = _signal(x, t0=990.0)
    min_green = x.stages[1].min_green
    hold = sig.holds[1]
    elapsed = max(min_green, hold)
    # q2 stuck on (huge count) is ignored: stage 3 with real vehicles wins
    counts = _counts(0, 1, 50, 4)
    assert _choose(sig, 1, elapsed, counts, bad=frozenset({"q2"})) == 3
    # a stage whose only queue zone is faulty is recalled: it counts as waiting
    assert _choose(sig, 1, 500.0, _counts(0, 3, 0, 0), bad=frozenset({"q2"})) == 2
