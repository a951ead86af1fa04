"""Shared fixtures: stores on SQLite and PostgreSQL, an in-process app, a live server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "MODELYARD_TEST_POSTGRES_URL"


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_uri(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database URI: SQLite in tmp_path, or a new PostgreSQL database.

    PostgreSQL tests skip without MODELYARD_TEST_POSTGRES_URL, except in CI,
    where a missing PostgreSQL is a failure.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'modelyard.db'}"
        return
    admin = _postgres_admin_url()
    if not admin:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI; PostgreSQL tests must not be skipped")
        pytest.skip(f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres to run PostgreSQL tests")
    yield from _fresh_postgres_db(admin)


def _fresh_postgres_db(admin_uri: str) -> Iterator[str]:
    name = f"modelyard_test_{uuid.uuid4().hex[:12]}"
    admin_url = admin_uri.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_uri.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
