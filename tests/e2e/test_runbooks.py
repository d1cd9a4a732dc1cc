"""The runbooks over real HTTP: ``ops serve`` (LocalHost) in front of function_app, the app
against the sandbox, tokens from the sandbox's Entra tenant.

Cases:
- GET runbooks lists every runbook with its parameters and roles; the OpenAPI document
  is served without a token;
- purge: GET gives the plan (the old image deleted, the running one protected) and its
  digest, and deletes nothing; POST with that digest deletes it; the audit trail names
  the caller (oid, appid, name, roles used) on the delete and on the run; a replayed POST
  answers the same run and applies nothing more; a plan that changed between review and
  apply is refused with 409 and the new plan;
- schedule: a snooze sets the cluster's tag; a stop of a protected (prod) cluster is
  refused with 422 and nothing changes; a stop while the schedule keeps the cluster on
  is refused; after hours the stop is started and recorded for the tick to confirm; a start
  while the schedule wants the cluster off needs until, and with it snoozes and starts;
- gate: a denied image's re-evaluation is planned (by tag: resolved to its digest) and
  applied; an override needs Ops.Approve (403 with Ops.Operate alone) and, with it, lets
  the digest through at once (pullable again), naming who decided;
- long work: above OPS_RUNBOOK_INLINE_ACTIONS a POST answers 202 with a Location; the
  queued run is delivered to ``runbook_worker`` (as ``ops serve`` delivers local queues)
  and applied, and its run then reports the outcomes;
- ``ops runbook`` plans and applies the same runbook in-process, with the local user named
  as the caller, and exits 3 when a guard refuses;
- roles: 403 for GET without Ops.Read and POST without Ops.Operate; 401 without a token;
- bad input is a 400 problem naming the field: an unknown runbook, a missing and a
  mistyped parameter, an unknown body field, an oversized body; nothing is applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import function_app
from ops.services import get_services, reset_services
from ops.triggers.invoking import invoke_function
from ops.triggers.serving import LocalHost, LocalQueues
from sandbox.server import SandboxServer
from tests.support.entra import bearer, mint
from tests.support.gate import NOTATION, pull, push, pushed_event, scanned
from tests.support.sandbox import SUBSCRIPTION, app_sandbox

REGISTRY = "contosogate"
ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 600},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "test",
            "resourceGroups": [
                {"name": "rg-acr", "location": "westeurope"},
                {"name": "rg-aks", "location": "westeurope"},
            ],
        }
    ],
    "registries": [
        {
            "name": REGISTRY,
            "resourceGroup": "rg-acr",
            "sku": "Premium",
            "repositories": [
                {
                    "name": "payments/api",
                    "manifests": [
                        {"tags": ["v0"], "age": "60d"},
                        {"tags": ["v1"], "age": "40d"},
                        {"tags": ["v2"], "age": "2d"},
                    ],
                }
            ],
        }
    ],
    "clusters": [
        {
            "name": "aks-dev",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "dev"},
            "agentPools": [{"name": "system", "mode": "System", "count": 1}, {"name": "user", "count": 2}],
            "deployments": [
                {
                    "name": "api",
                    "namespace": "payments",
                    "replicas": 1,
                    "containers": [f"{REGISTRY}.azurecr.io/payments/api:v1"],
                }
            ],
        },
        {
            "name": "aks-prod",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "prod"},
            "agentPools": [{"name": "system", "mode": "System", "count": 3}],
        },
    ],
}
PURGE_POLICY = f"""
purge:
  minAge: 1d
  rules:
    - name: old
      registry: {REGISTRY}
      tags: 'v.*'
      olderThan: 30d
"""
SCHEDULE_POLICY = """
defaults:
  - selector: {environment: dev}
    schedule: Mon-Fri 07:30-19:00
    timezone: Europe/Berlin
  - selector: {environment: prod}
    schedule: Mon-Fri 08:00-18:00
    timezone: Europe/Berlin
