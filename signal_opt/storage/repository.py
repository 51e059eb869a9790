"""The one gateway to storage: every method is one transaction and returns plain records.

ORM rows never leave this module; callers get the frozen dataclasses below. Writes that
belong together (a batch of readings, a retiming and all its plan versions, a network and
its base plans) commit together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from signal_opt.model import Plan
from signal_opt.storage.audit import AuditEntry, AuditLog, write_audit
from signal_opt.storage.control import Control
from signal_opt.storage.db import make_engine, make_sessions
from signal_opt.storage.schema import prepare
from signal_opt.storage.tables import (
    ApiKeyRow,
    NetworkRow,
    PlanRow,
    ReadingRow,
    RetimingRow,
)

ROLES = ("viewer", "operator", "admin")
"""In increasing order of rights; each role can do everything the ones before it can."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NetworkRecord:
    name: str
    source: str
    path: str | None
    sha256: str
    created_at: datetime


@dataclass(frozen=True)
class ReadingRecord:
    detector_id: str
    start_ms: int
    interval_s: float
    count: float
    occupancy: float
    speed: float | None = None
    jam_length: float | None = None


@dataclass(frozen=True)
class NewPlan:
    """A plan to store as the next version of its intersection."""

    plan: Plan
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    rolled_back_from: int | None = None


@dataclass(frozen=True)
class StoredPlan:
    network: str
    intersection_id: str
    version: int
    cycle: float
    greens: tuple[float, ...]
    offset: float
    source: str
    retiming_id: int | None
    rolled_back_from: int | None
    error: str | None
    details: dict[str, Any]
    created_at: datetime
    actor: str | None = None
    """Who stored it (API key id, ``scheduler@<replica>``); None before release 0.2."""

    def to_plan(self) -> Plan:
        return Plan(self.intersection_id, self.cycle, self.greens, self.offset, self.source)


@dataclass(frozen=True)
class RetimingRecord:
    id: int
    network: str
    trigger: str
    demand_source: str
    started_at: datetime
    duration_s: float
    outcome: str
    n_optimized: int
    n_fallback: int
    held: dict[str, str] | None = None
    """Intersections left out because an operator holds them: id -> why."""
    actor: str | None = None


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


def _brief(p: StoredPlan | None) -> dict[str, Any] | None:
    """A plan version in an audit entry: version, cycle, greens, offset, source."""
    if p is None:
        return None
    return {
        "version": p.version,
        "cycle_s": p.cycle,
        "greens_s": list(p.greens),
        "offset_s": p.offset,
        "source": p.source,
    }


