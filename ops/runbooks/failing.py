"""The failover runbooks: ``failover`` and ``failback`` of one region, with approval.

GET plans: what failing over away from the region (or failing back to it) would do now,
per stamp. POST applies, and needs ``Ops.Approve`` as well as ``Ops.Operate``: moving a
region's write paths is a decision a person owns. A failover by runbook runs where
automatic failover is off; a failback by runbook still waits for the region to be
verified healthy (docs/failover.md): until then its plan is the wait, and nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ops.failover.machine import combine
from ops.plan import Plan
from ops.runbooks.catalog import Context, Execution, Prepared, Runbook
from ops.runbooks.params import RunbookParams

Region = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{2,40}$", description="Azure region, e.g. eastus2.")]


class RegionParams(RunbookParams):
    region: Region


def _summary(result: Any) -> dict[str, Any]:
    return {"stamps": [{"stamp": s.stamp, "decision": s.decision, "phase": s.phase, "reason": s.reason}
                       for s in result.stamps]}  # fmt: skip


def _plan_of(result: Any) -> Plan:
    return combine([s.plan for s in result.stamps if s.plan is not None])


def prepare_failover(context: Context, params: Any) -> Prepared:
    result = context.services.failover_service(apply=False).plan_region(params.region)
    return Prepared(_plan_of(result), detail=_summary(result))


def prepare_failback(context: Context, params: Any) -> Prepared:
    result = context.services.failover_service(apply=False).release_region(params.region, reason="plan")
    return Prepared(_plan_of(result), detail=_summary(result))


def _executor(failback: bool) -> Callable[[Context, Any, Prepared, Callable[[Plan], None]], Execution]:
    def execute(
        context: Context, params: Any, prepared: Prepared, review: Callable[[Plan], None]
    ) -> Execution:
        review(prepared.plan)
        service = context.services.failover_service(apply=True)
        reason = f"runbook by {context.caller_name}"
        if failback:
            result = service.release_region(params.region, reason=reason)
        else:
            result = service.apply_region(params.region, reason=reason)
        return Execution([o for s in result.stamps for o in s.outcomes], detail=_summary(result))

    return execute


RUNBOOKS = (
    Runbook(
        name="failover",
        summary="Fail every stamp in a region over to its next healthy region (pointer, traffic, routing).",
        capability="failover",
        params=RegionParams,
        prepare=prepare_failover,
        execute=_executor(failback=False),
        approval=True,
    ),
    Runbook(
        name="failback",
        summary="Fail back to a region once verified healthy (routing, traffic, pointer, each re-verified).",
        capability="failover",
        params=RegionParams,
        prepare=prepare_failback,
        execute=_executor(failback=True),
        approval=True,
    ),
)
