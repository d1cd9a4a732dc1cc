"""One HTTPS server for the whole emulated estate, one port per Azure endpoint.

In Azure, the app discovers registry login servers and cluster API servers through
ARM and then talks to each on its own host. The sandbox keeps that shape: each
registry and each cluster gets its own 127.0.0.1 port (its "host"), next to the
identity and ARM ports. A single uvicorn server (httptools, TLS) listens on all of
those sockets and picks the sub-app by the local port of the connection, in a
background thread with its own event loop, so tests and the CLI can run it
in-process. Every sub-app is wrapped by :class:`sandbox.faults.GuardMiddleware`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

from sandbox.entra import EntraTenant, build_entra_app
from sandbox.faults import Faults, GuardMiddleware
from sandbox.identity import IDENTITY_PATH, build_identity_app
from sandbox.tls import TlsFiles, ensure_tls_files
from sandbox.world import World

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

_START_TIMEOUT_S = 20.0
_GRAPH_PREFIX = "/providers/microsoft.resourcegraph"

log = logging.getLogger(__name__)


class SandboxServer:
    """The running sandbox for one :class:`World`.

    ``start()`` assigns ports (``Registry.port``, ``Cluster.port``), rewrites the
    estate's ``<name>.azurecr.io`` image references to the assigned login servers, and
    returns once every socket accepts TLS connections. ``env()`` is the env-file
    contract the app and unmodified SDK code need.
    """

    def __init__(
        self,
        world: World,
        *,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.world = world
        self.host = host
        self.extra_env = dict(extra_env or {})
        self.identity_header = secrets.token_urlsafe(24)
        self.faults = Faults(world)
        self._own_state_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="ops-sandbox-")) if state_dir is None else state_dir
        self.tls: TlsFiles = ensure_tls_files(self.state_dir)
        self.identity_port = 0
        self.arm_port = 0
        self.login_port = 0
        self.entra = EntraTenant(world.identity.tenant_id)
        self._apps: dict[int, ASGIApp] = {}
        self._sockets: list[socket.socket] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already running")
        self.identity_port = self._listen(
            GuardMiddleware(
                build_identity_app(self.world, secret=self.identity_header),
                world=self.world,
                faults=self.faults,
                service="identity",
            )
        )
        self.arm_port = self._listen(self._guarded_arm_app())
        self.login_port = self._listen(
            GuardMiddleware(
                build_entra_app(self.entra, lambda: self.authority),
                world=self.world,
                faults=self.faults,
                service="entra",
            )
        )
        with self.world.lock:
            for name in list(self.world.registries):
                self._bind_registry(name)
            for name in list(self.world.clusters):
                self._bind_cluster(name)
            for name in list(self.world.failover.app_configs):
                self._bind_app_config(name)
            _apply_login_servers(self.world)
        # The World is long-lived and large (a generated estate is millions of objects);
        # without this, every full collection would re-scan it, stalling requests for
        # seconds. Frozen objects are still freed by reference counting.
        gc.freeze()
        config = uvicorn.Config(
            self._dispatch,
            http="httptools",
            loop="asyncio",
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            server_header=False,
            ssl_certfile=str(self.tls.cert),
            ssl_keyfile=str(self.tls.key),
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
            backlog=512,
        )
        self._server = uvicorn.Server(config)
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="sandbox-server", daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT_S) or self._error is not None or not self._server.started:
            self.stop()
            raise RuntimeError(f"the sandbox server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            # Clients keep TLS connections alive; waiting for them to close would only
            # delay shutdown, since no request is in flight that matters any more.
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()
        gc.unfreeze()  # what start() froze may be garbage now (tests start many sandboxes)
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, started: threading.Event) -> None:
        assert self._server is not None
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            assert self._server is not None
            task = asyncio.create_task(self._server.serve(sockets=self._sockets))
            while not self._server.started and not task.done():
                await asyncio.sleep(0.01)
            started.set()
            await task

        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            log.exception("sandbox server stopped with an error")
        finally:
            started.set()
            loop.close()

    # -- endpoints ----------------------------------------------------------------------

    @property
    def arm_endpoint(self) -> str:
        return f"https://{self.host}:{self.arm_port}"

    @property
    def identity_endpoint(self) -> str:
        return f"https://{self.host}:{self.identity_port}{IDENTITY_PATH}"

    @property
    def authority(self) -> str:
        """The login host: Entra ID's OIDC discovery, keys and token endpoint for the tenant."""
        return f"https://{self.host}:{self.login_port}"

    @property
    def logs_endpoint(self) -> str:
        # Log Analytics queries go to the ARM port under /loganalytics (LogsQueryClient
        # appends /workspaces/{id}/query to this).
        return f"{self.arm_endpoint}/loganalytics/v1"

    def env(self) -> dict[str, str]:
        """The env-file contract (see DESIGN.md, ``ops sandbox serve``)."""
        subscriptions = list(self.world.subscriptions)
        env = {
            "AZURE_SUBSCRIPTION_ID": subscriptions[0] if subscriptions else "",
            "OPS_SUBSCRIPTIONS": ",".join(subscriptions),
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "OPS_ARM_ENDPOINT": self.arm_endpoint,
            "OPS_LOGS_ENDPOINT": self.logs_endpoint,
            "OPS_EVENTS_TOPIC_ENDPOINT": f"{self.arm_endpoint}/eventgrid/topics/ops-events/api/events",
            "SSL_CERT_FILE": str(self.tls.ca_cert),
            "REQUESTS_CA_BUNDLE": str(self.tls.ca_cert),
            # Entra ID for the app's HTTP API: its tenant, its app registration, its login host.
            "OPS_AUTH_AUTHORITY_HOST": self.authority,
            "OPS_AUTH_TENANT_ID": self.entra.tenant_id,
            "OPS_AUTH_AUDIENCE": self.entra.api_client_id,
        }
        env.update(self.extra_env)
        return env

    def write_env_file(self, path: Path | str) -> Path:
        """Write ``env()`` as a dotenv file, atomically (a watcher never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text("".join(f"{key}={_dotenv_quote(value)}\n" for key, value in self.env().items()))
        tmp.replace(target)
        return target

    # -- ports and dispatch ------------------------------------------------------------

    async def _dispatch(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        server = scope.get("server")
        app = self._apps.get(server[1]) if server else None
        if app is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 421, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    def _listen(self, app: ASGIApp) -> int:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only
        # when the protocol is explicit, and without it every response that leaves in
        # two TLS records waits out the client's 40 ms delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        sock.listen(512)
        sock.setblocking(False)
        port: int = sock.getsockname()[1]
        self._apps[port] = app
        self._sockets.append(sock)
        if self._server is not None and self._server.started and self._loop is not None:
            # A resource created at runtime (through ARM): serve its socket too.
            asyncio.run_coroutine_threadsafe(self._serve_socket(sock), self._loop)
        return port

    async def _serve_socket(self, sock: socket.socket) -> None:
        server = self._server
        assert server is not None
        config = server.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=server.server_state, app_state=server.lifespan.state
            )

        listener = await asyncio.get_running_loop().create_server(
            create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog
        )
        server.servers.append(listener)

    def _guarded_arm_app(self) -> ASGIApp:
        from sandbox.arm.app import build_arm_app

        app = build_arm_app(
            self.world,
            faults=self.faults,
            ca_pem=self.tls.ca_pem(),
            bind_resource=self.bind_resource,
        )
        return GuardMiddleware(app, world=self.world, faults=self.faults, service=_arm_service)

    def bind_resource(self, kind: str, name: str) -> int:
        """Give a registry or cluster created at runtime its own port (and serve it)."""
        with self.world.lock:
            if kind == "registry":
                port = self._bind_registry(name)
            elif kind == "cluster":
                port = self._bind_cluster(name)
            else:
                raise ValueError(f"unknown resource kind {kind!r}")
            _apply_login_servers(self.world)
            return port

    def _bind_registry(self, name: str) -> int:
        """The registry's global login server, plus one regional endpoint per replica."""
        from sandbox.failover.gates import GlobalRoutingGate, RegionGate

        world = self.world
        registry = world.registries[name]
        inner = _build_registry_app(world, name)
        app = GuardMiddleware(
            GlobalRoutingGate(inner, world=world, registry=lambda: world.registries[name]),
            world=world,
            faults=self.faults,
            service=f"acr:{name}",
        )
        registry.port = self._listen(app)
        for replication in registry.replications.values():
            location = replication.location
            # The gate is outermost: an impaired region resets the connection itself.
            regional = RegionGate(
                GuardMiddleware(inner, world=world, faults=self.faults, service=f"acr:{name}"),
                world=world,
                region=lambda location=location: location,
            )
            replication.port = self._listen(regional)
        return registry.port

    def _bind_cluster(self, name: str) -> int:
        from sandbox.failover.gates import RegionGate

        cluster = self.world.clusters[name]
        app = RegionGate(
            GuardMiddleware(
                _build_kube_app(self.world, name),
                world=self.world,
                faults=self.faults,
                service=f"kube:{name}",
            ),
            world=self.world,
            region=lambda: self.world.clusters[name].location,
        )
        cluster.port = self._listen(app)
        return cluster.port

    def _bind_app_config(self, name: str) -> int:
        from sandbox.failover.appconfig import build_appconfig_app
        from sandbox.failover.gates import RegionGate

        store = self.world.failover.app_configs[name]
        app = RegionGate(
            GuardMiddleware(
                build_appconfig_app(self.world, name),
                world=self.world,
                faults=self.faults,
                service=f"appconfig:{name}",
            ),
            world=self.world,
            region=lambda: self.world.failover.app_configs[name].location,
        )
        store.port = self._listen(app)
        return store.port


