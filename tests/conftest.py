"""Shared fixtures: a throwaway PostgreSQL server on loopback (tests/helpers/postgres.py).

Suites, the CLI runner and the other helpers are plain imports from `tests.helpers`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.postgres import INSTALL_HINT, PostgresServer, postgres_bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the test session; fails (never skips) without the binaries."""
    if postgres_bindir() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()
