"""Truthful monitoring (SQLite and PostgreSQL): two replicas on one database report the
plan in force, fallbacks, holds, the schedule and data freshness from the database, so a
change through one is what the other's /metrics says; with no readings at all, the fault
gauges say every detector is missing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, _key, readings_for

N = f"/v1/networks/{NETWORK}"


def sample(c: TestClient, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(c.get("/metrics").text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@pytest.fixture
def replicas(
    make_client: Callable[..., TestClient], settings: Settings, db_url: str
) -> tuple[TestClient, TestClient]:
    s = settings.model_copy(update={"database_url": db_url})
    return make_client(settings=s), make_client(settings=s)


def test_two_replicas_report_the_state_in_the_database(
    replicas: tuple[TestClient, TestClient],
) -> None:
    a, b = replicas
    admin = _key(a, "admin")
    xs = a.app.state.service.network(NETWORK).intersections
    x = max(xs, key=lambda x: x.cycle_max - x.base_cycle)
    demand = {g.id: 1200.0 for g in x.lane_groups}
    r = a.post(f"{N}/intersections/{x.id}/retime", headers=admin, json={"demand": demand})
    optimized = r.json()["plans"][0]
    assert sample(b, "signal_opt_plan_cycle_seconds", intersection=x.id) == optimized["cycle_s"]
    # the case: a rollback through A, and B's gauge is the plan in force
    r = b.post(f"{N}/intersections/{x.id}/plans/1/rollback", headers=admin,
               json={"reason": "back to the program"})  # fmt: skip
    assert r.status_code == 201
    for c in (a, b):
        assert sample(c, "signal_opt_plan_cycle_seconds", intersection=x.id) == x.base_cycle
        assert sample(c, "signal_opt_holds_active", network=NETWORK, scope="intersection") == 1
    # fallbacks: the same count on both (a retiming without data falls back)
    y = xs[1] if xs[1].id != x.id else xs[2]
    a.post(f"{N}/intersections/{y.id}/retime", headers=admin)
    for c in (a, b):
        assert sample(c, "signal_opt_retiming_fallback_intersections", network=NETWORK) == 1
        assert sample(c, "signal_opt_network_intersections", network=NETWORK) == len(xs)
    # the schedule, from the first tick of the scheduler (not after the first run)
    assert sample(a, "signal_opt_scheduler_next_run_timestamp_seconds", network=NETWORK) is None
    t0 = time.time()
    a.app.state.scheduler.run_due(t0)
    nxt = sample(b, "signal_opt_scheduler_next_run_timestamp_seconds", network=NETWORK)
    assert nxt == pytest.approx(t0 + 640, abs=2)
    assert sample(b, "signal_opt_scheduler_interval_seconds", network=NETWORK) == 640
    a.patch(f"{N}/schedule", headers=admin, json={"paused": True, "reason": "test"})
    assert sample(b, "signal_opt_scheduler_paused", network=NETWORK) == 1
    assert sample(b, "signal_opt_scheduler_running") == 0  # disabled in the tests
    assert sample(b, "signal_opt_storage_up") == 1


def test_data_freshness_and_missing_detectors(replicas: tuple[TestClient, TestClient]) -> None:
    a, b = replicas
    operator = _key(a, "operator")
    n_detectors = len(a.app.state.service.network(NETWORK).detectors)
    age = sample(b, "signal_opt_detector_data_age_seconds", network=NETWORK)
    assert age is not None and age < 120  # since registration, moments ago
    assert sample(b, "signal_opt_detector_last_reading_timestamp_seconds", network=NETWORK) is None
    # no readings at all: the fault gauges say every detector is missing
    a.post(f"{N}/retime", headers=operator)
    assert sample(a, "signal_opt_detector_faulty_detectors", kind="missing") == n_detectors
    x = a.app.state.service.network(NETWORK).intersections[0].id
    batch = readings_for(a, x, minutes=3)
    assert a.post(f"{N}/readings", headers=operator, json={"readings": batch}).status_code == 200
    newest = sample(b, "signal_opt_detector_last_reading_timestamp_seconds", network=NETWORK)
    assert newest == pytest.approx(time.time() // 60 * 60, abs=61)
    age = sample(b, "signal_opt_detector_data_age_seconds", network=NETWORK)
    assert age is not None and age < 61
    bad = [{**batch[0], "count": 1e6}]
    assert a.post(f"{N}/readings", headers=operator, json={"readings": bad}).status_code == 422
    assert sample(a, "signal_opt_detector_readings_rejected_total", reason="count_implausible") == 1