"""
GATE_POLICY = f"""
gate:
  rules:
    - name: shop
      registry: {REGISTRY}
      repository: 'shop/.*'
      mode: lock
      maxSeverity: medium
      signatures: [notation]
"""
TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}
EVENING = "2026-11-26T19:05:00+01:00"  # a Thursday, after hours in Berlin
MORNING = "2026-11-27T09:00:00+01:00"


@dataclass
class Api:
    server: SandboxServer
    url: str
    monkeypatch: pytest.MonkeyPatch

    def token(self, *roles: str, name: str = "dana", app: bool = False) -> dict[str, str]:
        return bearer(mint(self.server, roles=list(roles), name=name, app=app))

    def get(self, path: str, roles: tuple[str, ...] = ("Ops.Read",), **params: Any) -> requests.Response:
        return requests.get(f"{self.url}/{path}", params=params, headers=self.token(*roles), timeout=60)

    def post(
        self, path: str, body: Any, roles: tuple[str, ...] = ("Ops.Operate",), **kw: Any
    ) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(f"{self.url}/{path}", data=data, headers=self.token(*roles, **kw), timeout=120)

    def settle(self) -> None:
        """Let the sandbox's long-running operations (tag updates, stops) finish."""
        with self.server.world.lock:
            self.server.world.clock_offset += 601

    def setting(self, key: str, value: str) -> None:
        self.monkeypatch.setenv(key, value)
        reset_services()


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    settings = {
        "AzureWebJobsStorage": None,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "true",  # runbooks apply on POST whatever the timers' setting
        "OPS_PURGE_POLICY": PURGE_POLICY,
        "OPS_SCHEDULE_POLICY": SCHEDULE_POLICY,
        "OPS_GATE_POLICY": GATE_POLICY,
        "OPS_SCHEDULE_NOW": EVENING,
    }
    try:
        with (
            app_sandbox(ESTATE, tmp_path / "sandbox", monkeypatch, settings) as server,
            LocalHost(function_app.app) as host,
        ):
            yield Api(server, host.url, monkeypatch)
    finally:
        reset_services()


def tags(server: SandboxServer) -> set[str]:
    return set(server.world.registries[REGISTRY].repositories["payments/api"].tags)


