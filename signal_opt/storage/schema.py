"""The database schema's version: Alembic migrations under ``storage/migrations``.

:func:`prepare` runs when storage is opened (service start, ``signal-opt keys``...): it
upgrades a database to the schema of this code (``signal-opt db upgrade`` does the same
on its own), or refuses a database whose schema is newer than this code knows. Tables are
never made by ``create_all``: a new database is built by the migrations, from the first.

A database made by release 0.1.0 (tables, no ``alembic_version``) is recognised and
stamped with the baseline revision ``0001`` first. Upgrades are serialized: a PostgreSQL
advisory lock, or a lock file next to a SQLite file, so replicas starting together upgrade
once.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

__all__ = ["BASELINE", "SchemaError", "SchemaState", "head", "prepare", "state"]

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
"""The schema release 0.1.0 made with ``create_all``."""
_PG_LOCK = 0x5167_6F70  # any constant shared by every replica
_local = threading.Lock()


class SchemaError(RuntimeError):
    """The database's schema does not fit this code (too new, or too old without upgrade)."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    """Revision of the database (None: empty database)."""
    head: str
    """Revision of this code."""
    legacy: bool = False
    """Tables of release 0.1.0 without a recorded revision."""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.legacy


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this code has."""
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


def _state(conn: Connection) -> SchemaState:
    current = MigrationContext.configure(conn).get_current_revision()
    legacy = current is None and inspect(conn).has_table("plans")
    return SchemaState(BASELINE if legacy else current, head(), legacy)


def state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return _state(conn)


def _known(rev: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(rev) is not None
    except CommandError:
        return False


@contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[None]:
    with _local:
        db = engine.url.database if engine.dialect.name == "sqlite" else None
        if db and db != ":memory:" and not db.startswith("file:"):
            with open(Path(db).expanduser().with_name(Path(db).name + ".migrate-lock"), "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
        else:
            yield


def prepare(engine: Engine, upgrade: bool = True) -> SchemaState:
    """Bring the database to this code's schema, or raise :class:`SchemaError`.

    Returns the state found before any upgrade. ``upgrade=False`` only checks: an older
    schema is then refused with the command that upgrades it.
    """
    with _upgrade_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        found = _state(conn)
        if found.current is not None and not _known(found.current):
            raise SchemaError(
                f"the database schema is at revision {found.current!r}, newer than this "
                f"signal-opt knows (its newest is {found.head!r}): run the release that "
                "upgraded it (or a newer one), or point SIGNAL_OPT_DATABASE_URL elsewhere"
            )
        if found.up_to_date:
            return found
        if not upgrade:
            raise SchemaError(
                f"the database schema is at revision {found.current!r}, older than this "
                f"signal-opt's {found.head!r}: run `signal-opt db upgrade` first "
                "(or set SIGNAL_OPT_DB_AUTO_UPGRADE=true)"
            )
        cfg = _config(conn)
        if found.legacy:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
        return found
