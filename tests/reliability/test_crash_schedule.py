"""Crash suite: ``ops schedule --apply`` killed at random points, with its state in Azure Storage.

One sandbox holds six scheduled dev clusters (cluster mode), a scheduled cluster in node-pool
mode with one user pool, and a scheduled prod cluster. Its state is Azure Tables and blob
leases on Azurite, as a deployment keeps it. Four rounds alternate evening and morning ticks
(``OPS_SCHEDULE_NOW``), so the rounds stop clusters and scale the pool to zero, then start
and restore them. ARM writes are slowed by a latency fault, so that a kill point, chosen at
random as "n writes answered, then a delay shorter than one write", lands before the first
write, between writes, or with a stop, start or pool update in flight: accepted by ARM or
not, recorded or not. The seed is printed with every failure (set CRASH_SEED to replay one).

Cases:
- each round's tick is SIGKILLed at its random point and then run again in process: the
  rerun is never refused for longer than the lease period, and a refusal names the holder
  and the lease's expiry; after it, and once the sandbox finishes its operations, every
  cluster and pool is where an uninterrupted tick leaves it (dev clusters stopped or
  running, the user pool at zero or back at its exact count and bounds, prod untouched),
  ARM accepted exactly one write per target and refused none (no second stop of a
  stopping cluster), and there is exactly one ``applied`` audit record per action;
- ``ops schedule --apply`` sent SIGTERM with writes in flight: it lets them finish, starts
  no other, prints "interrupted after N of M" on stderr, exits 1 and frees the tick's lease
  at once; the next tick finishes the round.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ops.adapters.storage import open_table_store
from ops.schedule.records import LEASE_NAME
from ops.state.store import StateStore
from sandbox.server import SandboxServer
from sandbox.world import RequestRecord
from tests.support.azurite import Azurite, run_azurite
from tests.support.crashes import RequestWatch, kill_at, ops_env, ops_in_process, spawn_ops
from tests.support.sandbox import SUBSCRIPTION, control, running_sandbox

BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULE = {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin"}
DEV = [f"aks-crash-{i}" for i in range(6)]
POOLS = "aks-pools"
PROD = "aks-prod"
APPS = {"count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6}
#: (schedule time, True when the round stops): Thursday evening to Monday morning.
ROUNDS = [
    (datetime(2026, 11, 26, 19, 5, tzinfo=BERLIN), True),
    (datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN), False),
    (datetime(2026, 11, 27, 19, 5, tzinfo=BERLIN), True),
    (datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN), False),
]
TERM_ROUND = (datetime(2026, 11, 30, 19, 5, tzinfo=BERLIN), True)
WRITES = len(DEV) + 1  # a stop or start per dev cluster, one pool update
LRO_SECONDS = 600
LEASE_SECONDS = 5
WRITE_LATENCY_MS = 150
SEED = int(os.environ.get("CRASH_SEED") or time.time_ns() % 2**32)

ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": LRO_SECONDS},
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "test", "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}]}
    ],
    "clusters": [
        *(
            {
                "name": name,
                "resourceGroup": "rg-aks",
                "tags": {"environment": "dev", **SCHEDULE},
                "agentPools": [{"name": "system", "mode": "System", "count": 1}],
            }
            for name in DEV
        ),
        {
            "name": POOLS,
            "resourceGroup": "rg-aks",
            "tags": {"environment": "test", "ops-schedule-mode": "nodepools", **SCHEDULE},
            "agentPools": [{"name": "system", "mode": "System", "count": 1}, {"name": "apps", **APPS}],
        },
        {
            "name": PROD,
            "resourceGroup": "rg-aks",
            "tags": {"environment": "prod", **SCHEDULE},
            "agentPools": [{"name": "system", "mode": "System", "count": 2}],
        },
    ],
}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with run_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("sandbox")) as server:
        for method in ("POST", "PUT"):
            fault = {"kind": "latency", "service": "arm", "method": method, "latencyMs": WRITE_LATENCY_MS}
            control(server, "POST", "faults", {**fault, "path": "managedClusters/"})
        yield server


@pytest.fixture(scope="module")
def watch(sandbox: SandboxServer) -> RequestWatch:
    return RequestWatch(sandbox.world)


@pytest.fixture(scope="module")
def store(azurite: Azurite) -> Iterator[StateStore]:
    opened = open_table_store(connection_string=azurite.connection_string)
    yield opened


def settings(azurite: Azurite, at: datetime) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "OPS_LEASE_DURATION": f"{LEASE_SECONDS}s",
        "OPS_MAX_CONCURRENCY": "2",  # writes one or two at a time: kill points fall between them
        "OPS_SCHEDULE_NOW": at.isoformat(),
    }


def is_write(record: RequestRecord) -> bool:
    """An ARM stop, start or agent-pool update."""
    return record.service == "arm" and record.method in ("POST", "PUT") and "/managedClusters/" in record.path


def write_target(record: RequestRecord) -> str:
    """The cluster (``aks-x``) or pool (``aks-x/apps``) a write is for."""
    parts = record.path.split("/")
    cluster = parts[parts.index("managedClusters") + 1]
    return f"{cluster}/{parts[parts.index('agentPools') + 1]}" if "agentPools" in parts else cluster


def round_writes(watch: RequestWatch, since: int) -> Counter[tuple[str, int]]:
    """(target, status class) of every write after the first ``since`` requests."""
    records = list(watch.world.requests)[since:]
    return Counter((write_target(r), r.status // 100) for r in records if is_write(r))


def expected_writes() -> Counter[tuple[str, int]]:
    return Counter({**{(name, 2): 1 for name in DEV}, (f"{POOLS}/apps", 2): 1})


def settle(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, store: StateStore, env: dict[str, str]
) -> dict[str, Any]:
    """The sandbox finishes the round's operations, and a later tick confirms them (and
    records a pool update that was still running when the rerun asked: ARM could not
    say then whether it was the schedule's)."""
    control(sandbox, "POST", "clock", {"advance": LRO_SECONDS + 1})
    later = datetime.fromisoformat(env["OPS_SCHEDULE_NOW"]) + timedelta(minutes=5)
    return rerun(sandbox, monkeypatch, store, {**env, "OPS_SCHEDULE_NOW": later.isoformat()})


