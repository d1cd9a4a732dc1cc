"""What ``alert_webhook`` does with one body: parse, route, deduplicate, hand to a capability.

Action groups retry only on 408, 429, 503 and 504 (five times, then mute the endpoint for
15 minutes), so the answer is a decision about retrying, and every answer but one is 200:

=====================================  ======  ==================================================
what happened                           answer  and
=====================================  ======  ==================================================
a capability acted (or planned)        200     ``handled``, with what it did and why
no route, a duplicate, out of order    200     ``ignored``, with the reason
not the common alert schema, or bad    200     ``invalid``, recorded with the field path
the capability refused or failed       200     ``failed``, recorded (a retry would fail the same)
a transient failure (throttling, 5xx)  503     raised: the action group delivers it again
=====================================  ======  ==================================================

The claim on ``alertId`` + ``monitorCondition`` is taken before the capability acts and
released when it fails transiently, so the retry is handled, not taken for a duplicate.
Handlers are per capability (:class:`AlertHandler`): remediation today, failover next;
each receives only the alerts its routes matched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ops.alerts.dedupe import Claim, claim_alert, release_claim
from ops.alerts.routing import AlertRouter, Route
from ops.alerts.schema import Alert, parse_alert
from ops.errors import InvalidInput, OpsError, TransientError
from ops.rejections import record_rejection
from ops.state.store import StateStore


class AlertHandler(Protocol):
    """A capability's side of the webhook: act on one routed alert, say what was done."""

    def handle_alert(self, alert: Alert, route: Route) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Reply:
    status: str  # handled, ignored, invalid, failed
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
    ) -> None:
        self.router = router
        self.handlers = handlers
        self.store = store
        self.dedupe_ttl = dedupe_ttl
        self.clock = clock

    def handle(self, body: object) -> Reply:
        """The reply to one delivery; raises TransientError only (the trigger answers 503)."""
        now = self.clock()
        try:
            alert = parse_alert(body)  # type: ignore[arg-type]
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
        try:
            detail = factory().handle_alert(alert, route)
        except TransientError:
            release_claim(self.store, claim)
            raise
        except OpsError as exc:
            release_claim(self.store, claim)  # a fixed setting or role makes a redelivery worth handling
            record_rejection(
                self.store, capability=route.capability, source="alert_webhook", error=exc, body=body, now=now
            )
            return Reply("failed", f"{type(exc).__name__}: {exc}", essentials.alert_id, route.name)
        return Reply(
            "handled", str(detail.get("reason") or decision.reason), essentials.alert_id, route.name, detail
        )
