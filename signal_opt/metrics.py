"""Prometheus metrics of the service, on a registry each app owns (tests read exact values).

Counters and histograms here count what this replica did. What is *state* (the plans in
force, holds, the schedule, how fresh the data is) is read from the database at scrape
time by :class:`signal_opt.service.monitoring.StorageCollector`, so every replica reports
the same, true values.

Names follow ``signal_opt_<subsystem>_<name>_<unit>``. Labels are bounded: HTTP routes are
the route templates (never raw paths), intersection labels stop at
``Settings.metrics_max_intersections`` intersections, detector ids are never labels.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import signal_opt

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the service exposes, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None, max_intersections: int = 2000):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.max_intersections = max_intersections

        self.build_info = Gauge(
            "signal_opt_build_info",
            "Version of the running service (always 1).",
            ["version", "python"],
            registry=r,
        )
        self.build_info.labels(signal_opt.__version__, platform.python_version()).set(1)
        self.http_request_duration = Histogram(
            "signal_opt_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retimings = Counter(
            "signal_opt_retiming_runs_total",
            "Retimings of a network or of some of its intersections, by trigger and outcome "
            "(ok: all optimized, partial: some on fallback, fallback: none optimized).",
            ["network", "trigger", "outcome"],
            registry=r,
        )
        self.intersection_outcomes = Counter(
            "signal_opt_retiming_intersections_total",
            "Intersections retimed, by outcome (optimized or fallback).",
            ["network", "outcome"],
            registry=r,
        )
        self.optimization_duration = Histogram(
            "signal_opt_retiming_optimization_duration_seconds",
            "Wall time of one optimization call of the core.",
            ["network"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scheduler_errors = Counter(
            "signal_opt_scheduler_errors_total",
            "Scheduled retimings that failed as a whole (storage down...).",
            ["network"],
            registry=r,
        )
        self.readings = Counter(
            "signal_opt_detector_readings_total",
            "Detector readings received, by result (stored, duplicate of a stored one, or "
            "replaced: a correction).",
            ["network", "result"],
            registry=r,
        )
        self.readings_rejected = Counter(
            "signal_opt_detector_readings_rejected_total",
            "Detector readings refused at the door, by reason (unknown_detector, future, "
            "too_old, count_implausible, speed_implausible, jam_implausible, overlap, "
            "inconsistent, conflict, batch_too_large, invalid_<field>).",
            ["network", "reason"],
            registry=r,
        )
        self.detector_faults = Counter(
            "signal_opt_detector_faults_total",
            "Detector faults found when estimating demand, by kind.",
            ["network", "kind"],
            registry=r,
        )
        self.faulty_detectors = Gauge(
            "signal_opt_detector_faulty_detectors",
            "Detectors excluded as faulty at the latest retiming, by kind.",
            ["network", "kind"],
            registry=r,
        )
