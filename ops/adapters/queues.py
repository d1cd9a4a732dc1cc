"""Azure Storage queues (azure-storage-queue): the app's own fan-out work.

Messages are base64-encoded text, which is what the Functions queue trigger decodes
by default (``extensions.queues.messageEncoding`` is ``base64``). The queue lives in
the app's storage account, given the way the Functions runtime takes it: a
connection string (``AzureWebJobsStorage``, including the emulator shorthand
``UseDevelopmentStorage=true``, expanded to Azurite's well-known account), or the
identity-based form (``AzureWebJobsStorage__queueServiceUri`` or ``__accountName``
plus a managed identity).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ops.adapters.errors import translated_errors
from ops.errors import ConfigError

#: The storage emulator's documented development account (the same for Azurite).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def expand_connection_string(value: str) -> str:
    """``UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=http://host]`` → a full
    connection string for Azurite's default ports; any other value is returned as is."""
    parts = dict(
        (key.strip().lower(), val.strip())
        for key, _, val in (item.partition("=") for item in value.split(";") if item.strip())
    )
    if parts.get("usedevelopmentstorage", "").lower() != "true":
        return value
    base = parts.get("developmentstorageproxyuri", "http://127.0.0.1").rstrip("/")
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint={base}:10000/{DEV_ACCOUNT};QueueEndpoint={base}:10001/{DEV_ACCOUNT};"
        f"TableEndpoint={base}:10002/{DEV_ACCOUNT};"
    )


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A received message: its text, and what deleting it needs."""

    id: str
    pop_receipt: str
    body: str
    dequeue_count: int


class StorageQueue:
    """One queue; created on first use. Implements purge's WorkQueue."""

    def __init__(
        self,
        name: str,
        *,
        connection_string: str | None = None,
        service_uri: str | None = None,
        credential: Any | None = None,
    ) -> None:
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
        if connection_string:
            try:
                self.client = QueueClient.from_connection_string(
                    expand_connection_string(connection_string),
                    name,
                    message_encode_policy=encode,
                    message_decode_policy=decode,
                )
            except ValueError as exc:
                raise ConfigError(
                    f"AzureWebJobsStorage: not a valid storage connection string ({exc})"
                ) from None
        elif service_uri and credential is not None:
            self.client = QueueClient(
                service_uri,
                name,
                credential=credential,
                message_encode_policy=encode,
                message_decode_policy=decode,
            )
        else:
            raise ConfigError(
                "AzureWebJobsStorage: queues need a connection string, or __queueServiceUri/__accountName "
                "with a managed identity"
            )
        self.name = name
        self._created = False

    def create_if_missing(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        if self._created:
            return
        with translated_errors(f"create queue {self.name}"), contextlib.suppress(ResourceExistsError):
            self.client.create_queue()
        self._created = True

    def send(self, body: str) -> None:
        self.create_if_missing()
        with translated_errors(f"send to queue {self.name}"):
            self.client.send_message(body)

    def receive(self, *, max_messages: int = 32, visibility_timeout: int = 60) -> Sequence[QueueMessage]:
        self.create_if_missing()
        with translated_errors(f"receive from queue {self.name}"):
            received = self.client.receive_messages(
                max_messages=max_messages, visibility_timeout=visibility_timeout
            )
            return [
                QueueMessage(m.id, str(m.pop_receipt), str(m.content), int(m.dequeue_count or 0))
                for m in received
            ]

    def delete(self, message: QueueMessage) -> None:
        with translated_errors(f"delete from queue {self.name}"):
            self.client.delete_message(message.id, message.pop_receipt)


def open_queue(settings: Any, name: str) -> StorageQueue:
    """The named queue in the app's storage, from the storage settings."""
    from ops.adapters.identity import build_credential

    storage = settings.storage
    if storage.connection_string:
        return StorageQueue(name, connection_string=storage.connection_string)
    uri = storage.service_uri("queue")
    if uri:
        return StorageQueue(name, service_uri=uri, credential=build_credential(settings, storage.client_id))
    raise ConfigError("AzureWebJobsStorage: purge_schedule needs the app's storage for its work queue")
