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
    and where the link is entered from an upstream signal through exit zones, arrivals
    are at least what entered the link (flow conservation: what enters joins the back of
    the queue, however far beyond the advance loop it stands), shared among the link's
    lanes as their stop lines served it:
    arrivals  = max(arrivals, entered x lane's share of the link's stop-line count)
    (a zone counts every vehicle it saw in a minute, those already on it when the minute
    began too; those, the zone's mean occupancy in vehicles, are taken off to leave what
    entered)

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

Lanes no detector watches at all (bicycle and tram lanes: a roadside system's loops and
zones count road vehicles) are not part of any estimate: a group's demand is that of its
watched lanes, and a group with none gets no demand of its own (its stage keeps at least
its minimum green). Only an intersection none of whose lanes is watched falls back to
its base plan for that reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from signal_opt.model import Intersection

VEHICLE_SPACING_M = 7.5
"""Queue length per stopped vehicle (car length + gap), to turn metres into vehicles."""
VEHICLE_LENGTH_M = 5.0
"""Length of a car, to turn a zone's occupancy into the vehicles on it."""


def zone_vehicles(occupancy: np.ndarray, length_m: np.ndarray) -> np.ndarray:
    """Vehicles on zones on average (any shape) from their percent of time occupied
    (occupancy counts the vehicles' own length, so one car per :data:`VEHICLE_LENGTH_M`)."""
    return occupancy / 100.0 * length_m / VEHICLE_LENGTH_M


def zone_capacity(length_m: float) -> float:
    """Vehicles a lane-area zone of ``length_m`` metres holds standing (at least one)."""
    return max(length_m / VEHICLE_SPACING_M, 1.0)


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
    kind: str  # "stopline" | "advance" | "queue" | "exit"
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
class DemandEstimate:
    """Demand per intersection (group id -> veh/h), with what was trusted and what wasn't."""

    demand: list[dict[str, float]]
    fallback: list[bool]
    """True where the intersection should run its base plan (no usable data at all)."""
    faulty: dict[str, str]
    """Detector id -> fault kind, for every detector now excluded."""
    stale_groups: list[list[str]] = field(default_factory=list)
    """Per intersection, groups whose demand is the last good value (no usable detector)."""
    arrivals: list[dict[str, float]] = field(default_factory=list)
    """Per intersection, each group's arrivals over the period (veh/h, not smoothed): what
    joined the back of its queues; ``demand`` adds the queue to clear. Groups without a
    usable loop this period are left out."""


FAULT_KINDS = ("stuck_on", "stuck_off", "chattering", "missing")
_NONE = 0
"""Fault code of a trusted detector; kind ``FAULT_KINDS[k]`` has code ``k + 1``."""
_CODE = {kind: k + 1 for k, kind in enumerate(FAULT_KINDS)}