def assert_end_state(sandbox: SandboxServer, stopping: bool) -> None:
    """Where an uninterrupted tick of this round leaves the estate, its operations finished."""
    state = {c["name"]: c for c in control(sandbox, "GET", "state")["clusters"]}
    power = {name: state[name].get("powerState", "Running") for name in [*DEV, PROD]}
    wanted = "Stopped" if stopping else "Running"
    assert power == {**dict.fromkeys(DEV, wanted), PROD: "Running"}, f"seed {SEED}"
    apps = next(p for p in state[POOLS]["agentPools"] if p["name"] == "apps")
    if stopping:
        zero = {"count": 0, "enableAutoScaling": False, "minCount": None, "maxCount": None}
        assert {k: apps.get(k) for k in APPS} == zero, f"seed {SEED}: {apps}"
    else:  # the autoscaler's bounds back exactly; the count within them is the autoscaler's
        bounds = ("enableAutoScaling", "minCount", "maxCount")
        assert {k: apps.get(k) for k in bounds} == {k: APPS[k] for k in bounds}, f"seed {SEED}: {apps}"
        assert APPS["minCount"] <= apps["count"] <= APPS["maxCount"], f"seed {SEED}: {apps}"


def assert_audited_once(store: StateStore, since: datetime) -> None:
    """One ``applied`` record per action of the round, whatever the kill left unrecorded."""
    records = [
        r
        for r in store.query_audit(capability="schedule", since=since, limit=10_000)
        if r.kind in ("stop_cluster", "start_cluster", "scale_pool_to_zero", "restore_pool")
    ]
    by_key = Counter(r.key for r in records)
    assert set(by_key.values()) == {1}, f"seed {SEED}: {by_key}"
    targets = sorted(r.target.split("/managedClusters/")[-1].replace("/agentPools/", "/") for r in records)
    assert targets == sorted([*DEV, f"{POOLS}/apps"]), f"seed {SEED}: {targets}"
    assert {r.status for r in records} == {"applied"}, f"seed {SEED}"


