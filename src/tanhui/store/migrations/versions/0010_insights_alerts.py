"""insights: detector alerts with deduplication and acknowledgement (issue 10)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("household_id", sa.Integer(), sa.ForeignKey("households.id"), nullable=True),
        sa.Column("meter_id", sa.Integer(), sa.ForeignKey("meters.id"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, server_default="open"),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_insight_alerts_status"),
        sa.CheckConstraint("audience IN ('resident', 'operator')", name="ck_insight_alerts_audience"),
    )
    op.create_index(
        "uq_insight_alerts_open",
        "insight_alerts",
        ["meter_id", "kind"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_insight_alerts_community_status", "insight_alerts", ["community_id", "status"])
    op.create_index("ix_insight_alerts_household", "insight_alerts", ["household_id"])


def downgrade() -> None:
    op.drop_index("ix_insight_alerts_household", table_name="insight_alerts")
    op.drop_index("ix_insight_alerts_community_status", table_name="insight_alerts")
    op.drop_index("uq_insight_alerts_open", table_name="insight_alerts")
    op.drop_table("insight_alerts")
