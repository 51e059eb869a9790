"""``adaptive``: retime every signal from detector data, about 135 times a day.

Every ``interval`` seconds (default 640 s) the controller closes a period of one-minute
detector readings, estimates demand per lane group (:mod:`signal_opt.detectors`: queues
and spill-back count, faulty detectors are excluded), runs the optimization core for the
whole network in one array pass (cycle, splits, then offsets from platoon links), and
hands the new plans to the driver, which switches at the next cycle boundary and moves
offsets over several cycles. An intersection without usable data runs its base plan.

Within a plan, a non-coordinated green that nobody uses ends early (gap-out on the
stop-line loops: no vehicle for ``gap`` seconds), and the time goes to the next stage,
as coordinated-actuated field controllers do.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from signal_opt.controllers.base import Controller
from signal_opt.core import CoreSettings
from signal_opt.detectors import FAULT_KINDS, DemandEstimator, DetectorInfo, Minute
from signal_opt.model import Plan
from signal_opt.retiming import retime_network
from signal_opt.sumo.coordination import platoon_links
from signal_opt.sumo.detector_reader import served_lane
from signal_opt.sumo.simulation import RunContext, Simulation


@dataclass(frozen=True)
class AdaptiveSettings:
    interval: float = 640.0
    """Seconds between retimings (640 s is about 135 a day)."""
    first_retiming: float = 300.0
    """Seconds of data before the first retiming."""
    gap_out: bool = True
    gap: float = 3.0
    skip_empty: bool = True
    """Skip a stage nobody waits for (its queue zones are empty)."""
    coordinate: bool = True
    max_cycle_change: float = 20.0
    max_green_change: float = 15.0
    target_degree_of_saturation: float | None = 0.85
    """Cycle policy of the core: the shortest cycle keeping every lane group at or below
    this degree of saturation (None: least predicted delay)."""
    max_green_factor: float = 1.5
    """Isolated signals may extend a green up to this multiple of its planned green."""
    isolate_below: float = 0.6
    """A signal whose busiest lane group is below this degree of saturation runs fully
    actuated (its cycle floats) until demand rises again."""
    max_link_time: float = 60.0
    """Signals further apart than this (s of travel) are not coordinated."""


class AdaptiveController(Controller):
    name = "adaptive"

    def __init__(self, interval: float | None = None, settings: AdaptiveSettings | None = None):
        self.settings = settings or AdaptiveSettings()
        if interval is not None:
            self.settings = replace(self.settings, interval=float(interval))
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
        infos = [DetectorInfo(s.id, s.kind, served_lane(s), s.length) for s in ctx.detectors]
        self.estimator = DemandEstimator(ctx.intersections, infos)
        self.det_tls = {s.id: getattr(s, "tls", None) for s in ctx.detectors}
        links = platoon_links(ctx.net, ctx.intersections) if self.settings.coordinate else []
        # Platoons disperse on long links: coordinate only signals close enough to gain.
        self.links = [lk for lk in links if lk.travel_time <= self.settings.max_link_time]
        linked = {lk.up for lk in self.links} | {lk.down for lk in self.links}
        self.unlinked_ids = {x.id for i, x in enumerate(ctx.intersections) if i not in linked}
        self.floating_ids = set(self.unlinked_ids)
        self.period = min((float(getattr(s, "period", 60.0)) for s in ctx.detectors), default=60.0)
        by_kind: dict[str, dict[str, list[str]]] = {"stopline": {}, "queue": {}}
        for s in ctx.detectors:
            if s.kind in by_kind:
                by_kind[s.kind].setdefault(served_lane(s), []).append(s.id)
        # per intersection, per stage: the stop-line loops and queue zones of its lanes
        self.stage_loops: dict[str, list[list[str]]] = {}
        self.stage_queues: dict[str, list[list[str]]] = {}
        for x in ctx.intersections:
            loops, queues = [], []
            for stage in x.stages:
                lanes = sorted({ln for g in stage.lane_groups for ln in x.lane_groups[g].lanes})
                # Gap-out watches lanes with priority green: a yielding left-turner waiting
                # on its loop must not hold the stage green.
                priority = sorted(
                    {
                        lk.from_lane
                        for lk in x.links
                        if not lk.is_crossing and stage.state[lk.index] == "G"
                    }
                )
                loops.append(
                    [d for ln in (priority or lanes) for d in by_kind["stopline"].get(ln, [])]
                )
                queues.append([d for ln in lanes for d in by_kind["queue"].get(ln, [])])
            self.stage_loops[x.id] = loops
            self.stage_queues[x.id] = queues
        self.coordinated: dict[str, int] = {}
        self._gaps: dict[str, float] = {}
        self._queues: dict[str, int] = {}
        return []

    def start(self, sim: Simulation) -> None:
        self.sim = sim
        actuate = self.settings.gap_out
        self.reader = sim.read_detectors(per_step=actuate, intervals=True, gaps=actuate)
        self.driver = sim.drive(
            early_end=self._early_end if actuate else None,
            skip=self._skip if actuate and self.settings.skip_empty else None,
            extend=self._extend if actuate else None,
            floating=lambda tls_id: tls_id in self.floating_ids,
        )
        t0 = sim.conn.simulation.getTime()
        self.next_minute = t0 + self.period + 1.0
        self.next_retime = t0 + self.settings.first_retiming
        for x in sim.intersections:
            self.coordinated[x.id] = _main_stage(x)
            sim.plan_log.write(t0, x.base_plan())

    def step(self, sim: Simulation, t: float) -> float:
        if self.settings.gap_out:
            # one call per detector domain per step, read by _early_end and _skip
            self._gaps = self.reader.gaps()
            self._queues = self.reader.queue_vehicles()
        if t + 1e-9 >= self.next_minute:
            readings = self.reader.last_interval()
            self.estimator.add_minute(
                {
                    d: Minute(r.count, r.occupancy, r.speed, r.jam_length)
                    for d, r in readings.items()
                },
                self.period,
            )
            self.next_minute += self.period
        if t + 1e-9 >= self.next_retime:
            self._retime(t)
            self.next_retime += self.settings.interval
        return t + 1.0

    # -- retiming ---------------------------------------------------------------------
    def _retime(self, t: float) -> None:
        xs = self.sim.intersections
        t0 = time.perf_counter()
        est = self.estimator.estimate()
        current = []
        for x in xs:
            light = self.driver.lights[x.id]
            current.append(light.pending or light.plan)
        outcome = retime_network(xs, est.demand, current, self.links, self.core_settings)
        self.retime_seconds.append(time.perf_counter() - t0)
        self.retimings += 1
        result = outcome.result
        for i, (x, plan) in enumerate(zip(xs, outcome.plans)):
            details: dict[str, object] = {"flags": plan.details.get("flags", [])}
            dos = result.degree_of_saturation[i][: len(x.lane_groups)]
            max_dos = float(np.nanmax(dos)) if dos.size and np.isfinite(dos).any() else 1.0
            details["max_degree_of_saturation"] = round(max_dos, 3)
            if est.fallback[i] or not _finite_plan(plan):
                plan = replace(x.base_plan(), source="fallback")
                details["fallback"] = True
            if est.stale_groups[i]:
                details["stale_groups"] = len(est.stale_groups[i])
            faulty = sum(1 for d in est.faulty if self.det_tls.get(d) == x.id)
            if faulty:
                details["faulty_detectors"] = faulty
            plan = replace(plan, details=details)
            # The heaviest stage (the longest green) carries the green wave: it never gaps out.
            self.coordinated[x.id] = max(range(len(plan.greens)), key=lambda k: plan.greens[k])
            # Light traffic: a fixed cycle buys little; run fully actuated (floating cycle).
            quiet = max_dos < self.settings.isolate_below
            if quiet or x.id in self.unlinked_ids:
                self.floating_ids.add(x.id)
            else:
                self.floating_ids.discard(x.id)
            try:
                self.driver.request(plan)
            except ValueError:
                plan = replace(x.base_plan(), source="fallback")
                self.driver.request(plan)
            if plan.source == "fallback":
                self.fallbacks += 1
                self.fallback_ids.add(x.id)

    def _early_end(self, tls_id: str, stage: int, elapsed: float, t: float) -> bool:
        """Gap-out: no vehicle over the stage's stop-line loops for ``gap`` seconds.

        The coordinated stage of a coordinated signal never gaps out (the green band).
        """
        if stage == self.coordinated.get(tls_id) and tls_id not in self.floating_ids:
            return False
        loops = self.stage_loops[tls_id][stage]
        if not loops:
            return False
        return all(self._gaps.get(d, 0.0) >= self.settings.gap for d in loops)

    def _extend(self, tls_id: str, stage: int, elapsed: float) -> bool:
        """An isolated signal holds a green past its planned end while traffic keeps
        coming (no gap yet), up to ``max_green_factor`` x the planned green."""
        if tls_id not in self.floating_ids:
            return False
        plan = self.driver.lights[tls_id].plan
        if elapsed >= self.settings.max_green_factor * plan.greens[stage]:
            return False
        loops = self.stage_loops[tls_id][stage]
        return bool(loops) and any(self._gaps.get(d, 1e9) < self.settings.gap for d in loops)

    def _skip(self, tls_id: str, stage: int) -> bool:
        """A stage is skipped when nobody waits for it: its queue zones are empty."""
        if stage == self.coordinated.get(tls_id) and tls_id not in self.floating_ids:
            return False
        queues = self.stage_queues[tls_id][stage]
        if not queues:
            return False
        return all(self._queues.get(d, 1) == 0 for d in queues)

    def summary(self) -> dict[str, Any]:
        """Retimings, their network-wide compute time, fallbacks and detector faults."""
        secs = self.retime_seconds
        est = getattr(self, "estimator", None)  # None if the run never got to prepare
        found = est.new_faults if est is not None else {}
        return {
            "retimings": self.retimings,
            "retime_seconds_mean": round(sum(secs) / len(secs), 4) if secs else 0.0,
            "retime_seconds_max": round(max(secs), 4) if secs else 0.0,
            "fallback_plans": self.fallbacks,
            "fallback_intersections": sorted(self.fallback_ids),
            "detector_faults": {k: int(found.get(k, 0)) for k in FAULT_KINDS},
            "faulty_detectors": len(est.ever_faulty) if est is not None else 0,
        }


def _main_stage(x) -> int:
    """Until the first retiming: the stage with the longest base green."""
    return int(max(range(len(x.stages)), key=lambda k: x.stages[k].base_green))


def _finite_plan(plan: Plan) -> bool:
    return math.isfinite(plan.cycle) and all(math.isfinite(g) for g in plan.greens)
