"""Alembic environment of signal-opt: migrations run on the connection the caller passes
(``config.attributes["connection"]``), inside its transaction; see
:mod:`signal_opt.storage.schema`. There is no ``alembic.ini``: use ``signal-opt db``."""

from __future__ import annotations

from alembic import context

from signal_opt.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