def choose_kill_point(rng: random.Random) -> tuple[int, float]:
    """(writes answered, then a delay): before any write, or with one in flight."""
    return rng.randrange(0, WRITES - 1), rng.uniform(0, WRITE_LATENCY_MS / 1000 * 0.9)


def rerun(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, store: StateStore, env: dict[str, str]
) -> dict[str, Any]:
    """The next tick: refused (skipped) at most for the dead tick's lease, then run."""
    args = ["schedule", "--apply", "--output", "json"]
    code, out = ops_in_process(sandbox, monkeypatch, env, *args)
    body = json.loads(out)
    if "skipped" in body:
        held = store.read_lease(LEASE_NAME)
        assert held is not None, body
        assert f"held by {held.holder} until " in body["skipped"], body
        left = re.search(r"\(in (\d+)s;", body["skipped"])
        assert left is not None and int(left.group(1)) <= LEASE_SECONDS, body
        time.sleep(max(0.0, (held.expires - datetime.now(UTC)).total_seconds()))  # the lease's end
        code, out = ops_in_process(sandbox, monkeypatch, env, *args)
        body = json.loads(out)
    assert code == 0 and "skipped" not in body, f"seed {SEED}: {out}"
    return body


def test_ticks_killed_at_random_points_converge(
    sandbox: SandboxServer,
    azurite: Azurite,
    store: StateStore,
    watch: RequestWatch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(SEED)
    resumed = 0
    for number, (at, stopping) in enumerate(ROUNDS):
        env = settings(azurite, at)
        since, started = len(watch.world.requests), datetime.now(UTC)
        answered, delay = choose_kill_point(rng)
        log = tmp_path / f"round-{number}.log"
        process = spawn_ops(["schedule", "--apply", "--output", "json"], ops_env(sandbox.env(), env), log=log)
        match = is_write if answered else (lambda r: r.service == "arm" and "/managedClusters/" in r.path)
        killed = kill_at(watch, process, match, max(1, answered), delay=delay, since=since)
        process.wait(timeout=60)
        assert killed is not None, f"seed {SEED}: round {number} finished before its kill point"
        killed_at = datetime.now(UTC)
        held = store.read_lease(LEASE_NAME)
        if held is not None:  # killed while holding it: it ends within the lease period
            assert held.expires <= killed_at + timedelta(seconds=LEASE_SECONDS), f"seed {SEED}"
        body = rerun(sandbox, monkeypatch, store, env)
        resumed += len(body["resumed"]) + len(settle(sandbox, monkeypatch, store, env)["resumed"])
        writes = round_writes(watch, since)
        assert writes == expected_writes(), f"seed {SEED}: round {number}: {writes}"
        assert_audited_once(store, started)
        assert_end_state(sandbox, stopping)
    print(f"seed {SEED}: {resumed} action(s) applied by a killed tick were recorded by the next")


def test_sigterm_finishes_the_writes_in_flight_and_frees_the_lease(
    sandbox: SandboxServer,
    azurite: Azurite,
    store: StateStore,
    watch: RequestWatch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at, stopping = TERM_ROUND
    env = settings(azurite, at)
    since, started = len(watch.world.requests), datetime.now(UTC)
    log = tmp_path / "term.log"
    process = spawn_ops(["schedule", "--apply", "--output", "json"], ops_env(sandbox.env(), env), log=log)
    assert kill_at(watch, process, is_write, 2, delay=0.05, sig=signal.SIGTERM, since=since) is not None
    assert process.wait(timeout=60) == 1
    text = log.read_text()
    done = re.search(r"interrupted after (\d+) of (\d+) action\(s\) \((\d+) done, 0 failed\)", text)
    assert done is not None, text
    begun, total = int(done.group(1)), int(done.group(2))
    assert 2 <= begun < total == WRITES and int(done.group(3)) == begun, text
    assert sum(round_writes(watch, since).values()) == begun  # none started after the signal
    assert store.read_lease(LEASE_NAME) is None  # freed: the next tick starts at once
    assert rerun(sandbox, monkeypatch, store, env)["resumed"] == []
    settle(sandbox, monkeypatch, store, env)
    assert round_writes(watch, since) == expected_writes()
    assert_audited_once(store, started)
    assert_end_state(sandbox, stopping)
