"""Structured records: every plan, action outcome, rejection and transition, with fields.

Each record is a :mod:`logging` record on the ``ops.audit`` logger whose fields are
attributes of the LogRecord (``extra``), named in ``fields.RECORD_FIELDS``. The message
says the same in words, for a console. Values are strings, numbers or booleans, so
that every exporter keeps them; mappings are written as JSON.

Besides the audit table in storage, these records are the audit trail's queryable copy:
in Log Analytics they are ``AppTraces`` rows (docs/observability.md has the queries).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ops.errors import describe_error
from ops.telemetry.context import current_invocation
from ops.telemetry.fields import ACTION, EVENT, INVOCATION, LOGGER, PLAN, RECORD_FIELDS, REJECTED, TRANSITION
from ops.telemetry.metrics import add

if TYPE_CHECKING:
    from ops.plan import Outcome, Plan

log = logging.getLogger(LOGGER)

_DETAIL_LIMIT = 2000


def _emit(level: int, event: str, message: str, fields: Mapping[str, Any]) -> None:
    current = current_invocation()
    extra: dict[str, Any] = {**(current.fields() if current else {}), **fields, EVENT: event}
    unknown = set(extra) - RECORD_FIELDS
    if unknown:  # a programming error: queries and the workbook read these names
        raise ValueError(f"unknown record fields {sorted(unknown)}")
    log.log(level, message, extra={k: _plain(v) for k, v in extra.items()})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value if value is not None else ""
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."


def record_plan(plan: Plan, *, dry_run: bool) -> None:
    """One record per plan: its size by kind, and how much it protected and skipped."""
    summary = plan.summary()
    _emit(
        logging.INFO,
        PLAN,
        f"{plan.capability} plan: {summary['actions']} action(s) {summary['by_kind']}, "
        f"{summary['protected']} protected, {summary['skipped']} skipped{' (dry run)' if dry_run else ''}",
        {
            "capability": plan.capability,
            "actions": summary["actions"],
            "by_kind": summary["by_kind"],
            "protected": summary["protected"],
            "skipped": summary["skipped"],
            "dry_run": dry_run,
        },
    )


def record_outcomes(plan: Plan, outcomes: Sequence[Outcome], *, dry_run: bool) -> None:
    """One record per action with its outcome, and the ``ops.actions`` counter.

    ``status`` tells a dry run (``dry_run``) from an effect (``applied``,
    ``already_done``), a refusal (``halted``) and a failure (``failed``); ``dry_run`` says
    whether the run was a dry run at all.
    """
    record_plan(plan, dry_run=dry_run)
    for outcome in outcomes:
        action = outcome.action
        status = str(outcome.status)
        failed = status == "failed"
        _emit(
            logging.WARNING if failed else logging.INFO,
            ACTION,
            f"{plan.capability} {action.kind} {action.target}: {status}"
            f"{f' ({outcome.detail})' if outcome.detail else ''}; reason: {action.reason}",
            {
                "capability": plan.capability,
                "action_kind": action.kind,
                "target": action.target,
                "reason": action.reason,
                "status": status,
                "dry_run": dry_run,
                "key": action.key,
                "attempts": outcome.attempts,
                "detail": outcome.detail,
                "params": dict(action.params),
            },
        )
        add(
            "ops.actions",
            1,
            {"capability": plan.capability, "action_kind": action.kind, "status": status, "dry_run": dry_run},
        )


def record_rejection(*, capability: str, function: str, error: BaseException, recorded: bool) -> None:
    """Input or configuration the app refused: a record and the ``ops.rejected_inputs`` counter."""
    name = type(error).__name__
    path = getattr(error, "path", None)
    _emit(
        logging.WARNING,
        REJECTED,
        f"{function} rejected {describe_error(error)}{'' if recorded else ' (not in the audit table)'}",
        {
            "capability": capability,
            "function": function,
            "error": name,
            "reason": str(error),
            "path": path if isinstance(path, str) else "",
            "status": "recorded" if recorded else "not_recorded",
        },
    )
    add("ops.rejected_inputs", 1, {"capability": capability, "function": function, "error": name})


def record_invocation_result(result: str, *, error: BaseException | None = None) -> None:
    """How the invocation ended: ``handled``, ``rejected``, ``transient`` or ``failed``."""
    current = current_invocation()
    name = current.function if current else "invocation"
    text = f": {describe_error(error)}" if error is not None else ""
    _emit(
        logging.ERROR if result == "failed" else logging.INFO,
        INVOCATION,
        f"{name} {result}{text}",
        {"result": result, "error": type(error).__name__ if error is not None else ""},
    )


def record_transition_event(*, capability: str, from_state: str, to_state: str, target: str) -> None:
    _emit(
        logging.INFO,
        TRANSITION,
        f"{capability} {target}: {from_state} -> {to_state}",
        {"capability": capability, "from_state": from_state, "to_state": to_state, "target": target},
    )
