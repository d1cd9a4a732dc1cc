"""The message ``alert_webhook`` hands to ``alert_worker``: one accepted alert, routed.

Action groups wait at most 10 seconds for an answer, and a remediation reads metrics,
the cluster and its API server before it writes. So the webhook authenticates,
validates, routes and claims the alert (``ops.alerts.dedupe``), then sends this message
to the app's queue (``OPS_ALERT_QUEUE``) and answers 202. ``alert_worker`` does the
capability's work, at least once: the claim record says when an alert was already
handled, so a redelivered message acts no more.

The message carries the alert's body as it was received, with the route that matched
it and the claim's key::

    {"version": 1, "route": "snat-load-balancer", "claim": "<40 hex>", "alert": {...}}

A body too large for a queue message (64 KiB, base64-encoded by the host) is handled
inline by the webhook instead. The worker parses the alert again (it trusts nothing it
reads from a queue) and resolves the route by name in the current policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ops.payloads import fail, load_json

VERSION = 1
#: What fits a queue message once the host base64-encodes it (64 KiB), with room to spare.
MAX_MESSAGE_BYTES = 45_000
_CLAIM = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True, slots=True)
class AlertWork:
    route: str
    claim: str
    alert: Any


def encode_work(alert: Any, *, route: str, claim: str) -> str | None:
    """The message for one accepted alert; None when it is too large for a queue message."""
    text = json.dumps(
        {"version": VERSION, "route": route, "claim": claim, "alert": alert}, separators=(",", ":")
    )
    return text if len(text.encode()) <= MAX_MESSAGE_BYTES else None


def parse_work(body: bytes | str) -> AlertWork:
    """An ``alert_worker`` message; InvalidInput with the field path otherwise."""
    value = load_json(body, limit=MAX_MESSAGE_BYTES * 2, what="an alert work message")
    if not isinstance(value, dict):
        fail((), "an alert work message: an object with version, route, claim and alert", value)
    if value.get("version") != VERSION:
        fail(("version",), f"{VERSION}", value.get("version"))
    route = value.get("route")
    if not isinstance(route, str) or not 1 <= len(route) <= 80:
        fail(("route",), "the name of an alert route", route)
    claim = value.get("claim")
    if not isinstance(claim, str) or not _CLAIM.fullmatch(claim):
        fail(("claim",), "the key of an alert claim: 40 hex digits", claim)
    if not isinstance(value.get("alert"), dict):
        fail(("alert",), "the common-alert-schema body the webhook received", value.get("alert"))
    return AlertWork(route=str(route), claim=str(claim), alert=value["alert"])
