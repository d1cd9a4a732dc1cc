"""Timer-triggered functions. Schedules are app settings (``%SETTING%``), so operators
change them without a deploy. Timer runs can overlap or replay: each service takes its
own lease before acting. A run that raises shows as failed (errors are mapped by
``ops.triggers.handling``); the next run starts over from observed state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from ops.triggers.handling import Result, run_handler

if TYPE_CHECKING:
    from ops.services import Services

bp = func.Blueprint()


@bp.timer_trigger(schedule="%SCHEDULE_TICK%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_tick(timer: func.TimerRequest) -> Result:
    """Non-prod AKS shutdown and startup: one schedule tick under its lease."""

    def handle(services: Services) -> object:
        from ops.errors import TransientError

        result = services.schedule_service().tick()
        if result.gave_up_transiently:
            raise TransientError(
                f"{len(result.failed)} action(s) failed; see the audit trail ({result.log_line()})"
            )
        return {"status": "skipped" if result.skipped else "done", "reason": result.log_line()}

    return run_handler("schedule_tick", handle, capability="schedule", past_due=timer.past_due)


@bp.timer_trigger(schedule="%PURGE_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def purge_schedule(timer: func.TimerRequest) -> Result:
    """ACR purge: enumerate registries and repositories, compute in-use once, enqueue batches."""

    def handle(services: Services) -> object:
        return services.purge_service(queue=True).schedule().to_dict()

    return run_handler("purge_schedule", handle, capability="purge", past_due=timer.past_due)


@bp.timer_trigger(schedule="%GATE_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def gate_sweep(timer: func.TimerRequest) -> Result:
    """The gate: re-evaluate pending images in batches (one Resource Graph query per batch)."""

    def handle(services: Services) -> object:
        return services.gate_service().sweep().to_dict()

    return run_handler("gate_sweep", handle, capability="gate", past_due=timer.past_due)


@bp.timer_trigger(
    schedule="%REMEDIATE_WATCH_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def remediate_watch(timer: func.TimerRequest) -> Result:
    """Remediation: follow operations in flight, report drift, apply due restores of maxCount."""

    def handle(services: Services) -> object:
        from ops.errors import TransientError

        result = services.remediate_service().watch()
        if result.gave_up_transiently:
            raise TransientError(f"remediate_watch: {result.log_line()}; see the audit trail")
        return result.to_dict()

    return run_handler("remediate_watch", handle, capability="remediate", past_due=timer.past_due)


@bp.timer_trigger(
    schedule="%FAILOVER_WATCH_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def failover_watch(timer: func.TimerRequest) -> Result:
    """Failover: resume unfinished failovers, verify health, fail back with hysteresis."""

    def handle(services: Services) -> object:
        return services.failover_service().watch().to_dict()

    return run_handler("failover_watch", handle, capability="failover", past_due=timer.past_due)
