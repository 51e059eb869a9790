"""Free operation inside a retimed plan: each step, which stage a signal should show.

This module is the plain-Python reference of the rules, one signal at a time; runs use
the vectorized :mod:`signal_opt.controllers.kernel`, which the tests hold to this
reference on recorded and random snapshots.

A signal in free operation has no fixed cycle. The retimed plan bounds it: each stage's
green may run up to ``max_green_factor`` x its planned green, and a lane with vehicles
on it that has waited ``max_wait_cycles`` planned cycles for green is served next, when
the current green ends. Within those bounds the detectors decide, as a field
controller's actuation does, with queue pressure choosing the next stage (Varaiya's
max-pressure) rather than a fixed rotation:

- a green holds for its minimum and a slot of ``hold_intergreens`` x the intergreen it
  costs to leave it, and, while its exits are open, until the queue that stood when it
  was chosen has had time to clear (``queue_clearance``: a start-up lost time and a
  saturation headway per vehicle on its fullest zone, the "added initial" green of field
  actuated controllers); then it ends as soon as another waiting stage has more
  pressure, and more than the vehicles still moving through the green's queue zones: a
  platoon being served is not cut for a queue smaller than itself (the "advanced
  max-pressure" rule of Zhang et al., 2022);
- it ends earlier (gap-out) when nobody is left: no vehicle over its stop-line loops for
  ``gap`` seconds and its queue zones empty;
- it ends at its maximum green;
- when nobody waits anywhere else, it rests in green.

At a signal the controller has marked congested from interval data (a queue reached past
one of its queue zones in the last minute), pressure does not end a green while it
discharges at saturation (``saturated_share``): that share of its gap-out loops still
sees vehicles within ``gap`` seconds and vehicles move through its queue zones (a queue
standing on a busy loop is held by a blocked exit, and holding its green serves nobody).
At every signal (``lost_time_hold``), pressure does not end a green discharging so before
it has run the signal's lost time per cycle (its intergreens), if its busy loops are at
least as many as the lanes with vehicles the best waiting stage would serve: a switch
costs an intergreen of nobody served, and the queue that drains faster is served
exhaustively (the c-mu rule of polling systems with switchover times). A green counts as
discharging for either hold only while its lanes' exits are on average open
(``exit_open_share``). Each lane's pressure is weighed by the open share of its exits
(``exit_blocking``): vehicles standing in the exit zone just past the junction block it,
so no green starts into a blocked exit for the vehicles it cannot move.

The next stage is the waiting stage with the highest pressure, unless one has waited past
its limit: that one comes next, but does not cut the current green short (ending greens
at their minimum for it, saturated or not, cost 5-18 % on arterials and districts in
congestion). Pressure weighs a lane by how fast the stage serves it, learned from the
stop-line loops (:mod:`signal_opt.controllers.discharge`): a left turn that must yield in
one stage and has its own arrow in another is worth less to the first. Only detector
values are read: queue-zone vehicle counts (all, and those standing), the time since the
last vehicle on each stop-line loop and the vehicles it counted, and pedestrian push
buttons. Detectors found faulty are left out; a stage without a usable queue zone counts
as waiting (recall), so it cannot starve.

Pedestrians are served on call, as field controllers do: a stage shows its crossings
green (the walk, with its longer minimum green) only when a button of one of them is
pressed, before or during its green; otherwise the crossings stay red and the stage needs
only its vehicle minimum. A pressed button makes its stage a waiting one, and no
pedestrian waits longer than ``max_ped_wait``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from signal_opt.controllers.discharge import Discharge, discharge_of
from signal_opt.controllers.kernel import FreeSettings, fed_share
from signal_opt.controllers.max_pressure import Pressure, pressure_of
from signal_opt.detectors import VEHICLE_SPACING_M, StepReading, zone_capacity
from signal_opt.model import GREEN_STATES, Intersection, Plan


@dataclass
class FreeSignal:
    """One signal in free operation: its detectors per stage and its current bounds."""

    x: Intersection
    pressure: Pressure
    loops: list[list[str]]
    """Stop-line loops per stage (lanes with priority green)."""
    queues: list[list[str]]
    """Queue zones per stage (every lane the stage serves)."""
    holds: list[float]
    """Seconds each stage's green holds before pressure may end it."""
    crossings: list[frozenset[int]] = field(default_factory=list)
    """Crossing link indices each stage shows green with its walk."""
    max_greens: list[float] = field(default_factory=list)
    max_wait: float = 240.0
    last_green: list[float] = field(default_factory=list)
    """When each stage last showed green (s)."""
    zone_green: dict[str, float] = field(default_factory=dict)
    """When the lane of each queue zone last had green (in any stage)."""
    called_since: dict[int, float] = field(default_factory=dict)
    """When the button of each crossing now called was first seen pressed."""
    discharge: Discharge | None = None
    """Service rate per stage and lane, from the stop-line loops (None: not learned)."""
    capacity: Mapping[str, float] = field(default_factory=dict)
    """Vehicles each queue and exit zone holds standing."""
    congested: bool = False
    """Queues at the signal reach past its queue zones (from interval data)."""
    clearance: float = 0.0
    """Seconds of green the queue needs that stood when the green in force was chosen."""

    def bound_by(self, plan: Plan, settings: FreeSettings) -> None:
        """Take the bounds of a (re)timed plan."""
        self.max_greens = [
            max(settings.max_green_factor * g, s.min_green + settings.max_green_floor)
            for g, s in zip(plan.greens, self.x.stages)
        ]
        self.max_wait = settings.max_wait_cycles * plan.cycle


