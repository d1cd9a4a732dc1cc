"""Microsoft's common-alert-schema samples (tests/fixtures/alerts), adapted to sandbox resources.

Only what names the sandbox's resources changes: the alert's target, rule, metric and
dimension, the Prometheus expression and labels; the rest of each sample is as published.
``webhook_request`` wraps a body in the host-shaped request ``ops invoke`` takes;
``invoke_alert`` calls ``alert_webhook`` with it, then, for an alert it queued (202),
plays the host and delivers the queue to ``alert_worker``.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "remediate-policy.yaml"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _essentials(
    body: dict[str, Any], *, alert_id: str | None, condition: str, target: str, rule: str
) -> None:
    essentials = body["data"]["essentials"]
    essentials["alertId"] = (
        f"/subscriptions/{target.split('/')[2]}/providers/Microsoft.AlertsManagement/alerts/"
        f"{alert_id or uuid.uuid4()}"
    )
    essentials["alertRule"] = rule
    essentials["monitorCondition"] = condition
    essentials["alertTargetIDs"] = [target]
    essentials["configurationItems"] = [target.rsplit("/", 1)[-1]]
    if condition == "Resolved":
        essentials["resolvedDateTime"] = essentials["firedDateTime"]
    else:
        essentials.pop("resolvedDateTime", None)


def snat_alert(target: str, *, alert_id: str | None = None, condition: str = "Fired") -> dict[str, Any]:
    """The "Metric alert - Static threshold" test-action sample, on a load balancer's or NAT
    gateway's failed SNAT connections."""
    body = copy.deepcopy(sample("metric_fired.json"))
    nat = "/natgateways/" in target.lower()
    _essentials(body, alert_id=alert_id, condition=condition, target=target, rule="aks-snat-failed")
    context = body["data"]["alertContext"]
    context["conditionType"] = "SingleResourceMultipleMetricCriteria"
    criterion = context["condition"]["allOf"][0]
    criterion.update(
        metricName="SNATConnectionCount" if nat else "SnatConnectionCount",
        metricNamespace="Microsoft.Network/natGateways" if nat else "Microsoft.Network/loadBalancers",
        operator="GreaterThan",
        threshold="0",
        timeAggregation="Total",
        dimensions=[{"name": "ConnectionState", "value": "Failed"}],
        metricValue=6976,
    )
    return body


def autoscaler_alert(
    cluster: str, subscription: str, *, alert_id: str | None = None, condition: str = "Fired"
) -> dict[str, Any]:
    """The "Sample Prometheus alert", on the autoscaler's unschedulable pods of one cluster."""
    body = copy.deepcopy(sample("prometheus.json"))
    workspace = (
        f"/subscriptions/{subscription}/resourcegroups/rg-monitor/providers/microsoft.monitor/accounts/amw"
    )
    _essentials(body, alert_id=alert_id, condition=condition, target=workspace, rule="aks-autoscaler-at-max")
    body["data"]["alertContext"].update(
        expression="sum by (cluster) (cluster_autoscaler_unschedulable_pods_count) > 0",
        expressionValue="8",
        labels={"cluster": cluster},
    )
    return body


def webhook_request(body: Any, token: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return {"method": "POST", "url": "http://localhost:7071/api/alerts", "headers": headers, "body": body}


def invoke_alert(request: dict[str, Any]) -> dict[str, Any]:
    """``alert_webhook``'s answer ``{"status", "body"}``; for a queued alert (202), ``body`` is
    ``alert_worker``'s result and ``ack`` the webhook's own body. A worker that raises raises
    (its message stays queued, as the host would deliver it again)."""
    import function_app
    from ops.triggers.invoking import invoke_function
    from ops.triggers.serving import deliver_queue

    answer = dict(invoke_function(function_app.app, "alert_webhook", request).to_dict()["result"])
    if answer["status"] != 202:
        return answer
    assert answer["body"]["status"] == "accepted", answer
    results = deliver_queue(function_app.app, "alert_worker")
    assert len(results) == 1, results
    return {"status": 202, "body": results[0], "ack": answer["body"]}
