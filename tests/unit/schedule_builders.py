"""Builders for schedule planner and service tests: managed clusters as ARM reports them.

Every cluster lives in resource group ``rg`` of subscription ``SUB``, in westeurope, so
that a test names it by its name alone and its id is what ARM would give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.schedule.clusters import ObservedCluster, ObservedPool

SUB = "00000000-0000-0000-0000-000000000001"


def observed_cluster(
    name: str, *, tags: Mapping[str, str], pools: tuple[ObservedPool, ...], **fields: Any
) -> ObservedCluster:
    """Cluster ``name`` with ``tags`` and ``pools``; ``fields`` set the rest (``power_state``, ...)."""
    return ObservedCluster(
        id=f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}",
        name=name,
        subscription=SUB,
        resource_group="rg",
        location="westeurope",
        tags=tags,
        pools=pools,
        **fields,
    )
