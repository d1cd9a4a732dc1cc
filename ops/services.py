"""Wiring: Settings → state store and adapters → the services that triggers and the CLI call.

This is the one place that decides which implementation backs each Protocol, so
tests swap fakes here and nowhere else. Adapters are imported lazily: building
Services must stay cheap at cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ops.config import Settings, load_settings
from ops.executor import ExecutionPolicy
from ops.state.store import StateStore


@dataclass
class Services:
    """Lazily built, process-wide collaborators; clients are created once and reused."""

    settings: Settings
    _store: StateStore | None = field(default=None, repr=False)

    def store(self) -> StateStore:
        if self._store is None:
            self._store = open_state_store(self.settings)
        return self._store

    def execution_policy(self, *, apply: bool | None = None) -> ExecutionPolicy:
        """Dry-run unless ``apply`` says so or the settings turn dry-run off."""
        dry_run = self.settings.core.dry_run if apply is None else not apply
        return ExecutionPolicy(
            dry_run=dry_run,
            kill_switch=self.settings.core.kill_switch,
            max_concurrency=self.settings.caps.max_concurrency,
        )


def open_state_store(settings: Settings) -> StateStore:
    """Azure Tables when storage is configured, else the embedded SQLite file."""
    storage = settings.storage
    if storage.mode == "sqlite":
        from ops.state.sqlite import SqliteStateStore

        Path(storage.state_path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStateStore(storage.state_path)
    from ops.adapters.identity import build_credential
    from ops.adapters.storage import open_table_store

    credential = None if storage.mode == "connection_string" else build_credential(settings, storage.client_id)
    return open_table_store(
        connection_string=storage.connection_string,
        table_endpoint=storage.service_uri("table"),
        blob_endpoint=storage.service_uri("blob"),
        credential=credential,
    )


_SERVICES: dict[str, Services] = {}


def get_services(env: Mapping[str, str] | None = None) -> Services:
    """The process-wide Services (triggers call this on every invocation; it is cached)."""
    if env is not None:
        return Services(load_settings(env))
    if "default" not in _SERVICES:
        _SERVICES["default"] = Services(load_settings(os.environ))
    return _SERVICES["default"]


def reset_services() -> None:
    """Forget cached Services, e.g. after the CLI loads an env file or a test changes env."""
    _SERVICES.clear()
