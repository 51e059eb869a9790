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

from signal_opt.service.audit import scheduler_actor
from signal_opt.service.control import retime_job
from signal_opt.service.errors import Conflict
from signal_opt.service.usecases import RetimingOutcome, RetimingService

__all__ = ["PRUNE_INTERVAL_S", "Scheduler"]

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600.0


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:128]


class Scheduler:
    """Retimes every loaded network each interval from its latest detector data.

    A network's interval is ``interval_s`` (the service's setting) unless an operator set
    its own; a paused network is skipped. Both are read from storage at every tick, so a
    change made through any replica takes effect at the next tick of every replica.
    """

    def __init__(
        self, service: RetimingService, interval_s: float, holder: str | None = None
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.holder = holder or _holder()
        """Who this replica is, in the lease rows (host, pid, random)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[str, tuple[float, float]] = {}
        """Job -> (when it is due next, with which interval), as last read from storage
        (saves a write per tick; a new interval invalidates it)."""

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

    @property
    def actor(self) -> str:
        return scheduler_actor(self.holder)

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self.interval_s / 4)):
            self.run_due(time.time())

    def _claim(self, job: str, now: float, interval: float, first_due: float) -> bool:
        """True if this replica won the occurrence of ``job`` due at ``now``."""
        cached = self._due.get(job)
        if cached is not None and cached[1] == interval and now < cached[0]:
            return False
        won, due = self.service.repo.claim_job(job, self.holder, now, interval, first_due)
        self._due[job] = (due, interval)
        return won

    def run_now(self, network: str, actor: str) -> RetimingOutcome:
        """Run ``network``'s scheduled retiming now (the next one is an interval later)."""
        self.service.network(network)
        schedules = self.service.repo.schedules()
        interval, _ = self.service.control.effective(schedules, network, self.interval_s)
        now = time.time()
        won, _ = self.service.repo.claim_job(
            retime_job(network), self.holder, now, interval, now + interval, force=True
        )
        if not won:
            raise Conflict(f"the scheduled retiming of {network!r} could not be claimed")
        self._due.pop(retime_job(network), None)
        return self.service.retime(network, trigger="run_now", actor=actor)

    def run_due(self, now: float) -> list[str]:
        """Retime the networks whose time has come (``now``: epoch seconds) and that this
        replica claimed; returns their names. Never raises."""
        done: list[str] = []
        try:
            schedules = self.service.repo.schedules()
        except Exception:
            log.exception("cannot read the schedules")
            return done
        for net in self.service.networks():
            if self._stop.is_set():
                break
            interval, paused = self.service.control.effective(schedules, net.name, self.interval_s)
            if paused:
                continue
            try:
                won = self._claim(retime_job(net.name), now, interval, now + interval)
            except Exception:
                log.exception("cannot claim the scheduled retiming of %s", net.name)
                self.service.metrics.scheduler_errors.labels(net.name).inc()
                continue
            if not won:
                continue
            try:
                outcome = self.service.retime(net.name, trigger="schedule", actor=self.actor)
                if outcome.retiming.held:
                    log.info(
                        "scheduled retiming of %s left out %d held intersections",
                        net.name,
                        len(outcome.retiming.held),
                    )
            except Exception:
                log.exception("scheduled retiming of %s failed", net.name)
                self.service.metrics.scheduler_errors.labels(net.name).inc()
            done.append(net.name)
        try:
            if self._claim("prune-readings", now, PRUNE_INTERVAL_S, now):  # not audited: upkeep
                days = self.service.settings.readings_retention_days
                self.service.repo.prune_readings(int((now - days * 86400) * 1000))
        except Exception:
            log.exception("pruning old readings failed")
        return done
