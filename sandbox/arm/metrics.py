"""Azure Monitor platform metrics (``{resourceUri}/providers/Microsoft.Insights/metrics``) for the
SNAT metrics of AKS's outbound load balancers and NAT gateways.

Values are not stored: they derive from the estate at the time of the request, so that a
test or the demo changes them by changing the estate (``snatPortsWantedPerNode`` through
``POST /_sandbox/signals``) or through the AKS API (more ports, more IPs). Per node
(backend IP, the node's InternalIP):

- ``AllocatedSnatPorts`` (Average): ``allocatedOutboundPorts``, or with 0 the default
  tier for the backend pool's size (1,024 ports per node up to 50 nodes, then 512,
  256, 128, 64, 32);
- ``UsedSnatPorts`` (Average): min(wanted, allocated);
- ``SnatConnectionCount`` (Total) by ``ConnectionState``: ``Successful`` = used,
  ``Failed`` = wanted - allocated when positive.

A NAT gateway shares 64,512 ports per IP among all nodes: ``SNATConnectionCount`` by
``ConnectionState`` (``Attempted``, ``Failed``) and ``PacketDropCount``.

Filters take ``Dim eq 'value'`` terms joined by ``and`` (``'*'`` splits by that
dimension); anything else is refused with 400, never ignored. Shape: the REST API specs'
``GetMetric`` example (api-version 2024-02-01).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from sandbox.arm.network import clusters_in_node_group
from sandbox.arm.routing import ArmCall, arm_route, ok
from sandbox.authz import check_action
from sandbox.http import SandboxHTTPError
from sandbox.world import Cluster

_TIERS = ((50, 1024), (100, 512), (200, 256), (400, 128), (800, 64), (1000, 32))
NAT_PORTS_PER_IP = 64_512
_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^P(?:T(?:(\d+)H)?(?:(\d+)M)?)?$|^P(\d+)D$")

# metric → (aggregation, dimensions, description, unit)
_LB_METRICS = {
    "SnatConnectionCount": ("Total", ("BackendIPAddress", "ConnectionState"), "SNAT Connection Count"),
    "AllocatedSnatPorts": ("Average", ("BackendIPAddress",), "Allocated SNAT Ports"),
    "UsedSnatPorts": ("Average", ("BackendIPAddress",), "Used SNAT Ports"),
}
_NAT_METRICS = {
    "SNATConnectionCount": ("Total", ("ConnectionState",), "SNAT Connection Count"),
    "PacketDropCount": ("Total", (), "Dropped Packets"),
}


def dynamic_ports(backends: int) -> int:
    """The default ports per node of a load balancer whose backend pool has ``backends`` nodes."""
    for limit, ports in _TIERS:
        if backends <= limit:
            return ports
    return 0


def backend_ips(cluster: Cluster) -> list[str]:
    out = []
    for node in cluster.kube.nodes.values():
        for address in node.get("status", {}).get("addresses", []):
            if address.get("type") == "InternalIP":
                out.append(address["address"])
    return out


def _lb_series(cluster: Cluster, metric: str) -> list[tuple[dict[str, str], float]]:
    """(dimension values, value) for each backend (and connection state)."""
    ips = backend_ips(cluster)
    net = cluster.network
    allocated = net.allocated_outbound_ports or dynamic_ports(len(ips))
    wanted = cluster.snat_ports_wanted_per_node
    used = min(wanted, allocated)
    failed = max(0, wanted - allocated)
    out: list[tuple[dict[str, str], float]] = []
    for ip in ips:
        if metric == "AllocatedSnatPorts":
            out.append(({"BackendIPAddress": ip}, float(allocated)))
        elif metric == "UsedSnatPorts":
            out.append(({"BackendIPAddress": ip}, float(used)))
        else:
            out.append(({"BackendIPAddress": ip, "ConnectionState": "Successful"}, float(used)))
            out.append(({"BackendIPAddress": ip, "ConnectionState": "Failed"}, float(failed)))
    return out


def _nat_series(cluster: Cluster, metric: str) -> list[tuple[dict[str, str], float]]:
    wanted = cluster.snat_ports_wanted_per_node * len(backend_ips(cluster))
    capacity = NAT_PORTS_PER_IP * cluster.network.nat_gateway_ip_count
    failed = float(max(0, wanted - capacity))
    if metric == "PacketDropCount":
        return [({}, failed)]
    return [({"ConnectionState": "Attempted"}, float(wanted)), ({"ConnectionState": "Failed"}, failed)]


def _parse_filter(text: str | None, known: tuple[str, ...], metric: str) -> dict[str, str]:
    if not text:
        return {}
    terms: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _TERM.match(part)
        if match is None:
            raise SandboxHTTPError(
                400,
                "BadRequest",
                f"The sandbox supports $filter terms like \"Dim eq 'value'\" joined by and, not {part!r}.",
            )
        name = next((k for k in known if k.lower() == match.group(1).lower()), None)
        if name is None:
            raise SandboxHTTPError(
                400,
                "BadRequest",
                f"Metric: {metric} does not support requested dimension combination: {match.group(1)}, "
                f"supported ones are: {','.join(known)}",
            )
        terms[name] = match.group(2)
    return terms


def _timespan(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    if not text:
        return now - timedelta(hours=1), now
    start_text, sep, end_text = text.partition("/")
    try:
        if sep:
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
            end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
            return start.astimezone(UTC), end.astimezone(UTC)
    except ValueError:
        pass
    raise SandboxHTTPError(400, "BadRequest", f"Invalid timespan {text!r}: expected start/end in ISO 8601.")


def _interval(text: str | None) -> timedelta:
    match = _DURATION.match(text or "PT1M")
    if match is None or not any(match.groups()):
        raise SandboxHTTPError(
            400, "BadRequest", f"Invalid interval {text!r}: expected PT1M, PT5M, PT1H or P1D."
        )
    hours, minutes, days = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _group(
    series: list[tuple[dict[str, str], float]], terms: dict[str, str], aggregation: str
) -> list[tuple[dict[str, str], float]]:
    """Keep what the filter asks for; split by '*' dimensions; aggregate over the rest."""
    split = [k for k, v in terms.items() if v == "*"]
    kept = [
        (dims, value)
        for dims, value in series
        if all(v == "*" or dims.get(k, "").lower() == v.lower() for k, v in terms.items())
    ]
    groups: dict[tuple[str, ...], list[float]] = {}
    for dims, value in kept:
        groups.setdefault(tuple(dims.get(k, "") for k in split), []).append(value)
    out = []
    for key, values in groups.items():
        total = sum(values)
        out.append(
            (dict(zip(split, key, strict=True)), total if aggregation == "Total" else total / len(values))
        )
    return out


@arm_route(
    "GET",
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/{resourceType}"
    "/{resourceName}/providers/Microsoft.Insights/metrics",
    "metrics.list",
)
async def list_metrics(call: ArmCall) -> Response:
    kind = call.params["resourceType"].lower()
    name = call.params["resourceName"].lower()
    catalog = {"loadbalancers": _LB_METRICS, "natgateways": _NAT_METRICS}.get(kind)
    if catalog is None:
        raise SandboxHTTPError(
            400,
            "UnsupportedBySandbox",
            f"The sandbox serves metrics of loadBalancers and natGateways, not {kind}.",
        )
    wanted_type = "loadBalancer" if kind == "loadbalancers" else "managedNATGateway"
    wanted_name = "kubernetes" if kind == "loadbalancers" else "kubernetes-natgw"
    clusters = [c for c in clusters_in_node_group(call) if c.network.outbound_type == wanted_type]
    if not clusters or name != wanted_name:
        raise SandboxHTTPError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Network/{call.params['resourceType']}/{call.params['resourceName']}' "
            f"under resource group '{call.params['resourceGroupName']}' was not found.",
        )
    cluster = clusters[0]
    resource = call.request.url.path.split("/providers/Microsoft.Insights/", 1)[0]
    resource = re.sub(r"/providers/microsoft\.insights/.*$", "", resource, flags=re.IGNORECASE)
    check_action(call.world, resource, "Microsoft.Insights/metrics/read")
    query = call.request.query_params
    names = [n.strip() for n in (query.get("metricnames") or "").split(",") if n.strip()]
    if not names:
        raise SandboxHTTPError(400, "BadRequest", "metricnames is required by the sandbox.")
    now = call.world.now()
    start, end = _timespan(query.get("timespan"), now)
    step = _interval(query.get("interval"))
    stamps = []
    moment = start
    while moment < end and len(stamps) < 1440:
        stamps.append(moment)
        moment += step
    value = []
    for metric in names:
        entry = next((k for k in catalog if k.lower() == metric.lower()), None)
        if entry is None:
            raise SandboxHTTPError(
                400,
                "BadRequest",
                f"Failed to find metric configuration for provider: Microsoft.Network, resource type: "
                f"{call.params['resourceType']}, metric: {metric}, Valid metrics: {','.join(catalog)}",
            )
        aggregation, dims, label = catalog[entry]
        terms = _parse_filter(query.get("$filter"), dims, entry)
        raw = _lb_series(cluster, entry) if kind == "loadbalancers" else _nat_series(cluster, entry)
        key = aggregation.lower()
        timeseries = [
            {
                "metadatavalues": [
                    {"name": {"value": k.lower(), "localizedValue": k.lower()}, "value": v}
                    for k, v in dims_of.items()
                ],
                "data": [{"timeStamp": s.strftime("%Y-%m-%dT%H:%M:%SZ"), key: number} for s in stamps],
            }
            for dims_of, number in _group(raw, terms, aggregation)
        ]
        value.append(
            {
                "id": f"{resource}/providers/Microsoft.Insights/metrics/{entry}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": entry, "localizedValue": label},
                "displayDescription": f"{label} of the resource.",
                "unit": "Count",
                "timeseries": timeseries,
                "errorCode": "Success",
            }
        )
    body: dict[str, Any] = {
        "cost": len(stamps) * len(names),
        "timespan": f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/{end.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "interval": query.get("interval") or "PT1M",
        "value": value,
        "namespace": f"Microsoft.Network/{call.params['resourceType']}",
        "resourceregion": cluster.location,
    }
    return ok(body)
