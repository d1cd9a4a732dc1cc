"""Event Grid-triggered functions.

The host answers 500 for the whole delivery if an invocation raises, and Event Grid
redelivers it for up to 24 hours, then dead-letters it. Errors are mapped by
``ops.triggers.handling``: a malformed event is recorded and acknowledged; anything
else that fails raises, so that no ImagePushed is acknowledged ungated."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from ops.triggers.handling import Result, run_handler

if TYPE_CHECKING:
    from ops.services import Services

bp = func.Blueprint()


@bp.event_grid_trigger(arg_name="event")
def gate_on_image_pushed(event: func.EventGridEvent) -> Result:
    """ACR ImagePushed (either schema): record, lock or quarantine, evaluate; other events are ignored."""
    body = _event_body(event)

    def handle(services: Services) -> object:
        from ops.events import parse_events

        result = services.gate_service().handle_event(parse_events(body)[0])
        return {"event": event.id, **result.to_dict()}

    return run_handler("gate_on_image_pushed", handle, capability="gate", body=body, event_id=event.id)


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
