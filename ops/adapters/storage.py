"""TableStateStore: the StateStore on Azure Table Storage, with leases on blob leases.

This is the production store (and, on Azurite, the local one). It keeps everything in
the app's own storage account, so every instance of the Function App shares dedupe,
audit, records, leases and pending work.

Layout (``<prefix>`` defaults to ``ops``)::

    <prefix>dedupe   PartitionKey=namespace  RowKey=key           expires
    <prefix>audit    PartitionKey="audit"    RowKey="k-"+key      log_row          (key index)
                                             RowKey="t-"+inv(at)+"-"+key  record    (newest first)
    <prefix>records  PartitionKey=table      RowKey=key           json0..n
    <prefix>pending  PartitionKey=kind       RowKey=key           due, json0..n
    container <prefix>-leases: one empty blob per lease name

Keys are escaped with :func:`encode_key` because Table keys forbid ``/ \\ # ?`` and
control characters, and ``%`` and ``'`` break point operations in Azure and Azurite.

The audit append is one entity-group transaction that creates the key index and the
log entry together: the service makes it atomic, so concurrent appends of one key
leave exactly one record, and a crash cannot leave an index without its entry. The
log RowKey starts with an inverted timestamp, so a partition scan is newest first.
The audit is one partition, which bounds it to a few thousand writes a second; that
is far above what operations on a platform produce.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, TableServiceClient, TableTransactionError, UpdateMode
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

from ops.adapters.errors import translated_errors
from ops.errors import (
    ConfigError,
    Conflict,
)
from ops.state.store import AuditRecord, Lease, PendingItem, Record, as_utc, epoch_micros

_AUDIT_PARTITION = "audit"
_INDEX_PREFIX = "k-"
_LOG_PREFIX = "t-"
# "t." is the first RowKey after every "t-..." one: '.' follows '-' in ASCII.
_LOG_END = "t."
_INVERT_FROM = 10**20 - 1
# A Table string property holds 64 KiB of UTF-16; 15,000 characters fit even if all
# are outside the BMP (two code units each).
_JSON_CHUNK = 15_000
_PREFIX_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9]{0,50}")
# Characters kept as they are in keys and blob names; everything else is escaped.
_SAFE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
_ESCAPE = "_"


class TableStateStore:
    """StateStore on Azure Tables, plus blob leases for singleton leases.

    Leases. Azure lets a blob lease last 15 to 60 seconds or forever, and keeps its
    own clock, while the protocol takes any duration and an injected ``now``. So the
    lease blob's metadata records the holder and the expiry by the caller's clock, and
    the blob lease is the lock:

    * 15-60 s maps to a fixed blob lease of that length (rounded up to whole seconds),
      so Azure frees the lock by itself if the holder dies;
    * shorter durations take a 15 s fixed lease, longer ones an infinite lease;
    * a contender that finds the blob leased reads the metadata, and if its expiry has
      passed, breaks the lease conditionally on the blob's ETag, then acquires.

    An acquisition counts only once the holder has written its metadata under its own
    lease id. Lease operations do not change the blob's ETag but the metadata write
    does, so a contender can only break a lease whose holder has not yet recorded
    itself; that holder's metadata write then fails and it reports None. Hence
    exactly one winner, for every duration, without a second locking mechanism that
    could disagree with the first. Expiry by metadata trusts the instances' clocks to
    agree within a small skew, as any time-based lease must.
    """

    def __init__(self, *, tables: TableServiceClient, blobs: BlobServiceClient, prefix: str = "ops") -> None:
        if not _PREFIX_PATTERN.fullmatch(prefix):
            raise ConfigError(
                f"state table prefix: {prefix!r} must be a letter then up to 50 letters or digits"
            )
        self._tables = tables
        self._blobs = blobs
        self._dedupe = tables.get_table_client(f"{prefix}dedupe")
        self._audit = tables.get_table_client(f"{prefix}audit")
        self._records = tables.get_table_client(f"{prefix}records")
        self._pending = tables.get_table_client(f"{prefix}pending")
        self._leases = blobs.get_container_client(f"{prefix.lower()}-leases")

    def close(self) -> None:
        """Close the service clients' connection pools."""
        self._tables.close()
        self._blobs.close()

    def create_if_missing(self) -> None:
        """Create the tables and the lease container; safe to call from every instance."""
        with translated_errors("create state tables"):
            for table in (self._dedupe, self._audit, self._records, self._pending):
                self._tables.create_table_if_not_exists(table.table_name)
            with contextlib.suppress(ResourceExistsError):
                self._leases.create_container()

    # dedupe ---------------------------------------------------------------
    def claim_once(self, namespace: str, key: str, *, ttl: timedelta, now: datetime) -> bool:
        entity = {
            "PartitionKey": encode_key(namespace),
            "RowKey": encode_key(key),
            "expires": format_instant(now + ttl),
        }
        with translated_errors(f"claim {namespace}/{key}"):
            # Two rounds cover a claim deleted between our create and our read.
            for _ in range(2):
                try:
                    self._dedupe.create_entity(entity)
                    return True
                except ResourceExistsError:
                    pass
                try:
                    current = self._dedupe.get_entity(entity["PartitionKey"], entity["RowKey"])
                except ResourceNotFoundError:
                    continue
                if current["expires"] > format_instant(now):
                    return False
                try:
                    # Expired: take it over, unless another claimant did so first.
                    self._dedupe.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=current.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                    return True
                except ResourceModifiedError:
                    return False
                except ResourceNotFoundError:
                    continue
        return False

    # audit ----------------------------------------------------------------
    def append_audit(self, record: AuditRecord) -> bool:
        key = encode_key(record.key)
        log_row = f"{_LOG_PREFIX}{inverted_instant(record.at)}-{key}"
        index = {"PartitionKey": _AUDIT_PARTITION, "RowKey": _INDEX_PREFIX + key, "log_row": log_row}
        entry = {
            "PartitionKey": _AUDIT_PARTITION,
            "RowKey": log_row,
            "key": record.key,
            "capability": record.capability,
            "kind": record.kind,
            "target": record.target,
            "reason": record.reason,
            "status": record.status,
            "at": format_instant(record.at),
            **split_json(record.detail),
        }
        with translated_errors(f"append audit {record.key}"):
            try:
                self._audit.submit_transaction([("create", index), ("create", entry)])
            except TableTransactionError as error:
                if error.status_code == 409:
                    return False
                raise
        return True

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
        if limit <= 0:
            return []
        # Inverted timestamps, newest first: "at >= since" is "RowKey below the row just
        # after since", and "at < until" is "RowKey from the row just after until".
        start = _LOG_PREFIX if until is None else f"{_LOG_PREFIX}{inverted_instant(until) + 1:020d}"
        end = _LOG_END if since is None else f"{_LOG_PREFIX}{inverted_instant(since) + 1:020d}"
        query = "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end"
        parameters = {"pk": _AUDIT_PARTITION, "start": start, "end": end}
        for name, value in (("capability", capability), ("kind", kind), ("status", status)):
            if value is not None:
                query += f" and {name} eq @{name}"
                parameters[name] = value
        # OData has no substring filter: the target is matched here, as the pages stream in.
        wanted = None if target is None else target.lower()
        with translated_errors("query audit"):
            entities = self._audit.query_entities(
                query, parameters=parameters, results_per_page=min(limit, 1000)
            )
            matching = (e for e in entities if wanted is None or wanted in e["target"].lower())
            return [_audit_record(entity) for entity in itertools.islice(matching, limit)]

    def find_audit(self, key_prefix: str, *, limit: int = 2) -> Sequence[AuditRecord]:
        if limit <= 0:
            return []
        # encode_key keeps prefixes, and "~" sorts after every character it writes.
        start = _INDEX_PREFIX + encode_key(key_prefix)
        query = "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end"
        parameters = {"pk": _AUDIT_PARTITION, "start": start, "end": start + "~"}
        with translated_errors("find audit"):
            index = self._audit.query_entities(query, parameters=parameters, results_per_page=limit)
            rows = [entry["log_row"] for entry in itertools.islice(index, limit)]
            # One transaction wrote each index row with its log row, so both are there.
            return [_audit_record(self._audit.get_entity(_AUDIT_PARTITION, row)) for row in rows]

    # keyed records ----------------------------------------------------------
    def get_record(self, table: str, key: str) -> Record | None:
        with translated_errors(f"get record {table}/{key}"):
            try:
                entity = self._records.get_entity(encode_key(table), encode_key(key))
            except ResourceNotFoundError:
                return None
        return Record(key=key, value=join_json(entity), etag=read_etag(entity))

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Record:
        entity = {"PartitionKey": encode_key(table), "RowKey": encode_key(key), **split_json(value)}
        with translated_errors(f"put record {table}/{key}"):
            try:
                if etag is None:
                    written = self._records.create_entity(entity)
                elif etag == "*":
                    written = self._records.upsert_entity(entity, mode=UpdateMode.REPLACE)
                else:
                    written = self._records.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except ResourceExistsError as error:
                raise Conflict(f"record {table}/{key} already exists") from error
            except (ResourceModifiedError, ResourceNotFoundError) as error:
                raise Conflict(f"record {table}/{key} changed or is gone (ETag mismatch)") from error
        return Record(key=key, value=join_json(entity), etag=written["etag"])

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        conditional = etag is not None and etag != "*"
        with translated_errors(f"delete record {table}/{key}"):
            try:
                # The SDK treats a 404 on delete as success, which is what we want.
                self._records.delete_entity(
                    encode_key(table),
                    encode_key(key),
                    etag=etag if conditional else None,
                    match_condition=MatchConditions.IfNotModified if conditional else None,
                )
            except ResourceModifiedError as error:
                raise Conflict(f"record {table}/{key} changed (ETag mismatch)") from error

    def list_records(self, table: str, *, prefix: str = "") -> Sequence[Record]:
        query = "PartitionKey eq @pk"
        parameters = {"pk": encode_key(table)}
        if prefix:
            # encode_key maps each character on its own, so encoded prefixes stay prefixes.
            start = encode_key(prefix)
            query += " and RowKey ge @start and RowKey lt @end"
            parameters |= {"start": start, "end": start[:-1] + chr(ord(start[-1]) + 1)}
        with translated_errors(f"list records {table}"):
            records = [
                Record(key=decode_key(entity["RowKey"]), value=join_json(entity), etag=read_etag(entity))
                for entity in self._records.query_entities(query, parameters=parameters)
            ]
        return sorted(records, key=lambda record: record.key)

    # leases -----------------------------------------------------------------
    def acquire_lease(self, name: str, *, holder: str, duration: timedelta, now: datetime) -> Lease | None:
        if duration <= timedelta(0):
            raise ValueError(f"lease duration must be positive, got {duration}")
        blob = self._leases.get_blob_client(encode_key(name))
        expires = as_utc(now + duration)
        with translated_errors(f"acquire lease {name}"):
            lease = take_blob_lease(blob, seconds=choose_blob_lease_seconds(duration), now=now)
            if lease is None:
                return None
            try:
                blob.set_blob_metadata(
                    {"holder": encode_key(holder), "expires": format_instant(expires)}, lease=lease
                )
            except HttpResponseError as error:
                if error.status_code == 412:
                    # A contender broke the lease before we recorded ourselves: it wins.
                    return None
                raise
        return Lease(name=name, holder=holder, token=lease.id, expires=expires)

    def renew_lease(self, lease: Lease, *, duration: timedelta, now: datetime) -> Lease | None:
        if duration <= timedelta(0):
            raise ValueError(f"lease duration must be positive, got {duration}")
        blob = self._leases.get_blob_client(encode_key(lease.name))
        expires = as_utc(now + duration)
        with translated_errors(f"renew lease {lease.name}"):
            held = BlobLeaseClient(blob, lease_id=lease.token)
            try:
                # Restarts a fixed blob lease's own clock; an infinite one just stays.
                held.renew()
                blob.set_blob_metadata(
                    {"holder": encode_key(lease.holder), "expires": format_instant(expires)}, lease=held
                )
            except HttpResponseError as error:
                # 409/412: another holder broke or took it; 404: the blob is gone.
                if error.status_code in (404, 409, 412):
                    return None
                raise
        return Lease(name=lease.name, holder=lease.holder, token=lease.token, expires=expires)

    def read_lease(self, name: str) -> Lease | None:
        blob = self._leases.get_blob_client(encode_key(name))
        with translated_errors(f"read lease {name}"):
            try:
                properties = blob.get_blob_properties()
            except ResourceNotFoundError:
                return None
        expires = properties.metadata.get("expires")
        if properties.lease.state != "leased" or not expires:
            return None
        holder = decode_key(properties.metadata.get("holder", ""))
        return Lease(name=name, holder=holder, token="", expires=parse_instant(expires))

    def release_lease(self, lease: Lease) -> None:
        blob = self._leases.get_blob_client(encode_key(lease.name))
        with translated_errors(f"release lease {lease.name}"):
            try:
                BlobLeaseClient(blob, lease_id=lease.token).release()
            except HttpResponseError as error:
                # 409/412: the lease is no longer ours (expired and taken, or broken);
                # 404: the blob is gone. Either way there is nothing of ours to free.
                if error.status_code not in (404, 409, 412):
                    raise

    # pending work -------------------------------------------------------------
    def put_pending(self, item: PendingItem) -> None:
        entity = {
            "PartitionKey": encode_key(item.kind),
            "RowKey": encode_key(item.key),
            "due": format_instant(item.due),
            **split_json(item.payload),
        }
        with translated_errors(f"put pending {item.kind}/{item.key}"):
            self._pending.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def list_due(self, kind: str, *, now: datetime, limit: int = 100) -> Sequence[PendingItem]:
        # Tables cannot order by a property, so due items are sorted here.
        query = "PartitionKey eq @pk and due le @now"
        parameters = {"pk": encode_key(kind), "now": format_instant(now)}
        return self._query_pending(kind, query, parameters, limit)

    def list_pending(self, kind: str, *, limit: int = 1000) -> Sequence[PendingItem]:
        return self._query_pending(kind, "PartitionKey eq @pk", {"pk": encode_key(kind)}, limit)

    def _query_pending(
        self, kind: str, query: str, parameters: dict[str, str], limit: int
    ) -> list[PendingItem]:
        with translated_errors(f"list pending {kind}"):
            items = [
                PendingItem(
                    kind=kind,
                    key=decode_key(entity["RowKey"]),
                    payload=join_json(entity),
                    due=parse_instant(entity["due"]),
                )
                for entity in self._pending.query_entities(query, parameters=parameters)
            ]
        items.sort(key=lambda item: (item.due, item.key))
        return items[: max(limit, 0)]

    def remove_pending(self, kind: str, key: str) -> None:
        with translated_errors(f"remove pending {kind}/{key}"):
            self._pending.delete_entity(encode_key(kind), encode_key(key))


