"""The purge service over fake adapters and a real SQLite StateStore.

Cases: the schedule takes a lease (an overlapping run is skipped), enqueues batches of
repositories, stores the in-use set once per run and records the run; a batch deletes
what the plan says, audits each delete once, and a replayed message does nothing; a
batch re-run after a crash deletes nothing twice; transient errors are retried (and a
batch that gives up raises so the queue redelivers, then converges); the run's delete
budget is shared across batches; a failed parent delete stops its children; an
unreadable or stopped cluster stops deletes; bytes reclaimed come from the listing's
imageSize without a read (an index left out), or, refined, count only blobs nothing kept
references, or are not estimated; a dry run deletes nothing and reports the same summary shape; the run
summary is recorded once, after the last batch; an invalid policy is a ConfigError
before anything is listed; the inline (CLI) run plans every registry at once.

Also: a batch whose run read the clusters longer ago than snapshot_max_age is refused,
recorded (it counts for the run summary, which says why) and acknowledged, and one just
under it proceeds; a queue batch paces its deletes under 1/concurrency of the registry's
write limit, an inline run under all of it; ``run_inline`` that applies takes the purge
lease (refused with a clear message while it is held, released after), refuses while a
scheduled run may still delete, and a plan (dry run) needs neither; a schedule that
applies is skipped while the previous run may still delete; a stopped cluster's
last-known in-use set (kept on every successful read) protects its images, with its age
in the reason, inline and through queued batches, until it is older than
stopped_cluster_max_age; an unreachable running cluster never uses it; the schedule prunes
run records (runs, in-use parts, grants, batches) and last-known sets older than the
retention, and keeps younger ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import ConfigError, Conflict, NotFound, PermanentError, TransientError
from ops.executor import ExecutionPolicy, RateLimit
from ops.plan import Status
from ops.purge import service as purge_service
from ops.purge.images import ImageUse
from ops.purge.inventory import ClusterRef, RegistryRef, RepositoryState
from ops.purge.messages import parse_batch_message
from ops.purge.service import (
    BATCHES,
    GRANTS,
    IN_USE,
    LAST_KNOWN,
    LEASE,
    RUNS,
    PurgeConfig,
    PurgeService,
    new_run_id,
)
from ops.purge.summary import listed_bytes
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
REGISTRY_ID = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg"
REGISTRY = RegistryRef(name="reg", login_server=LOGIN, sku="Premium", id=REGISTRY_ID)


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
        self.layer_reads = 0
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
        self.layer_reads += 1
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

    def read_manifest_flags(self, repository: str, digest: str) -> tuple[bool, bool]:
        state = self.repos.get(repository)
        found = [m for m in state.manifests if m.digest == digest] if state else []
        if not found:
            raise NotFound(digest)
        return found[0].delete_enabled, found[0].write_enabled

    def read_tag_flags(self, repository: str, tag: str) -> tuple[bool, bool]:
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
    clock: Clock | None = None,
    concurrency: int = 1,
    estimate_bytes: bool = True,
    exact_bytes: bool = False,
) -> PurgeService:
    return PurgeService(
        directory=directory or FakeDirectory(),
        clusters=clusters or FakeClusters({"aks-prod": [f"{LOGIN}/alpha:ci-2"]}),
        registries=lambda ref: registry,
        store=store,
        execution=ExecutionPolicy(dry_run=dry_run, max_concurrency=4, max_attempts=4, backoff_s=0),
        config=PurgeConfig(
            policy=policy,
            batch_size=batch_size,
            default_max_deletes=budget,
            read_concurrency=2,
            concurrency=concurrency,
            estimate_bytes=estimate_bytes,
            exact_bytes=exact_bytes,
        ),
        queue=queue or FakeQueue(),
        now=clock or (lambda: NOW),
    )


class Clock:
    """A settable ``now``."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


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
    registry = {"name": "reg", "id": REGISTRY_ID, "loginServer": LOGIN, "sku": "Premium"}
    assert messages[0]["registry"] == registry
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


