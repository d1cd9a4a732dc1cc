"""Timer-triggered functions. Schedules are app settings (``%SETTING%``), so operators
change them without a deploy. Timer runs can overlap or replay: each service takes its
own lease before acting."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.timer_trigger(schedule="%SCHEDULE_TICK%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_tick(timer: func.TimerRequest) -> None:
    """Non-prod AKS shutdown and startup: one schedule tick under its lease."""
    import logging

    from ops.errors import OpsError, TransientError
    from ops.services import get_services

    log = logging.getLogger("ops.triggers.schedule_tick")
    services = get_services()
    try:
        result = services.schedule_service().tick()
    except TransientError:
        raise  # the run fails visibly; the next tick starts over from observed state
    except OpsError as exc:  # bad policy, missing role, ...: retrying cannot help, so record it
        from ops.schedule.service import record_rejected_tick

        record_rejected_tick(services.store(), exc)
        log.error("schedule_tick rejected: %s: %s", type(exc).__name__, exc)
        return
    log.info("schedule_tick%s: %s", " (past due)" if timer.past_due else "", result.log_line())
    if result.gave_up_transiently:
        raise TransientError(f"schedule_tick: {len(result.failed)} action(s) failed; see the audit trail")


@bp.timer_trigger(schedule="%PURGE_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def purge_schedule(timer: func.TimerRequest) -> None:
    """ACR purge: enumerate registries and repositories, compute in-use once, enqueue batches."""
    import logging

    from ops.errors import OpsError, TransientError
    from ops.services import get_services

    log = logging.getLogger("ops.triggers.purge_schedule")
    services = get_services()
    try:
        service = services.purge_service(queue=True)
        result = service.schedule()
    except TransientError:
        raise  # the run fails visibly; the next timer run starts a new run
    except OpsError as exc:  # a bad policy or setting, a missing role: retrying cannot help
        from ops.purge.service import record_rejection

        record_rejection(services.store(), "purge_schedule", exc, None)
        log.error("purge_schedule rejected: %s: %s", type(exc).__name__, exc)
        return
    log.info("purge_schedule%s: %s", " (past due)" if timer.past_due else "", result.to_dict())


@bp.timer_trigger(schedule="%GATE_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def gate_sweep(timer: func.TimerRequest) -> None:
    """The gate: re-evaluate pending images in batches (one Resource Graph query per batch)."""
    import logging

    from ops.errors import OpsError, TransientError
    from ops.services import get_services

    log = logging.getLogger("ops.triggers.gate_sweep")
    services = get_services()
    try:
        result = services.gate_service().sweep()
    except TransientError:
        raise  # the run fails visibly; the next sweep picks up what is still pending
    except OpsError as exc:  # a bad policy or setting, a missing role: retrying cannot help
        from ops.gate.service import record_rejected_event

        record_rejected_event(services.store(), "gate_sweep", exc, event_id=None, source="gate_sweep")
        log.error("gate_sweep rejected: %s: %s", type(exc).__name__, exc)
        return
    log.info("gate_sweep%s: %s", " (past due)" if timer.past_due else "", result.to_dict())
