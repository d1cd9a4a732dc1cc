"""Queue-triggered functions: the app's own fan-out work.

A message is delivered at least once; raising makes the host retry it (up to
``maxDequeueCount`` in host.json, then the poison queue), so only transient
failures raise."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="%OPS_PURGE_QUEUE%", connection="AzureWebJobsStorage")
def purge_repository(msg: func.QueueMessage) -> None:
    """ACR purge of one batch of repositories: plan, apply, record (a replay does nothing)."""
    import logging

    from ops.errors import OpsError, TransientError
    from ops.services import get_services

    log = logging.getLogger("ops.triggers.purge_repository")
    services = get_services()
    body = msg.get_body()
    try:
        from ops.purge.messages import parse_batch_message

        result = services.purge_service().process_batch(parse_batch_message(body))
    except TransientError:
        raise  # the host redelivers; applied deletes are not repeated (idempotency keys)
    except OpsError as exc:  # a malformed message, an unknown run, a bad policy: record and ack
        from ops.purge.service import record_rejection

        record_rejection(services.store(), "purge_repository", exc, body[:2000])
        log.error("purge_repository rejected message %s: %s: %s", msg.id, type(exc).__name__, exc)
        return
    log.info("purge_repository %s: %s", result.status, result.to_dict())
