"""The schema of release 0.1.0, as its ``create_all`` made it (the baseline).

A database made by that release has these tables and no ``alembic_version``: it is
stamped with this revision, then upgraded (:func:`signal_opt.storage.schema.prepare`).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _network_fk() -> sa.ForeignKey:
    return sa.ForeignKey("networks.name", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("net_xml", sa.LargeBinary, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "readings",
        sa.Column("network", sa.String(64), _network_fk(), primary_key=True),
        sa.Column("detector_id", sa.String(128), primary_key=True),
        sa.Column("start_ms", sa.BigInteger, primary_key=True),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("count", sa.Float, nullable=False),
        sa.Column("occupancy", sa.Float, nullable=False),
        sa.Column("speed", sa.Float, nullable=True),
        sa.Column("jam_length", sa.Float, nullable=True),
    )
    op.create_index("ix_readings_network_start", "readings", ["network", "start_ms"])
    op.create_table(
        "retimings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(64), _network_fk(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("demand_source", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("n_optimized", sa.Integer, nullable=False),
        sa.Column("n_fallback", sa.Integer, nullable=False),
    )
    op.create_index("ix_retimings_network", "retimings", ["network"])
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(64), _network_fk(), nullable=False),
        sa.Column("intersection_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("cycle_s", sa.Float, nullable=False),
        sa.Column("greens_s", sa.JSON, nullable=False),
        sa.Column("offset_s", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column(
            "retiming_id",
            sa.Integer,
            sa.ForeignKey("retimings.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("rolled_back_from", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("network", "intersection_id", "version"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(160), primary_key=True),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.Float, nullable=True),
    )
