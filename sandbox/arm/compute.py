"""Microsoft.Compute ``locations/{location}/usages``: the regional vCPU quotas.

Each family's ``currentValue`` is computed from the estate's running nodes (pool count
x the VM size's vCPUs) plus the quota's ``otherUsage``; ``cores`` is the regional total.
Families and limits come from the estate's ``quotas``; a family in use with no quota in
the estate is listed with :data:`UNSET_LIMIT`, and AKS enforces only the quotas the
estate sets. Shape: the REST API specs' ``Usage_List`` example
(``{"unit", "currentValue", "limit", "name": {"value", "localizedValue"}}``).
"""

from __future__ import annotations

from starlette.responses import Response

from sandbox.arm.capacity import vcpu_usage, vm_family
from sandbox.arm.routing import ArmCall, arm_route, page
from sandbox.authz import check_action

UNSET_LIMIT = 100_000


@arm_route(
    "GET",
    "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/usages",
    "usages.list",
)
async def list_usages(call: ArmCall) -> Response:
    sub = call.subscription()
    location = call.params["location"].lower()
    check_action(call.world, f"/subscriptions/{sub.id}", "Microsoft.Compute/locations/usages/read")
    world = call.world
    names: dict[str, tuple[str, int, int]] = {}  # name → (localized, limit, other usage)
    for quota in world.quotas:
        if quota.subscription == sub.id and quota.location.lower() == location:
            localized = "Total Regional vCPUs" if quota.name == "cores" else _localized(quota.name)
            names[quota.name] = (localized, quota.limit, quota.other_usage)
    names.setdefault("cores", ("Total Regional vCPUs", UNSET_LIMIT, 0))
    for cluster in world.clusters.values():
        if cluster.subscription != sub.id or cluster.location.lower() != location:
            continue
        for pool in cluster.agent_pools.values():
            family = vm_family(pool.vm_size)
            if family is not None:
                names.setdefault(family.name, (family.localized, UNSET_LIMIT, 0))
    region = next(
        (c.location for c in world.clusters.values() if c.location.lower() == location),
        call.params["location"],
    )
    items = [
        {
            "unit": "Count",
            "currentValue": other + vcpu_usage(world, sub.id, region, name),
            "limit": limit,
            "name": {"value": name, "localizedValue": localized},
        }
        for name, (localized, limit, other) in names.items()
    ]
    return page(call, items)


def _localized(name: str) -> str:
    body = name.removeprefix("standard").removesuffix("Family")
    return f"Standard {body} Family vCPUs"
