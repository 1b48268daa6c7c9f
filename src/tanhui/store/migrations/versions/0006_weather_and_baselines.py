"""weather observations and fitted baselines (issue 6)

Revision ID: 0006
Revises: 0005

Weather stations and their temperature observations (CSV import and MQTT), every fitted baseline with
its parameters and metrics, and avoided use and emissions per household, quantity and day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weather_stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_weather_stations_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weather_stations")),
    )
    op.create_table(
        "weather_observations",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("temperature_mc", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["weather_stations.id"],
            name=op.f("fk_weather_observations_station_id_weather_stations"),
        ),
        sa.PrimaryKeyConstraint("station_id", "ts", name=op.f("pk_weather_observations")),
    )
    op.create_table(
        "baseline_fits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("train_first", sa.Date(), nullable=False),
        sa.Column("train_last", sa.Date(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("fitted_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_baseline_fits_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_fits")),
    )
    op.create_index("ix_baseline_fits_household", "baseline_fits", ["household_id", "kind"], unique=False)
    op.create_table(
        "avoided_daily",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("factor_set_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fit_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=16), nullable=False),
        sa.Column("counterfactual_micro", sa.BigInteger(), nullable=False),
        sa.Column("actual_micro", sa.BigInteger(), nullable=False),
        sa.Column("avoided_micro", sa.BigInteger(), nullable=False),
        sa.Column("avoided_co2e_mg", sa.BigInteger(), nullable=False),
        sa.Column("counted_co2e_mg", sa.BigInteger(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fit_id"], ["baseline_fits.id"], name=op.f("fk_avoided_daily_fit_id_baseline_fits")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_avoided_daily_household_id_households")
        ),
        sa.PrimaryKeyConstraint(
            "household_id", "day", "factor_set_id", "kind", name=op.f("pk_avoided_daily")
        ),
    )
    op.create_index(
        "ix_avoided_daily_factor_set_day", "avoided_daily", ["factor_set_id", "day"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_avoided_daily_factor_set_day", table_name="avoided_daily")
    op.drop_table("avoided_daily")
    op.drop_index("ix_baseline_fits_household", table_name="baseline_fits")
    op.drop_table("baseline_fits")
    op.drop_table("weather_observations")
    op.drop_table("weather_stations")
