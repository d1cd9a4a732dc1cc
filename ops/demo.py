"""``ops demo``: the whole product, end to end, against the sandbox.

It starts the sandbox with the bundled demo estate, points the app at it through
the same env file contract as ``ops sandbox serve``, and drives every capability
that exists through the real function entrypoints (``ops invoke``'s code path),
printing a timeline and a summary.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ops.rendering import format_bytes, format_counts

console = Console()

#: Capabilities in the order the demo runs them; each is added as it is built.
CAPABILITIES: dict[str, str] = {
    "gate": "not built yet",
    "purge": "not built yet",
    "schedule": "not built yet",
    "remediate": "not built yet",
    "failover": "not built yet",
    "runbooks": "not built yet",
}


@dataclass
class DemoContext:
    """What demo steps share: the running sandbox, the app, and the timeline so far."""

    sandbox: Any
    app: Any
    started: float = field(default_factory=time.monotonic)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def say(self, step: str, message: str, outcome: str = "ok") -> None:
        elapsed = f"{time.monotonic() - self.started:6.1f}s"
        self.rows.append((step, message, outcome))
        console.print(f"[dim]{elapsed}[/dim] [bold]{step:<10}[/bold] {message} [green]{outcome}[/green]")

    def invoke(self, name: str, payload: Any = None) -> Any:
        from ops.triggers.invoking import invoke_function

        return invoke_function(self.app, name, payload)


Step = Callable[[DemoContext], None]


def step_health(ctx: DemoContext) -> None:
    result = ctx.invoke("health").results[0]
    body = result["body"]
    ctx.say("health", f"GET /api/health → {result['status']}, storage={body.get('storage')}", body["status"])
    if result["status"] != 200:
        raise RuntimeError(f"health reports problems: {body.get('problems')}")


def step_estate(ctx: DemoContext) -> None:
    world = ctx.sandbox.world
    repos = sum(len(r.repositories) for r in world.registries.values())
    ctx.say(
        "sandbox",
        f"{len(world.registries)} registries ({repos} repositories), {len(world.clusters)} AKS clusters, "
        f"ARM at {ctx.sandbox.env()['OPS_ARM_ENDPOINT']}",
    )


#: The gate on contosoprod's shop/ repositories: tags locked until scanned clean and signed
#: (the default mode, lock-tags: signers and Defender still read the digest).
DEMO_GATE_POLICY = r"""
gate:
  rules:
    - name: shop
      registry: contosoprod
      repository: 'shop/.*'
      maxSeverity: medium
      signatures: [notation, cosign]
      immutableTags: ['v\d+\.\d+\.\d+']
      settleTimeout: 30m
