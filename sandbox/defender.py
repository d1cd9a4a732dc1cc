"""Defender for Containers' registry scanner: it reads a pushed image, then reports findings.

Defender "receives notifications whenever a new image is pushed" and the new images "are
pulled, and an inventory is created for each image"; the report is one sub-assessment row
per finding, keyed by the image's digest (``resourceDetails.id =
/repositories/<repo>/images/<digest>``), with a ``Healthy`` row when it found nothing
(Microsoft Learn, defender-for-cloud/agentless-vulnerability-assessment-azure.md and
subassessment-rest-api.md). So whether a scan ever arrives depends on whether the
scanner can read the image while the gate blocks it:

* a quarantined image is never scanned until it is released (Azure/acr#499, open);
* a manifest with ``readEnabled=false`` (or in a repository with it): no source says
  whether Defender's reader is exempt from the lock, so the sandbox setting
  ``defenderReadsLockedManifests`` decides, and it defaults to the safe assumption
  (false: a manifest lock also stops the scan);
* a lock on tags only leaves the digest readable, and Defender's report is per digest.

:func:`scan_image` is that scanner: the findings land in the World (and so in Resource
Graph) only when the image can be read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.acr import artifacts
from sandbox.world import Finding, World

HEALTHY = {"cve": "CVE-2024-0001", "severity": "Low", "status": "Healthy"}


def scan_image(
    world: World,
    registry: str,
    repository: str,
    digest: str,
    findings: Sequence[Mapping[str, Any]] = (),
) -> str | None:
    """Scan one image: record ``findings`` (or a Healthy row) and return None, or return why the
    scanner could not read the image (and record nothing)."""
    with world.lock:
        target = world.registries[registry]
        repo = artifacts.get_repository(target, repository)
        manifest = repo.manifests.get(digest)
        if manifest is None:
            return f"{repository}@{digest} does not exist"
        if artifacts.is_quarantined(target, manifest):
            return "quarantined: Defender does not scan quarantined images (Azure/acr#499)"
        locked = not (repo.attrs.read_enabled and manifest.attrs.read_enabled)
        if locked and not world.settings.get("defender_reads_locked_manifests", False):
            return "readEnabled=false on the manifest or repository: the scanner cannot pull it"
        for row in findings or (HEALTHY,):
            world.findings.append(Finding(registry=registry, repository=repository, digest=digest, **row))
    return None
