"""Metrics read from the database at scrape time: the state every replica shares.

The plans in force (cycle, degree of saturation), intersections on fallback, holds, the
schedule (interval, paused, next and last run) and how fresh each network's detector data
is come from storage when Prometheus scrapes, so two replicas behind a load balancer report
the same, true values whichever of them changed the state. A scrape costs a few indexed
queries per network (the plans in force, the newest reading) and a few in all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from signal_opt.service.usecases import RetimingService

__all__ = ["StorageCollector"]

log = logging.getLogger(__name__)


@dataclass
class _Snapshot:
    ok: bool = True
    intersections: dict[str, int] = field(default_factory=dict)
    cycle: list[tuple[str, str, float]] = field(default_factory=list)
    dos: list[tuple[str, str, float]] = field(default_factory=list)
    fallback: dict[str, int] = field(default_factory=dict)
    holds: Counter[tuple[str, str]] = field(default_factory=Counter)
    data_age: dict[str, float] = field(default_factory=dict)
    newest: dict[str, float] = field(default_factory=dict)
    interval: dict[str, float] = field(default_factory=dict)
    paused: dict[str, float] = field(default_factory=dict)
    next_run: dict[str, float] = field(default_factory=dict)
    last_run: dict[str, float] = field(default_factory=dict)


def _read(service: RetimingService, max_intersections: int) -> _Snapshot:
    repo, now = service.repo, time.time()
    snap = _Snapshot()
    created = {r.name: r.created_at.timestamp() for r in repo.networks()}
    left = max_intersections
    for net in service.networks():
        plans = repo.current_plans(net.name)
        snap.intersections[net.name] = len(net.intersections)
        snap.fallback[net.name] = sum(p.source == "fallback" for p in plans.values())
        for x in net.intersections:  # the network's order: the same series on every replica
            p = plans.get(x.id)
            if p is None or left <= 0:
                continue
            left -= 1
            snap.cycle.append((net.name, x.id, p.cycle))
            dos = p.details.get("degree_of_saturation") if p.source == "optimized" else None
            values = [v for v in (dos or {}).values() if v is not None]
            if values:
                snap.dos.append((net.name, x.id, max(values)))
        newest = repo.newest_reading_end_ms(net.name)
        since = newest / 1000 if newest is not None else created.get(net.name, now)
        snap.data_age[net.name] = max(0.0, now - since)
        if newest is not None:
            snap.newest[net.name] = newest / 1000
    for h in repo.holds(None, active_at=service.control._now()):
        snap.holds[(h.network, "network" if h.intersection_id is None else "intersection")] += 1
    for v in service.control.schedules():
        snap.interval[v.network] = v.interval_s
        snap.paused[v.network] = 1.0 if v.paused else 0.0
        if v.next_run_at is not None:
            snap.next_run[v.network] = v.next_run_at
        if v.last_run_at is not None:
            snap.last_run[v.network] = v.last_run_at
    return snap


def _by_network(name: str, doc: str, values: dict[str, float]) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["network"])
    for network, v in sorted(values.items()):
        g.add_metric([network], v)
    return g


def _by_intersection(
    name: str, doc: str, rows: Iterable[tuple[str, str, float]]
) -> GaugeMetricFamily:
    """A gauge labelled by network and intersection from ``(network, id, value)`` rows."""
    g = GaugeMetricFamily(name, doc, labels=["network", "intersection"])
    for network, x, v in rows:
        g.add_metric([network, x], v)
    return g


class StorageCollector(Collector):
    """The gauges of shared state, from storage (see the module's doc)."""

    def __init__(
        self,
        service: RetimingService,
        scheduler_running: Callable[[], bool],
        max_intersections: int,
    ) -> None:
        self.service = service
        self.scheduler_running = scheduler_running
        self.max_intersections = max_intersections
        self._lock = threading.Lock()

    def _snapshot(self) -> _Snapshot:
        with self._lock:  # concurrent scrapes queue up rather than pile on the database
            try:
                return _read(self.service, self.max_intersections)
            except Exception:
                log.exception("cannot read the monitored state from storage")
                return _Snapshot(ok=False)

    def describe(self) -> list[Metric]:
        return list(self._families(_Snapshot()))

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._snapshot())

    def _families(self, s: _Snapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "signal_opt_storage_up",
            "1 if this replica read the monitored state from the database at this scrape.",
            value=1.0 if s.ok else 0.0,
        )
        yield GaugeMetricFamily(
            "signal_opt_scheduler_running",
            "1 if this replica's scheduler thread runs (0: stopped or disabled).",
            value=1.0 if self.scheduler_running() else 0.0,
        )
        yield _by_network(
            "signal_opt_network_intersections",
            "Signalized intersections of a network.",
            {k: float(v) for k, v in s.intersections.items()},
        )
        yield _by_intersection(
            "signal_opt_plan_cycle_seconds",
            "Cycle length of the plan in force (from the database).",
            s.cycle,
        )
        yield _by_intersection(
            "signal_opt_plan_degree_of_saturation_ratio",
            "Highest predicted degree of saturation (v/c) of a lane group under the plan in "
            "force, if it is an optimized plan.",
            s.dos,
        )
        yield _by_network(
            "signal_opt_retiming_fallback_intersections",
            "Intersections whose plan in force is a fallback (from the database).",
            {k: float(v) for k, v in s.fallback.items()},
        )
        holds = GaugeMetricFamily(
            "signal_opt_holds_active",
            "Active holds, by scope (intersection or network).",
            labels=["network", "scope"],
        )
        for network in sorted(s.intersections):
            for scope in ("intersection", "network"):
                holds.add_metric([network, scope], float(s.holds.get((network, scope), 0)))
        yield holds
        yield _by_network(
            "signal_opt_detector_data_age_seconds",
            "Seconds since the end of the newest detector reading of a network (since it was "
            "registered, if it has none).",
            s.data_age,
        )
        yield _by_network(
            "signal_opt_detector_last_reading_timestamp_seconds",
            "Unix time of the end of the newest detector reading of a network.",
            s.newest,
        )
        yield _by_network(
            "signal_opt_scheduler_interval_seconds",
            "The network's retiming interval (its own or the setting).",
            s.interval,
        )
        yield _by_network(
            "signal_opt_scheduler_paused",
            "1 if an operator paused the network's schedule.",
            s.paused,
        )
        yield _by_network(
            "signal_opt_scheduler_next_run_timestamp_seconds",
            "Unix time the network's next scheduled retiming is due.",
            s.next_run,
        )
        yield _by_network(
            "signal_opt_scheduler_last_run_timestamp_seconds",
            "Unix time of the network's last scheduled (or run-now) retiming, by any replica.",
            s.last_run,
        )
