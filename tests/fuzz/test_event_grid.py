"""Fuzzing ``gate_on_image_pushed`` with Event Grid deliveries (at least 300 cases each).

Cases: any JSON value, raw bodies (bytes, text, 200,000-deep brackets, BOMs, NaN), and
mutations of a valid ImagePushed event for an image in the sandbox, in both schemas
(hostile hosts, topics, repositories, tags, digests, deep nesting, an oversized actor).
For every case: nothing raises (bad input is rejected and acknowledged, never retried),
and a rejected event sends no request to any registry and changes nothing in it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, REGISTRY, FuzzApp, assert_judged
from tests.fuzz.strategies import HOSTILE_TEXT, json_values, mutations, raw_bodies

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _sample(name: str) -> dict[str, Any]:
    value = json.loads((FIXTURES / name).read_text())
    return copy.deepcopy(value[0] if isinstance(value, list) else value)


def pushed(fuzz_app: FuzzApp, schema: str) -> dict[str, Any]:
    """A valid push of ``payments/api:ci-1`` as the registry would send it."""
    registry = fuzz_app.server.world.registries[REGISTRY]
    repo = registry.repositories["payments/api"]
    digest = repo.tags["ci-1"].digest
    event = _sample(
        "acr_image_pushed_eventgrid.json" if schema == "eventgrid" else "acr_image_pushed_cloudevents.json"
    )
    event["topic" if schema == "eventgrid" else "source"] = registry.id
    data = event["data"]
    data["target"].update(repository="payments/api", digest=digest, tag="ci-1")
    data["request"]["host"] = registry.login_server
    return event


HOSTS = st.sampled_from(
    ["127.0.0.1:1", "other.azurecr.io", "contosotest.northeurope.geo.azurecr.io", *HOSTILE_TEXT]
)
BIG = {"name": "x" * (1100 * 1024)}  # over Event Grid's 1 MB once it is in an event


def special_values() -> st.SearchStrategy[Any]:
    return (
        HOSTS
        | st.just(BIG)
        | st.sampled_from(
            [
                "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/nosuch",
                "/subscriptions/11111111-0000-4000-8000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosotest",
                "Microsoft.ContainerRegistry.ImageDeleted",
                "Microsoft.EventGrid.SubscriptionValidationEvent",
            ]
        )
    )


@FUZZ
@given(payload=json_values)
def test_any_json_value(fuzz_app: FuzzApp, payload: Any) -> None:
    assert_judged(fuzz_app.deliver("gate_on_image_pushed", payload), payload)


@FUZZ
@given(body=raw_bodies)
def test_raw_bodies(fuzz_app: FuzzApp, body: Any) -> None:
    assert_judged(fuzz_app.deliver("gate_on_image_pushed", body), body)


@FUZZ
@given(data=st.data(), schema=st.sampled_from(["eventgrid", "cloudevents"]))
def test_mutated_image_pushed_events(fuzz_app: FuzzApp, data: st.DataObject, schema: str) -> None:
    event = data.draw(mutations(pushed(fuzz_app, schema), special_values()))
    assert_judged(fuzz_app.deliver("gate_on_image_pushed", event), event)


FOREIGN = HOSTS.filter(lambda host: host.lower() != "contosotest.westeurope.geo.azurecr.io")  # a replica's


@FUZZ
@given(host=FOREIGN)
def test_foreign_hosts_are_rejected_without_a_registry_request(fuzz_app: FuzzApp, host: str) -> None:
    event = pushed(fuzz_app, "eventgrid")
    event["data"]["request"]["host"] = host
    outcome = fuzz_app.deliver("gate_on_image_pushed", event)
    assert outcome.rejected, host
    assert_judged(outcome, event)
