"""The schedule's runbooks: snooze, stop and start one cluster by hand.

Plans come from ``ops.schedule.manual``: protected environments are refused, a stop
the next tick would undo is refused, and a start while the schedule wants the
cluster off needs ``until`` (a snooze). Stops and starts are recorded as the tick
records its own, so the next tick confirms them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.plan import Plan
from ops.runbooks.catalog import Context, Execution, Prepared, Runbook
from ops.runbooks.params import ClusterParams, SnoozeParams, StartParams
from ops.schedule.manual import SNOOZE, START, STOP


def _preparer(kind: str) -> Callable[[Context, Any], Prepared]:
    def prepare(context: Context, params: Any) -> Prepared:
        service = context.services.schedule_service(apply=False)
        until = getattr(params, "until", None)
        plan = service.plan_manual(
            params.cluster, kind, until=until, clear=bool(getattr(params, "clear", False))
        )
        return Prepared(plan)

    return prepare


def execute_manual(
    context: Context, params: Any, prepared: Prepared, review: Callable[[Plan], None]
) -> Execution:
    review(prepared.plan)
    service = context.services.schedule_service(apply=True, actor=context.actor)
    return Execution(service.apply_manual(prepared.plan))


RUNBOOKS = (
    Runbook(
        name="schedule-snooze",
        summary="Keep one cluster running until a time (or clear its snooze).",
        capability="schedule",
        params=SnoozeParams,
        prepare=_preparer(SNOOZE),
        execute=execute_manual,
        guarded=True,
    ),
    Runbook(
        name="schedule-stop",
        summary="Stop one cluster now (refused: protected environments, or while its schedule keeps it on).",
        capability="schedule",
        params=ClusterParams,
        prepare=_preparer(STOP),
        execute=execute_manual,
        guarded=True,
    ),
    Runbook(
        name="schedule-start",
        summary="Start one stopped cluster now; with until, keep it running until then.",
        capability="schedule",
        params=StartParams,
        prepare=_preparer(START),
        execute=execute_manual,
        guarded=True,
    ),
)
