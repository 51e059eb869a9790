"""Operator control in storage: holds on plans, per-network schedules, scheduler leases.

Mixed into :class:`~signal_opt.storage.Repository`; every write is one transaction with
its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from signal_opt.storage.audit import AuditEntry, write_audit
from signal_opt.storage.tables import HoldRow, SchedulerLeaseRow, ScheduleRow

__all__ = ["Control", "Hold", "Lease", "ScheduleRecord", "insert_holds"]

_HOLDS = cast(Table, HoldRow.__table__)
_SCHEDULES = cast(Table, ScheduleRow.__table__)
_LEASES = cast(Table, SchedulerLeaseRow.__table__)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Hold:
    id: int
    network: str
    intersection_id: str | None
    """None: every intersection of the network."""
    plan_version: int | None
    reason: str
    created_by: str
    created_at: datetime
    ends_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.released_at is None and (self.ends_at is None or self.ends_at > now)

    def summary(self) -> dict[str, Any]:
        """For the audit log and a retiming's list of held intersections."""
        return {
            "hold_id": self.id,
            "intersection_id": self.intersection_id,
            "plan_version": self.plan_version,
            "reason": self.reason,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
        }


@dataclass(frozen=True)
class ScheduleRecord:
    network: str
    interval_s: float | None
    """None: the service's ``retime_interval_s``."""
    paused: bool
    reason: str | None
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Lease:
    name: str
    due_at: float
    holder: str | None
    claimed_at: float | None
    interval_s: float | None


def _hold(r: Any) -> Hold:
    return Hold(
        r["id"],
        r["network"],
        r["intersection_id"],
        r["plan_version"],
        r["reason"],
        r["created_by"],
        cast(datetime, _aware(r["created_at"])),
        _aware(r["ends_at"]),
        _aware(r["released_at"]),
        r["released_by"],
        r["release_reason"],
    )


def insert_holds(
    conn: Connection,
    rows: list[dict[str, Any]],
    release: list[int],
    actor: str,
    now: datetime,
    audit: list[AuditEntry],
) -> list[Hold]:
    """Insert holds ``rows`` (one audit entry each, the hold as ``after``) and release the
    holds ``release`` they replace, on ``conn`` (the caller's transaction)."""
    if release:
        conn.execute(
            update(_HOLDS)
            .where(_HOLDS.c.id.in_(release), _HOLDS.c.released_at.is_(None))
            .values(released_at=now, released_by=actor, release_reason="replaced")
        )
    ids = [conn.execute(insert(_HOLDS).returning(_HOLDS.c.id), row).scalar_one() for row in rows]
    found = sorted(
        (_hold(r) for r in conn.execute(select(_HOLDS).where(_HOLDS.c.id.in_(ids))).mappings()),
        key=lambda h: h.id,
    )
    for hold, entry in zip(found, audit, strict=True):
        write_audit(conn, entry.with_after(hold.summary()) if entry.after is None else entry)
    return found


