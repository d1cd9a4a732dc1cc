"""Event Grid events exactly as ACR emits them: ImagePushed and ImageDeleted.

The product's gate is triggered by ``Microsoft.ContainerRegistry.ImagePushed``, so the
sandbox records, for every manifest push and delete, the Event Grid-schema event a
subscription on the registry would deliver (``ops sandbox events`` prints them, and
``ops invoke`` feeds them to the function). Shape: Microsoft Learn, "Azure Container
Registry as an Event Grid source" (Event Grid schema tab: ``topic``, ``subject``
``repo:tag``, ``eventType``, ``eventTime``, ``dataVersion`` "2.0" with
``data.location``, ``metadataVersion`` "1"), and the data-plane definitions in
azure-rest-api-specs ``specification/eventgrid/data-plane/Microsoft.ContainerRegistry``
(``ContainerRegistryEventData``: id, timestamp, action, target, request, actor, source).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.world import Registry, World

IMAGE_PUSHED = "Microsoft.ContainerRegistry.ImagePushed"
IMAGE_DELETED = "Microsoft.ContainerRegistry.ImageDeleted"


@dataclass(frozen=True, slots=True)
class Caller:
    """The request behind a change, as ACR reports it in ``data.request`` and ``data.actor``."""

    host: str
    method: str
    useragent: str = ""
    actor: str | None = None  # principal that authenticated, when known
    request_id: str = ""
    addr: str = ""  # the client's address

    @classmethod
    def in_process(cls, registry: Registry, method: str) -> Caller:
        """A caller for changes made inside the sandbox (``ops sandbox push``)."""
        return cls(host=_login_server(registry), method=method, useragent="acr-aks-ops-sandbox")


def record_image_event(
    world: World,
    registry: Registry,
    *,
    event_type: str,
    repository: str,
    digest: str,
    media_type: str,
    size: int | None,
    tag: str | None,
    caller: Caller,
) -> dict[str, Any]:
    """Append one Event Grid event to ``world.events`` (caller holds ``world.lock``)."""
    now = world.now()
    pushed = event_type == IMAGE_PUSHED
    target: dict[str, Any] = {"mediaType": media_type}
    if pushed and size is not None:
        target["size"] = size
    target["digest"] = digest
    if pushed and size is not None:
        target["length"] = size
    target["repository"] = repository
    if tag:
        target["tag"] = tag
    host = caller.host or _login_server(registry)
    event = {
        "id": str(uuid.uuid4()),
        "topic": registry.id,
        # ACR's subject is "repo:tag" for a tagged push and the repository otherwise.
        "subject": f"{repository}:{tag}" if tag else repository,
        "eventType": event_type,
        "eventTime": _timestamp(now),
        "data": {
            "id": str(uuid.uuid4()),
            "timestamp": _timestamp(now),
            "action": "push" if pushed else "delete",
            "location": registry.location,
            "target": target,
            "request": {
                "id": caller.request_id or str(uuid.uuid4()),
                "addr": caller.addr,
                "host": host,
                "method": caller.method,
                "useragent": caller.useragent,
            },
            "actor": {"name": caller.actor} if caller.actor else {},
            "source": {"addr": host, "instanceID": _instance_id(registry)},
        },
        "dataVersion": "2.0",
        "metadataVersion": "1",
    }
    world.events.append(event)
    return event


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _login_server(registry: Registry) -> str:
    return registry.login_server if registry.port else f"{registry.name}.azurecr.io"


_INSTANCES: dict[str, str] = {}


def _instance_id(registry: Registry) -> str:
    # Stable per registry for the life of the process, like a registry node's instance.
    return _INSTANCES.setdefault(registry.name, str(uuid.uuid4()))
