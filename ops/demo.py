"""``ops demo``: the whole product, end to end, against the sandbox.

It starts the sandbox with the bundled demo estate, points the app at it through
the same env file contract as ``ops sandbox serve``, and drives every capability
that exists through the real function entrypoints (``ops invoke``'s code path),
printing a timeline and a summary.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()

#: Capabilities in the order the demo runs them; each is added as it is built.
CAPABILITIES: dict[str, str] = {
    "gate": "not built yet",
    "purge": "not built yet",
    "schedule": "not built yet",
    "remediate": "not built yet",
    "failover": "not built yet",
}


@dataclass
class DemoContext:
    """What demo steps share: the running sandbox, the app, and the timeline so far."""

    sandbox: Any
    app: Any
    started: float = field(default_factory=time.monotonic)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def say(self, step: str, message: str, outcome: str = "ok") -> None:
        elapsed = f"{time.monotonic() - self.started:6.1f}s"
        self.rows.append((step, message, outcome))
        console.print(f"[dim]{elapsed}[/dim] [bold]{step:<10}[/bold] {message} [green]{outcome}[/green]")

    def invoke(self, name: str, payload: Any = None) -> Any:
        from ops.triggers.invoking import invoke_function

        return invoke_function(self.app, name, payload)


Step = Callable[[DemoContext], None]


def step_health(ctx: DemoContext) -> None:
    result = ctx.invoke("health").results[0]
    body = result["body"]
    ctx.say("health", f"GET /api/health → {result['status']}, storage={body.get('storage')}", body["status"])
    if result["status"] != 200:
        raise RuntimeError(f"health reports problems: {body.get('problems')}")


def step_estate(ctx: DemoContext) -> None:
    world = ctx.sandbox.world
    repos = sum(len(r.repositories) for r in world.registries.values())
    ctx.say(
        "sandbox",
        f"{len(world.registries)} registries ({repos} repositories), {len(world.clusters)} AKS clusters, "
        f"ARM at {ctx.sandbox.env()['OPS_ARM_ENDPOINT']}",
    )


STEPS: list[Step] = [step_health, step_estate]


def run_demo(estate: Path | None = None) -> int:
    """Run the demo; the exit code is 0 when every step succeeded."""
    from sandbox.estate import load_estate
    from sandbox.server import SandboxServer

    estate_path = estate or Path(__file__).resolve().parent.parent / "sandbox" / "estates" / "demo.yaml"
    console.rule("acr-aks-ops demo")
    with tempfile.TemporaryDirectory(prefix="ops-demo-") as tmp:
        server = SandboxServer(load_estate(estate_path), state_dir=Path(tmp))
        with server:
            os.environ.update(server.env())
            os.environ.setdefault("OPS_STATE_PATH", str(Path(tmp) / "state.db"))
            from ops.services import reset_services

            reset_services()
            import function_app

            ctx = DemoContext(sandbox=server, app=function_app.app)
            try:
                for step in STEPS:
                    step(ctx)
            except Exception as exc:
                console.print(f"[red]demo failed: {type(exc).__name__}: {exc}[/red]")
                return 1
    _print_summary(ctx)
    return 0


def _print_summary(ctx: DemoContext) -> None:
    table = Table(title="summary")
    table.add_column("capability")
    table.add_column("status")
    for name, status in CAPABILITIES.items():
        table.add_row(name, status)
    console.print(table)
