"""SqliteStateStore: the embedded StateStore for the CLI, the demo and tests.

When no Azure Storage is configured, the product still needs dedupe, an audit trail,
leases and pending work, with the same semantics it has in Azure, so that a demo run
behaves like production. One SQLite file (or ``":memory:"``) holds it all.

The executor calls the store from worker threads, so one connection is shared under a
lock; multi-statement operations run in ``BEGIN IMMEDIATE`` transactions, which also
make two processes on the same file exclude each other.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from ops.errors import Conflict
from ops.state.store import AuditRecord, Lease, PendingItem, Record, as_utc, epoch_micros, from_epoch_micros

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dedupe (
    namespace TEXT NOT NULL, key TEXT NOT NULL, expires_us INTEGER NOT NULL,
    PRIMARY KEY (namespace, key));
CREATE TABLE IF NOT EXISTS audit (
    key TEXT PRIMARY KEY, capability TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
    reason TEXT NOT NULL, status TEXT NOT NULL, at_us INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_us DESC, key);
CREATE TABLE IF NOT EXISTS records (
    tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, etag TEXT NOT NULL,
    PRIMARY KEY (tbl, key));
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, token TEXT NOT NULL, expires_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    kind TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, due_us INTEGER NOT NULL,
    PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS pending_by_due ON pending (kind, due_us, key);
"""