"""
NOTATION = "application/vnd.cncf.notary.signature"


def step_gate(ctx: DemoContext) -> None:
    """Three pushes through the gate: a clean signed image passes; a vulnerable one is denied and
    cannot be pulled; an unsigned one stays pending until its signature arrives, then passes."""
    from sandbox.acr.pushing import push_image
    from sandbox.world import Finding

    world = ctx.sandbox.world
    registry = "contosoprod"

    def deliver(since: int) -> int:
        """Hand the ImagePushed events ACR recorded since ``since`` to the function, as Event Grid would."""
        events = list(world.events[since:])
        for event in events:
            ctx.invoke("gate_on_image_pushed", event)
        return len(events)

    with temporary_env(OPS_GATE_POLICY=DEMO_GATE_POLICY, OPS_DRY_RUN="false"):
        start = len(world.events)
        images = {
            "checkout": push_image(world, registry, "shop/checkout", "v1.4.0"),
            "legacy": push_image(world, registry, "shop/legacy", "v0.9.1"),
            "search": push_image(world, registry, "shop/search", "v2.0.0"),
        }
        for name in ("checkout", "legacy"):
            push_image(world, registry, f"shop/{name}", None, subject=images[name], artifact_type=NOTATION)
        count = deliver(start)
        ctx.say(
            "gate",
            f"pushed shop/checkout:v1.4.0 and shop/legacy:v0.9.1 (both signed) and shop/search:v2.0.0 "
            f"(unsigned); {count} ImagePushed events: {_gate_states(ctx, registry, images)}",
        )

        def healthy(name: str) -> Finding:  # how Defender says "scanned, nothing found"
            return Finding(registry, f"shop/{name}", images[name], "CVE-2024-0727", "Low", status="Healthy")

        xz = Finding(registry, "shop/legacy", images["legacy"], "CVE-2024-3094", "Critical",
                     fixed_version="5.6.1", package="xz-utils", version="5.6.0")  # fmt: skip
        with world.lock:  # Defender finishes its scans, minutes after the pushes
            world.findings += [healthy("checkout"), xz, healthy("search")]
        ctx.invoke("gate_sweep", TIMER_STATUS)
        pulls = {name: _pull_status(ctx, registry, f"shop/{name}", digest) for name, digest in images.items()}
        ctx.say(
            "gate",
            f"Defender's scans arrive; gate_sweep (one Resource Graph query): "
            f"{_gate_states(ctx, registry, images)}; pulls: {pulls}",
        )
        start = len(world.events)
        push_image(world, registry, "shop/search", None, subject=images["search"], artifact_type=NOTATION)
        deliver(start)
        states = _gate_states(ctx, registry, images)
        pulls = {name: _pull_status(ctx, registry, f"shop/{name}", digest) for name, digest in images.items()}
        published = [e["type"] for e in world.published]
        ctx.say("gate", f"shop/search's signature arrives: {states}; pulls: {pulls}")
        ctx.say("gate", f"published to the topic: {', '.join(published)}")
    expected = {"checkout": "pass", "legacy": "deny", "search": "pass"}
    if states != expected or pulls != {"checkout": 200, "legacy": 405, "search": 200}:
        raise RuntimeError(f"the gate decided {states} with pulls {pulls}; expected {expected}")
    CAPABILITIES["gate"] = (
        "clean signed image passed; vulnerable denied and unpullable; late signature passed"
    )


def _gate_states(ctx: DemoContext, registry: str, images: dict[str, str]) -> dict[str, str]:
    from ops.gate.records import load_record
    from ops.services import get_services

    login = ctx.sandbox.world.registries[registry].login_server
    store = get_services().store()
    states = {}
    for name, digest in images.items():
        record = load_record(store, f"{login}/shop/{name}@{digest}")
        states[name] = str(record.standing.decision) if record else "not gated"
    return states


def _pull_status(ctx: DemoContext, registry: str, repository: str, digest: str) -> int:
    """A pull by an OCI client (the sandbox's identity: any AcrPull holder would get the same)."""
    from sandbox.acr.client import registry_session
    from sandbox.http import ACR_AUDIENCE, mint_token

    identity = ctx.sandbox.world.identity
    token = mint_token(ACR_AUDIENCE, subject=identity.principal_id, tenant=identity.tenant_id)
    session = registry_session(token, verify=str(ctx.sandbox.tls.ca_cert))
    login = ctx.sandbox.world.registries[registry].login_server
    accept = "application/vnd.oci.image.manifest.v1+json"
    return int(
        session.get(
            f"https://{login}/v2/{repository}/manifests/{digest}", headers={"Accept": accept}
        ).status_code
    )


#: A purge a naive tool would get wrong: everything older than two weeks, untagged too.
DEMO_PURGE_POLICY = """
purge:
  minAge: 1d
  rules:
    - name: older-than-two-weeks
      registry: contosoprod
      tags: '.*'
      olderThan: 14d
      untagged: true
      allowSuspicious: true
"""


def step_purge(ctx: DemoContext) -> None:
    """Purge contosoprod through purge_schedule and purge_repository, then check the survivors."""
    from ops.purge.localqueue import StoreQueue
    from ops.services import get_services

    with temporary_env(OPS_PURGE_POLICY=DEMO_PURGE_POLICY, OPS_DRY_RUN="false"):
        ctx.invoke("purge_schedule")
        services = get_services()
        # The demo keeps its state in its own SQLite file (demo_environment), where the app's
        # work queue is a StoreQueue: the demo plays the host and delivers it here.
        queue = services.purge_queue()
        if not isinstance(queue, StoreQueue):
            raise RuntimeError(f"the demo's purge queue should be its local one, not {type(queue).__name__}")
        batches = 0
        while messages := queue.receive():
            for message in messages:
                ctx.invoke("purge_repository", message.body)
                queue.delete(message)
                batches += 1
        runs = [
            r for r in services.store().query_audit(capability="purge", limit=50) if r.kind == "run_summary"
        ]
    if not runs:
        raise RuntimeError("purge recorded no run summary")
    summary = runs[0].detail
    ctx.say(
        "purge",
        f"policy: delete contosoprod tags and untagged manifests older than 14d ({batches} batch(es))",
    )
    ctx.say(
        "purge",
        f"deleted {summary['manifests_deleted']} manifests, {summary['tags_deleted']} tags, "
        f"about {format_bytes(summary['bytes_reclaimed'])}; "
        f"protected: {format_counts(summary['protected_by_reason'])}",
    )
    ctx.say("purge", f"survived: {_check_purge_survivors(ctx.sandbox.world)}")
    CAPABILITIES["purge"] = f"{summary['manifests_deleted']} deleted; running, multi-arch and signed kept"


def _check_purge_survivors(world: Any) -> str:
    """The running image, the multi-arch image (with its children) and the signed image
    (with its signature and SBOM) must all still be there."""
    registry = world.registries["contosoprod"]

    def tagged(repository: str, tag: str) -> Any:
        repo = registry.repositories[repository]
        found = repo.tags.get(tag)
        if found is None or found.digest not in repo.manifests:
            raise RuntimeError(f"purge deleted {repository}:{tag}, which it must protect")
        return repo.manifests[found.digest], repo

    tagged("payments/api", "v1.2.0")
    index, base = tagged("platform/base", "3.19")
    missing = [c for c in index.children if c not in base.manifests]
    signed, web = tagged("web/frontend", "v2.0.0")
    referrers = [m for m in web.manifests.values() if m.subject == signed.digest]
    if missing or len(referrers) < 2:
        raise RuntimeError("purge deleted a child of a kept index, or a kept image's signature or SBOM")
    return (
        f"payments/api:v1.2.0 (running, pinned by digest), platform/base:3.19 with its "
        f"{len(index.children)} platform images, web/frontend:v2.0.0 with its signature and SBOM"
    )


#: Schedules by selector (no cluster is tagged in the demo estate). The prod default is
#: the kind of copy-paste a protected environment exists for: it is never applied.
DEMO_SCHEDULE_POLICY = """
defaults:
  - selector: {environment: dev}
    schedule: Mon-Fri 07:30-19:00
    timezone: Europe/Berlin
    holidays: DE-BY
  - selector: {environment: staging}
    schedule: Mon-Fri 07:00-19:00
    timezone: Europe/Berlin
    mode: nodepools
  - selector: {environment: prod}
    schedule: Mon-Fri 08:00-18:00
    timezone: Europe/Berlin
"""
SCHEDULE_EVENING = "2026-11-26T19:05:00+01:00"  # a Thursday, after hours in Berlin
SCHEDULE_MORNING = "2026-11-27T07:35:00+01:00"
TIMER_STATUS = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}


