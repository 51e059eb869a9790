"""The schedule: every network retimed each interval; one failing network never stops another."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from signal_opt.service import Scheduler
from tests.api.conftest import NETWORK, readings_for


def test_run_due_retimes_each_network_once_per_interval(
    client: TestClient, operator: dict[str, str]
) -> None:
    service = client.app.state.service
    client.post(
        f"/v1/networks/{NETWORK}/readings",
        headers=operator,
        json={"readings": readings_for(client, None, minutes=3)},
    )
    sched = Scheduler(service, interval_s=640.0)
    assert sched.run_due(1000.0) == []  # first run one interval after start
    assert sched.run_due(1639.0) == []
    assert sched.run_due(1640.0) == [NETWORK]
    assert sched.run_due(1700.0) == []
    assert sched.run_due(2280.0) == [NETWORK]
    runs = service.repo.retimings(NETWORK)
    assert [r.trigger for r in runs] == ["schedule", "schedule"]
    assert runs[0].n_optimized + runs[0].n_fallback == 16
    assert runs[0].n_optimized > 0


def test_a_failing_network_does_not_stop_the_others(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = client.app.state.service
    first, *_ = service.networks()
    fake = type(first)(
        "other", "uploaded", first.intersections, first.by_id, first.detectors, first.detector_tls
    )
    monkeypatch.setattr(service, "networks", lambda: [first, fake])
    real = service.retime
    calls: list[str] = []

    def retime(network: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(network)
        if network == NETWORK:
            raise RuntimeError("storage hiccup")
        return None

    monkeypatch.setattr(service, "retime", retime)
    sched = Scheduler(service, interval_s=10.0)
    sched.run_due(0.0)
    assert sched.run_due(10.0) == [NETWORK, "other"]
    assert calls == [NETWORK, "other"]
    assert service.metrics.scheduler_errors.labels(NETWORK)._value.get() == 1.0
    monkeypatch.setattr(service, "retime", real)


def test_scheduler_thread_runs_in_the_service(
    make_client: Callable[..., TestClient], settings
) -> None:  # type: ignore[no-untyped-def]
    client = make_client(
        settings=settings.model_copy(update={"scheduler_enabled": True, "retime_interval_s": 0.3})
    )
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "storage": "ok", "scheduler": "running"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = client.app.state.service.repo.retimings(NETWORK)
        if runs:
            break
        time.sleep(0.1)
    assert runs and runs[0].trigger == "schedule"
    assert runs[0].outcome == "fallback"  # no detector data yet: every intersection safe
    client.app.state.scheduler.stop()
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["scheduler"] == "stopped"


def _race(services: list, now: float) -> list[str]:  # type: ignore[type-arg]
    """Each service's own scheduler runs what is due at ``now``, all at the same time."""
    scheds = [Scheduler(s, interval_s=640.0) for s in services]
    for sched in scheds:  # first sight: due one interval later
        sched.run_due(now - 640.0)
    done: list[str] = []
    barrier = threading.Barrier(len(scheds))

    def go(sched: Scheduler) -> None:
        barrier.wait()
        done.extend(sched.run_due(now))

    threads = [threading.Thread(target=go, args=(s,)) for s in scheds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def replicas_retime_once(make_client: Callable[..., TestClient], settings) -> None:  # type: ignore[no-untyped-def]
    """Three replicas (apps) on one database, racing for the same due run: one wins."""
    services = [make_client(settings=settings).app.state.service for _ in range(3)]
    now = time.time()
    before = len(services[0].repo.retimings(NETWORK, 1000))
    assert _race(services, now).count(NETWORK) == 1
    runs = services[0].repo.retimings(NETWORK, 1000)
    assert len(runs) == before + 1 and runs[0].trigger == "schedule"
    # the next occurrence, again raced: again exactly one
    assert _race(services, now + 640.0).count(NETWORK) == 1
    assert len(services[0].repo.retimings(NETWORK, 1000)) == before + 2


def test_replicas_on_one_sqlite_file_retime_once(
    make_client: Callable[..., TestClient], settings
) -> None:  # type: ignore[no-untyped-def]
    replicas_retime_once(make_client, settings)


def test_schedule_survives_a_restart(make_client: Callable[..., TestClient], settings) -> None:  # type: ignore[no-untyped-def]
    service = make_client(settings=settings).app.state.service
    assert Scheduler(service, 640.0).run_due(1000.0) == []
    # a new replica (or this one restarted) does not retime before the stored due time...
    again = make_client(settings=settings).app.state.service
    assert Scheduler(again, 640.0).run_due(1500.0) == []
    # ...and an overdue run goes to whoever is up
    assert Scheduler(again, 640.0).run_due(1640.0) == [NETWORK]
