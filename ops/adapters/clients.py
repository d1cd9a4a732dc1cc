"""What every ARM adapter shares: process-wide SDK clients, ARM resource ids, SDK enum values.

An SDK client holds a connection pool and, through the credential, a token cache, so
each one is built once per process and reused by every invocation the host runs in
it. ARM clients are all built the same way (the configured ARM endpoint and audience,
the app's credential), which is written here once for the registry, AKS and Resource
Graph adapters. Resource ids are parsed here once too, so that "which subscription,
which group, which registry" is answered the same way everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from ops.adapters.identity import build_credential
from ops.config import Settings
from ops.errors import InvalidInput

_T = TypeVar("_T")

_CLIENTS: dict[tuple[Hashable, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def cached_client(key: tuple[Hashable, ...], build: Callable[[], _T]) -> _T:
    """The process-wide object stored under ``key``, built by ``build`` the first time.

    Keys carry the credential the object uses, so that a new credential (another
    managed identity, or a test's fresh sandbox) never reuses a client of the old one.
    """
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = build()
        found: _T = _CLIENTS[key]
        return found


def management_client(settings: Settings, cls: Callable[..., _T], *, subscription: str | None = None) -> _T:
    """The process-wide ARM client of SDK class ``cls`` (for ``subscription``, when the
    class is per subscription) at the configured ARM endpoint and audience."""
    credential = build_credential(settings)
    endpoint = settings.endpoints.arm_endpoint
    audience = settings.endpoints.arm_audience

    def build() -> _T:
        args = (credential,) if subscription is None else (credential, subscription)
        return cls(*args, base_url=endpoint, credential_scopes=[audience + "/.default"])

    key = (cls, endpoint, audience, (subscription or "").lower(), credential)
    return cached_client(key, build)


def enum_text(value: Any) -> str:
    """An SDK enum member's wire value (``SkuName.PREMIUM`` → ``Premium``), or the string itself.

    ``str()`` of a str-valued SDK enum is ``SkuName.PREMIUM``, not its value, so comparing
    ``str(field)`` to a wire value passes for strings and silently fails for enums.
    """
    return str(getattr(value, "value", value))


_EXPECTED = "an ARM id /subscriptions/<id>[/resourceGroups/<group>][/providers/<namespace>/<type>/<name>...]"
_RESOURCES = "Microsoft.Resources"


@dataclass(frozen=True)
class ResourceId:
    """The parts of an ARM resource id, as written in it (case kept).

    ``children`` are the ``(type, name)`` pairs below the top-level resource, such as
    ``(("agentPools", "system"),)``; an extension resource's second ``providers/<namespace>``
    is one such pair too. A subscription or resource group id names itself:
    type ``subscriptions`` or ``resourceGroups`` of ``Microsoft.Resources``.
    """

    subscription: str
    resource_group: str
    provider: str
    type: str
    name: str
    children: tuple[tuple[str, str], ...] = ()

    @property
    def resource_type(self) -> str:
        """ARM's full type: ``Microsoft.ContainerService/managedClusters/agentPools``."""
        return "/".join((self.provider, self.type, *(kind for kind, _ in self.children)))

    def is_type(self, resource_type: str) -> bool:
        return self.resource_type.lower() == resource_type.lower()


def parse_resource_id(
    resource_id: str, *, of_type: str | None = None, field: str = "resource id"
) -> ResourceId:
    """Split an ARM id into its parts, or raise InvalidInput naming ``field``.

    With ``of_type`` (such as ``Microsoft.ContainerRegistry/registries``) the id must
    name a resource of exactly that type in a resource group, which is where every
    resource this app reads or changes lives.
    """
    parts = resource_id.strip().strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions" or "" in parts:
        raise InvalidInput(field, _EXPECTED, resource_id)
    subscription, group, rest = parts[1], "", parts[2:]
    if rest and rest[0].lower() == "resourcegroups":
        if len(rest) < 2:
            raise InvalidInput(field, _EXPECTED, resource_id)
        group, rest = rest[1], rest[2:]
    if not rest:
        scope = ("resourceGroups", group) if group else ("subscriptions", subscription)
        parsed = ResourceId(subscription, group, _RESOURCES, *scope)
    elif rest[0].lower() != "providers" or len(rest) < 4 or len(rest) % 2:
        raise InvalidInput(field, _EXPECTED, resource_id)
    else:
        pairs = tuple((rest[i], rest[i + 1]) for i in range(4, len(rest), 2))
        parsed = ResourceId(subscription, group, rest[1], rest[2], rest[3], pairs)
    if of_type is not None and not (parsed.is_type(of_type) and parsed.resource_group):
        raise InvalidInput(field, f"the ARM id of a {of_type} resource in a resource group", resource_id)
    return parsed
