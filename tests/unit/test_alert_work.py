"""ops.alerts: the webhook hands a capability's alerts to the queue, and ``alert_worker``
works them once (AlertWebhook with a SQLite store, a list as the queue, and a
recording handler behind the AlertHandler protocol).

Cases:
- a routed alert for a queued capability is ``accepted``; the message carries the alert,
  its route and its claim; the handler is not called by the webhook; the same delivery
  again is a duplicate (the claim is held);
- the worker handles the message once: ``handled`` with the handler's reason; the same
  message delivered again is ``ignored`` (redelivered) and the handler is not called again;
- a transient failure in the worker raises and keeps the claim (the action group's copy
  stays a duplicate); the queue's redelivery is handled;
- a permanent failure in the worker is ``failed``, recorded as a rejection, and a
  redelivery does nothing;
- a Fired whose Resolved arrived while it waited is ignored (out of order) unhandled;
- a route gone from the policy is ``failed`` with the reason;
- the queue cannot be reached: the webhook raises TransientError (503) and releases the
  claim, so the action group's retry is accepted; a queue that is misconfigured is
  ``failed`` (recorded, never a 500) and releases the claim too;
- an alert too large for a queue message is handled inline;
- a capability without a queue is handled inline (200 handled);
- parse_work refuses bad messages with the field path.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.alerts import AlertRouter, compile_routes
from ops.alerts.webhook import AlertWebhook
from ops.alerts.work import parse_work
from ops.errors import ConfigError, InvalidInput, PermanentError, TransientError
from ops.rejections import KIND
from ops.state.sqlite import SqliteStateStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ROUTES = [{"name": "snat", "match": {"signalType": "Metric"}, "action": "snat"}]


def alert(condition: str = "Fired", alert_id: str = "a1") -> dict[str, Any]:
    body = json.loads((FIXTURES / "metric_fired.json").read_text())
    body["data"]["essentials"].update(alertId=alert_id, monitorCondition=condition)
    if condition == "Resolved":
        body["data"]["essentials"]["resolvedDateTime"] = body["data"]["essentials"]["firedDateTime"]
    return body


class Queue:
    def __init__(self, error: Exception | None = None) -> None:
        self.messages: list[str] = []
        self.error = error

    def send(self, body: str) -> None:
        if self.error is not None:
            raise self.error
        self.messages.append(body)


class Handler:
    def __init__(self, *errors: Exception) -> None:
        self.calls: list[tuple[str, str]] = []
        self.errors = list(errors)

    def handle_alert(self, alert: Any, route: Any) -> dict[str, Any]:
        self.calls.append((alert.essentials.alert_id, alert.essentials.monitor_condition))
        if self.errors:
            raise self.errors.pop(0)
        return {"reason": f"acted on {alert.essentials.alert_id}", "status": "applied"}


def webhook(
    tmp_path: Path, handler: Handler, queue: Queue | None, *, routes: list[dict[str, Any]] = ROUTES
) -> AlertWebhook:
    queues: dict[str, Callable[[], Queue]] = {} if queue is None else {"remediate": lambda: queue}
    return AlertWebhook(
        router=AlertRouter(compile_routes("remediate", routes)),
        handlers={"remediate": lambda: handler},
        store=SqliteStateStore(str(tmp_path / "state.db")),
        dedupe_ttl=timedelta(days=2),
        clock=lambda: NOW,
        queues=queues,
    )


def test_accepted_then_worked_once(tmp_path: Path) -> None:
    handler, queue = Handler(), Queue()
    hook = webhook(tmp_path, handler, queue)
    reply = hook.handle(json.dumps(alert()).encode())
    assert (reply.status, reply.route, reply.alert_id) == ("accepted", "snat", "a1")
    [message] = queue.messages
    work = parse_work(message)
    assert (work.route, work.alert["data"]["essentials"]["alertId"]) == ("snat", "a1")
    assert handler.calls == []
    assert hook.handle(alert()).status == "ignored"
    done = hook.work(work)
    assert (done.status, done.reason, done.detail["status"]) == ("handled", "acted on a1", "applied")
    again = hook.work(parse_work(message))
    assert again.status == "ignored" and again.reason.startswith("redelivered: handled at")
    assert handler.calls == [("a1", "Fired")]


def test_transient_failure_in_the_worker_keeps_the_claim(tmp_path: Path) -> None:
    handler, queue = Handler(TransientError("ARM throttled", retry_after=5)), Queue()
    hook = webhook(tmp_path, handler, queue)
    hook.handle(alert())
    work = parse_work(queue.messages[0])
    with pytest.raises(TransientError):
        hook.work(work)
    assert hook.handle(alert()).status == "ignored"  # still claimed: no second message
    assert len(queue.messages) == 1
    assert hook.work(work).status == "handled"
    assert len(handler.calls) == 2


def test_permanent_failure_in_the_worker_is_recorded(tmp_path: Path) -> None:
    handler, queue = Handler(PermanentError("the app may not write the cluster")), Queue()
    hook = webhook(tmp_path, handler, queue)
    hook.handle(alert())
    work = parse_work(queue.messages[0])
    failed = hook.work(work)
    assert failed.status == "failed" and "may not write" in failed.reason
    [record] = hook.store.query_audit(capability="remediate", limit=10)
    assert (record.kind, record.target) == (KIND, "alert_worker") and "may not write" in record.reason
    assert hook.work(work).status == "ignored"
    assert len(handler.calls) == 1


def test_resolved_while_it_waited(tmp_path: Path) -> None:
    handler, queue = Handler(), Queue()
    hook = webhook(tmp_path, handler, queue)
    assert hook.handle(alert()).status == "accepted"
    assert hook.handle(alert("Resolved")).status == "accepted"
    fired, resolved = (parse_work(m) for m in queue.messages)
    assert hook.work(resolved).status == "handled"
    late = hook.work(fired)
    assert late.status == "ignored" and late.reason.startswith("out of order:")
    assert handler.calls == [("a1", "Resolved")]


def test_route_gone_from_the_policy(tmp_path: Path) -> None:
    queue = Queue()
    webhook(tmp_path, Handler(), queue).handle(alert())
    other = [{"name": "other", "match": {"signalType": "Log"}, "action": "snat"}]
    reply = webhook(tmp_path, Handler(), Queue(), routes=other).work(parse_work(queue.messages[0]))
    assert reply.status == "failed" and "no longer in the policy" in reply.reason


def test_queue_unreachable_is_transient_and_releases_the_claim(tmp_path: Path) -> None:
    handler = Handler()
    broken = webhook(tmp_path, handler, Queue(TransientError("queue service unavailable", retry_after=1)))
    with pytest.raises(TransientError):
        broken.handle(alert())
    queue = Queue()
    assert webhook(tmp_path, handler, queue).handle(alert()).status == "accepted"
    assert len(queue.messages) == 1


def test_misconfigured_queue_is_failed_and_releases_the_claim(tmp_path: Path) -> None:
    broken = webhook(tmp_path, Handler(), Queue(ConfigError("AzureWebJobsStorage: queues need a connection")))
    reply = broken.handle(alert())
    assert reply.status == "failed" and "AzureWebJobsStorage" in reply.reason
    [record] = broken.store.query_audit(capability="alerts", limit=10)
    assert record.kind == KIND
    assert webhook(tmp_path, Handler(), Queue()).handle(alert()).status == "accepted"


def test_too_large_for_a_queue_message_is_handled_inline(tmp_path: Path) -> None:
    body = copy.deepcopy(alert())
    body["data"]["customProperties"] = {"note": "x" * 60_000}
    handler, queue = Handler(), Queue()
    reply = webhook(tmp_path, handler, queue).handle(body)
    assert reply.status == "handled" and queue.messages == []
    assert handler.calls == [("a1", "Fired")]


def test_without_a_queue_the_webhook_acts(tmp_path: Path) -> None:
    handler = Handler()
    reply = webhook(tmp_path, handler, None).handle(alert())
    assert reply.status == "handled" and handler.calls == [("a1", "Fired")]


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (b"not json", "<root>"),
        (json.dumps([1]), "<root>"),
        (json.dumps({"version": 2, "route": "r", "claim": "0" * 40, "alert": {}}), "version"),
        (json.dumps({"version": 1, "route": "", "claim": "0" * 40, "alert": {}}), "route"),
        (json.dumps({"version": 1, "route": "r", "claim": "xyz", "alert": {}}), "claim"),
        (json.dumps({"version": 1, "route": "r", "claim": "0" * 40, "alert": []}), "alert"),
    ],
)
def test_parse_work_refuses_bad_messages(message: Any, path: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_work(message)
    assert refused.value.path == path
