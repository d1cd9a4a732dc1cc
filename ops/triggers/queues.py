"""Queue-triggered functions: the app's own fan-out work.

A message is delivered at least once; raising makes the host retry it (up to
``maxDequeueCount`` in host.json, then the poison queue). Errors are mapped by
``ops.triggers.handling``: a malformed message is recorded and acknowledged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from ops.triggers.handling import Result, run_handler

if TYPE_CHECKING:
    from ops.services import Services

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="%OPS_PURGE_QUEUE%", connection="AzureWebJobsStorage")
def purge_repository(msg: func.QueueMessage) -> Result:
    """ACR purge of one batch of repositories: plan, apply, record (a replay does nothing)."""
    body = msg.get_body()

    def handle(services: Services) -> object:
        from ops.purge.messages import parse_batch_message

        return services.purge_service().process_batch(parse_batch_message(body)).to_dict()

    return run_handler("purge_repository", handle, capability="purge", body=body, event_id=msg.id)


@bp.queue_trigger(arg_name="msg", queue_name="%OPS_ALERT_QUEUE%", connection="AzureWebJobsStorage")
def alert_worker(msg: func.QueueMessage) -> Result:
    """An alert ``alert_webhook`` accepted: its capability confirms, plans and applies (once)."""
    body = msg.get_body()

    def handle(services: Services) -> object:
        from ops.alerts.work import parse_work

        return services.alert_webhook().work(parse_work(body)).to_dict()

    return run_handler("alert_worker", handle, capability="alerts", body=body, event_id=msg.id)


@bp.queue_trigger(arg_name="msg", queue_name="%OPS_RUNBOOK_QUEUE%", connection="AzureWebJobsStorage")
def runbook_worker(msg: func.QueueMessage) -> Result:
    """A runbook run too long for its HTTP call: apply the accepted plan, record the outcomes."""
    body = msg.get_body()

    def handle(services: Services) -> object:
        from ops.runbooks.runs import parse_run_message

        return services.runbook_service().work(parse_run_message(body)).status

    return run_handler("runbook_worker", handle, capability="runbook", body=body, event_id=msg.id)
