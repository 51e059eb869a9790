"""Drive signals from Python with safe transitions between plans.

The driver owns the signal state of the traffic lights it controls and sets it with one
``setRedYellowGreenState`` call per phase change (never per step). Plans change only at
a cycle boundary; yellow and all-red phases are copied from the intersection model and
never shortened; greens never drop below their minimum. A new offset is reached over
several cycles by lengthening or shortening each cycle within limits, as field
controllers do ("smooth" offset transition), instead of in one jump.

Two modes per light:

- *plan* mode runs a cycle-based plan (cycle, greens, offset), optionally with an
  ``early_end`` hook so an actuated controller can gap out a green that nobody uses;
- *free* mode (``request_stage``) lets a controller such as max-pressure pick the next
  stage at each decision point; transitions between any two stages are built by
  :func:`signal_opt.sumo.programs.transition_phases`. A stage may run without its
  pedestrian walk (crossings red, vehicle minimum green) when nobody has called it; the
  walk can be added later in the green, which then lasts its full pedestrian time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from signal_opt.model import Intersection, Phase, Plan, check_plan
from signal_opt.sumo.programs import (
    clearance_times,
    clearing_phases,
    quantize_greens,
    transition_phases,
)

EarlyEnd = Callable[[str, int, float, float], bool]
"""``early_end(tls_id, stage, elapsed_green, t) -> bool``: may the green end now?"""


@dataclass(frozen=True)
class TransitionLimits:
    """How fast a running plan may move toward a new offset, per cycle."""

    max_lengthen: float = 0.20
    """Largest fraction of the cycle a transition cycle may be lengthened by."""
    max_shorten: float = 0.15
    """Largest fraction of the cycle a transition cycle may be shortened by."""
    tolerance: float = 1.0
    """Offset error (s) small enough to count as in step."""


@dataclass
class _Light:
    """The schedule one light is running (the per-light state that is not an array)."""

    index: int
    """Row of the light in the driver's arrays."""
    intersection: Intersection
    plan: Plan
    pending: Plan | None = None
    cycle_start: float = 0.0
    # phases of the cycle being run: (state, end_time, stage_index or -1 for intergreen)
    schedule: list[tuple[str, float, int]] = field(default_factory=list)
    position: int = 0


