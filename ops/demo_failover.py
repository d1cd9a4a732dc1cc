"""The demo's failover step: eastus2 is impaired, and a stamp's write paths move to westus2
and back, with the watch waiting out the hysteresis and riding out a second impairment.

It runs on a sandbox of its own (one stamp: a geo-replicated registry, a cluster in each
region, a Front Door origin group, a Traffic Manager profile and the App Configuration
pointer CI reads), through the real ``failover_watch`` function; the alerts are Service
Health incidents in the common alert schema, as an action group delivers them.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

PRIMARY, SECONDARY = "eastus2", "westus2"
TIMER_STATUS = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False}


def incident(stage: str, at: datetime) -> dict[str, Any]:
    """A Service Health incident for Container Registry in East US 2 (common alert schema)."""
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": "/subscriptions/00000000-0000-4000-8000-000000000001/providers/"
                "Microsoft.AlertsManagement/alerts/demo-incident",
                "alertRule": "ops-failover-service-health",
                "severity": "Sev1",
                "signalType": "Activity Log",
                "monitorCondition": "Fired",
                "monitoringService": "ServiceHealth",
                "alertTargetIDs": ["/subscriptions/00000000-0000-4000-8000-000000000001"],
                "firedDateTime": at.isoformat(),
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
            },
            "alertContext": {
                "operationName": "Microsoft.ServiceHealth/incident/action",
                "eventTimestamp": at.isoformat(),
                "status": stage,
                "properties": {
                    "title": "Container Registry degraded in East US 2",
                    "service": "Container Registry",
                    "region": "East US 2",
                    "incidentType": "Incident",
                    "trackingId": "DEMO-1AB",
                    "stage": stage,
                    "impactedServices": json.dumps(
                        [
                            {
                                "ImpactedRegions": [{"RegionName": "East US 2"}],
                                "ServiceName": "Container Registry",
                            }
                        ]
                    ),
                },
            },
        },
    }


def step_failover(ctx: Any) -> None:
    from ops.adapters.clients import separate_clients
    from ops.alerts import parse_alert
    from ops.demo import CAPABILITIES, temporary_env
    from ops.services import get_services
    from sandbox.estate import load_estate
    from sandbox.failover.control import describe_regions
    from sandbox.failover.stamps import failover_estate, failover_policy
    from sandbox.server import SandboxServer

    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    with tempfile.TemporaryDirectory(prefix="ops-demo-failover-") as tmp:
        server = SandboxServer(load_estate(estate), state_dir=Path(tmp))
        with server:
            world = server.world
            policy = failover_policy(
                describe_regions(world),
                hysteresis={"stableFor": "10m", "onlineChecks": 2, "maxFailoversPerDay": 3},
            )
            endpoints = {v: k for k, v in policy["stamps"][0]["pointer"]["endpoints"].items()}

            def now() -> datetime:
                return world.now()

            def where() -> str:
                store = next(iter(world.failover.app_configs.values()))
                pointer = next(iter(store.key_values.values())).value or ""
                origins = next(iter(world.failover.front_doors.values())).origin_groups["og-api"].origins
                endpoints_tm = next(iter(world.failover.traffic_managers.values())).endpoints
                replicas = next(iter(world.registries.values())).replications
                return (
                    f"pointer → {endpoints.get(pointer, pointer)}; Front Door "
                    + ", ".join(f"{o.name} {o.enabled_state}" for o in origins.values())
                    + "; Traffic Manager "
                    + ", ".join(f"{e.name} priority {e.priority}" for e in endpoints_tm.values())
                    + "; routing "
                    + ", ".join(
                        f"{r.location} {'on' if r.region_endpoint_enabled else 'off'}"
                        for r in replicas.values()
                    )
                )

            def impair(region: str, impaired: bool) -> None:
                with world.lock:
                    world.failover.set_impaired(region, impaired, world.now())

            env = {
                **server.env(),
                "OPS_STATE_PATH": str(Path(tmp) / "state.db"),
                "OPS_FAILOVER_POLICY": json.dumps(policy),
                "OPS_DRY_RUN": "false",
            }
            with temporary_env(**env), separate_clients():
                service = get_services().failover_service()
                service.clock = now
                from ops.plan import Action

                stamp = service.policy.stamps[0]
                pointer = stamp.pointer
                params = {"store": pointer.store, "key": pointer.key, "label": pointer.label,
                          "value": pointer.endpoints[PRIMARY], "etag": None}  # fmt: skip
                service.paths.set_pointer(
                    Action("set_pointer", stamp.name, "CI's pointer", "appconfig", params)
                )
                ctx.say("failover", f"stamp {stamp.name} before: {where()}")
                impair(PRIMARY, True)
                result = service.handle_alert(parse_alert(incident("Active", now())))
                moved = result.stamps[0]
                ctx.say("failover", f"incident DEMO-1AB Active in eastus2 → {moved.decision}: {where()}",
                        moved.phase)  # fmt: skip
                if result.stamps[0].phase != "failed-over":
                    raise RuntimeError(f"the failover did not finish: {result.to_dict()}")
                impair(PRIMARY, False)
                service.handle_alert(parse_alert(incident("Resolved", now())))
                ctx.say("failover", f"eastus2 healed, incident Resolved; failover_watch → {_phase(service)} "
                        "(waits out the 10m hysteresis)")  # fmt: skip
                _advance(world, 660)
                for _ in range(3):
                    _watch(ctx, world, now)
                ctx.say(
                    "failover",
                    f"10 minutes stable, 2 checks Online: failback started: {where()}",
                    _phase(service),
                )
                impair(PRIMARY, True)
                _watch(ctx, world, now)
                ctx.say("failover", f"eastus2 falters again during failback → {_phase(service)}: {where()}",
                        _phase(service))  # fmt: skip
                if _phase(service) != "failed-over":
                    raise RuntimeError("the flap during failback did not return the stamp to failed-over")
                impair(PRIMARY, False)
                service.handle_alert(parse_alert(incident("Resolved", now())))
                _advance(world, 660)
                ticks = 0
                while _phase(service) != "normal" and ticks < 8:
                    _watch(ctx, world, now)
                    ticks += 1
                ctx.say("failover", f"healed for good; {ticks} watch ticks later: {where()}", _phase(service))
                if _phase(service) != "normal":
                    raise RuntimeError("the stamp did not fail back")
    CAPABILITIES["failover"] = (
        "eastus2 impaired: pointer, traffic, routing to westus2; failback after hysteresis; a flap handled"
    )


def _phase(service: Any) -> str:
    return str(service.status()[0]["phase"])


def _advance(world: Any, seconds: float) -> None:
    with world.lock:
        world.clock_offset += seconds


def _watch(ctx: Any, world: Any, now: Any) -> None:
    """One failover_watch run at the sandbox's time, then a minute passes."""
    from ops.demo import temporary_env

    with temporary_env(OPS_FAILOVER_NOW=now().isoformat()):
        ctx.invoke("failover_watch", TIMER_STATUS)
    _advance(world, 60)
