"""From raw detector readings to validated demand per lane group.

A roadside system sees, per incoming lane, a stop-line loop (vehicles served), an
advance loop upstream (vehicles arriving) and a queue zone between them (occupancy and
queue length). This module turns one-minute readings of those into demand (veh/h) per
lane group, and decides which detectors to trust.

Demand is not what the stop line counted: a stop line can never count more than the
lane's capacity. So per lane::

    arrivals  = advance count (or stop-line count when there is no advance loop)
    queued    = vehicles standing in the queue zone at the end of the period
    demand    = arrivals + growth of the queue over the period
    if the queue reaches the advance loop (spill-back: the advance loop is occupied most
    of the time), arrivals are themselves capped, and the unserved queue is added:
    demand   += queued / period

Estimates are smoothed across retiming periods (exponential, ``alpha``) so one noisy
period does not swing the plan.

Faults (per detector, from its own minute readings):

- *stuck on*: occupied >= 95 % with no vehicle counted for ``stuck_minutes``;
- *stuck off*: nothing at all for at least ``silent_minutes`` while the other loop on
  the same lane counted ``silent_vehicles`` vehicles (a queue served in bursts gives a
  busy minute only now and then, so the evidence is vehicles, not busy minutes; loops on
  an upstream lane are not compared);
- *chattering*: more vehicles per minute than a lane can carry;
- *missing*: no reading, or NaN or negative values.

A detector that misses an interval is left out until it reports again; one found stuck
or chattering is excluded until it has read plausibly for ``recover_minutes``. A lane
group without a usable detector keeps its last good demand, and an intersection with a
group that never had one falls back to its base plan.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from signal_opt.model import Intersection

VEHICLE_SPACING_M = 7.5
"""Queue length per stopped vehicle (car length + gap), to turn metres into vehicles."""


@dataclass(frozen=True)
class StepReading:
    """What the detectors show after one step, by detector id."""

    counts: dict[str, int]
    """Vehicles now on each queue zone."""
    halting: dict[str, int]
    """Vehicles now standing on each queue zone."""
    gaps: dict[str, float]
    """Seconds since a vehicle last left each stop-line loop."""
    passed: dict[str, int]
    """Vehicles that reached each stop-line loop during the step."""


@dataclass(frozen=True)
class DetectorInfo:
    """What the estimator needs to know of a detector (mirrors ``DetectorSpec``)."""

    id: str
    kind: str  # "stopline" | "advance" | "queue"
    lane: str
    length: float = 0.0
    upstream: bool = False
    """The loop sits on a lane feeding ``lane`` (a short lane's advance loop): vehicles of
    ``lane`` may pass it on another lane, so it is not compared with ``lane``'s loops."""


@dataclass(frozen=True)
class Minute:
    """One detector's reading over one interval (normally a minute)."""

    count: float
    occupancy: float
    """Percent of time occupied, 0-100."""
    speed: float = -1.0
    jam_length: float = 0.0


@dataclass(frozen=True)
class EstimatorSettings:
    alpha: float = 0.6
    """Weight of the newest period in the smoothed demand."""
    spillback_occupancy: float = 40.0
    stuck_minutes: int = 5
    silent_minutes: int = 10
    silent_vehicles: int = 60
    recover_minutes: int = 10
    max_lane_veh_per_min: float = 40.0


@dataclass
class _Health:
    faulty: str | None = None
    stuck_run: int = 0
    silent_run: int = 0
    silent_seen: float = 0.0
    """Vehicles the lane's other loops counted while this one was silent."""
    good_run: int = 0


@dataclass
class DemandEstimate:
    """Demand per intersection (group id -> veh/h), with what was trusted and what wasn't."""

    demand: list[dict[str, float]]
    fallback: list[bool]
    """True where the intersection should run its base plan (no usable data at all)."""
    faulty: dict[str, str]
    """Detector id -> fault kind, for every detector now excluded."""
    stale_groups: list[list[str]] = field(default_factory=list)
    """Per intersection, groups whose demand is the last good value (no usable detector)."""


FAULT_KINDS = ("stuck_on", "stuck_off", "chattering", "missing")


class DemandEstimator:
    """Accumulates minute readings; :meth:`estimate` closes a retiming period."""

    def __init__(
        self,
        intersections: Sequence[Intersection],
        detectors: Sequence[DetectorInfo],
        settings: EstimatorSettings | None = None,
    ) -> None:
        self.intersections = list(intersections)
        self.settings = settings or EstimatorSettings()
        self.by_lane: dict[str, dict[str, DetectorInfo]] = defaultdict(dict)
        for d in detectors:
            self.by_lane[d.lane][d.kind] = d
        self.health: dict[str, _Health] = {d.id: _Health() for d in detectors}
        self.new_faults: dict[str, int] = defaultdict(int)
        """Faults detected so far (each time a detector turns faulty), by kind."""
        self.ever_faulty: set[str] = set()
        """Every detector found faulty at least once."""
        self._sums: dict[str, float] = defaultdict(float)
        self._minutes: dict[str, int] = defaultdict(int)
        self._occ: dict[str, float] = defaultdict(float)
        self._jam_start: dict[str, float] = {}
        self._jam_last: dict[str, float] = {}
        self._seconds = 0.0
        self._smoothed: list[dict[str, float]] = [{} for _ in self.intersections]
        self._ever_good: list[set[str]] = [set() for _ in self.intersections]

    # -- minute by minute ---------------------------------------------------------------
    def add_minute(self, readings: Mapping[str, Minute | None], seconds: float = 60.0) -> None:
        """Take one interval of readings (``None`` or absent = missing)."""
        s = self.settings
        self._seconds += seconds
        for det_id, health in self.health.items():
            r = readings.get(det_id)
            if r is None or not _plausible(r):
                self._mark(det_id, health, "missing")
                continue
            kind = None
            if r.count > s.max_lane_veh_per_min * seconds / 60.0:
                kind = "chattering"
            if r.occupancy >= 95.0 and r.count <= 0:
                health.stuck_run += 1
                if health.stuck_run >= s.stuck_minutes:
                    kind = "stuck_on"
            else:
                health.stuck_run = 0
            if kind is not None:
                self._mark(det_id, health, kind)
                continue
            self._accept(det_id, health, r)
        # Stuck off: silent while the other loop of the same lane counts vehicles.
        for dets in self.by_lane.values():
            loops = [d for k, d in dets.items() if k in ("stopline", "advance") and not d.upstream]
            for d in loops:
                r = readings.get(d.id)
                h = self.health[d.id]
                if r is None or not _plausible(r):
                    continue
                if r.count > 0 or r.occupancy > 0:
                    h.silent_run, h.silent_seen = 0, 0.0
                    continue
                h.silent_run += 1
                for o in loops:
                    other = readings.get(o.id)
                    if o.id != d.id and other is not None and _plausible(other):
                        h.silent_seen += other.count
                if h.silent_run >= s.silent_minutes and h.silent_seen >= s.silent_vehicles:
                    self._mark(d.id, h, "stuck_off")

    def faulty_now(self) -> set[str]:
        """Detectors excluded right now (found faulty and not yet recovered)."""
        return {d for d, h in self.health.items() if h.faulty is not None}

    def _mark(self, det_id: str, health: _Health, kind: str) -> None:
        if kind == "missing" and health.faulty not in (None, "missing"):
            return  # a silent minute says nothing about a detector already found faulty
        if health.faulty is None:
            self.new_faults[kind] += 1
            self.ever_faulty.add(det_id)
        health.faulty = kind
        health.good_run = 0

    def _accept(self, det_id: str, health: _Health, r: Minute) -> None:
        if health.faulty == "missing":
            health.faulty = None  # a dropped interval: trusted again as soon as it reports
        if health.faulty is not None:
            health.good_run += 1
            if health.good_run < self.settings.recover_minutes:
                return
            health.faulty = None
        self._sums[det_id] += r.count
        self._occ[det_id] += r.occupancy
        self._minutes[det_id] += 1
        jam = max(r.jam_length, 0.0)
        self._jam_start.setdefault(det_id, jam)
        self._jam_last[det_id] = jam

    # -- per retiming period --------------------------------------------------------------
    def _usable(self, det: DetectorInfo | None) -> bool:
        return det is not None and self.health[det.id].faulty is None and self._minutes[det.id] > 0

    def _lane_demand(self, lane: str, period: float) -> float | None:
        dets = self.by_lane.get(lane, {})
        adv, stop, queue = dets.get("advance"), dets.get("stopline"), dets.get("queue")
        rate = lambda d: self._sums[d.id] / (self._minutes[d.id] * 60.0) * 3600.0  # noqa: E731
        arrivals = None
        spill = False
        if self._usable(adv):
            assert adv is not None
            arrivals = rate(adv)
            spill = self._occ[adv.id] / self._minutes[adv.id] >= self.settings.spillback_occupancy
        if self._usable(stop):
            assert stop is not None
            served = rate(stop)
            arrivals = served if arrivals is None else max(arrivals, served)
        if arrivals is None:
            return None
        if self._usable(queue):
            assert queue is not None
            q_end = self._jam_last.get(queue.id, 0.0) / VEHICLE_SPACING_M
            q_start = self._jam_start.get(queue.id, 0.0) / VEHICLE_SPACING_M
            growth = max(q_end - q_start, 0.0) / period * 3600.0
            arrivals += growth
            if spill:
                arrivals += q_end / period * 3600.0
        elif spill:
            arrivals *= 1.25  # queue beyond the advance loop and no queue zone: lean high
        return arrivals

    def estimate(self) -> DemandEstimate:
        """Close the period: demand per group, smoothed; reset the accumulators."""
        period = max(self._seconds, 1.0)
        a = self.settings.alpha
        demands, fallback, stale = [], [], []
        for i, x in enumerate(self.intersections):
            lane_cache: dict[str, float | None] = {}
            out: dict[str, float] = {}
            stale_i = []
            missing_forever = False
            for g in x.lane_groups:
                total = 0.0
                known = True
                for lane, share in zip(g.lanes, g.lane_shares):
                    if lane not in lane_cache:
                        lane_cache[lane] = self._lane_demand(lane, period)
                    v = lane_cache[lane]
                    if v is None:
                        known = False
                        break
                    total += v * share
                prev = self._smoothed[i].get(g.id)
                if known and math.isfinite(total):
                    value = total if prev is None else a * total + (1 - a) * prev
                    self._ever_good[i].add(g.id)
                    out[g.id] = value
                elif prev is not None:
                    out[g.id] = prev
                    stale_i.append(g.id)
                else:
                    missing_forever = True
                    stale_i.append(g.id)
            self._smoothed[i] = dict(out)
            demands.append(out)
            fallback.append(missing_forever)
            stale.append(stale_i)
        faulty = {d: h.faulty for d, h in self.health.items() if h.faulty is not None}
        self._sums.clear()
        self._minutes.clear()
        self._occ.clear()
        self._jam_start = dict(self._jam_last)
        self._seconds = 0.0
        return DemandEstimate(demands, fallback, faulty, stale)


def _plausible(r: Minute) -> bool:
    vals = (r.count, r.occupancy, r.jam_length)
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in vals) and (
        r.occupancy <= 100.0 + 1e-6
    )