def step_schedule(ctx: DemoContext) -> None:
    """An evening of schedule ticks, then a morning: dev stops, staging's user pools go to
    zero and come back exactly, prod is protected."""
    from ops.services import get_services

    world = ctx.sandbox.world
    before = {name: _scale_of(world, name) for name in ("aks-dev", "aks-staging", "aks-prod")}
    with temporary_env(OPS_SCHEDULE_POLICY=DEMO_SCHEDULE_POLICY, OPS_DRY_RUN="false"):
        with temporary_env(OPS_SCHEDULE_NOW=SCHEDULE_EVENING):
            for row in get_services().schedule_service().plan().rows:
                ctx.say(
                    "schedule",
                    f"{row.cluster}: desired {row.desired}, {row.current}; {row.action}: {row.reason}",
                )
        evening = _tick_until_settled(ctx, SCHEDULE_EVENING)
        staging = _scale_of(world, "aks-staging")
        dev_power = world.clusters["aks-dev"].power_state
        if dev_power != "Stopped" or any(scale[0] for name, scale in staging.items() if name != "system"):
            raise RuntimeError(f"the evening ticks left aks-dev {dev_power}, aks-staging {staging}")
        prod_touched = _scale_of(world, "aks-prod") != before["aks-prod"]
        if world.clusters["aks-prod"].power_state != "Running" or prod_touched:
            raise RuntimeError("the schedule touched aks-prod, a protected environment")
        ctx.say(
            "schedule",
            f"evening ({evening} ticks): aks-dev stopped; aks-staging pools "
            f"{', '.join(n for n in staging if n != 'system')} at 0, system pool kept; aks-prod protected",
        )
        morning = _tick_until_settled(ctx, SCHEDULE_MORNING)
        after = {name: _scale_of(world, name) for name in before}
        if after != before or world.clusters["aks-dev"].power_state != "Running":
            raise RuntimeError(f"the morning ticks did not restore the pools exactly: {before} → {after}")
        ctx.say("schedule", f"morning ({morning} ticks): aks-dev started; aks-staging pools back exactly: "
                f"{_describe_scales(after['aks-staging'])}")  # fmt: skip
    CAPABILITIES["schedule"] = "dev stopped and started, staging pools to 0 and back exactly, prod protected"


