"""What ``alert_webhook`` does with one body: parse, route, deduplicate, hand to a capability.

Action groups retry only on 408, 429, 503 and 504 (five times, then mute the endpoint for
15 minutes), so the answer is a decision about retrying, and every answer but one is 2xx:

=====================================  ======  ==================================================
what happened                           answer  and
=====================================  ======  ==================================================
queued for its capability              202     ``accepted``: ``alert_worker`` does the work
a capability acted (or planned)        200     ``handled``, with what it did and why
no route, a duplicate, out of order    200     ``ignored``, with the reason
not the common alert schema, or bad    200     ``invalid``, recorded with the field path
the capability refused or failed       200     ``failed``, recorded (a retry would fail the same)
a transient failure (throttling, 5xx)  503     raised: the action group delivers it again
=====================================  ======  ==================================================

The claim on ``alertId`` + ``monitorCondition`` is taken before the capability acts (or
the alert is queued) and released when that fails transiently, so the retry is handled,
not taken for a duplicate. Handlers are per capability (:class:`AlertHandler`); each
receives only the alerts its routes matched. A capability with a queue (remediation:
its confirmations and writes take seconds) gets its alerts through ``alert_worker``
(:meth:`AlertWebhook.work`, at least once: the claim record remembers the outcome, so a
redelivered message acts no more); the others act within the webhook's call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ops.alerts.dedupe import Claim, claim_alert, finish_claim, read_claim, release_claim, resolved_at
from ops.alerts.routing import AlertRouter, Route
from ops.alerts.schema import MAX_ALERT_BODY_BYTES, Alert, parse_alert
from ops.alerts.work import AlertWork, encode_work
from ops.errors import InvalidInput, OpsError, TransientError, describe_error
from ops.payloads import load_json
from ops.rejections import record_rejection
from ops.state.store import StateStore


class AlertHandler(Protocol):
    """A capability's side of the webhook: act on one routed alert, say what was done."""

    def handle_alert(self, alert: Alert, route: Route) -> Mapping[str, Any]: ...


class AlertQueue(Protocol):
    """Where a capability's accepted alerts wait for ``alert_worker``."""

    def send(self, body: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    status: str  # accepted, handled, ignored, invalid, failed
    reason: str
    alert_id: str | None = None
    route: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "reason": self.reason}
        if self.alert_id is not None:
            out["alertId"] = self.alert_id
        if self.route is not None:
            out["route"] = self.route
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


