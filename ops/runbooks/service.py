"""Running runbooks: list them, plan one (GET), apply one (POST), report a run.

The HTTP function and ``ops runbook`` both call this, so that a terminal does exactly
what the API does. An apply:

1. validates the parameters against the runbook's model (errors name ``params.<field>``);
2. prepares the plan afresh, and refuses it when its digest differs from the
   ``planDigest`` the caller reviewed (409, with the new plan and digest), when a guard
   refuses it outright (a protected environment: 422), or when it is over its cap;
3. treats the same request repeated within minutes as a replay: the first run is
   answered again and nothing more is applied;
4. applies inline, or, for a plan of more than ``OPS_RUNBOOK_INLINE_ACTIONS`` actions,
   queues the run for ``runbook_worker`` and answers 202 with the run's location;
   the worker prepares the plan once more and applies it only if it is still the plan
   that was accepted;
5. records the run (``runbooks/runs/{id}``) and an audit record naming the caller; every
   action applied carries the caller in its own audit record too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ops.errors import InvalidInput, NotFound, OpsError, PlanChanged, Refused, describe_error
from ops.executor import check_cap
from ops.plan import Plan
from ops.runbooks.catalog import Context, Runbook, all_runbooks
from ops.runbooks.digests import plan_digest
from ops.runbooks.requests import RunbookRequest, validate_model
from ops.runbooks.runs import RUN_ID, Run, claim_replay, fingerprint, load_run, new_run_id, save_run
from ops.state.store import AuditRecord

if TYPE_CHECKING:
    from ops.services import Services

log = logging.getLogger(__name__)

CAPABILITY = "runbook"


@dataclass(frozen=True, slots=True)
class Answer:
    """What an apply answers: 200 with the finished run, or 202 with a queued one."""

    status: int
    run: Run
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"run": self.run.to_dict()}
        if self.replayed:
            body["replayed"] = True
        return body


class RunbookService:
    def __init__(
        self,
        services: Services,
        *,
        runbooks: Mapping[str, Runbook] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.services = services
        self.runbooks = dict(runbooks) if runbooks is not None else all_runbooks()
        self.clock = clock

    # -- reading -----------------------------------------------------------------------

    def runbook(self, name: str) -> Runbook:
        found = self.runbooks.get(name)
        if found is None:
            raise InvalidInput("name", f"a runbook name, one of: {', '.join(self.runbooks)}", name)
        return found

    def describe(self, role_names: Mapping[str, str]) -> dict[str, Any]:
        """Every runbook with its parameters (JSON Schema) and the roles it needs."""
        return {
            "runbooks": [
                {
                    "name": r.name,
                    "summary": r.summary,
                    "capability": r.capability,
                    "parameters": r.params.model_json_schema(),
                    "roles": {
                        "plan": [role_names["read"]],
                        "apply": [role_names["operate"], *([role_names["approve"]] if r.approval else [])],
                    },
                    "approval": r.approval,
                }
                for r in self.runbooks.values()
            ]
        }

    def plan(self, name: str, query: Mapping[str, str]) -> dict[str, Any]:
        """The plan ``POST`` would apply now, with its digest; changes nothing."""
        runbook = self.runbook(name)
        params = validate_model(runbook.params, dict(query), ("params",))
        prepared = runbook.prepare(Context(self.services, apply=False), params)
        return self._plan_body(runbook, params, prepared.plan, prepared.detail)

    def get_run(self, run_id: str) -> Run:
        run = load_run(self.services.store(), run_id) if RUN_ID.fullmatch(run_id) else None
        if run is None:
            raise NotFound(f"no runbook run {run_id!r}")
        return run

    # -- applying ----------------------------------------------------------------------

    def apply(
        self, name: str, request: RunbookRequest, caller: Mapping[str, Any], *, inline: bool = False
    ) -> Answer:
        """Apply runbook ``name`` for ``caller``; ``inline`` applies long work here too (the CLI,
        which no HTTP time limit binds)."""
        runbook = self.runbook(name)
        params = validate_model(runbook.params, dict(request.params), ("params",))
        context = Context(self.services, apply=True, actor=caller)
        prepared = runbook.prepare(context, params)
        plan = prepared.plan
        digest = plan_digest(plan)
        if request.plan_digest is not None and request.plan_digest != digest:
            raise PlanChanged(
                "the plan changed since it was reviewed; nothing was applied: review the new plan",
                extensions=self._plan_body(runbook, params, plan, {}),
            )
        if runbook.guarded:
            _refuse_guarded(plan, self._plan_body(runbook, params, plan, {}))
        check_cap(plan)
        now = self.clock()
        background = not inline and len(plan.actions) > self.services.settings.runbooks.inline_actions
        run = Run(
            id=new_run_id(now),
            runbook=name,
            params=params.model_dump(mode="json"),
            plan_digest=digest,
            caller=dict(caller),
            status="queued" if background else "running",
            created=now,
            reason=request.reason,
            actions=len(plan.actions),
        )
        store = self.services.store()
        earlier = claim_replay(store, fingerprint(name, run.params, digest), run.id, now=now)
        if earlier is not None:
            previous = load_run(store, earlier)
            if previous is not None:
                return Answer(200 if previous.done else 202, previous, replayed=True)
        save_run(store, run)
        if background:
            self.services.runbook_queue().send(json.dumps({"run": run.id}))
            return Answer(202, run)
        return Answer(200, self._execute(runbook, params, run, prepared, context))

    def work(self, run_id: str) -> Run:
        """Apply a queued run (``runbook_worker``): only the plan that was accepted."""
        run = self.get_run(run_id)
        if run.done:
            return run
        runbook = self.runbook(run.runbook)
        params = validate_model(runbook.params, dict(run.params), ("params",))
        context = Context(self.services, apply=True, actor=run.caller)
        prepared = runbook.prepare(context, params)
        if plan_digest(prepared.plan) != run.plan_digest:
            refused = replace(
                run,
                status="refused",
                finished=self.clock(),
                error="the plan changed between the request and its work; nothing was applied",
            )
            save_run(self.services.store(), refused)
            self._audit(refused)
            return refused
        save_run(self.services.store(), replace(run, status="running"))
        return self._execute(runbook, params, run, prepared, context)

    def _execute(self, runbook: Runbook, params: BaseModel, run: Run, prepared: Any, context: Context) -> Run:
        def review(plan: Plan) -> None:
            digest = plan_digest(plan)
            if digest != run.plan_digest:
                raise PlanChanged(
                    "the plan changed while it was being applied; nothing more was applied",
                    extensions=self._plan_body(runbook, params, plan, {}),
                )

        store = self.services.store()
        try:
            execution = runbook.execute(context, params, prepared, review)
        except OpsError as exc:
            failed = replace(run, status="failed", finished=self.clock(), error=describe_error(exc))
            save_run(store, failed)
            self._audit(failed)
            raise
        finished = run.finish(execution.outcomes, execution.detail, now=self.clock())
        save_run(store, finished)
        self._audit(finished)
        return finished

    def _audit(self, run: Run) -> None:
        caller = run.caller
        who = caller.get("name") or caller.get("oid") or "unknown"
        self.services.store().append_audit(
            AuditRecord(
                key=f"runbook|{run.id}|{run.status}",
                capability=CAPABILITY,
                kind=f"runbook.{run.runbook}",
                target=json.dumps(run.params, sort_keys=True)[:500],
                reason=run.reason or f"runbook {run.runbook} applied by {who}",
                status=run.status,
                at=run.finished or self.clock(),
                detail={
                    "run": run.id,
                    "caller": dict(caller),
                    "planDigest": run.plan_digest,
                    "summary": dict(run.summary),
                    "error": run.error,
                },
            )
        )

    def _plan_body(
        self, runbook: Runbook, params: BaseModel, plan: Plan, detail: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "runbook": runbook.name,
            "params": params.model_dump(mode="json"),
            "plan": plan.to_dict(),
            "planDigest": plan_digest(plan),
            "background": len(plan.actions) > self.services.settings.runbooks.inline_actions,
            "detail": json.loads(json.dumps(dict(detail), default=str)),
        }


def _refuse_guarded(plan: Plan, body: dict[str, Any]) -> None:
    """A plan with nothing to do because a guard refuses it is an error, not a success."""
    if plan.actions:
        return
    body.pop("detail", None)
    reasons = [g.reason for g in plan.protected] + [
        g.reason for g in plan.skipped if g.reason.startswith("refused")
    ]
    if reasons:
        raise Refused(f"refused: {reasons[0]}", extensions=body)
