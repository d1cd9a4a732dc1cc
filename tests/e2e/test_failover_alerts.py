"""Failover driven by Azure Monitor alerts and by the ``ops failover`` command.

The alert payloads are Microsoft's documented common-schema samples
(tests/fixtures/alerts/service_health.json, resource_health.json, metric_fired.json),
adapted to the sandbox's resources: the incident names Container Registry in East US 2,
the Resource Health alert targets the stamp's cluster, the metric alert is Front Door's
OriginHealthPercentage with an ``Origin`` dimension.

Cases: an Active Service Health incident fails the stamp over and its Resolved stage (a
later communication) marks the region healthy again, after which failback waits out the
hysteresis; the same Active alert delivered twice, and a Resolved that is older than the
Active, change nothing; an incident for another service or region, and a Maintenance event,
are ignored; ``impactedServices`` that is not JSON is refused with its field path; a
Resource Health Unavailable on the cluster fails over; an OriginHealthPercentage alert on the
Front Door origin fails over; ``ops failover plan`` shows the plan and changes nothing;
``ops failover apply --region`` without ``--apply`` is a dry run; with it, the stamp moves;
``ops failover status`` reports the phase.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.alerts import parse_alert
from ops.errors import InvalidInput
from sandbox.server import SandboxServer
from tests.e2e.test_failover import (
    FAILED_OVER,
    advance,
    impair,
    make_service,
    normal_paths,
    paths,
    start_pointer,
)
from tests.support.failover import PRIMARY, failover_estate, stamp_names
from tests.support.sandbox import SUBSCRIPTION, running_sandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxServer]:
    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    with running_sandbox(estate, tmp_path / "sandbox") as running:
        yield running


def sample(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def service_health(stage: str, at: str, *, service: str = "Container Registry", region: str = "East US 2",
                   incident_type: str = "Incident") -> dict[str, Any]:  # fmt: skip
    body = copy.deepcopy(sample("service_health.json"))
    context = body["data"]["alertContext"]
    props = context["properties"]
    props["stage"] = stage
    props["incidentType"] = incident_type
    props["service"] = service
    props["impactedServices"] = json.dumps(
        [{"ImpactedRegions": [{"RegionName": region}], "ServiceName": service}]
    )
    context["eventTimestamp"] = at
    context["status"] = stage
    return body


def resource_health(status: str, at: str) -> dict[str, Any]:
    body = copy.deepcopy(sample("resource_health.json"))
    cluster = stamp_names(0)["cluster_primary"]
    body["data"]["essentials"]["alertTargetIDs"] = [
        f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-aks/providers/"
        f"microsoft.containerservice/managedclusters/{cluster}"
    ]
    body["data"]["alertContext"]["properties"]["currentHealthStatus"] = status
    body["data"]["alertContext"]["eventTimestamp"] = at
    return body


def origin_health(condition: str) -> dict[str, Any]:
    body = copy.deepcopy(sample("metric_fired.json"))
    essentials = body["data"]["essentials"]
    essentials["monitorCondition"] = condition
    essentials["alertRule"] = "afd-origin-health"
    essentials["alertTargetIDs"] = [
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-edge/providers/Microsoft.Cdn/profiles/"
        f"{stamp_names(0)['front_door']}"
    ]
    criterion = body["data"]["alertContext"]["condition"]["allOf"][0]
    criterion.update(
        {
            "metricName": "OriginHealthPercentage",
            "metricNamespace": "Microsoft.Cdn/profiles",
            "operator": "LessThan",
            "threshold": "50",
            "metricValue": 0.0,
            "dimensions": [{"name": "Origin", "value": PRIMARY}, {"name": "OriginGroup", "value": "og-api"}],
        }
    )
    return body


def iso(service: Any, minutes: float = 0) -> str:
    return (service.clock() + timedelta(minutes=minutes)).isoformat()


def test_service_health_incident_fails_over_and_resolves(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, PRIMARY)
    active = parse_alert(service_health("Active", iso(service)))
    result = service.handle_alert(active)
    assert result.reason == "incident ABC1-DEF Active"
    assert [s.decision for s in result.stamps] == ["failover"]
    assert paths(server) == FAILED_OVER
    assert service.handle_alert(active).signals == 0  # the same delivery again
    stale = parse_alert(service_health("Resolved", iso(service, -30)))
    assert service.handle_alert(stale).signals == 0  # older than the Active: out of order
    assert service.status()[0]["regions"][PRIMARY]["impaired"] is True

    impair(server, PRIMARY, False)
    resolved = parse_alert(service_health("Resolved", iso(service, 1)))
    assert service.handle_alert(resolved).signals == 1
    assert service.status()[0]["regions"][PRIMARY]["impaired"] is False
    assert service.watch().stamps[0].decision == "wait"
    advance(server, 240)
    decisions = [service.watch().stamps[0].decision for _ in range(4)]
    assert decisions == ["wait", "failback-step", "failback-step", "failback"]
    assert paths(server) == normal_paths()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"service": "Virtual Machines"}, "touches no stamp's region and service"),
        ({"region": "West Europe"}, "touches no stamp's region and service"),
        ({"incident_type": "Maintenance"}, "Maintenance is not an incident"),
    ],
)
def test_unrelated_service_health_events_are_ignored(
    server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kwargs: dict[str, str],
    reason: str,
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    result = service.handle_alert(parse_alert(service_health("Active", iso(service), **kwargs)))
    assert reason in result.reason and result.stamps == []


def test_impacted_services_must_be_json(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    body = service_health("Active", iso(service))
    body["data"]["alertContext"]["properties"]["impactedServices"] = "[{not json"
    with pytest.raises(InvalidInput) as info:
        service.handle_alert(parse_alert(body))
    assert info.value.path == "data.alertContext.properties.impactedServices"


def test_resource_health_on_the_cluster_fails_over(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, PRIMARY)
    result = service.handle_alert(parse_alert(resource_health("Unavailable", iso(service))))
    assert [s.decision for s in result.stamps] == ["failover"]
    assert paths(server) == FAILED_OVER


def test_origin_health_metric_alert_fails_over(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, PRIMARY)
    result = service.handle_alert(parse_alert(origin_health("Fired")))
    assert result.reason == "origin health Fired"
    assert [s.decision for s in result.stamps] == ["failover"]
    assert paths(server) == FAILED_OVER


def test_cli_plan_apply_and_status(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ops.cli import app

    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    monkeypatch.setenv("OPS_DRY_RUN", "true")
    from ops.services import reset_services

    reset_services()
    runner = CliRunner()
    planned = runner.invoke(app, ["--output", "json", "failover", "plan", "--region", PRIMARY])
    assert planned.exit_code == 0, planned.output
    kinds = [a["kind"] for a in json.loads(planned.output)["stamps"][0]["plan"]["actions"]]
    assert kinds == ["set_pointer", "set_origin_state", "set_endpoint_priority", "set_replication_routing"]
    dry = runner.invoke(app, ["--output", "json", "failover", "apply", "--region", PRIMARY])
    assert dry.exit_code == 0, dry.output
    assert paths(server) == normal_paths()
    applied = runner.invoke(app, ["--output", "json", "failover", "apply", "--region", PRIMARY, "--apply"])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["stamps"][0]["phase"] == "failed-over"
    assert paths(server) == FAILED_OVER
    status = runner.invoke(app, ["--output", "json", "failover", "status"])
    assert json.loads(status.output)[0]["phase"] == "failed-over"
