"""The purge service over fake adapters and a real SQLite StateStore.

Cases: the schedule takes a lease (an overlapping run is skipped), enqueues batches of
repositories, stores the in-use set once per run and records the run; a batch deletes
what the plan says, audits each delete once, and a replayed message does nothing; a
batch re-run after a crash deletes nothing twice; transient errors are retried (and a
batch that gives up raises so the queue redelivers, then converges); the run's delete
budget is shared across batches; a failed parent delete stops its children; an
unreadable or stopped cluster stops deletes; bytes reclaimed count only blobs nothing
kept references; a dry run deletes nothing and reports the same summary shape; the run
summary is recorded once, after the last batch; an invalid policy is a ConfigError
before anything is listed; the inline (CLI) run plans every registry at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import ConfigError, NotFound, PermanentError, TransientError
from ops.executor import ExecutionPolicy
from ops.plan import Status
from ops.purge.images import ImageUse
from ops.purge.inventory import ClusterRef, RegistryRef, RepositoryState
from ops.purge.messages import parse_batch_message
from ops.purge.service import BATCHES, IN_USE, LEASE, RUNS, PurgeConfig, PurgeService
from ops.state.sqlite import SqliteStateStore
from tests.unit.purge_builders import LOGIN, NOW, digest, manifest, name_of, repository

POLICY = """
purge:
  minAge: 1d
  rules:
    - repository: '.*'
      tags: 'ci-.*'
      olderThan: 30d
      untagged: true
      allowSuspicious: true
"""
REGISTRY = RegistryRef(name="reg", login_server=LOGIN, sku="Premium")


class FakeDirectory:
    def __init__(self, clusters: Sequence[ClusterRef] = (ClusterRef("aks-prod", "rg", "sub"),)) -> None:
        self.clusters = list(clusters)
        self.calls = 0

    def list_registries(self) -> Sequence[RegistryRef]:
        self.calls += 1
        return [REGISTRY]

    def list_clusters(self) -> Sequence[ClusterRef]:
        self.calls += 1
        return self.clusters


class FakeClusters:
    def __init__(self, images: dict[str, list[str]] | None = None, broken: Iterable[str] = ()) -> None:
        self.images = images or {}
        self.broken = set(broken)
        self.reads = 0

    def list_image_uses(self, cluster: ClusterRef) -> Iterable[ImageUse]:
        self.reads += 1
        if cluster.name in self.broken:
            raise TransientError("connection refused")
        user = f"{cluster.name}/default/deployment/web"
        return [ImageUse(image, user) for image in self.images.get(cluster.name, [])]


class FakeRegistry:
    """A registry's data plane in memory; ``failures`` maps a digest to errors to raise first."""

    def __init__(self, *repos: RepositoryState) -> None:
        self.repos = {r.repository: r for r in repos}
        self.deletes: list[str] = []
        self.failures: dict[str, list[Exception]] = {}
        self.layers: dict[str, list[tuple[str, int]]] = {}
        self.reads = 0
        self.prepared: list[str] = []

    def list_repositories(self) -> Iterable[str]:
        return sorted(self.repos)

    def prepare(self, repositories: Sequence[str]) -> None:
        self.prepared.extend(repositories)

    def read_repository(self, repository: str) -> RepositoryState:
        self.reads += 1
        if repository not in self.repos:
            raise NotFound(repository)
        return self.repos[repository]

    def read_layers(self, repository: str, digest: str) -> Sequence[tuple[str, int]]:
        return self.layers.get(digest, [])

    def delete_manifest(self, repository: str, digest: str) -> None:
        pending = self.failures.get(digest)
        if pending:
            raise pending.pop(0)
        state = self.repos[repository]
        if digest not in {m.digest for m in state.manifests}:
            raise NotFound(digest)
        self.deletes.append(name_of(digest))
        self.repos[repository] = replace(
            state,
            manifests=tuple(m for m in state.manifests if m.digest != digest),
            tags=tuple(t for t in state.tags if t.digest != digest),
        )

    def unlock_manifest(self, repository: str, digest: str) -> None:
        raise AssertionError("no unlocks expected")

    def unlock_tag(self, repository: str, tag: str) -> None:
        raise AssertionError("no unlocks expected")


class FakeQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, body: str) -> None:
        self.bodies.append(body)


def filler(prefix: str, count: int = 10) -> list[Any]:
    return [manifest(f"{prefix}-keep-{i}", tags=[f"v{i}"], age=1) for i in range(count)]


def standard_registry() -> FakeRegistry:
    return FakeRegistry(
        repository(manifest("a-old", tags=["ci-1"], age=90), manifest("a-run", tags=["ci-2"], age=90),
                   *filler("a"), name="alpha"),
        repository(manifest("b-old", tags=["ci-1"], age=90), manifest("b-junk", age=90), *filler("b"),
                   name="beta"),
        repository(manifest("c-young", tags=["ci-1"], age=5), *filler("c"), name="gamma"),
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.db")


def make_service(
    store: SqliteStateStore,
    registry: FakeRegistry,
    *,
    clusters: FakeClusters | None = None,
    directory: FakeDirectory | None = None,
    policy: str = POLICY,
    dry_run: bool = False,
    batch_size: int = 2,
    budget: int = 200,
    queue: FakeQueue | None = None,
) -> PurgeService:
    return PurgeService(
        directory=directory or FakeDirectory(),
        clusters=clusters or FakeClusters({"aks-prod": [f"{LOGIN}/alpha:ci-2"]}),
        registries=lambda ref: registry,
        store=store,
        execution=ExecutionPolicy(dry_run=dry_run, max_concurrency=4, max_attempts=4, backoff_s=0),
        config=PurgeConfig(
            policy=policy, batch_size=batch_size, default_max_deletes=budget, read_concurrency=2
        ),
        queue=queue or FakeQueue(),
        now=lambda: NOW,
    )


def run_all(service: PurgeService) -> list[Any]:
    assert isinstance(service.queue, FakeQueue)
    results = []
    for body in service.queue.bodies:
        results.append(service.process_batch(parse_batch_message(body)))
    return results


def run_summaries(store: SqliteStateStore) -> list[Any]:
    return [r for r in store.query_audit(capability="purge", limit=1000) if r.kind == "run_summary"]


def test_schedule_enqueues_batches_and_stores_in_use_once(store: SqliteStateStore) -> None:
    clusters = FakeClusters({"aks-prod": [f"{LOGIN}/alpha:ci-2"]})
    service = make_service(store, standard_registry(), clusters=clusters)
    result = service.schedule()
    assert result.status == "scheduled" and result.batches == 2 and result.repositories == 3
    messages = [json.loads(b) for b in service.queue.bodies]  # type: ignore[union-attr]
    assert [m["repositories"] for m in messages] == [["alpha", "beta"], ["gamma"]]
    assert messages[0]["registry"] == {"name": "reg", "loginServer": LOGIN, "sku": "Premium"}
    assert clusters.reads == 1
    run = store.get_record(RUNS, result.run)
    assert run is not None and run.value["batches"] == 2 and run.value["budget"] == 200
    parts = store.list_records(IN_USE, prefix=f"{result.run}/reg/")
    assert parts and parts[0].value["tags"] == {"alpha:ci-2": "aks-prod/default/deployment/web"}
    run_all(service)
    assert clusters.reads == 1  # batches read the stored in-use set, not the clusters


def test_overlapping_schedule_is_skipped(store: SqliteStateStore) -> None:
    service = make_service(store, standard_registry())
    held = store.acquire_lease(LEASE, holder="other", duration=timedelta(minutes=30), now=NOW)
    assert held is not None
    assert service.schedule().status == "skipped"
    assert service.queue.bodies == []  # type: ignore[union-attr]


def test_batches_delete_the_right_manifests_and_audit_each_once(store: SqliteStateStore) -> None:
    registry = standard_registry()
    service = make_service(store, registry)
    service.schedule()
    results = run_all(service)
    assert sorted(registry.deletes) == ["a-old", "b-junk", "b-old"]
    assert [r.status for r in results] == ["done", "done"]
    audits = [r for r in store.query_audit(capability="purge", limit=1000) if r.kind == "delete_manifest"]
    assert sorted(name_of(a.detail["params"]["digest"]) for a in audits) == ["a-old", "b-junk", "b-old"]
    (summary,) = run_summaries(store)
    assert summary.detail["manifests_deleted"] == 3 and summary.detail["tags_deleted"] == 2
    assert summary.detail["protected_by_reason"] == {"in-use": 1}
    assert summary.status == "applied"


def test_replayed_message_does_nothing(store: SqliteStateStore) -> None:
    registry = standard_registry()
    service = make_service(store, registry)
    service.schedule()
    run_all(service)
    reads = registry.reads
    again = run_all(service)
    assert [r.status for r in again] == ["already_done", "already_done"]
    assert registry.reads == reads and len(registry.deletes) == 3
    assert len(run_summaries(store)) == 1


def test_rerun_after_a_crash_deletes_and_records_nothing_twice(store: SqliteStateStore) -> None:
    registry = standard_registry()
    service = make_service(store, registry)
    service.schedule()
    first = parse_batch_message(service.queue.bodies[0])  # type: ignore[union-attr]
    service.process_batch(first)
    store.delete_record(BATCHES, first.key)  # as if the host died before recording the batch
    result = service.process_batch(first)
    assert result.status == "done"
    assert sorted(registry.deletes) == ["a-old", "b-junk", "b-old"]
    audits = [r for r in store.query_audit(capability="purge", limit=1000) if r.kind == "delete_manifest"]
    assert len(audits) == 3


def test_transient_errors_are_retried_and_the_batch_converges(store: SqliteStateStore) -> None:
    registry = standard_registry()
    registry.failures[digest("a-old")] = [TransientError("429", retry_after=0)] * 2
    registry.failures[digest("b-old")] = [TransientError("503", retry_after=0)] * 9
    service = make_service(store, registry)
    service.schedule()
    first = parse_batch_message(service.queue.bodies[0])  # type: ignore[union-attr]
    with pytest.raises(TransientError):
        service.process_batch(first)  # b-old gives up after 4 attempts: the queue redelivers
    assert store.get_record(BATCHES, first.key) is None
    registry.failures.clear()
    assert service.process_batch(first).status == "done"
    assert sorted(registry.deletes) == ["a-old", "b-junk", "b-old"]


def test_budget_is_shared_across_batches(store: SqliteStateStore) -> None:
    registry = standard_registry()
    service = make_service(store, registry, budget=2)
    result = service.schedule()
    run_all(service)
    assert len(registry.deletes) == 2
    run = store.get_record(RUNS, result.run)
    assert run is not None and run.value["remaining"] == 0
    (summary,) = run_summaries(store)
    assert summary.detail["protected_by_reason"].get("cap") == 1


def test_failed_parent_delete_stops_its_children(store: SqliteStateStore) -> None:
    registry = FakeRegistry(
        repository(manifest("idx", tags=["ci-1"], age=90, children=["c1"]), manifest("c1", age=90),
                   manifest("img", tags=["ci-2"], age=90), manifest("sig", subject="img", age=90),
                   *filler("x"), name="alpha"),
    )  # fmt: skip
    registry.failures[digest("idx")] = [PermanentError("405 locked by a geo-replica race")]
    service = make_service(store, registry, clusters=FakeClusters())
    result = service.run_inline()
    assert sorted(registry.deletes) == ["img", "sig"]
    statuses = {name_of(o.action.params["digest"]): (o.status, o.detail) for o in result.outcomes}
    assert statuses["c1"][0] is Status.FAILED and "was not deleted" in statuses["c1"][1]
    assert result.summary["failed"] == 2


@pytest.mark.parametrize("how", ["unreachable", "stopped"])
def test_unreadable_cluster_stops_deletes(store: SqliteStateStore, how: str) -> None:
    registry = standard_registry()
    stopped = ClusterRef("aks-dev", "rg", "sub", power_state="Stopped" if how == "stopped" else "Running")
    directory = FakeDirectory([ClusterRef("aks-prod", "rg", "sub"), stopped])
    service = make_service(store, registry, directory=directory, clusters=FakeClusters(broken={"aks-dev"}))
    result = service.run_inline()
    assert registry.deletes == []
    assert result.plan is not None and any("aks-dev could not be read" in n for n in result.plan.notes)
    assert result.summary["protected_by_reason"] == {"in-use-unknown": 4}


def test_bytes_reclaimed_count_only_blobs_nothing_kept_uses(store: SqliteStateStore) -> None:
    registry = FakeRegistry(
        repository(manifest("old", tags=["ci-1"], age=90), manifest("new", tags=["v2"], age=1), *filler("x"),
                   name="alpha"),
    )  # fmt: skip
    registry.layers[digest("old")] = [("sha256:base", 1000), ("sha256:old-app", 300), ("sha256:old-cfg", 7)]
    registry.layers[digest("new")] = [("sha256:base", 1000), ("sha256:new-app", 400)]
    service = make_service(store, registry, clusters=FakeClusters())
    assert service.run_inline().summary["bytes_reclaimed"] == 307


def test_dry_run_deletes_nothing_with_the_same_summary_shape(store: SqliteStateStore) -> None:
    dry_registry, real_registry = standard_registry(), standard_registry()
    dry = make_service(store, dry_registry, dry_run=True).run_inline()
    real = make_service(SqliteStateStore(":memory:"), real_registry).run_inline()
    assert dry_registry.deletes == [] and len(real_registry.deletes) == 3
    assert dry.summary.keys() == real.summary.keys()
    assert {k: v for k, v in dry.summary.items() if k != "dry_run"} == {
        k: v for k, v in real.summary.items() if k != "dry_run"
    }
    assert dry.summary["dry_run"] is True and real.summary["dry_run"] is False
    (summary,) = run_summaries(store)
    assert summary.status == "dry_run"


def test_invalid_policy_fails_before_anything_is_read(store: SqliteStateStore) -> None:
    registry = standard_registry()
    directory = FakeDirectory()
    bad = "purge:\n  rules:\n    - name: nightly\n      repository: x\n      olderThan: 30 dayz\n"
    service = make_service(store, registry, directory=directory, policy=bad)
    for call in (service.schedule, service.run_inline):
        expected = r'purge\.rules\[0\]\.olderThan: "30 dayz" .*\(rule "nightly"\)'
        with pytest.raises(ConfigError, match=expected):
            call()
    assert directory.calls == 0 and registry.reads == 0 and registry.deletes == []


def test_unknown_run_is_invalid_input(store: SqliteStateStore) -> None:
    from ops.errors import InvalidInput

    service = make_service(store, standard_registry())
    message = parse_batch_message(
        {"run": "nope", "batch": 0, "registry": {"name": "reg", "loginServer": LOGIN}, "repositories": ["a"]}
    )
    with pytest.raises(InvalidInput, match="run"):
        service.process_batch(message)


def test_inline_run_filters_by_registry(store: SqliteStateStore) -> None:
    from ops.errors import InvalidInput

    service = make_service(store, standard_registry())
    with pytest.raises(InvalidInput, match="--registry"):
        service.run_inline(registry="nope")
    assert service.run_inline(registry="reg").summary["manifests_deleted"] == 3