def _tick_until_settled(ctx: DemoContext, start: str, *, limit: int = 8) -> int:
    """schedule_tick every five (schedule) minutes until one changes nothing; between
    ticks the sandbox clock moves past its long-running operations."""
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(start)
    for count in range(1, limit + 1):
        requests = len(ctx.sandbox.world.requests)
        with temporary_env(OPS_SCHEDULE_NOW=moment.isoformat()):
            ctx.invoke("schedule_tick", TIMER_STATUS)
        with ctx.sandbox.world.lock:
            writes = [
                r for r in ctx.sandbox.world.requests[requests:] if r.service == "arm" and r.method != "GET"
            ]
            ctx.sandbox.world.clock_offset += float(ctx.sandbox.world.settings.get("lro_seconds", 3)) + 1
        if not writes and count > 1:
            return count
        moment += timedelta(minutes=5)
    raise RuntimeError(f"the schedule did not settle in {limit} ticks")


def _scale_of(world: Any, cluster: str) -> dict[str, tuple[int, bool, int | None, int | None]]:
    pools = world.clusters[cluster].agent_pools.values()
    return {p.name: (p.count, p.enable_auto_scaling, p.min_count, p.max_count) for p in pools}


def _describe_scales(scales: dict[str, tuple[int, bool, int | None, int | None]]) -> str:
    return ", ".join(
        f"{name} {count}" + (f" (autoscaler {low}-{high})" if auto else "")
        for name, (count, auto, low, high) in scales.items()
    )


@contextlib.contextmanager
def temporary_env(**values: str | None) -> Iterator[None]:
    """Settings for one demo step (None unsets one); the cached Services are rebuilt on the
    way in and out."""
    from ops.services import reset_services

    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_services()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_services()


#: The demo's remediation policy: the example policy's routes and guardrails, inline.
DEMO_REMEDIATE_POLICY = """
remediate:
  routes:
    - {name: snat-load-balancer, action: snat,
       match: {signalType: Metric, metricName: SnatConnectionCount, dimensions: {ConnectionState: Failed},
               targetType: Microsoft.Network/loadBalancers}}
    - {name: autoscaler-unschedulable, action: autoscaler,
       match: {monitoringService: Prometheus, expression: cluster_autoscaler_unschedulable_pods_count}}
  snat: {maxOutboundIPs: 4, maxPortsPerNode: 16000}
  autoscaler: {step: 2, maxNodesAddedPerDay: 20}
  guards: {cooldown: 30m, maxChangesPerClusterPerDay: 3}
"""
#: The "AzNS AAD Webhook" application, whose tokens action groups' secure webhooks carry.
AZNS_WEBHOOK_APP = "461e8683-5575-4561-ac7f-899cc907d62a"


