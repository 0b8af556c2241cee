"""Alembic migrations of the ara-server schema (applied at startup)."""
