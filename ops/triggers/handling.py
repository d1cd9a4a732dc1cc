"""How every trigger runs its handler: one table from errors to the host's retry semantics.

A trigger decodes nothing and catches nothing itself: it passes a function of the
process's :class:`ops.services.Services` to :func:`run_handler` (Event Grid, queue,
timer) or :func:`respond_to_request` (HTTP). Building the services is inside the
same ``try`` as the work, so a bad setting and a bad policy are handled alike.

========================  ======  ==========================================  ======
error                     record  Event Grid, queue, timer                    HTTP
========================  ======  ==========================================  ======
InvalidInput              yes     acknowledge: retrying cannot fix the input  400
Unauthenticated           no      acknowledge                                 401
NotPermitted              yes     acknowledge                                 403
TransientError            no      raise: the host redelivers or fails the run 503
ConfigError               yes     raise                                       500
NotFound                  yes     raise                                       404
Conflict                  yes     raise                                       409
Forbidden                 yes     raise                                       502
CapExceeded               yes     raise                                       422
Refused                   yes     raise                                       422
PermanentError            yes     raise                                       500
anything else (a bug)     no      raise, logged with its traceback            raise
========================  ======  ==========================================  ======

Configuration and permanent errors raise although retrying cannot fix them: the
host then keeps the input (Event Grid retries for up to 24 hours, then
dead-letters; a queue message goes to the poison queue; a timer run shows as
failed) until someone fixes the setting, the policy or the role. Acknowledging an
ImagePushed because of a bad policy would let the image through ungated, so the
gate fails closed. The rejection record (``ops.rejections``, once a day per error)
says why in the audit trail. A rejection that cannot be recorded is never
acknowledged: the error is raised, so the host keeps the input.

HTTP callers are answered with the status above and an RFC 9457 problem document
(``application/problem+json``: ``type``, ``title``, ``status``, ``detail``, plus
``error``, the error's class, and for invalid input ``path`` and ``expected``); a 401
carries ``WWW-Authenticate: Bearer``. ``Forbidden`` is a 502 because it is the app's
identity that Azure refused, not the caller. An Unauthenticated caller is told no
more than that its token was not accepted; which check failed goes to the log.

Services are imported inside the functions: ``import function_app`` stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import azure.functions as func

from ops.errors import (
    CapExceeded,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NotPermitted,
    OpsError,
    PermanentError,
    Refused,
    TransientError,
    Unauthenticated,
    describe_error,
)
from ops.triggers.responses import respond_problem

if TYPE_CHECKING:
    from ops.services import Services


@dataclass(frozen=True, slots=True)
class Handling:
    """What a trigger does with one class of error."""

    record: bool  # leave a rejection in the audit trail
    acknowledge: bool  # return normally (non-HTTP), so that the host does not deliver it again
    status: int  # the HTTP answer


#: The first class an error is an instance of decides, so subclasses come first.
HANDLING: tuple[tuple[type[OpsError], Handling], ...] = (
    (InvalidInput, Handling(record=True, acknowledge=True, status=400)),
    (Unauthenticated, Handling(record=False, acknowledge=True, status=401)),
    (NotPermitted, Handling(record=True, acknowledge=True, status=403)),
    (TransientError, Handling(record=False, acknowledge=False, status=503)),
    (ConfigError, Handling(record=True, acknowledge=False, status=500)),
    (NotFound, Handling(record=True, acknowledge=False, status=404)),
    (Conflict, Handling(record=True, acknowledge=False, status=409)),
    (Forbidden, Handling(record=True, acknowledge=False, status=502)),
    (CapExceeded, Handling(record=True, acknowledge=False, status=422)),
    (Refused, Handling(record=True, acknowledge=False, status=422)),
    (PermanentError, Handling(record=True, acknowledge=False, status=500)),
)


def handling_for(error: BaseException) -> Handling | None:
    """The row for ``error``; None for an exception the product did not raise on purpose."""
    return next((row for kind, row in HANDLING if isinstance(error, kind)), None)


#: What a non-HTTP function returns: what it did and why (``ops invoke`` prints it).
Result = dict[str, object]


def run_handler(
    function_name: str,
    call: Callable[[Services], object],
    *,
    capability: str,
    body: object = None,
    past_due: bool = False,
    event_id: str | None = None,
) -> Result:
    """Run ``call`` for an Event Grid, queue or timer function; return what was done and why
    when the input is done with (handled, or rejected and recorded), raise when the host
    should keep it.

    ``call`` returns what it did (a service result's dict, or a line); ``body`` is the
    delivered input, kept with a rejection record; ``event_id`` (the event's or
    message's id) names the invocation in telemetry. The result's ``status`` and
    ``reason`` say it in words (``ignored``: ``no gate rule covers contosoprod/foo``),
    and are what the log line says too.
    """
    from ops.telemetry import invocation, record_invocation_result

    log = logging.getLogger(f"ops.triggers.{function_name}")
    start_telemetry()
    with invocation(function_name, capability=capability, event_id=event_id):
        try:
            from ops.services import get_services

            outcome = call(get_services())
        except Exception as exc:
            if _settle(function_name, exc, capability=capability, body=body, log=log):
                record_invocation_result("rejected", error=exc)
                return {"status": "rejected", "reason": describe_error(exc), "recorded": True}
            record_invocation_result(_result_of(exc), error=exc)
            raise
        record_invocation_result("handled")
        result = describe_outcome(outcome)
        late = " (past due)" if past_due else ""
        log.info("%s%s: %s: %s", function_name, late, result["status"], result["reason"])
        return result


def describe_outcome(outcome: object) -> Result:
    """``status`` and ``reason`` for what a handler returned, with its details kept.

    A service result's dict says its ``status`` and, where it did nothing, why (its
    ``reason``, or ``detail``); a plain line is its own reason.
    """
    if isinstance(outcome, dict):
        status = str(outcome.get("status") or "done")
        reason = str(outcome.get("reason") or outcome.get("detail") or status)
        return {
            "status": status,
            "reason": reason,
            **{k: v for k, v in outcome.items() if k not in ("status", "reason")},
        }
    return {"status": "done", "reason": str(outcome)}


def respond_to_request(
    function_name: str,
    call: Callable[[Services], func.HttpResponse],
    *,
    capability: str,
    body: object = None,
    event_id: str | None = None,
) -> func.HttpResponse:
    """Run ``call`` for an HTTP function: the product's errors become JSON answers (see the table).

    ``event_id`` (an alert's id, say) names the invocation in telemetry."""
    from ops.telemetry import invocation, record_invocation_result

    log = logging.getLogger(f"ops.triggers.{function_name}")
    start_telemetry()
    with invocation(function_name, capability=capability, event_id=event_id):
        try:
            from ops.services import get_services

            response = call(get_services())
        except OpsError as exc:
            handling = handling_for(exc)
            assert handling is not None  # every OpsError has a row
            _settle(function_name, exc, capability=capability, body=body, log=log)
            record_invocation_result("rejected" if handling.status < 500 else _result_of(exc), error=exc)
            return _error_response(exc, handling.status)
        except Exception as exc:
            _settle(function_name, exc, capability=capability, body=body, log=log)
            record_invocation_result("failed", error=exc)
            raise
        record_invocation_result("handled")
        log.info("%s: %s", function_name, response.status_code)
        return response


def start_telemetry() -> None:
    """Configure telemetry on the first invocation in this process (never at import)."""
    from ops.adapters.telemetry import configure_telemetry

    configure_telemetry(os.environ)


def _result_of(error: Exception) -> str:
    return "transient" if isinstance(error, TransientError) else "failed"


def _settle(
    function_name: str, error: Exception, *, capability: str, body: object, log: logging.Logger
) -> bool:
    """Record and log ``error``; True when the input may be acknowledged."""
    handling = handling_for(error)
    if handling is None:
        log.exception("%s failed: %s", function_name, describe_error(error))
        return False
    recorded = not handling.record or _record(function_name, error, capability=capability, body=body, log=log)
    if handling.record:
        from ops.telemetry import record_rejection

        record_rejection(capability=capability, function=function_name, error=error, recorded=recorded)
    acknowledged = handling.acknowledge and recorded
    if isinstance(error, TransientError):
        log.warning("%s failed transiently: %s", function_name, describe_error(error))
    else:
        verb = "rejected" if acknowledged else "failed"
        note = "" if recorded else " (not recorded)"
        why = f" ({error.reason})" if isinstance(error, Unauthenticated) else ""
        log.error("%s %s%s: %s%s", function_name, verb, note, describe_error(error), why)
    return acknowledged


def _record(
    function_name: str, error: Exception, *, capability: str, body: object, log: logging.Logger
) -> bool:
    """Write the rejection record; False when it cannot be written (settings that open no
    store, a store that is down), which is logged."""
    try:
        from ops.rejections import record_rejection
        from ops.services import get_services

        record_rejection(
            get_services().store(),
            capability=capability,
            source=function_name,
            error=error,
            body=body,
            now=datetime.now(UTC),
        )
    except Exception:
        log.exception("%s: could not record the rejection", function_name)
        return False
    return True


def _error_response(error: OpsError, status: int) -> func.HttpResponse:
    extra: dict[str, object] = {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, InvalidInput):
        extra |= {"path": error.path, "expected": error.expected}
    if isinstance(error, NotPermitted):
        extra["role"] = error.role
    extra |= getattr(error, "extensions", None) or {}
    response = respond_problem(status, str(error), extra)
    if isinstance(error, TransientError) and error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if isinstance(error, Unauthenticated):
        challenge = f'Bearer realm="{REALM}"'
        if error.challenge:
            challenge += f', error="{error.challenge}"'
        response.headers["WWW-Authenticate"] = challenge
    return response


REALM = "acr-aks-ops"