@pytest.mark.parametrize(
    ("estimate", "exact", "method", "freed", "reads"),
    [
        (True, False, "imageSize", 1307, 0),  # the listing's imageSize: no read at all
        # refined: only the blobs nothing kept uses, from one read per manifest of the repository
        (True, True, "layers", 307, 12),
        (False, True, "layers", 307, 12),
        (False, False, "none", 0, 0),
    ],
)
def test_bytes_reclaimed_from_the_listing_or_refined_from_the_layers(
    store: SqliteStateStore, estimate: bool, exact: bool, method: str, freed: int, reads: int
) -> None:
    registry = FakeRegistry(
        repository(manifest("old", tags=["ci-1"], age=90, size=1307),
                   manifest("new", tags=["v2"], age=1, size=1400), *filler("x"), name="alpha"),
    )  # fmt: skip
    registry.layers[digest("old")] = [("sha256:base", 1000), ("sha256:old-app", 300), ("sha256:old-cfg", 7)]
    registry.layers[digest("new")] = [("sha256:base", 1000), ("sha256:new-app", 400)]
    service = make_service(
        store, registry, clusters=FakeClusters(), estimate_bytes=estimate, exact_bytes=exact
    )
    summary = service.run_inline().summary
    assert (summary["bytes_reclaimed"], summary["bytes_estimate"]) == (freed, method)
    assert registry.layer_reads == reads


def test_the_listing_estimate_leaves_indexes_out() -> None:
    manifests = [
        manifest("a", size=10),
        manifest("b", size=20),
        manifest("idx", children=["a", "b"], size=999),
    ]
    assert listed_bytes(manifests, deleted=[digest("a"), digest("i")]) == 10


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
        {
            "run": "nope",
            "batch": 0,
            "registry": {"name": "reg", "id": REGISTRY_ID, "loginServer": LOGIN},
            "repositories": ["a"],
        }
    )
    with pytest.raises(InvalidInput, match="run"):
        service.process_batch(message)


def test_inline_run_filters_by_registry(store: SqliteStateStore) -> None:
    from ops.errors import InvalidInput

    service = make_service(store, standard_registry())
    with pytest.raises(InvalidInput, match="--registry"):
        service.run_inline(registry="nope")
    assert service.run_inline(registry="reg").summary["manifests_deleted"] == 3


# -- a stale in-use set ---------------------------------------------------------------------


def test_batch_with_a_stale_in_use_set_is_refused_recorded_and_summarised(store: SqliteStateStore) -> None:
    registry = standard_registry()
    clock = Clock()
    service = make_service(store, registry, clock=clock)
    service.schedule()
    clock.advance(timedelta(minutes=29))
    first, second = (parse_batch_message(b) for b in service.queue.bodies)  # type: ignore[union-attr]
    assert service.process_batch(first).status == "done"
    clock.advance(timedelta(minutes=2))  # the run read the clusters 31 minutes ago
    refused = service.process_batch(second)
    assert refused.status == "refused" and "OPS_PURGE_SNAPSHOT_MAX_AGE (30m)" in refused.summary["refused"]
    assert "31m ago" in refused.summary["refused"]
    assert sorted(registry.deletes) == ["a-old", "b-junk", "b-old"]  # all in the first batch
    assert registry.reads == 2  # the refused batch read nothing
    assert service.process_batch(second).status == "already_done"  # acknowledged once, not retried
    (summary,) = run_summaries(store)
    assert summary.detail["refused_batches"] == 1 and summary.detail["refused_repositories"] == 1
    assert "1 batch(es) of 1 repositories refused: the run's in-use set was read 31m ago" in summary.reason


# -- pacing -----------------------------------------------------------------------------------


