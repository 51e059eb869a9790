"""Holds and schedule control, on SQLite and PostgreSQL: a rollback lasts (the scheduler
leaves the intersection alone until the hold is released or ends), network holds, the
schedule read and changed (a new interval at once, pause, resume, run now)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, _key

N = f"/v1/networks/{NETWORK}"


@pytest.fixture
def ops(make_client: Callable[..., TestClient], settings: Settings, db_url: str) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": db_url}))


def _demand(c: TestClient, iid: str, veh_h: float) -> dict[str, float]:
    x = c.app.state.service.intersection(NETWORK, iid)
    return {g.id: veh_h for g in x.lane_groups}


def _plan(c: TestClient, h: dict[str, str], iid: str) -> dict[str, Any]:
    r = c.get(f"{N}/intersections/{iid}/plan", headers=h)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_rollback_holds_until_released(ops: TestClient) -> None:
    c = ops
    admin, operator = _key(c, "admin"), _key(c, "operator")
    x = c.app.state.service.network(NETWORK).intersections[0].id
    r = c.post(f"{N}/intersections/{x}/retime", headers=operator,
               json={"demand": _demand(c, x, 400.0)})  # fmt: skip
    assert r.status_code == 200 and r.json()["outcome"] == "ok"

    no_reason = c.post(f"{N}/intersections/{x}/plans/1/rollback", headers=admin, json={})
    assert no_reason.status_code == 422 and "reason" in str(no_reason.json()["detail"])
    r = c.post(f"{N}/intersections/{x}/plans/1/rollback", headers=admin,
               json={"reason": "complaints of queues on the main road"})  # fmt: skip
    assert r.status_code == 201, r.text
    rolled = r.json()
    assert rolled["source"] == "rollback" and rolled["actor"]

    holds = c.get(f"{N}/holds", headers=operator).json()
    assert [(h["intersection_id"], h["plan_version"], h["active"]) for h in holds] == [
        (x, rolled["version"], True)
    ]
    # the scheduler's run and every other retime leave the intersection alone, and say so
    run = c.post(f"{N}/schedule/run", headers=operator)
    assert run.status_code == 200, run.text
    assert run.json()["trigger"] == "run_now" and x in run.json()["held"]
    assert "complaints of queues" in run.json()["held"][x]
    assert x not in {p["intersection_id"] for p in run.json()["plans"]}
    one = c.post(f"{N}/intersections/{x}/retime", headers=operator,
                 json={"demand": _demand(c, x, 900.0)}).json()  # fmt: skip
    assert one["outcome"] == "held" and one["plans"] == [] and x in one["held"]
    scheduler = c.app.state.scheduler
    t0 = time.time()
    scheduler.run_due(t0)
    assert scheduler.run_due(t0 + 641) == [NETWORK]
    assert _plan(c, operator, x)["version"] == rolled["version"]

    # released: the next retiming changes it again
    hold_id = holds[0]["id"]
    assert c.post(f"{N}/holds/{hold_id}/release", headers=operator, json={}).status_code == 422
    r = c.post(f"{N}/holds/{hold_id}/release", headers=operator, json={"reason": "fixed"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert r.json()["release_reason"] == "fixed"
    assert c.post(f"{N}/holds/{hold_id}/release", headers=operator,
                  json={"reason": "again"}).status_code == 404  # fmt: skip
    assert c.get(f"{N}/holds", headers=operator).json() == []
    assert len(c.get(f"{N}/holds?all=true", headers=operator).json()) == 1
    again = c.post(f"{N}/intersections/{x}/retime", headers=operator,
                   json={"demand": _demand(c, x, 400.0)}).json()  # fmt: skip
    assert again["outcome"] == "ok" and again["plans"][0]["version"] == rolled["version"] + 1


def test_rollback_without_hold_and_timed_holds(ops: TestClient) -> None:
    c = ops
    admin = _key(c, "admin")
    xs = [x.id for x in c.app.state.service.network(NETWORK).intersections[:2]]
    r = c.post(f"{N}/intersections/{xs[0]}/plans/1/rollback", headers=admin,
               json={"reason": "test", "hold": False})  # fmt: skip
    assert r.status_code == 201 and c.get(f"{N}/holds", headers=admin).json() == []
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = c.post(f"{N}/holds", headers=admin, json={"reason": "x", "until": past})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "until"]
    r = c.post(f"{N}/holds", headers=admin,
               json={"intersections": ["nowhere"], "reason": "x"})  # fmt: skip
    assert r.status_code == 422
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    r = c.post(f"{N}/holds", headers=admin,
               json={"intersections": xs, "reason": "roadworks", "until": soon})  # fmt: skip
    assert r.status_code == 201 and [h["intersection_id"] for h in r.json()] == xs
    body = {"intersections": xs, "demand": {x: _demand(c, x, 300.0) for x in xs}}
    held = c.post(f"{N}/retime", headers=admin, json=body).json()
    assert held["outcome"] == "held" and set(held["held"]) == set(xs)
    time.sleep(1.6)  # the holds end by themselves
    assert c.get(f"{N}/holds", headers=admin).json() == []
    done = c.post(f"{N}/retime", headers=admin, json=body).json()
    assert done["held"] == {} and len(done["plans"]) == 2


def test_network_hold(ops: TestClient) -> None:
    c = ops
    operator, viewer = _key(c, "operator"), _key(c, "viewer")
    assert c.post(f"{N}/holds", headers=viewer, json={"reason": "x"}).status_code == 403
    r = c.post(f"{N}/holds", headers=operator, json={"reason": "city marathon"})
    assert r.status_code == 201 and r.json()[0]["intersection_id"] is None
    n = len(c.app.state.service.network(NETWORK).intersections)
    run = c.post(f"{N}/retime", headers=operator).json()
    assert run["outcome"] == "held" and len(run["held"]) == n and run["plans"] == []
    assert "network hold" in next(iter(run["held"].values()))
    # a second network hold replaces the first
    c.post(f"{N}/holds", headers=operator, json={"reason": "marathon, day 2"})
    active = c.get(f"{N}/holds", headers=operator).json()
    assert [h["reason"] for h in active] == ["marathon, day 2"]


def test_schedule_control(ops: TestClient) -> None:
    c = ops
    operator, viewer = _key(c, "operator"), _key(c, "viewer")
    scheduler = c.app.state.scheduler
    [s] = c.get("/v1/schedule", headers=viewer).json()
    assert (s["network"], s["interval_s"], s["interval_source"], s["paused"]) == (
        NETWORK, 640.0, "setting", False,
    )  # fmt: skip
    t0 = time.time()
    assert scheduler.run_due(t0) == []  # first seen: due one interval later
    due = c.get(f"{N}/schedule", headers=viewer).json()["next_run_at"]
    assert datetime.fromisoformat(due).timestamp() == pytest.approx(t0 + 640, abs=1)

    # a new interval takes effect at once (not after the old due time)
    assert c.patch(f"{N}/schedule", headers=viewer,
                   json={"interval_s": 10, "reason": "x"}).status_code == 403  # fmt: skip
    r = c.patch(f"{N}/schedule", headers=operator, json={"interval_s": 10, "reason": "peak"})
    assert r.status_code == 200, r.text
    assert (r.json()["interval_s"], r.json()["interval_source"]) == (10.0, "network")
    assert datetime.fromisoformat(r.json()["next_run_at"]).timestamp() == pytest.approx(
        t0 + 10, abs=1
    )
    assert scheduler.run_due(t0 + 11) == [NETWORK]

    # paused: nothing runs; resumed: the overdue run comes at the next tick
    r = c.patch(f"{N}/schedule", headers=operator, json={"paused": True, "reason": "maintenance"})
    assert r.json()["paused"] is True and r.json()["interval_s"] == 10.0
    assert scheduler.run_due(t0 + 100) == []
    c.patch(f"{N}/schedule", headers=operator, json={"paused": False, "reason": "done"})
    assert scheduler.run_due(t0 + 101) == [NETWORK]

    # back to the setting; run now
    r = c.patch(f"{N}/schedule", headers=operator, json={"interval_s": None, "reason": "x"})
    assert (r.json()["interval_s"], r.json()["interval_source"]) == (640.0, "setting")
    run = c.post(f"{N}/schedule/run", headers=operator)
    assert run.status_code == 200 and run.json()["trigger"] == "run_now"
    s = c.get(f"{N}/schedule", headers=viewer).json()
    assert datetime.fromisoformat(s["next_run_at"]).timestamp() == pytest.approx(
        time.time() + 640, abs=5
    )
    assert s["last_run_by"] == scheduler.holder
    assert c.post("/v1/networks/nowhere/schedule/run", headers=operator).status_code == 404


def test_a_new_interval_setting_applies_at_restart(
    make_client: Callable[..., TestClient], settings: Settings, db_url: str
) -> None:
    s = settings.model_copy(update={"database_url": db_url})
    first = make_client(settings=s)
    t0 = time.time()
    first.app.state.scheduler.run_due(t0)  # due at t0 + 640
    second = make_client(settings=s.model_copy(update={"retime_interval_s": 30.0}))
    assert second.app.state.scheduler.run_due(t0 + 31) == [NETWORK]
