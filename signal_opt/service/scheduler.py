"""The periodic jobs: every network retimed each interval, old readings pruned hourly.

Several replicas may run on one database: each occurrence of a job is claimed in storage
first (:meth:`Repository.claim_job`, one conditional UPDATE of a ``scheduler_leases``
row), so exactly one replica runs it and no network is retimed twice in an interval. The
schedule lives in the database, so it survives restarts: a replica that comes back does
not retime early, and an overdue job runs at the next tick of whichever replica is up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from signal_opt.service.usecases import RetimingService

__all__ = ["PRUNE_INTERVAL_S", "Scheduler"]

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600.0


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:128]


class Scheduler:
    """Retimes every loaded network each ``interval_s`` from its latest detector data."""

    def __init__(
        self, service: RetimingService, interval_s: float, holder: str | None = None
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.holder = holder or _holder()
        """Who this replica is, in the lease rows (host, pid, random)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[str, float] = {}
        """Job -> when it is due next, as last read from storage (saves a write per tick)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="signal-opt-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self.interval_s / 4)):
            self.run_due(time.time())

    def _claim(self, job: str, now: float, interval: float, first_due: float) -> bool:
        """True if this replica won the occurrence of ``job`` due at ``now``."""
        due = self._due.get(job)
        if due is not None and now < due:
            return False
        won, self._due[job] = self.service.repo.claim_job(
            job, self.holder, now, now + interval, first_due
        )
        return won

    def run_due(self, now: float) -> list[str]:
        """Retime the networks whose time has come (``now``: epoch seconds) and that this
        replica claimed; returns their names. Never raises."""
        done = []
        for net in self.service.networks():
            if self._stop.is_set():
                break
            try:
                won = self._claim(f"retime:{net.name}", now, self.interval_s, now + self.interval_s)
            except Exception:
                log.exception("cannot claim the scheduled retiming of %s", net.name)
                self.service.metrics.scheduler_errors.labels(net.name).inc()
                continue
            if not won:
                continue
            try:
                self.service.retime(net.name, trigger="schedule")
            except Exception:
                log.exception("scheduled retiming of %s failed", net.name)
                self.service.metrics.scheduler_errors.labels(net.name).inc()
            self.service.metrics.scheduler_last_run.labels(net.name).set(time.time())
            done.append(net.name)
        try:
            if self._claim("prune-readings", now, PRUNE_INTERVAL_S, now):
                days = self.service.settings.readings_retention_days
                self.service.repo.prune_readings(int((now - days * 86400) * 1000))
        except Exception:
            log.exception("pruning old readings failed")
        return done
