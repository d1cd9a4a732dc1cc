"""Crash suite: purge killed at random points, then rerun or redelivered, converges exactly.

One sandbox holds copies of the purge estate's registry, each purged the same way; every
kill gets its own copy. Writes to the registries are slowed (a latency fault on DELETE)
so that a kill point, chosen at random as "n deletes answered, then a delay shorter
than one delete", lands before the first delete, between deletes, or with a delete in
flight (landed or not, recorded or not). The seed is printed with every failure
(set CRASH_SEED to replay one).

Cases:
- ``ops purge --apply`` SIGKILLed at random points (5 times), then run again: the end
  state of its registry is the uninterrupted run's, every deleted manifest has exactly
  one audit record (including a delete that landed just before the kill), and the
  purge lease the dead run held ends within the lease period of the kill: the rerun is
  refused at most that long, and the refusal names the holder and its expiry;
- ``purge_repository`` (``ops invoke`` with the queue message ``purge_schedule``
  enqueued) SIGKILLed at random points (5 times), then redelivered with the same
  message at once: never refused, it finishes with the same end state and one audit
  record per effect; the run summary counts every batch;
- ``ops purge --apply`` sent SIGTERM with deletes in flight: it finishes them, starts no
  other, prints "interrupted after N of M", exits 1 and releases the lease at once; the
  next run finishes the job.

Each kill's state is a separate SQLite file for the CLI and one for the queue path, as
two deployments would have; the sandbox is one.
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

import pytest

from ops.purge.localqueue import StoreQueue
from ops.purge.records import LEASE
from ops.state.sqlite import SqliteStateStore
from sandbox.server import SandboxServer
from sandbox.world import RequestRecord
from tests.support.crashes import RequestWatch, kill_at, ops_env, ops_in_process, spawn_ops
from tests.support.purge import (
    POLICY,
    REGISTRY,
    digests_by_ref,
    estate_of_copies,
    expected_remaining,
    refs_of,
    remember_refs,
)
from tests.support.sandbox import control, running_sandbox

KILLS = 5
CLI_REGISTRIES = [f"crashcli{i}" for i in range(KILLS)]
QUEUE_REGISTRIES = [f"crashqueue{i}" for i in range(KILLS)]
TERM_REGISTRY = "crashterm"
LEASE_SECONDS = 5
DELETE_LATENCY_MS = 150
#: delete_manifest actions a purge of one copy applies (EXPECTED_DELETED, with an index's two children).
DELETES = 9
SEED = int(os.environ.get("CRASH_SEED") or time.time_ns() % 2**32)


def policy_for(pattern: str) -> str:
    return POLICY.replace(f"registry: {REGISTRY}", f"registry: '{pattern}'")


def deletes_on(registry: str) -> Any:
    def match(record: RequestRecord) -> bool:
        return record.service == f"acr:{registry}" and record.method == "DELETE" and record.status < 300

    return match


def any_call_to(registry: str) -> Any:
    return lambda record: record.service == f"acr:{registry}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    names = [*CLI_REGISTRIES, *QUEUE_REGISTRIES, TERM_REGISTRY]
    with running_sandbox(estate_of_copies(names), tmp_path_factory.mktemp("sandbox")) as server:
        remember_refs(server.world, names)
        control(
            server,
            "POST",
            "faults",
            {"kind": "latency", "service": "acr:crash*", "method": "DELETE", "latencyMs": DELETE_LATENCY_MS},
        )
        yield server


@pytest.fixture(scope="module")
def watch(sandbox: SandboxServer) -> RequestWatch:
    return RequestWatch(sandbox.world)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


def settings(state: Path, **extra: str) -> dict[str, str]:
    return {
        "OPS_STATE_PATH": str(state),
        "OPS_LEASE_DURATION": f"{LEASE_SECONDS}s",
        "OPS_MAX_CONCURRENCY": "2",  # deletes one or two at a time: kill points fall between them
        "OPS_PURGE_ESTIMATE_BYTES": "false",  # fewer reads before the deletes: a shorter suite
        **extra,
    }


def audited_deletes(store: SqliteStateStore, registry: str) -> Counter[str]:
    """Audit records of delete_manifest on ``registry``, counted by digest."""
    return Counter(
        str(r.detail["params"]["digest"])
        for r in store.query_audit(capability="purge", limit=10_000)
        if r.kind == "delete_manifest" and r.detail["params"]["registry"] == registry
    )


def assert_converged(
    sandbox: SandboxServer, store: SqliteStateStore, registry: str, before: set[str]
) -> None:
    """The uninterrupted run's end state, and one audit record per manifest deleted."""
    assert refs_of(sandbox.world, registry) == expected_remaining(sandbox.world, registry), f"seed {SEED}"
    after = {d for repo in sandbox.world.registries[registry].repositories.values() for d in repo.manifests}
    audited = audited_deletes(store, registry)
    labels = {
        d: f"{repo}:{ref}"
        for repo in refs_of(sandbox.world, registry)
        for d, ref in digests_by_ref(sandbox.world, repo, registry).items()
    }
    missing = {labels.get(d, d) for d in (before - after) - set(audited)}
    extra = {labels.get(d, d) for d in set(audited) - (before - after)}
    assert not missing and not extra, (
        f"seed {SEED}: deleted without a record {missing}, recorded but not deleted {extra}"
    )
    assert set(audited.values()) == {1}, f"seed {SEED}: {audited}"


def digests(sandbox: SandboxServer, registry: str) -> set[str]:
    return {d for repo in sandbox.world.registries[registry].repositories.values() for d in repo.manifests}


def choose_kill_point(rng: random.Random) -> tuple[int, float]:
    """(deletes answered, then a delay): before any delete, or with one in flight."""
    return rng.randrange(0, DELETES - 2), rng.uniform(0, DELETE_LATENCY_MS / 1000 * 0.9)


def test_cli_purge_killed_at_random_points_converges(
    sandbox: SandboxServer,
    watch: RequestWatch,
    rng: random.Random,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_for("crashcli.*"))
    kills = 0
    for registry in CLI_REGISTRIES:
        state = tmp_path / f"{registry}.db"
        env = settings(state)
        before = digests(sandbox, registry)
        answered, delay = choose_kill_point(rng)
        args = ["purge", "--policy", str(policy), "--registry", registry, "--apply", "--output", "json"]
        process = spawn_ops(args, ops_env(sandbox.env(), env), log=tmp_path / f"{registry}.log")
        match = deletes_on(registry) if answered else any_call_to(registry)
        killed = kill_at(watch, process, match, max(1, answered), delay=delay)
        process.wait(timeout=60)
        assert killed is not None, f"seed {SEED}: {registry} finished before its kill point"
        kills += 1
        killed_at = datetime.now(UTC)

        store = SqliteStateStore(state)
        held = store.read_lease(LEASE)
        if held is not None:  # killed while holding it: it ends within the lease period
            assert held.expires <= killed_at + timedelta(seconds=LEASE_SECONDS), f"seed {SEED}"
            code, out = ops_in_process(sandbox, monkeypatch, env, *args)
            if code != 0:  # refused: says by whom and until when, and no longer than the lease
                error = json.loads(out)["error"]
                assert f"held by {held.holder} until " in error, error
                until = re.search(r"until (\S+Z) \(in (\d+)s;", error)
                assert until is not None and int(until.group(2)) <= LEASE_SECONDS, error
                time.sleep(max(0.0, (held.expires - datetime.now(UTC)).total_seconds()))  # the lease's end
        code, out = ops_in_process(sandbox, monkeypatch, env, *args)
        assert code == 0, f"seed {SEED}: {out}"
        assert_converged(sandbox, store, registry, before)
        store.close()
    assert kills == KILLS


def test_queue_batch_killed_at_random_points_is_finished_by_its_redelivery(
    sandbox: SandboxServer,
    watch: RequestWatch,
    rng: random.Random,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = tmp_path / "queue.db"
    env = settings(state, OPS_DRY_RUN="false", OPS_PURGE_POLICY=policy_for("crashqueue.*"))
    env["OPS_PURGE_BATCH_SIZE"] = "3"  # one message per registry
    code, out = ops_in_process(sandbox, monkeypatch, env, "invoke", "purge_schedule")
    assert code == 0, out
    store = SqliteStateStore(state)
    messages = {
        json.loads(m.body)["registry"]["name"]: m.body for m in StoreQueue(store, "purge-work").receive()
    }
    assert sorted(messages) == QUEUE_REGISTRIES
    kills = 0
    for registry in QUEUE_REGISTRIES:
        before = digests(sandbox, registry)
        payload = tmp_path / f"{registry}.json"
        payload.write_text(messages[registry])
        args = ["invoke", "purge_repository", "--payload", str(payload)]
        answered, delay = choose_kill_point(rng)
        process = spawn_ops(args, ops_env(sandbox.env(), env), log=tmp_path / f"{registry}.log")
        match = deletes_on(registry) if answered else any_call_to(registry)
        killed = kill_at(watch, process, match, max(1, answered), delay=delay)
        process.wait(timeout=60)
        assert killed is not None, f"seed {SEED}: {registry} finished before its kill point"
        kills += 1
        # The host redelivers the same message; nothing makes it wait.
        code, out = ops_in_process(sandbox, monkeypatch, env, *args)
        assert code == 0, f"seed {SEED}: {out}"
        # "already_done": the kill came after the batch was recorded, as the process ended.
        assert json.loads(out)["result"]["status"] in ("done", "already_done"), out
        assert_converged(sandbox, store, registry, before)
    assert kills == KILLS
    (summary,) = [r for r in store.query_audit(capability="purge", limit=10_000) if r.kind == "run_summary"]
    assert summary.detail["batches"] == KILLS
    store.close()


def test_sigterm_finishes_the_deletes_in_flight_and_releases_the_lease(
    sandbox: SandboxServer,
    watch: RequestWatch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_for(TERM_REGISTRY))
    state = tmp_path / "term.db"
    env = settings(state)
    before = digests(sandbox, TERM_REGISTRY)
    args = ["purge", "--policy", str(policy), "--registry", TERM_REGISTRY, "--apply", "--output", "json"]
    log = tmp_path / "term.log"
    process = spawn_ops(args, ops_env(sandbox.env(), env), log=log)
    signalled = kill_at(watch, process, deletes_on(TERM_REGISTRY), 2, delay=0.05, sig=signal.SIGTERM)
    assert signalled is not None
    assert process.wait(timeout=60) == 1
    text = log.read_text()
    done = re.search(r"interrupted after (\d+) of (\d+) action\(s\) \((\d+) done, 0 failed\)", text)
    assert done is not None, text
    started, total = int(done.group(1)), int(done.group(2))
    assert 2 <= started < total == DELETES, text
    # Every delete it started was answered and recorded, and no other began.
    assert watch.count(deletes_on(TERM_REGISTRY)) == started
    store = SqliteStateStore(state)
    audited = audited_deletes(store, TERM_REGISTRY)
    assert len(audited) == started and set(audited) <= before - digests(sandbox, TERM_REGISTRY)
    assert store.read_lease(LEASE) is None  # released: the next run starts at once
    code, out = ops_in_process(sandbox, monkeypatch, env, *args)
    assert code == 0, out
    assert_converged(sandbox, store, TERM_REGISTRY, before)
    store.close()
