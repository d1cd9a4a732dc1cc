"""The purge work queue on the StateStore, for the CLI and demo when there is no storage account.

In Azure (and on Azurite) ``purge_schedule`` sends batches to a Storage queue and the
host triggers ``purge_repository`` for each. Without a storage account the app keeps
its state in SQLite, and this queue keeps the same messages there, as pending items,
so that ``ops demo`` can deliver them to ``purge_repository`` itself, in order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ops.state.store import PendingItem, StateStore


@dataclass(frozen=True, slots=True)
class LocalMessage:
    key: str
    body: str


class StoreQueue:
    """A WorkQueue whose messages are StateStore pending items of kind ``queue:<name>``."""

    def __init__(self, store: StateStore, name: str) -> None:
        self.store = store
        self.kind = f"queue:{name}"

    def send(self, body: str) -> None:
        key = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # oldest first, as a queue
        self.store.put_pending(
            PendingItem(kind=self.kind, key=key, payload={"body": body}, due=datetime.now(UTC))
        )

    def receive(self, *, max_messages: int = 32) -> Sequence[LocalMessage]:
        items = self.store.list_pending(self.kind, limit=max_messages)
        return [LocalMessage(item.key, str(item.payload.get("body", ""))) for item in items]

    def delete(self, message: LocalMessage) -> None:
        self.store.remove_pending(self.kind, message.key)
