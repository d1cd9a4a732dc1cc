"""The ``failover`` and ``failback`` runbooks over HTTP (``ops serve``'s local host), with
tokens from the sandbox's Entra tenant.

Cases: GET plans a failover of eastus2 (pointer, origin, endpoint priority, routing) and
changes nothing; POST with Ops.Operate alone is refused (403: the runbooks need Ops.Approve);
POST with Ops.Operate and Ops.Approve fails the stamp over, even though the policy turns
automatic failover off; a failback before the region has been stable is a plan that waits
(nothing moves); once the hysteresis is met, the ``failback`` runbook plans routing, traffic
and pointer and applies all three, each re-verified first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import function_app
from ops.services import reset_services
from ops.triggers.serving import LocalHost
from sandbox.server import SandboxServer
from tests.e2e.test_failover import FAILED_OVER, advance, impair, normal_paths, paths, start_pointer
from tests.support.entra import bearer, mint
from tests.support.failover import PRIMARY, failover_estate, failover_policy
from tests.support.sandbox import app_sandbox, control


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, str]]:
    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    settings: dict[str, str | None] = {
        "AzureWebJobsStorage": None,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "true",
    }
    try:
        with app_sandbox(estate, tmp_path / "sandbox", monkeypatch, settings) as server:
            policy = failover_policy(
                server,
                automatic={"failover": False, "failback": False},
                hysteresis={"stableFor": "2m", "onlineChecks": 1, "maxFailoversPerDay": 3},
            )
            monkeypatch.setenv("OPS_FAILOVER_POLICY", json.dumps(policy))
            reset_services()
            with LocalHost(function_app.app) as host:
                yield server, host.url
    finally:
        reset_services()


def call(server: SandboxServer, url: str, method: str, name: str, roles: tuple[str, ...], **body: Any) -> Any:
    headers = bearer(mint(server, roles=list(roles), name="dana"))
    if method == "GET":
        return requests.get(f"{url}/runbooks/{name}", params=body, headers=headers, timeout=120)
    return requests.post(
        f"{url}/runbooks/{name}", data=json.dumps(body).encode(), headers=headers, timeout=120
    )


def pin_clock(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_FAILOVER_NOW", control(server, "GET", "clock")["now"])
    reset_services()


def test_failover_and_failback_runbooks(
    api: tuple[SandboxServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = api
    from ops.services import get_services

    pin_clock(server, monkeypatch)
    start_pointer(get_services().failover_service(apply=True))
    impair(server, PRIMARY)
    planned = call(server, url, "GET", "failover", ("Ops.Read",), region=PRIMARY)
    assert planned.status_code == 200, planned.text
    kinds = [a["kind"] for a in planned.json()["plan"]["actions"]]
    assert kinds == ["set_pointer", "set_origin_state", "set_endpoint_priority", "set_replication_routing"]
    assert paths(server) == normal_paths()

    body = {"params": {"region": PRIMARY}, "planDigest": planned.json()["planDigest"], "reason": "INC-42"}
    refused = call(server, url, "POST", "failover", ("Ops.Operate",), **body)
    assert refused.status_code == 403, refused.text
    applied = call(server, url, "POST", "failover", ("Ops.Operate", "Ops.Approve"), **body)
    assert applied.status_code == 200, applied.text
    assert applied.json()["run"]["status"] == "succeeded"
    assert paths(server) == FAILED_OVER

    impair(server, PRIMARY, False)
    pin_clock(server, monkeypatch)
    early = call(server, url, "POST", "failback", ("Ops.Operate", "Ops.Approve"), params={"region": PRIMARY})
    assert early.status_code == 200, early.text
    assert paths(server) == FAILED_OVER  # cleared the operator's mark; the stable period starts now
    advance(server, 150)
    for _ in range(3):
        pin_clock(server, monkeypatch)
        step = call(
            server, url, "POST", "failback", ("Ops.Operate", "Ops.Approve"), params={"region": PRIMARY}
        )
        assert step.status_code == 200, step.text
    assert paths(server) == normal_paths()
