"""The rows of ``resources`` and ``securityresources``, built from the live World.

Rows have Resource Graph's columns (``id``, ``name``, ``type`` in lower case, ``tenantId``,
``kind``, ``location``, ``resourceGroup``, ``subscriptionId``, ``managedBy``, ``sku``,
``plan``, ``properties``, ``tags``, ``identity``, ``zones``, ``extendedLocation``) and carry
``properties`` exactly as ARM's GET returns them (the same renderers as the sandbox's
ARM endpoints), so that a query reads the same fields the management SDKs do.
Findings become Defender for Containers sub-assessments (assessment
``c0b7cfc6-3172-465a-b378-53c7ff2cc0d5``) in the shape Defender publishes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sandbox.arm.resources import render_cluster, render_registry, render_replication
from sandbox.authz import is_allowed
from sandbox.graph.expressions import Schema
from sandbox.graph.values import format_datetime
from sandbox.world import Cluster, Finding, Registry, Replication, Repository, World

#: Defender for Containers' registry vulnerability assessment (powered by MDVM).
ASSESSMENT_KEY = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"

_COLUMNS = (
    ("id", "string"),
    ("name", "string"),
    ("type", "string"),
    ("tenantId", "string"),
    ("kind", "string"),
    ("location", "string"),
    ("resourceGroup", "string"),
    ("subscriptionId", "string"),
    ("managedBy", "string"),
    ("sku", "object"),
    ("plan", "object"),
    ("properties", "object"),
    ("tags", "object"),
    ("identity", "object"),
    ("zones", "object"),
    ("extendedLocation", "object"),
)
SCHEMAS = {"resources": Schema(_COLUMNS), "securityresources": Schema(_COLUMNS)}

_CVSS = {"Critical": 9.8, "High": 7.5, "Medium": 5.3, "Low": 3.1}


def _row(
    world: World,
    arm: dict[str, Any],
    *,
    resource_group: str,
    subscription: str,
    location: str | None = None,
) -> dict[str, Any]:
    """A Resource Graph row around an ARM resource body (what ARM's GET returns)."""
    return {
        "id": arm["id"],
        "name": arm["name"],
        "type": arm["type"].lower(),
        "tenantId": world.identity.tenant_id,
        "kind": arm.get("kind", ""),
        "location": location if location is not None else arm.get("location", ""),
        "resourceGroup": resource_group,
        "subscriptionId": subscription,
        "managedBy": "",
        "sku": arm.get("sku"),
        "plan": None,
        "properties": arm.get("properties"),
        "tags": arm.get("tags"),
        "identity": arm.get("identity"),
        "zones": arm.get("zones"),
        "extendedLocation": None,
    }


def _stamp(value: datetime) -> str:
    return format_datetime(value)


def registry_row(world: World, registry: Registry) -> dict[str, Any]:
    arm = render_registry(registry)
    return _row(world, arm, resource_group=registry.resource_group, subscription=registry.subscription)


def replication_row(world: World, registry: Registry, replication: Replication) -> dict[str, Any]:
    arm = render_replication(registry, replication, world)
    return _row(world, arm, resource_group=registry.resource_group, subscription=registry.subscription)


def cluster_row(world: World, cluster: Cluster) -> dict[str, Any]:
    arm = render_cluster(cluster, world)
    return _row(world, arm, resource_group=cluster.resource_group, subscription=cluster.subscription)


def tags_by_digest(repository: Repository) -> dict[str, list[str]]:
    """Each digest's tags, sorted: computed once per repository and query, not per finding."""
    out: dict[str, list[str]] = {}
    for tag in repository.tags.values():
        out.setdefault(tag.digest, []).append(tag.name)
    for names in out.values():
        names.sort()
    return out


def finding_row(
    world: World, registry: Registry, finding: Finding, tags: dict[str, list[str]] | None = None
) -> dict[str, Any] | None:
    """A finding as a Defender sub-assessment, or None when its image is gone."""
    repository = registry.repositories.get(finding.repository)
    manifest = repository.manifests.get(finding.digest) if repository else None
    if repository is None or manifest is None:
        return None  # Defender reports only on images still in the registry
    tag_names = list((tags if tags is not None else tags_by_digest(repository)).get(finding.digest, []))
    seed = f"{registry.id}|{finding.repository}|{finding.digest}|{finding.cve}|{finding.package}"
    sub_id = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    score = _CVSS.get(finding.severity, 5.0)
    status: dict[str, Any] = {"severity": finding.severity, "code": finding.status}
    if finding.cause:
        status = {"description": "Disabled parent assessment", **status, "cause": finding.cause}
    published = _stamp(finding.time_generated)
    properties = {
        "id": finding.cve,
        "additionalData": {
            "assessedResourceType": "AzureContainerRegistryVulnerability",
            "vulnerabilityDetails": {
                "severity": finding.severity,
                "exploitabilityAssessment": {
                    "exploitStepsPublished": False,
                    "exploitStepsVerified": False,
                    "isInExploitKit": False,
                    "exploitUris": [],
                    "types": ["Remote"],
                },
                "lastModifiedDate": published,
                "publishedDate": published,
                "workarounds": [],
                "references": [
                    {"title": finding.cve, "link": f"https://nvd.nist.gov/vuln/detail/{finding.cve}"}
                ],
                "weaknesses": {"cwe": []},
                "cveId": finding.cve,
                "cvss": {
                    "2.0": None,
                    "3.0": {
                        "cvssVectorString": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                        "base": score,
                    },
                },
                "cpe": {
                    "language": "*",
                    "softwareEdition": "*",
                    "version": "*",
                    "targetHardware": "*",
                    "targetSoftware": "*",
                    "vendor": finding.package,
                    "edition": "*",
                    "product": finding.package,
                    "update": "*",
                    "other": "*",
                    "part": "Applications",
                    "uri": f"cpe:2.3:a:{finding.package}:{finding.package}:*:*:*:*:*:*:*:*",
                },
            },
            "artifactDetails": {
                "lastPushedToRegistryUTC": _stamp(manifest.created),
                "repositoryName": finding.repository,
                "registryHost": registry.login_server,
                "artifactType": "ContainerImage",
                "mediaType": manifest.media_type,
                "digest": finding.digest,
                "tags": tag_names,
            },
            "softwareDetails": {
                "category": "OS",
                "language": "",
                "fixedVersion": finding.fixed_version or "",
                "version": finding.version,
                "vendor": finding.package,
                "packageName": finding.package,
                "osDetails": {"osPlatform": "linux", "osVersion": "ubuntu_linux_22.04"},
                "fixStatus": finding.fix_status,
                "evidence": [],
            },
            "cvssV30Score": score,
        },
        "description": f"This vulnerability affects {finding.package} {finding.version}.",
        "displayName": finding.cve,
        "resourceDetails": {
            "id": f"/repositories/{finding.repository}/images/{finding.digest}",
            "source": "Azure",
        },
        "timeGenerated": published,
        "remediation": (
            f"Upgrade {finding.package} to {finding.fixed_version}."
            if finding.fixed_version
            else "No remediation exists"
        ),
        "status": status,
    }
    assessment = f"{registry.id}/providers/Microsoft.Security/assessments/{ASSESSMENT_KEY}"
    sub_assessment = {
        "id": f"{assessment}/subassessments/{sub_id}",
        "name": sub_id,
        "type": "microsoft.security/assessments/subassessments",
        "properties": properties,
        "tags": None,
    }
    row = _row(
        world,
        sub_assessment,
        resource_group=registry.resource_group,
        subscription=registry.subscription,
        location="global",
    )
    return row


def _resources(world: World) -> Iterable[dict[str, Any]]:
    for registry in world.registries.values():
        yield registry_row(world, registry)
        for replication in registry.replications.values():
            yield replication_row(world, registry, replication)
    for cluster in world.clusters.values():
        yield cluster_row(world, cluster)


class FindingRows:
    """Sub-assessment rows, rebuilt only for findings whose inputs changed.

    Building a row is most of a ``securityresources`` query's cost, and a paged query
    runs once per page; rows are read-only to the engine (operators copy before they
    change a row), so unchanged findings reuse the row built for the previous query.
    The cache holds exactly the rows of the last query, so it never outgrows the World.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def rows(self, world: World) -> list[dict[str, Any]]:
        fresh: dict[tuple[Any, ...], dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        tag_maps: dict[tuple[str, str], dict[str, list[str]]] = {}
        for finding in world.findings:
            registry = world.registries.get(finding.registry)
            repository = registry.repositories.get(finding.repository) if registry else None
            manifest = repository.manifests.get(finding.digest) if repository else None
            if registry is None or repository is None or manifest is None:
                continue  # Defender reports only on images still in the registry
            where = (registry.name, repository.name)
            if where not in tag_maps:
                tag_maps[where] = tags_by_digest(repository)
            tags = tag_maps[where].get(finding.digest, [])
            key = (
                registry.id, registry.login_server, repository.name, finding.digest, finding.cve,
                finding.severity, finding.fix_status, finding.fixed_version, finding.status, finding.cause,
                finding.time_generated, finding.package, finding.version, manifest.created,
                manifest.media_type, tuple(tags),
            )  # fmt: skip
            row = self._rows.get(key) or fresh.get(key)
            if row is None:
                row = finding_row(world, registry, finding, tag_maps[where])
            if row is None:
                continue
            fresh[key] = row
            out.append(row)
        self._rows = fresh
        return out


def table_rows(
    world: World, table: str, subscriptions: set[str] | None, findings: FindingRows | None = None
) -> list[dict[str, Any]]:
    """Rows of ``table`` in the given subscriptions (all when None) that the caller may read.

    Resource Graph returns only resources the caller has read access to; with role
    assignments in the estate, a row is kept when they grant ``<type>/read`` on it.
    """
    cache = findings or FindingRows()
    with world.lock:
        rows = list(_resources(world)) if table == "resources" else cache.rows(world)
    return [
        row
        for row in rows
        if (subscriptions is None or row["subscriptionId"].lower() in subscriptions)
        and is_allowed(world, row["id"], f"{row['type']}/read")
    ]