class DemandEstimator:
    """Accumulates minute readings; :meth:`estimate` closes a retiming period.

    Detectors are numbered in the order given (``ids`` (D,)); every per-detector value is
    an array over them, and a minute of readings is taken as arrays
    (:meth:`add_arrays`) or by detector id (:meth:`add_minute`).
    """

    def __init__(
        self,
        intersections: Sequence[Intersection],
        detectors: Sequence[DetectorInfo],
        settings: EstimatorSettings | None = None,
        entries: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``entries`` maps an incoming lane to the exit zones where its link is entered
        (lanes with the same entries share a link); lanes left out have no such count."""
        self.intersections = list(intersections)
        self.settings = settings or EstimatorSettings()
        self.ids = tuple(d.id for d in detectors)
        """Detector ids (D,), the order of every array here."""
        self.row = {det_id: i for i, det_id in enumerate(self.ids)}
        self.by_lane: dict[str, dict[str, DetectorInfo]] = defaultdict(dict)
        for d in detectors:
            self.by_lane[d.lane][d.kind] = d
        n = len(self.ids)
        # stuck off compares a loop with the other loop of its lane (-1: none)
        self._compared = np.zeros(n, bool)  # (D,)
        self._partner = np.full(n, -1, dtype=np.int64)  # (D,)
        for dets in self.by_lane.values():
            loops = [
                self.row[d.id]
                for k, d in dets.items()
                if k in ("stopline", "advance") and not d.upstream
            ]
            self._compared[loops] = True
            if len(loops) == 2:
                self._partner[loops[0]], self._partner[loops[1]] = loops[1], loops[0]
        self.fault = np.zeros(n, dtype=np.int8)  # (D,) _NONE or a fault code
        self._stuck_run = np.zeros(n, dtype=np.int64)  # (D,)
        self._silent_run = np.zeros(n, dtype=np.int64)  # (D,)
        self._silent_seen = np.zeros(n)  # (D,) vehicles the other loop counted meanwhile
        self._good_run = np.zeros(n, dtype=np.int64)  # (D,)
        self._ever_faulty = np.zeros(n, bool)  # (D,)
        self.new_faults: dict[str, int] = defaultdict(int)
        """Faults detected so far (each time a detector turns faulty), by kind."""
        self._sums = np.zeros(n)  # (D,) vehicles counted this period
        self._occ = np.zeros(n)  # (D,) sum of minute occupancies this period
        self._minutes = np.zeros(n, dtype=np.int64)  # (D,) minutes accepted this period
        self._jam_start = np.full(n, np.nan)  # (D,) queue at the period's start, m
        self._jam_last = np.full(n, np.nan)  # (D,) last queue seen, m
        self._seconds = 0.0
        self._smoothed: list[dict[str, float]] = [{} for _ in self.intersections]
        self._lanes = tuple(self.by_lane)
        """Lanes with detectors (NL,)."""
        self._lane_rows = np.array(
            [
                [self.row[dets[k].id] if k in dets else n for dets in self.by_lane.values()]
                for k in ("advance", "stopline", "queue")
            ],
            dtype=np.int64,
        ).reshape(3, len(self._lanes))
        """(3, NL) each lane's advance loop, stop-line loop and queue zone (D: none)."""
        self._watched = frozenset(
            ln for ln, rows in zip(self._lanes, self._lane_rows.T) if (rows < n).any()
        )
        """Lanes with a loop or queue zone of their own (a lane with only an exit zone, or
        none, is not watched)."""
        links = sorted({tuple(v) for v in (entries or {}).values() if v})
        link_index = {k: i for i, k in enumerate(links)}
        self._lane_link = np.array(
            [link_index.get(tuple((entries or {}).get(ln, ())), -1) for ln in self._lanes],
            dtype=np.int64,
        )
        """(NL,) the link each lane is on (-1: its entry is not seen)."""
        width = max((len(k) for k in links), default=1)
        self._link_rows = np.full((len(links), width), n, dtype=np.int64)
        """(K, X) the exit zones where each link is entered (D: padding)."""
        self._length = np.array([d.length for d in detectors] + [0.0])
        """(D + 1,) each zone's length, m (0 for loops and the padding)."""
        for i, k in enumerate(links):
            self._link_rows[i, : len(k)] = [self.row.get(d, n) for d in k]

    @property
    def ever_faulty(self) -> set[str]:
        """Every detector found faulty at least once."""
        return {self.ids[i] for i in np.flatnonzero(self._ever_faulty)}

    def fault_of(self, det_id: str) -> str | None:
        """The fault detector ``det_id`` is excluded for now (None: trusted)."""
        code = int(self.fault[self.row[det_id]])
        return None if code == _NONE else FAULT_KINDS[code - 1]

    def faulty_now(self) -> set[str]:
        """Detectors excluded right now (found faulty and not yet recovered)."""
        return {self.ids[i] for i in np.flatnonzero(self.fault != _NONE)}

    # -- minute by minute ---------------------------------------------------------------
    def add_minute(self, readings: Mapping[str, Minute | None], seconds: float = 60.0) -> None:
        """Take one interval of readings by detector id (``None`` or absent = missing)."""
        values = np.full((3, len(self.ids)), np.nan)  # (3, D)
        for det_id, r in readings.items():
            i = self.row.get(det_id)
            if i is not None and r is not None:
                values[:, i] = [_number(r.count), _number(r.occupancy), _number(r.jam_length)]
        self.add_arrays(values[0], values[1], values[2], seconds)

    def add_arrays(
        self, count: np.ndarray, occupancy: np.ndarray, jam_length: np.ndarray, seconds: float
    ) -> None:
        """Take one interval of readings: vehicles counted (D,), percent of the time
        occupied (D,) and longest queue, m (D,) (0 for loops); NaN where missing."""
        s = self.settings
        self._seconds += seconds
        with np.errstate(invalid="ignore"):
            ok = (
                np.isfinite(count)
                & np.isfinite(occupancy)
                & np.isfinite(jam_length)
                & (count >= 0)
                & (occupancy >= 0)
                & (jam_length >= 0)
                & (occupancy <= 100.0 + 1e-6)
            )  # (D,) plausible
        count = np.where(ok, count, 0.0)
        occupancy = np.where(ok, occupancy, 0.0)
        jam_length = np.where(ok, jam_length, 0.0)
        stuck_now = ok & (occupancy >= 95.0) & (count <= 0)  # (D,)
        self._stuck_run = np.where(stuck_now, self._stuck_run + 1, np.where(ok, 0, self._stuck_run))
        chattering = ok & (count > s.max_lane_veh_per_min * seconds / 60.0)  # (D,)
        stuck_on = stuck_now & (self._stuck_run >= s.stuck_minutes)  # (D,)
        # a silent minute says nothing about a detector already found faulty otherwise
        self._mark(~ok & np.isin(self.fault, (_NONE, _CODE["missing"])), "missing")
        self._mark(chattering, "chattering")
        self._mark(stuck_on, "stuck_on")
        self._accept(ok & ~chattering & ~stuck_on, count, occupancy, jam_length)
        # Stuck off: silent while the other loop of the same lane counts vehicles.
        looked = ok & self._compared  # (D,)
        silent = looked & (count <= 0) & (occupancy <= 0)  # (D,)
        self._silent_run = np.where(
            silent, self._silent_run + 1, np.where(looked, 0, self._silent_run)
        )
        partner = self._partner  # (D,)
        other = np.where(
            (partner >= 0) & ok[partner], count[partner], 0.0
        )  # (D,) the other loop's count (0 if none or not plausible)
        self._silent_seen = np.where(
            silent, self._silent_seen + other, np.where(looked, 0.0, self._silent_seen)
        )
        self._mark(
            silent
            & (self._silent_run >= s.silent_minutes)
            & (self._silent_seen >= s.silent_vehicles),
            "stuck_off",
        )

    def _mark(self, rows: np.ndarray, kind: str) -> None:
        """Detectors ``rows`` (D,) bool are faulty with ``kind``."""
        new = rows & (self.fault == _NONE)  # (D,)
        if new.any():
            self.new_faults[kind] += int(new.sum())
            self._ever_faulty |= new
        self.fault[rows] = _CODE[kind]
        self._good_run[rows] = 0

    def _accept(
        self, rows: np.ndarray, count: np.ndarray, occupancy: np.ndarray, jam_length: np.ndarray
    ) -> None:
        """Plausible readings of detectors ``rows`` (D,) bool: a dropped interval is
        trusted again at once, a detector found faulty after ``recover_minutes`` plausible
        minutes; trusted ones are accumulated."""
        self.fault[rows & (self.fault == _CODE["missing"])] = _NONE
        recovering = rows & (self.fault != _NONE)  # (D,)
        self._good_run[recovering] += 1
        self.fault[recovering & (self._good_run >= self.settings.recover_minutes)] = _NONE
        take = rows & (self.fault == _NONE)  # (D,)
        self._sums[take] += count[take]
        self._occ[take] += occupancy[take]
        self._minutes[take] += 1
        first = take & np.isnan(self._jam_start)
        self._jam_start[first] = jam_length[first]
        self._jam_last[take] = jam_length[take]

    # -- per retiming period --------------------------------------------------------------
    def _lane_demands(self, period: float) -> dict[str, tuple[float, float] | None]:
        """Each lane's demand and arrivals over the period (veh/h each; None: no usable
        loop), by the rules in the module's docstring, for every lane at once."""
        lanes = self._lanes
        adv, stop, queue = self._lane_rows  # (NL,) each, -1 for none
        minutes = np.maximum(self._minutes, 1)  # (D,)
        usable = np.append((self.fault == _NONE) & (self._minutes > 0), False)  # (D + 1,)
        rate = np.append(self._sums / (minutes * 60.0) * 3600.0, 0.0)  # (D + 1,) veh/h
        occ = np.append(self._occ / minutes, 0.0)  # (D + 1,) mean occupancy, %
        q_end = np.append(np.nan_to_num(self._jam_last), 0.0) / VEHICLE_SPACING_M  # (D + 1,)
        q_start = np.append(np.nan_to_num(self._jam_start), 0.0) / VEHICLE_SPACING_M
        has_adv, has_stop, has_queue = usable[adv], usable[stop], usable[queue]  # (NL,) each
        arrivals = np.maximum(
            np.where(has_adv, rate[adv], -np.inf), np.where(has_stop, rate[stop], -np.inf)
        )  # (NL,)
        spill = has_adv & (occ[adv] >= self.settings.spillback_occupancy)  # (NL,)
        arrivals = np.maximum(arrivals, self._entered(rate, occ, usable, stop, spill))
        growth = np.maximum(q_end[queue] - q_start[queue], 0.0) / period * 3600.0  # (NL,)
        unserved = np.where(spill, q_end[queue] / period * 3600.0, 0.0)  # (NL,)
        demand = np.where(
            has_queue,
            arrivals + growth + unserved,
            np.where(spill, arrivals * 1.25, arrivals),  # queue beyond the loop: lean high
        )  # (NL,)
        known = has_adv | has_stop  # (NL,)
        return {
            lane: ((float(v), float(a)) if ok else None)
            for lane, v, a, ok in zip(lanes, demand.tolist(), arrivals.tolist(), known.tolist())
        }

    def _entered(
        self,
        rate: np.ndarray,
        occ: np.ndarray,
        usable: np.ndarray,
        stop: np.ndarray,
        spill: np.ndarray,
    ) -> np.ndarray:
        """Each lane's share of what entered its link (NL,) veh/h, where the link's queue
        spilled past an advance loop of it and every entry zone and stop-line loop of it
        is usable; -inf elsewhere. ``rate`` (veh/h), ``occ`` (%) and ``usable`` (D + 1,)
        are per detector, ``stop`` (NL,) the lanes' stop-line rows, ``spill`` (NL,) the
        lanes spilling."""
        link = self._lane_link  # (NL,)
        out = np.full(len(link), -np.inf)
        k = len(self._link_rows)
        on = np.flatnonzero(link >= 0)  # (NO,) lanes on a seen link
        if not k or not on.size:
            return out
        rows = self._link_rows  # (K, X)
        pad = rows == len(self.ids)
        # a zone saw what entered it and what stood on it when the minute began
        on_zone = zone_vehicles(occ[rows], self._length[rows]) * 60.0  # (K, X) veh/h
        entered = np.where(pad, 0.0, np.maximum(rate[rows] - on_zone, 0.0)).sum(axis=1)
        seen = np.all(pad | usable[rows], axis=1)  # (K,)
        served = np.bincount(link[on], weights=rate[stop[on]], minlength=k)  # (K,)
        lanes = np.bincount(link[on], minlength=k)  # (K,)
        stop_ok = np.bincount(link[on], weights=~usable[stop[on]], minlength=k) == 0  # (K,)
        spilled = np.bincount(link[on], weights=spill[on], minlength=k) > 0  # (K,)
        total = served[link[on]]  # (NO,)
        share = np.where(
            total > 0, rate[stop[on]] / np.where(total > 0, total, 1.0), 1.0 / lanes[link[on]]
        )
        ok = (seen & stop_ok & spilled)[link[on]]  # (NO,)
        out[on] = np.where(ok, entered[link[on]] * share, -np.inf)
        return out

    def estimate(self) -> DemandEstimate:
        """Close the period: demand per group, smoothed; reset the accumulators."""
        period = max(self._seconds, 1.0)
        a = self.settings.alpha
        demands, fallback, stale, arrived = [], [], [], []
        lanes = self._lane_demands(period)
        for i, x in enumerate(self.intersections):
            out: dict[str, float] = {}
            came: dict[str, float] = {}
            stale_i = []
            missing_forever = False
            watched_any = False
            for g in x.lane_groups:
                total = 0.0
                arrivals = 0.0
                known = True
                if self._watched.isdisjoint(g.lanes):
                    continue  # nobody counts this group's road users: no estimate
                watched_any = True
                for lane, share in zip(g.lanes, g.lane_shares):
                    if lane not in self._watched:
                        continue
                    v = lanes.get(lane)
                    if v is None:
                        known = False
                        break
                    total += v[0] * share
                    arrivals += v[1] * share
                prev = self._smoothed[i].get(g.id)
                if known and math.isfinite(total):
                    value = total if prev is None else a * total + (1 - a) * prev
                    out[g.id] = value
                    came[g.id] = arrivals
                elif prev is not None:
                    out[g.id] = prev
                    stale_i.append(g.id)
                else:
                    missing_forever = True
                    stale_i.append(g.id)
            self._smoothed[i] = dict(out)
            demands.append(out)
            arrived.append(came)
            fallback.append(missing_forever or not watched_any)
            stale.append(stale_i)
        faulty = {self.ids[i]: FAULT_KINDS[self.fault[i] - 1] for i in np.flatnonzero(self.fault)}
        self._sums[:] = 0.0
        self._minutes[:] = 0
        self._occ[:] = 0.0
        self._jam_start = self._jam_last.copy()
        self._seconds = 0.0
        return DemandEstimate(demands, fallback, faulty, stale, arrived)


def _number(v: object) -> float:
    """A reading's value as a float; NaN (missing) for anything that is not a number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)