def free_signal(
    x: Intersection,
    pressure: Pressure,
    loops: list[list[str]],
    queues: list[list[str]],
    settings: FreeSettings,
    t: float,
    discharge: Discharge | None = None,
) -> FreeSignal:
    holds = [
        max(settings.min_hold, settings.hold_intergreens * s.intergreen_time) for s in x.stages
    ]
    cross = x.crossings
    crossings = [frozenset(i for i in cross if s.state[i] in GREEN_STATES) for s in x.stages]
    sig = FreeSignal(x, pressure, loops, queues, holds, crossings, last_green=[t] * len(x.stages))
    sig.discharge = discharge
    sig.zone_green = {d: t for zones in queues for d in zones}
    sig.bound_by(x.base_plan(), settings)
    return sig


def choose_stage(
    sig: FreeSignal,
    stage: int,
    started: float,
    t: float,
    seen: StepReading,
    settings: FreeSettings,
    calls: frozenset[int] = frozenset(),
) -> tuple[int, bool]:
    """The stage signal ``sig`` should show after this step (``stage`` to keep it), and
    whether with its pedestrian walk.

    ``stage`` is the green showing since ``started``; ``seen`` holds what the usable
    detectors show (faulty ones left out), ``calls`` the crossing link indices whose push
    button is pressed.
    """
    sig.last_green[stage] = t
    for d in sig.queues[stage]:
        sig.zone_green[d] = t
    sig.called_since = {c: sig.called_since.get(c, t) for c in calls}
    if sig.discharge is not None:
        sig.discharge.observe(stage, seen.halting, seen.passed)
    choice = _choose(sig, stage, t - started, t, seen, settings)
    if choice != stage:
        queue = max((seen.counts.get(d, 0) for d in sig.queues[choice]), default=0)
        sig.clearance = float(settings.clearance(np.array(float(queue))))
    return choice, bool(sig.crossings[choice] & calls)


def _choose(
    sig: FreeSignal,
    stage: int,
    elapsed: float,
    t: float,
    seen: StepReading,
    settings: FreeSettings,
) -> int:
    if elapsed + 1e-9 < sig.x.stages[stage].min_green_for(False):
        return stage
    counts, gaps = seen.counts, seen.gaps
    waiting = _waiting(sig.queues, counts)  # (P,) vehicles, or 1 for a recalled stage
    waiting += [len(cross & sig.called_since.keys()) for cross in sig.crossings]
    others = [k for k in range(len(waiting)) if k != stage and waiting[k] > 0]
    if not others:
        return stage  # nobody waits elsewhere: rest in green
    rates = None
    if settings.learn_rates and sig.discharge is not None and sig.discharge.yields.any():
        rates = sig.discharge.rates()
    if settings.exit_blocking and sig.pressure.exits is not None:
        share = sig.pressure.open_share(seen.halting, sig.capacity)
        rates = share if rates is None else rates * share
    pressure = sig.pressure.of(counts, rates)
    ped = {k: _ped_waited(sig, k, t) for k in others}
    overdue = [k for k in others if ped[k] >= settings.max_ped_wait]
    if overdue:
        return max(overdue, key=lambda k: ped[k])
    waited = {k: _waited(sig, k, t, counts) for k in others}
    overdue = [k for k in others if waited[k] >= sig.max_wait]
    best = max(others, key=lambda k: pressure[k])
    after = max(overdue, key=lambda k: waited[k]) if overdue else best
    loops = [d for d in sig.loops[stage] if d in gaps]
    gapped = (
        bool(loops) and waiting[stage] == 0 and all(gaps.get(d, 0.0) >= settings.gap for d in loops)
    )
    maxed = elapsed >= sig.max_greens[stage]
    served = sig.pressure.served()  # (P, L)
    exits_open = True
    if settings.exit_open_share > 0 and settings.reads_exits:
        opened = sig.pressure.open_share(seen.halting, sig.capacity)[stage]  # (L,)
        lanes = max(int(served[stage].sum()), 1)
        exits_open = float(opened @ served[stage]) / lanes >= settings.exit_open_share
    hold = max(sig.holds[stage], sig.clearance if exits_open else 0.0)
    pushed = elapsed >= hold and pressure[best] > pressure[stage]
    standing = seen.halting
    moving = sum(counts[d] - standing.get(d, 0) for d in sig.queues[stage] if d in counts)
    if pushed and settings.saturated_share > 0 and loops:
        busy = sum(1 for d in loops if gaps[d] < settings.gap)
        discharging = busy >= settings.saturated_share * len(loops) and moving > 0 and exits_open
        held = sig.congested and discharging
        if settings.lost_time_hold:
            lost = sig.x.lost_time
            zones = sig.pressure.detectors
            queued = sum(
                1
                for k in range(served.shape[1])
                if served[best, k] and not served[stage, k] and counts.get(zones[k], 0) > 0
            )
            held = held or (discharging and elapsed < lost and busy >= queued)
        pushed = not held
    if pushed and settings.keep_moving:
        pushed = pressure[best] > moving
    return after if gapped or maxed or pushed else stage


