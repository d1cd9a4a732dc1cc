"""The gate's test estate, host-shaped ImagePushed payloads, and helpers to read outcomes.

Payloads start from Microsoft's documented ImagePushed samples in
``tests/fixtures/events`` (Event Grid schema and CloudEvents) and only substitute what
names the sandbox's registry and image: ids, topic/source, host, target and times.
Defender's scan "finishing" is a finding appended to the World (a ``Healthy`` row when
it found nothing), which is what Resource Graph then serves.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from sandbox.acr.pushing import push_image
from sandbox.server import SandboxServer
from sandbox.world import Finding, Manifest, World
from tests.support.sandbox import SUBSCRIPTION, acr_session

REGISTRY = "contosogate"
QUARANTINING = "contosoquar"
NOTATION = "application/vnd.cncf.notary.signature"
COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"
SPDX = "application/spdx+json"
CYCLONEDX = "application/vnd.cyclonedx+json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"

ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 0.2},
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "test", "resourceGroups": [{"name": "rg-acr", "location": "eastus2"}]}
    ],
    "registries": [
        {"name": REGISTRY, "resourceGroup": "rg-acr", "sku": "Premium"},
        {"name": QUARANTINING, "resourceGroup": "rg-acr", "sku": "Premium", "quarantineEnabled": True},
    ],
}


def sample(schema: str = "eventgrid") -> dict[str, Any]:
    """Microsoft's documented ImagePushed sample (the first event of the file)."""
    name = "acr_image_pushed_eventgrid.json" if schema == "eventgrid" else "acr_image_pushed_cloudevents.json"
    value = json.loads((FIXTURES / name).read_text())
    return copy.deepcopy(value[0] if isinstance(value, list) else value)


def pushed_event(
    world: World,
    registry: str,
    repository: str,
    digest: str,
    tag: str | None,
    *,
    schema: str = "eventgrid",
    at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The sample, re-aimed at a manifest in the sandbox (as the registry would have sent it)."""
    event = sample(schema)
    target = world.registries[registry]
    manifest = target.repositories[repository].manifests[digest]
    moment = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event["id"] = event_id or str(uuid.uuid4())
    event["subject"] = f"{repository}:{tag}" if tag else repository
    if schema == "eventgrid":
        event["topic"] = target.id
        event["eventTime"] = moment
    else:
        event["source"] = target.id
        event["time"] = moment
    data = event["data"]
    data["id"] = str(uuid.uuid4())
    data["timestamp"] = moment
    data["target"] = {
        "mediaType": manifest.media_type,
        "size": len(manifest.content),
        "digest": digest,
        "length": len(manifest.content),
        "repository": repository,
        **({"tag": tag} if tag else {}),
    }
    data["request"]["host"] = target.login_server
    data["request"]["id"] = str(uuid.uuid4())
    data.pop("connectedRegistry", None)  # the sample's edge registry is not part of this estate
    return event


def push(
    world: World,
    repository: str,
    tag: str | None = None,
    *,
    registry: str = REGISTRY,
    schema: str = "eventgrid",
    at: datetime | None = None,
    **options: Any,
) -> tuple[str, dict[str, Any]]:
    """Push in the sandbox; (digest, the host-shaped ImagePushed payload for it)."""
    digest = push_image(world, registry, repository, tag, **options)
    return digest, pushed_event(world, registry, repository, digest, tag, schema=schema, at=at)


def retag(
    world: World, repository: str, digest: str, tag: str, *, registry: str = REGISTRY
) -> dict[str, Any]:
    """Push the same manifest bytes under another tag (``oras tag``); its ImagePushed payload."""
    from sandbox.acr import artifacts
    from sandbox.acr.events import Caller

    target = world.registries[registry]
    stored = manifest(world, repository, digest, registry=registry)
    caller = Caller.in_process(target, "PUT")
    artifacts.put_manifest(world, target, repository, tag, stored.content, stored.media_type, caller=caller)
    return pushed_event(world, registry, repository, digest, tag)


def index(world: World, repository: str, tag: str, children: list[str], *, registry: str = REGISTRY) -> dict:
    """Push a multi-platform index of ``children`` under ``tag``; its ImagePushed payload."""
    from sandbox.acr import artifacts, media
    from sandbox.acr.events import Caller

    target = world.registries[registry]
    entries = []
    for child in children:
        stored = manifest(world, repository, child, registry=registry)
        platform = {"os": stored.os or "linux", "architecture": stored.architecture or "amd64"}
        entries.append(
            {
                "mediaType": stored.media_type,
                "digest": child,
                "size": len(stored.content),
                "platform": platform,
            }
        )
    content = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": entries}).encode()
    caller = Caller.in_process(target, "PUT")
    pushed = artifacts.put_manifest(world, target, repository, tag, content, media.OCI_INDEX, caller=caller)
    return pushed_event(world, registry, repository, pushed.manifest.digest, tag)


def attach(
    world: World, repository: str, subject: str, artifact_type: str, *, registry: str = REGISTRY
) -> dict:
    """Push a referrer (signature, SBOM) of ``subject`` by digest; its ImagePushed payload."""
    return push(world, repository, registry=registry, subject=subject, artifact_type=artifact_type)[1]


def scanned(
    world: World,
    repository: str,
    digest: str,
    *findings: dict[str, Any],
    registry: str = REGISTRY,
) -> None:
    """Defender finished scanning ``digest``: its findings, or one Healthy row when none."""
    rows = findings or ({"cve": "CVE-2024-0001", "severity": "Low", "status": "Healthy"},)
    with world.lock:
        for row in rows:
            world.findings.append(Finding(registry=registry, repository=repository, digest=digest, **row))


def manifest(world: World, repository: str, digest: str, *, registry: str = REGISTRY) -> Manifest:
    return world.registries[registry].repositories[repository].manifests[digest]


def tag_target(world: World, repository: str, tag: str, *, registry: str = REGISTRY) -> str:
    return world.registries[registry].repositories[repository].tags[tag].digest


def published(world: World) -> list[dict[str, Any]]:
    with world.lock:
        return [dict(e) for e in world.published]


def audit(store: Any, kind: str | None = None) -> list[Any]:
    records = store.query_audit(capability="gate", limit=10_000)
    return [r for r in records if kind is None or r.kind == kind]


def pull(
    server: SandboxServer, repository: str, reference: str, *, registry: str = REGISTRY
) -> requests.Response:
    """A pull by an OCI client holding the app's identity (the sandbox has one identity)."""
    session = acr_session(server)
    login = server.world.registries[registry].login_server
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    return session.get(f"https://{login}/v2/{repository}/manifests/{reference}", headers={"Accept": accept})
