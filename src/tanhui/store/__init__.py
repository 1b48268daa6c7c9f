"""The store: schema, migrations and one repository module per aggregate.

SQLAlchemy Core on SQLite (embedded default) and PostgreSQL (production); the same Alembic migrations
build both. Times are stored as integer UTC epoch seconds, amounts as integers, so both engines compare
and sum them exactly.
"""
