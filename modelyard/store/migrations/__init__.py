"""Alembic migrations of the tracking store (linear, numbered ``0001_...``)."""
