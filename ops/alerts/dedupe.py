"""Each alert is acted on once per ``alertId`` + ``monitorCondition``, and never out of order.

Action groups deliver at least once and retry on 408/429/503/504, so the same
notification can arrive twice; a ``Resolved`` can also overtake its ``Fired``. The
webhook therefore *claims* ``alertId`` + ``monitorCondition`` (a create-only record in
the state store) before acting, and *releases* the claim when acting failed transiently,
so that the action group's retry is not taken for a duplicate. A ``Fired`` whose
``Resolved`` was already seen is stale: the condition is over. Claims expire after
``OPS_ALERT_DEDUPE_TTL``.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ops.alerts.schema import Alert
from ops.errors import Conflict
from ops.state.store import Record, StateStore

TABLE = "alert-dedupe"


@dataclass(frozen=True, slots=True)
class Claim:
    """A held claim on one alert condition; ``None`` from :func:`claim_alert` is a repeat."""

    key: str
    etag: str


def _key(alert_id: str, condition: str) -> str:
    return hashlib.sha256(f"{alert_id.lower()}|{condition}".encode()).hexdigest()[:40]


def claim_alert(store: StateStore, alert: Alert, *, now: datetime, ttl: timedelta) -> Claim | str:
    """Claim the alert's id + condition: a Claim, or the reason it is not to be acted on."""
    essentials = alert.essentials
    if essentials.monitor_condition == "Fired":
        seen = resolved_at(store, alert, now=now, ttl=ttl)
        if seen is not None:
            return f"out of order: alert {essentials.alert_id} was already resolved at {seen}"
    key = _key(essentials.alert_id, essentials.monitor_condition)
    value = {"at": now.isoformat(), "alertId": essentials.alert_id, "condition": essentials.monitor_condition}
    try:
        record = store.put_record(TABLE, key, value, etag=None)
    except Conflict:
        existing = store.get_record(TABLE, key)
        if existing is not None and _fresh(existing.value, now, ttl):
            seen = existing.value.get("at")
            return (
                f"duplicate: alert {essentials.alert_id} {essentials.monitor_condition} was handled at {seen}"
            )
        try:
            record = store.put_record(TABLE, key, value, etag=existing.etag if existing else None)
        except Conflict:
            return f"duplicate: alert {essentials.alert_id} {essentials.monitor_condition} is being handled"
    return Claim(key, record.etag)


def resolved_at(store: StateStore, alert: Alert, *, now: datetime, ttl: timedelta) -> str | None:
    """When the alert's ``Resolved`` was received, if it was (within the TTL)."""
    resolved = store.get_record(TABLE, _key(alert.essentials.alert_id, "Resolved"))
    if resolved is not None and _fresh(resolved.value, now, ttl):
        return str(resolved.value.get("at"))
    return None


def read_claim(store: StateStore, key: str) -> Record | None:
    """A claim by its key (an ``alert_worker`` message names it); None when released or gone."""
    return store.get_record(TABLE, key)


def finish_claim(store: StateStore, claim: Claim, status: str, reason: str, *, now: datetime) -> None:
    """Remember how a queued alert ended on its claim, so that a redelivery does nothing."""
    record = store.get_record(TABLE, claim.key)
    value: dict[str, Any] = dict(record.value) if record is not None else {"at": now.isoformat()}
    value["outcome"] = {"status": status, "reason": reason[:1000], "at": now.isoformat()}
    store.put_record(TABLE, claim.key, value, etag="*")


def release_claim(store: StateStore, claim: Claim) -> None:
    """Forget a claim whose handling failed transiently, so the retry is handled."""
    with contextlib.suppress(Conflict):
        store.delete_record(TABLE, claim.key, etag=claim.etag)


def _fresh(value: object, now: datetime, ttl: timedelta) -> bool:
    at = value.get("at") if isinstance(value, dict) else None
    try:
        return at is not None and now - datetime.fromisoformat(str(at)) < ttl
    except ValueError:
        return False
