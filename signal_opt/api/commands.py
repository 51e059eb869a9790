"""``signal-opt serve``, ``keys create`` and ``db upgrade|current``: wired into
:mod:`signal_opt.cli`.

``add_parsers(subparsers)`` adds the sub-commands; ``COMMANDS`` maps each name to its
handler, which returns the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signal_opt.service.audit import CLI, entry
from signal_opt.service.logs import configure_logging
from signal_opt.settings import PREFIX, Settings, SettingsError, load_settings
from signal_opt.storage import ROLES, Repository
from signal_opt.storage.db import make_engine
from signal_opt.storage.schema import SchemaError, prepare, state

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(subparsers: Any) -> None:
    s = subparsers.add_parser("serve", help="run the retiming service (API, scheduler, metrics)")
    s.add_argument(
        "--config",
        help="settings file (KEY=value lines, SIGNAL_OPT_ prefix); "
        "environment variables override it",
    )
    s.add_argument("--host", help="bind address (default from settings: 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default from settings: 8000)")

    k = subparsers.add_parser("keys", help="manage API keys of the service")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    c = ksub.add_parser("create", help="create an API key and print it (shown once)")
    c.add_argument("--role", choices=ROLES, required=True)
    c.add_argument("--name", default="", help="a label, e.g. who uses the key")
    c.add_argument("--config", help="settings file (for the database URL)")

    d = subparsers.add_parser("db", help="the service's database schema (migrations)")
    dsub = d.add_subparsers(dest="db_command", required=True)
    for name, text in (
        ("upgrade", "upgrade the database to this release's schema"),
        ("current", "print the database's schema revision and this release's"),
    ):
        p = dsub.add_parser(name, help=text)
        p.add_argument("--config", help="settings file (for the database URL)")


def _settings(config: str | None) -> Settings | None:
    """The settings, or None after saying on stderr, in one line, what is wrong."""
    try:
        return load_settings(config)
    except (SettingsError, FileNotFoundError) as exc:
        print(f"signal-opt: {exc}", file=sys.stderr)
        return None


def _legacy_database(settings: Settings) -> str | None:
    """Why not to start: a database of release 0.1.0 in ``./var`` that the default data
    directory would silently leave behind."""
    explicit = os.environ.get(PREFIX + "DATA_DIR") or os.environ.get(PREFIX + "DATABASE_URL")
    old = Path("var/signal-opt.db").absolute()
    if explicit or not old.is_file() or settings.data_dir == old.parent:
        return None
    return (
        f"found {old} (where release 0.1.0 kept its database) but the data directory is "
        f"{settings.data_dir}: set SIGNAL_OPT_DATA_DIR={old.parent} to keep using it, or "
        f"move it to {settings.data_dir}/signal-opt.db"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from signal_opt.api.app import create_app

    settings = _settings(args.config)
    if settings is None:
        return 2
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if changes:
        settings = settings.model_copy(update=changes)
    legacy = _legacy_database(settings)
    if legacy:
        print(f"signal-opt serve: {legacy}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:  # a schema that does not fit is refused here, in one line, before uvicorn starts
        prepare(engine, settings.db_auto_upgrade)
    except SchemaError as exc:
        print(f"signal-opt serve: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # ours (configure_logging): JSON lines with the request id
        access_log=False,  # the request log is signal_opt.access, with the request id
        proxy_headers=True,
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if settings is None:
        return 2
    repo = Repository.from_url(settings.database_url)
    try:
        key, token = repo.create_key(args.role, args.name, entry("key.create", CLI))
    finally:
        repo.close()
    print(token)
    print(
        f"created {key.role} key {key.key_id}; the token above is shown only now", file=sys.stderr
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if settings is None:
        return 2
    engine = make_engine(settings.database_url)
    try:
        if args.db_command == "current":
            found = state(engine)
            note = " (release 0.1.0 tables, not stamped yet)" if found.legacy else ""
            print(f"database: {found.current or 'empty'}{note}; this release: {found.head}")
            return 0
        before = prepare(engine, upgrade=True)
        after = state(engine)
        if before.up_to_date:
            print(f"database schema already at {after.current}")
        else:
            print(f"database schema upgraded from {before.current or 'empty'} to {after.current}")
        return 0
    except SchemaError as exc:
        print(f"signal-opt db: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "keys": cmd_keys,
    "db": cmd_db,
}
