"""Detector data at the door (SQLite and PostgreSQL): the issue's bad readings refused with
422 naming row and field, every bad row listed, rejected readings counted by reason;
a changed reading is a 409 and corrections go through PUT, recorded in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, _key, minute_start, readings_for

URL = f"/v1/networks/{NETWORK}/readings"


@pytest.fixture
def door(make_client: Callable[..., TestClient], settings: Settings, db_url: str) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": db_url}))


def _rejected(c: TestClient, reason: str) -> float:
    value = c.app.state.metrics.registry.get_sample_value(
        "signal_opt_detector_readings_rejected_total", {"network": NETWORK, "reason": reason}
    )
    return float(value or 0.0)


def _refused(c: TestClient, h: dict[str, str], rows: list[dict[str, Any]]) -> list[Any]:
    r = c.post(URL, headers=h, json={"readings": rows})
    assert r.status_code == 422, r.text
    return [(d["loc"][2:], d["msg"]) for d in r.json()["detail"]]


def test_implausible_readings_are_refused_and_counted(door: TestClient) -> None:
    c = door
    h = _key(c, "operator")
    x = c.app.state.service.network(NETWORK).intersections[0].id
    other, good = readings_for(c, x, minutes=1)[:2]
    assert good["detector_id"] != other["detector_id"]
    cases = {
        "count": {**good, "count": 1e12},
        "count ": {**good, "count": True},
        "interval_start": {**good, "interval_start": "1970-01-01T00:00:00Z"},
        "interval_start ": {**good, "interval_start": 0},
        "speed": {**good, "speed": 120.0},
        "jam_length": {**good, "jam_length": 5000.0},
    }
    for field, row in cases.items():
        found = _refused(c, h, [other, row])
        assert len(found) == 1, (field, found)
        [(loc, msg)] = found
        assert loc == [1, field.strip()], (field, loc, msg)
    assert _rejected(c, "count_implausible") == 1
    assert _rejected(c, "invalid_count") == 1  # the boolean, refused by the schema
    assert _rejected(c, "too_old") == 1
    assert _rejected(c, "speed_implausible") == 1
    # a count the lane can carry is fine
    assert c.post(URL, headers=h, json={"readings": [{**good, "count": 40}]}).status_code == 200
    assert len(c.app.state.service.repo.readings_since(NETWORK, 0)) == 1


def test_overlapping_intervals_are_refused(door: TestClient) -> None:
    c = door
    h = _key(c, "operator")
    x = c.app.state.service.network(NETWORK).intersections[0].id
    minutes = readings_for(c, x, minutes=10)
    det = minutes[0]["detector_id"]
    ones = [r for r in minutes if r["detector_id"] == det]
    assert c.post(URL, headers=h, json={"readings": ones[:5]}).status_code == 200
    five = {**ones[2], "interval_s": 300, "count": 20}
    del five["interval_start"]
    five["interval_start"] = minute_start(8).isoformat()  # overlaps stored minutes 8..6
    [(loc, msg)] = _refused(c, h, [five])
    assert loc == [0, "interval_start"] and "overlaps the stored reading" in msg
    # in one batch: a 300 s interval over two 60 s ones
    later = {**five, "interval_start": minute_start(5).isoformat()}
    problems = _refused(c, h, [later, ones[6], ones[7]])
    assert [p[0] for p in problems] == [[1, "interval_start"], [2, "interval_start"]]
    assert "overlaps readings[0]" in problems[0][1]
    assert _rejected(c, "overlap") == 3


def test_every_bad_row_is_named(door: TestClient) -> None:
    c = door
    h = _key(c, "operator")
    rows = readings_for(c, None, minutes=1)[:6]
    rows[1] = {**rows[1], "detector_id": "sl_nowhere"}
    rows[4] = {**rows[4], "count": 10_000}
    problems = _refused(c, h, rows)
    assert [p[0] for p in problems] == [[1, "detector_id"], [4, "count"]]


def test_corrections_go_through_put_and_the_audit_log(door: TestClient) -> None:
    c = door
    h = _key(c, "operator")
    x = c.app.state.service.network(NETWORK).intersections[0].id
    batch = readings_for(c, x, minutes=2)
    assert c.post(URL, headers=h, json={"readings": batch}).status_code == 200
    fixed = {**batch[3], "count": 17.0}
    r = c.post(URL, headers=h, json={"readings": [fixed]})
    assert r.status_code == 409 and "PUT" in r.json()["detail"]
    assert _rejected(c, "conflict") == 1
    r = c.put(URL, headers=h, json={"readings": [fixed]})
    assert r.status_code == 422  # a correction needs a reason
    r = c.put(URL, headers=h, json={"readings": [fixed], "reason": "loop recalibrated"})
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 1, "stored": 0, "duplicates": 0, "replaced": 1}
    stored = c.app.state.service.repo.readings_since(NETWORK, 0, [fixed["detector_id"]])
    assert {s.count for s in stored} == {4.0, 17.0} and len(stored) == 2
    [entry] = c.get("/v1/audit?action=readings.replace", headers=h).json()
    assert entry["reason"] == "loop recalibrated"
    assert entry["before"]["readings"][0]["count"] == 4.0
    assert entry["after"]["readings"][0]["count"] == 17.0
    # a correction is checked like any reading
    r = c.put(URL, headers=h, json={"readings": [{**fixed, "count": 1e9}], "reason": "x"})
    assert r.status_code == 422
