"""The sandbox's Event Grid topic, driven by the real azure-eventgrid publisher client.

Cases:
- CloudEvents sent by ``EventGridPublisherClient`` with a managed-identity token are
  accepted (200) and recorded in ``World.published`` with their topic, in order, and the
  request is logged as the "eventgrid" service; the env file names the topic endpoint;
- a token for another audience (ARM) is refused with 401, as Event Grid does;
- Event Grid-schema events, a CloudEvent with the wrong specversion or without a source,
  a bad ``time``, a missing api-version, and a body over 1 MB are refused (400/413), and
  nothing is recorded.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridPublisherClient
from azure.identity import ManagedIdentityCredential

from sandbox.eventgrid import topic_endpoint
from sandbox.server import SandboxServer
from tests.support.sandbox import ARM_SCOPE, minimal_estate, serve_sandbox

EVENTGRID_SCOPE = "https://eventgrid.azure.net/.default"


@pytest.fixture(scope="module")
def topic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_sandbox(minimal_estate(), tmp_path_factory.mktemp("eventgrid")) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(topic: SandboxServer) -> None:
    with topic.world.lock:
        topic.world.published.clear()


BATCH = "application/cloudevents-batch+json; charset=utf-8"


def post(
    server: SandboxServer,
    body: Any,
    *,
    scope: str = EVENTGRID_SCOPE,
    query: str = "?api-version=2018-01-01",
    content_type: str = BATCH,
) -> int:
    token = ManagedIdentityCredential().get_token(scope).token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        topic_endpoint(server.arm_endpoint) + query,
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    context = ssl.create_default_context(cafile=str(server.tls.ca_cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def cloud_event(**overrides: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "1",
        "source": "/ops",
        "type": "ops.test",
        "data": {"n": 1},
        **overrides,
    }


def test_the_real_publisher_client_is_accepted_and_recorded(topic: SandboxServer) -> None:
    assert topic.env()["OPS_EVENTS_TOPIC_ENDPOINT"] == topic_endpoint(topic.arm_endpoint)
    client = EventGridPublisherClient(topic.env()["OPS_EVENTS_TOPIC_ENDPOINT"], ManagedIdentityCredential())
    sent = [
        CloudEvent(source="/ops/gate", type="ops.gate.passed", data={"image": "a"}, subject="repo@sha256:1"),
        CloudEvent(source="/ops/gate", type="ops.gate.denied", data={"image": "b"}, time=datetime.now(UTC)),
    ]
    client.send(sent)
    published = topic.world.published
    assert [(e["topic"], e["type"], e["data"]) for e in published] == [
        ("ops-events", "ops.gate.passed", {"image": "a"}),
        ("ops-events", "ops.gate.denied", {"image": "b"}),
    ]
    assert published[0]["id"] == sent[0].id and published[0]["subject"] == "repo@sha256:1"
    assert ("POST", 200) in logged_calls(topic)


def logged_calls(server: SandboxServer) -> list[tuple[str, int]]:
    """The topic's calls in the request log. An empty 200 is complete for the client when its
    headers arrive, a moment before the server logs it: wait for the entry briefly."""
    deadline = time.monotonic() + 2
    while True:
        calls = [(r.method, r.status) for r in server.world.requests if r.service == "eventgrid"]
        if calls or time.monotonic() > deadline:
            return calls
        time.sleep(0.01)


def test_a_token_for_another_audience_is_refused(topic: SandboxServer) -> None:
    assert post(topic, [cloud_event()], scope=ARM_SCOPE) == 401

    class ArmOnly:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            return ManagedIdentityCredential().get_token(ARM_SCOPE)

    client = EventGridPublisherClient(topic_endpoint(topic.arm_endpoint), ArmOnly())  # type: ignore[arg-type]
    with pytest.raises(ClientAuthenticationError):
        client.send([CloudEvent(source="/ops", type="ops.test", data=None)])
    assert topic.world.published == []


@pytest.mark.parametrize(
    ("body", "options", "status"),
    [
        (
            [
                {
                    "id": "1",
                    "subject": "s",
                    "eventType": "t",
                    "eventTime": "2026-01-01T00:00:00Z",
                    "data": {},
                    "dataVersion": "1",
                }
            ],
            {"content_type": "application/json"},
            400,
        ),
        ([cloud_event(specversion="0.3")], {}, 400),
        ([cloud_event(source="")], {}, 400),
        ([cloud_event(time="yesterday")], {}, 400),
        ([], {}, 400),
        (b"[not json", {}, 400),
        ([cloud_event()], {"query": ""}, 400),
        ([cloud_event(data="x" * (1024 * 1024 + 1))], {}, 413),
    ],
)
def test_invalid_publishes_are_refused(topic: SandboxServer, body: Any, options: dict, status: int) -> None:
    assert post(topic, body, **options) == status
    assert topic.world.published == []
