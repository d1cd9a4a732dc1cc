"""The gate in front of real CI pipelines: every step through ``ops invoke gate_on_image_pushed`` and
``ops invoke gate_sweep``, signatures and SBOMs attached with the oras Python client (which, like
``notation sign`` and ``oras attach``, resolves the subject by digest first), and Defender's
scanner emulated as a reader of the image (``sandbox.defender``: it scans only what it can pull).

Cases (docs/gate.md, "Wiring the gate into your pipeline"):
- lock-tags (the default): push → the push's tag is locked at once, the digest stays readable →
  a CI signer (AcrPush only) signs by digest → the signature is attached → the SBOM is attached →
  Defender scans the digest → the sweep passes the image → the tag is pullable; a tag pushed
  while the digest was pending is locked too and released with it; run under both answers of
  the unconfirmed ``unreadableSubjectReferrers`` (list, refuse);
- the same pipeline with a Critical finding: denied, the manifest is locked too (no pull by tag
  or digest), and the signature is still attached (it is evidence, shown in the verdict);
- a multi-platform index in lock-tags mode: its tag is locked, its platform images (pushed by
  digest) stay readable for the scanner, and a Critical finding in one of them denies the
  index and locks the index's and both platform images' manifests;
- manifest lock (``mode: lock``), why it is not the default: the signer's resolve is refused
  (405), nothing is attached, the scanner cannot read the image (the safe assumption), and the
  image is denied at its settle timeout;
- quarantine: a signer with AcrPush and AcrQuarantineReader resolves the quarantined digest and
  signs, the signature's own push re-evaluates the image, which passes and is released; a signer
  with AcrPush only is refused (403 IMAGE_QUARANTINED) and attaches nothing; Defender never scans
  the quarantined image (Azure/acr#499).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from sandbox.acr import artifacts
from sandbox.defender import scan_image
from sandbox.server import SandboxServer
from tests.support.gate import (
    ESTATE,
    QUARANTINING,
    REGISTRY,
    index,
    manifest,
    published,
    pull,
    push,
    pushed_event,
    retag,
)
from tests.support.sandbox import SUBSCRIPTION, connect_app, control, running_sandbox
from tests.support.signing import NOTATION, SPDX, SubjectUnreadable, attach_referrer

CI_SIGNER = {  # a pipeline's identity on a registry without quarantine: AcrPush is enough
    "clientId": "c1516e00-0000-4000-8000-0000000000c1",
    "principalId": "c1516e00-0000-4000-8000-0000000000b1",
    "roles": [{"role": "AcrPush", "scope": f"/subscriptions/{SUBSCRIPTION}"}],
}
QUARANTINE_SIGNER = {  # on a quarantining registry the signer must read quarantined images
    "clientId": "c1516e00-0000-4000-8000-0000000000c2",
    "principalId": "c1516e00-0000-4000-8000-0000000000b2",
    "roles": [
        {"role": "AcrPush", "scope": f"/subscriptions/{SUBSCRIPTION}"},
        {"role": "AcrQuarantineReader", "scope": f"/subscriptions/{SUBSCRIPTION}"},
    ],
}
PIPELINE_ESTATE = {**copy.deepcopy(ESTATE), "identities": [CI_SIGNER, QUARANTINE_SIGNER]}
LONG_AGO = datetime.now(UTC) - timedelta(hours=2)

POLICY = f"""
gate:
  rules:
    - name: quarantined
      registry: {QUARANTINING}
      mode: quarantine
      requireScan: false
      signatures: [notation]
    - name: manifest-lock
      registry: {REGISTRY}
      repository: 'locked/.*'
      mode: lock
      maxSeverity: high
      signatures: [notation]
      sbom: [spdx]
    - name: pipeline
      registry: {REGISTRY}
      maxSeverity: high
      signatures: [notation]
      sbom: [spdx]
      settleTimeout: 30m
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(PIPELINE_ESTATE, tmp_path_factory.mktemp("pipelines")) as running:
        yield running


