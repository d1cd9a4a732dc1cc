"""The gate end to end: ``gate_on_image_pushed`` and ``gate_sweep`` invoked as the Functions host
would (ops.triggers.invoking, host-shaped payloads from Microsoft's ImagePushed sample), against
the sandbox's ACR, ARM, Resource Graph and Event Grid topic, through the real SDKs.

Cases, a pass and a deny for each policy rule:
- severity ceiling (a Medium finding passes under maxSeverity medium, a High one is denied);
- CVE deny list (a listed Low finding is denied, an unlisted Critical one passes under critical);
- CVE exceptions (an active exception passes, an expired one is denied, and says so);
- ignoreUnfixed (a High finding without a fix passes, one with a fix is denied);
- signatures and SBOM by artifact type (notation + SPDX pass; a cosign signature without any
  SBOM stays pending and is denied at the settle timeout);
- annotations and config labels (present and matching pass; a wrong annotation is denied);
- maximum size (a small image passes, a 2 MiB one is denied);
- immutable tags (a first push passes; a re-push of v1.0.0 to a new digest is denied and the
  tag is put back on the first digest);
- settle timeout (deny by default; onTimeout: pass passes);
Then: a late signature (pending, then the signature's own push passes the image); a late scan
(pending until a sweep finds Defender's rows, with one Resource Graph query for many images);
lock mode (denied image cannot be pulled; passed one can); quarantine mode (Quarantined, then
Passed, or Failed with details; a signature pushed to a quarantining registry is released);
audit mode (nothing blocked, verdict published); the CloudEvents schema; replays (the same event
three times, two tags of one digest: one lock, one verdict, one publication); out-of-order
delivery (a signature before its image; an immutable tag's re-push handled before the first
push); a multi-platform index (judged on its platform images, released with them, whatever
order their events come in); dry run (verdicts shown, applied once it is off); other event
types, OCI artifacts that are not images (a Helm chart) and cosign's tag-scheme signatures are
not gated, but an image merely tagged like one is; malformed events are acknowledged and
recorded; transient failures (a registry 503 raises, and the redelivery applies nothing twice; a
Resource Graph 429 fails the sweep, and the next sweep decides); a push whose manifest cannot be
read is recorded as pending first (a 503 raises, and the sweep reads the manifest before it blocks;
a read-disabled repository raises, is recorded as a rejection, and the sweep denies the image at its
settle timeout, fail closed);
``ops invoke`` and ``ops gate`` on the CLI.

Every rule here but the quarantine and audit ones locks the manifest (``mode: lock``), and
Defender's rows are written straight into the World: these cases are about the policy and the
gate's delivery semantics. The default ``lock-tags`` mode, with real signing clients and a
scanner that must read the image, is tests/e2e/test_gate_pipelines.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import function_app
from ops.cli import app as cli
from ops.errors import PermanentError, TransientError
from ops.services import get_services, reset_services
from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from tests.support.gate import (
    COSIGN,
    CYCLONEDX,
    ESTATE,
    NOTATION,
    QUARANTINING,
    REGISTRY,
    SPDX,
    attach,
    audit,
    index,
    manifest,
    published,
    pull,
    push,
    pushed_event,
    retag,
    scanned,
    tag_target,
)
from tests.support.sandbox import connect_local_app, control, running_sandbox

NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()
LONG_AGO = datetime.now(UTC) - timedelta(hours=2)

POLICY = f"""
gate:
  rules:
    - name: quarantined
      registry: {QUARANTINING}
      mode: quarantine
      requireScan: false
      signatures: [notation]
    - {{name: severity, repository: 'sev/.*', mode: lock, maxSeverity: medium}}
    - {{name: denylist, repository: 'deny/.*', mode: lock, maxSeverity: critical, denyCves: [CVE-2024-3094]}}
    - name: exceptions
      repository: 'exc/.*'
      mode: lock
      maxSeverity: low
      cveExceptions:
        - {{cve: CVE-2024-1111, expires: {NEXT_YEAR}, reason: vendor patch due next sprint}}
        - {{cve: CVE-2024-2222, expires: 2024-01-31, reason: accepted for the Q4 release}}
    - {{name: unfixed, repository: 'unfixed/.*', mode: lock, maxSeverity: low, ignoreUnfixed: true}}
    - name: signed
      repository: 'signed/.*'
      mode: lock
      requireScan: false
      signatures: [notation, cosign]
      sbom: [spdx, cyclonedx]
    - name: annotated
      repository: 'annotated/.*'
      mode: lock
      requireScan: false
      annotations: {{org.opencontainers.image.source: 'https://github\\.com/contoso/.+'}}
      labels: [maintainer]
    - {{name: size, repository: 'size/.*', mode: lock, requireScan: false, maxSize: 1MiB}}
    - name: immutable
      repository: 'release/.*'
      mode: lock
      requireScan: false
      immutableTags: ['v\\d+\\.\\d+\\.\\d+']
    - {{name: lenient, repository: 'lenient/.*', mode: lock, settleTimeout: 10m, onTimeout: pass}}
    - {{name: audit, repository: 'audit/.*', mode: audit}}
    - {{name: default, registry: {REGISTRY}, mode: lock, signatures: [notation], settleTimeout: 30m}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("gate")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_local_app(server, monkeypatch, tmp_path, {"OPS_GATE_POLICY": POLICY})
    control(server, "DELETE", "faults")
    with server.world.lock:
        server.world.published.clear()
    return server


def invoke(name: str, payload: Any = None) -> Any:
    return invoke_function(function_app.app, name, payload)


def sweep() -> None:
    invoke("gate_sweep", {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False})


def record(world: Any, repository: str, digest: str, *, registry: str = REGISTRY) -> dict[str, Any]:
    login = world.registries[registry].login_server
    found = get_services().store().get_record("gate-images", f"{login}/{repository}@{digest}")
    assert found is not None, f"no gate record for {repository}@{digest}"
    return dict(found.value)


def decision(world: Any, repository: str, digest: str, *, registry: str = REGISTRY) -> str:
    return str(record(world, repository, digest, registry=registry)["decision"])


def verdicts(world: Any, digest: str) -> list[str]:
    return [e["type"] for e in published(world) if e["subject"].endswith(digest)]


def checks(world: Any, repository: str, digest: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for check in record(world, repository, digest)["verdict"]["checks"]:
        out.setdefault(check["check"], []).append(f"{check['result']}: {check['message']}")
    return out


def gate_push(world: Any, repository: str, tag: str | None = "v1", **options: Any) -> str:
    digest, event = push(world, repository, tag, **options)
    invoke("gate_on_image_pushed", event)
    return digest


# ------------------------------------------------------------------------------ policy rules


@pytest.mark.parametrize(
    ("repository", "finding", "expected"),
    [
        ("sev/ok", {"cve": "CVE-2024-5001", "severity": "Medium"}, "pass"),
        ("sev/bad", {"cve": "CVE-2024-5002", "severity": "High", "fixed_version": "3.0.9"}, "deny"),
        ("deny/listed", {"cve": "CVE-2024-3094", "severity": "Low", "package": "xz-utils"}, "deny"),
        ("deny/other", {"cve": "CVE-2024-5003", "severity": "Critical"}, "pass"),
        ("exc/active", {"cve": "CVE-2024-1111", "severity": "High"}, "pass"),
        ("exc/expired", {"cve": "CVE-2024-2222", "severity": "High"}, "deny"),
        (
            "unfixed/nofix",
            {"cve": "CVE-2024-5004", "severity": "High", "fix_status": "NoFixAvailable"},
            "pass",
        ),
        (
            "unfixed/fixable",
            {"cve": "CVE-2024-5005", "severity": "High", "fix_status": "FixAvailable"},
            "deny",
        ),
    ],
)
def test_scan_rules_pass_or_deny(
    sandbox: SandboxServer, repository: str, finding: dict, expected: str
) -> None:
    world = sandbox.world
    digest = gate_push(world, repository)
    assert decision(world, repository, digest) == "pending"
    assert manifest(world, repository, digest).attrs.read_enabled is False
    scanned(world, repository, digest, finding)
    sweep()
    assert decision(world, repository, digest) == expected
    assert manifest(world, repository, digest).attrs.read_enabled is (expected == "pass")
    assert verdicts(world, digest) == [f"ops.gate.{'passed' if expected == 'pass' else 'denied'}"]
    found = checks(world, repository, digest)
    if repository == "exc/active":
        assert "vendor patch due next sprint" in found["exception"][0]
    if repository == "exc/expired":
        assert "exception expired" in found["cve"][0]
    if repository == "deny/listed":
        assert found["cve"] == ["deny: CVE-2024-3094 is on the deny list (Low, xz-utils, fix: FixAvailable)"]


def test_signatures_and_sbom_pass(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest = gate_push(world, "signed/app")
    found = checks(world, "signed/app", digest)
    assert found["signatures"][0].startswith("wait") and found["sbom"][0].startswith("wait")
    assert found["scan"] == ["note: not required by the rule, and not reported yet"]
    invoke("gate_on_image_pushed", attach(world, "signed/app", digest, NOTATION))
    assert decision(world, "signed/app", digest) == "pending"  # the SBOM is still missing
    invoke("gate_on_image_pushed", attach(world, "signed/app", digest, SPDX))
    assert decision(world, "signed/app", digest) == "pass"
    assert manifest(world, "signed/app", digest).attrs.read_enabled is True


def test_missing_sbom_is_denied_at_the_settle_timeout(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "signed/nosbom", "v1", at=LONG_AGO)
    attach(world, "signed/nosbom", digest, COSIGN)  # signed, but no SBOM ever arrives
    invoke("gate_on_image_pushed", event)
    assert decision(world, "signed/nosbom", digest) == "deny"
    found = checks(world, "signed/nosbom", digest)
    assert found["signatures"][0].startswith("ok: found " + COSIGN)
    assert found["sbom"][0].startswith(f"wait: needs one of {SPDX}, {CYCLONEDX}")
    assert "settle timeout of 30m" in found["settle"][0]
    assert manifest(world, "signed/nosbom", digest).attrs.read_enabled is False


@pytest.mark.parametrize(
    ("annotations", "labels", "expected", "problem"),
    [
        (
            {"org.opencontainers.image.source": "https://github.com/contoso/api"},
            {"maintainer": "a@b"},
            "pass",
            "",
        ),
        (
            {"org.opencontainers.image.source": "https://example.com/x"},
            {"maintainer": "a@b"},
            "deny",
            "does not match",
        ),
        (
            {"org.opencontainers.image.source": "https://github.com/contoso/api"},
            {},
            "deny",
            "label maintainer is missing",
        ),
    ],
)
def test_annotations_and_labels(
    sandbox: SandboxServer, annotations: dict, labels: dict, expected: str, problem: str
) -> None:
    world = sandbox.world
    repository = f"annotated/{expected}{len(problem)}"
    digest, event = push(world, repository, "v1", annotations=annotations)
    if labels:
        _set_labels(world, repository, digest, labels)
    invoke("gate_on_image_pushed", event)
    assert decision(world, repository, digest) == expected
    assert problem in json.dumps(record(world, repository, digest)["verdict"])


def _set_labels(world: Any, repository: str, digest: str, labels: dict) -> None:
    """Give the pushed image's config blob these labels (the in-process push writes none)."""
    target = manifest(world, repository, digest)
    assert target.config is not None
    registry = world.registries[REGISTRY]
    config = json.loads(registry.blobs[target.config[0]])
    config["config"] = {"Labels": labels}
    with world.lock:
        registry.blobs[target.config[0]] = json.dumps(config).encode()


@pytest.mark.parametrize(("size", "expected"), [(4096, "pass"), (2 * 1024 * 1024, "deny")])
def test_maximum_size(sandbox: SandboxServer, size: int, expected: str) -> None:
    world = sandbox.world
    repository = f"size/{expected}"
    digest = gate_push(world, repository, layers=[b"x" * size])
    assert decision(world, repository, digest) == expected
    assert checks(world, repository, digest)["size"][0].startswith("ok" if expected == "pass" else "deny")


def test_immutable_tag_repush_is_denied_and_the_tag_put_back(sandbox: SandboxServer) -> None:
    world = sandbox.world
    first = gate_push(world, "release/api", "v1.0.0")
    assert decision(world, "release/api", first) == "pass"
    second = gate_push(world, "release/api", "v1.0.0", layers=[b"another build"])
    assert second != first
    assert decision(world, "release/api", second) == "deny"
    assert tag_target(world, "release/api", "v1.0.0") == first
    assert "tag v1.0.0 is immutable" in checks(world, "release/api", second)["immutable-tag"][0]
    assert manifest(world, "release/api", second).attrs.read_enabled is False
    # A mutable tag may move freely.
    third = gate_push(world, "release/api", "latest", layers=[b"third"])
    fourth = gate_push(world, "release/api", "latest", layers=[b"fourth"])
    assert decision(world, "release/api", third) == decision(world, "release/api", fourth) == "pass"
    restores = [r for r in audit(get_services().store(), "gate.restore_tag")]
    assert len(restores) == 1


@pytest.mark.parametrize(("repository", "expected"), [("sev/slow", "deny"), ("lenient/slow", "pass")])
def test_settle_timeout(sandbox: SandboxServer, repository: str, expected: str) -> None:
    world = sandbox.world
    digest, event = push(world, repository, "v1", at=LONG_AGO)
    invoke("gate_on_image_pushed", event)  # nothing is known yet, but the window is long over
    assert decision(world, repository, digest) == expected
    assert "while waiting for scan" in checks(world, repository, digest)["settle"][0]


# ------------------------------------------------------------------------------ late evidence


def test_late_signature_passes_a_pending_image(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest = gate_push(world, "web/late-signature")
    scanned(world, "web/late-signature", digest)
    sweep()
    assert decision(world, "web/late-signature", digest) == "pending"
    assert record(world, "web/late-signature", digest)["verdict"]["waitingFor"] == ["signatures"]
    assert pull(sandbox, "web/late-signature", digest).status_code == 405
    invoke("gate_on_image_pushed", attach(world, "web/late-signature", digest, NOTATION))
    assert decision(world, "web/late-signature", digest) == "pass"
    assert pull(sandbox, "web/late-signature", "v1").status_code == 200


def test_late_scan_is_read_in_one_query_for_many_images(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digests = [gate_push(world, f"sev/many{i}") for i in range(6)]
    sweep()
    assert {decision(world, f"sev/many{i}", d) for i, d in enumerate(digests)} == {"pending"}
    for number, digest in enumerate(digests):
        finding = {"cve": "CVE-2024-6000", "severity": "Critical"} if number % 2 else {}
        scanned(world, f"sev/many{number}", digest, *([finding] if finding else []))
    before = sum(1 for r in world.requests if r.service == "graph")
    sweep()
    assert sum(1 for r in world.requests if r.service == "graph") == before + 1
    assert [decision(world, f"sev/many{i}", d) for i, d in enumerate(digests)] == ["pass", "deny"] * 3


# ------------------------------------------------------------------------------ modes


def test_lock_mode_denied_image_cannot_be_pulled(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest = gate_push(world, "sev/locked", "v2")
    assert pull(sandbox, "sev/locked", "v2").status_code == 405
    scanned(world, "sev/locked", digest, {"cve": "CVE-2024-7000", "severity": "Critical"})
    sweep()
    assert decision(world, "sev/locked", digest) == "deny"
    response = pull(sandbox, "sev/locked", "v2")
    assert response.status_code == 405 and "REGISTRY_DISALLOWED_OPERATION" in response.text


def test_quarantine_mode_passes_and_fails_with_details(sandbox: SandboxServer) -> None:
    world = sandbox.world
    good, event = push(world, "svc/api", "v1", registry=QUARANTINING)
    invoke("gate_on_image_pushed", event)
    image = manifest(world, "svc/api", good, registry=QUARANTINING)
    assert image.quarantine_state == "Quarantined" and image.attrs.read_enabled is True
    signature = attach(world, "svc/api", good, NOTATION, registry=QUARANTINING)
    invoke("gate_on_image_pushed", signature)
    assert image.quarantine_state == "Passed"
    sig_digest = signature["data"]["target"]["digest"]
    assert manifest(world, "svc/api", sig_digest, registry=QUARANTINING).quarantine_state == "Passed"
    bad, event = push(world, "svc/api", "v2", registry=QUARANTINING, at=LONG_AGO)
    invoke("gate_on_image_pushed", event)
    denied = manifest(world, "svc/api", bad, registry=QUARANTINING)
    assert denied.quarantine_state == "Failed"
    details = json.loads(denied.quarantine_details or "{}")
    assert details["verdict"] == "deny" and any("settle timeout" in r for r in details["reasons"])


def test_audit_mode_blocks_nothing_and_publishes(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest = gate_push(world, "audit/app")
    assert manifest(world, "audit/app", digest).attrs.read_enabled is True
    scanned(world, "audit/app", digest, {"cve": "CVE-2024-8000", "severity": "Critical"})
    sweep()
    assert decision(world, "audit/app", digest) == "deny"
    assert manifest(world, "audit/app", digest).attrs.read_enabled is True
    event = next(e for e in published(world) if e["subject"].endswith(digest))
    assert event["type"] == "ops.gate.denied" and event["data"]["mode"] == "audit"
    assert event["data"]["evidence"]["scan"]["findings"][0]["cve"] == "CVE-2024-8000"


def test_cloudevents_schema_is_gated_too(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/cloud", "v1", schema="cloudevents")
    assert event["specversion"] == "1.0"
    invoke("gate_on_image_pushed", event)
    assert decision(world, "sev/cloud", digest) == "pending"
    assert manifest(world, "sev/cloud", digest).attrs.read_enabled is False


def test_an_index_is_judged_on_its_platform_images_and_releases_them(sandbox: SandboxServer) -> None:
    world = sandbox.world
    amd, amd_event = push(world, "web/multi", None, architecture="amd64")
    arm, arm_event = push(world, "web/multi", None, architecture="arm64")
    index_event = index(world, "web/multi", "v3", [amd, arm])
    index_digest = index_event["data"]["target"]["digest"]
    invoke("gate_on_image_pushed", amd_event)
    invoke("gate_on_image_pushed", index_event)
    invoke("gate_on_image_pushed", arm_event)  # a platform image's event may come last
    for digest in (amd, arm, index_digest):
        assert manifest(world, "web/multi", digest).attrs.read_enabled is False
    scanned(world, "web/multi", amd)
    invoke("gate_on_image_pushed", attach(world, "web/multi", index_digest, NOTATION))
    sweep()
    assert record(world, "web/multi", index_digest)["verdict"]["checks"][-1]["message"].startswith(
        f"Defender has not reported on {arm}"
    )
    scanned(world, "web/multi", arm)
    sweep()
    assert [decision(world, "web/multi", d) for d in (index_digest, amd, arm)] == ["pass"] * 3
    assert all(manifest(world, "web/multi", d).attrs.read_enabled for d in (index_digest, amd, arm))
    assert pull(sandbox, "web/multi", "v3").status_code == 200
    assert verdicts(world, index_digest) == ["ops.gate.passed"]


def test_dry_run_shows_verdicts_and_applies_them_once_off(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sandbox.world
    monkeypatch.setenv("OPS_DRY_RUN", "true")
    reset_services()
    digest, event = push(world, "sev/rehearsal", "v1")
    invoke("gate_on_image_pushed", event)
    scanned(world, "sev/rehearsal", digest, {"cve": "CVE-2024-9100", "severity": "Critical"})
    sweep()
    assert manifest(world, "sev/rehearsal", digest).attrs.read_enabled is True
    stored = record(world, "sev/rehearsal", digest)
    assert stored["decision"] == "pending" and stored["verdict"]["decision"] == "deny"
    assert audit(get_services().store()) == [] and published(world) == []
    monkeypatch.setenv("OPS_DRY_RUN", "false")
    reset_services()
    sweep()
    assert decision(world, "sev/rehearsal", digest) == "deny"
    assert manifest(world, "sev/rehearsal", digest).attrs.read_enabled is False


# ------------------------------------------------------------------------------ idempotency


def test_replays_and_two_tags_act_once(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/replayed", "v1")
    for _ in range(3):
        invoke("gate_on_image_pushed", event)
    invoke("gate_on_image_pushed", retag(world, "sev/replayed", digest, "stable"))  # a second tag, one digest
    scanned(world, "sev/replayed", digest)
    sweep()
    sweep()
    for _ in range(2):
        invoke("gate_on_image_pushed", event)
    store = get_services().store()
    kinds = [r.kind for r in audit(store)]
    assert sorted(kinds) == ["gate.lock", "gate.publish", "gate.record", "gate.unlock"]
    assert record(world, "sev/replayed", digest)["tags"] == ["v1", "stable"]
    assert verdicts(world, digest) == ["ops.gate.passed"]


def test_out_of_order_signature_before_its_image(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, image_event = push(world, "web/ooo", "v1")
    signature = attach(world, "web/ooo", digest, NOTATION)
    invoke("gate_on_image_pushed", signature)  # the subject is not gated yet: nothing to do
    scanned(world, "web/ooo", digest)
    invoke("gate_on_image_pushed", image_event)
    assert decision(world, "web/ooo", digest) == "pending"  # the push handler never queries Resource Graph
    sweep()
    assert decision(world, "web/ooo", digest) == "pass"


def test_out_of_order_immutable_tag_events(sandbox: SandboxServer) -> None:
    world = sandbox.world
    earlier = datetime.now(UTC) - timedelta(minutes=2)
    first, first_event = push(world, "release/web", "v2.0.0", at=earlier)
    second, second_event = push(world, "release/web", "v2.0.0", layers=[b"rebuilt"])
    invoke("gate_on_image_pushed", second_event)  # the re-push's event arrives first
    assert decision(world, "release/web", second) == "pass"
    invoke("gate_on_image_pushed", first_event)
    assert decision(world, "release/web", first) == "pass"
    assert decision(world, "release/web", second) == "deny"
    assert tag_target(world, "release/web", "v2.0.0") == first
    assert verdicts(world, second) == ["ops.gate.passed", "ops.gate.denied"]


def test_other_events_and_non_images_are_ignored_and_malformed_events_recorded(
    sandbox: SandboxServer,
) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/others", "v1")
    deleted = dict(event, eventType="Microsoft.ContainerRegistry.ImageDeleted")
    invoke("gate_on_image_pushed", deleted)
    validation = json.loads(
        (Path(__file__).parents[1] / "fixtures/events/subscription_validation.json").read_text()
    )
    invoke("gate_on_image_pushed", validation)
    broken = json.loads(json.dumps(event))
    broken["data"]["target"]["digest"] = "sha256:not-a-digest"
    invoke("gate_on_image_pushed", broken)  # acknowledged: it returns normally
    helm = "application/vnd.cncf.helm.config.v1+json"
    chart, chart_event = push(world, "sev/charts", "1.2.0", artifact_type=helm)
    invoke("gate_on_image_pushed", chart_event)  # an OCI artifact, not an image
    legacy, legacy_event = _push_cosign_signature(world, "sev/others", digest)
    invoke("gate_on_image_pushed", legacy_event)  # cosign's tag-scheme signature
    store = get_services().store()
    login = world.registries[REGISTRY].login_server
    for repository, pushed in (("sev/others", digest), ("sev/charts", chart), ("sev/others", legacy)):
        assert store.get_record("gate-images", f"{login}/{repository}@{pushed}") is None
        assert manifest(world, repository, pushed).attrs.read_enabled is True
    rejected = audit(store, "rejected")
    assert len(rejected) == 1 and "data.target.digest" in rejected[0].reason


def _push_cosign_signature(world: Any, repository: str, subject: str) -> tuple[str, dict[str, Any]]:
    """What ``cosign sign`` pushes without OCI 1.1 referrers: a simple-signing layer under the
    tag ``sha256-<hex>.sig``."""
    from sandbox.acr import artifacts, media
    from sandbox.acr.events import Caller

    target = world.registries[REGISTRY]
    payload = json.dumps({"critical": {"image": {"docker-manifest-digest": subject}}}).encode()
    config = b"{}"
    for blob in (payload, config):
        artifacts.store_blob(world, target, blob)
    content = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": media.compute_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": media.compute_digest(payload),
                    "size": len(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="},
                }
            ],
        }
    ).encode()
    tag = f"sha256-{subject[7:]}.sig"
    caller = Caller.in_process(target, "PUT")
    pushed = artifacts.put_manifest(
        world, target, repository, tag, content, media.OCI_MANIFEST, caller=caller
    )
    return pushed.manifest.digest, pushed_event(world, REGISTRY, repository, pushed.manifest.digest, tag)


def test_an_image_merely_tagged_like_a_cosign_signature_is_gated(sandbox: SandboxServer) -> None:
    world = sandbox.world
    subject, _ = push(world, "sev/lookalike", "v1")
    fake, event = push(world, "sev/lookalike", f"sha256-{subject[7:]}.sig")  # ordinary layers
    invoke("gate_on_image_pushed", event)
    store = get_services().store()
    login = world.registries[REGISTRY].login_server
    assert store.get_record("gate-images", f"{login}/sev/lookalike@{fake}") is not None
    assert manifest(world, "sev/lookalike", fake).attrs.read_enabled is False


def test_a_registry_503_raises_and_the_redelivery_applies_nothing_twice(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/flaky", "v1")
    control(sandbox, "POST", "faults", {"kind": "error", "service": f"acr:{REGISTRY}", "method": "PATCH",
                                        "status": 503, "count": 3, "retryAfter": 0})  # fmt: skip
    with pytest.raises(TransientError):
        invoke("gate_on_image_pushed", event)
    assert manifest(world, "sev/flaky", digest).attrs.read_enabled is True
    invoke("gate_on_image_pushed", event)  # Event Grid redelivers the same event
    invoke("gate_on_image_pushed", event)
    assert manifest(world, "sev/flaky", digest).attrs.read_enabled is False
    assert len(audit(get_services().store(), "gate.lock")) == 1


def test_a_push_whose_manifest_read_fails_is_recorded_and_the_sweep_reads_it(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/unread", "v1")
    unavailable = {"kind": "error", "service": f"acr:{REGISTRY}", "method": "GET", "path": "/manifests/",
                   "status": 503, "count": 20, "retryAfter": 0}  # fmt: skip
    control(sandbox, "POST", "faults", unavailable)
    with pytest.raises(TransientError):
        invoke("gate_on_image_pushed", event)
    pending = record(world, "sev/unread", digest)  # recorded before the read that failed
    assert (pending["decision"], pending["manifest"], pending["tags"]) == ("pending", None, ["v1"])
    assert manifest(world, "sev/unread", digest).attrs.read_enabled is True  # not blocked unread
    control(sandbox, "DELETE", "faults")
    sweep()  # Event Grid has not redelivered yet: the sweep reads the manifest, then blocks
    swept = record(world, "sev/unread", digest)
    assert swept["manifest"]["size"] > 0 and swept["blocked"] is True
    assert manifest(world, "sev/unread", digest).attrs.read_enabled is False
    invoke("gate_on_image_pushed", event)  # the redelivery finishes with the manifest on record
    assert len(audit(get_services().store(), "gate.lock")) == 1
    scanned(world, "sev/unread", digest, {"cve": "CVE-2024-5006", "severity": "Low"})
    sweep()
    assert decision(world, "sev/unread", digest) == "pass"
    assert manifest(world, "sev/unread", digest).attrs.read_enabled is True


def test_an_unreadable_push_fails_until_dead_lettered_and_is_denied_at_its_timeout(
    sandbox: SandboxServer,
) -> None:
    world = sandbox.world
    digest, event = push(world, "plain/readlocked", "v1", at=LONG_AGO)
    with world.lock:  # a repository someone read-locked: ACR refuses every manifest read
        world.registries[REGISTRY].repositories["plain/readlocked"].attrs.read_enabled = False
    for _ in range(2):  # Event Grid retries for up to 24 h, then dead-letters
        with pytest.raises(PermanentError):
            invoke("gate_on_image_pushed", event)
    (rejected,) = audit(get_services().store(), "rejected")
    assert rejected.target == "gate_on_image_pushed" and "plain/readlocked" in rejected.reason
    assert decision(world, "plain/readlocked", digest) == "pending"
    sweep()  # still unreadable: judged without the manifest, and its settle timeout has passed
    assert decision(world, "plain/readlocked", digest) == "deny"
    assert record(world, "plain/readlocked", digest)["blocked"] is True
    assert manifest(world, "plain/readlocked", digest).attrs.read_enabled is False


def test_a_resource_graph_429_fails_the_sweep_and_the_next_one_decides(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest = gate_push(world, "sev/throttled")
    scanned(world, "sev/throttled", digest)
    # azure-core retries a status three times, honouring Retry-After, before it gives up.
    control(sandbox, "POST", "faults", {"kind": "throttle", "service": "graph", "count": 4, "retryAfter": 1})
    with pytest.raises(TransientError):
        sweep()
    assert decision(world, "sev/throttled", digest) == "pending"
    assert not control(sandbox, "GET", "faults")["faults"]  # every throttled attempt was used up
    sweep()
    assert decision(world, "sev/throttled", digest) == "pass"
    assert len(audit(get_services().store(), "gate.unlock")) == 1


# ------------------------------------------------------------------------------ CLI


def test_ops_invoke_and_ops_gate_commands(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/cli", "v7")
    runner = CliRunner()
    result = runner.invoke(cli, ["invoke", "gate_on_image_pushed", "--payload", "-"], input=json.dumps(event))
    assert result.exit_code == 0, result.output
    pending = runner.invoke(cli, ["gate", "pending", "--output", "json"])
    rows = json.loads(pending.output)
    row = next(r for r in rows if r["image"].endswith(digest))
    assert row["waitingFor"] == ["scan"] and row["tags"] == ["v7"] and row["blocked"] is True
    scanned(world, "sev/cli", digest, {"cve": "CVE-2024-9000", "severity": "High", "package": "openssl"})
    checked = runner.invoke(cli, ["gate", "check", f"{REGISTRY}/sev/cli:v7", "--output", "json"])
    assert checked.exit_code == 4, checked.output  # deny: a CI step stops here
    body = json.loads(checked.output)
    assert body["verdict"]["decision"] == "deny" and body["recorded"]["decision"] == "pending"
    assert body["evidence"]["scan"]["findings"][0]["cve"] == "CVE-2024-9000"
    table = runner.invoke(cli, ["gate", "check", f"{REGISTRY}/sev/cli@{digest}", "--apply"])
    assert table.exit_code == 4 and "CVE-2024-9000" in table.output and "deny" in table.output
    assert decision(world, "sev/cli", digest) == "deny"
