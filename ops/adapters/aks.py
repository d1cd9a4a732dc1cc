"""AKS through ARM (azure-mgmt-containerservice): managed clusters and their agent pools.

Stop, start and agent-pool updates are ARM long-running operations that take minutes.
A timer function must not sit in a poller for that long, so this adapter starts them
with ``polling=False``, keeps the ``Azure-AsyncOperation`` (or ``Location``) URL from
the first response, and :meth:`AksClusters.get_operation` asks that URL once, on a
later tick. Clients are created once per subscription per process and reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest

from ops.adapters.clients import management_client, parse_resource_id
from ops.adapters.errors import translated_errors
from ops.config import Settings
from ops.schedule.clusters import ObservedCluster, PoolScale, cluster_from_arm
from ops.schedule.protocols import OperationRef, OperationResult, OperationState

MANAGED_CLUSTERS = "Microsoft.ContainerService/managedClusters"

#: ARM's terminal statuses of an Azure-AsyncOperation resource.
_STATUSES = {
    "succeeded": OperationState.SUCCEEDED,
    "failed": OperationState.FAILED,
    "canceled": OperationState.FAILED,
    "cancelled": OperationState.FAILED,
}


def container_service_client(settings: Settings, subscription: str) -> Any:
    """The process-wide ContainerServiceClient for ``subscription`` at the configured ARM endpoint."""
    from azure.mgmt.containerservice import ContainerServiceClient

    return management_client(settings, ContainerServiceClient, subscription=subscription)


class _FirstResponse:
    """A ``raw_response_hook`` that keeps where ARM says to poll the operation it started."""

    def __init__(self) -> None:
        self.status = 0
        self.poll_url: str | None = None

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        http = response.http_response
        self.status = http.status_code
        self.poll_url = http.headers.get("Azure-AsyncOperation") or http.headers.get("Location")

    def ref(self) -> OperationRef:
        return OperationRef(url=self.poll_url)


class AksClusters:
    """Reads and changes single clusters: the schedule's ClusterControl."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _locate(self, cluster_id: str) -> tuple[Any, str, str]:
        found = parse_resource_id(cluster_id, of_type=MANAGED_CLUSTERS, field="cluster")
        return container_service_client(self.settings, found.subscription), found.resource_group, found.name

    def get_cluster(self, cluster_id: str) -> ObservedCluster:
        client, group, name = self._locate(cluster_id)
        with translated_errors(f"get managed cluster {name}"):
            cluster = client.managed_clusters.get(group, name)
        return cluster_from_arm(cluster.as_dict())

    def list_subscription_clusters(self, subscription: str) -> list[ObservedCluster]:
        client = container_service_client(self.settings, subscription)
        with translated_errors(f"list managed clusters of subscription {subscription}"):
            return [cluster_from_arm(c.as_dict()) for c in client.managed_clusters.list()]

    def begin_stop(self, cluster_id: str) -> OperationRef:
        client, group, name = self._locate(cluster_id)
        first = _FirstResponse()
        with translated_errors(f"stop managed cluster {name}"):
            client.managed_clusters.begin_stop(group, name, polling=False, raw_response_hook=first)
        return first.ref()

    def begin_start(self, cluster_id: str) -> OperationRef:
        client, group, name = self._locate(cluster_id)
        first = _FirstResponse()
        with translated_errors(f"start managed cluster {name}"):
            client.managed_clusters.begin_start(group, name, polling=False, raw_response_hook=first)
        return first.ref()

    def begin_scale_pool(
        self, cluster_id: str, pool: str, scale: PoolScale, *, start: bool = False
    ) -> OperationRef:
        """GET the pool, set count and autoscaler bounds exactly, PUT it back whole (an
        agent pool PUT replaces the pool, so every other property must be sent as read)."""
        from azure.mgmt.containerservice import models

        client, group, name = self._locate(cluster_id)
        with translated_errors(f"get agent pool {name}/{pool}"):
            current = client.agent_pools.get(group, name, pool)
        props = current.properties
        props.enable_auto_scaling = scale.enable_auto_scaling
        props.count = scale.count
        props.min_count = scale.min_count if scale.enable_auto_scaling else None
        props.max_count = scale.max_count if scale.enable_auto_scaling else None
        if start:
            props.power_state = models.PowerState(code="Running")
        first = _FirstResponse()
        with translated_errors(f"update agent pool {name}/{pool}"):
            client.agent_pools.begin_create_or_update(
                group, name, pool, current, polling=False, raw_response_hook=first
            )
        return first.ref()

    def get_operation(self, ref: OperationRef) -> OperationResult:
        """Ask an operation's status URL once: an ``Azure-AsyncOperation`` resource
        (``status``), or a ``Location`` result (202 while running)."""
        if ref.url is None:
            return OperationResult(OperationState.SUCCEEDED)
        # The status URL is an ARM path under the cluster's subscription, such as
        # /subscriptions/<id>/providers/Microsoft.ContainerService/locations/<region>/operations/<op>.
        subscription = parse_resource_id(urlsplit(ref.url).path, field="operation url").subscription
        client = container_service_client(self.settings, subscription)
        with translated_errors("get operation status"):
            response = client.send_request(HttpRequest("GET", ref.url))
            if response.status_code == 202:
                return OperationResult(OperationState.IN_PROGRESS)
            if response.status_code == 204:
                return OperationResult(OperationState.SUCCEEDED)
            if response.status_code == 400:  # a Location result reporting the failure
                return OperationResult(OperationState.FAILED, _error_text(response.json()))
            response.raise_for_status()
            body = response.json() if response.content else {}
        status = str(body.get("status") or "Succeeded") if isinstance(body, dict) else "Succeeded"
        state = _STATUSES.get(status.lower(), OperationState.IN_PROGRESS)
        error = _error_text(body) if state is OperationState.FAILED else None
        return OperationResult(state, error)

    def update_tags(self, cluster_id: str, changes: Mapping[str, str | None]) -> Mapping[str, str]:
        """Merge ``changes`` into the cluster's tags. The PATCH replaces all tags, so the
        current ones are read first; a tag name keeps the case it already has."""
        from azure.mgmt.containerservice import models

        client, group, name = self._locate(cluster_id)
        with translated_errors(f"get managed cluster {name}"):
            cluster = client.managed_clusters.get(group, name)
        tags = dict(cluster.tags or {})
        for key, value in changes.items():
            existing = next((k for k in tags if k.lower() == key.lower()), key)
            tags.pop(existing, None)
            if value is not None:
                tags[existing] = value
        with translated_errors(f"update tags of managed cluster {name}"):
            client.managed_clusters.begin_update_tags(
                group, name, models.TagsObject(tags=tags), polling=False
            )
        return tags


def _error_text(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "the operation failed without an error body"
    code, message = error.get("code"), error.get("message")
    return f"({code}) {message}" if code else str(message or "the operation failed")
