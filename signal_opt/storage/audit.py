"""The audit log: one row per change of state, written in the change's own transaction.

:class:`AuditEntry` is what a use-case hands to a repository write; :func:`write_audit`
adds it on the same connection, so a change and its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Connection, Engine

from signal_opt.storage.tables import AuditRow

__all__ = ["AuditEntry", "AuditFilter", "AuditLog", "AuditRecord", "write_audit"]

_AUDIT = cast(Table, AuditRow.__table__)


@dataclass(frozen=True)
class AuditEntry:
    """A change to record: ``action`` (``hold.create``...), by ``actor`` (API key id,
    ``scheduler@<replica>``, ``cli``), on ``network`` / ``target``, with the state
    ``before`` and ``after`` and the operator's ``reason``."""

    action: str
    actor: str
    network: str | None = None
    target: str | None = None
    before: Any = None
    after: Any = None
    reason: str | None = None
    request_id: str | None = None

    def with_after(self, after: Any) -> AuditEntry:
        return replace(self, after=after)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    network: str | None
    target: str | None
    before: Any
    after: Any
    reason: str | None
    request_id: str | None


@dataclass(frozen=True)
class AuditFilter:
    network: str | None = None
    actor: str | None = None
    action: str | None = None
    """An action (``hold.create``) or a family (``hold``: every ``hold.*``)."""
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def write_audit(conn: Connection, entry: AuditEntry | None) -> None:
    if entry is None:
        return
    conn.execute(insert(_AUDIT).values(at=_now(), **entry.__dict__))


def _record(r: Mapping[Any, Any]) -> AuditRecord:
    at = r["at"] if r["at"].tzinfo is not None else r["at"].replace(tzinfo=UTC)
    return AuditRecord(**{**r, "at": at})


class AuditLog:
    """Reading the audit log (mixed into :class:`~signal_opt.storage.Repository`)."""

    engine: Engine

    def audit(self, entry: AuditEntry) -> None:
        """Record ``entry`` alone (a change that touches no other table)."""
        with self.engine.begin() as conn:
            write_audit(conn, entry)

    def audit_log(
        self, where: AuditFilter, limit: int = 100, before_id: int | None = None
    ) -> list[AuditRecord]:
        """Entries matching ``where``, newest first, with ids below ``before_id``."""
        c = _AUDIT.c
        q = select(_AUDIT).order_by(c.id.desc()).limit(limit)
        if before_id is not None:
            q = q.where(c.id < before_id)
        for column, value in (
            (c.network, where.network),
            (c.actor, where.actor),
            (c.target, where.target),
        ):
            if value is not None:
                q = q.where(column == value)
        if where.action is not None:
            q = q.where(
                (c.action == where.action)
                | c.action.startswith(where.action + ".", autoescape=True)
            )
        if where.since is not None:
            q = q.where(c.at >= where.since)
        if where.until is not None:
            q = q.where(c.at < where.until)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q).mappings()]
