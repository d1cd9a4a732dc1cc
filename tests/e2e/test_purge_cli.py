"""``ops purge`` against the sandbox (no storage account: SQLite state, in-process run).

Cases: the default is a dry run whose JSON plan lists every action with registry,
repository, digest, tags and reason, and every protected item with digest and reason,
and deletes nothing; the table output has a row per repository and a summary line;
``--apply`` deletes exactly what the dry run planned; ``--registry`` narrows the scope
and an unknown one is a usage error (2); a bad ``--policy`` file is a configuration error
(2) naming the rule, and nothing is read.

Also: ``--apply`` while another purge holds the purge lease is refused with a clear
message and deletes nothing (a plan still works); a cluster stopped through ARM after it
was read is answered by its last-known in-use set: its images stay, with the reason saying
when it was last seen running, and everything else is deleted; a cluster stopped before
purge ever read it still stops every delete; the demo's purge step keeps to its own
SQLite state, whatever storage the shell points at, and restores the environment.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.purge.service import LEASE
from ops.state.sqlite import SqliteStateStore
from sandbox.estate import DEMO_ESTATE
from sandbox.server import SandboxServer
from tests.support.purge import (
    ESTATE,
    POLICY,
    REGISTRY,
    expected_remaining,
    refs_of,
    remember_refs,
)
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control


#: ESTATE plus aks-dev, a second cluster that runs shop/api:ci-100 (which the policy selects).
def with_dev_cluster(power_state: str = "Running") -> dict[str, Any]:
    estate = copy.deepcopy(ESTATE)
    estate["clusters"].append(
        {
            "name": "aks-dev",
            "resourceGroup": "rg-aks",
            "powerState": power_state,
            "agentPools": [{"name": "system", "mode": "System", "count": 1}],
            "deployments": [
                {"name": "api", "namespace": "shop", "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-100"]}
            ],
        }
    )
    return estate


@pytest.fixture
def sandbox_estate(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", None) or ESTATE


@pytest.fixture
def sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_estate: dict[str, Any]
) -> Iterator[SandboxServer]:
    settings = {
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "AzureWebJobsStorage": None,
        "OPS_PURGE_POLICY": None,
        "OPS_DRY_RUN": "true",
    }
    with app_sandbox(sandbox_estate, tmp_path / "sandbox", monkeypatch, settings) as server:
        remember_refs(server.world)
        yield server


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def ops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_dry_run_prints_the_plan_as_json_and_deletes_nothing(
    sandbox: SandboxServer, policy_file: Path
) -> None:
    before = refs_of(sandbox.world)
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")
    assert code == 0, out
    plan = json.loads(out)
    assert refs_of(sandbox.world) == before
    deletes = [a for a in plan["actions"] if a["kind"] == "delete_manifest"]
    assert len(deletes) == 9 and all(a["status"] == "dry_run" for a in deletes)
    old = next(a for a in deletes if a["tags"] == ["ci-100"])
    assert old["registry"] == REGISTRY and old["repository"] == "shop/api"
    assert old["digest"].startswith("sha256:") and "older than 30d (rule ci)" in old["reason"]
    protected = {p["tags"][0] if p["tags"] else p["digest"]: p for p in plan["protected"]}
    assert protected["ci-101"]["reason"].startswith("protected: in use by aks-shop/shop/deployment/idle")
    assert protected["ci-103"]["protection"] == "lock"
    assert all(p["digest"].startswith("sha256:") for p in plan["protected"])
    assert plan["summary"]["dry_run"] is True and plan["summary"]["manifests_deleted"] == 9


def test_apply_deletes_what_the_dry_run_planned(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")
    planned = {a["digest"] for a in json.loads(out)["actions"]}
    code, out = ops("purge", "--policy", str(policy_file), "--apply", "--output", "json")
    assert code == 0, out
    applied = json.loads(out)
    assert {a["digest"] for a in applied["actions"]} == planned
    assert {a["status"] for a in applied["actions"]} == {"applied"}
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)


def test_table_output(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file))
    assert code == 0, out
    assert "shop/api" in out and "shop/base" in out and "shop/web" in out
    assert "would delete 9 manifest(s) and 4 tag(s)" in out and "dry run (--apply to delete)" in out


def test_registry_filter(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file), "--registry", REGISTRY, "--output", "json")
    assert code == 0 and json.loads(out)["summary"]["repositories"] == 3
    code, out = ops("purge", "--policy", str(policy_file), "--registry", "nope", "--output", "json")
    assert code == 2 and "--registry" in json.loads(out)["error"]


def test_bad_policy_file_names_the_rule_and_reads_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("tags: 'ci-.*'", "tags: 'ci-(.*'"))
    control(sandbox, "DELETE", "requests")
    code, out = ops("purge", "--policy", str(bad), "--output", "json")
    assert code == 2
    assert 'purge.rules[0].tags: "ci-(.*" is not a valid regular expression' in json.loads(out)["error"]
    assert control(sandbox, "GET", "requests")["requests"] == []


def test_apply_while_the_purge_lease_is_held_is_refused(
    sandbox: SandboxServer, policy_file: Path, tmp_path: Path
) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    held = store.acquire_lease(
        LEASE, holder="purge_schedule", duration=timedelta(minutes=30), now=datetime.now(UTC)
    )
    assert held is not None
    before = refs_of(sandbox.world)
    code, out = ops("purge", "--policy", str(policy_file), "--apply", "--output", "json")
    assert code == 1
    assert "another purge run holds the purge lease" in json.loads(out)["error"]
    assert refs_of(sandbox.world) == before
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")  # a plan needs no lease
    assert code == 0 and json.loads(out)["summary"]["manifests_deleted"] == 9


def stop_cluster(sandbox: SandboxServer, name: str) -> None:
    """Stop a cluster the way the schedule does: ARM's managedClusters/stop."""
    from azure.mgmt.containerservice import ContainerServiceClient

    arm = arm_client(ContainerServiceClient, sandbox, SUBSCRIPTION)
    arm.managed_clusters.begin_stop("rg-aks", name).result()
    assert sandbox.world.clusters[name].power_state == "Stopped"


