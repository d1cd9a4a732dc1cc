"""Who may call the cluster's API: AKS AAD tokens, and Azure RBAC for Kubernetes.

AKS-managed AAD clusters accept only tokens for the AKS AAD server application
(audience ``6dae42f8-…``). With Azure RBAC enabled, the apiserver's authorizer asks
Azure whether the caller's role assignments grant the data action of the request
(``Microsoft.ContainerService/managedClusters/apps/deployments/write`` for a deployment
patch, ``…/pods/read`` for a pod list) and answers 403 Forbidden in Kubernetes' words
when they do not. The sandbox asks :func:`sandbox.authz.is_allowed` the same question.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.authz import is_allowed
from sandbox.http import AKS_AUDIENCE, require_bearer
from sandbox.kube.kinds import KubeKind
from sandbox.kube.status import KubeStatusError
from sandbox.world import Cluster, World

_VERB_ACTIONS = {"get": "read", "list": "read", "watch": "read", "patch": "write", "update": "write"}


def authenticate(request: Request, *, public: bool) -> dict[str, Any] | None:
    """The token's claims. Anonymous callers may read the public paths only
    (``system:public-info-viewer`` on AKS); a presented token must be valid."""
    if public and "authorization" not in request.headers:
        return None
    return require_bearer(request, audience=AKS_AUDIENCE)


def data_action(kind: KubeKind, verb: str) -> str:
    resource = f"{kind.group}/{kind.plural}" if kind.group else kind.plural
    return f"Microsoft.ContainerService/managedClusters/{resource}/{_VERB_ACTIONS[verb]}"


def authorize(
    world: World,
    cluster: Cluster,
    claims: dict[str, Any] | None,
    *,
    kind: KubeKind,
    verb: str,
    namespace: str | None,
    name: str | None = None,
    subresource: str | None = None,
) -> None:
    """403 Forbidden, as AKS's Azure RBAC webhook answers, unless a role grants the action."""
    if not cluster.azure_rbac or is_allowed(world, cluster.id, data_action(kind, verb)):
        return
    user = (claims or {}).get("oid", "system:anonymous")
    resource = f"{kind.plural}/{subresource}" if subresource else kind.plural
    subject = f'{kind.qualified} "{name}"' if name else kind.qualified
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    raise KubeStatusError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
        f'"{kind.group}" {where}: User does not have access to the resource in Azure. '
        "Update role assignment to allow access.",
        details={"name": name or "", "group": kind.group, "kind": kind.plural},
    )
