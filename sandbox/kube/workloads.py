"""Changing workloads: PATCH and PUT of deployments, statefulsets, daemonsets and
cronjobs, and the ``/scale`` subresource of the scalable ones.

Every write is conditional the way the apiserver makes it: a resourceVersion in the
body (a PUT, or a patch that sets ``metadata.resourceVersion``) must equal the stored
one or the write fails with 409 Conflict, so that callers exercise read-again-and-retry.
A successful write bumps the cluster's resourceVersion and the object's generation.
The sandbox has no controllers; instead the workload's status converges at once to
its new spec, which is what a settled cluster would show.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.kube.controllers import reconcile_workload
from sandbox.kube.kinds import KubeKind
from sandbox.kube.objects import ClusterView, read_object, store_key, with_type
from sandbox.kube.patching import apply_patch
from sandbox.kube.status import KubeStatusError, bad_request

_IMMUTABLE_META = ("uid", "creationTimestamp", "generation", "resourceVersion")


def parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch or body: {exc}") from exc


def conflict(kind: KubeKind, name: str) -> KubeStatusError:
    return KubeStatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details={"name": name, "group": kind.group, "kind": kind.plural},
    )


def _invalid(kind: KubeKind, name: str, field: str, value: Any, why: str) -> KubeStatusError:
    return KubeStatusError(
        422,
        "Invalid",
        f'{kind.kind}.{kind.group} "{name}" is invalid: {field}: Invalid value: {json.dumps(value)}: {why}',
        details={
            "name": name,
            "group": kind.group,
            "kind": kind.kind,
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {json.dumps(value)}: {why}",
                    "field": field,
                }
            ],
        },
    )


def _selector_text(obj: dict[str, Any]) -> str:
    match = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(match.items()))


def scale_of(kind: KubeKind, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a deployment or statefulset."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {"replicas": obj.get("status", {}).get("replicas", 0), "selector": _selector_text(obj)},
    }


def _check_identity(kind: KubeKind, proposed: dict[str, Any], namespace: str, name: str) -> None:
    meta = proposed.get("metadata")
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if meta.get("name", name) != name:
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
        )
    if meta.get("namespace", namespace) != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def _check_replicas(kind: KubeKind, name: str, spec: Any, field: str) -> None:
    if not isinstance(spec, dict) or "replicas" not in spec:
        return
    replicas = spec["replicas"]
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise bad_request(
            f"json: cannot unmarshal {type(replicas).__name__} into Go struct field {field} of type int32"
        )
    if replicas < 0:
        raise _invalid(kind, name, field, replicas, "must be greater than or equal to 0")


def _store(
    view: ClusterView, kind: KubeKind, namespace: str, name: str, new: dict[str, Any]
) -> dict[str, Any]:
    """Commit ``new`` in place of the stored object: new resourceVersion and generation."""
    kube = view.cluster().kube
    key = store_key(kind, namespace, name)
    old = kind.objects(kube)[key]
    kube.resource_version += 1
    meta = new["metadata"]
    for field in _IMMUTABLE_META:
        if field in old["metadata"]:
            meta[field] = old["metadata"][field]
    meta["resourceVersion"] = str(kube.resource_version)
    if new.get("spec") != old.get("spec"):
        meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
    # The main resource never writes status; the controller does, from the pods it made.
    new["status"] = copy.deepcopy(old.get("status", {}))
    for typed in ("apiVersion", "kind"):
        if typed not in old:
            new.pop(typed, None)
    kind.objects(kube)[key] = new
    reconcile_workload(view.cluster(), kind.plural, new, view.world.now())
    return new


def _check_version(kind: KubeKind, name: str, proposed: dict[str, Any], current: dict[str, Any]) -> None:
    wanted = proposed.get("metadata", {}).get("resourceVersion")
    if wanted not in (None, "") and str(wanted) != current["metadata"]["resourceVersion"]:
        raise conflict(kind, name)


def patch_workload(
    view: ClusterView, kind: KubeKind, namespace: str, name: str, raw: bytes, content_type: str
) -> dict[str, Any]:
    patch = parse_body(raw)
    with view.world.lock:
        current = read_object(view, kind, namespace, name)
        proposed = apply_patch(with_type(kind, current), patch, content_type)
        _check_identity(kind, proposed, namespace, name)
        _check_version(kind, name, proposed, current)
        _check_replicas(kind, name, proposed.get("spec"), "spec.replicas")
        return with_type(kind, _store(view, kind, namespace, name, proposed))


def replace_workload(
    view: ClusterView, kind: KubeKind, namespace: str, name: str, raw: bytes
) -> dict[str, Any]:
    proposed = parse_body(raw)
    if not isinstance(proposed, dict):
        raise bad_request("the body of a PUT must be an object")
    with view.world.lock:
        current = read_object(view, kind, namespace, name)
        proposed.setdefault("metadata", {})
        _check_identity(kind, proposed, namespace, name)
        _check_version(kind, name, proposed, current)
        _check_replicas(kind, name, proposed.get("spec"), "spec.replicas")
        return with_type(kind, _store(view, kind, namespace, name, copy.deepcopy(proposed)))


def read_scale(view: ClusterView, kind: KubeKind, namespace: str, name: str) -> dict[str, Any]:
    with view.world.lock:
        return scale_of(kind, read_object(view, kind, namespace, name))


def write_scale(
    view: ClusterView, kind: KubeKind, namespace: str, name: str, raw: bytes, content_type: str | None
) -> dict[str, Any]:
    """PATCH (``content_type`` given) or PUT of the Scale; only spec.replicas is taken."""
    body = parse_body(raw)
    with view.world.lock:
        current = read_object(view, kind, namespace, name)
        scale = scale_of(kind, current)
        if content_type is None:
            if not isinstance(body, dict):
                raise bad_request("the body of a PUT must be an object")
            proposed = body
            proposed.setdefault("metadata", {})
        else:
            proposed = apply_patch(scale, body, content_type)
        _check_identity(kind, proposed, namespace, name)
        _check_version(kind, name, proposed, current)
        _check_replicas(kind, name, proposed.get("spec"), "spec.replicas")
        replicas = (proposed.get("spec") or {}).get("replicas", scale["spec"]["replicas"])
        new = copy.deepcopy(current)
        new.setdefault("spec", {})["replicas"] = replicas
        return scale_of(kind, _store(view, kind, namespace, name, new))
