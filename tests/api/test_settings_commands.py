"""Settings from env / file; the CLI commands (serve parser, keys create); OpenAPI."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signal_opt.api.commands import COMMANDS, add_parsers
from signal_opt.settings import Settings, SettingsError, load_settings
from signal_opt.storage import Repository
from signal_opt.storage.db import normalize_url
from tests.api.conftest import NETWORK


def test_defaults_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    s = Settings()
    assert s.data_dir == tmp_path / "xdg" / "signal-opt"
    assert s.database_url == f"sqlite:///{tmp_path}/xdg/signal-opt/signal-opt.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGNAL_OPT_DATA_DIR", "state")  # relative: made absolute once
    assert load_settings().database_url == f"sqlite:///{tmp_path}/state/signal-opt.db"
    monkeypatch.delenv("SIGNAL_OPT_DATA_DIR")
    assert s.retime_interval_s == 640.0 and s.host == "127.0.0.1"
    cfg = tmp_path / "service.env"
    cfg.write_text("SIGNAL_OPT_PORT=9001\nSIGNAL_OPT_RETIME_INTERVAL_S=300\n")
    assert load_settings(cfg).port == 9001
    monkeypatch.setenv("SIGNAL_OPT_PORT", "9002")
    s = load_settings(cfg)
    assert (s.port, s.retime_interval_s) == (9002, 300.0)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.env")
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    return p.parse_args(argv)


def test_keys_create_prints_a_working_admin_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/keys.db"
    monkeypatch.setenv("SIGNAL_OPT_DATABASE_URL", url)
    args = _parse(["keys", "create", "--role", "admin", "--name", "ops"])
    assert COMMANDS[args.command](args) == 0
    token = capsys.readouterr().out.strip()
    repo = Repository.from_url(url)
    key = repo.authenticate(token)
    assert key is not None and key.role == "admin" and key.name == "ops"
    repo.close()
    with pytest.raises(SystemExit):
        _parse(["keys", "create", "--role", "root"])


def test_serve_parser() -> None:
    args = _parse(["serve", "--host", "0.0.0.0", "--port", "8080"])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8080)
    assert "serve" in COMMANDS


def test_openapi_documents_every_route_and_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert all(p.startswith("/v1/") for p in paths if p not in ("/healthz", "/readyz", "/metrics"))
    assert len(paths) >= 20
    schemes = spec["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    op = paths["/v1/networks/{network}/readings"]["post"]
    assert op["security"] and "ReadingBatchIn" in str(op["requestBody"])


def test_unknown_settings_are_refused_naming_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNAL_OPT_RETIME_INTERVAL", "300")
    with pytest.raises(SettingsError, match="did you mean SIGNAL_OPT_RETIME_INTERVAL_S"):
        load_settings()
    args = _parse(["serve"])
    assert COMMANDS["serve"](args) == 2  # refused before anything starts
    assert "unknown setting SIGNAL_OPT_RETIME_INTERVAL in the environment" in (
        capsys.readouterr().err
    )
    monkeypatch.delenv("SIGNAL_OPT_RETIME_INTERVAL")
    cfg = tmp_path / "service.env"
    cfg.write_text("SIGNAL_OPT_DATABSE_URL=sqlite:///x.db\nSIGNAL_OPT_PORT=9001\n")
    with pytest.raises(SettingsError, match=f"in {cfg}; did you mean SIGNAL_OPT_DATABASE_URL"):
        load_settings(cfg)
    monkeypatch.setenv("SIGNAL_OPT_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="port"):
        load_settings()


def test_batch_limit_must_fit_the_body_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_OPT_MAX_BODY_BYTES", str(8 * 1024 * 1024))
    with pytest.raises(SettingsError, match="MAX_BATCH_READINGS=100000 needs"):
        load_settings()
    monkeypatch.setenv("SIGNAL_OPT_MAX_BATCH_READINGS", "40000")
    assert load_settings().max_batch_readings == 40000


def test_a_release0_database_in_var_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "signal-opt.db").write_bytes(b"")
    assert COMMANDS["serve"](_parse(["serve"])) == 2
    assert f"SIGNAL_OPT_DATA_DIR={tmp_path}/var" in capsys.readouterr().err


def test_fifteen_minutes_of_the_district_fit_in_one_batch(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    """60,300 readings (15 min x 4,020 detectors of yizhuang_district) with ids as long as
    the district's, under the default limits, through the real app."""
    defaults = Settings()
    s = settings.model_copy(
        update={
            "max_body_bytes": defaults.max_body_bytes,
            "max_batch_readings": defaults.max_batch_readings,
            "future_tolerance_s": 5.0,
        }
    )
    c = make_client(settings=s)
    _, token = c.app.state.service.repo.create_key("operator")
    net = c.app.state.service.network(NETWORK)
    minutes = -(-60_300 // len(net.detectors))
    now = int(time.time() // 60) * 60
    batch = [
        {
            "detector_id": d.id,
            "interval_start": datetime.fromtimestamp(now - 60 * (m + 1), UTC).isoformat(),
            "interval_s": 60,
            "count": 12,
            "occupancy": 18.5,
            "speed": 9.1,
            "jam_length": 30.5,
        }
        for m in range(minutes)
        for d in net.detectors
    ][:60_300]
    body = json.dumps({"readings": batch}).encode()
    # ids of the district are up to 15 characters; these are padded to that in the count
    longest = max(len(d.id) for d in net.detectors)
    assert len(body) + 60_300 * max(0, 15 - longest) < defaults.max_body_bytes
    r = c.post(
        f"/v1/networks/{NETWORK}/readings",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text[:500]
    assert r.json()["received"] == 60_300
