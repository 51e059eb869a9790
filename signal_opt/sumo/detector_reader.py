"""Read a simulation's detectors the way a roadside system does, through subscriptions.

Only detector values are read (counts, occupancy, speed, queue length): never vehicle ids,
routes or lane-wide simulator state. One ``getAllSubscriptionResults`` call per detector
domain returns every detector's values; there is no call per lane per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import traci.constants as tc

E1_INTERVAL_VARS = (
    tc.VAR_LAST_INTERVAL_NUMBER,
    tc.VAR_LAST_INTERVAL_OCCUPANCY,
    tc.VAR_LAST_INTERVAL_SPEED,
)
E2_INTERVAL_VARS = (
    tc.VAR_LAST_INTERVAL_NUMBER,
    tc.VAR_LAST_INTERVAL_OCCUPANCY,
    tc.VAR_LAST_INTERVAL_SPEED,
    tc.VAR_LAST_INTERVAL_MAX_JAM_LENGTH_METERS,
)


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
    ``gaps`` for the time since the last vehicle on each stop-line loop (gap-out).
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
        e1_vars: tuple[int, ...] = E1_INTERVAL_VARS if intervals else ()
        e2_vars: tuple[int, ...] = E2_INTERVAL_VARS if intervals else ()
        if per_step:
            e2_vars = (*e2_vars, tc.LAST_STEP_VEHICLE_NUMBER)
        stop_lines = {s.id for s in self.specs if s.kind == "stopline"}
        for det in self.e1:
            wanted = (
                (*e1_vars, tc.LAST_STEP_TIME_SINCE_DETECTION)
                if gaps and det in stop_lines
                else e1_vars
            )
            if wanted:
                conn.inductionloop.subscribe(det, wanted)
        for det in self.e2 if e2_vars else ():
            conn.lanearea.subscribe(det, e2_vars)

    def queue_vehicles(self) -> dict[str, int]:
        """Vehicles now on each queue zone, by detector id (needs ``per_step``)."""
        res = self.conn.lanearea.getAllSubscriptionResults()
        return {d: int(v.get(tc.LAST_STEP_VEHICLE_NUMBER, 0)) for d, v in res.items()}

    def gaps(self) -> dict[str, float]:
        """Seconds since a vehicle last left each stop-line loop (needs ``gaps``)."""
        res = self.conn.inductionloop.getAllSubscriptionResults()
        key = tc.LAST_STEP_TIME_SINCE_DETECTION
        return {d: float(v[key]) for d, v in res.items() if key in v}

    def last_interval(self) -> dict[str, Reading]:
        """Every detector's last completed interval, by detector id (needs ``intervals``)."""
        out: dict[str, Reading] = {}
        for det, v in self.conn.inductionloop.getAllSubscriptionResults().items():
            if tc.VAR_LAST_INTERVAL_NUMBER not in v:
                continue
            out[det] = Reading(
                float(v[tc.VAR_LAST_INTERVAL_NUMBER]),
                _occupancy(v[tc.VAR_LAST_INTERVAL_OCCUPANCY]),
                float(v[tc.VAR_LAST_INTERVAL_SPEED]),
            )
        for det, v in self.conn.lanearea.getAllSubscriptionResults().items():
            if tc.VAR_LAST_INTERVAL_NUMBER not in v:
                continue
            out[det] = Reading(
                float(v[tc.VAR_LAST_INTERVAL_NUMBER]),
                _occupancy(v[tc.VAR_LAST_INTERVAL_OCCUPANCY]),
                float(v[tc.VAR_LAST_INTERVAL_SPEED]),
                float(v[tc.VAR_LAST_INTERVAL_MAX_JAM_LENGTH_METERS]),
            )
        return out


def _occupancy(value: float) -> float:
    """SUMO's interval occupancy of an induction loop can come out slightly negative when a
    vehicle straddles the interval boundary; a real loop reports 0 there."""
    return min(max(float(value), 0.0), 100.0)


def served_lane(spec) -> str:
    """The signal's incoming lane a detector reports on (an advance loop may sit upstream)."""
    return getattr(spec, "incoming_lane", "") or spec.lane
