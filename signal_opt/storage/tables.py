"""SQLAlchemy tables: networks, detector readings, retimings, plan versions, API keys,
holds, schedules, the audit log. Changed only through migrations (``storage/migrations``).

Times of readings are integer epoch milliseconds (exact, the same on every database), so
the idempotency key ``(network, detector_id, start_ms)`` compares exactly. Plans are
append-only: a retiming or a rollback adds a version, nothing is ever updated in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _network_fk() -> ForeignKey:
    return ForeignKey("networks.name", ondelete="CASCADE")


class Base(DeclarativeBase):
    pass


class NetworkRow(Base):
    __tablename__ = "networks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # bundled | uploaded
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    net_xml: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReadingRow(Base):
    __tablename__ = "readings"

    network: Mapped[str] = mapped_column(_network_fk(), primary_key=True)
    detector_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    interval_s: Mapped[float] = mapped_column(Float)
    count: Mapped[float] = mapped_column(Float)
    occupancy: Mapped[float] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)
    jam_length: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_readings_network_start", "network", "start_ms"),)


class RetimingRow(Base):
    __tablename__ = "retimings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(_network_fk(), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # api | schedule
    demand_source: Mapped[str] = mapped_column(String(16))  # detectors | request
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | partial | fallback | held
    n_optimized: Mapped[int] = mapped_column(Integer)
    n_fallback: Mapped[int] = mapped_column(Integer)
    held: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    """Intersections left out because an operator holds them: id -> why."""
    actor: Mapped[str | None] = mapped_column(String(160), nullable=True)


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(_network_fk())
    intersection_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    cycle_s: Mapped[float] = mapped_column(Float)
    greens_s: Mapped[list[float]] = mapped_column(JSON)
    offset_s: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))  # base | optimized | fallback | rollback
    retiming_id: Mapped[int | None] = mapped_column(
        ForeignKey("retimings.id", ondelete="CASCADE"), nullable=True
    )
    rolled_back_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(160), nullable=True)
    """Who stored it: an API key id, ``scheduler@<replica>``; None before release 0.2."""

    __table_args__ = (UniqueConstraint("network", "intersection_id", "version"),)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SchedulerLeaseRow(Base):
    """One periodic job (e.g. ``retime:<network>``): when it may run next, who ran it last.

    A replica runs the job only after moving ``due_at`` forward in one conditional UPDATE,
    so of several replicas on one database exactly one runs each occurrence.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    due_at: Mapped[float] = mapped_column(Float)  # epoch seconds
    holder: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The interval ``due_at`` was set with: when the interval changes, the due time
    moves with it at once."""


class HoldRow(Base):
    """An operator's hold: the intersection (or, with no ``intersection_id``, every
    intersection of the network) keeps its plan; no retiming changes it until the hold
    ends (``ends_at``) or is released."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(_network_fk())
    intersection_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    plan_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_holds_network_released", "network", "released_at"),)


class ScheduleRow(Base):
    """What operators changed of a network's schedule: its own interval, a pause."""

    __tablename__ = "schedules"

    network: Mapped[str] = mapped_column(_network_fk(), primary_key=True)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """One change of state: who (API key id, ``scheduler@host``, ``cli``), when, what,
    before and after, why. Written in the transaction of the change itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target: Mapped[str | None] = mapped_column(String(160), nullable=True)
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_audit_log_network_id", "network", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
    )
