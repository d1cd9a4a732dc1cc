"""Authorization: which actions the app's role assignments grant, as Azure RBAC decides.

When an estate lists role assignments for the app's identity, every endpoint asks
:func:`check_action` before acting, and answers Azure's 403 ``AuthorizationFailed``
when no assignment at or above the scope grants the action. Tests then prove the
product runs with least privilege: a purge with only AcrDelete + Catalog Lister, a
schedule with a custom start/stop role. With no assignments, everything is allowed
(a plain demo estate need not model RBAC).

Role definitions are those of the built-in roles (Actions and DataActions merged,
wildcards as Azure writes them). Registries are treated in both permission modes at
once: the legacy ACR roles (AcrPull, AcrPush, AcrDelete) also satisfy the matching
repository-permission data actions and vice versa, so a call site can name either.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sandbox.http import SandboxHTTPError
from sandbox.world import World

_ACR = "Microsoft.ContainerRegistry/registries"
_AKS = "Microsoft.ContainerService/managedClusters"
_RBAC_READ = [
    f"{_AKS}/{kind}/read"
    for kind in (
        "apps/controllerrevisions",
        "apps/daemonsets",
        "apps/deployments",
        "apps/replicasets",
        "apps/statefulsets",
        "autoscaling/horizontalpodautoscalers",
        "batch/cronjobs",
        "batch/jobs",
        "configmaps",
        "discovery.k8s.io/endpointslices",
        "endpoints",
        "events.k8s.io/events",
        "events",
        "extensions/daemonsets",
        "extensions/deployments",
        "extensions/ingresses",
        "extensions/networkpolicies",
        "extensions/replicasets",
        "limitranges",
        "metrics.k8s.io/pods",
        "metrics.k8s.io/nodes",
        "namespaces",
        "networking.k8s.io/ingresses",
        "networking.k8s.io/networkpolicies",
        "persistentvolumeclaims",
        "pods",
        "policy/poddisruptionbudgets",
        "replicationcontrollers",
        "resourcequotas",
        "serviceaccounts",
        "services",
    )
]
_SUBSCRIPTION_READ = [
    "Microsoft.Authorization/*/read",
    "Microsoft.Resources/subscriptions/operationresults/read",
    "Microsoft.Resources/subscriptions/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
]

#: Built-in roles the project uses: name → granted actions and data actions.
BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),  # NotActions (Authorization writes) do not matter to the sandbox
    "Reader": ("*/read",),
    "AcrPull": (f"{_ACR}/pull/read",),
    "AcrPush": (f"{_ACR}/pull/read", f"{_ACR}/push/write"),
    "AcrDelete": (f"{_ACR}/artifacts/delete",),
    "AcrImageSigner": (f"{_ACR}/sign/write", f"{_ACR}/trustedCollections/write"),
    "AcrQuarantineReader": (f"{_ACR}/quarantine/read", f"{_ACR}/quarantinedArtifacts/read"),
    "AcrQuarantineWriter": (
        f"{_ACR}/quarantine/read",
        f"{_ACR}/quarantine/write",
        f"{_ACR}/quarantinedArtifacts/read",
        f"{_ACR}/quarantinedArtifacts/write",
    ),
    "Container Registry Repository Reader": (
        f"{_ACR}/repositories/content/read",
        f"{_ACR}/repositories/metadata/read",
    ),
    "Container Registry Repository Writer": (
        f"{_ACR}/repositories/content/read",
        f"{_ACR}/repositories/metadata/read",
        f"{_ACR}/repositories/content/write",
        f"{_ACR}/repositories/metadata/write",
    ),
    "Container Registry Repository Contributor": (
        f"{_ACR}/repositories/content/read",
        f"{_ACR}/repositories/metadata/read",
        f"{_ACR}/repositories/content/write",
        f"{_ACR}/repositories/metadata/write",
        f"{_ACR}/repositories/content/delete",
        f"{_ACR}/repositories/metadata/delete",
    ),
    "Container Registry Repository Catalog Lister": (f"{_ACR}/catalog/read",),
    "Azure Kubernetes Service Cluster User Role": (
        f"{_AKS}/listClusterUserCredential/action",
        f"{_AKS}/read",
    ),
    "Azure Kubernetes Service Contributor Role": (
        f"{_AKS}/read",
        f"{_AKS}/write",
        "Microsoft.Resources/deployments/*",
    ),
    "Azure Kubernetes Service RBAC Reader": (*_SUBSCRIPTION_READ, *_RBAC_READ),
    "Azure Kubernetes Service RBAC Writer": (
        *_SUBSCRIPTION_READ,
        *_RBAC_READ,
        *(
            f"{_AKS}/{kind}/*"
            for kind in (
                "apps/daemonsets",
                "apps/deployments",
                "apps/replicasets",
                "apps/statefulsets",
                "batch/cronjobs",
                "batch/jobs",
                "configmaps",
                "endpoints",
                "events",
                "pods",
                "secrets",
                "serviceaccounts",
                "services",
            )
        ),
    ),
    "Azure Kubernetes Service RBAC Cluster Admin": (*_SUBSCRIPTION_READ, f"{_AKS}/*"),
}

#: The same permission in the two ACR permission modes (legacy roles vs repository ABAC).
_EQUIVALENT: dict[str, tuple[str, ...]] = {
    f"{_ACR}/repositories/content/read": (f"{_ACR}/pull/read",),
    f"{_ACR}/repositories/metadata/read": (f"{_ACR}/pull/read",),
    f"{_ACR}/catalog/read": (f"{_ACR}/pull/read",),
    f"{_ACR}/repositories/content/write": (f"{_ACR}/push/write",),
    f"{_ACR}/repositories/metadata/write": (f"{_ACR}/push/write",),
    f"{_ACR}/repositories/content/delete": (f"{_ACR}/artifacts/delete",),
    f"{_ACR}/repositories/metadata/delete": (f"{_ACR}/artifacts/delete",),
    f"{_ACR}/pull/read": (f"{_ACR}/repositories/content/read",),
    f"{_ACR}/push/write": (f"{_ACR}/repositories/content/write",),
    f"{_ACR}/artifacts/delete": (f"{_ACR}/repositories/content/delete",),
    f"{_ACR}/quarantinedArtifacts/read": (f"{_ACR}/quarantine/read",),
    f"{_ACR}/quarantinedArtifacts/write": (f"{_ACR}/quarantine/write",),
    f"{_ACR}/quarantine/read": (f"{_ACR}/quarantinedArtifacts/read",),
    f"{_ACR}/quarantine/write": (f"{_ACR}/quarantinedArtifacts/write",),
}


def known_role(world: World, role: str) -> bool:
    return role in BUILTIN_ROLES or role in world.identity.custom_roles


def role_actions(world: World, role: str) -> tuple[str, ...]:
    if role in world.identity.custom_roles:
        return tuple(world.identity.custom_roles[role])
    return BUILTIN_ROLES.get(role, ())


def is_allowed(world: World, scope_id: str, action: str, principal: str | None = None) -> bool:
    """Whether the identity may perform ``action`` on the resource (or scope) ``scope_id``.

    ``principal`` is the caller's object id (a token's ``sub``); None is the app's identity.
    """
    identity = world.principal(principal)
    if identity is None:
        return False
    if identity is world.identity and not identity.roles:
        return True
    wanted = (action, *_EQUIVALENT.get(action, ()))
    target = scope_id.rstrip("/").lower()
    for assignment in identity.roles:
        scope = assignment.scope.rstrip("/").lower()
        if target != scope and not target.startswith(scope + "/"):
            continue
        for pattern in role_actions(world, assignment.role):
            regex = _compile(pattern)
            if any(regex.match(candidate) for candidate in wanted):
                return True
    return False


def check_action(world: World, scope_id: str, action: str, principal: str | None = None) -> None:
    """Raise Azure's 403 ``AuthorizationFailed`` unless a role assignment grants ``action``."""
    if is_allowed(world, scope_id, action, principal):
        return
    identity = world.principal(principal)
    client = identity.client_id if identity is not None else "unknown"
    object_id = identity.principal_id if identity is not None else principal
    raise SandboxHTTPError(
        403,
        "AuthorizationFailed",
        f"The client '{client}' with object id '{object_id}' does not have "
        f"authorization to perform action '{action}' over scope '{scope_id}' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials.",
    )


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    """Azure action wildcards: ``*`` matches any run of characters; case-insensitive."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)