class SqliteStateStore:
    """StateStore on one SQLite database; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._lock = threading.Lock()
        path = os.fspath(path)
        # Autocommit mode: transactions are explicit (see _transaction), never implicit.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        if path != ":memory:":
            # WAL lets a reader (say, `ops` inspecting the audit) run beside a writer.
            _switch_to_wal(self._db)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # dedupe ---------------------------------------------------------------
    def claim_once(self, namespace: str, key: str, *, ttl: timedelta, now: datetime) -> bool:
        now_us = epoch_micros(now)
        with self._transaction() as db:
            row = db.execute(
                "SELECT expires_us FROM dedupe WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
            if row is not None and row[0] > now_us:
                return False
            db.execute(
                "INSERT OR REPLACE INTO dedupe (namespace, key, expires_us) VALUES (?, ?, ?)",
                (namespace, key, epoch_micros(now + ttl)),
            )
            return True

    # audit ----------------------------------------------------------------
    def append_audit(self, record: AuditRecord) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO audit (key, capability, kind, target, reason, status, at_us, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.key,
                    record.capability,
                    record.kind,
                    record.target,
                    record.reason,
                    record.status,
                    epoch_micros(record.at),
                    dump_json(record.detail),
                ),
            )
            return cursor.rowcount == 1

    def query_audit(
        self,
        *,
        capability: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        until: datetime | None = None,
        kind: str | None = None,
        status: str | None = None,
        target: str | None = None,
    ) -> Sequence[AuditRecord]:
        if limit <= 0:  # SQLite reads a negative LIMIT as "no limit"
            return []
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("capability", capability), ("kind", kind), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if target is not None:
            clauses.append("instr(lower(target), ?) > 0")
            params.append(target.lower())
        if since is not None:
            clauses.append("at_us >= ?")
            params.append(epoch_micros(since))
        if until is not None:
            clauses.append("at_us < ?")
            params.append(epoch_micros(until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select_audit(f"{where} ORDER BY at_us DESC, key LIMIT ?", (*params, limit))

    def find_audit(self, key_prefix: str, *, limit: int = 2) -> Sequence[AuditRecord]:
        if limit <= 0:
            return []
        # substr rather than LIKE: a key may hold % or _, which LIKE reads as wildcards.
        return self._select_audit(
            "WHERE substr(key, 1, ?) = ? ORDER BY key LIMIT ?", (len(key_prefix), key_prefix, limit)
        )

    def _select_audit(self, clauses: str, params: Sequence[Any]) -> list[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT key, capability, kind, target, reason, status, at_us, detail FROM audit {clauses}",
                tuple(params),
            ).fetchall()
        return [
            AuditRecord(
                key=key,
                capability=cap,
                kind=kind,
                target=target,
                reason=reason,
                status=status,
                at=from_epoch_micros(at_us),
                detail=json.loads(detail),
            )
            for key, cap, kind, target, reason, status, at_us, detail in rows
        ]

    # keyed records ----------------------------------------------------------
    def get_record(self, table: str, key: str) -> Record | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, etag FROM records WHERE tbl = ? AND key = ?", (table, key)
            ).fetchone()
        return None if row is None else Record(key=key, value=json.loads(row[0]), etag=row[1])

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Record:
        text = dump_json(value)
        new_etag = uuid.uuid4().hex
        with self._transaction() as db:
            if etag is None:
                try:
                    db.execute(
                        "INSERT INTO records (tbl, key, value, etag) VALUES (?, ?, ?, ?)",
                        (table, key, text, new_etag),
                    )
                except sqlite3.IntegrityError as error:
                    raise Conflict(f"record {table}/{key} already exists") from error
            elif etag == "*":
                db.execute(
                    "INSERT OR REPLACE INTO records (tbl, key, value, etag) VALUES (?, ?, ?, ?)",
                    (table, key, text, new_etag),
                )
            else:
                cursor = db.execute(
                    "UPDATE records SET value = ?, etag = ? WHERE tbl = ? AND key = ? AND etag = ?",
                    (text, new_etag, table, key, etag),
                )
                if cursor.rowcount != 1:
                    raise Conflict(f"record {table}/{key} changed or is gone (ETag mismatch)")
        return Record(key=key, value=json.loads(text), etag=new_etag)

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        with self._transaction() as db:
            if etag is None or etag == "*":
                db.execute("DELETE FROM records WHERE tbl = ? AND key = ?", (table, key))
                return
            row = db.execute("SELECT etag FROM records WHERE tbl = ? AND key = ?", (table, key)).fetchone()
            if row is None:
                return
            if row[0] != etag:
                raise Conflict(f"record {table}/{key} changed (ETag mismatch)")
            db.execute("DELETE FROM records WHERE tbl = ? AND key = ?", (table, key))

    def list_records(self, table: str, *, prefix: str = "") -> Sequence[Record]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value, etag FROM records WHERE tbl = ? AND substr(key, 1, ?) = ? ORDER BY key",
                (table, len(prefix), prefix),
            ).fetchall()
        return [Record(key=key, value=json.loads(value), etag=etag) for key, value, etag in rows]

    # leases -----------------------------------------------------------------
    def acquire_lease(self, name: str, *, holder: str, duration: timedelta, now: datetime) -> Lease | None:
        if duration <= timedelta(0):
            raise ValueError(f"lease duration must be positive, got {duration}")
        expires = as_utc(now + duration)
        token = uuid.uuid4().hex
        with self._transaction() as db:
            row = db.execute("SELECT expires_us FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] > epoch_micros(now):
                return None
            db.execute(
                "INSERT OR REPLACE INTO leases (name, holder, token, expires_us) VALUES (?, ?, ?, ?)",
                (name, holder, token, epoch_micros(expires)),
            )
        return Lease(name=name, holder=holder, token=token, expires=expires)

    def renew_lease(self, lease: Lease, *, duration: timedelta, now: datetime) -> Lease | None:
        if duration <= timedelta(0):
            raise ValueError(f"lease duration must be positive, got {duration}")
        expires = as_utc(now + duration)
        with self._transaction() as db:
            renewed = db.execute(
                "UPDATE leases SET expires_us = ? WHERE name = ? AND token = ?",
                (epoch_micros(expires), lease.name, lease.token),
            ).rowcount
        return Lease(lease.name, lease.holder, lease.token, expires) if renewed else None

    def read_lease(self, name: str) -> Lease | None:
        with self._lock:
            row = self._db.execute("SELECT holder, expires_us FROM leases WHERE name = ?", (name,)).fetchone()
        return None if row is None else Lease(name, row[0], "", from_epoch_micros(row[1]))

    def release_lease(self, lease: Lease) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND token = ?", (lease.name, lease.token))

    # pending work -------------------------------------------------------------
    def put_pending(self, item: PendingItem) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending (kind, key, payload, due_us) VALUES (?, ?, ?, ?)",
                (item.kind, item.key, dump_json(item.payload), epoch_micros(item.due)),
            )

    def list_due(self, kind: str, *, now: datetime, limit: int = 100) -> Sequence[PendingItem]:
        return self._select_pending(kind, due_by=epoch_micros(now), limit=limit)

    def list_pending(self, kind: str, *, limit: int = 1000) -> Sequence[PendingItem]:
        return self._select_pending(kind, due_by=None, limit=limit)

    def _select_pending(self, kind: str, *, due_by: int | None, limit: int) -> list[PendingItem]:
        if limit <= 0:
            return []
        due_clause = "" if due_by is None else " AND due_us <= ?"
        params: tuple[Any, ...] = (kind,) if due_by is None else (kind, due_by)
        with self._lock:
            rows = self._db.execute(
                f"SELECT key, payload, due_us FROM pending WHERE kind = ?{due_clause}"
                " ORDER BY due_us, key LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            PendingItem(kind=kind, key=key, payload=json.loads(payload), due=from_epoch_micros(due_us))
            for key, payload, due_us in rows
        ]

    def remove_pending(self, kind: str, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM pending WHERE kind = ? AND key = ?", (kind, key))


def dump_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _switch_to_wal(db: sqlite3.Connection, *, attempts: int = 100) -> None:
    """Switch to WAL, waiting out another process doing the same to a new file.

    SQLite answers SQLITE_BUSY at once here instead of calling the busy handler, so the
    connection's timeout does not help: two processes opening a fresh file would race.
    """
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or attempt == attempts - 1:
                raise
            time.sleep(0.05)
