"""Change limits hold per retiming interval, however many retimings arrive (SQLite and
PostgreSQL): rapid calls cannot walk a plan further than the limits from the plan in force
one interval ago; once the interval has passed, the plan may move on."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, _key

N = f"/v1/networks/{NETWORK}"


@pytest.fixture
def limited(make_client: Callable[..., TestClient], settings: Settings, db_url: str) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": db_url}))


def _retime(c: TestClient, h: dict[str, str], iid: str, veh_h: float) -> dict[str, object]:
    x = c.app.state.service.intersection(NETWORK, iid)
    r = c.post(
        f"{N}/intersections/{iid}/retime",
        headers=h,
        json={"demand": {g.id: veh_h for g in x.lane_groups}},
    )
    assert r.status_code == 200, r.text
    [plan] = r.json()["plans"]
    return plan  # type: ignore[no-any-return]


def test_rapid_calls_move_a_plan_at_most_the_limits_per_interval(limited: TestClient) -> None:
    c = limited
    h = _key(c, "operator")
    service = c.app.state.service
    dc, dg = service.settings.max_cycle_change_s, service.settings.max_green_change_s
    # the intersection whose optimized cycle is furthest from its own program's
    xs = service.network(NETWORK).intersections
    x = max(xs, key=lambda x: x.cycle_max - x.base_cycle)
    base = c.get(f"{N}/intersections/{x.id}/plan", headers=h).json()
    assert base["source"] == "base"

    t0 = time.perf_counter()
    plans = [_retime(c, h, x.id, veh_h) for veh_h in (300, 600, 900, 1200, 900, 1500)]
    elapsed = time.perf_counter() - t0
    cycles = [p["cycle_s"] for p in plans]
    print(f"6 retimings in {elapsed:.2f} s: base {base['cycle_s']} s -> cycles {cycles}")
    for p in plans:
        assert abs(p["cycle_s"] - base["cycle_s"]) <= dc + 1e-6, cycles
        for g, b in zip(p["greens_s"], base["greens_s"], strict=True):
            assert abs(g - b) <= dg + 1e-6
    assert max(abs(cy - base["cycle_s"]) for cy in cycles) > dc / 2  # it did move

    # the interval passes (a 1 s interval for this network): the plan moves on from there
    r = c.patch(f"{N}/schedule", headers=h, json={"interval_s": 1.0, "reason": "test"})
    assert r.status_code == 200
    time.sleep(1.2)
    ref = c.get(f"{N}/intersections/{x.id}/plan", headers=h).json()
    after = _retime(c, h, x.id, 1500)
    assert abs(after["cycle_s"] - ref["cycle_s"]) <= dc + 1e-6
    moved = abs(after["cycle_s"] - base["cycle_s"])
    if ref["source"] == "optimized" and abs(ref["cycle_s"] - base["cycle_s"]) >= dc - 1e-6:
        assert moved > dc or after["source"] == "fallback" or after["cycle_s"] == x.cycle_max


def test_a_rollback_is_the_new_reference(limited: TestClient) -> None:
    c = limited
    admin = _key(c, "admin")
    x = max(c.app.state.service.network(NETWORK).intersections, key=lambda x: x.cycle_max)
    first = _retime(c, admin, x.id, 1200)
    r = c.post(
        f"{N}/intersections/{x.id}/plans/1/rollback",
        headers=admin,
        json={"reason": "back to the program", "hold": False},
    )
    assert r.status_code == 201
    back = r.json()
    again = _retime(c, admin, x.id, 1200)
    dc = c.app.state.service.settings.max_cycle_change_s
    assert abs(again["cycle_s"] - back["cycle_s"]) <= dc + 1e-6
    assert first["version"] < back["version"] < again["version"]
