"""The gate's adapters against the sandbox over HTTPS with the real SDKs.

Cases:
- registry: a manifest's facts (media type, size from config and layers, annotations,
  config labels, exact bytes); an index's children; a referrer's subject and artifact
  type; the referrers API listing signatures and SBOMs; lock and unlock (a locked image
  cannot be pulled); quarantine state with details on a quarantining registry; resolving
  a tag; untag; putting a tag back onto a locked manifest from its stored bytes; reading
  back what those did (a manifest's and a tag's readEnabled, a manifest's quarantine
  state, none for a manifest never quarantined), as a resumed delivery verifies them;
- Resource Graph: one query returns every row (Healthy ones too) for many digests, of
  the right registry host and repository; anything but sha256 digests is refused before
  a query is built;
- ARM: a registry's quarantine policy and endpoints, cached (one read of the registry and
  one of its replications for repeated asks); resolving a registry by ARM id (a missing one
  is invalid input); finding a registry by name or login server;
- Event Grid: verdict CloudEvents published through EventGridPublisherClient land in the
  sandbox topic unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ops.adapters.arm import ArmRegistryDirectory
from ops.adapters.graph import GraphFindings
from ops.adapters.notify import EventGridPublisher
from ops.adapters.registry import gate_registry
from ops.config import Settings, load_settings
from ops.errors import InvalidInput
from ops.gate.evidence import ImageRef
from sandbox.acr.pushing import push_image
from sandbox.server import SandboxServer
from tests.support.gate import (
    ESTATE,
    NOTATION,
    QUARANTINING,
    REGISTRY,
    SPDX,
    manifest,
    pull,
    scanned,
    tag_target,
)
from tests.support.sandbox import connect_app, running_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("gate-adapters")) as running:
        yield running


@pytest.fixture
def settings(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return load_settings(connect_app(server, monkeypatch))


def image(server: SandboxServer, repository: str, digest: str, registry: str = REGISTRY) -> ImageRef:
    target = server.world.registries[registry]
    return ImageRef(registry, target.login_server, repository, digest, target.id)


def test_manifest_facts_labels_and_bytes(server: SandboxServer, settings: Settings) -> None:
    world = server.world
    annotations = {"org.opencontainers.image.source": "https://github.com/contoso/api"}
    digest = push_image(
        world, REGISTRY, "facts/api", "v1", layers=[b"a" * 3000, b"b" * 1000], annotations=annotations
    )
    stored = manifest(world, "facts/api", digest)
    assert stored.config is not None
    config = json.loads(world.registries[REGISTRY].blobs[stored.config[0]])
    config["config"] = {"Labels": {"maintainer": "team@contoso.com"}}
    world.registries[REGISTRY].blobs[stored.config[0]] = json.dumps(config).encode()
    gate = gate_registry(settings, image(server, "facts/api", digest))
    facts = gate.read_manifest("facts/api", digest, labels=True)
    assert facts.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert facts.size == 4000 + stored.config[1]
    assert facts.annotations == annotations and facts.labels == {"maintainer": "team@contoso.com"}
    assert facts.content.encode() == stored.content and facts.subject is None
    assert gate.read_manifest("facts/api", digest, labels=False).labels == {}
    signature = push_image(world, REGISTRY, "facts/api", None, subject=digest, artifact_type=NOTATION)
    sig = gate.read_manifest("facts/api", signature, labels=True)
    assert sig.subject == digest and sig.artifact_type == NOTATION and sig.labels == {}
    push_image(world, REGISTRY, "facts/api", None, subject=digest, artifact_type=SPDX)
    assert sorted(r.artifact_type for r in gate.list_referrers("facts/api", digest)) == [SPDX, NOTATION]


def test_an_index_lists_its_children(server: SandboxServer, settings: Settings) -> None:
    world = server.world
    amd = push_image(world, REGISTRY, "facts/multi", None, architecture="amd64")
    arm = push_image(world, REGISTRY, "facts/multi", None, architecture="arm64")
    from sandbox.acr import artifacts, media
    from sandbox.acr.events import Caller

    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": media.OCI_MANIFEST,
                    "digest": d,
                    "size": len(manifest(world, "facts/multi", d).content),
                }
                for d in (amd, arm)
            ],
        }
    ).encode()
    registry = world.registries[REGISTRY]
    pushed = artifacts.put_manifest(
        world,
        registry,
        "facts/multi",
        "v1",
        index,
        media.OCI_INDEX,
        caller=Caller.in_process(registry, "PUT"),
    )
    facts = gate_registry(settings, image(server, "facts/multi", pushed.manifest.digest)).read_manifest(
        "facts/multi", pushed.manifest.digest, labels=True
    )
    assert facts.is_index and facts.children == (amd, arm) and facts.labels == {}


def test_lock_quarantine_untag_and_tag_restore(server: SandboxServer, settings: Settings) -> None:
    world = server.world
    first = push_image(world, REGISTRY, "facts/tags", "v1.0.0")
    gate = gate_registry(settings, image(server, "facts/tags", first))
    facts = gate.read_manifest("facts/tags", first, labels=False)
    assert gate.read_manifest_readable("facts/tags", first) is True
    gate.set_read_enabled("facts/tags", first, False)
    assert pull(server, "facts/tags", first).status_code == 405
    assert gate.read_manifest_readable("facts/tags", first) is False
    gate.set_tag_read_enabled("facts/tags", "v1.0.0", False)
    assert gate.read_tag_readable("facts/tags", "v1.0.0") is False
    gate.set_tag_read_enabled("facts/tags", "v1.0.0", True)
    assert gate.read_tag_readable("facts/tags", "v1.0.0") is True
    second = push_image(world, REGISTRY, "facts/tags", "v1.0.0", layers=[b"rebuilt"])
    assert gate.resolve_tag("facts/tags", "v1.0.0") == second
    gate.put_tag("facts/tags", "v1.0.0", facts.content, facts.media_type)  # locked, yet re-tagged
    assert tag_target(world, "facts/tags", "v1.0.0") == first
    gate.set_read_enabled("facts/tags", first, True)
    assert pull(server, "facts/tags", "v1.0.0").status_code == 200
    push_image(world, REGISTRY, "facts/tags", "extra", layers=[b"rebuilt"])
    gate.untag("facts/tags", "extra")
    assert "extra" not in world.registries[REGISTRY].repositories["facts/tags"].tags
    held = push_image(world, QUARANTINING, "facts/q", "v1")
    quarantining = gate_registry(settings, image(server, "facts/q", held, QUARANTINING))
    assert gate.read_quarantine("facts/tags", first) is None
    quarantining.set_quarantine("facts/q", held, "Failed", '{"verdict":"deny"}')
    assert quarantining.read_quarantine("facts/q", held) == "Failed"
    stored = manifest(world, "facts/q", held, registry=QUARANTINING)
    assert stored.quarantine_state == "Failed" and stored.quarantine_details == '{"verdict":"deny"}'


def graph_requests(server: SandboxServer) -> int:
    return sum(1 for r in server.world.requests if r.service == "graph")


def test_findings_for_many_digests_in_one_query(server: SandboxServer, settings: Settings) -> None:
    world = server.world
    clean = push_image(world, REGISTRY, "facts/scan", "clean")
    dirty = push_image(world, REGISTRY, "facts/scan", "dirty")
    waiting = push_image(world, REGISTRY, "facts/scan", "waiting")
    scanned(world, "facts/scan", clean)
    xz = {"cve": "CVE-2024-3094", "severity": "Critical", "package": "xz-utils", "fixed_version": "5.6.2"}
    scanned(world, "facts/scan", dirty, xz)
    before = graph_requests(server)
    rows = GraphFindings(settings).list_findings([clean, dirty, waiting, "sha256:" + "0" * 64])
    assert graph_requests(server) == before + 1
    by_digest = {r.digest: r for r in rows}
    assert set(by_digest) == {clean, dirty}
    assert by_digest[clean].status == "Healthy"
    found = by_digest[dirty]
    assert (found.cve, found.severity, found.status, found.fix_status) == (
        "CVE-2024-3094",
        "Critical",
        "Unhealthy",
        "FixAvailable",
    )
    assert (found.fixed_version, found.package) == ("5.6.2", "xz-utils")
    assert found.registry_host == world.registries[REGISTRY].login_server and found.repository == "facts/scan"
    with pytest.raises(ValueError):
        GraphFindings(settings).list_findings(["sha256:1' or 1==1 //"])


def test_quarantine_policy_is_read_once_and_registries_are_found(
    server: SandboxServer, settings: Settings
) -> None:
    directory = ArmRegistryDirectory(settings)
    quarantining = image(server, "x", "sha256:" + "1" * 64, QUARANTINING)
    plain = image(server, "x", "sha256:" + "1" * 64)

    def arm_reads() -> int:
        return sum(1 for r in server.world.requests if r.service == "arm" and "/registries/" in r.path)

    before = arm_reads()
    assert directory.quarantine_enabled(quarantining) is True
    assert directory.quarantine_enabled(quarantining) is True
    assert directory.quarantine_enabled(plain) is False
    assert arm_reads() == before + 4  # per registry, once: the registry and its replications
    login = server.world.registries[REGISTRY].login_server
    resolved = directory.resolve_registry(plain.registry_id.upper())
    assert (resolved.name, resolved.login_server, resolved.id) == (REGISTRY, login, plain.registry_id)
    assert resolved.endpoints[0] == login
    assert arm_reads() == before + 4  # cached: ARM ids are case-insensitive
    with pytest.raises(InvalidInput) as caught:
        directory.resolve_registry(plain.registry_id.replace(REGISTRY, "nosuchregistry"))
    assert caught.value.path == "registry id"
    assert directory.find_registry(REGISTRY.upper()) == (REGISTRY, login, plain.registry_id)
    assert directory.find_registry(login) == (REGISTRY, login, plain.registry_id)
    assert directory.find_registry("nosuchregistry") is None


def test_verdict_events_reach_the_topic(server: SandboxServer, settings: Settings) -> None:
    endpoint = settings.endpoints.events_topic_endpoint
    assert endpoint is not None
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "0123abcd",
        "source": "/subscriptions/x/registries/y",
        "type": "ops.gate.denied",
        "subject": "repo@sha256:1",
        "time": "2026-11-26T12:00:00+00:00",
        "datacontenttype": "application/json",
        "data": {"verdict": "deny", "reasons": ["cve: CVE-2024-3094 is on the deny list"]},
    }
    EventGridPublisher(settings, endpoint).publish([event])
    received = server.world.published[-1]
    assert {k: received[k] for k in ("id", "source", "type", "subject", "data")} == {
        k: event[k] for k in ("id", "source", "type", "subject", "data")
    }
    assert received["time"].startswith("2026-11-26T12:00:00")
