"""Operations: holds, per-network schedules, the audit log; who stored each plan and
retiming, which intersections a retiming left out as held, the interval of each lease.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _network_fk() -> sa.ForeignKey:
    return sa.ForeignKey("networks.name", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(64), _network_fk(), nullable=False),
        sa.Column("intersection_id", sa.String(128), nullable=True),
        sa.Column("plan_version", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_holds_network_released", "holds", ["network", "released_at"])
    op.create_table(
        "schedules",
        sa.Column("network", sa.String(64), _network_fk(), primary_key=True),
        sa.Column("interval_s", sa.Float, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("network", sa.String(64), nullable=True),
        sa.Column("target", sa.String(160), nullable=True),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_log_network_id", "audit_log", ["network", "id"])
    op.create_index("ix_audit_log_action_id", "audit_log", ["action", "id"])
    with op.batch_alter_table("retimings") as t:
        t.add_column(sa.Column("held", sa.JSON, nullable=True))
        t.add_column(sa.Column("actor", sa.String(160), nullable=True))
    with op.batch_alter_table("plans") as t:
        t.add_column(sa.Column("actor", sa.String(160), nullable=True))
    with op.batch_alter_table("scheduler_leases") as t:
        t.add_column(sa.Column("interval_s", sa.Float, nullable=True))
