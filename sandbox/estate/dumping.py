"""The current World, written back in the estate-file format.

``ops sandbox state`` prints this, so a state can be saved and loaded again:
``load_estate(dump_estate(world))`` gives an equivalent World (the tests check that
dump → load → dump is a fixpoint). Times are written absolute; everything that was
generated (manifests, nodes, controller pods) is written out explicitly; a manifest's
``content`` is written only when its fields do not regenerate the exact bytes (for
example an image pushed by a real client). A deployment's ReplicaSets are written as
its ``history`` (the current one is made again from the deployment itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.estate import manifests as oci
from sandbox.estate.images import default_image_id, estate_image
from sandbox.estate.kubeobjects import REVISION, template_hash
from sandbox.failover.estate import dump_failover
from sandbox.world import Attributes, Cluster, Identity, Manifest, Registry, Repository, World

_DEFAULT_ATTRS = Attributes()
_NODE_LABELS = frozenset(
    {
        "agentpool",
        "kubernetes.azure.com/agentpool",
        "kubernetes.azure.com/mode",
        "kubernetes.azure.com/cluster",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "kubernetes.io/hostname",
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)


def dump_estate(world: World) -> dict[str, Any]:
    from sandbox.estate.networks import dump_networks, dump_quotas

    with world.lock:
        return {
            "settings": _settings(world.settings),
            "subscriptions": [
                {
                    "id": sub.id,
                    "name": sub.name,
                    "resourceGroups": [
                        {"name": n, "location": loc} for n, loc in sub.resource_groups.items()
                    ],
                }
                for sub in world.subscriptions.values()
            ],
            "identity": _identity(world.identity),
            "identities": [_identity(identity) for identity in world.identities],
            "registries": [_registry(registry) for registry in world.registries.values()],
            "findings": [_finding(world, finding) for finding in world.findings],
            "clusters": [_cluster(world, cluster) for cluster in world.clusters.values()],
            "virtualNetworks": dump_networks(world),
            "quotas": dump_quotas(world),
            "faults": [fault.to_dict() for fault in world.faults],
            **({"failover": failover} if (failover := dump_failover(world)) is not None else {}),
        }


def _time(moment: datetime) -> str:
    return moment.isoformat()


def _attrs(attrs: Attributes) -> dict[str, bool] | None:
    if attrs == _DEFAULT_ATTRS:
        return None
    return attrs.to_dict()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k) if k[:1].islower() else k: _camel_keys(v) for k, v in value.items()}
    return value


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "lro_seconds",
        "throttling",
        "arm_page_size",
        "seed",
        "request_log_limit",
        "unreadable_subject_referrers",
        "defender_reads_locked_manifests",
    )
    out = {_camel(key): settings[key] for key in keys if key in settings}
    if settings.get("limits"):
        out["limits"] = _camel_keys(settings["limits"])
    return out


def _identity(identity: Identity) -> dict[str, Any]:
    return {
        "clientId": identity.client_id,
        "principalId": identity.principal_id,
        "tenantId": identity.tenant_id,
        "roles": [{"role": r.role, "scope": r.scope} for r in identity.roles],
        "customRoles": [
            {"name": name, "actions": list(actions)} for name, actions in identity.custom_roles.items()
        ],
    }


def _registry(registry: Registry) -> dict[str, Any]:
    return {
        "name": registry.name,
        "subscription": registry.subscription,
        "resourceGroup": registry.resource_group,
        "location": registry.location,
        "sku": registry.sku,
        "quarantineEnabled": registry.quarantine_enabled,
        "adminUserEnabled": registry.admin_user_enabled,
        "dataEndpointEnabled": registry.data_endpoint_enabled,
        "tags": dict(registry.tags),
        "created": _time(registry.created),
        "replications": [
            {
                "name": rep.name,
                "location": rep.location,
                "regionEndpointEnabled": rep.region_endpoint_enabled,
                "status": rep.status,
                "zoneRedundancy": rep.zone_redundancy,
            }
            for rep in registry.replications.values()
        ],
        "repositories": [_repository(repo) for repo in registry.repositories.values()],
    }


def _repository(repo: Repository) -> dict[str, Any]:
    tags_by_digest: dict[str, list[Any]] = {}
    for tag in repo.tags.values():
        manifest = repo.manifests.get(tag.digest)
        plain = (
            manifest is not None
            and tag.created == manifest.created
            and tag.updated == manifest.updated
            and tag.attrs == _DEFAULT_ATTRS
        )
        entry: Any = tag.name
        if not plain:
            entry = {"name": tag.name, "created": _time(tag.created), "updated": _time(tag.updated)}
            if (attrs := _attrs(tag.attrs)) is not None:
                entry["attributes"] = attrs
        tags_by_digest.setdefault(tag.digest, []).append(entry)
    out: dict[str, Any] = {
        "name": repo.name,
        "created": _time(repo.created),
        "updated": _time(repo.updated),
        "manifests": [_manifest(repo, m, tags_by_digest.get(m.digest, [])) for m in repo.manifests.values()],
    }
    if (attrs := _attrs(repo.attrs)) is not None:
        out["attributes"] = attrs
    return out


def _manifest(repo: Repository, manifest: Manifest, tags: list[Any]) -> dict[str, Any]:
    if manifest.media_type in oci.INDEX_TYPES:
        kind = "index"
    elif manifest.artifact_type:
        kind = "artifact"
    else:
        kind = "image"
    out: dict[str, Any] = {"kind": kind, "digest": manifest.digest}
    default_type = {"index": oci.OCI_INDEX}.get(kind, oci.OCI_MANIFEST)
    if manifest.media_type != default_type:
        out["mediaType"] = manifest.media_type
    if tags:
        out["tags"] = tags
    out["created"] = _time(manifest.created)
    out["updated"] = _time(manifest.updated)
    if kind == "image" and manifest.os and manifest.architecture:
        out["platform"] = f"{manifest.os}/{manifest.architecture}"
    rendered = _render(repo, manifest, kind)
    if rendered != manifest.content or (kind != "index" and not manifest.layers):
        # (the loader gives a manifest without layers default layers, so keep the bytes)
        out["content"] = manifest.content.decode()
    else:
        if kind == "index":
            out["children"] = list(manifest.children)
        if kind in ("image", "artifact"):
            out["layers"] = [{"digest": d, "size": s} for d, s in manifest.layers]
        if kind == "image" and manifest.config:
            out["config"] = {"digest": manifest.config[0], "size": manifest.config[1]}
        if kind == "artifact":
            out["artifactType"] = manifest.artifact_type
            if manifest.subject:
                out["subject"] = manifest.subject
        if manifest.annotations:
            out["annotations"] = dict(manifest.annotations)
    if (attrs := _attrs(manifest.attrs)) is not None:
        out["attributes"] = attrs
    if manifest.quarantine_state:
        out["quarantineState"] = manifest.quarantine_state
    if manifest.quarantine_details:
        out["quarantineDetails"] = manifest.quarantine_details
    return out


def _render(repo: Repository, manifest: Manifest, kind: str) -> bytes | None:
    """The bytes ``load_estate`` would generate from this manifest's fields (None: cannot)."""
    if kind == "image":
        if manifest.config is None:
            return None
        return oci.image_manifest_bytes(
            media_type=manifest.media_type,
            config=manifest.config,
            layers=manifest.layers,
            annotations=manifest.annotations,
        )
    if kind == "artifact":
        subject = None
        if manifest.subject:
            target = repo.manifests.get(manifest.subject)
            if target is None:
                return None
            subject = (target.media_type, target.digest, len(target.content))
        if manifest.config != (oci.EMPTY_DIGEST, 2):
            return None
        return oci.artifact_manifest_bytes(
            artifact_type=manifest.artifact_type or "",
            layers=manifest.layers,
            subject=subject,
            annotations=manifest.annotations,
        )
    entries = []
    for digest in manifest.children:
        child = repo.manifests.get(digest)
        if child is None:
            return None
        entries.append((child.media_type, child.digest, len(child.content), child.os, child.architecture))
    return oci.index_bytes(media_type=manifest.media_type, children=entries, annotations=manifest.annotations)


