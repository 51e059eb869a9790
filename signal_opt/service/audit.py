"""Who acts, and the request they act in: the audit entries the use-cases write.

The HTTP layer sets :data:`current_request` for each request (its id is also in every log
line and in the ``X-Request-ID`` response header); an entry made during the request
carries the id, and the key that authenticated is noted on it for the logs.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from signal_opt.storage import AuditEntry

__all__ = ["CLI", "RequestInfo", "current_request", "entry", "scheduler_actor"]


@dataclass
class RequestInfo:
    id: str
    actor: str | None = None
    """The API key id, once authenticated (set by the auth dependency)."""


current_request: ContextVar[RequestInfo | None] = ContextVar("signal_opt_request", default=None)

CLI = "cli"
"""The actor of changes made with the ``signal-opt`` command line."""


def scheduler_actor(holder: str) -> str:
    return f"scheduler@{holder}"


def entry(action: str, actor: str, network: str | None = None, **kw: Any) -> AuditEntry:
    """An audit entry of the current request (if any)."""
    info = current_request.get()
    return AuditEntry(action, actor, network, request_id=info.id if info else None, **kw)
