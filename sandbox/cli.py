"""What ``ops sandbox serve|state|events`` call: run the sandbox, and ask a running one.

``serve`` runs in the foreground: it loads the estate, starts the server, writes the
env file once every endpoint accepts connections, and on SIGINT or SIGTERM stops
cleanly and removes the env file (a stale one would point the app at dead ports).
``state`` and ``events`` read a running sandbox through its control endpoints, given
its env file or its ARM URL.
"""

from __future__ import annotations

import json
import signal
import ssl
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sandbox.estate import DEMO_ESTATE, load_estate
from sandbox.server import SandboxServer


def serve(
    estate_path: str | Path | None,
    env_file: str | Path,
    *,
    state_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    on_ready: Callable[[SandboxServer], None] | None = None,
    stop_event: threading.Event | None = None,
) -> int:
    """Serve ``estate_path`` (default: the demo estate) until SIGINT/SIGTERM; returns 0.

    ``on_ready`` is called once the env file is written (the CLI prints the endpoints);
    ``stop_event`` lets a caller other than a signal stop it (tests).
    """
    world = load_estate(Path(estate_path) if estate_path else DEMO_ESTATE)
    env_path = Path(env_file)
    # Keep the CA next to the env file, so SSL_CERT_FILE stays valid across restarts.
    server = SandboxServer(
        world, state_dir=state_dir or env_path.with_name(env_path.name + ".state"), extra_env=extra_env
    )
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
        server.write_env_file(env_path)
        if on_ready is not None:
            on_ready(server)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        env_path.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def state(source: str | Path | Mapping[str, str]) -> dict[str, Any]:
    """The running sandbox's state in the estate-file format."""
    result: dict[str, Any] = call_control(source, "GET", "state")
    return result


def events(source: str | Path | Mapping[str, str]) -> list[dict[str, Any]]:
    """The Event Grid events the running sandbox recorded (ImagePushed, ImageDeleted)."""
    result: list[dict[str, Any]] = call_control(source, "GET", "events")["events"]
    return result


def issue_token(
    source: str | Path | Mapping[str, str],
    *,
    roles: list[str],
    app: bool = False,
    name: str = "operator",
    version: str = "2.0",
    ttl: int = 3600,
) -> str:
    """An access token for the app's HTTP API from the running sandbox's Entra tenant."""
    authority, ca_file = _locate_authority(source)
    body = {"roles": roles, "app": app, "name": name, "version": version, "ttl": ttl}
    request = urllib.request.Request(
        f"{authority}/_sandbox/entra/token",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        token: str = json.loads(response.read())["access_token"]
    return token


def _locate_authority(source: str | Path | Mapping[str, str]) -> tuple[str, str | None]:
    """(login host, CA file) of the sandbox an environment or env file points at."""
    if isinstance(source, Mapping):
        values: Mapping[str, str | None] = source
    else:
        from dotenv import dotenv_values

        values = dotenv_values(Path(source))
    authority = values.get("OPS_AUTH_AUTHORITY_HOST")
    if not authority:
        raise ValueError("OPS_AUTH_AUTHORITY_HOST is not set; load the sandbox env file (--env-file) first")
    return authority.rstrip("/"), values.get("SSL_CERT_FILE")


def call_control(
    source: str | Path | Mapping[str, str], method: str, path: str, body: Any = None, *, timeout: float = 30.0
) -> Any:
    """Call ``/_sandbox/<path>`` of the sandbox an env file, an environment or an ARM URL points at."""
    arm, ca_file = _locate(source)
    request = urllib.request.Request(
        f"{arm}/_sandbox/{path.lstrip('/')}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def _locate(source: str | Path | Mapping[str, str]) -> tuple[str, str | None]:
    """(ARM endpoint, CA file) from an env file path, an environment mapping or an https:// URL."""
    if isinstance(source, Mapping):
        arm_endpoint = source.get("OPS_ARM_ENDPOINT")
        if not arm_endpoint:
            raise ValueError("OPS_ARM_ENDPOINT is not set; load the sandbox env file (--env-file) first")
        return arm_endpoint.rstrip("/"), source.get("SSL_CERT_FILE")
    text = str(source)
    if text.startswith("https://"):
        return text.rstrip("/"), None
    from dotenv import dotenv_values

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no sandbox env file at {path} (is `ops sandbox serve` running?)")
    values = dotenv_values(path)
    arm = values.get("OPS_ARM_ENDPOINT")
    if not arm:
        raise ValueError(f"{path} has no OPS_ARM_ENDPOINT; it is not a sandbox env file")
    return arm.rstrip("/"), values.get("SSL_CERT_FILE")
