"""Networks: list, intersection model JSON, detectors, upload validation and persistence."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sumolib
from fastapi.testclient import TestClient

from tests.api.conftest import NETWORK


def _netgenerate(path: Path, tls: bool) -> bytes:
    subprocess.run(
        [
            sumolib.checkBinary("netgenerate"),
            "--grid",
            "--grid.number",
            "2",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "100",
            "--default-junction-type",
            "traffic_light" if tls else "priority",
            "--no-turnarounds",
            "true",
            "-o",
            str(path),
            "--seed",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _netgenerate(tmp_path_factory.mktemp("grid") / "grid.net.xml", tls=True)


def test_list_and_models(client: TestClient, viewer: dict[str, str]) -> None:
    nets = client.get("/v1/networks", headers=viewer).json()
    core = next(n for n in nets if n["name"] == NETWORK)
    assert core["source"] == "bundled" and core["n_intersections"] == 16
    x = core["intersections"][0]
    model = client.get(f"/v1/networks/{NETWORK}/intersections/{x}", headers=viewer).json()
    assert model["id"] == x and model["cycle_min_s"] < model["cycle_max_s"]
    stage = model["stages"][0]
    assert stage["min_green_s"] > 0 and stage["intergreen"] and stage["lane_groups"]
    groups = {g["id"] for g in model["lane_groups"]}
    assert set(stage["lane_groups"]) <= groups
    assert len(client.get(f"/v1/networks/{NETWORK}/intersections", headers=viewer).json()) == 16
    dets = client.get(f"/v1/networks/{NETWORK}/detectors", headers=viewer).json()
    assert {d["kind"] for d in dets} == {"stopline", "advance", "queue"}
    assert all(d["intersection_id"] in core["intersections"] for d in dets)


def test_unknown_ids_are_404(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get("/v1/networks/atlantis", headers=viewer)
    assert r.status_code == 404 and "atlantis" in r.json()["detail"]
    r = client.get(f"/v1/networks/{NETWORK}/intersections/nowhere", headers=viewer)
    assert r.status_code == 404 and "nowhere" in r.json()["detail"]


def test_upload_registers_and_persists(
    make_client: Callable[..., TestClient], client: TestClient, admin: dict[str, str], grid: bytes
) -> None:
    r = client.post("/v1/networks", headers=admin, files={"file": ("grid.net.xml", grid)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "grid" and body["source"] == "uploaded"
    assert body["n_intersections"] >= 1 and body["n_detectors"] > 0
    plans = client.get("/v1/networks/grid/plans", headers=admin).json()
    assert len(plans) == body["n_intersections"]
    assert all(p["version"] == 1 and p["source"] == "base" for p in plans)
    r = client.post("/v1/networks", headers=admin, files={"file": ("grid.net.xml", grid)})
    assert r.status_code == 409
    # a restart (new app, same database) still has it
    again = make_client()
    names = [n["name"] for n in again.get("/v1/networks", headers=admin).json()]
    assert "grid" in names


def test_upload_with_explicit_name(client: TestClient, admin: dict[str, str], grid: bytes) -> None:
    r = client.post(
        "/v1/networks",
        headers=admin,
        data={"name": "bad name!"},
        files={"file": ("g.net.xml", grid)},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    r = client.post(
        "/v1/networks",
        headers=admin,
        data={"name": "east-grid"},
        files={"file": ("g.net.xml", grid)},
    )
    assert r.status_code == 201 and r.json()["name"] == "east-grid"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE net [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<net><tlLogic id="&b;"/></net>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE net [<!ENTITY x SYSTEM "file:///etc/passwd">]><net><tlLogic id="&x;"/></net>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "unsafe XML"),
        (EXTERNAL, "unsafe XML"),
        (b"<net><tlLogic", "not well-formed"),
        (b"", "empty"),
        (b"<routes><tlLogic/></routes>", "root element is <routes>"),
        (b"<net><edge id='a'/></net>", "no traffic lights"),
        (
            b"<net><tlLogic id='x' type='static' programID='0' offset='0'/></net>",
            "not a usable SUMO network",
        ),
    ],
)
def test_upload_rejects_bad_files(
    client: TestClient, admin: dict[str, str], data: bytes, message: str
) -> None:
    r = client.post("/v1/networks", headers=admin, files={"file": ("x.net.xml", data)})
    assert r.status_code == 422, r.text
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "file"] and message in err["msg"]
    names = [n["name"] for n in client.get("/v1/networks", headers=admin).json()]
    assert names == [NETWORK]


def test_upload_without_traffic_lights(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    data = _netgenerate(tmp_path / "plain.net.xml", tls=False)
    r = client.post("/v1/networks", headers=admin, files={"file": ("plain.net.xml", data)})
    assert r.status_code == 422 and "no traffic lights" in r.json()["detail"][0]["msg"]


def test_upload_size_limit(client: TestClient, admin: dict[str, str]) -> None:
    limit = client.app.state.settings.max_upload_bytes
    data = b"<net>" + b" " * (limit + 200_000) + b"</net>"
    r = client.post("/v1/networks", headers=admin, files={"file": ("big.net.xml", data)})
    assert r.status_code == 413
    data = b"<net>" + b" " * (limit + 10) + b"</net>"  # within the multipart slack
    r = client.post("/v1/networks", headers=admin, files={"file": ("big.net.xml", data)})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
