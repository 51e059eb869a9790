"""Read a simulation's detectors the way a roadside system does, through subscriptions.

Only detector values are read (counts, occupancy, speed, queue length): never vehicle ids,
routes or lane-wide simulator state. Per-step values come from subscriptions (one
``getAllSubscriptionResults`` call per detector domain and step, no call per lane);
interval aggregates are read once per interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import traci.constants as tc


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
    ``gaps`` for the time since the last vehicle on each stop-line loop (gap-out) and the
    vehicles that crossed it.
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
        self._counted: dict[str, int] = {}
        """Vehicles each stop-line loop had counted in its current interval, last step."""
        if per_step:
            for det in self.e2:
                conn.lanearea.subscribe(
                    det, (tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_VEHICLE_HALTING_NUMBER)
                )

    def queue_vehicles(self) -> dict[str, int]:
        """Vehicles now on each queue zone, by detector id (needs ``per_step``)."""
        res = self.conn.lanearea.getAllSubscriptionResults()
        return {d: int(v.get(tc.LAST_STEP_VEHICLE_NUMBER, 0)) for d, v in res.items()}

    def queue_halting(self) -> dict[str, int]:
        """Vehicles now standing on each queue zone, by detector id (needs ``per_step``)."""
        res = self.conn.lanearea.getAllSubscriptionResults()
        key = tc.LAST_STEP_VEHICLE_HALTING_NUMBER
        return {d: int(v.get(key, 0)) for d, v in res.items()}

    def gaps(self) -> dict[str, float]:
        """Seconds since a vehicle last left each stop-line loop (needs ``gaps``)."""
        res = self.conn.inductionloop.getAllSubscriptionResults()
        key = tc.LAST_STEP_TIME_SINCE_DETECTION
        return {d: float(v[key]) for d, v in res.items() if key in v}

    def passed(self) -> dict[str, int]:
        """Vehicles that reached each stop-line loop since the last call (needs ``gaps``).

        From the count of the loop's current period, which restarts with every period.
        A vehicle counts when it reaches the loop (SUMO's interval count takes it when
        it leaves), so the two totals differ at most by a vehicle standing on the loop.
        """
        res = self.conn.inductionloop.getAllSubscriptionResults()
        out: dict[str, int] = {}
        for d, v in res.items():
            if tc.VAR_INTERVAL_NUMBER not in v:
                continue
            now = int(v[tc.VAR_INTERVAL_NUMBER])
            before = self._counted.get(d, 0)
            out[d] = now - before if now >= before else now
            self._counted[d] = now
        return out

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
