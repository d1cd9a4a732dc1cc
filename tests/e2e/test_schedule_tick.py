"""schedule_tick end to end: the real function, adapters and SDKs against the sandbox.

The schedule's clock is pinned per tick with ``OPS_SCHEDULE_NOW`` (the setting meant
for tests and demos); the sandbox's own clock is advanced to finish its long-running
operations (``lroSeconds`` is long, so nothing finishes until a test says so).

Cases: an evening of ticks stops the dev cluster, scales the staging cluster's user
pools to zero one at a time and leaves prod alone, and a morning of ticks brings both
back with the same counts and autoscaler bounds, each stop and start confirmed on a
later tick; two ticks at once produce one set of actions; the cluster-mode fallback: a
cluster stopped in the evening whose morning start fails (an injected LRO failure, as
a capacity error) is left Failed but Running, as AKS leaves it; the start is retried
after its backoff, AKS refuses it (the control plane is up), and the tick falls back:
each pool back to its last known count and autoscaler bounds, system pool first, one
agent-pool update per tick, then an update of the cluster that clears its Failed, so
that it ends Running and Succeeded with every failure and every "fallback" action in
the audit trail; the CLI runs a tick in a subprocess (``ops invoke schedule_tick``),
shows the plan as JSON, and snoozes a cluster (a plan first, the tag with
``--apply``); a schedule policy whose ``protectedEnvironments`` lists ``staging`` adds it
to the setting's protected set (the union): the evening tick leaves aks-staging's pools
alone and still stops aks-dev.

The executor applies one tick's actions concurrently (a thread pool), so the ARM writes
of different clusters within one tick arrive in any order: a tick's writes are compared
as a multiset (every count kept), while the order between ticks, which run one after
another, and the order of one cluster's writes are asserted as they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, control

ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULE = {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin"}
TIMER = {
    "Schedule": {"AdjustForDST": True},
    "ScheduleStatus": {"Last": "2026-11-26T18:00:00+00:00", "Next": "2026-11-26T18:05:00+00:00"},
    "IsPastDue": False,
}
EVENING = datetime(2026, 11, 26, 19, 5, tzinfo=BERLIN)  # a Thursday
MORNING = datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN)
LRO_SECONDS = 600

ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": LRO_SECONDS},
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "test", "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}]}
    ],
    "clusters": [
        {
            "name": "aks-dev",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "dev", **SCHEDULE},
            "agentPools": [
                {"name": "system", "mode": "System", "count": 1},
                {"name": "user", "count": 2, "enableAutoScaling": True, "minCount": 1, "maxCount": 5},
            ],
        },
        {
            "name": "aks-staging",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "staging", "ops-schedule-mode": "nodepools", **SCHEDULE},
            "agentPools": [
                {"name": "system", "mode": "System", "count": 1},
                {"name": "apps", "count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6},
                {"name": "batch", "count": 2},
            ],
        },
        {
            "name": "aks-prod",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "prod", **SCHEDULE},
            "agentPools": [{"name": "system", "mode": "System", "count": 3}],
        },
    ],
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = {
        "AzureWebJobsStorage": None,
        "OPS_DRY_RUN": "false",
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
    }
    try:
        # Each test has its own sandbox (own ports and CA): the app starts from fresh clients.
        with app_sandbox(ESTATE, tmp_path / "sandbox", monkeypatch, settings) as server:
            yield server
    finally:
        from ops.services import reset_services

        reset_services()


def tick(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """One schedule_tick at schedule time ``at``, through the host-shaped timer payload."""
    import function_app
    from ops.services import reset_services

    monkeypatch.setenv("OPS_SCHEDULE_NOW", at.isoformat())
    reset_services()
    invoke_function(function_app.app, "schedule_tick", TIMER)


def finish_operations(server: SandboxServer) -> None:
    control(server, "POST", "clock", {"advance": LRO_SECONDS + 1})


def writes(world: World) -> list[tuple[str, str]]:
    """ARM writes in the request log, as (method, last path segment)."""
    with world.lock:
        return [
            (r.method, r.path.rsplit("/", 1)[-1])
            for r in world.requests
            if r.service == "arm" and r.method in ("POST", "PUT", "PATCH", "DELETE")
        ]


def tick_writes(world: World, *, since: int) -> Counter[tuple[str, str]]:
    """The ARM writes after the first ``since`` ones, as a multiset: the executor applies
    one tick's actions in parallel, so writes to different clusters come in any order."""
    return Counter(writes(world)[since:])


def pool_state(world: World, cluster: str) -> dict[str, tuple[int, bool, int | None, int | None]]:
    pools = world.clusters[cluster].agent_pools.values()
    return {p.name: (p.count, p.enable_auto_scaling, p.min_count, p.max_count) for p in pools}


STAGING_BEFORE = {"system": (1, False, None, None), "apps": (3, True, 2, 6), "batch": (2, False, None, None)}