class Control:
    """Holds, schedules and leases (mixed into the repository)."""

    engine: Engine

    # -- holds ---------------------------------------------------------------------------
    def holds(
        self,
        network: str | None,
        active_at: datetime | None = None,
        limit: int = 1000,
        before_id: int | None = None,
    ) -> list[Hold]:
        """Holds of ``network`` (or all), newest first; only those active at
        ``active_at`` when given."""
        c = _HOLDS.c
        q = select(_HOLDS).order_by(c.id.desc()).limit(limit)
        if network is not None:
            q = q.where(c.network == network)
        if before_id is not None:
            q = q.where(c.id < before_id)
        if active_at is not None:
            q = q.where(c.released_at.is_(None), or_(c.ends_at.is_(None), c.ends_at > active_at))
        with self.engine.connect() as conn:
            return [_hold(r) for r in conn.execute(q).mappings()]

    def hold(self, hold_id: int) -> Hold | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(_HOLDS).where(_HOLDS.c.id == hold_id)).mappings().first()
            return _hold(r) if r is not None else None

    def add_holds(
        self,
        rows: list[dict[str, Any]],
        release: list[int],
        actor: str,
        now: datetime,
        audit: list[AuditEntry],
    ) -> list[Hold]:
        """New holds (``rows``), releasing holds ``release`` they replace; one transaction."""
        with self.engine.begin() as conn:
            return insert_holds(conn, rows, release, actor, now, audit)

    def release_hold(
        self, hold_id: int, actor: str, reason: str, now: datetime, audit: AuditEntry
    ) -> Hold | None:
        """Release an active hold; None if there is no such active hold."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(_HOLDS)
                .where(_HOLDS.c.id == hold_id, _HOLDS.c.released_at.is_(None))
                .values(released_at=now, released_by=actor, release_reason=reason)
            ).rowcount
            if n != 1:
                return None
            row = conn.execute(select(_HOLDS).where(_HOLDS.c.id == hold_id)).mappings().one()
            write_audit(conn, audit)
            return _hold(row)

    # -- schedules -------------------------------------------------------------------------
    def schedules(self) -> dict[str, ScheduleRecord]:
        with self.engine.connect() as conn:
            return {
                r["network"]: ScheduleRecord(
                    r["network"],
                    r["interval_s"],
                    bool(r["paused"]),
                    r["reason"],
                    r["updated_by"],
                    cast(datetime, _aware(r["updated_at"])),
                )
                for r in conn.execute(select(_SCHEDULES)).mappings()
            }

    def set_schedule(self, record: ScheduleRecord, audit: AuditEntry) -> None:
        values = record.__dict__
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            if dialect in ("sqlite", "postgresql"):
                make = sqlite_insert if dialect == "sqlite" else pg_insert
                stmt = make(_SCHEDULES).values(values)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["network"],
                        set_={k: v for k, v in values.items() if k != "network"},
                    )
                )
            else:
                n = conn.execute(
                    update(_SCHEDULES).where(_SCHEDULES.c.network == record.network).values(values)
                ).rowcount
                if n == 0:
                    conn.execute(insert(_SCHEDULES).values(values))
            write_audit(conn, audit)

    # -- scheduler leases ------------------------------------------------------------------
    def leases(self) -> dict[str, Lease]:
        with self.engine.connect() as conn:
            return {
                r["name"]: Lease(
                    r["name"], r["due_at"], r["holder"], r["claimed_at"], r["interval_s"]
                )
                for r in conn.execute(select(_LEASES)).mappings()
            }

    def claim_job(
        self,
        name: str,
        holder: str,
        now: float,
        interval: float,
        first_due: float,
        force: bool = False,
    ) -> tuple[bool, float]:
        """Claim the occurrence of periodic job ``name`` that is due at ``now`` (epoch s).

        A job seen for the first time is due at ``first_due``. When the job's interval
        changed since its due time was set, the due time moves with it first (one interval
        after the last run). The claim is one conditional UPDATE (``due_at <= now`` ->
        ``now + interval``), atomic on SQLite and PostgreSQL alike, so of several replicas
        exactly one wins each occurrence; ``force`` claims even before the due time (run
        now). Returns whether this caller won, and when the job is due next.
        """
        c = _LEASES.c
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            row = conn.execute(select(_LEASES).where(c.name == name)).mappings().first()
            if row is None:
                values = {"name": name, "due_at": first_due, "interval_s": interval}
                if dialect in ("sqlite", "postgresql"):
                    make = sqlite_insert if dialect == "sqlite" else pg_insert
                    conn.execute(make(_LEASES).values(values).on_conflict_do_nothing())
                else:
                    try:
                        with conn.begin_nested():
                            conn.execute(insert(_LEASES).values(values))
                    except IntegrityError:
                        pass  # inserted by another replica just now
            elif row["interval_s"] != interval:
                # the due time was set with another interval: move it to this one at once
                base = row["claimed_at"]
                if base is None:
                    base = row["due_at"] - (row["interval_s"] or interval)
                conn.execute(
                    update(_LEASES)
                    .where(c.name == name, c.due_at == row["due_at"])
                    .values(due_at=base + interval, interval_s=interval)
                )
            claim = update(_LEASES).where(c.name == name)
            if not force:
                claim = claim.where(c.due_at <= now)
            won = (
                conn.execute(
                    claim.values(
                        due_at=now + interval, holder=holder, claimed_at=now, interval_s=interval
                    )
                ).rowcount
                == 1
            )
            due = conn.execute(select(c.due_at).where(c.name == name)).scalar_one()
        return won, float(due)
