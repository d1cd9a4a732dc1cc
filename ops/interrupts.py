"""SIGTERM and SIGINT for CLI runs that change things: stop cleanly, never mid-action.

Killing an applying run the default way (Ctrl-C raises KeyboardInterrupt wherever
the main thread is; SIGTERM ends the process at once) can leave an effect in flight
without its audit record and a lease held. Inside :func:`stop_on_signals` the first
SIGTERM or SIGINT only sets a flag: the run finishes the actions already in flight,
starts no other, releases its lease and reports how far it got
(``ops.executor.describe_interruption``). A second signal interrupts at once, as the default
would (the lease is still released on the way out, and the next run verifies
whatever was in flight).

:func:`interruptible` is what the applying commands use (``ops purge --apply``,
``ops schedule --apply``, ``ops gate check --apply``, ``ops runbook --apply``): the
flag, plus every plan the process's services apply polling it, through the
executor's ``ExecutionPolicy.stop``, so that no command threads it by hand.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(*, enabled: bool = True) -> Iterator[threading.Event]:
    """An event that the first SIGTERM or SIGINT sets; the handlers are restored on leaving.

    Only the main thread may install signal handlers; elsewhere (or when not
    ``enabled``) the event is returned and signals keep their default behaviour.
    """
    stop = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            raise KeyboardInterrupt(f"{name} again: stopping at once")
        stop.set()
        print(f"{name}: finishing the action(s) in flight, then stopping", file=sys.stderr, flush=True)

    previous = {signum: signal.signal(signum, handle) for signum in _SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def interruptible(*, enabled: bool = True) -> Iterator[threading.Event]:
    """:func:`stop_on_signals`, with every plan this process's services apply polling the flag."""
    from ops.services import get_services

    services = get_services()
    with stop_on_signals(enabled=enabled) as stop:
        previous, services.stop = services.stop, stop.is_set
        try:
            yield stop
        finally:
            services.stop = previous