class AlertWebhook:
    def __init__(
        self,
        *,
        router: AlertRouter,
        handlers: Mapping[str, Callable[[], AlertHandler]],
        store: StateStore,
        dedupe_ttl: timedelta,
        clock: Callable[[], datetime],
        queues: Mapping[str, Callable[[], AlertQueue]] | None = None,
    ) -> None:
        self.router = router
        self.handlers = handlers
        self.store = store
        self.dedupe_ttl = dedupe_ttl
        self.clock = clock
        self.queues = dict(queues or {})

    def handle(self, body: object) -> Reply:
        """The reply to one delivery; raises TransientError only (the trigger answers 503)."""
        now = self.clock()
        try:
            document = load_json(body, limit=MAX_ALERT_BODY_BYTES)
            alert = parse_alert(document)
        except InvalidInput as exc:
            record_rejection(
                self.store, capability="alerts", source="alert_webhook", error=exc, body=body, now=now
            )
            return Reply("invalid", f"{exc.path}: expected {exc.expected}", detail={"path": exc.path})
        essentials = alert.essentials
        decision = self.router.route(alert)
        if decision.route is None:
            return Reply("ignored", decision.reason, essentials.alert_id)
        route = decision.route
        factory = self.handlers.get(route.capability)
        if factory is None:
            return Reply(
                "ignored", f"no handler for capability {route.capability}", essentials.alert_id, route.name
            )
        claim = claim_alert(self.store, alert, now=now, ttl=self.dedupe_ttl)
        if not isinstance(claim, Claim):
            return Reply("ignored", claim, essentials.alert_id, route.name)
        queue = self.queues.get(route.capability)
        message = encode_work(document, route=route.name, claim=claim.key) if queue is not None else None
        if queue is not None and message is not None:
            try:
                queue().send(message)
            except TransientError:  # nothing was queued: the action group's retry must not be a duplicate
                release_claim(self.store, claim)
                raise
            except (
                OpsError
            ) as exc:  # a queue setting or role is wrong: recorded, answered, retried once fixed
                release_claim(self.store, claim)
                record_rejection(
                    self.store, capability="alerts", source="alert_webhook", error=exc, body=body, now=now
                )
                return Reply("failed", describe_error(exc), essentials.alert_id, route.name)
            return Reply(
                "accepted", f"queued: {decision.reason}", essentials.alert_id, route.name, {"queued": True}
            )
        return self._act(alert, route, claim, body, decision.reason, now=now)

    def work(self, item: AlertWork) -> Reply:
        """``alert_worker``: act on one queued alert, once, whatever the number of deliveries.

        Raises TransientError (the queue delivers it again); everything else is an answer,
        recorded with the claim so that a redelivery of a handled message does nothing."""
        now = self.clock()
        alert = parse_alert(item.alert)
        essentials = alert.essentials
        held = read_claim(self.store, item.claim)
        if held is None:
            return Reply(
                "ignored", f"no claim {item.claim}: expired or released", essentials.alert_id, item.route
            )
        claim = Claim(held.key, held.etag)
        done = held.value.get("outcome")
        if isinstance(done, dict):
            reason = f"redelivered: handled at {done.get('at')} ({done.get('status')}: {done.get('reason')})"
            return Reply("ignored", reason, essentials.alert_id, item.route)
        route = next((r for r in self.router.routes if r.name == item.route), None)
        if route is None or self.handlers.get(route.capability) is None:
            reply = Reply(
                "failed", f"route {item.route} is no longer in the policy", essentials.alert_id, item.route
            )
            finish_claim(self.store, claim, reply.status, reply.reason, now=now)
            return reply
        if essentials.monitor_condition == "Fired":
            seen = resolved_at(self.store, alert, now=now, ttl=self.dedupe_ttl)
            if seen is not None:  # resolved while it waited in the queue: the condition is over
                reply = Reply(
                    "ignored",
                    f"out of order: alert {essentials.alert_id} was resolved at {seen}, before its work",
                    essentials.alert_id,
                    route.name,
                )
                finish_claim(self.store, claim, reply.status, reply.reason, now=now)
                return reply
        return self._act(alert, route, claim, item.alert, f"route {route.name}", now=now, keep=True)

    def _act(
        self,
        alert: Alert,
        route: Route,
        claim: Claim,
        body: object,
        routed: str,
        *,
        now: datetime,
        keep: bool = False,
    ) -> Reply:
        """Hand the alert to its capability. ``keep`` (``alert_worker``): the claim stays, with
        the outcome recorded on it, so that the queue's redelivery of a transient failure is
        handled and that of a finished message does nothing."""
        essentials = alert.essentials
        factory = self.handlers[route.capability]
        try:
            detail = factory().handle_alert(alert, route)
        except TransientError:
            if not keep:
                release_claim(self.store, claim)
            raise
        except OpsError as exc:
            source = "alert_worker" if keep else "alert_webhook"
            record_rejection(
                self.store, capability=route.capability, source=source, error=exc, body=body, now=now
            )
            reply = Reply("failed", describe_error(exc), essentials.alert_id, route.name)
            if keep:
                finish_claim(self.store, claim, reply.status, reply.reason, now=now)
            else:
                release_claim(self.store, claim)  # a fixed setting or role makes a redelivery worth handling
            return reply
        reply = Reply("handled", str(detail.get("reason") or routed), essentials.alert_id, route.name, detail)
        if keep:
            finish_claim(self.store, claim, reply.status, reply.reason, now=now)
        return reply
