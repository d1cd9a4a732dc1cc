"""Azure Resource Graph (azure-mgmt-resourcegraph): the estate in one paged query.

Listing clusters through ARM takes a request per subscription and per page; Resource
Graph answers for every subscription in scope with one query, paged by ``$skipToken``,
which matters at a thousand clusters and under its quota of about 15 queries per 5
seconds. A truncated answer (``resultTruncated`` with no token) is an error, never a
silently short list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ops.adapters.clients import enum_text, management_client
from ops.adapters.errors import translated_errors
from ops.config import Settings
from ops.errors import PermanentError
from ops.gate.evidence import Finding
from ops.schedule.clusters import ObservedCluster, cluster_from_arm

#: Resource Graph's largest page.
MAX_PAGE = 1000

MANAGED_CLUSTERS_QUERY = (
    "resources\n"
    "| where type =~ 'microsoft.containerservice/managedclusters'\n"
    "| project id, name, subscriptionId, resourceGroup, location, tags, properties\n"
    "| order by id asc"
)


def resource_graph_client(settings: Settings) -> Any:
    """The process-wide ResourceGraphClient at the configured ARM endpoint."""
    from azure.mgmt.resourcegraph import ResourceGraphClient

    return management_client(settings, ResourceGraphClient)


def query_rows(
    settings: Settings, query: str, *, subscriptions: Sequence[str] = (), page_size: int = MAX_PAGE
) -> list[dict[str, Any]]:
    """Every row of ``query`` (objectArray format), following ``$skipToken`` to the end."""
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    client = resource_graph_client(settings)
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        request = QueryRequest(
            subscriptions=list(subscriptions) or None,
            query=query,
            options=QueryRequestOptions(top=page_size, skip_token=token, result_format="objectArray"),
        )
        with translated_errors("Resource Graph query"):
            response = client.resources(request)
        rows.extend(response.data or [])
        token = response.skip_token
        if not token:
            # ``resultTruncated`` may come back as the SDK's ResultTruncated enum, whose str()
            # is "ResultTruncated.TRUE": compare its wire value.
            if enum_text(response.result_truncated).lower() == "true":
                raise PermanentError(
                    f"Resource Graph truncated the answer at {len(rows)} of {response.total_records} rows "
                    "and gave no $skipToken to continue"
                )
            return rows


class GraphClusters:
    """The schedule's ClusterInventory: every managed cluster in the subscriptions in scope."""

    def __init__(self, settings: Settings, *, page_size: int = MAX_PAGE) -> None:
        self.settings = settings
        self.page_size = page_size

    def list_clusters(self) -> list[ObservedCluster]:
        rows = query_rows(
            self.settings,
            MANAGED_CLUSTERS_QUERY,
            subscriptions=self.settings.core.subscriptions,
            page_size=self.page_size,
        )
        return [cluster_from_arm(row) for row in rows]


#: Defender for Containers' registry vulnerability assessment (powered by MDVM).
DEFENDER_REGISTRY_ASSESSMENT = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def findings_query(digests: Sequence[str]) -> str:
    """Defender's sub-assessments for these image digests, one row per finding, Healthy rows
    included (they are how Defender says "scanned, nothing found")."""
    bad = [d for d in digests if not _DIGEST.match(d)]
    if bad or not digests:
        raise ValueError(f"expected sha256 digests to query, got {bad[:3] or 'none'}")
    listed = ", ".join(f"'{digest}'" for digest in digests)
    details = "properties.additionalData"
    return (
        "securityresources\n"
        "| where type =~ 'microsoft.security/assessments/subassessments'\n"
        f"| where id has '{DEFENDER_REGISTRY_ASSESSMENT}'\n"
        f"| where {details}.assessedResourceType == 'AzureContainerRegistryVulnerability'\n"
        f"| extend digest = tostring({details}.artifactDetails.digest)\n"
        f"| where digest in ({listed})\n"
        f"| project digest, registryHost = tostring({details}.artifactDetails.registryHost), "
        f"repository = tostring({details}.artifactDetails.repositoryName), cve = tostring(properties.id), "
        "code = tostring(properties.status.code), cause = tostring(properties.status.cause), "
        "severity = tostring(properties.status.severity), "
        f"fixStatus = tostring({details}.softwareDetails.fixStatus), "
        f"fixedVersion = tostring({details}.softwareDetails.fixedVersion), "
        f"package = tostring({details}.softwareDetails.packageName), id\n"
        "| order by id asc"
    )


class GraphFindings:
    """The gate's FindingsSource: one Resource Graph query (and its pages) per call."""

    def __init__(self, settings: Settings, *, page_size: int = MAX_PAGE) -> None:
        self.settings = settings
        self.page_size = page_size

    def list_findings(self, digests: Sequence[str]) -> list[Finding]:
        rows = query_rows(
            self.settings,
            findings_query(digests),
            subscriptions=self.settings.core.subscriptions,
            page_size=self.page_size,
        )
        return [
            Finding(
                digest=str(row.get("digest") or ""),
                cve=str(row.get("cve") or ""),
                severity=str(row.get("severity") or ""),
                status=str(row.get("code") or ""),
                fix_status=str(row.get("fixStatus") or "Unknown"),
                fixed_version=str(row.get("fixedVersion") or ""),
                package=str(row.get("package") or ""),
                cause=str(row.get("cause") or ""),
                registry_host=str(row.get("registryHost") or ""),
                repository=str(row.get("repository") or ""),
            )
            for row in rows
        ]
