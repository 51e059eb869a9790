"""Plan and detector history: SQLite by default, any SQLAlchemy URL (PostgreSQL tested)."""

from signal_opt.storage.audit import AuditEntry, AuditFilter, AuditRecord
from signal_opt.storage.control import Hold, Lease, ScheduleRecord
from signal_opt.storage.repository import (
    ROLES,
    ApiKey,
    NetworkRecord,
    NewPlan,
    ReadingRecord,
    Repository,
    RetimingRecord,
    StoredPlan,
    hash_token,
    utcnow,
)

__all__ = [
    "ROLES",
    "ApiKey",
    "AuditEntry",
    "AuditFilter",
    "AuditRecord",
    "Hold",
    "Lease",
    "NetworkRecord",
    "NewPlan",
    "ReadingRecord",
    "Repository",
    "RetimingRecord",
    "ScheduleRecord",
    "StoredPlan",
    "hash_token",
    "utcnow",
]
