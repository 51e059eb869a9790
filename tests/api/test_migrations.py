"""Schema migrations: a database made by release 0.1.0 (committed fixtures, dumped from
databases that release's ``create_all`` made) upgrades with every row intact, on SQLite
and PostgreSQL; a fresh database built by the migrations equals the tables of the code;
a newer schema is refused, an older one too when upgrades at start-up are off."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from signal_opt.api import create_app
from signal_opt.api.commands import COMMANDS
from signal_opt.settings import Settings
from signal_opt.storage import Repository
from signal_opt.storage.db import make_engine
from signal_opt.storage.schema import SchemaError, head, prepare, state
from signal_opt.storage.tables import Base
from tests.api.conftest import new_pg_database

FIXTURES = Path(__file__).with_name("fixtures")
RELEASE0 = {
    "networks": ["name", "source", "path", "net_xml", "sha256", "created_at"],
    "readings": [
        "network", "detector_id", "start_ms", "interval_s", "count", "occupancy", "speed",
        "jam_length",
    ],
    "retimings": [
        "id", "network", "trigger", "demand_source", "started_at", "duration_s", "outcome",
        "n_optimized", "n_fallback",
    ],
    "plans": [
        "id", "network", "intersection_id", "version", "cycle_s", "greens_s", "offset_s",
        "source", "retiming_id", "rolled_back_from", "error", "details", "created_at",
    ],
    "api_keys": ["key_id", "key_hash", "role", "name", "created_at", "revoked_at"],
    "scheduler_leases": ["name", "due_at", "holder", "claimed_at"],
}  # fmt: skip
"""Tables and columns of release 0.1.0: each must come through an upgrade unchanged."""


def release0_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database restored from the release-0.1.0 dump of ``kind``; its URL."""
    sql = (FIXTURES / f"release0.{kind}.sql").read_text()
    if kind == "sqlite":
        path = tmp_path / "release0.db"
        con = sqlite3.connect(path)
        con.executescript(sql)
        con.close()
        return f"sqlite:///{path}"
    import psycopg

    url = new_pg_database(request.getfixturevalue("pg_url"))
    # pg_dump's psql meta-commands (\\restrict ...) are for psql only
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("\\"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())
    return url


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every release-0.1.0 table, its columns only, in key order."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: [
                    tuple(r)
                    for r in conn.execute(
                        text(
                            f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols[:3])}"
                        )
                    )
                ]
                for table, cols in RELEASE0.items()
            }
    finally:
        engine.dispose()


def _db(command: str) -> argparse.Namespace:
    return argparse.Namespace(command="db", db_command=command, config=None)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_release0_database_upgrades_with_everything_intact(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = release0_database(kind, tmp_path, request)
    info = json.loads((FIXTURES / f"release0.{kind}.json").read_text())
    before = snapshot(url)
    assert len(before["plans"]) > 4 and len(before["readings"]) > 100
    assert len(before["api_keys"]) == 2 and len(before["retimings"]) == 1

    monkeypatch.setenv("SIGNAL_OPT_DATABASE_URL", url)
    assert COMMANDS["db"](_db("current")) == 0
    assert "0001 (release 0.1.0 tables, not stamped yet)" in capsys.readouterr().out
    assert COMMANDS["db"](_db("upgrade")) == 0
    assert f"upgraded from 0001 to {head()}" in capsys.readouterr().out
    assert COMMANDS["db"](_db("upgrade")) == 0
    assert "already at" in capsys.readouterr().out

    assert snapshot(url) == before
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []

    # the service runs on it: plans, history, keys as they were
    s = Settings(database_url=url, register_bundled=False, scheduler_enabled=False)
    with TestClient(create_app(s, registry=CollectorRegistry())) as c:
        h = {"Authorization": f"Bearer {info['token']}"}
        net, x = info["network"], info["rolled_back"]
        plans = c.get(f"/v1/networks/{net}/plans", headers=h)
        assert plans.status_code == 200, plans.text
        latest: dict[str, tuple[Any, ...]] = {}
        for row in before["plans"]:  # ordered by id: the last one of each is current
            latest[row[2]] = row
        got = {p["intersection_id"]: (p["version"], p["cycle_s"]) for p in plans.json()}
        assert got == {k: (r[3], r[4]) for k, r in latest.items()}
        history = c.get(f"/v1/networks/{net}/intersections/{x}/plans", headers=h).json()
        assert [p["source"] for p in history] == ["rollback", "optimized", "base"]
        assert history[0]["rolled_back_from"] == 1
        keys = c.get("/v1/keys", headers=h).json()
        assert sorted(k["role"] for k in keys) == ["admin", "viewer"]
        assert next(k for k in keys if k["role"] == "viewer")["revoked_at"] is not None


def test_fresh_database_is_built_by_the_migrations(db_url: str) -> None:
    repo = Repository.from_url(db_url)
    try:
        with repo.engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert ctx.get_current_revision() == head()
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        repo.close()


def test_newer_schema_is_refused(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Repository.from_url(db_url).close()
    engine = create_engine(make_engine(db_url).url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d_from_the_future'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="newer than this signal-opt knows"):
        Repository.from_url(db_url)
    monkeypatch.setenv("SIGNAL_OPT_DATABASE_URL", db_url)
    args = argparse.Namespace(command="serve", config=None, host=None, port=None)
    assert COMMANDS["serve"](args) == 2
    err = capsys.readouterr().err
    assert "f00d_from_the_future" in err and "newer than this signal-opt knows" in err


def test_older_schema_waits_for_db_upgrade_when_auto_upgrade_is_off(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = release0_database("sqlite", tmp_path, request)
    engine = make_engine(url)
    with pytest.raises(SchemaError, match="signal-opt db upgrade"):
        prepare(engine, upgrade=False)
    assert state(engine).legacy
    prepare(engine, upgrade=True)
    assert state(engine).up_to_date
    engine.dispose()