def test_the_list_and_the_openapi_document(api: Api) -> None:
    listing = api.get("runbooks")
    assert listing.status_code == 200, listing.text
    runbooks = {r["name"]: r for r in listing.json()["runbooks"]}
    assert set(runbooks) == {
        "purge",
        "gate-reevaluate",
        "gate-override",
        "schedule-snooze",
        "schedule-stop",
        "schedule-start",
        "failover",
        "failback",
        "remediate-snat",
        "remediate-autoscaler",
    }
    assert runbooks["gate-override"]["roles"]["apply"] == ["Ops.Operate", "Ops.Approve"]
    assert runbooks["purge"]["parameters"]["required"] == ["registry"]
    document = requests.get(f"{api.url}/runbooks/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0" and "/runbooks/purge" in document["paths"]


def test_purge_plan_apply_audit_and_replay(api: Api) -> None:
    planned = api.get("runbooks/purge", registry=REGISTRY)
    assert planned.status_code == 200, planned.text
    body = planned.json()
    deletes = [a for a in body["plan"]["actions"] if a["kind"] == "delete_manifest"]
    assert [a["params"]["tags"] for a in deletes] == [["v0"]]
    assert any("in use by" in g["reason"] for g in body["plan"]["protected"])
    assert tags(api.server) == {"v0", "v1", "v2"}  # a plan changes nothing

    request = {"params": {"registry": REGISTRY}, "planDigest": body["planDigest"], "reason": "INC-7 cleanup"}
    applied = api.post("runbooks/purge", request, name="sam")
    assert applied.status_code == 200, applied.text
    run = applied.json()["run"]
    assert run["status"] == "succeeded" and run["summary"] == {"applied": 1}
    assert run["caller"]["name"] == "Sam" and run["caller"]["roles"] == ["Ops.Operate"]
    assert tags(api.server) == {"v1", "v2"}

    store = get_services().store()
    deleted = [r for r in store.query_audit(capability="purge", limit=100) if r.kind == "delete_manifest"]
    assert len(deleted) == 1 and deleted[0].detail["caller"]["name"] == "Sam"
    assert deleted[0].detail["caller"]["oid"] == run["caller"]["oid"] and deleted[0].detail["caller"]["appid"]
    (summary,) = store.query_audit(capability="runbook", limit=10)
    assert summary.reason == "INC-7 cleanup" and summary.detail["caller"]["name"] == "Sam"

    again = api.post("runbooks/purge", {"params": {"registry": REGISTRY}}, name="sam")
    assert again.status_code == 200 and again.json()["run"]["actions"] == 0  # nothing old is left
    replay = api.post("runbooks/purge", request, name="sam")
    assert replay.status_code == 409  # the reviewed plan is gone: it was applied
    first = api.post(
        "runbooks/schedule-snooze", {"params": {"cluster": "aks-dev", "until": "2026-12-01T08:00"}}
    )
    second = api.post(
        "runbooks/schedule-snooze", {"params": {"cluster": "aks-dev", "until": "2026-12-01T08:00"}}
    )
    assert first.status_code == second.status_code == 200
    assert second.json()["replayed"] is True and second.json()["run"]["id"] == first.json()["run"]["id"]
    snoozes = [r for r in store.query_audit(capability="schedule", limit=100) if r.kind == "snooze"]
    assert len(snoozes) == 1
    fetched = api.get(f"runbooks/runs/{run['id']}")
    assert fetched.status_code == 200 and fetched.json()["run"]["outcomes"][0]["status"] == "applied"


def test_a_plan_that_changed_is_refused(api: Api) -> None:
    reviewed = api.get("runbooks/purge", registry=REGISTRY).json()
    with api.server.world.lock:  # someone deletes the old image by other means meanwhile
        repository = api.server.world.registries[REGISTRY].repositories["payments/api"]
        digest = repository.tags.pop("v0").digest
        repository.manifests.pop(digest)
    refused = api.post(
        "runbooks/purge", {"params": {"registry": REGISTRY}, "planDigest": reviewed["planDigest"]}
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["planDigest"] != reviewed["planDigest"] and problem["plan"]["actions"] == []
    assert refused.headers["Content-Type"].startswith("application/problem+json")


def test_schedule_runbooks_and_protected_clusters(api: Api) -> None:
    snoozed = api.post("runbooks/schedule-snooze", {"params": {"cluster": "aks-dev", "until": "3h"}})
    assert snoozed.status_code == 200, snoozed.text
    assert "ops-snooze-until" in api.server.world.clusters["aks-dev"].tags

    prod = api.post("runbooks/schedule-stop", {"params": {"cluster": "aks-prod"}})
    assert prod.status_code == 422, prod.text
    assert "protected" in prod.json()["detail"] and prod.json()["plan"]["protected"]
    assert api.server.world.clusters["aks-prod"].power_state == "Running"

    api.settle()
    api.setting("OPS_SCHEDULE_NOW", MORNING)
    cleared = api.post("runbooks/schedule-snooze", {"params": {"cluster": "aks-dev", "clear": True}})
    assert cleared.status_code == 200 and cleared.json()["run"]["status"] == "succeeded", cleared.text
    api.settle()
    kept_on = api.post("runbooks/schedule-stop", {"params": {"cluster": "aks-dev"}})
    assert kept_on.status_code == 422 and "keeps it running" in kept_on.json()["detail"]

    api.setting("OPS_SCHEDULE_NOW", EVENING)
    api.settle()
    planned = api.get("runbooks/schedule-stop", cluster="aks-dev").json()
    assert [a["kind"] for a in planned["plan"]["actions"]] == ["stop_cluster"]
    stopped = api.post(
        "runbooks/schedule-stop", {"params": {"cluster": "aks-dev"}, "planDigest": planned["planDigest"]}
    )
    assert stopped.status_code == 200, stopped.text
    assert api.server.world.clusters["aks-dev"].provisioning_state == "Stopping"
    records = get_services().store().list_records("schedule-operations")
    assert [r.value["kind"] for r in records] == ["stop_cluster"]  # the tick will confirm it

    waiting = api.post("runbooks/schedule-start", {"params": {"cluster": "aks-dev", "until": "2h"}})
    assert waiting.status_code == 200 and waiting.json()["run"]["actions"] == 0  # the stop is still running
    api.settle()  # the stop finishes, and the next tick (acting: not a dry run) confirms it
    api.setting("OPS_DRY_RUN", "false")
    invoke_function(function_app.app, "schedule_tick", TIMER)
    unsnoozed = api.post("runbooks/schedule-start", {"params": {"cluster": "aks-dev"}})
    assert unsnoozed.status_code == 422 and "give until" in unsnoozed.json()["detail"], unsnoozed.text
    started = api.post("runbooks/schedule-start", {"params": {"cluster": "aks-dev", "until": "2h"}})
    assert started.status_code == 200, started.text
    assert [o["kind"] for o in started.json()["run"]["outcomes"]] == ["snooze", "start_cluster"]
    assert api.server.world.clusters["aks-dev"].provisioning_state == "Starting"


def test_gate_override_needs_approval_and_lets_the_digest_through(api: Api) -> None:
    world = api.server.world
    digest, event = push(world, "shop/legacy", "v0.9.1", registry=REGISTRY)
    invoke_function(function_app.app, "gate_on_image_pushed", event)
    signature = push(world, "shop/legacy", registry=REGISTRY, subject=digest, artifact_type=NOTATION)[1]
    invoke_function(function_app.app, "gate_on_image_pushed", signature)
    scanned(world, "shop/legacy", digest, {"cve": "CVE-2024-3094", "severity": "Critical"}, registry=REGISTRY)
    image = f"{REGISTRY}/shop/legacy@{digest}"
    api.setting("OPS_DRY_RUN", "false")
    planned = api.get("runbooks/gate-reevaluate", image=f"{REGISTRY}/shop/legacy:v0.9.1")
    assert planned.status_code == 200, planned.text
    (action,) = planned.json()["plan"]["actions"]
    assert action["kind"] == "gate.reevaluate" and action["params"]["decision"] == "deny"
    reevaluated = api.post("runbooks/gate-reevaluate", {"params": {"image": image}})
    assert reevaluated.status_code == 200, reevaluated.text
    assert reevaluated.json()["run"]["detail"]["verdict"]["decision"] == "deny"
    assert pull(api.server, "shop/legacy", digest, registry=REGISTRY).status_code != 200

    override = {"params": {"image": image, "reason": "xz backdoor not reachable: no sshd", "expires": "2d"}}
    assert api.post("runbooks/gate-override", override).status_code == 403
    approved = api.post("runbooks/gate-override", override, roles=("Ops.Operate", "Ops.Approve"), name="lee")
    assert approved.status_code == 200, approved.text
    verdict = approved.json()["run"]["detail"]["verdict"]
    assert verdict["decision"] == "pass"
    assert any(c["check"] == "override" and "Lee" in c["message"] for c in verdict["checks"])
    assert pull(api.server, "shop/legacy", digest, registry=REGISTRY).status_code == 200
    assert pushed_event  # the helper is what delivered the events above


def test_long_work_answers_202_and_the_worker_applies_it(api: Api) -> None:
    api.setting("OPS_RUNBOOK_INLINE_ACTIONS", "0")
    accepted = api.post("runbooks/purge", {"params": {"registry": REGISTRY, "repository": "payments/api"}})
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert location == f"/api/runbooks/runs/{accepted.json()['run']['id']}"
    assert tags(api.server) == {"v0", "v1", "v2"}
    queued = api.get(location.removeprefix("/api/")).json()["run"]
    assert queued["status"] == "queued"
    assert LocalQueues(function_app.app).deliver() == 1  # what ops serve does for local queues
    assert LocalQueues(function_app.app).deliver() == 0
    done = api.get(location.removeprefix("/api/")).json()["run"]
    assert done["status"] == "succeeded" and done["summary"] == {"applied": 1}
    assert tags(api.server) == {"v1", "v2"}


@pytest.mark.parametrize(
    ("method", "path", "roles", "status"),
    [
        ("GET", "runbooks", (), 403),
        ("GET", "runbooks/purge?registry=contosogate", ("Ops.Operate",), 403),
        ("POST", "runbooks/purge", ("Ops.Read",), 403),
        ("POST", "runbooks/schedule-snooze", ("Ops.Read", "Ops.Approve"), 403),
        ("GET", "runbooks/runs/rb-20261126180500-0123456789", ("Ops.Operate",), 403),
    ],
)
def test_role_boundaries(api: Api, method: str, path: str, roles: tuple[str, ...], status: int) -> None:
    body = (
        {"params": {"registry": REGISTRY}}
        if path.endswith("purge")
        else {"params": {"cluster": "aks-dev", "clear": True}}
    )
    answer = requests.request(
        method,
        f"{api.url}/{path}",
        json=body if method == "POST" else None,
        headers=api.token(*roles),
        timeout=60,
    )
    assert answer.status_code == status, answer.text
    assert tags(api.server) == {"v0", "v1", "v2"}
    assert requests.get(f"{api.url}/runbooks", timeout=30).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "runbooks/nope", None, "name"),
        ("POST", "runbooks/nope", {}, "name"),
        ("GET", "runbooks/purge", None, "params.registry"),
        ("GET", "runbooks/purge?registry=x", None, "params.registry"),
        ("POST", "runbooks/purge", {"params": {"registry": 7}}, "params.registry"),
        ("POST", "runbooks/purge", {"params": {"registry": REGISTRY}, "aply": True}, "aply"),
        (
            "POST",
            "runbooks/schedule-snooze",
            {"params": {"cluster": "aks-dev", "until": "soon"}},
            "params.until",
        ),
        ("POST", "runbooks/purge", b"{" + b" " * 70_000 + b"}", "<root>"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: Api, method: str, path: str, body: Any, field: str) -> None:
    answer = api.get(path) if method == "GET" else api.post(path, body, roles=("Ops.Operate", "Ops.Read"))
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["path"] == field and problem["status"] == 400 and problem["expected"]
    assert tags(api.server) == {"v0", "v1", "v2"}


def test_cli_runbook_plans_and_applies_in_process(api: Api) -> None:
    from typer.testing import CliRunner

    from ops.cli import app as cli

    runner = CliRunner()
    planned = runner.invoke(cli, ["runbook", "purge", "-p", f"registry={REGISTRY}", "-o", "json"])
    assert planned.exit_code == 0, planned.output
    digest = json.loads(planned.output)["planDigest"]
    assert tags(api.server) == {"v0", "v1", "v2"}
    applied = runner.invoke(
        cli,
        ["runbook", "purge", "-p", f"registry={REGISTRY}", "--apply", "--plan-digest", digest, "-o", "json"],
    )
    assert applied.exit_code == 0, applied.output
    run = json.loads(applied.output)["run"]
    assert run["status"] == "succeeded" and run["caller"]["appid"] == "ops-cli"
    assert tags(api.server) == {"v1", "v2"}
    refused = runner.invoke(cli, ["runbook", "schedule-stop", "-p", "cluster=aks-prod", "--apply"])
    assert refused.exit_code == 3, refused.output