def test_evening_and_morning_ticks_stop_and_start_exactly(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sandbox.world
    tick(monkeypatch, EVENING)
    assert world.clusters["aks-dev"].provisioning_state == "Stopping"
    assert tick_writes(world, since=0) == Counter([("POST", "stop"), ("PUT", "apps")])  # one pool at a time

    tick(monkeypatch, EVENING + timedelta(minutes=5))  # still running: nothing new
    assert len(writes(world)) == 2

    finish_operations(sandbox)
    tick(monkeypatch, EVENING + timedelta(minutes=10))  # confirms both, then the next pool
    assert tick_writes(world, since=2) == Counter([("PUT", "batch")])
    finish_operations(sandbox)
    tick(monkeypatch, EVENING + timedelta(minutes=15))
    assert len(writes(world)) == 3

    assert world.clusters["aks-dev"].power_state == "Stopped"
    assert pool_state(world, "aks-staging") == {
        "system": (1, False, None, None),
        "apps": (0, False, None, None),
        "batch": (0, False, None, None),
    }
    assert world.clusters["aks-prod"].power_state == "Running"

    tick(monkeypatch, MORNING)
    assert tick_writes(world, since=3) == Counter([("POST", "start"), ("PUT", "apps")])
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=5))
    assert tick_writes(world, since=5) == Counter([("PUT", "batch")])
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=10))
    assert len(writes(world)) == 6

    assert world.clusters["aks-dev"].power_state == "Running"
    assert world.clusters["aks-dev"].provisioning_state == "Succeeded"
    assert pool_state(world, "aks-dev") == {"system": (1, False, None, None), "user": (2, True, 1, 5)}
    assert pool_state(world, "aks-staging") == STAGING_BEFORE

    from ops.services import get_services

    audit = get_services().store().query_audit(capability="schedule", limit=50)
    assert sorted((a.kind, a.target.rsplit("/", 1)[-1]) for a in audit) == [
        ("restore_pool", "apps"),
        ("restore_pool", "batch"),
        ("scale_pool_to_zero", "apps"),
        ("scale_pool_to_zero", "batch"),
        ("start_cluster", "aks-dev"),
        ("stop_cluster", "aks-dev"),
    ]


def test_two_ticks_at_once_make_one_set_of_actions(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import function_app
    from ops.services import reset_services

    monkeypatch.setenv("OPS_SCHEDULE_NOW", EVENING.isoformat())
    reset_services()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            invoke_function(function_app.app, "schedule_tick", TIMER)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert tick_writes(sandbox.world, since=0) == Counter([("POST", "stop"), ("PUT", "apps")])


def dev_writes(world: World) -> list[tuple[str, str, int]]:
    """aks-dev's ARM writes in the request log, as (method, last path segment, status)."""
    with world.lock:
        return [
            (r.method, r.path.rsplit("/", 1)[-1], r.status)
            for r in world.requests
            if r.service == "arm"
            and r.method in ("POST", "PUT", "PATCH", "DELETE")
            and "/managedClusters/aks-dev" in r.path
        ]


def pool_health(world: World, cluster: str) -> dict[str, tuple[str, str]]:
    pools = world.clusters[cluster].agent_pools.values()
    return {p.name: (p.power_state, p.provisioning_state) for p in pools}


def test_failed_starts_fall_back_to_the_last_known_pools(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sandbox.world
    dev = world.clusters["aks-dev"]
    before = pool_state(world, "aks-dev")
    for minutes in (0, 5, 10):  # stops aks-dev, recording its pools as last known (and staging's)
        tick(monkeypatch, EVENING + timedelta(minutes=minutes))
        finish_operations(sandbox)
    assert dev.power_state == "Stopped"
    control(
        sandbox,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "method": "POST", "path": "/aks-dev/start$", "count": 3,
         "code": "OverconstrainedAllocationRequest", "message": "Allocation failed: no capacity."},
    )  # fmt: skip

    tick(monkeypatch, MORNING)
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=1))  # confirms the failure; backs off 5 minutes
    assert (dev.power_state, dev.provisioning_state) == ("Running", "Failed")  # as AKS leaves it
    assert pool_health(world, "aks-dev") == {"system": ("Running", "Failed"), "user": ("Running", "Failed")}
    tick(monkeypatch, MORNING + timedelta(minutes=5))  # still backing off
    assert dev_writes(world)[1:] == [("POST", "start", 202)]

    tick(monkeypatch, MORNING + timedelta(minutes=6))  # attempt 2: AKS starts no running cluster
    assert dev_writes(world)[2:] == [("POST", "start", 409)]
    assert control(sandbox, "GET", "faults")["faults"][0]["count"] == 2  # no second operation ran

    tick(monkeypatch, MORNING + timedelta(minutes=7))  # the fallback: the system pool first
    assert dev_writes(world)[3:] == [("PUT", "system", 200)]
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=8))  # then the user pool
    assert dev_writes(world)[4:] == [("PUT", "user", 200)]
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=9))  # every pool back: update the cluster
    assert dev_writes(world)[5:] == [("PATCH", "aks-dev", 200)]
    assert dev.provisioning_state == "Updating"
    finish_operations(sandbox)
    tick(monkeypatch, MORNING + timedelta(minutes=10))
    tick(monkeypatch, MORNING + timedelta(minutes=15))  # settled: nothing more to do
    assert len(dev_writes(world)) == 6

    assert (dev.power_state, dev.provisioning_state) == ("Running", "Succeeded")
    assert pool_health(world, "aks-dev") == {
        "system": ("Running", "Succeeded"),
        "user": ("Running", "Succeeded"),
    }
    assert before == {"system": (1, False, None, None), "user": (2, True, 1, 5)}
    assert pool_state(world, "aks-dev") == before
    from ops.services import get_services

    audit = [
        a
        for a in get_services().store().query_audit(capability="schedule", limit=100)
        if "/managedClusters/aks-dev" in a.target
    ]
    failures = sorted(
        (a.detail.get("attempt"), a.reason) for a in audit if a.status == "failed" and "attempt" in a.detail
    )
    assert [attempt for attempt, _ in failures] == [1, 2]
    assert "OverconstrainedAllocationRequest" in failures[0][1]
    assert "starting cannot be performed" in failures[1][1]
    fallback = {a.kind + ":" + a.target.rsplit("/", 1)[-1]: a for a in audit if a.status == "applied"}
    assert set(fallback) == {"stop_cluster:aks-dev", "start_cluster:aks-dev", "restore_pool:system",
                             "restore_pool:user", "reconcile_cluster:aks-dev"}  # fmt: skip
    for name in ("restore_pool:system", "restore_pool:user", "reconcile_cluster:aks-dev"):
        assert fallback[name].reason.startswith("fallback: start failed 2 times, the last refused")
    assert fallback["restore_pool:system"].detail["params"]["scale"] == {
        "count": 1, "enableAutoScaling": False, "minCount": None, "maxCount": None
    }  # fmt: skip
    assert fallback["restore_pool:user"].detail["params"]["scale"] == {
        "count": 2, "enableAutoScaling": True, "minCount": 1, "maxCount": 5
    }  # fmt: skip