def open_table_store(
    *,
    connection_string: str | None = None,
    table_endpoint: str | None = None,
    blob_endpoint: str | None = None,
    credential: object | None = None,
    account_name: str | None = None,
    prefix: str = "ops",
) -> TableStateStore:
    """Open (and create if missing) the store from the app's storage settings.

    Either a connection string (``AzureWebJobsStorage``), or an identity: a
    TokenCredential plus the service URIs (``AzureWebJobsStorage__tableServiceUri`` and
    ``__blobServiceUri``), or just the account name (``__accountName``), from which
    the public-cloud URIs follow.
    """
    if connection_string:
        try:
            tables = TableServiceClient.from_connection_string(connection_string)
            blobs = BlobServiceClient.from_connection_string(connection_string)
        except ValueError as error:
            raise ConfigError(
                f"AzureWebJobsStorage: not a valid storage connection string ({error})"
            ) from None
    else:
        if account_name:
            table_endpoint = table_endpoint or f"https://{account_name}.table.core.windows.net"
            blob_endpoint = blob_endpoint or f"https://{account_name}.blob.core.windows.net"
        problems = []
        if not table_endpoint:
            problems.append("AzureWebJobsStorage__tableServiceUri (or __accountName) is required")
        if not blob_endpoint:
            problems.append("AzureWebJobsStorage__blobServiceUri (or __accountName) is required")
        if credential is None:
            problems.append("an identity credential is required when no connection string is set")
        if problems:
            raise ConfigError(problems)
        token_credential = cast(TokenCredential, credential)
        tables = TableServiceClient(endpoint=str(table_endpoint), credential=token_credential)
        blobs = BlobServiceClient(account_url=str(blob_endpoint), credential=token_credential)
    store = TableStateStore(tables=tables, blobs=blobs, prefix=prefix)
    store.create_if_missing()
    return store


