"""The real app, a real SQLite file, the bundled ``yizhuang_core`` network; keys per role."""

from __future__ import annotations

import os
import pwd
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from signal_opt.api import create_app
from signal_opt.settings import Settings
from tests.api.servers import HOW, pg_ctl, postgres_server

REPO = Path(__file__).resolve().parents[2]
NETWORK = "yizhuang_core"


@pytest.fixture
def networks_dir(tmp_path: Path) -> Path:
    """Only ``yizhuang_core`` (other bundled networks would only slow the start-up)."""
    d = tmp_path / "networks"
    d.mkdir()
    (d / NETWORK).symlink_to(REPO / "networks" / NETWORK)
    return d


@pytest.fixture
def settings(tmp_path: Path, networks_dir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/signal-opt.db",
        networks_dir=networks_dir,
        scheduler_enabled=False,
        max_upload_bytes=2_000_000,
        max_body_bytes=1_000_000,
        max_batch_readings=5000,
    )


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**kwargs: Any) -> TestClient:
        s = kwargs.pop("settings", settings)
        kwargs.setdefault("registry", CollectorRegistry())
        client = TestClient(create_app(s, **kwargs))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in reversed(clients):
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def _key(client: TestClient, role: str) -> dict[str, str]:
    _, token = client.app.state.service.repo.create_key(role, f"test {role}")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return _key(client, "admin")


@pytest.fixture
def operator(client: TestClient) -> dict[str, str]:
    return _key(client, "operator")


@pytest.fixture
def viewer(client: TestClient) -> dict[str, str]:
    return _key(client, "viewer")


def minute_start(minutes_ago: int) -> datetime:
    now = int(time.time() // 60) * 60
    return datetime.fromtimestamp(now - 60 * minutes_ago, UTC)


def readings_for(
    client: TestClient, intersection: str | None, minutes: int = 10, count: float = 4.0
) -> list[dict[str, Any]]:
    """Plausible one-minute readings of every detector (of one intersection) for ``minutes``."""
    net = client.app.state.service.network(NETWORK)
    out = []
    for m in range(minutes, 0, -1):
        start = minute_start(m).isoformat()
        for d in net.detectors:
            if intersection is not None and net.detector_tls[d.id] != intersection:
                continue
            r: dict[str, Any] = {
                "detector_id": d.id,
                "interval_start": start,
                "count": count,
                "occupancy": 12.0,
            }
            if d.kind == "queue":
                r.update(count=0.0, jam_length=15.0)
            out.append(r)
    return out


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (skips, saying why, without one)."""
    if pg_ctl() is None:
        pytest.skip(f"PostgreSQL is not installed: {HOW}")
    if os.geteuid() == 0 and not _has_user("postgres"):
        pytest.skip(
            "running as root without a 'postgres' user for initdb: "
            "install the Debian package (.ci/install-services.sh) or run as non-root"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    with postgres_server() as url:
        yield url


def new_pg_database(pg_url: str) -> str:
    """A new, empty database on the cluster of ``pg_url``; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, and a database on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    return new_pg_database(request.getfixturevalue("pg_url"))
