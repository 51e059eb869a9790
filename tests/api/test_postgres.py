"""The same service on a real PostgreSQL (a throwaway cluster started here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, readings_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(
    make_client: Callable[..., TestClient], settings: Settings, pg_url: str
) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": pg_url}))


def test_full_flow_on_postgres(
    pg_client: TestClient, make_client: Callable[..., TestClient], settings: Settings, pg_url: str
) -> None:
    c = pg_client
    assert c.app.state.service.repo.engine.dialect.name == "postgresql"
    _, token = c.app.state.service.repo.create_key("admin", "pg")
    h = {"Authorization": f"Bearer {token}"}
    x = c.app.state.service.network(NETWORK).intersections[0].id
    batch = readings_for(c, x, minutes=5)
    url = f"/v1/networks/{NETWORK}/readings"
    before = c.post(url, headers=h, json={"readings": batch}).json()
    again = c.post(url, headers=h, json={"readings": batch}).json()
    assert again["stored"] == 0 and again["duplicates"] == len(batch)
    bad = [*batch, {**batch[0], "detector_id": "sl_nowhere"}]
    assert c.post(url, headers=h, json={"readings": bad}).status_code == 422
    assert before["stored"] in (0, len(batch))  # module-scoped database: maybe stored before
    body = c.post(f"/v1/networks/{NETWORK}/intersections/{x}/retime", headers=h).json()
    assert body["outcome"] == "ok"
    version = body["plans"][0]["version"]
    r = c.post(
        f"/v1/networks/{NETWORK}/intersections/{x}/plans/1/rollback",
        headers=h,
        json={"reason": "test"},
    )
    assert r.status_code == 201 and r.json()["version"] == version + 1
    assert c.get("/readyz").json()["storage"] == "ok"
    # a restart against the same database sees everything
    c2 = make_client(settings=settings.model_copy(update={"database_url": pg_url}))
    plan = c2.get(f"/v1/networks/{NETWORK}/intersections/{x}/plan", headers=h).json()
    assert plan["version"] == version + 1 and plan["source"] == "rollback"


def test_concurrent_retimes_get_distinct_versions(pg_client: TestClient) -> None:
    c = pg_client
    _, token = c.app.state.service.repo.create_key("operator")
    h = {"Authorization": f"Bearer {token}"}
    xs = c.app.state.service.network(NETWORK).intersections
    x = xs[1]
    demand = {g.id: 120.0 for g in x.lane_groups}
    codes: list[int] = []

    def go() -> None:
        for _ in range(5):
            codes.append(
                c.post(
                    f"/v1/networks/{NETWORK}/intersections/{x.id}/retime",
                    headers=h,
                    json={"demand": demand},
                ).status_code
            )

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 20
    versions = [
        p["version"]
        for p in c.get(
            f"/v1/networks/{NETWORK}/intersections/{x.id}/plans?limit=1000", headers=h
        ).json()
    ]
    assert len(versions) == len(set(versions)) >= 21


def test_upload_stored_in_postgres(pg_client: TestClient, tmp_path: Path) -> None:
    import subprocess

    import sumolib

    net = tmp_path / "pgrid.net.xml"
    subprocess.run(
        [
            sumolib.checkBinary("netgenerate"),
            "--grid",
            "--grid.number",
            "2",
            "--grid.attach-length",
            "100",
            "--default-junction-type",
            "traffic_light",
            "-o",
            str(net),
        ],
        check=True,
        capture_output=True,
    )
    c = pg_client
    _, token = c.app.state.service.repo.create_key("admin")
    h = {"Authorization": f"Bearer {token}"}
    r = c.post(
        "/v1/networks",
        headers=h,
        data={"name": f"pgrid-{tmp_path.name[-6:]}"},
        files={"file": ("pgrid.net.xml", net.read_bytes())},
    )
    assert r.status_code == 201, r.text
    assert c.app.state.service.repo.network_xml(r.json()["name"]) == net.read_bytes()


def test_replicas_on_postgres_retime_once(
    make_client: Callable[..., TestClient], settings: Settings, pg_url: str
) -> None:
    from tests.api.test_scheduler import replicas_retime_once

    replicas_retime_once(make_client, settings.model_copy(update={"database_url": pg_url}))


def test_two_running_replicas_share_the_schedule(
    make_client: Callable[..., TestClient], settings: Settings, pg_url: str
) -> None:
    """Two apps with their scheduler threads on one PostgreSQL: each scheduled retiming
    runs once (consecutive runs at least one interval apart), not once per replica."""
    interval = 1.0
    s = settings.model_copy(
        update={"database_url": pg_url, "scheduler_enabled": True, "retime_interval_s": interval}
    )
    from sqlalchemy import text

    first = make_client(settings=settings.model_copy(update={"database_url": pg_url}))
    with first.app.state.service.repo.engine.begin() as conn:  # a fresh schedule
        conn.execute(text("DELETE FROM scheduler_leases"))
    t0 = datetime.now(UTC)
    apps = [make_client(settings=s) for _ in range(2)]
    time.sleep(6.0)
    for c in apps:
        c.app.state.scheduler.stop()
    elapsed = (datetime.now(UTC) - t0).total_seconds()
    runs = [
        r
        for r in apps[0].app.state.service.repo.retimings(NETWORK, 1000)
        if r.trigger == "schedule" and r.started_at >= t0
    ]
    starts = sorted(r.started_at.timestamp() for r in runs)
    gaps = [b - a for a, b in pairwise(starts)]
    print(
        f"replicas: 2, interval {interval} s, {elapsed:.1f} s: {len(runs)} scheduled "
        f"retimings, smallest gap {min(gaps, default=0):.2f} s"
    )
    assert 2 <= len(runs) <= elapsed / interval + 1
    assert all(g >= 0.9 * interval for g in gaps)
