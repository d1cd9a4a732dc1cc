"""``ops serve``: a local HTTP host for the app's HTTP functions.

No Functions host runs here, yet curl, real HTTP clients, schemathesis and the tests
must reach ``/api/health``, ``/api/runbooks/…`` and ``/api/alerts`` exactly as Azure
routes them. This is a small ASGI app under uvicorn that does what the host does
for an HTTP trigger: route ``/api/<route>`` to the function whose route and methods
match (literal segments first), turn the request into the trigger's ``HttpRequest``
with azure.functions' own converter (the same path as ``ops invoke``), call the
function on a worker thread, and send its ``HttpResponse`` back. A function that
raises gets the host's answer, an empty 500, and the traceback goes to the log.

Request bodies above ``MAX_BODY_BYTES`` are refused with 413 before any function
runs, as the host refuses bodies over its limit.

Without a storage account the app's queues are local (``ops.purge.localqueue``);
:class:`LocalQueues` then plays the host's queue trigger too, so that a runbook
answered with 202 is worked off by ``runbook_worker`` as it would be in Azure: each
message is delivered to its function, deleted when handled, and dropped after
``MAX_DEQUEUE`` failed deliveries (the host's poison queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func

from ops.triggers.invoking import call_http_function, find_http_function

log = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/"
MAX_BODY_BYTES = 4 * 1024 * 1024
WORKER_THREADS = 8

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class FunctionsHost:
    """The ASGI app: the HTTP functions of one FunctionApp under ``/api/``."""

    def __init__(self, app: func.FunctionApp, *, workers: int = WORKER_THREADS) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ops-serve")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        name = (
            find_http_function(self.app, method, path[len(ROUTE_PREFIX) :])
            if path.startswith(ROUTE_PREFIX)
            else None
        )
        if name is None:
            await _send(send, 404, b"", [])
            return
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:
            await _send(send, 413, b"", [])
            return
        request = {
            "method": method,
            "url": _url(scope),
            "headers": _headers(scope),
            "params": {},
            "body": body,
        }
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.pool, call_http_function, self.app, name, request)
        except Exception:
            log.exception("%s %s: function %s raised", method, path, name)
            await _send(send, 500, b"", [])
            return
        headers = [
            (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers.items()
        ]
        if not any(k == b"content-type" for k, _ in headers) and response.mimetype:
            charset = f"; charset={response.charset}" if response.charset else ""
            headers.append((b"content-type", f"{response.mimetype}{charset}".encode("latin-1")))
        await _send(send, response.status_code, response.get_body(), headers)


def _url(scope: Scope) -> str:
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{scope['path']}" + (f"?{query}" if query else "")


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


MAX_DEQUEUE = 5


class LocalQueues:
    """Delivers the local queues' messages to the app's queue-triggered functions."""

    def __init__(self, app: func.FunctionApp, *, interval: float = 0.5) -> None:
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}

    def start(self) -> LocalQueues:
        self._thread = threading.Thread(target=self._run, name="ops-serve-queues", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deliver()
            except Exception:  # a broken store must not end the host; the next round retries
                log.exception("delivering local queue messages failed")

    def deliver(self) -> int:
        """One round over every queue-triggered function's local queue; the messages handled."""
        import re

        from ops.purge.localqueue import StoreQueue
        from ops.services import get_services
        from ops.triggers.invoking import invoke_function, list_functions

        services = get_services()
        if services.settings.storage.mode != "sqlite":
            return 0  # a real storage queue: the Functions host (or Azurite's consumer) delivers
        handled = 0
        for name, fn in list_functions(self.app).items():
            trigger = fn.get_trigger()
            if trigger.type != "queueTrigger":
                continue
            queue_name = re.sub(
                r"%(\w+)%", lambda m: _setting(services.settings, m.group(1)), str(trigger.queue_name)
            )
            if not queue_name:
                continue
            queue = StoreQueue(services.store(), queue_name)
            for message in queue.receive():
                try:
                    invoke_function(self.app, name, message.body)
                except Exception:
                    count = self._failures.get(message.key, 0) + 1
                    self._failures[message.key] = count
                    log.exception("%s failed on a message (delivery %d of %d)", name, count, MAX_DEQUEUE)
                    if count < MAX_DEQUEUE:
                        continue
                queue.delete(message)
                handled += 1
        return handled


def deliver_queue(app: func.FunctionApp, function_name: str) -> list[Any]:
    """Play the host for one queue-triggered function on the local (SQLite) queues: deliver
    its queue's messages, oldest first, and delete each once handled; the results. A
    delivery that raises leaves its message queued (the host would deliver it again) and
    raises. The demo, the benchmarks and the tests use it; ``ops serve`` uses LocalQueues."""
    import re

    from ops.purge.localqueue import StoreQueue
    from ops.services import get_services
    from ops.triggers.invoking import invoke_function, list_functions

    services = get_services()
    trigger = list_functions(app)[function_name].get_trigger()
    name = re.sub(r"%(\w+)%", lambda m: _setting(services.settings, m.group(1)), str(trigger.queue_name))
    queue = StoreQueue(services.store(), name)
    results: list[Any] = []
    for message in queue.receive():
        results.extend(invoke_function(app, function_name, message.body).results)
        queue.delete(message)
    return results


def _setting(settings: Any, name: str) -> str:
    """The value of app setting ``name`` as the app reads it (its default when unset)."""
    for group in type(settings).model_fields:
        values = getattr(settings, group)
        for field_name, field in type(values).model_fields.items():
            if field.alias == name:
                return str(getattr(values, field_name))
    return ""


class LocalHost:
    """``FunctionsHost`` under uvicorn on ``host:port`` (0: a free port), in the foreground
    (:meth:`run`) or on a background thread (:meth:`start`/:meth:`stop`, for tests and benches)."""

    def __init__(self, app: func.FunctionApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind((host, port))
        self.socket.listen(512)  # connections wait in the backlog until uvicorn accepts them
        self.host, self.port = self.socket.getsockname()[:2]
        self.asgi = FunctionsHost(app)
        config = uvicorn.Config(
            self.asgi,
            lifespan="on",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then return (exit code 0, like ``ops sandbox serve``).

        uvicorn handles both signals and, once stopped, raises them again for the handlers
        it found; quiet ones are installed first, so the stop is not reported as a crash."""
        import signal

        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self, timeout: float = 20.0) -> LocalHost:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main() -> None:
                task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
                while not self.server.started and not task.done():
                    await asyncio.sleep(0.01)
                started.set()
                await task

            try:
                loop.run_until_complete(main())
            finally:
                started.set()
                loop.close()

        self._thread = threading.Thread(target=serve, name="ops-serve", daemon=True)
        self._thread.start()
        if not started.wait(timeout) or not self.server.started:
            self.stop()
            raise RuntimeError("ops serve did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()
        self.asgi.pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
