"""Run Azurite, the storage emulator, for tests that need real Blob, Queue and Table APIs.

Several suites (state stores, queues, the sandbox) talk to Azure Storage through the
unmodified SDKs; Azurite is the real peer they run against. This module owns starting
it on free ports, waiting until it listens, building the well-known development
connection string, and stopping it, so that each suite's fixture is a few lines.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

AZURITE_BIN = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / ".bin" / "azurite"

# The documented, public development-storage account that Azurite accepts.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_START_TIMEOUT_S = 30.0
_START_ATTEMPTS = 3


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
    location.mkdir(parents=True, exist_ok=True)
    process, azurite = _start_listening(binary, location)
    try:
        yield azurite
    finally:
        stop_process(process)


def _start_listening(binary: Path, location: Path) -> tuple[subprocess.Popen[bytes], Azurite]:
    # Free ports are found by binding port 0 and releasing it; another process can take
    # one in between, which shows up as Azurite exiting early, so try again.
    failure = ""
    for _ in range(_START_ATTEMPTS):
        azurite = Azurite(*pick_free_ports(3))
        log_path = location / "azurite.log"
        # A file, not a pipe: a full pipe would block Azurite if it logs a lot.
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(binary),
                    "--silent",
                    "--disableTelemetry",
                    "--inMemoryPersistence",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--blobPort",
                    str(azurite.blob_port),
                    "--queuePort",
                    str(azurite.queue_port),
                    "--tablePort",
                    str(azurite.table_port),
                ],
                # This Azurite refuses --location together with --inMemoryPersistence,
                # so the working directory is where anything it might write lands.
                cwd=location,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        failure = wait_until_listening(
            process, (azurite.blob_port, azurite.queue_port, azurite.table_port), log_path
        )
        if not failure:
            return process, azurite
        stop_process(process)
    raise RuntimeError(f"Azurite did not start: {failure}")


def pick_free_ports(count: int) -> list[int]:
    """Ports that were free a moment ago on 127.0.0.1 (held together so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_until_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...], log_path: Path) -> str:
    """Empty string once every port accepts; otherwise why it never did."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace").strip()[-2000:]
            return f"exited with {process.returncode}: {output}"
        if time.monotonic() > deadline:
            return f"ports {pending} not listening after {_START_TIMEOUT_S:.0f}s"
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.05)
    return ""


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate the process we started, then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
