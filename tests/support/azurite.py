"""Run Azurite, the storage emulator, for tests that need real Blob, Queue and Table APIs.

Several suites (state stores, queues, the sandbox) talk to Azure Storage through the
unmodified SDKs; Azurite is the real peer they run against. This module owns its
command line and the well-known development connection string; starting it on free
ports, waiting until it listens and stopping it is ``tests.support.processes``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import serve_on_free_ports

AZURITE_BIN = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / ".bin" / "azurite"

# The documented, public development-storage account that Azurite accepts.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteMissing(RuntimeError):
    """The Azurite binary is not installed where the project expects it."""


@dataclass(frozen=True, slots=True)
class Azurite:
    """A running Azurite: its ports and the connection string the SDKs take."""

    blob_port: int
    queue_port: int
    table_port: int

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}/{ACCOUNT_NAME}"

    @property
    def queue_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.queue_port}/{ACCOUNT_NAME}"

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.table_port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
            f"QueueEndpoint={self.queue_endpoint};"
            f"TableEndpoint={self.table_endpoint};"
        )


@contextlib.contextmanager
def run_azurite(location: Path, *, binary: Path = AZURITE_BIN) -> Iterator[Azurite]:
    """Start Azurite in memory on free ports, yield it once all three ports accept, then stop it."""
    if not binary.exists():
        raise AzuriteMissing(
            f"Azurite is not installed at {binary}; install it with `npm install` in the tools/ directory"
        )

    def command(ports: list[int], attempt: int) -> list[str]:
        blob, queue, table = ports
        # This Azurite refuses --location together with --inMemoryPersistence, so the
        # working directory (``location``) is where anything it might write lands.
        return [
            str(binary),
            "--silent",
            "--disableTelemetry",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--blobPort",
            str(blob),
            "--queuePort",
            str(queue),
            "--tablePort",
            str(table),
        ]

    with serve_on_free_ports("azurite", location, ports=3, command=command) as ports:
        yield Azurite(*ports)