class SignalDriver:
    """Runs plans on the traffic lights of a connection.

    ``conn`` is a libsumo module or a traci connection. ``on_applied(t, plan)`` is called
    whenever a plan starts to run (for plan logs).
    """

    def __init__(
        self,
        conn,
        intersections: list[Intersection],
        limits: TransitionLimits | None = None,
        on_applied: Callable[[float, Plan], None] | None = None,
        early_end: EarlyEnd | None = None,
        skip: Callable[[str, int], bool] | None = None,
        step: float = 1.0,
    ) -> None:
        self.conn = conn
        self.limits = limits or TransitionLimits()
        self.on_applied = on_applied
        self.early_end = early_end
        self.skip = skip
        self.step_length = step
        self.lights: dict[str, _Light] = {}
        self._heap: list[tuple[float, str]] = []
        self._intersections = {x.id: x for x in intersections}
        self.ids = [x.id for x in intersections]
        """Light ids (N,), in the order of the arrays below."""
        n = len(intersections)
        self.stage = np.full(n, -1, dtype=np.int64)
        """(N,) stage showing, -1 during an intergreen."""
        self.started = np.zeros(n)
        """(N,) when the green showing (or last shown) started, s."""
        self.free = np.zeros(n, bool)
        """(N,) free mode: the controller picks each next stage."""
        self.walk = np.ones(n, bool)
        """(N,) the green showing has its pedestrian walk (crossings green)."""
        self.min_end = np.zeros(n)
        """(N,) free mode: the earliest time the green showing may end."""
        self.next_stage = np.full(n, -1, dtype=np.int64)
        """(N,) free mode: the stage requested next (-1: none)."""
        self.next_walk = np.ones(n, bool)
        """(N,) free mode: whether the stage requested comes with its walk."""
        self._now = 0.0
        """Simulation time of the last :meth:`advance`."""

    # -- set-up ---------------------------------------------------------------------------
    def take_over(self, t: float, plans: dict[str, Plan] | None = None) -> None:
        """Start driving every light, continuing the phase it shows now.

        The running program is followed to the end of its cycle (reading its phase once);
        from the next cycle boundary on, ``plans`` (or the base plans) run.
        """
        self._now = t
        for i, (tls_id, x) in enumerate(self._intersections.items()):
            base = x.base_plan()
            light = _Light(i, x, base)
            self.lights[tls_id] = light
            phases = _rotated_phases(x)
            state_now = self.conn.trafficlight.getRedYellowGreenState(tls_id)
            found = _locate(
                x,
                phases,
                int(self.conn.trafficlight.getPhase(tls_id)),
                float(self.conn.trafficlight.getNextSwitch(tls_id)) - t,
                state_now,
                t,
            )
            stage_of = [p[1] for p in phases]
            light.schedule = []
            if found is None:  # not where the model's program could be: clear, then stage 0
                j, end = 0, t
                for phase in _clearing(x, state_now):
                    end += phase.duration
                    light.schedule.append((phase.state, end, -1))
                end += phases[0][0].duration
            else:
                j, remaining = found
                end = t + max(remaining, 0.0)
            # Build the rest of the current cycle from phase j.
            light.schedule.append((phases[j][0].state, end, stage_of[j]))
            for k in range(j + 1, len(phases)):
                end += phases[k][0].duration
                light.schedule.append((phases[k][0].state, end, stage_of[k]))
            light.position = 0
            light.cycle_start = t
            self.started[i] = t
            if found is not None and stage_of[j] >= 0:
                self._started(light, phases[j][0].state, stage_of[j], t)
            self._set(tls_id, light.schedule[0][0])
            self._current(tls_id, light)
            if plans and tls_id in plans:
                self.request(plans[tls_id])

    # -- requests ---------------------------------------------------------------------------
    def request(self, plan: Plan) -> None:
        """Queue ``plan``; it starts at the light's next cycle boundary. Validated now."""
        light = self.lights[plan.intersection_id]
        check_plan(light.intersection, plan)
        if self.free[light.index]:
            state, end, stage = light.schedule[light.position]
            if math.isinf(end):  # a free green held open: it ends at the next step,
                # or once it has run its minimum (its walk's, if the walk was added late)
                ends = max(self._now + self.step_length, float(self.min_end[light.index]))
                light.schedule[light.position] = (state, ends, stage)
                self._current(plan.intersection_id, light)
        self.free[light.index] = False
        light.pending = plan

    def set_free(self, tls_id: str) -> None:
        """Switch a light to free mode (stage chosen by :meth:`request_stage`); a plan
        queued for it is dropped."""
        light = self.lights[tls_id]
        self.free[light.index] = True
        light.pending = None

    def request_stage(self, tls_id: str, stage: int, walk: bool = True) -> None:
        """In free mode: end the current green (if past its minimum) and go to ``stage``,
        with its pedestrian walk or without (``walk``). Requesting the stage showing, with
        the walk, adds the walk to it now."""
        i = self.lights[tls_id].index
        self.next_stage[i] = stage
        self.next_walk[i] = walk

    def request_stages(self, stages: np.ndarray, walks: np.ndarray, rows: np.ndarray) -> None:
        """:meth:`request_stage` for the lights ``rows`` (R,) at once: ``stages`` and
        ``walks`` are (N,) arrays of which those rows are taken."""
        self.next_stage[rows] = stages[rows]
        self.next_walk[rows] = walks[rows]

    def current_stage(self, tls_id: str) -> tuple[int, float]:
        """``(stage, time its green started)``; stage is -1 during an intergreen."""
        i = self.lights[tls_id].index
        return int(self.stage[i]), float(self.started[i])

    def plan_of(self, tls_id: str) -> Plan:
        """The plan a light runs, or will run from its next cycle if one is queued."""
        light = self.lights[tls_id]
        return light.pending or light.plan

    # -- stepping ---------------------------------------------------------------------------
    def advance(self, t: float) -> None:
        """Make every phase change due at or before ``t`` (call once per step)."""
        self._now = t
        while self._heap and self._heap[0][0] <= t + 1e-9:
            due, tls_id = heapq.heappop(self._heap)
            light = self.lights[tls_id]
            if light.schedule[light.position][1] != due:
                continue  # stale entry (the phase was extended or cut since)
            self._next_phase(tls_id, light, t)
        self._check_free(t)
        if self.early_end is not None:
            self._check_early(t)

    def _check_free(self, t: float) -> None:
        """Free lights whose request is due: a walk to add to the green showing, or a
        new stage once the green has run its minimum (array tests, then only those)."""
        green = self.free & (self.stage >= 0)  # (N,)
        nxt = self.next_stage
        walk = green & (nxt == self.stage) & self.next_walk & ~self.walk  # (N,)
        switch = green & (nxt >= 0) & (nxt != self.stage) & (t + 1e-9 >= self.min_end)  # (N,)
        for i in np.flatnonzero(walk | switch):
            tls_id = self.ids[i]
            if walk[i]:
                self._add_walk(tls_id, self.lights[tls_id], t)
            else:
                self._end_green(
                    tls_id, self.lights[tls_id], t, int(nxt[i]), bool(self.next_walk[i])
                )

    def _check_early(self, t: float) -> None:
        """Lights running a plan: a green the ``early_end`` hook lets go ends now."""
        for i in np.flatnonzero(~self.free & (self.stage >= 0)):
            tls_id = self.ids[i]
            light = self.lights[tls_id]
            _, end, stage = light.schedule[light.position]
            elapsed = t - self.started[i]
            if elapsed + 1e-9 < light.intersection.stages[stage].min_green:
                continue
            if (
                self.early_end is not None
                and end - t > self.step_length
                and self.early_end(tls_id, stage, elapsed, t)
            ):
                self._leave_green(tls_id, light, t)

    def _leave_green(self, tls_id: str, light: _Light, t: float) -> None:
        """End the running green now and go to the next stage that has demand.

        Stages in between without demand (``skip``) are not shown; the transition is
        built for the actual pair of stages. The next green keeps its planned end and
        absorbs the time saved, so the cycle length and offset hold (coordinated-actuated
        operation).
        """
        pos = light.position
        state, _, src = light.schedule[pos]
        rest = light.schedule[pos + 1 :]
        greens = [k for k, (_, _, st) in enumerate(rest) if st >= 0]
        dst_k = None
        for k in greens:
            if self.skip is None or not self.skip(tls_id, rest[k][2]):
                dst_k = k
                break
        x = light.intersection
        head = [(state, t, src)]
        if dst_k is None:
            # Nothing left in this cycle has demand: clear and end the cycle here.
            nxt = 0
            trans = transition_phases(x, src, nxt, shown=state)
            end = t
            for phase in trans:
                end += phase.duration
                head.append((phase.state, end, -1))
            light.schedule = head
            light.position = 0
            self._step_phase(tls_id, light, t)
            return
        dst = rest[dst_k][2]
        end = t
        for phase in transition_phases(x, src, dst, shown=state):
            end += phase.duration
            head.append((phase.state, end, -1))
        dst_state, dst_end, _ = rest[dst_k]
        min_end = end + x.stages[dst].min_green
        tail = list(rest[dst_k + 1 :])
        new_end = max(dst_end, min_end)
        # Later phases move with the end of this green (never overlap it: every yellow
        # and all-red keeps its full duration).
        tail = [(st, e + new_end - dst_end, sg) for st, e, sg in tail]
        head.append((dst_state, new_end, dst))
        light.schedule = head + tail
        light.position = 0
        self._step_phase(tls_id, light, t)

    def _end_green(self, tls_id: str, light: _Light, t: float, dst: int, walk: bool) -> None:
        x = light.intersection
        shown, _, src = light.schedule[light.position]
        end = t
        sched: list[tuple[str, float, int]] = []
        for phase in transition_phases(x, src, dst, shown=shown, walk=walk):
            end += phase.duration
            sched.append((phase.state, end, -1))
        dst_stage = x.stages[dst]
        state = dst_stage.state if walk else x.without_walk(dst_stage.state)
        sched.append((state, end + max(dst_stage.min_green_for(walk), 1.0), dst))
        light.schedule = [(shown, t, src), *sched]
        light.position = 0
        self.next_stage[light.index] = -1
        self._step_phase(tls_id, light, t)

    def _add_walk(self, tls_id: str, light: _Light, t: float) -> None:
        """Turn the crossings of the green showing green now; the green then lasts at
        least its pedestrian time from now."""
        _, end, stage = light.schedule[light.position]
        full = light.intersection.stages[stage]
        i = light.index
        self.walk[i] = True
        self.min_end[i] = max(self.min_end[i], t + full.min_green_for(True))
        # the green may not end before the walk has run (should the light leave free
        # operation for a plan meanwhile)
        light.schedule[light.position] = (full.state, max(end, float(self.min_end[i])), stage)
        self._set(tls_id, full.state)
        if light.schedule[light.position][1] != end:
            self._current(tls_id, light)

    def _next_phase(self, tls_id: str, light: _Light, t: float) -> None:
        cur = light.schedule[light.position]
        free = bool(self.free[light.index])
        if free and cur[2] >= 0:
            # Free mode: a green lasts until the controller asks for another stage, even
            # one taken over from a plan's (or the network's) cycle.
            light.schedule = [(cur[0], math.inf, cur[2])]
            light.position = 0
            self._current(tls_id, light)
            return
        if (
            self.skip is not None
            and not free
            and cur[2] >= 0
            and cur[1] <= t + 1e-9
            and light.position + 1 < len(light.schedule)
        ):
            self._leave_green(tls_id, light, t)
            return
        self._step_phase(tls_id, light, t)

    def _step_phase(self, tls_id: str, light: _Light, t: float) -> None:
        """Move to the next entry of the schedule (or start the next cycle)."""
        light.position += 1
        if light.position >= len(light.schedule):
            if self.free[light.index]:
                # Hold the current stage until a new stage (or a plan) is requested.
                state, end, stage = light.schedule[-1]
                if stage < 0:
                    # A plan's cycle ended on its last intergreen (the light went free
                    # mid-cycle): that intergreen leads into the first stage.
                    first = light.intersection.stages[0]
                    light.schedule = [(first.state, t + max(first.min_green, 1.0), 0)]
                    light.position = 0
                    self._started(light, first.state, 0, t)
                    self._set(tls_id, first.state)
                    self._current(tls_id, light)
                    return
                light.schedule = [(state, math.inf, stage)]
                light.position = 0
                self._current(tls_id, light)
                return
            state, end, stage = light.schedule[-1]
            # (stage 0 shown without its walk gets it as the cycle starts: adding a walk
            # to a green is safe, and the first green runs its minimum from now)
            clear = (
                transition_phases(light.intersection, stage, 0, shown=state) if stage > 0 else []
            )
            if clear:
                # Back from free mode on a green other than the plan's first stage: clear
                # it into the first stage before the plan's cycle starts.
                light.schedule = [(state, t, stage)]
                end = t
                for phase in clear:
                    end += phase.duration
                    light.schedule.append((phase.state, end, -1))
                light.position = 0
                self._step_phase(tls_id, light, t)
                return
            self._start_cycle(tls_id, light, t)
            return
        state, end, stage = light.schedule[light.position]
        if stage >= 0:
            self._started(light, state, stage, t)
        self._set(tls_id, state)
        self._current(tls_id, light)

    def _started(self, light: _Light, state: str, stage: int, t: float) -> None:
        """A green starts: when, whether it has its walk, and its earliest end."""
        walked = state == light.intersection.stages[stage].state
        i = light.index
        self.started[i] = t
        self.walk[i] = walked
        self.min_end[i] = t + light.intersection.stages[stage].min_green_for(walked)

    def _start_cycle(self, tls_id: str, light: _Light, t: float) -> None:
        x = light.intersection
        if light.pending is not None:
            light.plan = light.pending
            light.pending = None
            if self.on_applied is not None:
                self.on_applied(t, light.plan)
        plan = light.plan
        greens = quantize_greens(x, plan.greens, self.step_length)
        cycle = sum(greens) + x.lost_time
        greens = self._seek_offset(x, plan, greens, cycle, t)
        light.cycle_start = t
        light.schedule = []
        end = t
        for k, (stage, green) in enumerate(zip(x.stages, greens)):
            end += green
            light.schedule.append((stage.state, end, k))
            for phase in stage.intergreen:
                end += phase.duration
                light.schedule.append((phase.state, end, -1))
        light.position = 0
        self._started(light, light.schedule[0][0], 0, t)
        self._set(tls_id, light.schedule[0][0])
        self._current(tls_id, light)

    def _seek_offset(
        self, x: Intersection, plan: Plan, greens: list[float], cycle: float, t: float
    ) -> list[float]:
        """Greens of this cycle, stretched or squeezed toward the plan's offset."""
        late = (t - plan.offset) % cycle  # seconds since the cycle should have started
        if late < self.limits.tolerance or cycle - late < self.limits.tolerance:
            return greens
        mins = [-(-s.min_green // self.step_length) * self.step_length for s in x.stages]
        slack = sum(g - m for g, m in zip(greens, mins))
        shorten = min(late, self.limits.max_shorten * cycle, slack)
        lengthen = min(cycle - late, self.limits.max_lengthen * cycle)
        # Prefer the direction that closes the gap in fewer cycles.
        cycles_short = late / max(min(self.limits.max_shorten * cycle, slack), 1e-9)
        cycles_long = (cycle - late) / max(self.limits.max_lengthen * cycle, 1e-9)
        if cycles_short <= cycles_long and shorten > 0:
            delta = -round(shorten / self.step_length) * self.step_length
            weights = [g - m for g, m in zip(greens, mins)]
        else:
            delta = round(lengthen / self.step_length) * self.step_length
            weights = list(greens)
        total = sum(weights)
        if total <= 0 or delta == 0:
            return greens
        out = [g + delta * w / total for g, w in zip(greens, weights)]
        out = [max(m, round(g / self.step_length) * self.step_length) for g, m in zip(out, mins)]
        return out

    # -- helpers ------------------------------------------------------------------------
    def _set(self, tls_id: str, state: str) -> None:
        self.conn.trafficlight.setRedYellowGreenState(tls_id, state)

    def _current(self, tls_id: str, light: _Light) -> None:
        """The schedule entry at ``light.position`` is now showing: record its stage and
        wake the light when it ends."""
        _, end, stage = light.schedule[light.position]
        self.stage[light.index] = stage
        if not math.isinf(end):  # a free green held open has no end to wake it
            heapq.heappush(self._heap, (end, tls_id))


def _rotated_phases(x: Intersection) -> list[tuple[Phase, int]]:
    """The base program from its first stage: ``(phase, stage index or -1)``."""
    out: list[tuple[Phase, int]] = []
    for k, stage in enumerate(x.stages):
        out.append((Phase(stage.base_green, stage.state), k))
        out.extend((p, -1) for p in stage.intergreen)
    return out


def _locate(
    x: Intersection,
    phases: list[tuple[Phase, int]],
    sumo_phase: int,
    remaining: float,
    state_now: str,
    t: float,
) -> tuple[int, float] | None:
    """Where the running program is in ``phases`` (the model's cycle) at ``t``: ``(index,
    seconds left)``, or None if neither SUMO's phase number nor the program's cycle
    position shows the state SUMO shows now."""
    n = sum(1 + len(s.intergreen) for s in x.stages)
    j = (sumo_phase - x.stages[0].phase_index) % n
    if j < len(phases) and phases[j][0].state == state_now:
        return j, remaining
    # Runs of equal phases are one model phase: find the position from the cycle time.
    cycle = sum(p.duration for p, _ in phases)
    into = (t - x.base_offset) % cycle if cycle > 0 else 0.0
    for k, (phase, _) in enumerate(phases):
        if into < phase.duration - 1e-9:
            if phase.state == state_now:
                return k, phase.duration - into
            return None
        into -= phase.duration
    return None


def _clearing(x: Intersection, state_now: str) -> list[Phase]:
    """Yellow then all-red from an unknown ``state_now`` into the first stage, as long as
    the longest the model has (at least 1 s of all-red)."""
    times = [clearance_times(x, k) for k in range(len(x.stages))]
    yellow = max(y for y, _ in times)
    all_red = max(max(r for _, r in times), 1.0)
    return clearing_phases(x, state_now, x.stages[0].state, yellow, all_red)
