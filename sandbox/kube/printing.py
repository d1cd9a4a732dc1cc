"""Server-side printing: lists and objects as ``meta.k8s.io/v1`` Tables.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns the server chose, so without this a ``kubectl get pods`` shows NAME and AGE
only. The columns, their order, priorities and cell formats follow the apiserver's
printers (kubernetes ``pkg/printers/internalversion/printers.go``): priority-0 columns
are the default view, priority-1 columns appear with ``-o wide``. Ages are formatted
as ``duration.HumanDuration`` does (``k8s.io/apimachinery/pkg/util/duration``).

Every row carries the object as ``PartialObjectMetadata`` (the default
``includeObject=Metadata``), the whole object for ``includeObject=Object``, or nothing
for ``None``, as the apiserver does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sandbox.kube.status import bad_request

Row = list[Any]
Column = tuple[str, str, int, str]  # name, type, priority, format

_NONE = "<none>"
_TABLE_MEDIA = ("as=table", "g=meta.k8s.io")


def wants_table(accept: str) -> bool:
    """True when the first acceptable media type the client lists is a v1 Table."""
    for part in accept.split(","):
        params = [p.strip().lower().replace(" ", "") for p in part.split(";")]
        if all(media in params for media in _TABLE_MEDIA):
            if "v=v1" in params:
                return True
            continue  # v1beta1 Tables are no longer served: try the next media type
        return False
    return False


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration``: 45s, 5m30s, 3h20m, 2d4h, 400d, 2y10d."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _since(text: str | None, now: datetime) -> str:
    moment = _parse_time(text)
    return "<unknown>" if moment is None else human_duration((now - moment).total_seconds())


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


def _containers(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    if obj.get("kind") == "CronJob" or "jobTemplate" in spec:
        spec = spec.get("jobTemplate", {}).get("spec", {})
    containers: list[dict[str, Any]] = spec.get("template", {}).get("spec", {}).get("containers", [])
    return containers


def _names_and_images(obj: Mapping[str, Any]) -> list[str]:
    containers = _containers(obj)
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _selector(obj: Mapping[str, Any]) -> str:
    selector = obj.get("spec", {}).get("selector")
    if not selector:
        return _NONE
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    parts = [f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)]
    for expression in selector.get("matchExpressions", []) if isinstance(selector, dict) else []:
        values = ",".join(expression.get("values", []))
        parts.append(f"{expression.get('key')} {expression.get('operator', '').lower()} ({values})")
    return ",".join(parts) or _NONE


def _pod_status(pod: Mapping[str, Any]) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: Mapping[str, Any], now: datetime) -> Row:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses", [])
    total = len(pod.get("spec", {}).get("containers", []))
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        str(restarts),
        _age(pod, now),
        status.get("podIP") or _NONE,
        pod.get("spec", {}).get("nodeName") or _NONE,
        status.get("nominatedNodeName") or _NONE,
        _NONE,
    ]


def _node_roles(labels: Mapping[str, str]) -> str:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role":
            roles.add(value)
    return ",".join(sorted(r for r in roles if r)) or _NONE


def _node_row(node: Mapping[str, Any], now: datetime) -> Row:
    status = node.get("status", {})
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    state = (
        "Unknown" if ready is None else {"True": "Ready", "False": "NotReady"}.get(ready["status"], "Unknown")
    )
    if node.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses", [])}
    info = status.get("nodeInfo", {})
    return [
        node["metadata"]["name"],
        state,
        _node_roles(node["metadata"].get("labels", {})),
        _age(node, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or _NONE,
        addresses.get("ExternalIP") or _NONE,
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


def _namespace_row(obj: Mapping[str, Any], now: datetime) -> Row:
    return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""), _age(obj, now)]


def _deployment_row(obj: Mapping[str, Any], now: datetime) -> Row:
    status = obj.get("status", {})
    desired = obj.get("spec", {}).get("replicas", 1)
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{desired}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        *_names_and_images(obj),
        _selector(obj),
    ]


def _replica_set_row(obj: Mapping[str, Any], now: datetime) -> Row:
    status = obj.get("status", {})
    return [
        obj["metadata"]["name"],
        obj.get("spec", {}).get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        *_names_and_images(obj),
        _selector(obj),
    ]


def _stateful_set_row(obj: Mapping[str, Any], now: datetime) -> Row:
    status = obj.get("status", {})
    desired = obj.get("spec", {}).get("replicas", 1)
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{desired}",
        _age(obj, now),
        *_names_and_images(obj),
    ]


def _daemon_set_row(obj: Mapping[str, Any], now: datetime) -> Row:
    status = obj.get("status", {})
    node_selector = obj.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector") or {}
    return [
        obj["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or _NONE,
        _age(obj, now),
        *_names_and_images(obj),
        _selector(obj),
    ]


def _job_row(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    completions = spec.get("completions")
    succeeded = status.get("succeeded", 0)
    shown = (
        f"{succeeded}/{completions}"
        if completions is not None
        else f"{succeeded}/1 of {spec.get('parallelism', 1)}"
    )
    start, end = _parse_time(status.get("startTime")), _parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration(((end or now) - start).total_seconds())
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
    state = (
        "Complete"
        if conditions.get("Complete") == "True"
        else "Failed"
        if conditions.get("Failed") == "True"
        else "Running"
    )
    if spec.get("suspend"):
        state = "Suspended"
    return [
        obj["metadata"]["name"],
        state,
        shown,
        duration,
        _age(obj, now),
        *_names_and_images(obj),
        _selector(obj),
    ]


def _cron_job_row(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    last = status.get("lastScheduleTime")
    return [
        obj["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or _NONE,
        "True" if spec.get("suspend") else "False",
        len(status.get("active", [])),
        _since(last, now) if last else _NONE,
        _age(obj, now),
        *_names_and_images(obj),
        _selector(obj),
    ]


def _event_row(obj: Mapping[str, Any], now: datetime) -> Row:
    involved = obj.get("involvedObject", {})
    last = obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    first = obj.get("firstTimestamp") or last
    source = obj.get("source", {})
    return [
        _since(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        obj.get("message", ""),
        _since(first, now),
        obj.get("count", 1),
        obj["metadata"]["name"],
    ]


def _service_row(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    ingress = status.get("loadBalancer", {}).get("ingress", [])
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if not external:
        external = ",".join(spec.get("externalIPs", [])) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else _NONE
        )
    ports = []
    for port in spec.get("ports", []):
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    selector = spec.get("selector") or {}
    return [
        obj["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or _NONE,
        external,
        ",".join(ports) or _NONE,
        _age(obj, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or _NONE,
    ]


def _config_map_row(obj: Mapping[str, Any], now: datetime) -> Row:
    count = len(obj.get("data", {}) or {}) + len(obj.get("binaryData", {}) or {})
    return [obj["metadata"]["name"], count, _age(obj, now)]


_NAME: Column = ("Name", "string", 0, "name")
_AGE: Column = ("Age", "string", 0, "")
_CONTAINERS: tuple[Column, ...] = (("Containers", "string", 1, ""), ("Images", "string", 1, ""))
_SELECTOR: Column = ("Selector", "string", 1, "")
# ReplicaSets and ReplicationControllers print alike.
_REPLICATED: tuple[Column, ...] = (
    _NAME,
    ("Desired", "integer", 0, ""),
    ("Current", "integer", 0, ""),
    ("Ready", "integer", 0, ""),
    _AGE,
    *_CONTAINERS,
    _SELECTOR,
)

PRINTERS: dict[str, tuple[tuple[Column, ...], Callable[[Mapping[str, Any], datetime], Row]]] = {
    "pods": (
        (
            _NAME,
            ("Ready", "string", 0, ""),
            ("Status", "string", 0, ""),
            ("Restarts", "string", 0, ""),
            _AGE,
            ("IP", "string", 1, ""),
            ("Node", "string", 1, ""),
            ("Nominated Node", "string", 1, ""),
            ("Readiness Gates", "string", 1, ""),
        ),
        _pod_row,
    ),
    "nodes": (
        (
            _NAME,
            ("Status", "string", 0, ""),
            ("Roles", "string", 0, ""),
            _AGE,
            ("Version", "string", 0, ""),
            ("Internal-IP", "string", 1, ""),
            ("External-IP", "string", 1, ""),
            ("OS-Image", "string", 1, ""),
            ("Kernel-Version", "string", 1, ""),
            ("Container-Runtime", "string", 1, ""),
        ),
        _node_row,
    ),
    "namespaces": ((_NAME, ("Status", "string", 0, ""), _AGE), _namespace_row),
    "deployments": (
        (
            _NAME,
            ("Ready", "string", 0, ""),
            ("Up-to-date", "integer", 0, ""),
            ("Available", "integer", 0, ""),
            _AGE,
            *_CONTAINERS,
            _SELECTOR,
        ),
        _deployment_row,
    ),
    "replicasets": (_REPLICATED, _replica_set_row),
    "statefulsets": ((_NAME, ("Ready", "string", 0, ""), _AGE, *_CONTAINERS), _stateful_set_row),
    "daemonsets": (
        (
            _NAME,
            ("Desired", "integer", 0, ""),
            ("Current", "integer", 0, ""),
            ("Ready", "integer", 0, ""),
            ("Up-to-date", "integer", 0, ""),
            ("Available", "integer", 0, ""),
            ("Node Selector", "string", 0, ""),
            _AGE,
            *_CONTAINERS,
            _SELECTOR,
        ),
        _daemon_set_row,
    ),
    "jobs": (
        (
            _NAME,
            ("Status", "string", 0, ""),
            ("Completions", "string", 0, ""),
            ("Duration", "string", 0, ""),
            _AGE,
            *_CONTAINERS,
            _SELECTOR,
        ),
        _job_row,
    ),
    "cronjobs": (
        (
            _NAME,
            ("Schedule", "string", 0, ""),
            ("Timezone", "string", 0, ""),
            ("Suspend", "boolean", 0, ""),
            ("Active", "integer", 0, ""),
            ("Last Schedule", "string", 0, ""),
            _AGE,
            *_CONTAINERS,
            _SELECTOR,
        ),
        _cron_job_row,
    ),
    "events": (
        (
            ("Last Seen", "string", 0, ""),
            ("Type", "string", 0, ""),
            ("Reason", "string", 0, ""),
            ("Object", "string", 0, ""),
            ("Subobject", "string", 1, ""),
            ("Source", "string", 1, ""),
            ("Message", "string", 0, ""),
            ("First Seen", "string", 1, ""),
            ("Count", "string", 1, ""),
            ("Name", "string", 1, ""),
        ),
        _event_row,
    ),
    "services": (
        (
            _NAME,
            ("Type", "string", 0, ""),
            ("Cluster-IP", "string", 0, ""),
            ("External-IP", "string", 0, ""),
            ("Port(s)", "string", 0, ""),
            _AGE,
            _SELECTOR,
        ),
        _service_row,
    ),
    "replicationcontrollers": (_REPLICATED, _replica_set_row),
    "configmaps": ((_NAME, ("Data", "string", 0, ""), _AGE), _config_map_row),
}


def _default_columns() -> tuple[tuple[Column, ...], Callable[[Mapping[str, Any], datetime], Row]]:
    """What the apiserver prints for a kind without a printer: name and age."""
    return (_NAME, ("Created At", "date", 0, "")), lambda obj, now: [
        obj["metadata"]["name"],
        obj["metadata"].get("creationTimestamp", ""),
    ]


def _row_object(obj: Mapping[str, Any], include: str, api_version: str, kind: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return {
            "apiVersion": api_version,
            "kind": kind,
            **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
        }
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def include_policy(params: Mapping[str, str]) -> str:
    """``includeObject``: None, Metadata (the default) or Object; anything else is a 400."""
    value = params.get("includeObject") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise bad_request(
            f'includeObject: Unsupported value: "{value}": supported values: "Metadata", "None", "Object"'
        )
    return value


def to_table(
    plural: str,
    objects: list[Mapping[str, Any]],
    *,
    metadata: Mapping[str, Any],
    now: datetime,
    include: str,
    api_version: str,
    kind: str,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``, keeping the list's resourceVersion and continue."""
    columns, printer = PRINTERS.get(plural) or _default_columns()
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        partial = _row_object(obj, include, api_version, kind)
        if partial is not None:
            row["object"] = partial
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(metadata),
        "columnDefinitions": [
            {"name": name, "type": type_, "format": format_, "description": name, "priority": priority}
            for name, type_, priority, format_ in columns
        ],
        "rows": rows,
    }
