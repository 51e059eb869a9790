"""Plans in field units: rounding to the grid keeps every rule (hypothesis, over every
intersection of yizhuang_core and three resolutions) and the change limits; the API
serves whole seconds (or tenths) on SQLite and PostgreSQL; the timing sheet (CSV, JSON)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_opt.core import CoreSettings
from signal_opt.model import Intersection, Plan, check_plan
from signal_opt.service import change_limit_error, load_network
from signal_opt.service.field_units import SHEET_COLUMNS, on_grid, to_field_units
from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, REPO, _key

N = f"/v1/networks/{NETWORK}"
STEPS = (1.0, 0.5, 0.1)
LIMITS = CoreSettings(max_cycle_change=20.0, max_green_change=15.0)


@pytest.fixture(scope="module")
def xs() -> list[Intersection]:
    path = Path(REPO / "networks" / NETWORK / f"{NETWORK}.net.xml")
    return list(load_network(NETWORK, "bundled", path).intersections)


@st.composite
def valid_plan(draw: st.DrawFn, x: Intersection) -> Plan:
    """A plan that keeps every rule, greens and offset anywhere (not on a grid)."""
    lo = max(x.cycle_min, x.min_cycle_feasible)
    cycle = draw(st.floats(lo, max(lo, x.cycle_max)))
    extra = cycle - x.min_cycle_feasible
    w = [draw(st.floats(0.01, 1.0)) for _ in x.stages]
    greens = tuple(s.min_green + extra * wi / sum(w) for s, wi in zip(x.stages, w, strict=True))
    cycle = sum(greens) + x.lost_time
    offset = draw(st.floats(0.0, cycle, exclude_max=True))
    return Plan(x.id, cycle, greens, offset, "optimized")


def _check_grid(x: Intersection, p: Plan, step: float) -> None:
    check_plan(x, p)
    assert all(on_grid(g, step) for g in p.greens) and on_grid(p.offset, step)
    assert 0.0 <= p.offset < p.cycle
    if on_grid(x.lost_time, step):
        assert on_grid(p.cycle, step)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_rounding_keeps_every_rule_and_the_change_limits(
    xs: list[Intersection], data: st.DataObject
) -> None:
    x = data.draw(st.sampled_from(xs))
    step = data.draw(st.sampled_from(STEPS))
    plan = data.draw(valid_plan(x))
    rounded = to_field_units(x, plan, step)
    _check_grid(x, rounded, step)
    # half a step from rounding, up to one when a cycle bound is off the grid, and one
    # more for each minimum green off the grid (rounded up)
    off = sum(not on_grid(s.min_green, step) for s in x.stages)
    assert abs(rounded.cycle - plan.cycle) < step * (1 + off) + 1e-6
    # a plan within the limits of the (on-grid) plan in force stays within them rounded
    ref = to_field_units(x, data.draw(valid_plan(x)), step)
    moved = tuple(
        max(s.min_green, r + data.draw(st.floats(-15.0, 15.0)))
        for s, r in zip(x.stages, ref.greens, strict=True)
    )
    cand = Plan(x.id, sum(moved) + x.lost_time, moved, ref.offset, "optimized")
    try:
        check_plan(x, cand)
    except Exception:
        return
    if change_limit_error(cand, ref, LIMITS) is None:
        near = to_field_units(x, cand, step, ref)
        _check_grid(x, near, step)
        assert change_limit_error(near, ref, LIMITS) is None


@pytest.fixture
def units_client(
    make_client: Callable[..., TestClient], settings: Settings, db_url: str
) -> Callable[..., TestClient]:
    def make(step: float = 1.0) -> TestClient:
        return make_client(
            settings=settings.model_copy(update={"database_url": db_url, "plan_resolution_s": step})
        )

    return make


@pytest.mark.parametrize("step", [1.0, 0.1])
def test_the_api_serves_plans_on_the_grid(
    units_client: Callable[..., TestClient], step: float
) -> None:
    c = units_client(step)
    h = _key(c, "operator")
    net = c.app.state.service.network(NETWORK)
    demand = {x.id: {g.id: 333.3 for g in x.lane_groups} for x in net.intersections}
    r = c.post(f"{N}/retime", headers=h, json={"demand": demand})
    assert r.status_code == 200
    optimized = [p for p in r.json()["plans"] if p["source"] == "optimized"]
    assert len(optimized) > len(net.intersections) // 2
    for p in optimized:
        x = net.by_id[p["intersection_id"]]
        _check_grid(x, Plan(x.id, p["cycle_s"], tuple(p["greens_s"]), p["offset_s"]), step)
        if step == 1.0:
            assert all(g == int(g) for g in p["greens_s"]) and p["cycle_s"] == int(p["cycle_s"])


def test_timing_sheet_csv_and_json(units_client: Callable[..., TestClient]) -> None:
    c = units_client()
    h = _key(c, "viewer")
    net = c.app.state.service.network(NETWORK)
    r = c.get(f"{N}/plans/timing-sheet", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0]) == SHEET_COLUMNS
    assert len(rows) == sum(len(x.stages) for x in net.intersections)
    js = c.get(f"{N}/plans/timing-sheet?format=json", headers=h).json()
    assert [str(v) for v in js[0].values()] == list(rows[0].values())
    x = net.intersections[0]
    one = c.get(f"{N}/plans/timing-sheet?format=json&intersection={x.id}", headers=h).json()
    plan = c.get(f"{N}/intersections/{x.id}/plan", headers=h).json()
    assert [row["planned_green_s"] for row in one] == plan["greens_s"]
    assert {row["cycle_s"] for row in one} == {plan["cycle_s"]}
    for row, s in zip(one, x.stages, strict=True):
        assert row["yellow_s"] + row["all_red_s"] + row["other_intergreen_s"] == pytest.approx(
            s.intergreen_time
        )
        assert row["min_green_s"] <= row["planned_green_s"] <= row["max_green_s"]
        assert row["yellow_s"] > 0
    assert sum(r["planned_green_s"] for r in one) + x.lost_time == pytest.approx(plan["cycle_s"])
    assert c.get(f"{N}/plans/timing-sheet?format=xml", headers=h).status_code == 422