@pytest.fixture
def sandbox(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    settings = {
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "false",
        "OPS_GATE_POLICY": POLICY,
        "AzureWebJobsStorage": None,
    }
    connect_app(server, monkeypatch, settings)
    with server.world.lock:
        server.world.published.clear()
    yield server
    control(server, "PATCH", "settings", {"unreadableSubjectReferrers": "list"})


def ops_invoke(name: str, payload: Any) -> None:
    """``ops invoke NAME --payload -``: the function as the Functions host would run it (exit 0:
    handled; the outcome is read from the gate's records and the registry)."""
    result = CliRunner().invoke(cli, ["invoke", name, "--payload", "-"], input=json.dumps(payload))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["function"] == name


def sweep() -> None:
    return ops_invoke(
        "gate_sweep", {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}
    )


def on_push(event: dict[str, Any]) -> None:
    ops_invoke("gate_on_image_pushed", event)


def sign(
    world: Any, server: SandboxServer, registry: str, repository: str, digest: str, signer: dict[str, Any]
) -> str:
    """``notation sign <login>/<repo>@<digest>`` as ``signer``; then the registry's ImagePushed for it."""
    signature = attach_referrer(
        server, registry, repository, digest, NOTATION, b'{"payload":"jws"}', client_id=signer["clientId"]
    )
    on_push(pushed_event(world, registry, repository, signature, None))
    return signature


def attach_sbom(world: Any, server: SandboxServer, repository: str, digest: str) -> str:
    """``oras attach --artifact-type application/spdx+json`` by the same CI identity."""
    sbom = attach_referrer(
        server,
        REGISTRY,
        repository,
        digest,
        SPDX,
        b'{"spdxVersion":"SPDX-2.3"}',
        client_id=CI_SIGNER["clientId"],
    )
    on_push(pushed_event(world, REGISTRY, repository, sbom, None))
    return sbom


def state(world: Any, repository: str, digest: str, *, registry: str = REGISTRY) -> dict[str, Any]:
    from ops.services import get_services

    login = world.registries[registry].login_server
    found = get_services().store().get_record("gate-images", f"{login}/{repository}@{digest}")
    assert found is not None
    return dict(found.value)


def tag_readable(world: Any, repository: str, tag: str) -> bool:
    return bool(world.registries[REGISTRY].repositories[repository].tags[tag].attrs.read_enabled)


def referrer_digests(world: Any, repository: str, digest: str, *, registry: str = REGISTRY) -> set[str]:
    with world.lock:
        repo = world.registries[registry].repositories[repository]
        return {m.digest for m in artifacts.referrers(repo, digest, None)}


@pytest.mark.parametrize("referrers_of_locked", ["list", "refuse"])
def test_lock_tags_pipeline_signs_scans_and_passes(sandbox: SandboxServer, referrers_of_locked: str) -> None:
    world = sandbox.world
    control(sandbox, "PATCH", "settings", {"unreadableSubjectReferrers": referrers_of_locked})
    repository = f"pipe/{referrers_of_locked}"
    digest, event = push(world, repository, "v1")

    on_push(event)
    assert state(world, repository, digest)["decision"] == "pending"
    assert pull(sandbox, repository, "v1").status_code == 405  # deployments pull by tag: refused at once
    assert pull(sandbox, repository, digest).status_code == 200  # signers and scanners read the digest
    on_push(retag(world, repository, digest, "latest"))
    assert not tag_readable(world, repository, "latest")  # a tag pushed while pending is locked too

    signature = sign(world, sandbox, REGISTRY, repository, digest, CI_SIGNER)
    sbom = attach_sbom(world, sandbox, repository, digest)
    assert state(world, repository, digest)["verdict"]["waitingFor"] == ["scan"]
    assert scan_image(world, REGISTRY, repository, digest) is None  # Defender could read it
    sweep()

    assert state(world, repository, digest)["decision"] == "pass"
    assert pull(sandbox, repository, "v1").status_code == 200
    assert pull(sandbox, repository, "latest").status_code == 200
    assert referrer_digests(world, repository, digest) == {signature, sbom}
    assert [e["type"] for e in published(world) if e["subject"].endswith(digest)] == ["ops.gate.passed"]


def test_a_critical_finding_denies_and_the_signature_stays(sandbox: SandboxServer) -> None:
    world = sandbox.world
    repository = "pipe/critical"
    digest, event = push(world, repository, "v1")
    on_push(event)
    signature = sign(world, sandbox, REGISTRY, repository, digest, CI_SIGNER)
    attach_sbom(world, sandbox, repository, digest)
    finding = {
        "cve": "CVE-2024-3094",
        "severity": "Critical",
        "package": "xz-utils",
        "fixed_version": "5.6.1",
    }
    assert scan_image(world, REGISTRY, repository, digest, [finding]) is None
    sweep()

    recorded = state(world, repository, digest)
    assert recorded["decision"] == "deny"
    assert pull(sandbox, repository, "v1").status_code == 405
    assert pull(sandbox, repository, digest).status_code == 405  # the manifest is locked on deny
    assert manifest(world, repository, digest).attrs.read_enabled is False
    assert signature in referrer_digests(world, repository, digest)  # the signature is evidence
    [denied] = [e for e in published(world) if e["subject"].endswith(digest)]
    assert denied["type"] == "ops.gate.denied"
    assert signature in {r["digest"] for r in denied["data"]["evidence"]["referrers"]}
    assert any("CVE-2024-3094" in reason for reason in denied["data"]["reasons"])


def test_a_denied_index_locks_its_platform_images_too(sandbox: SandboxServer) -> None:
    world = sandbox.world
    repository = "pipe/multi"
    amd, amd_event = push(world, repository, None, architecture="amd64")
    arm, arm_event = push(world, repository, None, architecture="arm64")
    index_event = index(world, repository, "v2", [amd, arm])
    digest = index_event["data"]["target"]["digest"]
    for event in (amd_event, index_event, arm_event):
        on_push(event)
    assert not tag_readable(world, repository, "v2")
    assert all(pull(sandbox, repository, d).status_code == 200 for d in (amd, arm))
    sign(world, sandbox, REGISTRY, repository, digest, CI_SIGNER)
    attach_sbom(world, sandbox, repository, digest)
    assert scan_image(world, REGISTRY, repository, amd) is None
    assert (
        scan_image(world, REGISTRY, repository, arm, [{"cve": "CVE-2024-6387", "severity": "Critical"}])
        is None
    )
    sweep()

    assert state(world, repository, digest)["decision"] == "deny"
    assert [manifest(world, repository, d).attrs.read_enabled for d in (digest, amd, arm)] == [False] * 3
    assert pull(sandbox, repository, "v2").status_code == 405


def test_manifest_lock_mode_breaks_signing_and_scanning(sandbox: SandboxServer) -> None:
    world = sandbox.world
    repository = "locked/api"
    digest, event = push(world, repository, "v1", at=LONG_AGO)
    on_push(event)

    with pytest.raises(SubjectUnreadable) as refused:
        attach_referrer(
            sandbox, REGISTRY, repository, digest, NOTATION, b"jws", client_id=CI_SIGNER["clientId"]
        )
    unscanned = scan_image(world, REGISTRY, repository, digest)
    sweep()

    assert refused.value.status == 405 and "REGISTRY_DISALLOWED_OPERATION" in refused.value.body
    assert referrer_digests(world, repository, digest) == set()
    assert unscanned is not None and "readEnabled=false" in unscanned
    recorded = state(world, repository, digest)
    assert recorded["decision"] == "deny"
    assert {"signatures", "scan"} <= set(recorded["verdict"]["waitingFor"])


def test_quarantine_signer_needs_the_quarantine_reader_role(sandbox: SandboxServer) -> None:
    world = sandbox.world
    repository = "qpipe/api"
    digest, event = push(world, repository, "v1", registry=QUARANTINING)
    on_push(event)
    assert state(world, repository, digest, registry=QUARANTINING)["decision"] == "pending"
    assert manifest(world, repository, digest, registry=QUARANTINING).quarantine_state == "Quarantined"

    with pytest.raises(SubjectUnreadable) as refused:
        attach_referrer(
            sandbox, QUARANTINING, repository, digest, NOTATION, b"jws", client_id=CI_SIGNER["clientId"]
        )
    assert refused.value.status == 403 and "IMAGE_QUARANTINED" in refused.value.body
    assert referrer_digests(world, repository, digest, registry=QUARANTINING) == set()
    unscanned = scan_image(world, QUARANTINING, repository, digest)
    assert unscanned is not None and "Azure/acr#499" in unscanned

    signature = sign(world, sandbox, QUARANTINING, repository, digest, QUARANTINE_SIGNER)

    assert state(world, repository, digest, registry=QUARANTINING)["decision"] == "pass"
    assert manifest(world, repository, digest, registry=QUARANTINING).quarantine_state == "Passed"
    assert manifest(world, repository, signature, registry=QUARANTINING).quarantine_state == "Passed"
    assert pull(sandbox, repository, "v1", registry=QUARANTINING).status_code == 200
    assert referrer_digests(world, repository, digest, registry=QUARANTINING) == {signature}
