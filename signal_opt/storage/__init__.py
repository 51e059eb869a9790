"""Plan and detector history: SQLite by default, any SQLAlchemy URL (PostgreSQL tested)."""

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
    "NetworkRecord",
    "NewPlan",
    "ReadingRecord",
    "Repository",
    "RetimingRecord",
    "StoredPlan",
    "hash_token",
    "utcnow",
]
