"""API keys: 401 without / with a wrong or revoked key, 403 for a too-low role, hashes only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import NETWORK

READ = f"/v1/networks/{NETWORK}"


def test_missing_or_wrong_key_is_401(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(READ)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "missing API key" in r.json()["detail"]
    token = viewer["Authorization"].removeprefix("Bearer ")
    for bad in ("nonsense", token[:-1] + ("x" if token[-1] != "x" else "y"), "so_00000000_x"):
        r = client.get(READ, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
        assert r.json()["detail"] == "invalid or revoked API key"


def test_x_api_key_header_works(client: TestClient, viewer: dict[str, str]) -> None:
    token = viewer["Authorization"].removeprefix("Bearer ")
    assert client.get(READ, headers={"X-API-Key": token}).status_code == 200


def test_roles_are_ordered(
    client: TestClient, viewer: dict[str, str], operator: dict[str, str], admin: dict[str, str]
) -> None:
    x = client.app.state.service.network(NETWORK).intersections[0].id
    ingest = (f"/v1/networks/{NETWORK}/readings", {"readings": []})
    rollback = f"/v1/networks/{NETWORK}/intersections/{x}/plans/1/rollback"
    # viewer: reads only
    assert client.get(f"{READ}/plans", headers=viewer).status_code == 200
    r = client.post(ingest[0], json=ingest[1], headers=viewer)
    assert r.status_code == 403 and "'operator' role" in r.json()["detail"]
    assert client.post(f"{READ}/retime", headers=viewer).status_code == 403
    # operator: ingest / retime, not rollback, keys or networks
    assert client.post(rollback, headers=operator).status_code == 403
    assert client.get("/v1/keys", headers=operator).status_code == 403
    assert (
        client.post(
            "/v1/networks", headers=operator, files={"file": ("a.net.xml", b"<net/>")}
        ).status_code
        == 403
    )
    # admin: everything
    assert client.post(rollback, headers=admin, json={"reason": "test"}).status_code == 201
    assert client.get("/v1/keys", headers=admin).status_code == 200


def test_operational_endpoints_are_open(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_key_lifecycle_and_only_hashes_stored(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post("/v1/keys", headers=admin, json={"role": "operator", "name": "feed"})
    assert r.status_code == 201
    created = r.json()
    token = created["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(READ, headers=headers).status_code == 200
    listed = client.get("/v1/keys", headers=admin).json()
    assert any(k["key_id"] == created["key_id"] for k in listed)
    assert all("token" not in k and "key_hash" not in k for k in listed)
    engine = client.app.state.service.repo.engine
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key_id, key_hash, role, name FROM api_keys")).all()
    assert rows and all(token not in " ".join(map(str, row)) for row in rows)
    r = client.delete(f"/v1/keys/{created['key_id']}", headers=admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.get(READ, headers=headers).status_code == 401
    assert client.delete("/v1/keys/ffffffff", headers=admin).status_code == 404
    r = client.post("/v1/keys", headers=admin, json={"role": "root"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role"]
