"""``adaptive``: retime every signal from detector data, about 135 times a day.

Every ``interval`` seconds (default 640 s) the controller closes a period of one-minute
detector readings, estimates demand per lane group (:mod:`signal_opt.detectors`: queues
and spill-back count, faulty detectors are excluded), and runs the optimization core for
the whole network in one array pass: cycle and splits, and for coordinated signals a
common cycle and offsets from platoon links.

How a signal runs its plan:

- *free* (the default for every signal): the plan bounds the signal (maximum greens,
  the wait after which a lane is served next) and the detectors decide within it, stage
  by stage, by queue pressure with gap-out, pedestrian walks on push-button call
  (:mod:`signal_opt.controllers.actuation`);
- *coordinated* (signals whose busiest lane group is at or above ``coordinate_above``,
  when set): the plan's fixed cycle and offset carry a green wave; the heaviest stage
  holds its green, the others gap out early and stages nobody waits for are skipped, the
  saved time going to the next stage (coordinated-actuated);
- *fixed*: an intersection without usable data latches on its base plan, fixed time,
  until a retiming finds its data good again.

Free operation is the default because it measured better on the bundled grid (see
README, "Strategies"); coordination stays available for arterials that want green waves.

A guard (:mod:`signal_opt.controllers.guard`) watches each region's delay as its
detectors see it; where adaptive does clearly worse than the base programs it replaced,
those run the region (fixed time) until adaptive is given it back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from signal_opt.controllers.base import Controller
from signal_opt.controllers.guard import Guard, Guarded, GuardSettings, regions
from signal_opt.controllers.kernel import (
    FreeSettings,
    Snapshot,
    bound_by,
    build_layout,
    decide_free,
    deciding,
    detail_rows,
    first_zones,
    new_state,
    watched_loops,
)
from signal_opt.controllers.signals import Mode, SignalStates
from signal_opt.core import CoreSettings
from signal_opt.detectors import FAULT_KINDS, DemandEstimator, zone_vehicles
from signal_opt.fallback import FallbackReason, fallback
from signal_opt.model import Intersection, Plan, check_plan
from signal_opt.retiming import retime_network

if TYPE_CHECKING:
    from signal_opt.sumo.coordination import PlatoonLink
    from signal_opt.sumo.simulation import RunContext, Simulation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdaptiveSettings:
    interval: float = 640.0
    """Seconds between retimings (640 s is about 135 a day)."""
    first_retiming: float = 300.0
    """Seconds of data before the first retiming."""
    max_cycle_change: float = 20.0
    max_green_change: float = 15.0
    target_degree_of_saturation: float | None = 0.85
    """Cycle policy of the core: the shortest cycle keeping every lane group at or below
    this degree of saturation (None: least predicted delay)."""
    free: FreeSettings = field(default_factory=FreeSettings)
    """Bounds and actuation of free operation."""
    coordinate_above: float | None = None
    """Signals whose busiest lane group reaches this degree of saturation run their plan's
    fixed cycle, coordinated with their neighbours; None: every signal runs free."""
    max_link_time: float = 60.0
    """Signals further apart than this (s of travel) are not coordinated."""
    long_queue: float = 0.8
    """A queue reaches past its zone when the longest queue of an interval covers this
    share of the zone."""
    congested_zones: int = 1
    """A signal is congested (:attr:`FreeSettings.saturated_share`) when that held on at
    least this many of its queue zones in the last interval..."""
    congested_minutes: int = 1
    """...and in each of this many intervals in a row."""
    gap_out: bool = True
    """Coordinated signals: a non-coordinated green with no vehicle for ``free.gap``
    seconds ends early; a stage nobody waits for is skipped."""
    guard: GuardSettings = field(default_factory=GuardSettings)
    """Regions where adaptive does clearly worse than their base programs run those
    (:mod:`signal_opt.controllers.guard`)."""


class AdaptiveController(Controller):
    name = "adaptive"

    def __init__(
        self,
        interval: float | None = None,
        settings: AdaptiveSettings | None = None,
        pedestrian_recall: bool | None = None,
    ):
        self.settings = settings or AdaptiveSettings()
        if interval is not None:
            self.settings = replace(self.settings, interval=float(interval))
        if pedestrian_recall is not None:
            free = replace(self.settings.free, pedestrian_recall=pedestrian_recall)
            self.settings = replace(self.settings, free=free)
        self.core_settings = CoreSettings(
            max_cycle_change=self.settings.max_cycle_change,
            max_green_change=self.settings.max_green_change,
            target_degree_of_saturation=self.settings.target_degree_of_saturation,
        )
        self.retimings = 0
        self.retime_seconds: list[float] = []
        self.fallbacks = 0
        self.fallback_ids: set[str] = set()

    def prepare(self, ctx: RunContext) -> list:
        self.ctx = ctx
        self.estimator = DemandEstimator(
            ctx.intersections, ctx.detector_infos(), entries=ctx.link_entries()
        )
        self.det_tls = {s.id: getattr(s, "tls", None) for s in ctx.detectors}
        # Platoons disperse on long links: coordinate only signals close enough to gain
        # (they also make the guard's regions).
        near = [lk for lk in ctx.platoon_links() if lk.travel_time <= self.settings.max_link_time]
        self.links = near if self.settings.coordinate_above is not None else []
        self.period = min((float(getattr(s, "period", 60.0)) for s in ctx.detectors), default=60.0)
        # Which detectors serve which stage and lane, worked out once for the kernel.
        length = {s.id: s.length for s in ctx.detectors if s.kind in ("queue", "exit")}
        self.layout = build_layout(
            ctx.intersections,
            ctx.lane_detectors("queue"),
            ctx.lane_detectors("stopline"),
            self.settings.free,
            ctx.lane_detectors("exit"),
            length,
            {ln.getID(): ln.getLength() for e in ctx.net.getEdges() for ln in e.getLanes()},
        )
        self._zone_index = {d: i for i, d in enumerate(self.layout.zone_ids)}
        # each signal's lane queue zones, for congestion from interval data
        nz = len(self.layout.zone_ids)
        sig_of, lane_of = np.nonzero(self.layout.lane_zone < nz)  # (Q,) each
        self._queue_signal = sig_of
        self._queue_zone = self.layout.lane_zone[sig_of, lane_of]  # (Q,)
        ids = [self.layout.zone_ids[z] for z in self._queue_zone]
        self._queue_rows = np.array([self.estimator.row[d] for d in ids], dtype=np.int64)
        self._queue_length = np.array([length[d] for d in ids], float)  # (Q,) m
        self._loop_index = {d: i for i, d in enumerate(self.layout.loop_ids)}
        self._crossing_index = {c: i for i, c in enumerate(self.layout.crossing_ids)}
        self.signals = SignalStates.starting(
            self.layout.ids, [x.base_plan() for x in ctx.intersections]
        )
        """Every signal's mode, plan in force and last request."""
        self._bad: frozenset[str] = frozenset()
        n_zones, n_loops = len(self.layout.zone_ids), len(self.layout.loop_ids)
        self._zone_ok = np.ones(n_zones, bool)  # (Z,)
        self._loop_ok = np.ones(n_loops, bool)  # (M,)
        self._gaps = np.zeros(n_loops)  # (M,) the last step's, for coordinated gap-out
        self._counts = np.zeros(n_zones)  # (Z,)
        self._congested_run = np.zeros(len(self.layout.ids), dtype=np.int64)  # (N,) intervals
        self._prepare_guard(ctx, near)
        self._retimed = [x.base_plan() for x in ctx.intersections]
        """(N,) the plan adaptive last chose for each signal (run unless guarded)."""
        return []

    def _prepare_guard(self, ctx: RunContext, near: list[PlatoonLink]) -> None:
        """Regions (signals joined by the links ``near``: platoon links of at most
        ``max_link_time``), and which stop lines count for each."""
        n = len(self.layout.ids)
        self._region = regions(n, [(lk.up, lk.down) for lk in near])  # (N,)
        nr = int(self._region.max()) + 1 if n else 0
        cycles = np.array([x.base_plan().cycle for x in ctx.intersections])  # (N,)
        mean_cycle = np.bincount(self._region, cycles, nr) / np.bincount(self._region, None, nr)
        self._guard_region_cycle = mean_cycle  # (R,)
        signal = {x.id: i for i, x in enumerate(ctx.intersections)}
        stops = [
            (self.estimator.row[s.id], signal[s.tls])
            for s in ctx.detectors
            if s.kind == "stopline" and s.tls in signal
        ]
        self._stop_rows = np.array([r for r, _ in stops], dtype=np.int64)  # (S,)
        self._stop_region = self._region[[i for _, i in stops]]  # (S,)

    def start(self, sim: Simulation) -> None:
        self.sim = sim
        self.reader = sim.read_detectors(per_step=True, intervals=True, gaps=True)
        recall = self.settings.free.pedestrian_recall
        self.buttons = None if recall else sim.push_buttons()
        gap_out = self.settings.gap_out
        self.driver = sim.drive(
            early_end=self._early_end if gap_out else None,
            skip=self._skip if gap_out else None,
        )
        t0 = sim.conn.simulation.getTime()
        self.next_minute = t0 + self.period + 1.0
        self.next_retime = t0 + self.settings.first_retiming
        if list(self.driver.ids) != list(self.layout.ids):
            raise RuntimeError("driver and kernel must number the signals alike")
        self._passed_rows = watched_loops(self.layout)
        self.state = new_state(
            self.layout, [x.base_plan() for x in sim.intersections], self.settings.free, t0
        )
        for x in sim.intersections:
            sim.plan_log.write(t0, x.base_plan())
            self.driver.set_free(x.id)
        self.guard = Guard(self._guard_region_cycle, self.settings.guard, t0)

    def step(self, sim: Simulation, t: float) -> float:
        layout = self.layout
        driver = self.driver
        active = driver.free & (driver.stage >= 0)  # (N,)
        decide = deciding(layout, driver.stage, driver.started, active, t)  # (N,)
        hooked = self.signals.mode == Mode.COORDINATED  # (N,)
        calls = np.zeros(len(layout.crossing_ids), bool)  # (C,)
        if self.buttons is not None:
            for tls_id, pressed in self.buttons.pressed().items():
                calls[[self._crossing_index[(tls_id, c)] for c in pressed]] = True
        reader = self.reader
        first = first_zones(layout, driver.stage, decide, hooked)  # (R,)
        counts = reader.queue_counts(layout.zone_ids, first)  # (Z,)
        if t + 1e-9 >= self.next_minute:
            count, occupancy, jam = reader.last_interval(self.estimator.ids)  # (D,) each
            self.estimator.add_arrays(count, occupancy, jam, self.period)
            self._congestion(jam)
            self._faulty(frozenset(self.estimator.faulty_now()))
            if self.settings.guard.enabled:
                self._guard_minute(count, occupancy, t)
            self.next_minute += self.period
        zones, standing, loops = detail_rows(
            layout,
            driver.stage,
            active,
            decide,
            counts,
            self._zone_ok,
            calls,
            self.settings.free.reads_exits,
            hooked,
        )
        unread = np.zeros(len(counts), bool)  # (Z,)
        unread[zones] = True
        unread[first] = False
        more = np.flatnonzero(unread)  # (R2,)
        counts[more] = reader.queue_counts(layout.zone_ids, more)[more]
        halting, gaps, passed = reader.read_arrays(
            layout.zone_ids, layout.loop_ids, standing, loops, self._passed_rows
        )
        self._gaps, self._counts = gaps, counts
        if t + 1e-9 >= self.next_retime:
            self._retime(t)
            self.next_retime += self.settings.interval
        snap = Snapshot(counts, halting, gaps, passed, self._zone_ok, self._loop_ok, calls)
        choice, walk = decide_free(
            layout, self.state, snap, driver.stage, driver.started, active, t, self.settings.free
        )
        walk |= self.settings.free.pedestrian_recall
        rows = np.flatnonzero(active)
        driver.request_stages(choice, walk, rows)
        self.signals.choice[rows], self.signals.walk[rows] = choice[rows], walk[rows]
        return t + 1.0

    def _congestion(self, jam: np.ndarray) -> None:
        """Mark the signals where, in each of the last ``congested_minutes`` intervals,
        queues reached the far end of at least ``congested_zones`` of their usable queue
        zones (``jam`` (D,): each detector's longest queue, m, in the estimator's
        order)."""
        z = self._queue_rows  # (Q,) the queue zones' rows in the estimator's order
        full = np.nan_to_num(jam[z]) >= self.settings.long_queue * self._queue_length  # (Q,)
        ok = self._zone_ok[self._queue_zone]  # (Q,)
        n = len(self.layout.ids)
        hit = np.bincount(self._queue_signal, weights=full & ok, minlength=n)  # (N,)
        now = hit >= self.settings.congested_zones  # (N,)
        self._congested_run = np.where(now, self._congested_run + 1, 0)
        self.state.congested = self._congested_run >= self.settings.congested_minutes

    def _guard_minute(self, count: np.ndarray, occupancy: np.ndarray, t: float) -> None:
        """Feed the guard one interval (``count``, ``occupancy`` (D,) in the estimator's
        order; faulty detectors left out) and hand over the regions it moves."""
        ok = self.estimator.fault == 0  # (D,)
        nr = len(self._guard_region_cycle)
        z = self._queue_rows  # (Q,)
        on = np.where(ok[z], np.nan_to_num(occupancy[z]), 0.0)  # (Q,) %
        vehicles = zone_vehicles(on, self._queue_length)  # (Q,)
        on_zones = np.bincount(self._region[self._queue_signal], vehicles, nr)  # (R,)
        st = self._stop_rows  # (S,)
        served = np.bincount(self._stop_region, np.where(ok[st], np.nan_to_num(count[st]), 0.0), nr)
        self.guard.add_minute(on_zones, served, self.period)
        for r in self.guard.judge(t):
            state = Guarded(int(self.guard.state[r]))
            log.info("guard: region %d -> %s at %.0f s", r, state.name.lower(), t)
            for i in np.flatnonzero(self._region == r):
                x = self.sim.intersections[i]
                if state == Guarded.ADAPTIVE:
                    plan = self._retimed[i]
                    mode = "fixed" if plan.source == "fallback" else "free"
                    self._apply(x, plan, mode, t)
                else:
                    base = x.base_plan()
                    details: dict[str, object] = {"mode": "fixed", "guard": state.name.lower()}
                    self._apply(x, replace(base, details=details), "fixed", t)

    def _guarded(self, i: int) -> bool:
        """Signal ``i`` runs its base program by the guard."""
        return bool(self.guard.state[self._region[i]] != Guarded.ADAPTIVE)

    def _faulty(self, bad: frozenset[str]) -> None:
        """Leave the detectors found faulty out of free operation and gap-out."""
        if bad == self._bad:
            return
        self._bad = bad
        self._zone_ok = np.array([d not in bad for d in self.layout.zone_ids], bool)
        self._loop_ok = np.array([d not in bad for d in self.layout.loop_ids], bool)

    # -- retiming ---------------------------------------------------------------------
    def _retime(self, t: float) -> None:
        xs = self.sim.intersections
        t0 = time.perf_counter()
        est = self.estimator.estimate()
        # Change limits count from adaptive's plan in force (free signals too; a signal
        # the guard handed to its base program keeps adaptive's last).
        current = list(self._retimed)
        outcome = retime_network(xs, est.demand, current, self.links, self.core_settings)
        self.retime_seconds.append(time.perf_counter() - t0)
        self.retimings += 1
        result = outcome.result
        above = self.settings.coordinate_above
        for i, (x, plan) in enumerate(zip(xs, outcome.plans)):
            details: dict[str, object] = {"flags": plan.details.get("flags", [])}
            dos = result.degree_of_saturation[i][: len(x.lane_groups)]
            max_dos = float(np.nanmax(dos)) if dos.size and np.isfinite(dos).any() else 1.0
            details["max_degree_of_saturation"] = round(max_dos, 3)
            safe = outcome.fallbacks.get(x.id)
            if est.fallback[i]:
                safe = fallback(x, FallbackReason.NO_DATA, current[i])
            if safe is not None:
                plan = safe.plan
                details["fallback"] = str(safe.reason)
            if est.stale_groups[i]:
                details["stale_groups"] = len(est.stale_groups[i])
            faulty = sum(1 for d in est.faulty if self.det_tls.get(d) == x.id)
            if faulty:
                details["faulty_detectors"] = faulty
            coordinate = above is not None and max_dos >= above and bool(self.links)
            mode = "coordinated" if coordinate else "free"
            if plan.source == "fallback":
                mode = "fixed"  # no new plan to act on: the safe plan, fixed time, latched
            self._retimed[i] = replace(plan, details={**details, "mode": mode})
            if self._guarded(i):
                continue  # the base program runs; adaptive's plan waits for the region
            if not self._apply(x, self._retimed[i], mode, t):
                safe = fallback(x, FallbackReason.UNSAFE, current[i], "refused by the driver")
                plan = safe.plan
                details["fallback"] = str(safe.reason)
                self._retimed[i] = replace(plan, details={**details, "mode": "fixed"})
                self._apply(x, self._retimed[i], "fixed", t)
            if plan.source == "fallback":
                self.fallbacks += 1
                self.fallback_ids.add(x.id)

    def _apply(self, x: Intersection, plan: Plan, mode: str, t: float) -> bool:
        """Hand ``plan`` to signal ``x`` in ``mode`` (``free``, ``coordinated`` or ``fixed``:
        the plan as it is, no actuation); False if the plan is refused as unsafe."""
        if mode in ("coordinated", "fixed"):
            try:
                self.driver.request(plan)
            except ValueError:
                return False
            if mode == "fixed":
                self.signals.set(x.id, Mode.FIXED, plan)
            else:
                # The heaviest stage (the longest green) carries the green wave.
                heaviest = max(range(len(plan.greens)), key=lambda k: plan.greens[k])
                self.signals.set(x.id, Mode.COORDINATED, plan, heaviest)
            return True
        try:
            check_plan(x, plan)
        except ValueError:
            return False
        self.signals.set(x.id, Mode.FREE, plan)
        bound_by(self.layout, self.state, self.signals.row[x.id], plan, self.settings.free)
        self.driver.set_free(x.id)
        self.sim.plan_log.write(t, plan)  # a free signal runs within this plan from now
        return True

    def _early_end(self, tls_id: str, stage: int, elapsed: float, t: float) -> bool:
        """Coordinated signals: gap-out of a non-coordinated stage (no vehicle over its
        stop-line loops for ``gap`` seconds; a faulty loop never gaps out)."""
        i = self.signals.row[tls_id]
        if self.signals.mode[i] == Mode.FIXED or stage == self.signals.wave[i]:
            return False
        loops = self.layout.stage_loops[i, stage]  # (G,)
        loops = loops[loops < len(self.layout.loop_ids)]
        if not loops.size or not self._loop_ok[loops].all():
            return False
        return bool((self._gaps[loops] >= self.settings.free.gap).all())

    def _skip(self, tls_id: str, stage: int) -> bool:
        """Coordinated signals: a stage is skipped when nobody waits for it (by working
        queue zones: a faulty one may hide a queue)."""
        i = self.signals.row[tls_id]
        if self.signals.mode[i] == Mode.FIXED or stage == self.signals.wave[i]:
            return False
        zones = self.layout.stage_zones[i, stage]  # (S,)
        zones = zones[zones < len(self.layout.zone_ids)]
        if not zones.size or not self._zone_ok[zones].all():
            return False
        return bool((self._counts[zones] == 0).all())

    def summary(self) -> dict[str, Any]:
        """Retimings, their network-wide compute time, fallbacks and detector faults."""
        secs = self.retime_seconds
        est = getattr(self, "estimator", None)  # None if the run never got to prepare
        found = est.new_faults if est is not None else {}
        guard = getattr(self, "guard", None)
        return {
            "retimings": self.retimings,
            "retime_seconds_mean": round(sum(secs) / len(secs), 4) if secs else 0.0,
            "retime_seconds_max": round(max(secs), 4) if secs else 0.0,
            "fallback_plans": self.fallbacks,
            "fallback_intersections": sorted(self.fallback_ids),
            "detector_faults": {k: int(found.get(k, 0)) for k in FAULT_KINDS},
            "faulty_detectors": len(est.ever_faulty) if est is not None else 0,
            "guard_probes": guard.probes if guard is not None else 0,
            "guard_takeovers": guard.takeovers if guard is not None else 0,
            "guard_base_regions": (
                int((guard.state == Guarded.BASE).sum()) if guard is not None else 0
            ),
        }
