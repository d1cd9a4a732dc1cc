"""Playing the Functions host's part on a Storage queue: receive messages, delete them.

The app only sends to its queues (the host receives, runs the function and deletes), so
receiving lives here, with the tests that stand in for the host. It goes through the
same ``QueueClient`` the app's :class:`~ops.adapters.queues.StorageQueue` built, so the
messages are decoded with the app's own base64 policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A received message: its text, and what deleting it needs."""

    id: str
    pop_receipt: str
    body: str
    dequeue_count: int


def receive_messages(
    queue: Any, *, max_messages: int = 32, visibility_timeout: int = 60
) -> list[QueueMessage]:
    """Up to ``max_messages`` messages of a StorageQueue, hidden for ``visibility_timeout`` s."""
    queue.create_if_missing()
    received = queue.client.receive_messages(max_messages=max_messages, visibility_timeout=visibility_timeout)
    return [
        QueueMessage(m.id, str(m.pop_receipt), str(m.content), int(m.dequeue_count or 0)) for m in received
    ]


def delete_message(queue: Any, message: QueueMessage) -> None:
    """Delete a received message, as the host does after the function succeeded."""
    queue.client.delete_message(message.id, message.pop_receipt)


def release_message(queue: Any, message: QueueMessage, *, visibility_timeout: int = 0) -> None:
    """Make a received message visible again after ``visibility_timeout`` s, as the host does
    when the function failed (its ``visibilityTimeout``; tests use 0 to redeliver at once)."""
    queue.client.update_message(message.id, message.pop_receipt, visibility_timeout=visibility_timeout)