def _ingest_audit(
    audit: AuditEntry | None, readings: Sequence[ReadingRecord], stored: int
) -> AuditEntry | None:
    if audit is None or not readings:
        return audit
    return audit.with_after(
        {
            "received": len(readings),
            "stored": stored,
            "first_start_ms": min(r.start_ms for r in readings),
            "last_start_ms": max(r.start_ms for r in readings),
            "detectors": len({r.detector_id for r in readings}),
        }
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_PLANS = cast(Table, PlanRow.__table__)
_READINGS = cast(Table, ReadingRow.__table__)
_RETIMINGS = cast(Table, RetimingRow.__table__)


def _plan(r: Mapping[Any, Any]) -> StoredPlan:
    return StoredPlan(
        r["network"],
        r["intersection_id"],
        r["version"],
        r["cycle_s"],
        tuple(float(g) for g in r["greens_s"]),
        r["offset_s"],
        r["source"],
        r["retiming_id"],
        r["rolled_back_from"],
        r["error"],
        dict(r["details"] or {}),
        _aware(r["created_at"]),
        r["actor"],
    )


def _retiming(row: RetimingRow) -> RetimingRecord:
    return RetimingRecord(
        row.id,
        row.network,
        row.trigger,
        row.demand_source,
        _aware(row.started_at),
        row.duration_s,
        row.outcome,
        row.n_optimized,
        row.n_fallback,
        row.held,
        row.actor,
    )


def _key(row: ApiKeyRow) -> ApiKey:
    revoked = _aware(row.revoked_at) if row.revoked_at else None
    return ApiKey(row.key_id, row.role, row.name, _aware(row.created_at), revoked)


class Repository(Control, AuditLog):
    """Storage of one service; ``Repository.from_url`` brings the schema up to date."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] = make_sessions(engine)

    @classmethod
    def from_url(cls, url: str, upgrade: bool = True) -> Repository:
        """Storage at ``url``, its schema upgraded (or, with ``upgrade=False``, checked):
        :class:`~signal_opt.storage.schema.SchemaError` when it does not fit this code."""
        engine = make_engine(url)
        try:
            prepare(engine, upgrade)
        except Exception:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- networks ----------------------------------------------------------------------
    def networks(self) -> list[NetworkRecord]:
        with self._sessions() as s:
            rows = s.scalars(select(NetworkRow).order_by(NetworkRow.name)).all()
            return [
                NetworkRecord(r.name, r.source, r.path, r.sha256, _aware(r.created_at))
                for r in rows
            ]

    def network_xml(self, name: str) -> bytes | None:
        with self._sessions() as s:
            return s.scalar(select(NetworkRow.net_xml).where(NetworkRow.name == name))

    def add_network(
        self,
        record: NetworkRecord,
        xml: bytes | None,
        base_plans: Sequence[Plan],
        audit: AuditEntry | None = None,
    ) -> None:
        """The network and version 1 (its own program) of every intersection's plan."""
        with self._sessions.begin() as s:
            s.add(
                NetworkRow(
                    name=record.name,
                    source=record.source,
                    path=record.path,
                    net_xml=xml,
                    sha256=record.sha256,
                    created_at=record.created_at,
                )
            )
            s.flush()
            actor = audit.actor if audit else None
            plans = [NewPlan(p) for p in base_plans]
            self._add_plans(s.connection(), record.name, plans, None, actor)
            write_audit(s.connection(), audit)

    # -- detector readings ---------------------------------------------------------------
    def ingest(
        self, network: str, readings: Sequence[ReadingRecord], audit: AuditEntry | None = None
    ) -> int:
        """Store ``readings``; those already stored (same detector and start) are skipped.

        Returns how many were new. All or nothing: one transaction, with ``audit`` (its
        ``after``: how many were received and stored, the time span).
        """
        rows = [{"network": network, **r.__dict__} for r in readings]
        if not rows:
            return 0
        dialect = self.engine.dialect.name
        with self._sessions.begin() as s:
            if dialect in ("sqlite", "postgresql"):
                # Core, not ORM, insert: one multi-row statement per ~1,000 readings.
                make = sqlite_insert if dialect == "sqlite" else pg_insert
                stmt = make(_READINGS).on_conflict_do_nothing()
                conn = s.connection()
                n = len(conn.execute(stmt.returning(_READINGS.c.start_ms), rows).all())
                write_audit(conn, _ingest_audit(audit, readings, n))
                return n
            keys = {(r["detector_id"], r["start_ms"]) for r in rows}
            existing = set(
                s.execute(
                    select(ReadingRow.detector_id, ReadingRow.start_ms).where(
                        ReadingRow.network == network,
                        tuple_(ReadingRow.detector_id, ReadingRow.start_ms).in_(keys),
                    )
                )
            )
            new = [r for r in rows if (r["detector_id"], r["start_ms"]) not in existing]
            if new:
                s.connection().execute(insert(_READINGS), new)
            write_audit(s.connection(), _ingest_audit(audit, readings, len(new)))
            return len(new)

    def readings_since(
        self, network: str, since_ms: int, detector_ids: Collection[str] | None = None
    ) -> list[ReadingRecord]:
        """Readings of ``network`` starting at or after ``since_ms``, oldest first."""
        q = select(
            ReadingRow.detector_id,
            ReadingRow.start_ms,
            ReadingRow.interval_s,
            ReadingRow.count,
            ReadingRow.occupancy,
            ReadingRow.speed,
            ReadingRow.jam_length,
        ).where(ReadingRow.network == network, ReadingRow.start_ms >= since_ms)
        if detector_ids is not None:
            q = q.where(ReadingRow.detector_id.in_(list(detector_ids)))
        with self._sessions() as s:
            return [ReadingRecord(*row) for row in s.execute(q.order_by(ReadingRow.start_ms))]

    def readings_between(
        self,
        network: str,
        start_ms: int,
        end_ms: int,
        detector_ids: Collection[str],
        reaching_ms: int | None = None,
    ) -> list[ReadingRecord]:
        """Stored readings of ``detector_ids`` starting in ``[start_ms, end_ms)`` (and, if
        given, ending after ``reaching_ms``)."""
        c = ReadingRow
        q = select(
            c.detector_id, c.start_ms, c.interval_s, c.count, c.occupancy, c.speed, c.jam_length
        ).where(c.network == network, c.start_ms >= start_ms, c.start_ms < end_ms)
        if reaching_ms is not None:
            q = q.where(c.start_ms + c.interval_s * 1000 > reaching_ms)
        wanted = set(detector_ids)
        if len(wanted) <= 500:
            q = q.where(c.detector_id.in_(sorted(wanted)))
        with self._sessions() as s:
            return [ReadingRecord(*row) for row in s.execute(q) if row[0] in wanted]

    def replace_readings(
        self, network: str, readings: Sequence[ReadingRecord], audit: AuditEntry
    ) -> int:
        """Store ``readings`` over the stored ones of the same detector and start (and new
        ones as they are); one transaction with ``audit``. Returns how many were stored."""
        rows = [{"network": network, **r.__dict__} for r in readings]
        if not rows:
            return 0
        t = _READINGS
        keys = [(r.detector_id, r.start_ms) for r in readings]
        with self.engine.begin() as conn:
            for k in range(0, len(keys), 1000):  # bound the statement's parameters
                key = tuple_(t.c.detector_id, t.c.start_ms)
                conn.execute(delete(t).where(t.c.network == network, key.in_(keys[k : k + 1000])))
            conn.execute(insert(t), rows)
            write_audit(conn, audit)
        return len(rows)

    def newest_reading_end_ms(self, network: str) -> int | None:
        """End of the newest stored reading of ``network`` (epoch ms), or None."""
        c = ReadingRow
        with self._sessions() as s:
            start = s.scalar(select(func.max(c.start_ms)).where(c.network == network))
            if start is None:
                return None
            interval = s.scalar(
                select(func.max(c.interval_s)).where(c.network == network, c.start_ms == start)
            )
            return int(start + (interval or 0.0) * 1000)

    def prune_readings(self, before_ms: int) -> int:
        with self._sessions.begin() as s:
            result = s.execute(delete(ReadingRow).where(ReadingRow.start_ms < before_ms))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- plans and retimings ------------------------------------------------------------------
    # Core statements (not ORM units of work): a retiming is on the hot path of the API.
    def _add_plans(
        self,
        conn: Connection,
        network: str,
        plans: Sequence[NewPlan],
        retiming_id: int | None,
        actor: str | None,
    ) -> list[StoredPlan]:
        ids = [p.plan.intersection_id for p in plans]
        latest = dict(
            conn.execute(
                select(_PLANS.c.intersection_id, func.max(_PLANS.c.version))
                .where(_PLANS.c.network == network, _PLANS.c.intersection_id.in_(ids))
                .group_by(_PLANS.c.intersection_id)
            ).all()
        )
        now = utcnow()
        rows = [
            {
                "network": network,
                "intersection_id": p.plan.intersection_id,
                "version": int(latest.get(p.plan.intersection_id) or 0) + 1,
                "cycle_s": float(p.plan.cycle),
                "greens_s": [float(g) for g in p.plan.greens],
                "offset_s": float(p.plan.offset),
                "source": p.plan.source,
                "retiming_id": retiming_id,
                "rolled_back_from": p.rolled_back_from,
                "error": p.error,
                "details": p.details,
                "created_at": now,
                "actor": actor,
            }
            for p in plans
        ]
        if rows:
            conn.execute(insert(_PLANS), rows)
        return [_plan(r) for r in rows]

    def add_plans(
        self,
        network: str,
        plans: Sequence[NewPlan],
        audit: AuditEntry | None = None,
        then: Callable[[Connection, list[StoredPlan]], object] | None = None,
    ) -> list[StoredPlan]:
        """Store ``plans`` as the next version of each of their intersections; ``audit``
        is recorded in the same transaction, with the stored versions as ``after``, and
        ``then(conn, stored)`` runs in it too (a rollback's hold)."""
        with self.engine.begin() as conn:
            stored = self._add_plans(conn, network, plans, None, audit.actor if audit else None)
            if then is not None:
                then(conn, stored)
            if audit is not None:
                after = [
                    {"intersection_id": p.intersection_id, "version": p.version} for p in stored
                ]
                write_audit(conn, audit if audit.after is not None else audit.with_after(after))
            return stored

    def add_retiming(
        self,
        record: RetimingRecord,
        plans: Sequence[NewPlan],
        audit: AuditEntry | None = None,
        before: Mapping[str, StoredPlan] | None = None,
    ) -> tuple[RetimingRecord, list[StoredPlan]]:
        """A retiming (``record.id`` is ignored) and the plan versions it produced, with
        ``audit`` (before: the versions in ``before``; after: the new ones)."""
        table = _RETIMINGS
        values = {k: v for k, v in record.__dict__.items() if k != "id"}
        with self.engine.begin() as conn:
            rid = conn.execute(insert(table).returning(table.c.id), values).scalar_one()
            stored = self._add_plans(conn, record.network, plans, rid, record.actor)
            if audit is not None:
                old = before or {}
                write_audit(
                    conn,
                    replace(
                        audit,
                        target=audit.target or f"retiming:{rid}",
                        before=audit.before
                        or {p.intersection_id: _brief(old.get(p.intersection_id)) for p in stored},
                        after={
                            "retiming_id": int(rid),
                            "outcome": record.outcome,
                            "held": record.held or {},
                            "plans": {p.intersection_id: _brief(p) for p in stored},
                        },
                    ),
                )
        return replace(record, id=int(rid)), stored

    def current_plans(
        self, network: str, ids: Collection[str] | None = None
    ) -> dict[str, StoredPlan]:
        """Latest version of each intersection's plan (all of ``network``, or of ``ids``)."""
        c = _PLANS.c
        if ids is not None and len(ids) == 1:
            q = (
                select(_PLANS)
                .where(c.network == network, c.intersection_id.in_(list(ids)))
                .order_by(c.version.desc())
                .limit(1)
            )
        else:
            latest = (
                select(c.intersection_id, func.max(c.version).label("v"))
                .where(c.network == network)
                .group_by(c.intersection_id)
            )
            if ids is not None:
                latest = latest.where(c.intersection_id.in_(list(ids)))
            sub = latest.subquery()
            q = (
                select(_PLANS)
                .join(sub, (c.intersection_id == sub.c.intersection_id) & (c.version == sub.c.v))
                .where(c.network == network)
            )
        with self.engine.connect() as conn:
            return {r["intersection_id"]: _plan(r) for r in conn.execute(q).mappings()}

    def reference_plans(
        self, network: str, ids: Collection[str], since: datetime
    ) -> dict[str, StoredPlan]:
        """The plan each of ``ids`` had in force at ``since``, or the plan an operator
        put in force after it (a rollback; the network's own program counts too): the
        plan a retiming's change limits are measured from."""
        c = _PLANS.c
        chosen = (
            select(c.intersection_id, func.max(c.version).label("v"))
            .where(
                c.network == network,
                c.intersection_id.in_(list(ids)),
                (c.created_at <= since) | c.source.in_(("rollback", "base")),
            )
            .group_by(c.intersection_id)
            .subquery()
        )
        q = (
            select(_PLANS)
            .join(
                chosen, (c.intersection_id == chosen.c.intersection_id) & (c.version == chosen.c.v)
            )
            .where(c.network == network)
        )
        with self.engine.connect() as conn:
            return {r["intersection_id"]: _plan(r) for r in conn.execute(q).mappings()}

    def plan_history(
        self,
        network: str,
        intersection_id: str,
        limit: int = 50,
        offset: int = 0,
        before_version: int | None = None,
    ) -> list[StoredPlan]:
        """Versions of one intersection's plan, newest first (below ``before_version``)."""
        c = _PLANS.c
        q = (
            select(_PLANS)
            .where(c.network == network, c.intersection_id == intersection_id)
            .order_by(c.version.desc())
            .limit(limit)
            .offset(offset)
        )
        if before_version is not None:
            q = q.where(c.version < before_version)
        with self.engine.connect() as conn:
            return [_plan(r) for r in conn.execute(q).mappings()]

    def plan_version(self, network: str, intersection_id: str, version: int) -> StoredPlan | None:
        c = _PLANS.c
        q = select(_PLANS).where(
            c.network == network, c.intersection_id == intersection_id, c.version == version
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
            return _plan(row) if row is not None else None

    def retimings(
        self, network: str, limit: int = 50, before_id: int | None = None
    ) -> list[RetimingRecord]:
        """Retimings of ``network``, newest first (ids below ``before_id``)."""
        q = (
            select(RetimingRow)
            .where(RetimingRow.network == network)
            .order_by(RetimingRow.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            q = q.where(RetimingRow.id < before_id)
        with self._sessions() as s:
            return [_retiming(r) for r in s.scalars(q)]

    def retiming(
        self, network: str, retiming_id: int
    ) -> tuple[RetimingRecord, list[StoredPlan]] | None:
        with self._sessions() as s:
            row = s.get(RetimingRow, retiming_id)
            if row is None or row.network != network:
                return None
            plans = s.execute(
                select(_PLANS)
                .where(_PLANS.c.retiming_id == retiming_id)
                .order_by(_PLANS.c.intersection_id)
            ).mappings()
            return _retiming(row), [_plan(p) for p in plans]

    # -- API keys --------------------------------------------------------------------------
    def create_key(
        self, role: str, name: str = "", audit: AuditEntry | None = None
    ) -> tuple[ApiKey, str]:
        """A new key; the token is returned once and only its SHA-256 is stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        key_id = secrets.token_hex(4)
        token = f"so_{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            key_id=key_id, key_hash=hash_token(token), role=role, name=name, created_at=utcnow()
        )
        with self._sessions.begin() as s:
            s.add(row)
            s.flush()
            if audit is not None:
                entry = replace(audit, target=f"key:{key_id}", after={"role": role, "name": name})
                write_audit(s.connection(), entry)
        return _key(row), token

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key ``token`` belongs to, or None (unknown, wrong or revoked)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "so":
            return None
        with self._sessions() as s:
            row = s.get(ApiKeyRow, parts[1])
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.key_hash, hash_token(token)):
                return None
            return _key(row)

    def api_keys(self) -> list[ApiKey]:
        with self._sessions() as s:
            return [_key(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def revoke_key(self, key_id: str, audit: AuditEntry | None = None) -> ApiKey | None:
        with self._sessions.begin() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                s.flush()
                if audit is not None:
                    write_audit(
                        s.connection(),
                        replace(
                            audit,
                            before={"revoked_at": None},
                            after={"revoked_at": str(row.revoked_at)},
                        ),
                    )
            return _key(row)
