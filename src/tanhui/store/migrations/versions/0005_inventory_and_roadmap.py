"""community inventory activity data and the county roadmap (issue 5)

Revision ID: 0005
Revises: 0004

Operator imports (activity data for the GPC inventory, roadmap projects and their measurements), each
row kept with the import it came from; decimals are stored as exact text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_inventory_imports_community_id_communities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_imports"),
        sa.UniqueConstraint("community_id", "sha256", name="uq_inventory_imports_community_sha256"),
    )
    op.create_table(
        "inventory_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("activity", sa.String(length=40), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("factor_kg_per_unit", sa.String(length=40), nullable=True),
        sa.Column("kg_co2e", sa.String(length=40), nullable=True),
        sa.Column("notation", sa.String(length=2), nullable=True),
        sa.Column("quality", sa.String(length=1), nullable=True),
        sa.Column("factor_quality", sa.String(length=1), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_inventory_activity_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["inventory_imports.id"], name="fk_inventory_activity_import_id_inventory_imports"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_activity"),
    )
    op.create_index(
        "ix_inventory_activity_community_period", "inventory_activity", ["community_id", "period_start"]
    )
    op.create_table(
        "roadmap_projects",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected_t_per_year", sa.String(length=40), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_roadmap_projects_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["inventory_imports.id"], name="fk_roadmap_projects_import_id_inventory_imports"
        ),
        sa.PrimaryKeyConstraint("community_id", "code", name="pk_roadmap_projects"),
    )
    op.create_table(
        "roadmap_measurements",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("avoided_t", sa.String(length=40), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_roadmap_measurements_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["inventory_imports.id"],
            name="fk_roadmap_measurements_import_id_inventory_imports",
        ),
        sa.PrimaryKeyConstraint("community_id", "code", "period_start", name="pk_roadmap_measurements"),
    )


def downgrade() -> None:
    op.drop_table("roadmap_measurements")
    op.drop_table("roadmap_projects")
    op.drop_index("ix_inventory_activity_community_period", table_name="inventory_activity")
    op.drop_table("inventory_activity")
    op.drop_table("inventory_imports")
