"""Rejections: input or configuration the app cannot act on, left in the audit trail.

Every trigger records them the same way (``ops.triggers.handling``): one audit record
per capability, source (the function), error text and UTC day. A broken policy fails
every timer run and every redelivery, and the host's logs show each failure; the
audit trail shows it once a day, so it stays visible without flooding. The audit
key is the idempotency key, so the store does the deduplicating, also across
instances.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ops.errors import describe_error
from ops.payloads import show_body
from ops.state.store import AuditRecord, StateStore, as_utc

KIND = "rejected"
_BODY_LIMIT = 2000


def record_rejection(
    store: StateStore,
    *,
    capability: str,
    source: str,
    error: Exception,
    body: object = None,
    now: datetime,
) -> bool:
    """Record ``error`` from ``source``; False when the same rejection was recorded today.

    ``body`` (the message or event, when there was one) is kept, shortened, with the
    day's first record only: the error text is what identifies a rejection.
    """
    moment = as_utc(now)
    # Printable whatever the input held: a lone surrogate must not fail the record itself.
    reason = describe_error(error).encode("utf-8", "backslashreplace").decode("utf-8")
    digest = hashlib.sha256(reason.encode()).hexdigest()[:32]
    detail: dict[str, object] = {"error": type(error).__name__}
    path = getattr(error, "path", None)
    if isinstance(path, str):
        detail["path"] = path
    if body is not None:
        detail["body"] = show_body(body, limit=_BODY_LIMIT)
    return store.append_audit(
        AuditRecord(
            key=f"{KIND}:{capability}:{source}:{moment.date().isoformat()}:{digest}",
            capability=capability,
            kind=KIND,
            target=source,
            reason=reason,
            status=KIND,
            at=moment,
            detail=detail,
        )
    )
