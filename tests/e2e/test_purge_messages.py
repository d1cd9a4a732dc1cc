"""What purge must not trust, end to end: ``ops invoke purge_schedule`` and ``ops invoke
purge_repository`` with host-shaped queue bodies against the sandbox, the queue on Azurite.

Cases: a real message from ``purge_schedule``, changed in one way each (the registry
name to one the run did not snapshot, the login server to ``127.0.0.1:1``, the
registry id to another registry's, the batch number, the repositories, the run id), is
rejected (``ops invoke`` exits 0: acknowledged), recorded once as a rejection naming
the field, and sends no request at all to a registry: nothing is read, no token is
asked for, nothing is deleted; afterwards the untampered messages still purge exactly
what the policy selects.

Also: bodies that used to crash (nesting 100,000 deep, a lone surrogate in a repository
name, ``../../v2/_catalog``, a 40 KB name) are rejected by ``ops invoke purge_repository``
with exit 0, recorded once, and send nothing to a registry.

Also: images that workloads name through another endpoint of the registry (a replica's
regional endpoint ``<name>.westeurope.geo.azurecr.io``, a data endpoint ARM reports,
upper case, ``:443``) are protected as in use, like the login server's spelling.
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
from tests.support.purge import ESTATE, POLICY, expected_remaining, refs_of, remember_refs
from tests.support.queues import delete_message, receive_messages
from tests.support.sandbox import app_sandbox, control

# The support policy, for every registry: a message naming another registry is planned by a rule.
ANY_REGISTRY_POLICY = POLICY.replace("      registry: contosopurge\n", "")
OTHER_ID = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoprod2"  # noqa: E501


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with run_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite) -> Iterator[SandboxServer]:
    assert ANY_REGISTRY_POLICY != POLICY
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "OPS_DRY_RUN": "false",
        "OPS_PURGE_POLICY": ANY_REGISTRY_POLICY,
        "OPS_PURGE_QUEUE": f"purge-msg-{uuid.uuid4().hex[:12]}",
        "OPS_PURGE_BATCH_SIZE": "2",
        "OPS_MAX_ACTIONS_PER_RUN": "100",
    }
    with app_sandbox(ESTATE, tmp_path, monkeypatch, settings) as server:
        remember_refs(server.world)
        yield server


@pytest.fixture
def spelled_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> Iterator[SandboxServer]:
    """The support estate, geo-replicated with data endpoints, and workloads that name three
    images through endpoints other than the login server."""
    estate = json.loads(json.dumps(ESTATE))
    estate["registries"][0].update(replications=[{"location": "westeurope"}], dataEndpointEnabled=True)
    spellings = {
        "geo": "contosopurge.westeurope.geo.azurecr.io/shop/api:ci-100",
        "data": "CONTOSOPURGE.eastus2.data.azurecr.io/shop/web:ci-301",
        "port": "contosopurge.eastus2.geo.azurecr.io:443/shop/api:ci-104",
    }
    estate["clusters"][0]["deployments"] += [
        {"name": name, "namespace": "shop", "containers": [image]} for name, image in spellings.items()
    ]
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "OPS_DRY_RUN": "false",
        "OPS_PURGE_POLICY": POLICY,
        "OPS_PURGE_QUEUE": f"purge-msg-{uuid.uuid4().hex[:12]}",
        "OPS_MAX_ACTIONS_PER_RUN": "100",
    }
    with app_sandbox(estate, tmp_path, monkeypatch, settings) as server:
        remember_refs(server.world)
        yield server


def ops_invoke(name: str, payload: str | None = None) -> Any:
    args = ["invoke", name] + (["--payload", "-"] if payload is not None else [])
    return CliRunner().invoke(app, args, input=payload)


def scheduled_messages() -> list[Any]:
    from ops.services import get_services

    assert ops_invoke("purge_schedule").exit_code == 0
    return receive_messages(get_services().purge_queue(), max_messages=32, visibility_timeout=60)


def rejections(since: datetime) -> list[Any]:
    from ops.services import get_services

    records = get_services().store().query_audit(capability="purge", since=since, limit=1000)
    return [r for r in records if r.kind == "rejected"]


def change(body: dict[str, Any], how: str, other: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    registry = copy["registry"]
    match how:
        case "registry.name":
            registry["name"] = "contosoprod2"
        case "registry.loginServer":
            registry["loginServer"] = "127.0.0.1:1"
        case "registry.id":
            registry["id"] = OTHER_ID
        case "batch":
            copy["batch"] = 99
        case "repositories":
            copy["repositories"] = other["repositories"]
        case "run":
            copy["run"] = "20261126T030000Z-00000000"
    return copy


CHANGES = {
    "registry.name": "registry.name",
    "registry.loginServer": "registry.loginServer",
    "registry.id": "registry.id",
    "batch": "batch",
    "repositories": "repositories",
    "run": "run",
}


def test_a_message_unlike_what_the_run_enqueued_is_rejected_and_touches_no_registry(
    sandbox: SandboxServer,
) -> None:
    from ops.services import get_services

    messages = scheduled_messages()
    assert len(messages) == 2
    first, second = (json.loads(m.body) for m in messages)
    before = refs_of(sandbox.world)
    since = datetime.now(UTC)
    control(sandbox, "DELETE", "requests")
    for how, path in CHANGES.items():
        result = ops_invoke("purge_repository", json.dumps(change(first, how, second)))
        assert result.exit_code == 0, (how, result.output)  # acknowledged: redelivery cannot help
        again = ops_invoke("purge_repository", json.dumps(change(first, how, second)))
        assert again.exit_code == 0
        reasons = [r.reason for r in rejections(since) if f"invalid input: {path}:" in r.reason]
        assert len(reasons) == 1, (how, [r.reason for r in rejections(since)])  # recorded once
    log = control(sandbox, "GET", "requests")["requests"]
    assert [r for r in log if r["service"].startswith("acr:")] == []  # no read, no token, no delete
    assert refs_of(sandbox.world) == before

    queue = get_services().purge_queue()
    for message in messages:  # the real messages still do their job
        assert ops_invoke("purge_repository", message.body).exit_code == 0
        delete_message(queue, message)
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)


def test_images_named_through_other_endpoints_of_the_registry_are_in_use(
    spelled_sandbox: SandboxServer,
) -> None:
    from ops.services import get_services

    queue = get_services().purge_queue()
    for message in scheduled_messages():
        assert ops_invoke("purge_repository", message.body).exit_code == 0
        delete_message(queue, message)
    remaining = refs_of(spelled_sandbox.world)
    assert {"old-ci", "signed-ci", "signed-ci-sig", "signed-ci-sbom"} <= remaining["shop/api"]
    assert "web-old" in remaining["shop/web"]
    expected = expected_remaining(spelled_sandbox.world)
    expected["shop/api"] |= {"old-ci", "signed-ci", "signed-ci-sig", "signed-ci-sbom"}
    expected["shop/web"] |= {"web-old"}
    assert remaining == expected  # everything else is purged as before


def test_bodies_that_crashed_are_rejected_and_recorded_once(sandbox: SandboxServer) -> None:
    (message, *_) = scheduled_messages()
    body = json.loads(message.body)
    since = datetime.now(UTC)
    control(sandbox, "DELETE", "requests")
    hostile = {
        "<root>": "[" * 100_000 + "]" * 100_000,
        "repositories[0]": message.body.replace(body["repositories"][0], "\\ud800", 1),
        "repositories[1]": json.dumps(
            {**body, "repositories": [body["repositories"][0], "../../v2/_catalog"]}
        ),
        "repositories[0]:long": json.dumps({**body, "repositories": ["x" * 40_000]}),
    }
    for path, payload in hostile.items():
        for _ in range(2):
            result = ops_invoke("purge_repository", payload)
            assert result.exit_code == 0, (path, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
        field = path.split(":")[0]
        assert [r for r in rejections(since) if f"invalid input: {field}:" in r.reason], path
    assert len(rejections(since)) == len(hostile)  # each once, though delivered twice
    log = control(sandbox, "GET", "requests")["requests"]
    assert [r for r in log if r["service"].startswith("acr:")] == []