def _finding(world: World, finding: Any) -> dict[str, Any]:
    out = {
        "image": f"{finding.registry}/{finding.repository}@{finding.digest}",
        "cve": finding.cve,
        "severity": finding.severity,
        "fixStatus": finding.fix_status,
        "status": finding.status,
        "package": finding.package,
        "version": finding.version,
        "timeGenerated": _time(finding.time_generated),
    }
    if finding.fixed_version:
        out["fixedVersion"] = finding.fixed_version
    if finding.cause:
        out["cause"] = finding.cause
    return out


def _parse_kube_time(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


def _containers(world: World, spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": c["name"], "image": estate_image(world, c["image"])} for c in spec.get("containers", [])]


def _cluster(world: World, cluster: Cluster) -> dict[str, Any]:
    net = cluster.network
    kube = cluster.kube
    out: dict[str, Any] = {
        "name": cluster.name,
        "subscription": cluster.subscription,
        "resourceGroup": cluster.resource_group,
        "location": cluster.location,
        "kubernetesVersion": cluster.kubernetes_version,
        "tags": dict(cluster.tags),
        "powerState": cluster.power_state,
        "provisioningState": cluster.provisioning_state,
        "dnsPrefix": cluster.dns_prefix,
        "aadManaged": cluster.aad_managed,
        "azureRbac": cluster.azure_rbac,
        "networkProfile": {
            "outboundType": net.outbound_type,
            "networkPlugin": net.network_plugin,
            "loadBalancerSku": net.load_balancer_sku,
            "networkPluginMode": net.network_plugin_mode,
            "loadBalancerProfile": {
                "managedOutboundIPs": {"count": net.managed_outbound_ip_count},
                "allocatedOutboundPorts": net.allocated_outbound_ports,
                "idleTimeoutInMinutes": net.idle_timeout_minutes,
            },
            "natGatewayProfile": {"managedOutboundIPProfile": {"count": net.nat_gateway_ip_count}},
        },
        "snatPortsWantedPerNode": cluster.snat_ports_wanted_per_node,
        "podsPerNewNode": cluster.pods_per_new_node,
        "agentPools": [_pool(pool) for pool in cluster.agent_pools.values()],
        "namespaces": [],
        "nodes": [],
        "deployments": [],
        "statefulsets": [],
        "daemonsets": [],
        "replicasets": [],
        "replicationcontrollers": [],
        "cronjobs": [],
        "jobs": [],
        "pods": [],
    }
    for name, ns in kube.namespaces.items():
        labels = {
            k: v for k, v in ns["metadata"].get("labels", {}).items() if k != "kubernetes.io/metadata.name"
        }
        out["namespaces"].append({"name": name, "labels": labels} if labels else name)
    for name, node in kube.nodes.items():
        labels = node["metadata"].get("labels", {})
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", [])
        )
        entry: dict[str, Any] = {"name": name, "pool": labels.get("agentpool", "")}
        if not ready:
            entry["ready"] = False
        if node["spec"].get("unschedulable"):
            entry["unschedulable"] = True
        extra = {k: v for k, v in labels.items() if k not in _NODE_LABELS}
        if extra:
            entry["labels"] = extra
        out["nodes"].append(entry)
    owned = _replica_sets_by_deployment(kube.replicasets)
    for group in ("deployments", "statefulsets", "daemonsets", "replicasets", "replicationcontrollers"):
        for (namespace, name), obj in getattr(kube, group).items():
            if group == "replicasets" and (namespace, name) in owned["by_name"]:
                continue  # a deployment's: written as its history, or made again from it
            meta = obj["metadata"]
            labels = {k: v for k, v in meta.get("labels", {}).items() if not (k == "app" and v == name)}
            entry = {
                "name": name,
                "namespace": namespace,
                "containers": _containers(world, obj["spec"]["template"]["spec"]),
                "pods": False,
                "created": _parse_kube_time(meta["creationTimestamp"]),
            }
            if group != "daemonsets":
                entry["replicas"] = obj["spec"].get("replicas", 1)
            if labels:
                entry["labels"] = labels
            if group == "deployments":
                history = _history(world, owned["history"].get((namespace, name), []))
                if history:
                    entry["history"] = history
            out[group].append(entry)
    for (namespace, name), obj in kube.cronjobs.items():
        meta = obj["metadata"]
        spec = obj["spec"]
        entry = {
            "name": name,
            "namespace": namespace,
            "schedule": spec["schedule"],
            "suspend": spec.get("suspend", False),
            "containers": _containers(world, spec["jobTemplate"]["spec"]["template"]["spec"]),
            "created": _parse_kube_time(meta["creationTimestamp"]),
        }
        if meta.get("labels"):
            entry["labels"] = dict(meta["labels"])
        out["cronjobs"].append(entry)
    for (namespace, name), obj in kube.jobs.items():
        meta = obj["metadata"]
        entry = {
            "name": name,
            "namespace": namespace,
            "suspend": bool(obj["spec"].get("suspend", False)),
            "containers": _containers(world, obj["spec"]["template"]["spec"]),
            "created": _parse_kube_time(meta["creationTimestamp"]),
        }
        if meta.get("labels"):
            entry["labels"] = dict(meta["labels"])
        out["jobs"].append(entry)
    for (namespace, name), pod in kube.pods.items():
        out["pods"].append(_pod(world, namespace, name, pod))
    return out


def _replica_sets_by_deployment(replica_sets: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Which ReplicaSets a deployment owns (``by_name``), and its earlier revisions, by deployment."""
    by_name: set[tuple[str, str]] = set()
    history: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (namespace, name), obj in replica_sets.items():
        owners = [o for o in obj["metadata"].get("ownerReferences") or () if o.get("kind") == "Deployment"]
        if not owners:
            continue
        by_name.add((namespace, name))
        deployment = owners[0]["name"]
        if name != f"{deployment}-{template_hash(namespace, deployment)}":
            history.setdefault((namespace, deployment), []).append(obj)
    return {"by_name": by_name, "history": history}


def _history(world: World, replica_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ordered = sorted(replica_sets, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))
    return [
        {
            "containers": _containers(world, rs["spec"]["template"]["spec"]),
            "created": _parse_kube_time(rs["metadata"]["creationTimestamp"]),
        }
        for rs in ordered
    ]


def _pool(pool: Any) -> dict[str, Any]:
    out = {
        "name": pool.name,
        "mode": pool.mode,
        "count": pool.count,
        "vmSize": pool.vm_size,
        "enableAutoScaling": pool.enable_auto_scaling,
        "powerState": pool.power_state,
        "osType": pool.os_type,
        "maxPods": pool.max_pods,
        "orchestratorVersion": pool.orchestrator_version,
    }
    if pool.enable_auto_scaling:
        out["minCount"] = pool.min_count
        out["maxCount"] = pool.max_count
    if pool.max_surge:
        out["maxSurge"] = pool.max_surge
    if pool.vnet_subnet_id:
        out["vnetSubnetID"] = pool.vnet_subnet_id
    return out


def _pod(world: World, namespace: str, name: str, pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    spec = pod["spec"]
    status = pod.get("status", {})
    images_ids = {s["name"]: s.get("imageID", "") for s in status.get("containerStatuses", [])}
    containers = []
    for container in spec.get("containers", []):
        image = estate_image(world, container["image"])
        entry: dict[str, Any] = {"name": container["name"], "image": image}
        running = estate_image(world, images_ids.get(container["name"], ""))
        if running and running != default_image_id(world, image):
            entry["imageID"] = running
        containers.append(entry)
    out: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "containers": containers,
        "phase": status.get("phase", "Pending"),
        "created": _parse_kube_time(meta["creationTimestamp"]),
    }
    node = spec.get("nodeName")
    if node:
        out["node"] = node
        if status.get("reason"):
            out["reason"] = status["reason"]
        if status.get("message"):
            out["message"] = status["message"]
    else:
        scheduled = next((c for c in status.get("conditions", []) if c.get("type") == "PodScheduled"), {})
        if scheduled.get("reason"):
            out["reason"] = scheduled["reason"]
        if scheduled.get("message"):
            out["message"] = scheduled["message"]
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    owners = meta.get("ownerReferences") or []
    if owners:
        out["owner"] = {"kind": owners[0]["kind"], "name": owners[0]["name"]}
    return out