def test_batches_pace_under_their_share_of_the_write_limit(
    store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[RateLimit] = []
    original = purge_service.apply_plan

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.extend(kwargs["limits"].values())
        return original(*args, **kwargs)

    monkeypatch.setattr(purge_service, "apply_plan", recording)
    service = make_service(store, standard_registry(), concurrency=4)
    service.schedule()
    run_all(service)
    assert seen and {round(limit.per_second * 60) for limit in seen} == {500}  # Premium 2,000 / 4 batches
    seen.clear()
    make_service(SqliteStateStore(":memory:"), standard_registry(), concurrency=4).run_inline()
    assert seen and {round(limit.per_second * 60) for limit in seen} == {2000}  # one run: the whole limit


# -- one applying run at a time ---------------------------------------------------------------


def test_applying_inline_takes_the_purge_lease(store: SqliteStateStore) -> None:
    registry = standard_registry()
    held_during_run: list[bool] = []

    class Watching(FakeClusters):
        def list_image_uses(self, cluster: ClusterRef) -> Iterable[ImageUse]:
            probe = store.acquire_lease(LEASE, holder="probe", duration=timedelta(minutes=1), now=NOW)
            held_during_run.append(probe is None)
            return super().list_image_uses(cluster)

    service = make_service(store, registry, clusters=Watching({"aks-prod": [f"{LOGIN}/alpha:ci-2"]}))
    other = store.acquire_lease(LEASE, holder="purge_schedule", duration=timedelta(minutes=30), now=NOW)
    assert other is not None
    refusal = r"holds the purge lease: held by purge_schedule until 2026-11-26T12:30:00Z \(in 1800s;"
    with pytest.raises(Conflict, match=refusal + r".*plan without --apply"):
        service.run_inline()
    assert registry.deletes == [] and registry.reads == 0
    dry = make_service(store, standard_registry(), dry_run=True).run_inline()  # a plan needs no lease
    assert dry.summary["manifests_deleted"] == 3
    store.release_lease(other)
    assert service.run_inline().summary["manifests_deleted"] == 3
    assert held_during_run == [True]
    assert store.acquire_lease(LEASE, holder="next", duration=timedelta(minutes=1), now=NOW) is not None


def test_applying_runs_wait_for_a_scheduled_run_that_may_still_delete(store: SqliteStateStore) -> None:
    clock = Clock()
    scheduled = make_service(store, standard_registry(), clock=clock)
    assert scheduled.schedule().status == "scheduled"
    inline_registry = standard_registry()
    inline = make_service(store, inline_registry, clock=clock)
    with pytest.raises(Conflict, match=r"purge run\(s\) \S+ may still be deleting"):
        inline.run_inline()
    second = make_service(store, standard_registry(), clock=clock)
    skipped = second.schedule()
    assert skipped.status == "skipped" and "may still be deleting" in skipped.detail
    assert (
        make_service(store, standard_registry(), clock=clock, dry_run=True).schedule().status == "scheduled"
    )
    run_all(scheduled)  # the run finishes: nothing of it can delete any more
    assert inline.run_inline().status == "done" and inline_registry.deletes


def test_an_unfinished_run_stops_blocking_once_its_batches_would_be_refused(store: SqliteStateStore) -> None:
    clock = Clock()
    make_service(store, standard_registry(), clock=clock).schedule()  # its batches never arrive
    clock.advance(timedelta(minutes=31))
    assert make_service(store, standard_registry(), clock=clock).run_inline().status == "done"


# -- stopped clusters --------------------------------------------------------------------------


def two_clusters(dev_power: str) -> FakeDirectory:
    prod = ClusterRef("aks-prod", "rg", "sub", id="/x/aks-prod")
    return FakeDirectory([prod, ClusterRef("aks-dev", "rg", "sub", id="/x/aks-dev", power_state=dev_power)])


DEV_USES = {"aks-prod": [], "aks-dev": [f"{LOGIN}/alpha:ci-1"]}


def read_while_running(store: SqliteStateStore, clock: Clock | None = None) -> None:
    """A dry run while aks-dev runs: reading it keeps its in-use set as its last-known one."""
    make_service(
        store,
        standard_registry(),
        directory=two_clusters("Running"),
        clusters=FakeClusters(DEV_USES),
        dry_run=True,
        clock=clock,
    ).run_inline()


def test_a_stopped_cluster_is_answered_by_its_last_known_set(store: SqliteStateStore) -> None:
    clock = Clock()
    read_while_running(store, clock)
    clock.advance(timedelta(hours=9))
    registry = standard_registry()
    clusters = FakeClusters(DEV_USES, broken={"aks-dev"})
    stopped = make_service(store, registry, directory=two_clusters("Stopped"), clusters=clusters, clock=clock)
    result = stopped.run_inline()
    assert sorted(registry.deletes) == ["a-run", "b-junk", "b-old"]  # a-run: aks-prod no longer runs it
    (guard,) = result.plan.protected  # type: ignore[union-attr]
    assert guard.reason == (
        "protected: in use by aks-dev/default/deployment/web (tag ci-1) "
        "(last seen running 9h ago; cluster stopped)"
    )
    assert clusters.reads == 1  # aks-prod only: a stopped cluster is not called
    assert any("aks-dev is stopped" in note for note in result.plan.notes)  # type: ignore[union-attr]


def test_a_stopped_clusters_set_reaches_queued_batches(store: SqliteStateStore) -> None:
    clock = Clock()
    read_while_running(store, clock)
    clock.advance(timedelta(hours=2))
    registry = standard_registry()
    stopped = two_clusters("Stopped")
    service = make_service(store, registry, directory=stopped, clusters=FakeClusters(DEV_USES), clock=clock)
    assert service.schedule().unreadable == {}
    results = run_all(service)
    assert "a-old" not in registry.deletes and registry.deletes
    reasons = [g.reason for r in results for g in r.plan.protected]
    assert any("(last seen running 2h ago; cluster stopped)" in reason for reason in reasons)


def test_a_stopped_clusters_set_expires(store: SqliteStateStore) -> None:
    clock = Clock()
    read_while_running(store, clock)
    clock.advance(timedelta(days=15))
    registry = standard_registry()
    result = make_service(store, registry, directory=two_clusters("Stopped"), clusters=FakeClusters(DEV_USES),
                          clock=clock).run_inline()  # fmt: skip
    assert registry.deletes == []
    note = next(n for n in result.plan.notes if "aks-dev" in n)  # type: ignore[union-attr]
    assert "last-known in-use set is 15.0d old, over OPS_PURGE_STOPPED_CLUSTER_MAX_AGE (14.0d)" in note


def test_an_unreachable_running_cluster_never_uses_its_last_known_set(store: SqliteStateStore) -> None:
    read_while_running(store)
    registry = standard_registry()
    result = make_service(store, registry, directory=two_clusters("Running"),
                          clusters=FakeClusters(DEV_USES, broken={"aks-dev"})).run_inline()  # fmt: skip
    assert registry.deletes == []
    assert result.summary["protected_by_reason"] == {"in-use-unknown": 4}


# -- pruning --------------------------------------------------------------------------------


def test_schedule_prunes_records_older_than_the_retention(store: SqliteStateStore) -> None:
    old_run, recent_run = new_run_id(NOW - timedelta(days=31)), new_run_id(NOW - timedelta(days=1))
    for run, created in ((old_run, NOW - timedelta(days=31)), (recent_run, NOW - timedelta(days=1))):
        store.put_record(
            RUNS, run, {"created": created.isoformat(), "finished": created.isoformat()}, etag=None
        )
        store.put_record(IN_USE, f"{run}/reg/0000", {"digests": {}, "tags": {}}, etag=None)
        store.put_record(GRANTS, f"{run}/00000", {"granted": 1}, etag=None)
        store.put_record(BATCHES, f"{run}/00000", {"repositories": 1}, etag=None)
    store.put_record(
        LAST_KNOWN, "h/gone-cluster", {"seen": (NOW - timedelta(days=40)).isoformat()}, etag=None
    )
    store.put_record(LAST_KNOWN, "p/gone-cluster/g1/0000", {"host": LOGIN}, etag=None)
    result = make_service(store, standard_registry()).schedule()
    assert result.pruned == 6
    for table in (IN_USE, GRANTS, BATCHES):
        assert [r.key.split("/")[0] for r in store.list_records(table)].count(old_run) == 0
        assert any(r.key.startswith(recent_run) for r in store.list_records(table))
    assert store.get_record(RUNS, old_run) is None and store.get_record(RUNS, recent_run) is not None
    assert [r.key for r in store.list_records(LAST_KNOWN) if "gone-cluster" in r.key] == []
    assert store.list_records(LAST_KNOWN, prefix="h/")  # aks-prod was just read: its set is kept