def step_remediate(ctx: DemoContext) -> None:
    """Three alerts through alert_webhook: SNAT exhaustion on aks-prod (ports and IPs go up),
    the autoscaler at its max on aks-batch (maxCount goes up), the same on aks-ci (the subnet
    guardrail refuses, and says why)."""
    world = ctx.sandbox.world
    token = ctx.sandbox.entra.mint(
        ctx.sandbox.authority, roles=["ActionGroupsSecureWebhook"], app=True, client_id=AZNS_WEBHOOK_APP
    )
    prod = world.clusters["aks-prod"]
    with world.lock:
        prod.snat_ports_wanted_per_node = 6000  # a traffic spike: more connections than ports
    node_group = f"MC_{prod.resource_group}_{prod.name}_{prod.location}"
    group = f"/subscriptions/{prod.subscription}/resourceGroups/{node_group}"
    lb = f"{group}/providers/Microsoft.Network/loadBalancers/kubernetes"
    batch = world.clusters["aks-batch"]
    alerts = [
        ("snat", _demo_metric_alert(lb)),
        ("autoscaler", _demo_prometheus_alert("aks-batch", batch.subscription)),
        ("autoscaler", _demo_prometheus_alert("aks-ci", batch.subscription)),
    ]
    with temporary_env(OPS_REMEDIATE_POLICY=DEMO_REMEDIATE_POLICY, OPS_DRY_RUN="false"):
        outcomes = []
        for kind, body in alerts:
            request = {
                "method": "POST",
                "url": "http://localhost:7071/api/alerts",
                "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                "body": body,
            }
            answer = ctx.invoke("alert_webhook", request).results[0]
            reply = answer["body"]
            if answer["status"] == 202:  # queued: the demo plays the host and runs alert_worker
                from ops.triggers.serving import deliver_queue

                [reply] = deliver_queue(ctx.app, "alert_worker")
            detail = reply.get("detail") or {}
            outcomes.append(detail.get("status"))
            ctx.say(
                "remediate",
                f"{kind} alert on {detail.get('cluster', '?')}: {reply['reason']}",
                detail.get("status", reply["status"]),
            )
        with world.lock:
            world.clock_offset += float(world.settings.get("lro_seconds", 3)) + 1
        from ops.services import get_services

        clusters = get_services().remediate_service().clusters  # read back through ARM, as the app sees it
        after, scaled = clusters.get_cluster(prod.id), clusters.get_cluster(batch.id)
    pool = scaled.pool("batch")
    ctx.say(
        "remediate",
        f"through ARM: aks-prod {after.outbound.allocated_outbound_ports} ports per node on "
        f"{after.outbound.managed_outbound_ips} IPs; aks-batch batch pool maxCount "
        f"{pool.max_count if pool else '?'}, {pool.count if pool else '?'} nodes",
    )
    if outcomes != ["applied", "applied", "refused"]:
        raise RuntimeError(f"remediation outcomes were {outcomes}, not applied, applied, refused")
    CAPABILITIES["remediate"] = (
        "SNAT ports and IPs raised, maxCount raised, a subnet-bound raise refused with its reason"
    )


def _demo_alert(rule: str, target: str, service: str, context: dict[str, Any]) -> dict[str, Any]:
    """A common-alert-schema payload, shaped like Microsoft's samples."""
    import uuid
    from datetime import UTC, datetime

    prefix = f"/subscriptions/{target.split('/')[2]}/providers/Microsoft.AlertsManagement/alerts"
    alert = uuid.uuid4()
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": f"{prefix}/{alert}",
                "alertRule": rule,
                "severity": "Sev2",
                "signalType": "Metric",
                "monitorCondition": "Fired",
                "monitoringService": service,
                "alertTargetIDs": [target],
                "configurationItems": [target.rsplit("/", 1)[-1]],
                "originAlertId": str(uuid.uuid4()),
                "firedDateTime": datetime.now(UTC).isoformat(),
                "description": "",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
            },
            "alertContext": context,
        },
    }


def _demo_metric_alert(lb: str) -> dict[str, Any]:
    criterion = {
        "metricName": "SnatConnectionCount",
        "metricNamespace": "Microsoft.Network/loadBalancers",
        "operator": "GreaterThan",
        "threshold": "0",
        "timeAggregation": "Total",
        "dimensions": [{"name": "ConnectionState", "value": "Failed"}],
        "metricValue": 4976,
    }
    context = {
        "properties": None,
        "conditionType": "SingleResourceMultipleMetricCriteria",
        "condition": {"windowSize": "PT5M", "allOf": [criterion]},
    }
    return _demo_alert("aks-snat-failed", lb, "Platform", context)


