"""``signal-opt serve`` and ``signal-opt keys create``: wired into :mod:`signal_opt.cli`.

``add_parsers(subparsers)`` adds the sub-commands; ``COMMANDS`` maps each name to its
handler, which returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from signal_opt.settings import load_settings
from signal_opt.storage import ROLES, Repository

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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from signal_opt.api.app import create_app

    settings = load_settings(args.config)
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if changes:
        settings = settings.model_copy(update=changes)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    repo = Repository.from_url(settings.database_url)
    try:
        key, token = repo.create_key(args.role, args.name)
    finally:
        repo.close()
    print(token)
    print(
        f"created {key.role} key {key.key_id}; the token above is shown only now", file=sys.stderr
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "keys": cmd_keys,
}
