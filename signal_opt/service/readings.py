"""Detector data at the door: every reading of a batch checked against the network and
against what is stored, before anything is written.

A batch is refused whole (422) when any reading is implausible: a detector the network
does not have, a count above what its lane can carry in the interval, a speed or queue
outside a sane range, an interval that ends in the future or starts before the retention
window, an interval overlapping another of the same detector (in the batch or stored).
Every problem is named by row and field, and counted by reason. A reading that differs
from the stored one of the same detector and start is a conflict (409): corrections go
through the explicit replace path (``PUT``), recorded in the audit log.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from signal_opt.service.networks import LoadedNetwork
from signal_opt.storage import ReadingRecord

__all__ = [
    "CAPACITY_FACTOR",
    "MAX_JAM_M",
    "MAX_SPEED_M_S",
    "Problem",
    "check_batch",
    "detector_flows",
    "max_count",
]

CAPACITY_FACTOR = 1.5
"""A count is implausible above 1.5 x the lane's saturation flow over the interval (plus
two vehicles): no lane discharges at 1.33 s headways for a whole interval."""
DEFAULT_LANE_FLOW = 1900.0
"""veh/h of a lane in no lane group (a loop on a feeding lane)."""
MAX_SPEED_M_S = 50.0
"""180 km/h: above it a loop's speed is a fault, not a vehicle at a signal."""
MAX_JAM_M = 1000.0
"""A queue detector reports at most its own length; none is a kilometre long."""


@dataclass(frozen=True)
class Problem:
    index: int
    """Row of the batch."""
    field: str
    message: str
    reason: str
    """Label of the rejected-readings counter (``count_implausible``...)."""


def detector_flows(net: LoadedNetwork) -> dict[str, float]:
    """Saturation flow of the lane each detector measures, veh/h (the largest of the lane
    groups the lane feeds; ``DEFAULT_LANE_FLOW`` for a lane in none)."""
    lanes: dict[str, float] = {}
    for x in net.intersections:
        for g in x.lane_groups:
            per_lane = g.saturation_flow / max(g.n_lanes, 1e-9)
            for lane in g.lanes:
                lanes[lane] = max(lanes.get(lane, 0.0), per_lane)
    return {d.id: lanes.get(d.lane, DEFAULT_LANE_FLOW) for d in net.detectors}


def max_count(lane_flow: float, interval_s: float) -> float:
    return math.ceil(lane_flow * CAPACITY_FACTOR * interval_s / 3600.0) + 2


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def check_batch(
    net: LoadedNetwork,
    flow_of: dict[str, float],
    readings: Sequence[ReadingRecord],
    stored: Sequence[ReadingRecord],
    now_s: float,
    future_tolerance_s: float,
    retention_s: float,
) -> tuple[list[Problem], list[tuple[int, ReadingRecord]]]:
    """Problems of ``readings`` (all of them, in row order), and the readings that differ
    from a stored one of the same detector and start (row, stored reading): conflicts for
    an ingest, the corrections for a replace. ``flow_of``: :func:`detector_flows`;
    ``stored``: the stored readings of the batch's detectors around its time span."""
    problems: list[Problem] = []
    latest_ms = (now_s + future_tolerance_s) * 1000.0
    oldest_ms = (now_s - retention_s) * 1000.0
    by_key = {(r.detector_id, r.start_ms): r for r in stored}
    spans: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # det -> (start, end, row)
    changed: list[tuple[int, ReadingRecord]] = []
    first: dict[tuple[str, int], int] = {}
    for i, r in enumerate(readings):

        def bad(field: str, message: str, reason: str, i: int = i) -> None:
            problems.append(Problem(i, field, message, reason))

        if r.detector_id not in net.detector_tls:
            bad("detector_id", f"unknown detector {r.detector_id!r} in network {net.name!r}",
                "unknown_detector")  # fmt: skip
            continue
        end_ms = r.start_ms + round(r.interval_s * 1000)
        if end_ms > latest_ms:
            bad("interval_start", "the interval ends in the future", "future")
        elif r.start_ms < oldest_ms:
            bad("interval_start", f"the interval starts before the retention window "
                f"({_iso(int(oldest_ms))})", "too_old")  # fmt: skip
        limit = max_count(flow_of[r.detector_id], r.interval_s)
        if r.count > limit:
            bad("count", f"{r.count:g} vehicles in {r.interval_s:g} s is more than the lane can "
                f"carry ({limit:g} at most)", "count_implausible")  # fmt: skip
        if r.speed is not None and r.speed > MAX_SPEED_M_S:
            bad("speed", f"speed {r.speed:g} m/s is above {MAX_SPEED_M_S:g} m/s",
                "speed_implausible")  # fmt: skip
        if r.jam_length is not None and r.jam_length > MAX_JAM_M:
            bad("jam_length", f"queue {r.jam_length:g} m is longer than {MAX_JAM_M:g} m",
                "jam_implausible")  # fmt: skip
        key = (r.detector_id, r.start_ms)
        if key in first:
            if readings[first[key]] != r:
                bad("interval_start", f"readings[{first[key]}] has the same detector and "
                    "interval_start with other values", "inconsistent")  # fmt: skip
            continue
        first[key] = i
        old = by_key.get(key)
        if old is not None and old != r:
            changed.append((i, old))
        spans[r.detector_id].append((r.start_ms, end_ms, i))
    for r in stored:
        if (r.detector_id, r.start_ms) in first:
            continue  # the same reading (or its correction): not an overlap
        if r.detector_id in spans:
            spans[r.detector_id].append((r.start_ms, r.start_ms + round(r.interval_s * 1000), -1))
    for det, items in spans.items():
        items.sort()
        reach = items[0]  # the interval reaching furthest so far: (start, end, row)
        for item in items[1:]:
            s1, e1, i1 = item
            s0, e0, i0 = reach
            if s1 < e0 and max(i0, i1) >= 0:
                row, other, other_start = (i1, i0, s0) if i1 >= 0 else (i0, i1, s1)
                what = (
                    f"readings[{other}]"
                    if other >= 0
                    else f"the stored reading starting {_iso(other_start)}"
                )
                message = f"the interval of {det} overlaps {what}"
                problems.append(Problem(row, "interval_start", message, "overlap"))
            if e1 > e0:
                reach = item
    # one problem per row and field (an interval may overlap several stored ones)
    unique = {(p.index, p.field): p for p in reversed(problems)}
    return sorted(unique.values(), key=lambda p: (p.index, p.field)), changed
