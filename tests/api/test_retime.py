"""Retiming: from stored readings or given demand; one, a list, a network; fault isolation."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from signal_opt.model import Intersection, Plan, check_plan
from signal_opt.service import Optimized, Optimizer, optimize_with_core
from tests.api.conftest import NETWORK, readings_for

NET = f"/v1/networks/{NETWORK}"


def _xs(client: TestClient) -> tuple[Intersection, ...]:
    return client.app.state.service.network(NETWORK).intersections


def _check(client: TestClient, plan: dict) -> None:
    x = client.app.state.service.intersection(NETWORK, plan["intersection_id"])
    check_plan(
        x, Plan(x.id, plan["cycle_s"], tuple(plan["greens_s"]), plan["offset_s"], plan["source"])
    )


def test_retime_one_from_stored_readings(
    client: TestClient, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    x = _xs(client)[0]
    r = client.post(
        f"{NET}/readings", headers=operator, json={"readings": readings_for(client, x.id)}
    )
    assert r.status_code == 200
    r = client.post(f"{NET}/intersections/{x.id}/retime", headers=operator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "ok" and body["demand_source"] == "detectors"
    [plan] = body["plans"]
    assert plan["source"] == "optimized" and plan["version"] == 2 and plan["error"] is None
    assert set(plan["demand_veh_h"]) == {g.id for g in x.lane_groups}
    assert all(v > 0 for v in plan["demand_veh_h"].values())
    assert set(plan["delay_s"]) == set(plan["degree_of_saturation"]) == set(plan["demand_veh_h"])
    _check(client, plan)
    current = client.get(f"{NET}/intersections/{x.id}/plan", headers=viewer).json()
    assert current["version"] == 2 and current["retiming_id"] == body["id"]
    history = client.get(f"{NET}/intersections/{x.id}/plans", headers=viewer).json()
    assert [p["version"] for p in history] == [2, 1]
    got = client.get(f"{NET}/retimings/{body['id']}", headers=viewer).json()
    assert got["plans"][0]["version"] == 2
    assert client.get(f"{NET}/retimings", headers=viewer).json()[0]["id"] == body["id"]
    assert client.get(f"{NET}/retimings/999", headers=viewer).status_code == 404


def test_retime_without_data_falls_back(client: TestClient, operator: dict[str, str]) -> None:
    x = _xs(client)[1]
    body = client.post(f"{NET}/intersections/{x.id}/retime", headers=operator).json()
    assert body["outcome"] == "fallback" and body["n_fallback"] == 1
    [plan] = body["plans"]
    assert plan["source"] == "fallback" and "no detector data" in plan["error"]
    base = x.base_plan()
    assert plan["cycle_s"] == base.cycle and tuple(plan["greens_s"]) == base.greens
    _check(client, plan)


def test_retime_network_from_readings(client: TestClient, operator: dict[str, str]) -> None:
    xs = _xs(client)
    batch = readings_for(client, None, minutes=5)
    assert client.post(f"{NET}/readings", headers=operator, json={"readings": batch}).json()[
        "stored"
    ] == len(batch)
    body = client.post(f"{NET}/retime", headers=operator).json()
    assert body["n_optimized"] + body["n_fallback"] == len(xs) == len(body["plans"])
    assert body["n_optimized"] >= len(xs) - 2
    for plan in body["plans"]:
        _check(client, plan)


def test_retime_from_given_demand(client: TestClient, operator: dict[str, str]) -> None:
    x, y = _xs(client)[:2]
    demand = {
        x.id: {g.id: 150.0 for g in x.lane_groups},
        y.id: {x.lane_groups[0].id.split(":")[0] + ":nope": 1.0},
    }
    r = client.post(f"{NET}/retime", headers=operator, json={"demand": demand})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:3] == ["body", "demand", y.id]
    demand[y.id] = {y.lane_groups[0].id: 200.0}  # the others count as 0
    body = client.post(f"{NET}/retime", headers=operator, json={"demand": demand}).json()
    assert body["demand_source"] == "request" and body["outcome"] == "ok", [
        p["error"] for p in body["plans"]
    ]
    assert sorted(p["intersection_id"] for p in body["plans"]) == sorted([x.id, y.id])
    one = client.post(
        f"{NET}/intersections/{x.id}/retime",
        headers=operator,
        json={"demand": {g.id: 300.0 for g in x.lane_groups}},
    ).json()
    assert one["plans"][0]["demand_veh_h"][x.lane_groups[0].id] == 300.0


def test_bad_retime_requests(client: TestClient, operator: dict[str, str]) -> None:
    x = _xs(client)[0]
    g = x.lane_groups[0].id
    r = client.post(
        f"{NET}/intersections/{x.id}/retime", headers=operator, json={"demand": {g: -5}}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "demand", g]
    r = client.post(f"{NET}/retime", headers=operator, json={"intersections": [x.id, "zz"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "intersections", 1]
    r = client.post(f"{NET}/retime", headers=operator, json={"intersections": [x.id], "demand": {}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "demand", x.id]
    assert client.post(f"{NET}/intersections/zz/retime", headers=operator).status_code == 404
    assert client.post("/v1/networks/zz/retime", headers=operator).status_code == 404


def _faulty(bad: str, mode: str) -> Optimizer:
    """The real optimizer, except at intersection ``bad``."""

    def optimize(xs, demand, current, links, settings):  # type: ignore[no-untyped-def]
        if mode == "raise" and any(x.id == bad for x in xs):
            raise FloatingPointError(f"boom at {bad}")
        out = optimize_with_core(xs, demand, current, links, settings)
        if mode == "unsafe":
            out = [
                Optimized(
                    Plan(
                        o.plan.intersection_id,
                        o.plan.cycle,
                        (1.0,) * len(o.plan.greens),
                        0.0,
                        "core",
                    )
                )
                if o.plan.intersection_id == bad
                else o
                for o in out
            ]
        return out

    return optimize


def test_one_failing_intersection_never_stops_the_others(
    make_client: Callable[..., TestClient],
) -> None:
    for mode, message in (("raise", "boom at"), ("unsafe", "optimized plan rejected")):
        probe = make_client()
        xs = _xs(probe)
        bad = xs[3].id
        client = make_client(optimizer=_faulty(bad, mode))
        _, token = client.app.state.service.repo.create_key("operator")
        headers = {"Authorization": f"Bearer {token}"}
        demand = {x.id: {g.id: 100.0 for g in x.lane_groups} for x in xs}
        r = client.post(f"{NET}/retime", headers=headers, json={"demand": demand})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["outcome"] == "partial" and body["n_fallback"] == 1
        for plan in body["plans"]:
            _check(client, plan)
            if plan["intersection_id"] == bad:
                assert plan["source"] == "fallback" and message in plan["error"]
            else:
                assert plan["source"] == "optimized"


def test_network_retime_coordinates_linked_signals(
    client: TestClient, operator: dict[str, str]
) -> None:
    net = client.app.state.service.network(NETWORK)
    assert net.links and all(lk.travel_time <= 60.0 for lk in net.links)
    demand = {x.id: {g.id: 250.0 for g in x.lane_groups} for x in net.intersections}
    body = client.post(f"{NET}/retime", headers=operator, json={"demand": demand}).json()
    plans = {p["intersection_id"]: p for p in body["plans"]}
    shared = 0
    for lk in net.links:
        up, down = (plans[net.intersections[i].id] for i in (lk.up, lk.down))
        if "NOT_COORDINATED" in up["flags"] + down["flags"]:
            continue
        ratio = max(up["cycle_s"], down["cycle_s"]) / min(up["cycle_s"], down["cycle_s"])
        assert min(abs(ratio - 1), abs(ratio - 2)) < 1e-6, (up, down)
        shared += 1
    assert shared > 0


def test_links_among_a_subset(client: TestClient) -> None:
    from signal_opt.service import links_among

    net = client.app.state.service.network(NETWORK)
    lk = net.links[0]
    a, b = net.intersections[lk.up].id, net.intersections[lk.down].id
    sub = links_among(net, [b, a])
    assert sub and all({s.up, s.down} <= {0, 1} for s in sub)
    assert any(s.up == 1 and s.down == 0 and s.travel_time == lk.travel_time for s in sub)
    assert links_among(net, [a]) == []


def test_single_retime_keeps_the_offset(client: TestClient, operator: dict[str, str]) -> None:
    """Retimed alone, an intersection has no platoon to follow: it keeps its phase."""
    x = max(_xs(client), key=lambda x: x.base_plan().offset)
    body = client.post(
        f"{NET}/intersections/{x.id}/retime",
        headers=operator,
        json={"demand": {g.id: 300.0 for g in x.lane_groups}},
    ).json()
    [plan] = body["plans"]
    assert plan["source"] == "optimized"
    assert abs(plan["offset_s"] - x.base_plan().offset % plan["cycle_s"]) < 1e-6
    _check(client, plan)


def test_change_limits_hold(client: TestClient, operator: dict[str, str]) -> None:
    core = client.app.state.service.core
    assert (core.max_cycle_change, core.max_green_change) == (20.0, 15.0)
    x = _xs(client)[2]
    base = x.base_plan()
    body = client.post(
        f"{NET}/intersections/{x.id}/retime",
        headers=operator,
        json={"demand": {g.id: 1500.0 for g in x.lane_groups}},
    ).json()
    [plan] = body["plans"]
    if "CHANGE_LIMITS_RELAXED" not in plan["flags"]:
        assert abs(plan["cycle_s"] - base.cycle) <= 20.0 + 1e-6
        assert all(abs(g - b) <= 15.0 + 1e-6 for g, b in zip(plan["greens_s"], base.greens))
