"""Table definitions. The Alembic migrations under ``migrations/`` build exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
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
    # DSMR equipment ids run to 96 characters (hex-encoded); DL/T 645 and CJ/T 188 addresses are 12 and 14.
    Column("serial", String(96), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("unit", String(8), nullable=False),
    # Register resolution as a decimal string ("0.01"), capacity in counts of that resolution.
    Column("resolution", String(16), nullable=False),
    Column("capacity", BigInteger, nullable=False),
    Column("installed_on", Date, nullable=False),
    Column("removed_on", Date, nullable=True),
    # A serial may return: a replacement meter can be programmed with the old one's address. Each
    # installation is its own meter (its own register series); readings go to the one installed then.
    UniqueConstraint("community_id", "serial", "installed_on", name="uq_meters_community_serial_installed"),
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("gateway_id", Integer, ForeignKey("gateways.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    # The gateway's boot id: sequence numbers restart when a gateway reboots, so (gateway, boot, seq)
    # names one envelope (meter-protocols.md §8.3).
    Column("boot", String(64), nullable=False, server_default=""),
    Column("transport", String(8), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # SHA-256 of the payload as received: what the audit log commits to, whatever the compression.
    Column("sha256", String(64), nullable=False),
    # The payload compressed with ``payload_codec`` (tanhui.store.archive).
    Column("payload", LargeBinary, nullable=False),
    Column("payload_codec", String(16), nullable=False),
)

Index(
    "ix_ingest_batches_gateway_boot_seq",
    ingest_batches.c.gateway_id,
    ingest_batches.c.boot,
    ingest_batches.c.seq,
)

# Readings are stored twice over their life (docs/decisions/0006-compact-readings.md): first as narrow rows
# in ``readings_hot`` as they arrive, then, once their UTC day is closed, packed by the compaction job into
# one ``readings_packed`` row per meter, register and day. A reading is in exactly one of the two.
# Neither has foreign keys: PostgreSQL checks them with a trigger per row, which made COPY four to seven
# times slower; the only writers (ingest, compaction) take meter ids from the registry and batch ids
# from the batch they just stored.

# Register names (``energy_import``, ``volume``, ...) as small integers, assigned on first use, so that a
# reading row and its key index carry two bytes instead of the name.
register_codes = Table(
    "register_codes",
    metadata,
    Column("code", SmallInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(32), nullable=False, unique=True),
)

readings_hot = Table(
    "readings_hot",
    metadata,
    Column("meter_id", Integer, primary_key=True),
    Column("register", SmallInteger, primary_key=True),
    Column("meter_time", BigInteger, primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("batch_id", BigInteger, nullable=False),
    # Monthly partitions by meter time, plus a default partition so that no reading is ever refused for
    # its time (tanhui.store.readings.maintain_partitions).
    postgresql_partition_by="RANGE (meter_time)",
    sqlite_with_rowid=False,
)

readings_packed = Table(
    "readings_packed",
    metadata,
    Column("meter_id", Integer, primary_key=True),
    Column("register", SmallInteger, primary_key=True),
    # UTC day number (meter_time // 86400): packing needs no community time zone.
    Column("day", Integer, primary_key=True),
    # How many readings ``data`` holds, so that counting them needs no decoding.
    Column("n", Integer, nullable=False),
    # tanhui.store.packing format: times, values and batch ids, delta-encoded.
    Column("data", LargeBinary, nullable=False),
    postgresql_partition_by="RANGE (day)",
    sqlite_with_rowid=False,
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
    Column("meter_serial", String(96), nullable=True),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
)
Index("ix_quarantine_reason", quarantine.c.reason)


# Daily consumption intervals, one row per meter and local calendar month: the days packed as int64
# little-endian millionths of the meter's unit, -1 for a day without data (accounting/pricing.py). A
# county-year is 2 million such rows instead of 60 million meter-day rows. No foreign keys on these two
# derived tables: the job writes them with ids it just read from the registry, and PostgreSQL would check
# each COPY row with a trigger (decisions 0006 and 0013).
consumption_months = Table(
    "consumption_months",
    metadata,
    Column("meter_id", Integer, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("household_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("days", LargeBinary, nullable=False),
    Column("total_micro", BigInteger, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)
Index("ix_consumption_months_household", consumption_months.c.household_id, consumption_months.c.month)

# The footprint of those intervals under one factor set: mg CO2(e) per day packed the same way, with the
# hash of the factor set's content so a result always names exactly what priced it.
footprint_months = Table(
    "footprint_months",
    metadata,
    # Key order serves both writers and readers with one index: a recompute deletes one set's rows of a
    # community's households, and a household's account reads one set's months of one household.
    Column("factor_set_id", String(100), primary_key=True),
    Column("household_id", Integer, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("meter_id", Integer, primary_key=True),
    Column("factor_set_hash", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("co2e_mg", LargeBinary, nullable=False),
    Column("total_mg", BigInteger, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)

# --- inventory and roadmap (migration 0005) ---

# One operator import of activity data (GPC inventory) or of roadmap projects/measurements. The file's
# SHA-256 makes a second import of the same file a visible refusal rather than double counting.
inventory_imports = Table(
    "inventory_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # activity | projects | measurements
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    UniqueConstraint("community_id", "sha256", name="uq_inventory_imports_community_sha256"),
)

# Operator-entered GPC activity rows. Decimals are stored as their exact text on both engines.
inventory_activity = Table(
    "inventory_activity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("import_id", Integer, ForeignKey("inventory_imports.id"), nullable=False),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("row_number", Integer, nullable=False),
    Column("ref", String(8), nullable=False),
    Column("scope", SmallInteger, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("activity", String(40), nullable=True),
    Column("unit", String(32), nullable=False),
    Column("factor_kg_per_unit", String(40), nullable=True),
    Column("kg_co2e", String(40), nullable=True),
    Column("notation", String(2), nullable=True),
    Column("quality", String(1), nullable=True),
    Column("factor_quality", String(1), nullable=True),
    Column("source", Text, nullable=False),
    Column("note", Text, nullable=False),
)
Index(
    "ix_inventory_activity_community_period",
    inventory_activity.c.community_id,
    inventory_activity.c.period_start,
)

roadmap_projects = Table(
    "roadmap_projects",
    metadata,
    Column("community_id", Integer, ForeignKey("communities.id"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("import_id", Integer, ForeignKey("inventory_imports.id"), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("sector", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expected_t_per_year", String(40), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("note", Text, nullable=False),
)

roadmap_measurements = Table(
    "roadmap_measurements",
    metadata,
    Column("community_id", Integer, ForeignKey("communities.id"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("period_end", Date, nullable=False),
    Column("import_id", Integer, ForeignKey("inventory_imports.id"), nullable=False),
    Column("avoided_t", String(40), nullable=False),
    Column("method", Text, nullable=False),
    Column("source", Text, nullable=False),
)

# --- weather and baselines (migration 0006) ---

# A weather station (the pilot's own, or the county meteorological bureau's) and the community it serves.
weather_stations = Table(
    "weather_stations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)

# Air temperature observations: UTC epoch seconds, thousandths of a °C (integers on both engines).
weather_observations = Table(
    "weather_observations",
    metadata,
    Column("station_id", String(64), ForeignKey("weather_stations.id"), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("temperature_mc", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", BigInteger, nullable=False),
)

# Every fitted baseline: model, version, parameters and metrics as JSON, training window, eligibility.
baseline_fits = Table(
    "baseline_fits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("model", String(32), nullable=False),
    Column("version", String(16), nullable=False),
    Column("params", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("train_first", Date, nullable=False),
    Column("train_last", Date, nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("fitted_at", BigInteger, nullable=False),
)
Index("ix_baseline_fits_household", baseline_fits.c.household_id, baseline_fits.c.kind)

# Avoided use per household, quantity and local day under a factor set: millionths of the unit and mg
# CO2e as integers (like footprint_months); ``counted_co2e_mg`` is what survives the conservative rule.
avoided_daily = Table(
    "avoided_daily",
    metadata,
    Column("household_id", Integer, ForeignKey("households.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("factor_set_id", String(100), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("fit_id", Integer, ForeignKey("baseline_fits.id"), nullable=False),
    Column("model", String(32), nullable=False),
    Column("model_version", String(16), nullable=False),
    Column("counterfactual_micro", BigInteger, nullable=False),
    Column("actual_micro", BigInteger, nullable=False),
    Column("avoided_micro", BigInteger, nullable=False),
    Column("avoided_co2e_mg", BigInteger, nullable=False),
    Column("counted_co2e_mg", BigInteger, nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)
Index("ix_avoided_daily_factor_set_day", avoided_daily.c.factor_set_id, avoided_daily.c.day)

# --- points ledger, catalogue, vouchers (migration 0007) ---

# The points ledger (docs/decisions/0011-points-ledger.md), after TigerBeetle's accounts and transfers.
# Balances change only together with a transfer row, in one transaction, under row locks; the CHECKs
# are the last line of defence should a bug or a hand-made UPDATE try to overdraw an account.
points_accounts = Table(
    "points_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    # tanhui.points.ledger.AccountKind; owner_id is the household or merchant id, 0 for community accounts.
    Column("kind", String(16), nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("ledger", SmallInteger, nullable=False),
    Column("debits_must_not_exceed_credits", Boolean, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("community_id", "kind", "owner_id", name="uq_points_accounts_community_kind_owner"),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
        name="ck_points_accounts_sums_not_negative",
    ),
    CheckConstraint(
        "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
        name="ck_points_accounts_debits_within_credits",
    ),
)

# Append-only: a pending transfer is resolved by a second row (post or void) naming it in pending_id,
# which is unique, so a hold can be resolved once whatever the interleaving. The audit log reads this.
points_transfers = Table(
    "points_transfers",
    metadata,
    # Insertion order, for paging and for the audit log's cursor; not a business identifier.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # The 128-bit transfer id in hex, derived from the business event: the idempotency key.
    Column("id", String(32), nullable=False, unique=True),
    Column("debit_account_id", Integer, ForeignKey("points_accounts.id"), nullable=False),
    Column("credit_account_id", Integer, ForeignKey("points_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("pending_id", String(32), nullable=True, unique=True),
    Column("ledger", SmallInteger, nullable=False),
    Column("code", SmallInteger, nullable=False),
    Column("flags", SmallInteger, nullable=False),
    Column("timeout", Integer, nullable=False),
    Column("reference", String(200), nullable=False),
    # Ledger time in UTC epoch seconds (the writer's clock, taken once per batch).
    Column("timestamp", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="ck_points_transfers_amount_positive"),
)
Index("ix_points_transfers_debit_account", points_transfers.c.debit_account_id, points_transfers.c.seq)
Index("ix_points_transfers_credit_account", points_transfers.c.credit_account_id, points_transfers.c.seq)

merchants = Table(
    "merchants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("slug", String(64), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    # Demo merchants are examples, labelled as such wherever they are shown (shared/docs/baoting.md).
    Column("demo", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("community_id", "slug", name="uq_merchants_community_slug"),
)

# Which merchant a user with the merchant role validates vouchers for.
merchant_staff = Table(
    "merchant_staff",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False),
)

rewards = Table(
    "rewards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("terms_zh", Text, nullable=False),
    Column("terms_en", Text, nullable=False),
    Column("price_points", BigInteger, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("voucher_ttl_seconds", Integer, nullable=False),
    Column("demo", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("stock >= 0", name="ck_rewards_stock_not_negative"),
    CheckConstraint("price_points > 0", name="ck_rewards_price_positive"),
)

# A voucher is the hold transfer plus what a merchant needs to see; its state (open, redeemed,
# cancelled, expired) is read from the transfer that resolved the hold, never stored twice.
vouchers = Table(
    "vouchers",
    metadata,
    # A random 40-bit number (tanhui.points.voucher), so codes cannot be enumerated.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("reward_id", Integer, ForeignKey("rewards.id"), nullable=False),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=False),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False),
    Column("hold_transfer_id", String(32), ForeignKey("points_transfers.id"), nullable=False, unique=True),
    Column("points", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_vouchers_household", vouchers.c.household_id, vouchers.c.created_at)

# --- audit log (migration 0008) ---

# One append-only Merkle log per community (docs/decisions/0012-audit-log.md). Public: leaves, tiles,
# checkpoints, cosignatures, anchors. Private: ``audit_openings`` (the salts behind the commitments and
# what each leaf is about), served only in evidence bundles to those allowed to see them.
audit_logs = Table(
    "audit_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False, unique=True),
    # The log's identity in checkpoints (c2sp.org/tlog-checkpoint), also the signing key's name.
    Column("origin", String(200), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

audit_leaves = Table(
    "audit_leaves",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    # Deterministic CBOR entry (tanhui.audit.leaves); the leaf hash is SHA-256(0x00 ‖ entry).
    Column("entry", LargeBinary, nullable=False),
)

audit_openings = Table(
    "audit_openings",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    # What the leaf is about: "batch:<id>", "result:<meter>:<day>:<factor set>", "factor_set:<id>:<hash>".
    Column("subject", String(200), nullable=False),
    Column("household_id", Integer, nullable=True),
    # The 32-byte secret the entry's salts derive from; deleting it makes the committed values
    # unrecoverable while the tree stays verifiable.
    Column("secret", LargeBinary, nullable=True),
)
Index("ix_audit_openings_subject", audit_openings.c.log_id, audit_openings.c.subject)
Index("ix_audit_openings_household", audit_openings.c.household_id)

# c2sp.org/tlog-tiles hash tiles: up to 256 hashes of tree level 8·level; the rightmost grows in place.
audit_tiles = Table(
    "audit_tiles",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("level", SmallInteger, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("width", SmallInteger, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("root", LargeBinary, nullable=False),
    # The signed note as published (c2sp.org/signed-note), log signature only.
    Column("note", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

audit_cosignatures = Table(
    "audit_cosignatures",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("witness", String(200), primary_key=True),
    # One signature line (c2sp.org/tlog-cosignature), appended to the note when published.
    Column("line", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

audit_anchors = Table(
    "audit_anchors",
    metadata,
    Column("log_id", Integer, ForeignKey("audit_logs.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("root", LargeBinary, nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# --- insights alerts (migration 0010) ---

# One row per anomaly episode on a meter (tanhui.store.alerts). At most one open alert per meter and kind
# (the partial unique index): a repeated finding updates ``last_seen`` and ``occurrences`` instead of
# alerting again. Acknowledgement (someone has seen it) and resolution (it is over) are separate steps.
insight_alerts = Table(
    "insight_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=True),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("severity", String(16), nullable=False),
    # Who is told: "resident" (the household's own leak or unusual use) or "operator" (meter faults).
    Column("audience", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("started_at", BigInteger, nullable=False),
    Column("detected_at", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("occurrences", Integer, nullable=False, server_default="1"),
    Column("evidence", Text, nullable=False),
    Column("acknowledged_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("resolved_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolution", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("status IN ('open', 'resolved')", name="ck_insight_alerts_status"),
    CheckConstraint("audience IN ('resident', 'operator')", name="ck_insight_alerts_audience"),
)
Index(
    "uq_insight_alerts_open",
    insight_alerts.c.meter_id,
    insight_alerts.c.kind,
    unique=True,
    sqlite_where=insight_alerts.c.status == "open",
    postgresql_where=insight_alerts.c.status == "open",
)
Index("ix_insight_alerts_community_status", insight_alerts.c.community_id, insight_alerts.c.status)
Index("ix_insight_alerts_household", insight_alerts.c.household_id)

# --- web: disputes, onboarding, settings (migration 0011) ---

# A resident's objection to a reading or to a day's figure, and the operator's answer. Status moves
# open -> answered -> closed (or open -> closed); the row is updated in place, every step is also an
# ``operator_actions`` row when an operator takes it.
disputes = Table(
    "disputes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("household_id", Integer, ForeignKey("households.id"), nullable=False),
    Column("filed_by", Integer, ForeignKey("users.id"), nullable=False),
    # "reading" (one meter's reading on ``day``) or "day" (the day's figure of the whole household).
    Column("subject", String(16), nullable=False),
    Column("meter_serial", String(96), nullable=True),
    Column("day", Date, nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("answer", Text, nullable=True),
    Column("answered_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("answered_at", BigInteger, nullable=True),
    Column("closed_at", BigInteger, nullable=True),
    CheckConstraint("status IN ('open', 'answered', 'closed')", name="ck_disputes_status"),
    CheckConstraint("subject IN ('reading', 'day')", name="ck_disputes_subject"),
)
Index("ix_disputes_community_status", disputes.c.community_id, disputes.c.status)
Index("ix_disputes_household", disputes.c.household_id)

# Per-user privacy choices; the language itself lives in ``users.locale``.
user_settings = Table(
    "user_settings",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    # Whether the household's figures count in the anonymised comparison with similar households.
    Column("peer_comparison", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Append-only: who did what to which target, when. Never updated or deleted (store.operator_log offers
# no way to), so the audit log can take it over as it stands.
operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    # Null for the command line, which acts as no signed-in user; ``actor`` then says "cli".
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    # JSON object with the action's parameters (never a secret such as a token).
    Column("detail", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)
Index("ix_operator_actions_community_at", operator_actions.c.community_id, operator_actions.c.at)

# Each CSV onboarding attempt, applied or refused, with its validation report.
onboarding_imports = Table(
    "onboarding_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("households_created", Integer, nullable=False),
    Column("meters_created", Integer, nullable=False),
    Column("gateways_created", Integer, nullable=False),
    # JSON list of {row, column, code, value}: the validation report of a refused import.
    Column("errors", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)
