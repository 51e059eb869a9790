"""Who acts, and the request they act in: the audit entries the use-cases write.

The HTTP layer sets :data:`request_id` for each request (it is also in every log line and
in the ``X-Request-ID`` response header); an entry made during the request carries it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from signal_opt.storage import AuditEntry

__all__ = ["CLI", "entry", "request_id", "scheduler_actor"]

request_id: ContextVar[str | None] = ContextVar("signal_opt_request_id", default=None)

CLI = "cli"
"""The actor of changes made with the ``signal-opt`` command line."""


def scheduler_actor(holder: str) -> str:
    return f"scheduler@{holder}"


def entry(action: str, actor: str, network: str | None = None, **kw: Any) -> AuditEntry:
    """An audit entry of the current request (if any)."""
    return AuditEntry(action, actor, network, request_id=request_id.get(), **kw)
