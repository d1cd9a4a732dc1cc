"""Long-running operations, as ARM runs them, so that ``begin_*`` pollers work unmodified.

A mutating call starts an :class:`Operation` that ends ``world.settings["lro_seconds"]``
later (sandbox time: moving the clock with ``POST /_sandbox/clock`` ends it sooner).
The first response carries ``Azure-AsyncOperation`` (the status resource,
``{name, status, startTime, endTime, error}``), ``Location`` (the result, 202 while
running and then 204 or the resource) and ``Retry-After`` ≥ 1 (azure-core treats 0
as "use the 30 s default"). Operations settle lazily whenever ARM is called, and on a
timer, so that the Kubernetes API of a stopping cluster goes away without anyone
polling. An ``lro_failure`` fault makes the operation end ``Failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.faults import Faults
from sandbox.world import World

DEFAULT_LRO_SECONDS = 3.0
_MAX_RETRY_AFTER = 10
_KEEP_FINISHED = 2000


@dataclass(slots=True)
class Operation:
    id: str
    name: str  # what is being done, e.g. "stop", "Updating"
    resource_id: str
    started: datetime
    deadline: float  # world.monotonic() when it ends
    finish: Callable[[], None]
    fail: Callable[[dict[str, str]], None]
    planned_failure: dict[str, str] | None = None
    status: str = "InProgress"
    ended: datetime | None = None
    error: dict[str, str] | None = None
    result_status: int = 204  # what the Location URL answers once Succeeded (POSTs: 204)
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.id,
            "status": self.status,
            "startTime": _iso(self.started),
        }
        if self.ended is not None:
            out["endTime"] = _iso(self.ended)
            out["percentComplete"] = 100.0
        if self.error is not None:
            out["error"] = dict(self.error)
        return out


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LroEngine:
    """Every operation the ARM endpoint started, by id."""

    def __init__(self, world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults
        self.operations: dict[str, Operation] = {}

    def begin(
        self,
        *,
        name: str,
        resource_id: str,
        method: str,
        path: str,
        finish: Callable[[], None],
        fail: Callable[[dict[str, str]], None],
        result_status: int = 204,
    ) -> Operation:
        """Start an operation (the caller already applied its "in progress" state)."""
        world = self.world
        seconds = float(world.settings.get("lro_seconds", DEFAULT_LRO_SECONDS))
        fault = self.faults.take_lro_failure("arm", method, path)
        planned = None
        if fault is not None:
            planned = {
                "code": fault.code or "InternalOperationError",
                "message": fault.message or f"The {name} operation failed (injected by the sandbox).",
            }
        op = Operation(
            id=str(uuid.uuid4()),
            name=name,
            resource_id=resource_id,
            started=world.now(),
            deadline=world.monotonic() + seconds,
            finish=finish,
            fail=fail,
            planned_failure=planned,
            result_status=result_status,
        )
        with world.lock:
            self.operations[op.id] = op
            self._forget_old()
        with contextlib.suppress(RuntimeError):  # no running loop: settled lazily instead
            asyncio.get_running_loop().call_later(max(seconds, 0) + 0.01, self.settle)
        if seconds <= 0:
            self.settle()
        return op

    def settle(self) -> None:
        """Complete every operation whose time has come."""
        now = self.world.monotonic()
        with self.world.lock:
            for op in self.operations.values():
                if op.status != "InProgress" or now < op.deadline:
                    continue
                op.ended = self.world.now()
                if op.planned_failure is not None:
                    op.status = "Failed"
                    op.error = op.planned_failure
                    op.fail(op.planned_failure)
                else:
                    op.status = "Succeeded"
                    op.finish()

    def in_progress(self, resource_id: str) -> Operation | None:
        """The operation running on this resource or one of its children, if any."""
        prefix = resource_id.lower()
        for op in self.operations.values():
            if op.status == "InProgress" and (
                op.resource_id.lower() == prefix or op.resource_id.lower().startswith(prefix + "/")
            ):
                return op
        return None

    def retry_after(self, op: Operation) -> int:
        remaining = op.deadline - self.world.monotonic()
        return max(1, min(_MAX_RETRY_AFTER, math.ceil(remaining)))

    def _forget_old(self) -> None:
        if len(self.operations) <= _KEEP_FINISHED:
            return
        for op_id in [k for k, v in self.operations.items() if v.status != "InProgress"][
            : _KEEP_FINISHED // 2
        ]:
            del self.operations[op_id]
