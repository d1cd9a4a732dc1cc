"""Purge end to end: ``ops invoke purge_schedule`` and ``ops invoke purge_repository`` against
the sandbox, with the work queue on Azurite, through the real adapters and SDKs.

Cases: the run deletes exactly the manifests the policy selects (an old CI image, an
untagged leftover, a signed image with its signature and SBOM, an old multi-arch index
with its children) and keeps every protected one (running by tag and by digest, a
deployment scaled to zero, a cronjob's image, a bare pod's image, a lock, a kept image's
signature, a kept index's children), each kept image by exactly the protection named in
EXPECTED_KEPT (as ``ops purge`` plans it), audits each delete once and records one run
summary; replaying every message deletes and records nothing more; a run with injected
429s and 503s (lists and deletes) converges, after the queue redelivers what failed (at
once: a zero visibility timeout on failure, as the host's setting allows), to the same
state; an invalid policy fails the run (``ops invoke`` exits 1) and is recorded, and
nothing is enqueued or deleted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app
from sandbox.server import SandboxServer
from tests.support.azurite import Azurite, run_azurite
from tests.support.purge import (
    ESTATE,
    EXPECTED_KEPT,
    POLICY,
    REGISTRY,
    digests_by_ref,
    expected_remaining,
    refs_of,
    remember_refs,
)
from tests.support.queues import delete_message, receive_messages, release_message
from tests.support.sandbox import app_sandbox, control

QUEUE = "purge-e2e"
REPOSITORIES = [repo["name"] for repo in ESTATE["registries"][0]["repositories"]]
STARTED = [datetime.now(UTC)]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with run_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite) -> Iterator[SandboxServer]:
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "OPS_DRY_RUN": "false",
        "OPS_PURGE_POLICY": POLICY,
        "OPS_PURGE_QUEUE": f"{QUEUE}-{uuid.uuid4().hex[:12]}",  # Azurite lives for the module: one per test
        "OPS_PURGE_BATCH_SIZE": "2",
        "OPS_MAX_ACTIONS_PER_RUN": "100",
    }
    with app_sandbox(ESTATE, tmp_path, monkeypatch, settings) as server:
        remember_refs(server.world)
        STARTED[0] = datetime.now(UTC)  # Azurite's tables outlive a test: read only this test's audit
        yield server


def ops_invoke(name: str, payload: Any = None) -> Any:
    """``ops invoke NAME [--payload -]``; returns the click result."""
    args = ["invoke", name]
    if payload is not None:
        args += ["--payload", "-"]
    return CliRunner().invoke(app, args, input=None if payload is None else payload)


def drain(*, until_empty: bool = True) -> list[str]:
    """Deliver every queued message to purge_repository, as the host would; a failed one is
    made visible again at once (the host's visibilityTimeout, here 0) and redelivered;
    returns the delivered bodies."""
    from ops.services import get_services

    queue = get_services().purge_queue()
    delivered = []
    for _ in range(20):
        messages = receive_messages(queue, max_messages=32, visibility_timeout=60)
        if not messages:
            break
        for message in messages:
            result = ops_invoke("purge_repository", message.body)
            delivered.append(message.body)
            if result.exit_code == 0:
                delete_message(queue, message)
            else:
                release_message(queue, message, visibility_timeout=0)
        if not until_empty:
            break
    return delivered


def protections_by_ref(world: Any, tmp_path: Path) -> dict[str, set[str]]:
    """What ``ops purge`` (a plan) says keeps each image, by the estate's refs."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = CliRunner().invoke(app, ["purge", "--policy", str(policy), "--output", "json"])
    assert result.exit_code == 0, result.output
    labels = {d: ref for repo in REPOSITORIES for d, ref in digests_by_ref(world, repo).items()}
    out: dict[str, set[str]] = {}
    for guard in json.loads(result.stdout)["protected"]:
        out.setdefault(labels[guard["digest"]], set()).add(guard["protection"])
    return out


def audits(kind: str) -> list[Any]:
    from ops.services import get_services

    records = get_services().store().query_audit(capability="purge", since=STARTED[0], limit=1000)
    return [r for r in records if r.kind == kind]


def test_purge_deletes_what_the_policy_selects_and_keeps_what_is_protected(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # each kept image is kept by the protection the estate was built to show, and by no other
    assert protections_by_ref(sandbox.world, tmp_path) == {ref: {why} for ref, why in EXPECTED_KEPT.items()}
    STARTED[0] = datetime.now(UTC)  # that plan is audited too: count only the run's records
    result = ops_invoke("purge_schedule")
    assert result.exit_code == 0, result.output
    bodies = drain()
    assert len({json.loads(b)["batch"] for b in bodies}) == 2  # 3 repositories, 2 per message
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)
    kept = {ref for refs in refs_of(sandbox.world).values() for ref in refs}
    assert set(EXPECTED_KEPT) <= kept
    deletes = audits("delete_manifest")
    assert len(deletes) == len({a.key for a in deletes}) == 9
    (summary,) = audits("run_summary")
    assert summary.detail["manifests_deleted"] == 9
    assert summary.detail["tags_deleted"] == 4
    assert summary.detail["bytes_reclaimed"] > 0
    assert summary.detail["protected_by_reason"] == {"in-use": 5, "lock": 1, "multi-arch": 2, "referrer": 1}


def test_replayed_messages_change_nothing(sandbox: SandboxServer) -> None:
    assert ops_invoke("purge_schedule").exit_code == 0
    bodies = drain()
    state = refs_of(sandbox.world)
    deletes = len(audits("delete_manifest"))
    control(sandbox, "DELETE", "requests")
    for body in bodies:
        assert ops_invoke("purge_repository", body).exit_code == 0
    assert refs_of(sandbox.world) == state
    assert len(audits("delete_manifest")) == deletes
    assert len(audits("run_summary")) == 1
    log = control(sandbox, "GET", f"requests?service=acr:{REGISTRY}")["requests"]
    assert [r for r in log if r["method"] in ("DELETE", "PATCH")] == []


def test_injected_throttling_and_errors_converge_to_the_same_state(sandbox: SandboxServer) -> None:
    control(
        sandbox,
        "POST",
        "faults",
        [
            {"kind": "throttle", "service": f"acr:{REGISTRY}", "method": "DELETE", "count": 4,
             "retryAfter": 1},
            {"kind": "error", "status": 503, "service": f"acr:{REGISTRY}", "method": "GET",
             "path": "_manifests", "count": 2, "retryAfter": 1},
            # more 503s on one delete than the executor's attempts: the batch fails and is redelivered
            {"kind": "error", "status": 503, "service": f"acr:{REGISTRY}", "method": "DELETE",
             "path": "shop/web", "count": 7, "retryAfter": 1},
        ],
    )  # fmt: skip
    assert ops_invoke("purge_schedule").exit_code == 0
    bodies = drain()
    assert len(bodies) > 2  # at least one batch was delivered again
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)
    deletes = audits("delete_manifest")
    assert len(deletes) == len({a.key for a in deletes}) == 9
    assert len(audits("run_summary")) == 1
    statuses = {r["status"] for r in control(sandbox, "GET", f"requests?service=acr:{REGISTRY}")["requests"]}
    assert {429, 503} <= statuses


def test_invalid_policy_is_rejected_and_nothing_happens(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_PURGE_POLICY", POLICY.replace("olderThan: 30d", "olderThan: 30 dayz"))
    control(sandbox, "DELETE", "requests")
    result = ops_invoke("purge_schedule")
    # The run fails visibly, as a configuration problem (exit 2), in words rather than a class name.
    assert result.exit_code == 2, result.output
    assert "invalid configuration" in result.output and "ConfigError" not in result.output
    (rejected,) = audits("rejected")
    assert (
        'purge.rules[0].olderThan: "30 dayz" is not a duration like 30d or 12h (rule "ci")' in rejected.reason
    )
    assert drain() == []
    log = control(sandbox, "GET", "requests")["requests"]
    assert [r for r in log if r["service"].startswith("acr:")] == []
