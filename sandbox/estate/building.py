"""From a validated estate file to a live :class:`~sandbox.world.World`.

Schema errors are pydantic's; everything that needs the whole estate (a resource
group that must exist, a subject or child that must name a manifest, an image whose
tag must exist, a node a pod sits on) is checked here, and every problem is collected
with its field path before loading fails, so one run shows them all.

:class:`Builder` does one load: the registry half lives in ``sandbox.estate.registries``,
the cluster half in ``sandbox.estate.clusters``; subscriptions, placement, identity,
findings, faults and settings are here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.authz import BUILTIN_ROLES
from sandbox.estate.clusters import ClusterBuilding
from sandbox.estate.images import parse_image_ref
from sandbox.estate.models import (
    EstateModel,
    IdentityModel,
    Timed,
    parse_duration,
)
from sandbox.estate.networks import NetworkBuilding
from sandbox.estate.registries import RegistryBuilding
from sandbox.world import (
    Finding,
    Identity,
    RoleAssignment,
    Subscription,
    World,
)


class Problems:
    """Collected validation problems, each ``path: message``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


class Builder(RegistryBuilding, ClusterBuilding, NetworkBuilding):
    """One load: the world being built, the reference time and the problems found."""

    def __init__(self, estate: EstateModel, now: datetime) -> None:
        self.estate = estate
        self.now = now
        self.problems = Problems()
        self.world = World()
        self.cache: dict[tuple[str, str], Any] = {}  # derived data generators reuse across clusters

    # -- times ----------------------------------------------------------------------------

    def created_of(self, item: Timed | Any, default: datetime | None = None) -> datetime:
        created = getattr(item, "created", None)
        if created is not None:
            return created
        age = getattr(item, "age", None)
        if age is not None:
            return self.now - timedelta(seconds=parse_duration(age))
        return default if default is not None else self.now

    def updated_of(self, item: Timed, created: datetime) -> datetime:
        if item.updated is not None:
            return item.updated
        if item.updated_age is not None:
            return self.now - timedelta(seconds=parse_duration(item.updated_age))
        return created

    # -- top level -----------------------------------------------------------------------

    def build(self) -> World:
        estate = self.estate
        world = self.world
        world.settings.update(settings_to_world(estate.settings.model_dump()))
        for index, sub in enumerate(estate.subscriptions):
            key = sub.id.lower()
            if key in world.subscriptions:
                self.problems.add(f"subscriptions[{index}].id", f"duplicate subscription {sub.id}")
                continue
            groups: dict[str, str] = {}
            for g_index, group in enumerate(sub.resource_groups):
                if group.name.lower() in (name.lower() for name in groups):
                    self.problems.add(
                        f"subscriptions[{index}].resourceGroups[{g_index}].name",
                        f"duplicate resource group {group.name}",
                    )
                groups[group.name] = group.location
            world.subscriptions[key] = Subscription(key, sub.name or key, groups)
        self.build_identity()
        self.build_networks()
        for index, registry in enumerate(estate.registries):
            self.build_registry(registry, f"registries[{index}]")
        for index, finding in enumerate(estate.findings):
            self.build_finding(finding, f"findings[{index}]")
        for index, cluster in enumerate(estate.clusters):
            self.build_cluster(cluster, f"clusters[{index}]")
        if estate.generate.clusters is not None:
            from sandbox.estate.generating import generate_clusters

            generate_clusters(self, estate.generate.clusters, "generate.clusters")
        self.build_faults()
        if estate.failover is not None:
            self.build_failover(estate.failover)
        return world

    def build_failover(self, data: dict[str, Any]) -> None:
        from pydantic import ValidationError

        from sandbox.failover.estate import FailoverEstateModel, build_failover

        try:
            model = FailoverEstateModel.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                self.problems.add(f"failover.{where}", error["msg"])
            return
        build_failover(self, model, self.now)

    def build_identity(self) -> None:
        self.world.identity = self.identity_of(self.estate.identity, "identity", Identity())
        for index, model in enumerate(self.estate.identities):
            path = f"identities[{index}]"
            if not model.client_id or not model.principal_id:
                self.problems.add(path, "another identity needs its clientId and principalId")
                continue
            identity = self.identity_of(model, path, Identity(roles=[]))
            known = [self.world.identity, *self.world.identities]
            if any(i.principal_id.lower() == identity.principal_id.lower() for i in known):
                self.problems.add(f"{path}.principalId", f"duplicate identity {identity.principal_id}")
                continue
            self.world.identities.append(identity)

    def identity_of(self, model: IdentityModel, path: str, identity: Identity) -> Identity:
        """An identity with its ids, custom roles and role assignments, each checked."""
        if model.client_id:
            identity.client_id = model.client_id
        if model.principal_id:
            identity.principal_id = model.principal_id
        if model.tenant_id:
            identity.tenant_id = model.tenant_id
        for index, custom in enumerate(model.custom_roles):
            if custom.name in BUILTIN_ROLES:
                self.problems.add(
                    f"{path}.customRoles[{index}].name", f"{custom.name!r} is a built-in role name"
                )
            identity.custom_roles[custom.name] = [*custom.actions, *custom.data_actions]
        for index, role in enumerate(model.roles):
            if role.role not in BUILTIN_ROLES and role.role not in identity.custom_roles:
                self.problems.add(
                    f"{path}.roles[{index}].role",
                    f"unknown role {role.role!r}; expected a built-in role "
                    f"({', '.join(sorted(BUILTIN_ROLES))}) or one of {path}.customRoles",
                )
            sub_id = role.scope.split("/")[2].lower()
            if sub_id not in self.world.subscriptions:
                self.problems.add(
                    f"{path}.roles[{index}].scope", f"subscription {sub_id} is not in the estate"
                )
            identity.roles.append(RoleAssignment(scope=role.scope, role=role.role))
        return identity

    def place(
        self, subscription: str | None, resource_group: str, location: str | None, path: str
    ) -> tuple[str, str, str]:
        """(subscription id, resource group, location) of a resource, checked against the estate."""
        subs = self.world.subscriptions
        if subscription is None:
            sub = next(iter(subs.values()), None)
        else:
            sub = subs.get(subscription.lower()) or next(
                (s for s in subs.values() if s.name == subscription), None
            )
        if sub is None:
            self.problems.add(
                f"{path}.subscription", f"{subscription!r} is not a subscription id or name of the estate"
            )
            return (subscription or "", resource_group, location or "eastus")
        group = next((g for g in sub.resource_groups if g.lower() == resource_group.lower()), None)
        if group is None:
            self.problems.add(
                f"{path}.resourceGroup",
                f"{resource_group!r} is not a resource group of subscription {sub.id} "
                f"(it has: {', '.join(sub.resource_groups) or 'none'})",
            )
            return (sub.id, resource_group, location or "eastus")
        return (sub.id, group, location or sub.resource_groups[group])

    # -- findings -------------------------------------------------------------------------

    def build_finding(self, model: Any, path: str) -> None:
        ref = parse_image_ref(model.image, short_registry=True)
        if ref is None:
            self.problems.add(
                f"{path}.image", f"{model.image!r} is not <registry>/<repository>:<tag> or @<digest>"
            )
            return
        registry = self.find_registry(ref.registry_name)
        if registry is None:
            self.problems.add(f"{path}.image", f"registry {ref.registry_name!r} is not in the estate")
            return
        digest = self.resolve_ref(registry, ref)
        if digest is None:
            self.problems.add(f"{path}.image", f"{model.image!r} does not name a manifest of {registry.name}")
            return
        self.world.findings.append(
            Finding(
                registry=registry.name,
                repository=ref.repository,
                digest=digest,
                cve=model.cve,
                severity=model.severity,
                fix_status=model.fix_status,
                fixed_version=model.fixed_version,
                status=model.status,
                cause=model.cause,
                time_generated=model.time_generated or self.created_of(model),
                package=model.package,
                version=model.version,
            )
        )

    # -- faults ---------------------------------------------------------------------------

    def build_faults(self) -> None:
        from sandbox.faults import parse_fault

        for index, data in enumerate(self.estate.faults):
            try:
                self.world.faults.append(parse_fault(data, path=f"faults[{index}]"))
            except ValueError as exc:
                self.problems.items.append(str(exc))


def settings_to_world(settings: dict[str, Any]) -> dict[str, Any]:
    """Estate settings (validated, snake_case fields) → world.settings; limits keys to snake_case."""
    out = dict(settings)
    out["limits"] = _snake_keys(_without_none(settings.get("limits") or {}))
    return out


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != {}}
    return value


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_to_snake(k) if k[:1].islower() else k: _snake_keys(v) for k, v in value.items()}
    return value


def _to_snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
