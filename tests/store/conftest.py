"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from modelyard.store import Database


@pytest.fixture
def pg_db(tmp_path):
    """A Database over a fresh PostgreSQL database (skipped without one, except in CI)."""
    from ..conftest import fresh_database

    with fresh_database("postgresql", tmp_path) as uri:
        db = Database(uri)
        yield db
        db.dispose()
