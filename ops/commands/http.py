"""``ops serve`` and ``ops sandbox token``: the HTTP functions on a local port, and a
sandbox-issued Entra token to call them with.

``ops --env-file .sandbox.env serve --port 7071`` serves ``/api/health``,
``/api/runbooks/…`` (and every other HTTP function) as the Functions host routes
them; ``ops --env-file .sandbox.env sandbox token --roles Ops.Operate`` prints a
token the app accepts::

    curl -H "Authorization: Bearer $(ops --env-file .sandbox.env sandbox token --roles Ops.Read)" \\
        http://127.0.0.1:7071/api/runbooks
"""

from __future__ import annotations

import os
from typing import Annotated

import typer


def serve(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free one)")] = 7071,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
) -> None:
    """Serve the app's HTTP functions under http://HOST:PORT/api/, as the Functions host routes them."""
    import function_app
    from ops.triggers.serving import LocalHost, LocalQueues

    local = LocalHost(function_app.app, host=host, port=port)
    queues = LocalQueues(function_app.app).start()  # local (SQLite) queues: runbook_worker, purge
    print(f"serving the HTTP functions at {local.url} (Ctrl-C to stop)", flush=True)
    try:
        local.run()
    finally:
        queues.stop()


def sandbox_token(
    roles: Annotated[
        str, typer.Option("--roles", help="app roles, comma-separated, e.g. Ops.Read,Ops.Operate")
    ] = "",
    app_only: Annotated[bool, typer.Option("--app", help="an application's own token (no user)")] = False,
    name: Annotated[
        str, typer.Option("--name", help="the user (or application) the token names")
    ] = "operator",
    version: Annotated[str, typer.Option("--version", help="token version: 2.0 or 1.0")] = "2.0",
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=86_400, help="lifetime in seconds")] = 3600,
) -> None:
    """Print an Entra access token for the app's HTTP API, issued by the running sandbox."""
    from sandbox.cli import issue_token

    if version not in ("1.0", "2.0"):
        raise typer.BadParameter("expected 1.0 or 2.0", param_hint="--version")
    wanted = [role.strip() for role in roles.split(",") if role.strip()]
    print(issue_token(os.environ, roles=wanted, app=app_only, name=name, version=version, ttl=ttl))


def register(app: typer.Typer, sandbox_app: typer.Typer) -> None:
    app.command("serve")(serve)
    sandbox_app.command("token")(sandbox_token)
