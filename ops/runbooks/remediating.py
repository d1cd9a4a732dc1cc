"""Remediation's runbooks: what an SNAT or autoscaler alert would do, by hand, for one cluster.

``remediate-snat`` and ``remediate-autoscaler`` take a cluster (name or ARM id) and an
optional target (the outbound load balancer or NAT gateway; the pool to raise). GET shows
the plan, confirmed against the live metrics or the cluster's autoscaler, within every
guardrail; POST applies exactly the reviewed plan (its digest names the cluster's eTag,
so a cluster that changed since is a 409). A guardrail refusal is a 422 with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ops.plan import Plan
from ops.remediate.service import Target
from ops.runbooks.catalog import Context, Execution, Prepared, Runbook
from ops.runbooks.params import ClusterParams


class SnatParams(ClusterParams):
    target: Annotated[
        str | None,
        Field(
            None,
            max_length=600,
            pattern=r"^/subscriptions/[^\s?#]+$",
            description="The outbound load balancer or NAT gateway (default: the cluster's own).",
        ),
    ] = None


class AutoscalerParams(ClusterParams):
    target: Annotated[
        str | None,
        Field(
            None, pattern=r"^[a-z][a-z0-9]{0,11}$", description="The pool to raise (default: the one at max)."
        ),
    ] = None


def _target(remedy: str, params: Any) -> Target:
    by_id = params.cluster.startswith("/")
    if remedy == "snat":
        resource = params.target or (params.cluster if by_id else None)
        name = None if resource else params.cluster
        return Target("snat", resource_id=resource, cluster_name=name, source="runbook")
    return Target(
        "autoscaler",
        resource_id=params.cluster if by_id else None,
        cluster_name=None if by_id else params.cluster,
        pool=params.target,
        source="runbook",
    )


def _preparer(remedy: str) -> Callable[[Context, Any], Prepared]:
    def prepare(context: Context, params: Any) -> Prepared:
        done = context.services.remediate_service(apply=False).remediate(_target(remedy, params))
        return Prepared(done.plan, detail={"reason": done.reason, "continued": list(done.continued)})

    return prepare


def _executor(remedy: str) -> Callable[[Context, Any, Prepared, Callable[[Plan], None]], Execution]:
    def execute(
        context: Context, params: Any, prepared: Prepared, review: Callable[[Plan], None]
    ) -> Execution:
        done = context.services.remediate_service(apply=True).remediate(
            _target(remedy, params), review=review
        )
        return Execution(done.outcomes, detail={"status": done.status, "operation": done.operation})

    return execute


RUNBOOKS = (
    Runbook(
        name="remediate-snat",
        summary="Raise a cluster's SNAT ports and outbound IPs as an SNAT alert would (within the policy).",
        capability="remediate",
        params=SnatParams,
        prepare=_preparer("snat"),
        execute=_executor("snat"),
        guarded=True,
    ),
    Runbook(
        name="remediate-autoscaler",
        summary="Raise an autoscaled pool's maxCount as an autoscaler alert would (within the policy).",
        capability="remediate",
        params=AutoscalerParams,
        prepare=_preparer("autoscaler"),
        execute=_executor("autoscaler"),
        guarded=True,
    ),
)
