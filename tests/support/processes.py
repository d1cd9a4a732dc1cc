"""Start a server process on free ports for a test, wait until it accepts, and stop it.

Azurite and docker-registry are real peers the suites run against; both are started
the same way: pick free 127.0.0.1 ports, launch the binary with them, log to a file
(not a pipe, which would block a chatty server once full), and wait until every port
accepts. A port picked free can be taken before the server binds it, which shows up
as an early exit, so a start is tried again on fresh ports.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_START_TIMEOUT_S = 30.0
_START_ATTEMPTS = 3


@contextlib.contextmanager
def serve_on_free_ports(
    name: str, location: Path, *, ports: int, command: Callable[[list[int], int], list[str]]
) -> Iterator[list[int]]:
    """Run ``command(ports, attempt)`` in ``location`` on ``ports`` free ports; yield the ports once
    each accepts, then stop the process. The log is ``location/<name>.log``."""
    location.mkdir(parents=True, exist_ok=True)
    process, picked = _start_listening(name, location, ports, command)
    try:
        yield picked
    finally:
        stop_process(process)


def _start_listening(
    name: str, location: Path, count: int, command: Callable[[list[int], int], list[str]]
) -> tuple[subprocess.Popen[bytes], list[int]]:
    failure = ""
    for attempt in range(_START_ATTEMPTS):
        ports = pick_free_ports(count)
        log_path = location / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command(ports, attempt),
                cwd=location,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        failure = wait_until_listening(process, tuple(ports), log_path)
        if not failure:
            return process, ports
        stop_process(process)
    raise RuntimeError(f"{name} did not start: {failure}")


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
