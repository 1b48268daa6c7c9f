"""daily consumption intervals and their footprint, packed per meter and month

Revision ID: 0009
Revises: 0008

A county-year of daily accounting is 60 million meter-days; stored one row each it is gigabytes and
minutes to rewrite. One row per meter and month with the days packed keeps it to 2 million rows
(decision 0013). The per-meter-day ``footprint_daily`` is dropped: its figures are recomputed into
``footprint_months`` by the next accounting run (derived data, decision 0001's invariants).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumption_months",
        sa.Column("meter_id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("days", sa.LargeBinary(), nullable=False),
        sa.Column("total_micro", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_consumption_months_household", "consumption_months", ["household_id", "month"])
    op.create_table(
        "footprint_months",
        sa.Column("factor_set_id", sa.String(length=100), primary_key=True),
        sa.Column("household_id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("meter_id", sa.Integer(), primary_key=True),
        sa.Column("factor_set_hash", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("co2e_mg", sa.LargeBinary(), nullable=False),
        sa.Column("total_mg", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
    )

    op.drop_index("ix_footprint_daily_household_day", table_name="footprint_daily")
    op.drop_table("footprint_daily")


def downgrade() -> None:
    op.create_table(
        "footprint_daily",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("factor_set_id", sa.String(length=100), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_micro", sa.BigInteger(), nullable=False),
        sa.Column("co2e_mg", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_footprint_daily_household_id_households")
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_footprint_daily_meter_id_meters")),
        sa.PrimaryKeyConstraint("meter_id", "day", "factor_set_id", name=op.f("pk_footprint_daily")),
    )
    op.create_index("ix_footprint_daily_household_day", "footprint_daily", ["household_id", "day"])
    op.drop_table("footprint_months")
    op.drop_index("ix_consumption_months_household", table_name="consumption_months")
    op.drop_table("consumption_months")
