"""purge_schedule and purge_repository through the local invoker (azure.functions' converters).

Cases: purge_schedule is a timer on ``%PURGE_SCHEDULE%`` and purge_repository a queue
trigger on ``%OPS_PURGE_QUEUE%`` (the app's storage connection); an invalid policy is
recorded as a ``rejected`` audit record naming the rule, once however often the timer
runs that day, and the run raises ConfigError, so that it shows as failed;
a malformed queue message is recorded and acknowledged (not retried), once even when
redelivered; a message for a run nobody recorded is rejected the same way; a transient
failure raises, so the host redelivers; a batch whose run's in-use set is too old is
refused, recorded and acknowledged (never retried); host.json runs one purge_repository
message at a time per instance (batchSize + newBatchThreshold = 1), so that
OPS_PURGE_CONCURRENCY counts instances.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import function_app
from ops.errors import ConfigError, TransientError
from ops.services import get_services, reset_services
from ops.triggers.invoking import invoke_function, list_functions

TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}
MESSAGE = {
    "run": "r1",
    "batch": 0,
    "registry": {
        "name": "reg",
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/reg",
        "loginServer": "reg.azurecr.io",
    },
    "repositories": ["a"],
}


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
    monkeypatch.setenv("OPS_SUBSCRIPTIONS", "00000000-0000-4000-8000-000000000001")
    monkeypatch.setenv("OPS_PURGE_POLICY", "purge:\n  rules:\n    - repository: '.*'\n      untagged: true\n")
    reset_services()
    yield
    reset_services()


def rejected() -> list[str]:
    return [
        r.reason for r in get_services().store().query_audit(capability="purge") if r.status == "rejected"
    ]


def test_registered_on_their_settings() -> None:
    functions = list_functions(function_app.app)
    timer = functions["purge_schedule"].get_trigger()
    assert (timer.type, timer.schedule) == ("timerTrigger", "%PURGE_SCHEDULE%")
    queue = functions["purge_repository"].get_trigger()
    assert (queue.type, queue.queue_name, queue.connection) == (
        "queueTrigger",
        "%OPS_PURGE_QUEUE%",
        "AzureWebJobsStorage",
    )


def test_invalid_policy_is_recorded_once_and_fails_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OPS_PURGE_POLICY", "purge:\n  rules:\n    - name: ci\n      repository: x\n      keep: -1\n"
    )
    reset_services()
    for _ in range(2):  # the next run fails the same way; the audit trail says so once a day
        with pytest.raises(ConfigError, match=r"purge.rules\[0\].keep"):
            invoke_function(function_app.app, "purge_schedule", TIMER)
    (reason,) = rejected()
    assert reason.startswith(
        "invalid configuration: purge.rules[0].keep: Input should be greater than or equal"
    )
    assert '(rule "ci")' in reason


def test_malformed_message_is_recorded_once_and_acknowledged() -> None:
    for _ in range(2):  # a redelivery of the same bad message is not recorded again
        (result,) = invoke_function(function_app.app, "purge_repository", "{not json").results
        assert result["status"] == "rejected" and result["reason"].startswith("invalid input: <root>")
    (reason,) = rejected()
    assert reason.startswith("invalid input: <root>: expected valid JSON")


def test_message_of_an_unknown_run_is_rejected() -> None:
    (result,) = invoke_function(function_app.app, "purge_repository", MESSAGE).results
    (reason,) = rejected()
    assert result == {"status": "rejected", "reason": reason, "recorded": True}
    assert reason == "invalid input: run: expected a run recorded by purge_schedule (got 'r1')"


def test_transient_failure_raises_for_redelivery(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.purge.service import PurgeService

    def unavailable(self: PurgeService, message: object) -> None:
        raise TransientError("503 from the registry", retry_after=2)

    monkeypatch.setattr(PurgeService, "process_batch", unavailable)
    with pytest.raises(TransientError):
        invoke_function(function_app.app, "purge_repository", MESSAGE)
    assert rejected() == []


def test_a_batch_with_a_stale_in_use_set_is_refused_and_acknowledged() -> None:
    from ops.purge.batches import enqueued_record
    from ops.purge.messages import parse_batch_message
    from ops.purge.records import ENQUEUED
    from ops.purge.service import BATCHES, RUNS

    read_at = datetime.now(UTC) - timedelta(hours=2)  # the batch waited in the queue for two hours
    policy = {"purge": {"rules": [{"repository": ".*", "untagged": True}]}}
    record = {"created": read_at.isoformat(), "in_use_at": read_at.isoformat(), "batches": 1, "budget": 10,
              "remaining": 10, "policy": policy}  # fmt: skip
    get_services().store().put_record(RUNS, "r1", record, etag=None)
    held = enqueued_record(parse_batch_message(MESSAGE).registry_ref, MESSAGE["repositories"])
    get_services().store().put_record(ENQUEUED, "r1/00000", held, etag=None)
    statuses = []
    for _ in range(2):  # a redelivery finds the batch recorded
        (result,) = invoke_function(function_app.app, "purge_repository", MESSAGE).results
        statuses.append((result["status"], result["reason"].split(":")[0]))
    assert statuses == [("refused", "refused"), ("already_done", "this batch finished before")]
    refused = get_services().store().get_record(BATCHES, "r1/00000")
    assert refused is not None and "OPS_PURGE_SNAPSHOT_MAX_AGE (30m)" in refused.value["refused"]
    (summary,) = [
        r for r in get_services().store().query_audit(capability="purge") if r.kind == "run_summary"
    ]
    assert summary.detail["refused_batches"] == 1
    assert rejected() == []


def test_host_runs_one_purge_batch_at_a_time_per_instance() -> None:
    host = json.loads((Path(function_app.__file__).parent / "host.json").read_text())
    queues = host["extensions"]["queues"]
    assert queues["batchSize"] + queues["newBatchThreshold"] == 1
