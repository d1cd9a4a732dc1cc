"""Fixtures for the state-store contract: one Azurite per session, and a store per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.adapters.storage import TableStateStore, open_table_store
from ops.state.sqlite import SqliteStateStore
from ops.state.store import StateStore
from tests.support.azurite import AZURITE_BIN, run_azurite

# Opens another handle on one test's state (the contract tests declare the same alias).
OpenStore = Callable[[], StateStore]


@pytest.fixture(scope="session")
def azurite_connection_string(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not AZURITE_BIN.exists():
        pytest.fail(f"Azurite is required for the Azure Tables store tests and is missing at {AZURITE_BIN}")
    with run_azurite(tmp_path_factory.mktemp("azurite")) as azurite:
        yield azurite.connection_string


@pytest.fixture(params=["sqlite", "azure-tables"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens a handle on this test's own, empty state; every handle sees the same state,
    as two instances of the app would."""
    opened: list[SqliteStateStore | TableStateStore] = []
    if request.param == "sqlite":
        path = tmp_path / "state.db"

        def open_sqlite() -> StateStore:
            opened.append(SqliteStateStore(path))
            return opened[-1]

        yield open_sqlite
    else:
        connection_string = request.getfixturevalue("azurite_connection_string")
        # Table names are per account, so a unique prefix gives each test fresh tables.
        prefix = "t" + uuid.uuid4().hex[:16]

        def open_tables() -> StateStore:
            opened.append(open_table_store(connection_string=connection_string, prefix=prefix))
            return opened[-1]

        yield open_tables
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> StateStore:
    return open_store()