def _cli(env_file: Path, *args: str, stdin: str | None = None, extra: dict[str, str] | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPS_", "AzureWebJobs"))}
    env.update(extra or {})
    done = subprocess.run(
        [sys.executable, "-m", "ops", "--env-file", str(env_file), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_the_cli_runs_a_tick_plans_and_snoozes(sandbox: SandboxServer, tmp_path: Path) -> None:
    env_file = sandbox.write_env_file(tmp_path / "sandbox.env")
    with env_file.open("a") as handle:
        handle.write(f"OPS_DRY_RUN=false\nOPS_STATE_PATH={tmp_path / 'cli-state.db'}\n")
        handle.write(f"OPS_SCHEDULE_NOW={EVENING.isoformat()}\n")

    plan = json.loads(_cli(env_file, "schedule", "--output", "json"))
    rows = {r["cluster"]: r for r in plan["clusters"]}
    assert rows["aks-dev"]["action"] == "stop_cluster"
    assert rows["aks-prod"]["reason"].startswith("protected: environment=prod")
    assert rows["aks-dev"]["nodeHoursSavedPerWeek"] == 3 * (168 - 57.5)
    assert writes(sandbox.world) == []  # the plan is a dry run

    planned = json.loads(
        _cli(env_file, "schedule", "snooze", "aks-dev", "--until", "2026-11-26T23:00", "-o", "json")
    )
    assert planned["status"] == "planned" and "ops-snooze-until" not in sandbox.world.clusters["aks-dev"].tags
    snoozed = json.loads(
        _cli(
            env_file, "schedule", "snooze", "aks-dev", "--until", "2026-11-26T23:00", "--apply", "-o", "json"
        )
    )
    assert snoozed["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    assert sandbox.world.clusters["aks-dev"].tags["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    finish_operations(sandbox)  # the tag update is itself an ARM operation

    out = json.loads(_cli(env_file, "invoke", "schedule_tick", "--payload", "-", stdin=json.dumps(TIMER)))
    assert out["function"] == "schedule_tick"
    assert sandbox.world.clusters["aks-dev"].power_state == "Running"  # snoozed
    assert sandbox.world.clusters["aks-dev"].provisioning_state == "Succeeded"
    assert writes(sandbox.world) == [("PATCH", "aks-dev"), ("PUT", "apps")]


def test_a_policy_that_protects_staging_adds_to_the_setting(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import function_app
    from ops.services import reset_services

    monkeypatch.setenv("OPS_SCHEDULE_POLICY", "schedule:\n  protectedEnvironments: [staging]\n")
    monkeypatch.setenv("OPS_SCHEDULE_NOW", EVENING.isoformat())
    reset_services()
    (result,) = invoke_function(function_app.app, "schedule_tick", TIMER).results
    assert result["status"] == "done", result
    world = sandbox.world
    assert pool_state(world, "aks-staging") == STAGING_BEFORE  # protected by the policy
    stops = [w for w in writes(world) if w == ("POST", "stop")]
    assert len(stops) == 1  # aks-dev, not protected; aks-prod stays protected by the setting
    assert world.clusters["aks-prod"].power_state == "Running"
