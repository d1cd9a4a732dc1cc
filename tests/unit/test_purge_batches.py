"""Purge batch messages are honoured only when they are exactly what their run enqueued.

Cases (fake adapters, real SQLite store): purge_schedule records, per batch, the
registry as ARM reported it and the repositories, and the number of in-use parts per
registry; a message whose batch number, registry name, registry id, login server, SKU
or repositories differ from the record, in a table, is InvalidInput naming the field,
and nothing is read from a registry or deleted; a registry nobody snapshotted is
rejected even with the right run id; a verified batch whose in-use set is missing or
incomplete is refused (recorded, acknowledged), never read as "nothing in use", and
deletes nothing; the untampered message still deletes what the policy selects; pruning
removes a run's enqueued records with it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import InvalidInput
from ops.purge.messages import parse_batch_message
from ops.purge.records import ENQUEUED, IN_USE, RUNS, new_run_id, prune_records
from ops.state.sqlite import SqliteStateStore
from tests.unit.purge_builders import LOGIN, NOW
from tests.unit.test_purge_service import (
    REGISTRY,
    REGISTRY_ID,
    FakeRegistry,
    make_service,
    standard_registry,
)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.db")


OTHER_ID = REGISTRY_ID.replace("/registries/reg", "/registries/contosoprod2")


def scheduled(store: SqliteStateStore) -> tuple[Any, FakeRegistry, list[dict[str, Any]]]:
    registry = standard_registry()
    service = make_service(store, registry)
    assert service.schedule().status == "scheduled"
    bodies = [json.loads(b) for b in service.queue.bodies]  # type: ignore[union-attr]
    return service, registry, bodies


def test_schedule_records_what_each_batch_holds(store: SqliteStateStore) -> None:
    _, _, bodies = scheduled(store)
    run = bodies[0]["run"]
    held = store.get_record(ENQUEUED, f"{run}/00000")
    assert held is not None
    assert held.value == {
        "registry": {
            "name": "reg",
            "id": REGISTRY_ID,
            "loginServer": LOGIN,
            "sku": "Premium",
            "endpoints": [],
        },
        "repositories": ["alpha", "beta"],
    }
    record = store.get_record(RUNS, run)
    assert record is not None and record.value["in_use_parts"] == {"reg": 1}


def tampered(body: dict[str, Any], change: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    registry = copy["registry"]
    match change:
        case "batch":
            copy["batch"] = 7
        case "registry.name":
            registry["name"] = "contosoprod2"
        case "registry.id":
            registry["id"] = OTHER_ID
        case "registry.loginServer":
            registry["loginServer"] = "contosoprod2.azurecr.io"
        case "registry.sku":
            registry["sku"] = "Basic"
        case "repositories":
            copy["repositories"] = ["alpha", "gamma"]
        case "repositories-order":
            copy["repositories"] = ["beta", "alpha"]
        case "another-registry":
            registry.update(name="contosoprod2", id=OTHER_ID, loginServer="contosoprod2.azurecr.io")
    return copy


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ("batch", "batch"),
        ("registry.name", "registry.name"),
        ("registry.id", "registry.id"),
        ("registry.loginServer", "registry.loginServer"),
        ("registry.sku", "registry.sku"),
        ("repositories", "repositories"),
        ("repositories-order", "repositories"),
        ("another-registry", "registry.name"),
    ],
)
def test_a_message_that_differs_from_the_record_is_rejected_and_deletes_nothing(
    store: SqliteStateStore, change: str, path: str
) -> None:
    service, registry, bodies = scheduled(store)
    message = parse_batch_message(tampered(bodies[0], change))
    with pytest.raises(InvalidInput) as caught:
        service.process_batch(message)
    assert caught.value.path == path
    assert registry.reads == 0 and registry.deletes == []


def test_the_untampered_message_still_deletes_what_the_policy_selects(store: SqliteStateStore) -> None:
    service, registry, bodies = scheduled(store)
    for body in bodies:
        assert service.process_batch(parse_batch_message(body)).status == "done"
    assert sorted(registry.deletes) == ["a-old", "b-junk", "b-old"]


@pytest.mark.parametrize("how", ["missing", "incomplete", "not-recorded"])
def test_a_missing_in_use_set_is_never_empty(store: SqliteStateStore, how: str) -> None:
    service, registry, bodies = scheduled(store)
    run = bodies[0]["run"]
    if how == "missing":
        for record in store.list_records(IN_USE, prefix=f"{run}/"):
            store.delete_record(IN_USE, record.key)
    elif how == "incomplete":
        record = store.get_record(RUNS, run)
        assert record is not None
        store.put_record(RUNS, run, {**record.value, "in_use_parts": {"reg": 2}}, etag=record.etag)
    else:
        record = store.get_record(RUNS, run)
        assert record is not None
        store.put_record(RUNS, run, {**record.value, "in_use_parts": {}}, etag=record.etag)
    result = service.process_batch(parse_batch_message(bodies[0]))
    assert result.status == "refused"
    assert "nothing can be known to be unused" in result.summary["refused"]
    assert registry.deletes == []


def test_pruning_removes_a_runs_enqueued_records(store: SqliteStateStore) -> None:
    old = new_run_id(NOW - timedelta(days=31))
    store.put_record(RUNS, old, {"created": (NOW - timedelta(days=31)).isoformat()}, etag=None)
    store.put_record(ENQUEUED, f"{old}/00000", {"registry": {}, "repositories": []}, etag=None)
    assert prune_records(store, now=NOW, retention=timedelta(days=30)) == 2
    assert store.list_records(ENQUEUED) == []


def test_registry_ref_of_the_fake_directory_has_an_id() -> None:
    assert REGISTRY.id == REGISTRY_ID
