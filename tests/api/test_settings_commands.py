"""Settings from env / file; the CLI commands (serve parser, keys create); OpenAPI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signal_opt.api.commands import COMMANDS, add_parsers
from signal_opt.settings import Settings, load_settings
from signal_opt.storage import Repository
from signal_opt.storage.db import normalize_url


def test_defaults_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.database_url == "sqlite:///./var/signal-opt.db"
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
