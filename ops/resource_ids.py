"""ARM resource ids: one parser for every place that splits an id.

Pure (no SDK), so planners, event parsing and adapters all share it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.errors import InvalidInput

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