def _demo_prometheus_alert(cluster: str, subscription: str) -> dict[str, Any]:
    workspace = (
        f"/subscriptions/{subscription}/resourcegroups/rg-monitor/providers/microsoft.monitor/accounts/amw"
    )
    context = {
        "interval": "PT1M",
        "expression": "sum by (cluster) (cluster_autoscaler_unschedulable_pods_count) > 0",
        "expressionValue": "4",
        "for": "PT5M",
        "labels": {"cluster": cluster},
        "annotations": {"summary": f"pods unschedulable in {cluster}"},
    }
    return _demo_alert("aks-autoscaler-at-max", workspace, "Prometheus", context)


def step_runbooks(ctx: DemoContext) -> None:
    from ops.demo_runbooks import step_runbooks as run_step

    run_step(ctx)


def step_failover(ctx: DemoContext) -> None:
    """eastus2 impaired: pointer, traffic and routing move to westus2 and back (ops.demo_failover)."""
    from ops.demo_failover import step_failover as run

    run(ctx)


STEPS: list[Step] = [
    step_health,
    step_estate,
    step_gate,
    step_runbooks,
    step_purge,
    step_schedule,
    step_remediate,
    step_failover,
]


@contextlib.contextmanager
def demo_environment(server: Any, workdir: Path) -> Iterator[None]:
    """The sandbox's env-file values, and state of the demo's own.

    Every ``AzureWebJobsStorage*`` setting the shell may carry is cleared and
    ``OPS_STATE_PATH`` is pinned to a SQLite file in ``workdir``: the demo deletes and
    records for real, and must never do so in a storage account or state file that the
    user's environment points at. Everything is restored on the way out.
    """
    from ops.config import StorageSettings

    storage = {field.alias or name: None for name, field in StorageSettings.model_fields.items()}
    with temporary_env(**{**server.env(), **storage, "OPS_STATE_PATH": str(workdir / "state.db")}):
        yield


def run_demo(estate: Path | None = None) -> int:
    """Run the demo; the exit code is 0 when every step succeeded."""
    from sandbox.estate import load_estate
    from sandbox.server import SandboxServer

    estate_path = estate or Path(__file__).resolve().parent.parent / "sandbox" / "estates" / "demo.yaml"
    console.rule("acr-aks-ops demo")
    with tempfile.TemporaryDirectory(prefix="ops-demo-") as tmp:
        server = SandboxServer(load_estate(estate_path), state_dir=Path(tmp))
        with server, demo_environment(server, Path(tmp)):
            import function_app

            ctx = DemoContext(sandbox=server, app=function_app.app)
            try:
                for step in STEPS:
                    step(ctx)
            except Exception as exc:
                console.print(f"demo failed: {exc or type(exc).__name__}", style="red", markup=False)
                return 1
    _print_summary(ctx)
    console.print(NEXT_STEPS, markup=False, highlight=False, soft_wrap=True)
    return 0


NEXT_STEPS = """next steps:
  1. keep a sandbox running, in another terminal (Ctrl-C stops it):
       .venv/bin/ops sandbox serve --estate sandbox/estates/demo.yaml \\
         --env-file .sandbox.env
  2. check the example policies, offline:
       .venv/bin/ops validate examples/*.yaml
  3. plan with them against that sandbox (nothing changes without --apply):
       .venv/bin/ops --env-file .sandbox.env purge --policy examples/purge.yaml
       .venv/bin/ops --env-file .sandbox.env gate check \\
         --policy examples/gate.yaml contosoprod/payments/api:v1.2.0
       OPS_SCHEDULE_POLICY=examples/schedule.yaml \\
         .venv/bin/ops --env-file .sandbox.env schedule
  README.md's CLI tour shows every command."""


def _print_summary(ctx: DemoContext) -> None:
    table = Table(title="summary")
    table.add_column("capability")
    table.add_column("status")
    for name, status in CAPABILITIES.items():
        table.add_row(name, status)
    console.print(table)
