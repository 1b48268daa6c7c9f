"""Table definitions. The Alembic migrations under ``migrations/`` build exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

communities = Table(
    "communities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False, server_default=""),
    Column("timezone", String(64), nullable=False),
    Column("factor_regime", String(16), nullable=False),
    Column("factor_set_id", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

households = Table(
    "households",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("persons", Integer, nullable=False),
    Column("enrolled_on", Date, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("community_id", "code", name="uq_households_community_code"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=True),
    Column("locale", String(16), nullable=False, server_default="zh_CN"),
    Column("created_at", BigInteger, nullable=False),
)

gateways = Table(
    "gateways",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("name", String(100), nullable=False, unique=True),
    # SHA-256 of a 256-bit random token: a slow password hash buys nothing for a secret with that
    # much entropy and would cost milliseconds on every ingest request (docs/decisions/0004).
    Column("token_sha256", String(64), nullable=False, unique=True),
    # The same token as the gateway's MQTT password, hashed in Mosquitto's password-file format
    # (PBKDF2-SHA512), so the broker's password file can be generated from the registry.
    Column("mqtt_password_hash", String(255), nullable=True),
    Column("last_seq", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

meters = Table(
    "meters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=True),
    Column("gateway_id", Integer, ForeignKey("gateways.id"), nullable=True),
    Column("serial", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("unit", String(8), nullable=False),
    # Register resolution as a decimal string ("0.01"), capacity in counts of that resolution.
    Column("resolution", String(16), nullable=False),
    Column("capacity", BigInteger, nullable=False),
    Column("installed_on", Date, nullable=False),
    Column("removed_on", Date, nullable=True),
    UniqueConstraint("community_id", "serial", name="uq_meters_community_serial"),
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("gateway_id", Integer, ForeignKey("gateways.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

readings = Table(
    "readings",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("register", String(32), nullable=False),
    Column("meter_time", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("batch_id", BigInteger, ForeignKey("ingest_batches.id"), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("meter_id", "register", "meter_time", name="uq_readings_meter_register_time"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=True),
    Column("gateway_id", Integer, ForeignKey("gateways.id"), nullable=True),
    Column("transport", String(8), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("reason", String(48), nullable=False),
    Column("message", Text, nullable=False),
    Column("meter_serial", String(32), nullable=True),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
)
Index("ix_quarantine_reason", quarantine.c.reason)

footprint_daily = Table(
    "footprint_daily",
    metadata,
    Column("meter_id", Integer, ForeignKey("meters.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("factor_set_id", String(100), primary_key=True),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    # Consumption in millionths of the accounting unit, emissions in milligrams CO2(e): integers,
    # so sums over a county are exact on both engines.
    Column("amount_micro", BigInteger, nullable=False),
    Column("co2e_mg", BigInteger, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)
Index("ix_footprint_daily_household_day", footprint_daily.c.household_id, footprint_daily.c.day)
