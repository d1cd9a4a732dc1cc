"""The demo's runbook step: an operator works the estate over HTTP, with an Entra token.

``ops serve`` hosts the app's HTTP functions on a local port; the sandbox's Entra
tenant issues the tokens. An operator holding ``Ops.Operate`` snoozes a dev cluster,
reviews a purge plan for one repository (the demo's purge policy, before the scheduled
purge runs) and applies exactly that plan (its digest);
a caller with only ``Ops.Read`` is refused the apply; the audit trail names the operator;
the snooze is cleared again, so that the schedule step sees aks-dev as scheduled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.rendering import format_counts

if TYPE_CHECKING:
    from ops.demo import DemoContext


def step_runbooks(ctx: DemoContext) -> None:
    import requests

    from ops.demo import CAPABILITIES, DEMO_PURGE_POLICY, temporary_env
    from ops.services import get_services
    from ops.triggers.serving import LocalHost
    from sandbox.cli import issue_token

    env = ctx.sandbox.env()
    operator = issue_token(env, roles=["Ops.Read", "Ops.Operate"], name="sam")
    reader = issue_token(env, roles=["Ops.Read"], name="robin")

    def call(method: str, url: str, token: str, body: Any = None, **params: str) -> requests.Response:
        return requests.request(
            method,
            url,
            json=body,
            params=params or None,
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        )

    with temporary_env(OPS_PURGE_POLICY=DEMO_PURGE_POLICY, OPS_DRY_RUN="true"), LocalHost(ctx.app) as host:
        api = host.url
        ctx.say(
            "runbooks",
            f"ops serve at {api}; tokens from the sandbox's Entra tenant ({env['OPS_AUTH_AUTHORITY_HOST']})",
        )
        snooze = call(
            "POST",
            f"{api}/runbooks/schedule-snooze",
            operator,
            {"params": {"cluster": "aks-dev", "until": "3h"}, "reason": "release testing tonight"},
        )
        _expect(snooze, 200)
        until = ctx.sandbox.world.clusters["aks-dev"].tags.get("ops-snooze-until")
        ctx.say(
            "runbooks",
            f"sam (Ops.Operate) snoozes aks-dev: POST → {snooze.status_code}, ops-snooze-until={until}",
        )
        target = {"registry": "contosoprod", "repository": "payments/api"}
        plan = call("GET", f"{api}/runbooks/purge", operator, **target)
        _expect(plan, 200)
        reviewed = plan.json()
        summary = reviewed["plan"]["summary"]
        ctx.say(
            "runbooks",
            f"GET purge plan for contosoprod/payments/api: {format_counts(summary['by_kind'])}, protected "
            f"{summary['protected']}; planDigest {reviewed['planDigest'][:12]}…; nothing deleted yet",
        )
        body = {
            "params": target,
            "planDigest": reviewed["planDigest"],
            "reason": "CHG-1042",
        }
        refused = call("POST", f"{api}/runbooks/purge", reader, body)
        _expect(refused, 403)
        ctx.say(
            "runbooks",
            f"robin (Ops.Read only) applies it: {refused.status_code} {refused.json()['detail']}",
            "refused",
        )
        applied = call("POST", f"{api}/runbooks/purge", operator, body)
        _expect(applied, 200)
        run = applied.json()["run"]
        deletes = [
            r
            for r in get_services().store().query_audit(capability="purge", limit=50)
            if r.kind == "delete_manifest" and (r.detail.get("caller") or {}).get("name") == "Sam"
        ]
        ctx.say(
            "runbooks",
            f"sam applies the reviewed plan: run {run['id']} {run['status']} "
            f"({format_counts(run['summary'])}); "
            f"{len(deletes)} delete(s) in the audit trail name Sam ({run['caller']['oid'][:8]}…)",
        )
        _settle(ctx)  # the snooze's tag update finishes, as it would in a few seconds in Azure
        cleared = call(
            "POST",
            f"{api}/runbooks/schedule-snooze",
            operator,
            {"params": {"cluster": "aks-dev", "clear": True}, "reason": "testing done"},
        )
        _expect(cleared, 200)
        _settle(ctx)
        ctx.say(
            "runbooks",
            f"sam clears the snooze: POST → {cleared.status_code}; aks-dev follows its schedule again",
        )
    if run["status"] != "succeeded" or not deletes:
        raise RuntimeError(f"the runbook run {run['status']}, with {len(deletes)} audited delete(s)")
    CAPABILITIES["runbooks"] = "snooze and purge over HTTP with an Ops.Operate token; Ops.Read refused"


def _settle(ctx: DemoContext) -> None:
    world = ctx.sandbox.world
    with world.lock:
        world.clock_offset += float(world.settings.get("lro_seconds", 3)) + 1


def _expect(response: Any, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"not {status}: {response.text[:500]}"
        )
