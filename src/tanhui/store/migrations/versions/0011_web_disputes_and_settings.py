"""web: disputes, onboarding imports, privacy settings (issue 9)

Revision ID: 0011
Revises: 0010

Residents' disputes of a reading or a day's figure, their privacy choices, the append-only log of
operator actions, and the record of every CSV onboarding attempt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("filed_by", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("meter_serial", sa.String(length=96), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, server_default="open"),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name="ck_disputes_status"),
        sa.CheckConstraint("subject IN ('reading', 'day')", name="ck_disputes_subject"),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_disputes_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_disputes_household_id_households"
        ),
        sa.ForeignKeyConstraint(["filed_by"], ["users.id"], name="fk_disputes_filed_by_users"),
        sa.ForeignKeyConstraint(["answered_by"], ["users.id"], name="fk_disputes_answered_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_community_status", "disputes", ["community_id", "status"])
    op.create_index("ix_disputes_household", "disputes", ["household_id"])
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("peer_comparison", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_settings_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_settings"),
    )
    op.create_table(
        "operator_actions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_operator_actions_community_id_communities"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_operator_actions_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
    )
    op.create_index("ix_operator_actions_community_at", "operator_actions", ["community_id", "at"])
    op.create_table(
        "onboarding_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("households_created", sa.Integer(), nullable=False),
        sa.Column("meters_created", sa.Integer(), nullable=False),
        sa.Column("gateways_created", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_onboarding_imports_community_id_communities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_onboarding_imports"),
    )


def downgrade() -> None:
    op.drop_table("onboarding_imports")
    op.drop_index("ix_operator_actions_community_at", table_name="operator_actions")
    op.drop_table("operator_actions")
    op.drop_table("user_settings")
    op.drop_index("ix_disputes_household", table_name="disputes")
    op.drop_index("ix_disputes_community_status", table_name="disputes")
    op.drop_table("disputes")
