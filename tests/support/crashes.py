"""Killing ``ops`` processes at chosen points of their work against the in-process sandbox.

``RequestWatch`` wakes a waiter when the sandbox has answered the n-th matching call: the
sandbox appends each call to ``world.requests`` as the response's last byte leaves, so
"the 3rd DELETE was answered" means that delete landed. ``spawn_ops`` starts ``python -m
ops`` with a given environment; ``kill_at`` waits for a call count, lets a chosen delay
pass, then signals the process. The delay is the random part of a kill point: with
writes slowed by a latency fault, a delay shorter than one write lands inside the next.
``ops_in_process`` runs the rerun (or redelivery) that follows, in the test's process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.server import SandboxServer
from sandbox.world import RequestRecord, World
from tests.support.sandbox import connect_app

ROOT = Path(__file__).resolve().parents[2]

Match = Callable[[RequestRecord], bool]


class _NotifyingList(list[RequestRecord]):
    """``world.requests`` that tells a condition about each call appended."""

    def __init__(self, items: list[RequestRecord], changed: threading.Condition) -> None:
        super().__init__(items)
        self.changed = changed

    def append(self, item: RequestRecord) -> None:
        super().append(item)
        with self.changed:
            self.changed.notify_all()


class RequestWatch:
    """Counts the sandbox's answered calls that match, and waits for a count."""

    def __init__(self, world: World) -> None:
        self.changed = threading.Condition()
        self.world = world
        world.requests = _NotifyingList(list(world.requests), self.changed)

    def count(self, match: Match, *, since: int = 0) -> int:
        """Matching calls among those answered after the first ``since``."""
        # A copy, not world.lock: the sandbox appends under that lock and then takes ours.
        return sum(1 for record in list(self.world.requests)[since:] if match(record))

    def wait_for(
        self, match: Match, count: int, *, process: subprocess.Popen[Any], timeout: float, since: int = 0
    ) -> bool:
        """True once ``count`` matching calls were answered (after the first ``since``);
        False if the process ended first."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count(match, since=since) < count:
                if process.poll() is not None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} matching call(s) not seen within {timeout}s")
                # Woken by each call; the short bound also notices the process ending.
                self.changed.wait(min(left, 0.2))
        return True


def ops_env(sandbox_env: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """An ``ops`` child's environment: ours less the app's settings, the sandbox's, then ``settings``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "OPS_"))}
    return {**base, **sandbox_env, **settings, "PYTHONPATH": str(ROOT)}


def spawn_ops(args: list[str], env: Mapping[str, str], *, log: Path) -> subprocess.Popen[Any]:
    """``python -m ops ARGS`` in the repository, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ops", *args],
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def kill_at(
    watch: RequestWatch,
    process: subprocess.Popen[Any],
    match: Match,
    count: int,
    *,
    delay: float,
    sig: signal.Signals = signal.SIGKILL,
    timeout: float = 60,
    since: int = 0,
) -> float | None:
    """Signal ``process`` ``delay`` seconds after ``count`` matching calls were answered
    (after the first ``since``); the monotonic time it was signalled, or None when it
    finished before that."""
    if not watch.wait_for(match, count, process=process, timeout=timeout, since=since):
        return None
    time.sleep(delay)  # the random part of the kill point, not a wait for anything
    if process.poll() is not None:
        return None
    process.send_signal(sig)
    return time.monotonic()


def ops_in_process(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str], *args: str
) -> tuple[int, str]:
    """Run ``ops ARGS`` in this process with ``env`` (a rerun, or a redelivery: not killed);
    its exit code and standard output. Storage and policies not in ``env`` are unset."""
    from ops.cli import app
    from ops.services import reset_services

    unset: dict[str, str | None] = {"AzureWebJobsStorage": None, "OPS_PURGE_POLICY": None}
    connect_app(sandbox, monkeypatch, {**unset, **env})
    reset_services()
    result = CliRunner().invoke(app, list(args))
    reset_services()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout
