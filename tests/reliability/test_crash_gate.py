"""Crash suite: the gate's apply path (``ops invoke gate_on_image_pushed``) killed at random points.

Each kill is a new image pushed to a registry whose rule (``mode: lock``) locks the
manifest while it decides and passes it at once: one delivery locks, unlocks, records and
publishes. The lock and unlock (PATCHes through the ACR SDK) and the verdict's publication
are slowed by latency faults, so that a kill point, chosen at random as a delay after the
delivery's first registry call, lands before the lock, with the lock or the unlock in
flight (landed or not), between them, or with the publication in flight. The seed is
printed with every failure (set CRASH_SEED to replay one).

Cases:
- the delivery is SIGKILLed at its random point, and Event Grid redelivers the same event
  at once (``ops invoke`` in process): the redelivery is handled (exit 0), never "being
  applied by another run" for the quarter hour a dead delivery's claim used to hold, nor
  acknowledged as a duplicate of the delivery that died; the image ends as an
  uninterrupted delivery leaves it (passed, its manifest readable, not blocked); every
  action has exactly one audit record, an effect that landed just before the kill
  included; and the verdict is published under one event id (published again only when
  the kill may have cut it off: Event Grid delivers at least once anyway).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.gate.records import load_record
from ops.state.sqlite import SqliteStateStore
from sandbox.server import SandboxServer
from tests.support.crashes import RequestWatch, kill_at, ops_env, ops_in_process, spawn_ops
from tests.support.gate import ESTATE, REGISTRY, audit, manifest, published, push
from tests.support.sandbox import control, running_sandbox

KILLS = 3
LATENCY_MS = 150
SEED = int(os.environ.get("CRASH_SEED") or time.time_ns() % 2**32)
POLICY = f"""
gate:
  rules:
    - {{name: open, registry: {REGISTRY}, mode: lock, requireScan: false}}
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("sandbox")) as server:
        for service, method in ((f"acr:{REGISTRY}", "PATCH"), ("eventgrid", "POST")):
            fault = {"kind": "latency", "service": service, "method": method, "latencyMs": LATENCY_MS}
            control(server, "POST", "faults", fault)
        yield server


def image_audit(store: SqliteStateStore, digest: str) -> list[Any]:
    return [r for r in audit(store) if digest in r.target]


def test_deliveries_killed_at_random_points_are_finished_by_their_redelivery(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(SEED)
    watch = RequestWatch(sandbox.world)
    state = tmp_path / "gate.db"
    env = {"OPS_STATE_PATH": str(state), "OPS_DRY_RUN": "false", "OPS_GATE_POLICY": POLICY}
    store = SqliteStateStore(state)
    for number in range(KILLS):
        repository = f"crash/app{number}"
        digest, event = push(sandbox.world, repository, "v1")
        payload = tmp_path / f"event-{number}.json"
        payload.write_text(json.dumps(event))
        args = ["invoke", "gate_on_image_pushed", "--payload", str(payload)]
        since = len(watch.world.requests)
        delay = rng.uniform(0, 2.5 * LATENCY_MS / 1000)
        process = spawn_ops(args, ops_env(sandbox.env(), env), log=tmp_path / f"kill-{number}.log")
        first = lambda r: r.service == f"acr:{REGISTRY}"  # noqa: E731
        killed = kill_at(watch, process, first, 1, delay=delay, since=since)
        process.wait(timeout=60)
        assert killed is not None, f"seed {SEED}: delivery {number} finished before its kill point"

        code, out = ops_in_process(sandbox, monkeypatch, env, *args)  # the redelivery, at once
        assert code == 0, f"seed {SEED}: {out}"
        assert "being applied by another run" not in out, f"seed {SEED}: {out}"
        stored = manifest(sandbox.world, repository, digest)
        assert stored.attrs.read_enabled is True, f"seed {SEED}: {repository} left locked"
        login = sandbox.world.registries[REGISTRY].login_server
        record = load_record(store, f"{login}/{repository}@{digest}")
        assert record is not None and str(record.standing.decision) == "pass", f"seed {SEED}"
        assert not record.standing.blocked, f"seed {SEED}"
        keys = Counter(r.key for r in image_audit(store, digest))
        assert keys and set(keys.values()) == {1}, f"seed {SEED}: {keys}"
        kinds = Counter(r.kind for r in image_audit(store, digest))
        assert kinds == Counter(["gate.lock", "gate.unlock", "gate.record", "gate.publish"]), f"seed {SEED}"
        verdicts = {e["id"] for e in published(sandbox.world) if digest in json.dumps(e)}
        assert len(verdicts) == 1, f"seed {SEED}: {verdicts}"
    store.close()
