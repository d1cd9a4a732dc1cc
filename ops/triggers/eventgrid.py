"""Event Grid-triggered functions.

The host answers 500 for the whole batch if any invocation raises, and Event Grid
then redelivers the batch, so only transient failures raise; malformed events are
recorded and acknowledged."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.event_grid_trigger(arg_name="event")
def gate_on_image_pushed(event: func.EventGridEvent) -> None:
    """ACR ImagePushed (either schema): record, lock or quarantine, evaluate; other events are ignored."""
    import logging

    from ops.errors import OpsError, TransientError
    from ops.services import get_services

    log = logging.getLogger("ops.triggers.gate_on_image_pushed")
    body = _event_body(event)
    services = get_services()
    try:
        from ops.events import parse_events

        result = services.gate_service().handle_event(parse_events(body)[0])
    except TransientError:
        raise  # Event Grid redelivers; applied effects are not repeated (idempotency keys)
    except OpsError as exc:  # a malformed event, a bad policy, a missing role: record and acknowledge
        from ops.gate.service import record_rejected_event

        record_rejected_event(services.store(), body, exc, event_id=str(body.get("id") or "") or None)
        log.error("gate_on_image_pushed rejected event %s: %s: %s", body.get("id"), type(exc).__name__, exc)
        return
    log.info("gate_on_image_pushed %s: %s", event.id, result.to_dict())


def _event_body(event: func.EventGridEvent | func.CloudEvent) -> dict[str, object]:
    """The event as it was delivered, for ops.events (the host has already split the batch)."""
    if isinstance(event, func.CloudEvent):
        body: dict[str, object] = {
            "id": event.id,
            "source": event.source,
            "specversion": event.specversion,
            "type": event.type,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "datacontenttype": event.datacontenttype,
            "data": event.get_json(),
        }
    else:
        body = {
            "id": event.id,
            "topic": event.topic,
            "subject": event.subject,
            "eventType": event.event_type,
            "eventTime": event.event_time.isoformat() if event.event_time else None,
            "data": event.get_json(),
            "dataVersion": event.data_version,
        }
    return {key: value for key, value in body.items() if value is not None}