def _arm_service(path: str) -> str:
    lowered = path.lower()
    if lowered.startswith("/eventgrid/"):
        return "eventgrid"
    return "graph" if lowered.startswith(_GRAPH_PREFIX) else "arm"


def _build_registry_app(world: World, name: str) -> ASGIApp:
    try:
        from sandbox.acr.app import build_registry_app
    except ImportError:  # the ACR data plane is not part of this build (yet)
        return _unavailable_app("the ACR data plane is not available in this sandbox build")
    app: ASGIApp = build_registry_app(world, name)
    return app


def _build_kube_app(world: World, name: str) -> ASGIApp:
    try:
        from sandbox.kube.app import build_kube_app
    except ImportError:  # the Kubernetes API is not part of this build (yet)
        return _unavailable_app("the Kubernetes API is not available in this sandbox build")
    app: ASGIApp = build_kube_app(world, name)
    return app


def _unavailable_app(message: str) -> ASGIApp:
    body = json.dumps({"error": {"code": "NotImplemented", "message": message}}).encode()

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 501,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _apply_login_servers(world: World) -> None:
    from sandbox.estate import apply_login_servers

    apply_login_servers(world)


def _dotenv_quote(value: str) -> str:
    if value and all(ch.isalnum() or ch in "-_.:/,@+=" for ch in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
