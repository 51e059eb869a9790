"""The audit log (SQLite and PostgreSQL): every change of state with who, when, target,
before / after and reason, filters and cursor paging; request ids in a response header,
in the audit log and in the JSON log lines of a real ``signal-opt serve``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, _key, readings_for
from tests.api.servers import ServiceProcess

N = f"/v1/networks/{NETWORK}"


@pytest.fixture
def audited(make_client: Callable[..., TestClient], settings: Settings, db_url: str) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": db_url}))


def _all(c: TestClient, h: dict[str, str], query: str = "") -> list[dict[str, object]]:
    r = c.get(f"/v1/audit?limit=1000{query}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_every_change_is_in_the_audit_log(audited: TestClient) -> None:
    c = audited
    admin = _key(c, "admin")
    admin_id = admin["Authorization"].split("_")[1]
    x = c.app.state.service.network(NETWORK).intersections[0].id

    key = c.post("/v1/keys", headers=admin, json={"role": "viewer", "name": "wall screen"}).json()
    assert c.delete(f"/v1/keys/{key['key_id']}", headers=admin).status_code == 200
    batch = readings_for(c, x, minutes=3)
    assert c.post(f"{N}/readings", headers=admin, json={"readings": batch}).status_code == 200
    retimed = c.post(f"{N}/intersections/{x}/retime", headers={**admin, "X-Request-ID": "r-42"})
    assert retimed.headers["X-Request-ID"] == "r-42"
    v_opt = retimed.json()["plans"][0]["version"]
    c.post(f"{N}/intersections/{x}/plans/1/rollback", headers=admin,
           json={"reason": "queue spill-back on the ramp"})  # fmt: skip
    [hold] = c.get(f"{N}/holds", headers=admin).json()
    c.post(f"{N}/holds/{hold['id']}/release", headers=admin, json={"reason": "ramp clear"})
    c.patch(f"{N}/schedule", headers=admin, json={"interval_s": 300, "reason": "evening peak"})
    scheduler = c.app.state.scheduler
    scheduler.run_due(time.time())
    scheduler.run_due(time.time() + 301)

    log = _all(c, admin)
    actions = [e["action"] for e in log]
    for a in ("key.create", "key.revoke", "readings.ingest", "retime", "plan.rollback",
              "hold.create", "hold.release", "schedule.update", "network.register"):  # fmt: skip
        assert a in actions, (a, actions)
    by = {e["action"]: e for e in log}  # newest first: the last kept is the oldest
    assert by["key.create"]["actor"] == admin_id
    assert by["key.create"]["target"] == f"key:{key['key_id']}"
    assert by["key.revoke"]["after"]["revoked_at"]  # type: ignore[index]
    assert by["readings.ingest"]["after"]["stored"] == len(batch)  # type: ignore[index]
    rollback = by["plan.rollback"]
    assert rollback["reason"] == "queue spill-back on the ramp" and rollback["target"] == x
    assert rollback["before"]["version"] == v_opt  # type: ignore[index]
    assert rollback["after"][0]["version"] == v_opt + 1  # type: ignore[index]
    assert by["hold.release"]["reason"] == "ramp clear"
    assert by["schedule.update"]["before"] == {"interval_s": 640.0, "paused": False}
    assert by["schedule.update"]["after"] == {"interval_s": 300.0, "paused": False}
    api_retime = next(e for e in log if e["action"] == "retime" and e["actor"] == admin_id)
    assert api_retime["request_id"] == "r-42"
    assert api_retime["before"][x]["source"] == "base"  # type: ignore[index]
    assert api_retime["after"]["plans"][x]["version"] == v_opt  # type: ignore[index]
    scheduled = [e for e in log if e["action"] == "retime" and e["actor"] != admin_id]
    assert scheduled and str(scheduled[0]["actor"]).startswith("scheduler@")
    plan = c.get(f"{N}/intersections/{x}/plans/{v_opt}", headers=admin).json()
    assert plan["actor"] == admin_id

    # filters and cursor paging
    holds = _all(c, admin, "&action=hold")
    assert [e["action"] for e in holds] == ["hold.release", "hold.create"]
    assert all(e["target"] == x for e in _all(c, admin, f"&target={x}"))
    assert {e["actor"] for e in _all(c, admin, f"&actor={admin_id}")} == {admin_id}
    seen: list[int] = []
    url = "/v1/audit?limit=3"
    while url:
        r = c.get(url, headers=admin)
        seen += [int(e["id"]) for e in r.json()]
        nxt = r.headers.get("X-Next-Cursor")
        assert (nxt is None) == ("Link" not in r.headers)
        url = f"/v1/audit?limit=3&cursor={nxt}" if nxt else ""
    assert seen == [int(e["id"]) for e in log]


def test_request_ids_on_every_answer(client: TestClient, viewer: dict[str, str]) -> None:
    for r in (
        client.get("/healthz"),
        client.get("/v1/networks"),  # 401
        client.get("/v1/networks/nowhere", headers=viewer),  # 404
        client.get("/v1/audit?limit=0", headers=viewer),  # 422
    ):
        assert len(r.headers["X-Request-ID"]) == 32
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc.1"}).headers["X-Request-ID"] == "abc.1"
    )
    odd = client.get("/healthz", headers={"X-Request-ID": "no spaces please"})
    assert odd.headers["X-Request-ID"] != "no spaces please"


def test_serve_writes_json_log_lines_with_the_request_id(
    tmp_path: Path, networks_dir: Path
) -> None:
    server = ServiceProcess(tmp_path, networks_dir)
    server.start()
    try:
        from signal_opt.storage import Repository

        repo = Repository.from_url(f"sqlite:///{server.db}")
        key, token = repo.create_key("viewer")
        repo.close()
        r = httpx.get(
            f"{server.base}/v1/networks",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-7"},
            trust_env=False,
        )
        assert r.status_code == 200 and r.headers["X-Request-ID"] == "trace-7"
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    mine = [e for e in lines if e.get("request_id") == "trace-7"]
    assert mine, lines[-5:]
    assert mine[-1]["route"] == "/v1/networks" and mine[-1]["status"] == 200
    assert mine[-1]["actor"] == key.key_id and mine[-1]["logger"] == "signal_opt.access"
    assert token not in server.log.read_text()
