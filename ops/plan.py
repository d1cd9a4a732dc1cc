"""Plans: what a capability intends to do, and why, before anything is done.

Every planner is a pure function from observed state, policy and ``now`` to a
:class:`Plan`. The executor applies plans and reports one :class:`Outcome` per
action. A dry run returns the same plan and summary shape as a real run, so that
what an operator reviews is exactly what would be applied.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Action:
    """One intended change.

    ``service`` names the rate-limited endpoint the action hits (for example
    ``acr:myreg`` or ``arm``), so the executor can pace each service separately.
    ``key`` is the idempotency key: the same key applied twice has one effect.
    ``missing_ok`` says that a NotFound from the target means the work is done.
    """

    kind: str
    target: str
    reason: str
    service: str
    params: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    missing_ok: bool = False

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", make_key(self.kind, self.target, self.params))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "reason": self.reason,
            "service": self.service,
            "params": dict(self.params),
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class Guard:
    """An object that the plan leaves alone, with the reason (protected or skipped)."""

    target: str
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "reason": self.reason}
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions a capability would take, plus everything it deliberately did not touch.

    ``cap`` is the largest number of actions the executor may apply from this plan;
    a plan over its cap is refused as a whole rather than truncated, because a
    truncated destructive plan is a different plan from the one reviewed.
    """

    capability: str
    actions: Sequence[Action] = ()
    protected: Sequence[Guard] = ()
    skipped: Sequence[Guard] = ()
    cap: int | None = None
    notes: Sequence[str] = ()

    @property
    def over_cap(self) -> bool:
        return self.cap is not None and len(self.actions) > self.cap

    def summary(self) -> dict[str, Any]:
        """Counts by action kind and by guard reason: the same shape for dry and real runs."""
        return {
            "capability": self.capability,
            "actions": len(self.actions),
            "by_kind": dict(Counter(a.kind for a in self.actions)),
            "protected": len(self.protected),
            "protected_by_reason": dict(Counter(reason_class(g.reason) for g in self.protected)),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(Counter(reason_class(g.reason) for g in self.skipped)),
            "cap": self.cap,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "summary": self.summary(),
            "actions": [a.to_dict() for a in self.actions],
            "protected": [g.to_dict() for g in self.protected],
            "skipped": [g.to_dict() for g in self.skipped],
            "notes": list(self.notes),
        }


class Status(StrEnum):
    """What happened to one action."""

    APPLIED = "applied"
    ALREADY_DONE = "already_done"  # NotFound on a missing_ok action, or key seen before
    DRY_RUN = "dry_run"
    HALTED = "halted"  # the kill switch is on
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of applying (or not applying) one action."""

    action: Action
    status: Status
    attempts: int = 0
    detail: str = ""
    retryable: bool = False  # a FAILED action that a later delivery may well complete

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.action.kind,
            "target": self.action.target,
            "key": self.action.key,
            "status": str(self.status),
            "attempts": self.attempts,
            "detail": self.detail,
            "retryable": self.retryable,
        }


def summarize_outcomes(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """Counts of outcomes by status, for logs and run records."""
    return dict(Counter(str(o.status) for o in outcomes))


def reason_class(reason: str) -> str:
    """The part of a reason before the first colon: ``protected: in-use by x`` → ``protected``."""
    return reason.split(":", 1)[0].strip()


def make_key(kind: str, target: str, params: Mapping[str, Any]) -> str:
    """A stable idempotency key from what the action does, not when it was planned."""
    blob = json.dumps([kind, target, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]
