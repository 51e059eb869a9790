"""Safety properties through the API (hypothesis): whatever detector data or demand a
client sends, the answer is a clear 4xx or plans that keep every rule.

Rules checked on every returned plan: ``check_plan`` (minimum greens with pedestrian
time, intergreens kept, cycle = greens + intergreens within bounds, offset in [0, cycle)),
and the change limits against the plan that was current before (unless the core says it
had to relax them), greens and offsets in whole seconds; a fallback is the plan that was
current. The default run tries
~200 cases per property; ``-m slow`` tries 10,000.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_opt.model import Plan, check_plan
from signal_opt.service import change_limit_error
from tests.api.conftest import NETWORK

NET = f"/v1/networks/{NETWORK}"
DEFAULT_CASES = 200
SLOW_CASES = 10_000

# Numbers a broken or hostile detector / client sends.
odd = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.just(0.0),
    st.floats(-1e6, -1e-9),
    st.floats(1e6, 1e15),
    st.floats(0.0, 3000.0),
)
plausible = st.floats(0.0, 2000.0, allow_nan=False)


def _check_answer(
    client: TestClient, r: Any, before: dict[str, dict[str, Any]], counts: dict[str, int]
) -> None:
    """A 4xx with a detail, or a retiming whose every plan keeps every rule."""
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        counts["4xx"] += 1
        assert r.status_code in (404, 422) and r.json()["detail"], r.text
        return
    counts["plans"] += 1
    service = client.app.state.service
    for p in r.json()["plans"]:
        x = service.intersection(NETWORK, p["intersection_id"])
        plan = Plan(x.id, p["cycle_s"], tuple(p["greens_s"]), p["offset_s"], p["source"])
        check_plan(x, plan)
        assert 0.0 <= plan.offset < plan.cycle
        old = before[x.id]
        current = Plan(x.id, old["cycle_s"], tuple(old["greens_s"]), old["offset_s"])
        if p["source"] == "fallback":
            counts["fallback"] += 1
            assert p["error"]
            assert (plan.cycle, plan.greens, plan.offset) == (
                current.cycle,
                current.greens,
                current.offset,
            )
        else:
            assert p["source"] == "optimized" and p["error"] is None
            assert change_limit_error(plan, current, service.core, p["flags"]) is None
            # field units: whole seconds (the default plan_resolution_s)
            assert all(g == int(g) for g in plan.greens) and plan.offset == int(plan.offset), (
                plan,
                p["flags"],
            )


def _post(client: TestClient, url: str, h: dict[str, str], body: Any) -> Any:
    """POST ``body`` as JSON with NaN / Infinity written out, as a sloppy client would."""
    return client.post(
        url,
        headers={**h, "content-type": "application/json"},
        content=json.dumps(body, allow_nan=True),
    )


def _current(client: TestClient, h: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {p["intersection_id"]: p for p in client.get(f"{NET}/plans", headers=h).json()}


def _detector_property(client: TestClient, h: dict[str, str], cases: int) -> dict[str, int]:
    net = client.app.state.service.network(NETWORK)
    ids = [x.id for x in net.intersections]
    dets = list(net.detectors)
    counts = {
        "cases": 0,
        "4xx": 0,
        "plans": 0,
        "fallback": 0,
        "rejected_batches": 0,
        "conflicting_batches": 0,
    }
    base_minute = int(time.time() // 60) - 2

    reading = st.fixed_dictionaries(
        {
            "detector": st.sampled_from(dets),
            "minute": st.integers(0, 13),
            "count": odd,
            "occupancy": st.one_of(odd, st.floats(0.0, 100.0)),
            "speed": st.one_of(st.none(), odd),
            "jam_length": st.one_of(st.none(), odd),
        }
    )
    kind = st.sampled_from(["random", "empty", "all_zero", "all_nan", "huge"])

    @settings(
        max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        kind=kind,
        rows=st.lists(reading, max_size=40),
        which=st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True),
    )
    def prop(kind: str, rows: list[dict[str, Any]], which: list[str]) -> None:
        counts["cases"] += 1
        if kind != "random":
            value = {"empty": None, "all_zero": 0.0, "all_nan": math.nan, "huge": 1e12}[kind]
            mine = [d for d in dets if net.detector_tls[d.id] in which]
            rows = (
                []
                if value is None
                else [
                    {
                        "detector": d,
                        "minute": m,
                        "count": value,
                        "occupancy": min(value, 100.0),
                        "speed": None,
                        "jam_length": None,
                    }
                    for d in mine
                    for m in (0, 1)
                ]
            )
        readings = [
            {
                "detector_id": r["detector"].id,
                "interval_start": time.strftime(
                    "%Y-%m-%dT%H:%M:00Z", time.gmtime((base_minute - r["minute"]) * 60)
                ),
                "count": r["count"],
                "occupancy": r["occupancy"],
                **({"speed": r["speed"]} if r["speed"] is not None else {}),
                **({"jam_length": r["jam_length"]} if r["jam_length"] is not None else {}),
            }
            for r in rows
        ]
        r = _post(client, f"{NET}/readings", h, {"readings": readings})
        # 409: a reading differs from one an earlier case stored for the same detector and
        # minute; corrections go through PUT, so the batch is refused whole and said why.
        assert r.status_code in (200, 409, 422), r.text
        if r.status_code == 409:
            counts["conflicting_batches"] += 1
            assert "differs from the stored reading" in r.json()["detail"], r.text
        if r.status_code == 422:
            counts["rejected_batches"] += 1
            assert r.json()["detail"][0]["loc"][:2] == ["body", "readings"]
        before = _current(client, h)
        if len(which) == 1:
            r = client.post(f"{NET}/intersections/{which[0]}/retime", headers=h)
        else:
            r = client.post(f"{NET}/retime", headers=h, json={"intersections": which})
        assert r.status_code == 200, r.text  # from stored data: never a 4xx
        _check_answer(client, r, before, counts)

    prop()
    return counts


def _demand_property(client: TestClient, h: dict[str, str], cases: int) -> dict[str, int]:
    net = client.app.state.service.network(NETWORK)
    counts = {"cases": 0, "4xx": 0, "plans": 0, "fallback": 0}
    groups = {x.id: [g.id for g in x.lane_groups] for x in net.intersections}

    @st.composite
    def demand(draw: st.DrawFn) -> dict[str, dict[str, float]]:
        which = draw(st.lists(st.sampled_from(sorted(groups)), min_size=1, max_size=5, unique=True))
        out = {}
        for x in which:
            chosen = draw(st.lists(st.sampled_from(groups[x]), unique=True))
            values = st.one_of(plausible, odd) if draw(st.integers(0, 3)) == 0 else plausible
            out[x] = {g: draw(values) for g in chosen}
            if draw(st.integers(0, 20)) == 0:
                out[x]["no-such-group"] = 1.0
        return out

    @settings(
        max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(d=demand(), one=st.booleans())
    def prop(d: dict[str, dict[str, float]], one: bool) -> None:
        counts["cases"] += 1
        before = _current(client, h)
        if one:
            x = next(iter(d))
            d = {x: d[x]}
            r = _post(client, f"{NET}/intersections/{x}/retime", h, {"demand": d[x]})
        else:
            r = _post(client, f"{NET}/retime", h, {"demand": d})
        valid = all(
            math.isfinite(v) and v >= 0 and g in groups[x]
            for x, gs in d.items()
            for g, v in gs.items()
        )
        assert (r.status_code == 200) == valid, r.text
        _check_answer(client, r, before, counts)

    prop()
    return counts


def _report(name: str, counts: dict[str, int]) -> None:
    print(
        f"\nproperty {name}: {counts['cases']} cases, {counts['plans']} retimings checked, "
        f"{counts['fallback']} fallback plans, {counts['4xx']} clear 4xx"
        + (
            f", {counts['rejected_batches']} reading batches refused (422)"
            f", {counts['conflicting_batches']} conflicting with stored readings (409)"
            if "rejected_batches" in counts
            else ""
        )
        + ", 0 unsafe"
    )


def test_detector_input_gives_safe_plans(client: TestClient, operator: dict[str, str]) -> None:
    _report("detector input", _detector_property(client, operator, DEFAULT_CASES))


def test_demand_gives_safe_plans_or_422(client: TestClient, operator: dict[str, str]) -> None:
    _report("retime demand", _demand_property(client, operator, DEFAULT_CASES))


@pytest.mark.slow
def test_detector_input_gives_safe_plans_long(client: TestClient, operator: dict[str, str]) -> None:
    _report("detector input", _detector_property(client, operator, SLOW_CASES))


@pytest.mark.slow
def test_demand_gives_safe_plans_or_422_long(client: TestClient, operator: dict[str, str]) -> None:
    _report("retime demand", _demand_property(client, operator, SLOW_CASES))