def _waited(sig: FreeSignal, k: int, t: float, counts: Mapping[str, int]) -> float:
    """How long the longest-waiting occupied lane of stage ``k`` has had no green (s).

    A lane shared with another stage is served by either, so it is measured per lane, not
    per stage; a stage without a usable queue zone counts from its own last green.
    """
    good = [d for d in sig.queues[k] if d in counts]
    if not good:
        return t - sig.last_green[k]
    return max((t - sig.zone_green[d] for d in good if counts[d] > 0), default=0.0)


def _ped_waited(sig: FreeSignal, k: int, t: float) -> float:
    """How long the longest-pressed push button of stage ``k`` has waited (s)."""
    return max(
        (t - sig.called_since[c] for c in sig.crossings[k] if c in sig.called_since), default=0.0
    )


def _waiting(queues: Sequence[Sequence[str]], counts: Mapping[str, int]) -> np.ndarray:
    """Vehicles waiting per stage (P,); 1 for a stage without a usable queue zone."""
    out = np.zeros(len(queues))
    for k, zones in enumerate(queues):
        good = [d for d in zones if d in counts]
        out[k] = sum(counts[d] for d in good) if good else 1.0
    return out


def reference_signals(
    intersections: Sequence[Intersection],
    queue_zones: Mapping[str, Sequence[str]],
    stop_loops: Mapping[str, Sequence[str]],
    settings: FreeSettings,
    t: float,
    exit_zones: Mapping[str, Sequence[str]] | None = None,
    zone_length: Mapping[str, float] | None = None,
    lane_length: Mapping[str, float] | None = None,
) -> list[FreeSignal]:
    """The plain-Python :class:`FreeSignal` of every intersection, from the same lane maps
    :func:`signal_opt.controllers.kernel.build_layout` takes (for tests of the kernel)."""
    zone_of = {lane: zones[-1] for lane, zones in queue_zones.items() if zones}
    exit_of = {lane: zones[-1] for lane, zones in (exit_zones or {}).items() if zones}
    lengths = (lane_length or {}) if settings.storage_weighted else {}
    weight = {
        lane: fed_share((zone_length or {}).get(zone), lengths.get(lane))
        for lane, zone in zone_of.items()
    }
    out = []
    for x in intersections:
        loops, queues = [], []
        for stage in x.stages:
            lanes = sorted({ln for g in stage.lane_groups for ln in x.lane_groups[g].lanes})
            # gap-out watches lanes with priority green
            priority = sorted(
                {
                    lk.from_lane
                    for lk in x.links
                    if not lk.is_crossing and stage.state[lk.index] == "G"
                }
            )
            loops.append([d for ln in (priority or lanes) for d in stop_loops.get(ln, ())])
            queues.append([d for ln in lanes for d in queue_zones.get(ln, ())])
        pressure = pressure_of(x, zone_of, exit_of, weight)
        discharge = discharge_of(x, zone_of, stop_loops)
        sig = free_signal(x, pressure, loops, queues, settings, t, discharge)
        sig.capacity = {
            d: zone_capacity((zone_length or {}).get(d, VEHICLE_SPACING_M))
            for d in [*pressure.exit_detectors, *(d for zs in queues for d in zs)]
        }
        out.append(sig)
    return out
