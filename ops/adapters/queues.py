"""Azure Storage queues (azure-storage-queue): the app's own fan-out work.

Messages are base64-encoded text, which is what the Functions queue trigger decodes
by default (``extensions.queues.messageEncoding`` is ``base64``). The queue lives in
the app's storage account, given the way the Functions runtime takes it: a
connection string (``AzureWebJobsStorage``), or the identity-based form
(``AzureWebJobsStorage__queueServiceUri`` or ``__accountName`` plus a managed
identity). The emulator shorthand ``UseDevelopmentStorage=true`` is the SDKs' own
business: the queue, table and blob clients all read it as Azurite's well-known
account on its default ports.

The app only sends; the Functions host receives and deletes. Tests that play the
host use ``tests/support/queues.py``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ops.adapters.errors import translated_errors
from ops.errors import ConfigError


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
                    connection_string,
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
