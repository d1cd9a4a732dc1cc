"""``SelfSubjectAccessReview``: what ``kubectl auth can-i`` asks the apiserver.

With Azure RBAC for Kubernetes, AKS's authorization webhook answers from the caller's
Azure role assignments; the review answers the same question as every other request
(:func:`sandbox.kube.access.data_action` through :func:`sandbox.authz.is_allowed`), so
``can-i`` never disagrees with what a real call would get. A verb or resource the
sandbox does not serve is answered "not allowed" with the reason, never "allowed".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.authz import is_allowed
from sandbox.kube.access import data_action
from sandbox.kube.kinds import ALL_KINDS
from sandbox.kube.objects import ClusterView
from sandbox.kube.status import bad_request
from sandbox.kube.workloads import parse_body

_KINDS = {(k.group, k.plural): k for k in ALL_KINDS}
_API_VERSION = "authorization.k8s.io/v1"


def _decide(view: ClusterView, attributes: dict[str, Any]) -> tuple[bool, str]:
    cluster = view.cluster()
    group, resource = attributes.get("group", ""), attributes.get("resource", "")
    verb = attributes.get("verb", "")
    kind = _KINDS.get((group, resource))
    if kind is None or (verb not in kind.verbs and verb != "*"):
        return False, f'the sandbox API server does not serve "{verb}" on "{resource}" in group "{group}"'
    if not cluster.azure_rbac:
        return True, "no Azure RBAC for Kubernetes on this cluster: every authenticated caller is allowed"
    verbs = kind.verbs if verb == "*" else (verb,)
    if all(is_allowed(view.world, cluster.id, data_action(kind, v)) for v in verbs):
        return True, "allowed by an Azure role assignment"
    return (
        False,
        "User does not have access to the resource in Azure. Update role assignment to allow access.",
    )


def review_access(view: ClusterView, request: Request, raw: bytes) -> Response:
    body = parse_body(raw)
    if not isinstance(body, dict) or body.get("kind") not in (None, "SelfSubjectAccessReview"):
        raise bad_request("the body must be a SelfSubjectAccessReview")
    spec = body.get("spec") or {}
    attributes = spec.get("resourceAttributes")
    if not isinstance(attributes, dict):
        if spec.get("nonResourceAttributes") is not None:
            allowed, reason = True, "non-resource URLs are readable by every authenticated caller"
        else:
            raise bad_request(
                "SelfSubjectAccessReview.authorization.k8s.io is invalid: spec.resourceAttributes: "
                "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified"
            )
    else:
        allowed, reason = _decide(view, attributes)
    status: dict[str, Any] = {"allowed": allowed, "reason": reason}
    if not allowed:
        status["denied"] = False  # "no opinion" from the authorizer, as RBAC answers
    answer = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": _API_VERSION,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
    return JSONResponse(answer, status_code=201)
