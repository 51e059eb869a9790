"""Read a simulation's detectors the way a roadside system does, through subscriptions.

Only detector values are read (counts, occupancy, speed, queue length): never vehicle ids,
routes or lane-wide simulator state. Per-step values come from subscriptions (one
``getAllSubscriptionResults`` call per detector domain and step, no call per lane);
interval aggregates are read once per interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import traci.constants as tc

from signal_opt.detectors import StepReading


@dataclass(frozen=True)
class Reading:
    """One detector's values over the last completed interval."""

    count: float
    occupancy: float
    """Percent of the interval the detector was occupied (0-100)."""
    speed: float
    """Mean speed m/s, -1 when no vehicle passed."""
    jam_length: float = 0.0
    """Longest queue seen in the interval, metres (queue zones only)."""


class DetectorReader:
    """Subscribes to the detectors of ``specs`` (from :mod:`signal_opt.sumo.detectors`).

    ``per_step`` asks for the instantaneous vehicle count on the queue zones every step
    (max-pressure); ``intervals`` asks for interval aggregates (adaptive retiming);
    ``gaps`` for what actuation needs besides: the time since the last vehicle on each
    stop-line loop (gap-out), the vehicles reaching it, and the vehicles standing on the
    queue zones (:meth:`read_step`).
    """

    def __init__(
        self,
        conn,
        specs: Sequence,
        per_step: bool = False,
        intervals: bool = False,
        gaps: bool = False,
    ):
        self.conn = conn
        self.specs = list(specs)
        self.e1 = [s.id for s in self.specs if s.kind in ("stopline", "advance")]
        self.e2 = [s.id for s in self.specs if s.kind == "queue"]
        self.per_step = per_step
        self.intervals = intervals
        # Subscriptions carry only what is needed every step (SUMO builds their results
        # at each step); interval aggregates are read once per interval, in last_interval.
        if gaps:
            for det in (s.id for s in self.specs if s.kind == "stopline"):
                conn.inductionloop.subscribe(
                    det, (tc.LAST_STEP_TIME_SINCE_DETECTION, tc.VAR_INTERVAL_NUMBER)
                )
        if per_step or gaps:
            zone_vars: tuple[int, ...] = (tc.LAST_STEP_VEHICLE_NUMBER,)
            if gaps:
                zone_vars += (tc.LAST_STEP_VEHICLE_HALTING_NUMBER,)
            for det in self.e2:
                conn.lanearea.subscribe(det, zone_vars)
        self._counted: dict[str, int] = {}
        """Vehicles each stop-line loop had counted in its current interval, last step."""
        self._counted_arr: np.ndarray | None = None
        """The same for :meth:`read_arrays`, (M,)."""

    def queue_vehicles(self) -> dict[str, int]:
        """Vehicles now on each queue zone, by detector id (needs ``per_step``)."""
        res = self.conn.lanearea.getAllSubscriptionResults()
        return {d: int(v.get(tc.LAST_STEP_VEHICLE_NUMBER, 0)) for d, v in res.items()}

    def queue_counts(self, zone_ids: Sequence[str]) -> np.ndarray:
        """Vehicles now on each queue zone (Z,), in the order of ``zone_ids`` (needs
        ``per_step``)."""
        res = self.conn.lanearea.getAllSubscriptionResults()
        number = tc.LAST_STEP_VEHICLE_NUMBER
        return np.array([v[number] for v in map(res.__getitem__, zone_ids)], float)

    def read_step(self) -> StepReading:
        """Every per-step value, one subscription read per detector kind (needs ``gaps``).

        Passages come from the count of each loop's current period, which restarts with
        every period. A vehicle counts when it reaches the loop (SUMO's interval count
        takes it when it leaves), so the totals differ at most by a vehicle standing on
        the loop.
        """
        number, standing = tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_VEHICLE_HALTING_NUMBER
        gap, counted = tc.LAST_STEP_TIME_SINCE_DETECTION, tc.VAR_INTERVAL_NUMBER
        step = StepReading({}, {}, {}, {})
        for d, v in self.conn.lanearea.getAllSubscriptionResults().items():
            step.counts[d] = v[number]
            step.halting[d] = v[standing]
        last = self._counted
        for d, v in self.conn.inductionloop.getAllSubscriptionResults().items():
            step.gaps[d] = v[gap]
            now, before = v[counted], last.get(d, 0)
            step.passed[d] = now - before if now >= before else now
            last[d] = now
        return step

    def read_arrays(
        self, zone_ids: Sequence[str], loop_ids: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`read_step` as arrays in the order of ``zone_ids`` (Z,) and ``loop_ids``
        (M,): ``(counts (Z,), halting (Z,), gaps (M,), passed (M,))``, one subscription
        read per detector kind (needs ``gaps``)."""
        number, standing = tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_VEHICLE_HALTING_NUMBER
        gap, counted = tc.LAST_STEP_TIME_SINCE_DETECTION, tc.VAR_INTERVAL_NUMBER
        zones = self.conn.lanearea.getAllSubscriptionResults()
        z = np.array([(v[number], v[standing]) for v in map(zones.__getitem__, zone_ids)], float)
        loops = self.conn.inductionloop.getAllSubscriptionResults()
        m = np.array([(v[gap], v[counted]) for v in map(loops.__getitem__, loop_ids)], float)
        z = z.reshape(len(zone_ids), 2)  # (Z, 2)
        m = m.reshape(len(loop_ids), 2)  # (M, 2)
        now = m[:, 1]  # (M,) vehicles counted in each loop's current period
        last = self._counted_arr if self._counted_arr is not None else np.zeros(len(loop_ids))
        passed = np.where(now >= last, now - last, now)  # the period restarted: all new
        self._counted_arr = now
        return z[:, 0], z[:, 1], m[:, 0], passed

    def last_interval(self) -> dict[str, Reading]:
        """Every detector's last completed interval, by detector id (needs ``intervals``)."""
        if not self.intervals:
            return {}
        e1, e2 = self.conn.inductionloop, self.conn.lanearea
        out: dict[str, Reading] = {}
        for det in self.e1:
            out[det] = Reading(
                float(e1.getLastIntervalVehicleNumber(det)),
                _occupancy(e1.getLastIntervalOccupancy(det)),
                float(e1.getLastIntervalMeanSpeed(det)),
            )
        for det in self.e2:
            out[det] = Reading(
                float(e2.getLastIntervalVehicleNumber(det)),
                _occupancy(e2.getLastIntervalOccupancy(det)),
                float(e2.getLastIntervalMeanSpeed(det)),
                float(e2.getLastIntervalMaxJamLengthInMeters(det)),
            )
        return out


def _occupancy(value: float) -> float:
    """SUMO's interval occupancy of an induction loop can come out slightly negative when a
    vehicle straddles the interval boundary; a real loop reports 0 there."""
    return min(max(float(value), 0.0), 100.0)


def served_lane(spec) -> str:
    """The signal's incoming lane a detector reports on (an advance loop may sit upstream)."""
    return getattr(spec, "incoming_lane", "") or spec.lane
