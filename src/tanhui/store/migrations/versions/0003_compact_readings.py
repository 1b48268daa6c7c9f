"""compact readings: hot rows, packed days, register codes, compressed batch payloads

Revision ID: 0003
Revises: 0002

The row-per-reading table ``readings`` becomes ``readings_hot`` (narrow rows, register as a code, no
surrogate id) and ``readings_packed`` (one row per meter, register and UTC day), both range-partitioned by
time on PostgreSQL with a default partition; batch payloads are stored compressed. Existing readings and
payloads are carried over in both directions. See docs/decisions/0006-compact-readings.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from tanhui.store import archive, packing

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DAY = 86_400

_batches = sa.table(
    "ingest_batches",
    sa.column("id", sa.BigInteger()),
    sa.column("received_at", sa.BigInteger()),
    sa.column("payload", sa.LargeBinary()),
    sa.column("payload_codec", sa.String()),
)


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    op.create_table(
        "register_codes",
        sa.Column("code", sa.SmallInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_register_codes")),
        sa.UniqueConstraint("name", name=op.f("uq_register_codes_name")),
    )
    op.create_table(
        "readings_hot",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("register", sa.SmallInteger(), nullable=False),
        sa.Column("meter_time", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "register", "meter_time", name=op.f("pk_readings_hot")),
        postgresql_partition_by="RANGE (meter_time)",
        sqlite_with_rowid=False,
    )
    op.create_table(
        "readings_packed",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("register", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "register", "day", name=op.f("pk_readings_packed")),
        postgresql_partition_by="RANGE (day)",
        sqlite_with_rowid=False,
    )
    if postgresql:
        # Monthly partitions come later (tanhui.store.readings.maintain_partitions); until then, and for
        # times outside their window, the default partition takes every reading.
        op.execute("CREATE TABLE readings_hot_default PARTITION OF readings_hot DEFAULT")
        op.execute("CREATE TABLE readings_packed_default PARTITION OF readings_packed DEFAULT")

    op.execute("INSERT INTO register_codes (name) SELECT DISTINCT register FROM readings ORDER BY register")
    op.execute(
        "INSERT INTO readings_hot (meter_id, register, meter_time, value, batch_id) "
        "SELECT r.meter_id, c.code, r.meter_time, r.value, r.batch_id "
        "FROM readings r JOIN register_codes c ON c.name = r.register"
    )
    op.drop_table("readings")

    with op.batch_alter_table("ingest_batches") as batch:
        batch.add_column(sa.Column("payload_codec", sa.String(length=16), nullable=True))
    for batch_id, payload in _payloads(bind, archived=False):
        codec, data = archive.compress(payload)
        bind.execute(
            sa.update(_batches).where(_batches.c.id == batch_id).values(payload=data, payload_codec=codec)
        )
    with op.batch_alter_table("ingest_batches") as batch:
        batch.alter_column("payload_codec", existing_type=sa.String(length=16), nullable=False)
    if postgresql:
        # Already compressed: PostgreSQL's own TOAST compression would only spend CPU finding that out.
        op.execute("ALTER TABLE ingest_batches ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE ingest_batches ALTER COLUMN payload SET STORAGE EXTENDED")
    for batch_id, payload in _payloads(bind, archived=True):
        bind.execute(sa.update(_batches).where(_batches.c.id == batch_id).values(payload=payload))
    with op.batch_alter_table("ingest_batches") as batch:
        batch.drop_column("payload_codec")

    # As revision 0001 created it.
    op.create_table(
        "readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=32), nullable=False),
        sa.Column("meter_time", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batches.id"], name=op.f("fk_readings_batch_id_ingest_batches")
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_readings_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint("meter_id", "register", "meter_time", name="uq_readings_meter_register_time"),
    )
    # The row layout kept the time of receipt per reading; it is the batch's.
    op.execute(
        "INSERT INTO readings (meter_id, register, meter_time, value, batch_id, received_at) "
        "SELECT h.meter_id, c.name, h.meter_time, h.value, h.batch_id, b.received_at "
        "FROM readings_hot h JOIN register_codes c ON c.code = h.register "
        "JOIN ingest_batches b ON b.id = h.batch_id"
    )
    names: dict[int, str] = dict(bind.execute(sa.text("SELECT code, name FROM register_codes")).all())
    received: dict[int, int] = dict(bind.execute(sa.select(_batches.c.id, _batches.c.received_at)).all())
    readings = sa.table(
        "readings",
        *(sa.column(c) for c in ("meter_id", "register", "meter_time", "value", "batch_id", "received_at")),
    )
    packed = bind.execute(sa.text("SELECT meter_id, register, day, data FROM readings_packed")).all()
    for meter_id, code, day, data in packed:
        rows = [
            {
                "meter_id": meter_id,
                "register": names[code],
                "meter_time": r.meter_time,
                "value": r.value,
                "batch_id": r.batch_id,
                "received_at": received[r.batch_id],
            }
            for r in packing.decode(day * DAY, bytes(data))
        ]
        bind.execute(sa.insert(readings), rows)
    op.drop_table("readings_packed")
    op.drop_table("readings_hot")
    op.drop_table("register_codes")


def _payloads(bind: Any, *, archived: bool) -> Iterator[tuple[int, bytes]]:
    """Every batch's payload as received, a thousand batches at a time (restored if ``archived``)."""
    last = 0
    while True:
        columns = [_batches.c.id, _batches.c.payload] + ([_batches.c.payload_codec] if archived else [])
        page = bind.execute(
            sa.select(*columns).where(_batches.c.id > last).order_by(_batches.c.id).limit(1000)
        ).all()
        if not page:
            return
        for row in page:
            payload = bytes(row.payload)
            yield int(row.id), archive.decompress(row.payload_codec, payload) if archived else payload
        last = int(page[-1].id)
