"""Publishing the app's own CloudEvents to its Event Grid topic (azure-eventgrid).

Other systems subscribe to the topic (``OPS_EVENTS_TOPIC_ENDPOINT``, a CloudEvents 1.0
input-schema topic) instead of polling the app. Access keys are disabled on the topic,
so the client authenticates with the app's managed identity for the Event Grid audience
(``https://eventgrid.azure.net``); the identity needs EventGrid Data Sender. One client
per endpoint per process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ops.adapters.clients import cached_client
from ops.adapters.errors import translated_errors
from ops.adapters.identity import build_credential
from ops.config import Settings


def publisher_client(settings: Settings, endpoint: str) -> Any:
    """The process-wide EventGridPublisherClient for ``endpoint``."""
    from azure.eventgrid import EventGridPublisherClient

    credential = build_credential(settings)
    return cached_client(
        (EventGridPublisherClient, endpoint, credential),
        lambda: EventGridPublisherClient(endpoint, credential),
    )


class EventGridPublisher:
    """Sends CloudEvents (given as dicts) to one topic, in one batch per call."""

    def __init__(self, settings: Settings, endpoint: str) -> None:
        self.settings = settings
        self.endpoint = endpoint

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        if not events:
            return
        from azure.core.messaging import CloudEvent

        batch = [
            CloudEvent(
                source=str(event["source"]),
                type=str(event["type"]),
                data=event.get("data"),
                subject=event.get("subject"),
                id=str(event["id"]),
                time=datetime.fromisoformat(str(event["time"])) if event.get("time") else None,
                datacontenttype=event.get("datacontenttype"),
            )
            for event in events
        ]
        client = publisher_client(self.settings, self.endpoint)
        with translated_errors(f"publish {len(batch)} event(s) to {self.endpoint}"):
            client.send(batch)
