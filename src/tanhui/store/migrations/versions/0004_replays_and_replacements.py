"""replay detection and meter replacement

Revision ID: 0004
Revises: 0003

Ingest batches record the gateway's boot id, indexed with the sequence number, so that a replayed or
reused (gateway, boot, seq) is recognised. A meter's serial is unique per installation date rather than
per community, so that a replacement programmed with the old address is a new meter. Serials widen to
96 characters for DSMR equipment ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_batches") as batch:
        batch.add_column(sa.Column("boot", sa.String(length=64), nullable=False, server_default=""))
    op.create_index(
        "ix_ingest_batches_gateway_boot_seq", "ingest_batches", ["gateway_id", "boot", "seq"], unique=False
    )
    with op.batch_alter_table("meters") as batch:
        batch.alter_column("serial", existing_type=sa.String(length=32), type_=sa.String(length=96))
        batch.drop_constraint("uq_meters_community_serial", type_="unique")
        batch.create_unique_constraint(
            "uq_meters_community_serial_installed", ["community_id", "serial", "installed_on"]
        )
    with op.batch_alter_table("quarantine") as batch:
        batch.alter_column("meter_serial", existing_type=sa.String(length=32), type_=sa.String(length=96))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.alter_column("meter_serial", existing_type=sa.String(length=96), type_=sa.String(length=32))
    with op.batch_alter_table("meters") as batch:
        batch.drop_constraint("uq_meters_community_serial_installed", type_="unique")
        batch.create_unique_constraint("uq_meters_community_serial", ["community_id", "serial"])
        batch.alter_column("serial", existing_type=sa.String(length=96), type_=sa.String(length=32))
    op.drop_index("ix_ingest_batches_gateway_boot_seq", table_name="ingest_batches")
    with op.batch_alter_table("ingest_batches") as batch:
        batch.drop_column("boot")