# leases ---------------------------------------------------------------------


def choose_blob_lease_seconds(duration: timedelta) -> int:
    """The blob lease length for ``duration``: 15-60 s fixed, or -1 (infinite) beyond 60 s."""
    seconds = math.ceil(duration.total_seconds())
    return -1 if seconds > 60 else max(seconds, 15)


def take_blob_lease(blob: BlobClient, *, seconds: int, now: datetime) -> BlobLeaseClient | None:
    """Acquire the blob's lease, breaking a lease whose recorded expiry has passed."""
    lease = BlobLeaseClient(blob, lease_id=str(uuid.uuid4()))
    try:
        lease.acquire(lease_duration=seconds)
        return lease
    except ResourceNotFoundError:
        try:
            blob.upload_blob(b"", overwrite=False)
        except HttpResponseError as error:
            # Another contender created it first (and may already hold its lease).
            if error.status_code not in (409, 412):
                raise
    except ResourceExistsError:
        properties = blob.get_blob_properties()
        if properties.lease.state == "leased":
            expires = properties.metadata.get("expires", "")
            if expires > format_instant(now):
                return None
            try:
                # Conditional on the ETag we judged by: if the holder recorded itself
                # since, the break fails and its lease stands.
                BlobLeaseClient(blob).break_lease(
                    lease_break_period=0,
                    etag=properties.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                return None
            except ResourceExistsError:
                pass  # 409: its holder released it meanwhile; it is free to acquire.
    try:
        lease.acquire(lease_duration=seconds)
    except ResourceExistsError:
        return None
    return lease


# keys, instants and values ---------------------------------------------------


def _audit_record(entity: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        key=entity["key"],
        capability=entity["capability"],
        kind=entity["kind"],
        target=entity["target"],
        reason=entity["reason"],
        status=entity["status"],
        at=parse_instant(entity["at"]),
        detail=join_json(entity),
    )


def encode_key(text: str) -> str:
    """A Table key (or blob name) for ``text``: reversible, and prefix-preserving.

    Letters, digits, ``-`` and ``.`` stay; every other character becomes ``_XX`` per
    UTF-8 byte. Each character maps on its own, so ``encode_key(a + b) ==
    encode_key(a) + encode_key(b)``, which keeps prefix queries working.
    """
    return "".join(
        char if char in _SAFE_KEY_CHARS else "".join(f"{_ESCAPE}{byte:02X}" for byte in char.encode())
        for char in text
    )


def decode_key(key: str) -> str:
    """The text that :func:`encode_key` turned into ``key``."""
    raw = bytearray()
    position = 0
    while position < len(key):
        if key[position] == _ESCAPE:
            raw.append(int(key[position + 1 : position + 3], 16))
            position += 3
        else:
            raw.extend(key[position].encode())
            position += 1
    return raw.decode()


def format_instant(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so that string order in a Table filter is time order."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> datetime:
    return as_utc(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ"))


def inverted_instant(moment: datetime) -> int:
    """Larger for earlier instants; formatted to 20 digits it sorts newest first."""
    return _INVERT_FROM - epoch_micros(moment)


def split_json(value: Mapping[str, Any]) -> dict[str, str]:
    """``value`` as JSON, in properties ``json0..n`` small enough for Table strings."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    chunks = [text[start : start + _JSON_CHUNK] for start in range(0, len(text), _JSON_CHUNK)] or [""]
    return {f"json{index}": chunk for index, chunk in enumerate(chunks)}


def join_json(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The value that :func:`split_json` stored in ``entity``."""
    parts: list[str] = []
    while (part := entity.get(f"json{len(parts)}")) is not None:
        parts.append(part)
    loaded: dict[str, Any] = json.loads("".join(parts))
    return loaded


def read_etag(entity: TableEntity) -> str:
    return str(entity.metadata["etag"])
