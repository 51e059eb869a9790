"""Demand per intersection from the stored detector readings of a time window."""

from __future__ import annotations

from collections import defaultdict

from signal_opt.detectors import DemandEstimator, Minute
from signal_opt.metrics import Metrics
from signal_opt.model import Intersection
from signal_opt.service.networks import LoadedNetwork
from signal_opt.storage import Repository

__all__ = ["Estimate", "estimate_from_storage"]

Estimate = tuple[list[dict[str, float] | None], list[str | None]]
"""Demand (veh/h per lane group) of each intersection, or None with the reason why not."""

FAULT_KINDS = ("stuck_on", "stuck_off", "chattering", "missing")


def estimate_from_storage(
    repo: Repository,
    metrics: Metrics,
    net: LoadedNetwork,
    xs: list[Intersection],
    since_ms: int,
    window_s: float,
) -> Estimate:
    """Demand of ``xs`` from the readings of ``net`` starting at or after ``since_ms``.

    Faulty detectors (stuck on / off, chattering, missing) are left out and counted in
    ``metrics``; an intersection with no usable data gets None and the reason.
    """
    ids = {x.id for x in xs}
    dets = [d for d in net.detectors if net.detector_tls[d.id] in ids]
    subset = None if len(xs) == len(net.intersections) else [d.id for d in dets]
    rows = repo.readings_since(net.name, since_ms, subset)
    if not rows:
        # no data at all: every detector is missing (the fault gauges say so)
        for kind in FAULT_KINDS:
            n = len(dets) if kind == "missing" else 0
            metrics.faulty_detectors.labels(net.name, kind).set(n)
        metrics.detector_faults.labels(net.name, "missing").inc(len(dets))
        return [None] * len(xs), [f"no detector data in the last {int(window_s)} s"] * len(xs)
    by_start: dict[int, dict[str, Minute | None]] = defaultdict(dict)
    seconds: dict[int, float] = {}
    for r in rows:
        by_start[r.start_ms][r.detector_id] = Minute(
            r.count, r.occupancy, -1.0 if r.speed is None else r.speed, r.jam_length or 0.0
        )
        seconds[r.start_ms] = max(seconds.get(r.start_ms, 0.0), r.interval_s)
    est = DemandEstimator(xs, dets)
    for start in sorted(by_start):
        est.add_minute(by_start[start], seconds[start])
    e = est.estimate()
    for kind, n in est.new_faults.items():
        metrics.detector_faults.labels(net.name, kind).inc(n)
    counts: dict[str, int] = defaultdict(int)
    for kind in e.faulty.values():
        counts[kind] += 1
    for kind in FAULT_KINDS:
        metrics.faulty_detectors.labels(net.name, kind).set(counts.get(kind, 0))
    demand: list[dict[str, float] | None] = []
    errors: list[str | None] = []
    for i in range(len(xs)):
        if e.fallback[i]:
            demand.append(None)
            errors.append(f"no usable detector data for lane groups {sorted(e.stale_groups[i])}")
        else:
            demand.append(e.demand[i])
            errors.append(None)
    return demand, errors
