"""the audit log: leaves, checkpoints, cosignatures, anchors (issue 8)

Revision ID: 0008
Revises: 0007

One append-only Merkle log per community: its leaves, hash tiles, signed checkpoints, witness
cosignatures and chain anchors (public), and the openings of its commitments (private).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_audit_logs_community_id_communities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_logs"),
        sa.UniqueConstraint("community_id", name="uq_audit_logs_community_id"),
        sa.UniqueConstraint("origin", name="uq_audit_logs_origin"),
    )
    op.create_table(
        "audit_leaves",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["audit_logs.id"], name="fk_audit_leaves_log_id_audit_logs"),
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_audit_leaves"),
    )
    op.create_table(
        "audit_openings",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["log_id"], ["audit_logs.id"], name="fk_audit_openings_log_id_audit_logs"),
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_audit_openings"),
    )
    op.create_index("ix_audit_openings_subject", "audit_openings", ["log_id", "subject"], unique=False)
    op.create_index("ix_audit_openings_household", "audit_openings", ["household_id"], unique=False)
    op.create_table(
        "audit_tiles",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.SmallInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["audit_logs.id"], name="fk_audit_tiles_log_id_audit_logs"),
        sa.PrimaryKeyConstraint("log_id", "level", "idx", name="pk_audit_tiles"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["audit_logs.id"], name="fk_audit_checkpoints_log_id_audit_logs"),
        sa.PrimaryKeyConstraint("log_id", "size", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["log_id"], ["audit_logs.id"], name="fk_audit_cosignatures_log_id_audit_logs"
        ),
        sa.PrimaryKeyConstraint("log_id", "size", "witness", name="pk_audit_cosignatures"),
    )
    op.create_table(
        "audit_anchors",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["audit_logs.id"], name="fk_audit_anchors_log_id_audit_logs"),
        sa.PrimaryKeyConstraint("log_id", "size", name="pk_audit_anchors"),
    )


def downgrade() -> None:
    op.drop_table("audit_anchors")
    op.drop_table("audit_cosignatures")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_tiles")
    op.drop_index("ix_audit_openings_household", table_name="audit_openings")
    op.drop_index("ix_audit_openings_subject", table_name="audit_openings")
    op.drop_table("audit_openings")
    op.drop_table("audit_leaves")
    op.drop_table("audit_logs")
