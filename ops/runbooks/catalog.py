"""The runbook registry: every runbook by its stable name, with what it needs.

A :class:`Runbook` is a name, a parameter model, and two functions over the app's
services: ``prepare`` computes the plan (read-only), ``execute`` applies a prepared
plan after the caller's review (``review`` raises when the plan it is about to apply
differs from the reviewed one). Each capability registers its runbooks in its own
module of this package (``purging``, ``gating``, ``scheduling``, ``failing``;
remediation adds its own the same way), and ``RUNBOOKS`` is built from them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ops.plan import Outcome, Plan

if TYPE_CHECKING:
    from ops.services import Services


@dataclass(frozen=True, slots=True)
class Context:
    """What a runbook acts with: the services, whether this is an apply, and who asked."""

    services: Services
    apply: bool
    actor: Mapping[str, Any] | None = None

    @property
    def caller_name(self) -> str:
        actor = self.actor or {}
        return str(actor.get("name") or actor.get("oid") or "the app")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A plan, plus what ``execute`` needs to apply exactly it, and what to show beside it."""

    plan: Plan
    state: Any = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Execution:
    """What applying did: one outcome per action, and a summary to keep with the run."""

    outcomes: Sequence[Outcome]
    detail: Mapping[str, Any] = field(default_factory=dict)


Prepare = Callable[[Context, Any], Prepared]
Execute = Callable[[Context, Any, Prepared, Callable[[Plan], None]], Execution]


@dataclass(frozen=True, slots=True)
class Runbook:
    """One runbook. ``approval``: applying it needs the approve role as well as operate.
    ``guarded``: the runbook acts on one target, and a plan whose guard protects (or
    refuses) that target is refused as a whole (422), not applied as an empty plan."""

    name: str
    summary: str
    capability: str
    params: type[BaseModel]
    prepare: Prepare
    execute: Execute
    approval: bool = False
    guarded: bool = False


def all_runbooks() -> dict[str, Runbook]:
    """Every runbook, by name, in the order the capabilities list them."""
    from ops.runbooks import failing, gating, purging, remediating, scheduling

    found: dict[str, Runbook] = {}
    for module in (purging, gating, scheduling, remediating, failing):
        for runbook in module.RUNBOOKS:
            if runbook.name in found:
                raise ValueError(f"two runbooks are named {runbook.name!r}")
            found[runbook.name] = runbook
    return found