@pytest.mark.parametrize("sandbox_estate", [with_dev_cluster()], indirect=True)
def test_a_cluster_stopped_after_it_was_read_keeps_its_images(
    sandbox: SandboxServer, policy_file: Path
) -> None:
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")  # aks-dev is read, running
    assert code == 0
    plan = json.loads(out)
    running = {p["tags"][0]: p["reason"] for p in plan["protected"] if p["tags"]}
    assert running["ci-100"].startswith("protected: in use by aks-dev/shop/")
    stop_cluster(sandbox, "aks-dev")
    code, out = ops("purge", "--policy", str(policy_file), "--apply", "--output", "json")
    assert code == 0, out
    applied = json.loads(out)
    stopped = {p["tags"][0]: p["reason"] for p in applied["protected"] if p["tags"]}
    last_seen = r" \(last seen running \d+m ago; cluster stopped\)"
    assert re.fullmatch(
        r"protected: in use by aks-dev/shop/\S+( \(tag ci-100\))?" + last_seen, stopped["ci-100"]
    )
    assert applied["summary"]["manifests_deleted"] == 8  # everything else the policy selects
    assert any(n.startswith("cluster aks-dev is stopped") for n in applied["notes"])
    expected = expected_remaining(sandbox.world)
    expected["shop/api"].add("old-ci")
    assert refs_of(sandbox.world) == expected


@pytest.mark.parametrize("sandbox_estate", [with_dev_cluster("Stopped")], indirect=True)
def test_a_cluster_stopped_before_it_was_ever_read_stops_every_delete(
    sandbox: SandboxServer, policy_file: Path
) -> None:
    before = refs_of(sandbox.world)
    code, out = ops("purge", "--policy", str(policy_file), "--apply", "--output", "json")
    assert code == 0, out
    applied = json.loads(out)
    assert applied["summary"]["manifests_deleted"] == 0 and refs_of(sandbox.world) == before
    (note,) = [n for n in applied["notes"] if "aks-dev" in n]
    assert "the cluster is stopped" in note and "no in-use set of it was ever recorded" in note


def test_the_demo_purge_keeps_to_its_own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.demo import DemoContext, demo_environment, step_purge

    real = tmp_path / "real" / "state.db"
    shell_storage = (
        "DefaultEndpointsProtocol=https;AccountName=real;AccountKey=eQ==;EndpointSuffix=core.windows.net"
    )
    monkeypatch.setenv("AzureWebJobsStorage", shell_storage)
    monkeypatch.setenv("AzureWebJobsStorage__queueServiceUri", "https://real.queue.core.windows.net")
    monkeypatch.setenv("OPS_STATE_PATH", str(real))
    with (
        app_sandbox(DEMO_ESTATE, tmp_path / "sandbox", monkeypatch) as server,
        demo_environment(server, tmp_path / "demo"),
    ):
        import function_app

        step_purge(DemoContext(sandbox=server, app=function_app.app))
    assert not real.parent.exists()
    summaries = [
        r
        for r in SqliteStateStore(tmp_path / "demo" / "state.db").query_audit(capability="purge")
        if r.kind == "run_summary"
    ]
    assert summaries and summaries[0].detail["manifests_deleted"] > 0
    restored = dict(os.environ)
    assert restored["AzureWebJobsStorage"] == shell_storage and restored["OPS_STATE_PATH"] == str(real)
