"""Plans: current, history, versions, rollback, SUMO tlLogic export."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumolib
from fastapi.testclient import TestClient

from tests.api.conftest import NETWORK, REPO

NET = f"/v1/networks/{NETWORK}"
REASON = {"reason": "test"}


def _retime(client: TestClient, headers: dict[str, str], x: str, vph: float) -> dict:
    model = client.get(f"{NET}/intersections/{x}", headers=headers).json()
    demand = {g["id"]: vph for g in model["lane_groups"]}
    r = client.post(f"{NET}/intersections/{x}/retime", headers=headers, json={"demand": demand})
    assert r.status_code == 200
    return r.json()["plans"][0]


def test_history_version_and_rollback(client: TestClient, admin: dict[str, str]) -> None:
    x = client.get(NET, headers=admin).json()["intersections"][0]
    base = client.get(f"{NET}/intersections/{x}/plan", headers=admin).json()
    assert base["version"] == 1 and base["source"] == "base"
    v2 = _retime(client, admin, x, 100.0)
    v3 = _retime(client, admin, x, 900.0)
    # (change limits hold per interval: v3 cannot move further from v1 than v2 did)
    assert (v2["version"], v3["version"]) == (2, 3) and v2["cycle_s"] != base["cycle_s"]
    got = client.get(f"{NET}/intersections/{x}/plans/2", headers=admin).json()
    assert got["cycle_s"] == v2["cycle_s"] and got["greens_s"] == v2["greens_s"]
    assert client.get(f"{NET}/intersections/{x}/plans/9", headers=admin).status_code == 404
    r = client.post(f"{NET}/intersections/{x}/plans/2/rollback", headers=admin, json=REASON)
    assert r.status_code == 201
    v4 = r.json()
    assert v4["version"] == 4 and v4["source"] == "rollback" and v4["rolled_back_from"] == 2
    assert v4["greens_s"] == v2["greens_s"] and v4["offset_s"] == v2["offset_s"]
    current = client.get(f"{NET}/intersections/{x}/plan", headers=admin).json()
    assert current["version"] == 4
    history = client.get(f"{NET}/intersections/{x}/plans?limit=2", headers=admin).json()
    assert [p["version"] for p in history] == [4, 3]
    page = client.get(f"{NET}/intersections/{x}/plans?limit=2&offset=2", headers=admin).json()
    assert [p["version"] for p in page] == [2, 1]
    assert (
        client.post(
            f"{NET}/intersections/{x}/plans/99/rollback", headers=admin, json=REASON
        ).status_code
        == 404
    )
    plans = client.get(f"{NET}/plans", headers=admin).json()
    assert len(plans) == 16 and next(p for p in plans if p["intersection_id"] == x)["version"] == 4
    some = client.get(f"{NET}/plans", headers=admin, params={"intersection": [x]}).json()
    assert [p["intersection_id"] for p in some] == [x]
    r = client.get(f"{NET}/plans", headers=admin, params={"intersection": ["zz"]})
    assert r.status_code == 404


def test_export_is_a_tllogic_additional(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(f"{NET}/plans/export", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "additional" and len(root.findall("tlLogic")) == 16
    x = root.find("tlLogic").get("id")  # type: ignore[union-attr]
    r = client.get(f"{NET}/plans/export", headers=viewer, params={"intersection": x})
    assert [t.get("id") for t in ET.fromstring(r.content).findall("tlLogic")] == [x]


@pytest.mark.sumo
def test_export_loads_in_sumo(client: TestClient, admin: dict[str, str], tmp_path: Path) -> None:
    x = client.get(NET, headers=admin).json()["intersections"][0]
    _retime(client, admin, x, 250.0)
    path = tmp_path / "plans.add.xml"
    path.write_bytes(client.get(f"{NET}/plans/export", headers=admin).content)
    net = REPO / "networks" / NETWORK / f"{NETWORK}.net.xml"
    done = subprocess.run(
        [
            sumolib.checkBinary("sumo"),
            "-n",
            str(net),
            "-a",
            str(path),
            "--begin",
            "0",
            "--end",
            "5",
            "--no-step-log",
            "true",
            "--error-log",
            str(tmp_path / "err.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Error" not in (tmp_path / "err.txt").read_text()
