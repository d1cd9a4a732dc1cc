"""Purge inputs and records: image references, the in-use index, queue messages, summaries.

Cases: image references in every form Kubernetes shows them (tag, digest, both, implicit
latest and Docker Hub, registry ports, runtime ``imageID`` schemes, bare image IDs); the
in-use index keeps only our registries, the first user, and survives being split into
bounded parts and joined; merging per-cluster indexes; a queue message round-trips and a
malformed one is InvalidInput naming the field (a missing or malformed registry id or login
server, repository names outside the OCI grammar such as ``../../v2/_catalog``, upper case,
empty components, 256 or 40,000 characters, a lone surrogate, more than 500 of them, a body
over 48 KiB, nesting 5,000 or 100,000 deep); reclaimed bytes count blobs only the
deleted manifests used; batch summaries merge into a run summary, refused batches counted
with their reasons; the local work queue (SQLite) is first in, first out; a cluster's
last-known in-use set round-trips through the store, a newer one replaces the older
(whose parts are deleted), and it is refused when it does not cover every registry in
scope, is incomplete, or is too old; run ids carry their start time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.errors import InvalidInput
from ops.purge.images import (
    ImageRef,
    ImageUse,
    InUseIndex,
    build_in_use,
    join_parts,
    merge_in_use,
    parse_image,
    split_parts,
)
from ops.purge.inventory import ClusterRef
from ops.purge.localqueue import StoreQueue
from ops.purge.messages import parse_batch_message
from ops.purge.records import (
    LAST_KNOWN,
    LastKnown,
    load_last_known,
    new_run_id,
    run_started,
    save_last_known,
)
from ops.purge.summary import merge_summaries, reclaimed_bytes, refused_summary
from ops.state.sqlite import SqliteStateStore

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("myreg.azurecr.io/team/api:1.4", ImageRef("myreg.azurecr.io", "team/api", "1.4")),
        (f"myreg.azurecr.io/team/api@{D}", ImageRef("myreg.azurecr.io", "team/api", None, D)),
        (f"MyReg.azurecr.io/api:v1@{D}", ImageRef("myreg.azurecr.io", "api", "v1", D)),
        ("myreg.azurecr.io/api", ImageRef("myreg.azurecr.io", "api", "latest")),
        ("127.0.0.1:5000/team/api:v2", ImageRef("127.0.0.1:5000", "team/api", "v2")),
        ("localhost/api", ImageRef("localhost", "api", "latest")),
        ("nginx:1.25", ImageRef("docker.io", "nginx", "1.25")),
        ("library/nginx", ImageRef("docker.io", "library/nginx", "latest")),
        (f"docker-pullable://myreg.azurecr.io/api@{D}", ImageRef("myreg.azurecr.io", "api", None, D)),
        (f"containerd://myreg.azurecr.io/api@{D}", ImageRef("myreg.azurecr.io", "api", None, D)),
        (D, None),
        ("", None),
    ],
)
def test_parse_image(text: str, expected: ImageRef | None) -> None:
    assert parse_image(text) == expected


def test_in_use_index_keeps_our_registries_and_the_first_user() -> None:
    index = build_in_use(
        [
            ImageUse("myreg.azurecr.io/api:v1", "c1/ns/pod/a"),
            ImageUse("myreg.azurecr.io/api:v1", "c1/ns/pod/b"),
            ImageUse(f"myreg.azurecr.io/api@{D}", "c1/ns/deployment/d"),
            ImageUse("other.azurecr.io/api:v1", "c1/ns/pod/x"),
        ],
        hosts=["MyReg.azurecr.io"],
    )
    ours = index.for_host("myreg.azurecr.io")
    assert ours.tag_user("api", "v1") == "c1/ns/pod/a"
    assert ours.digest_user("api", D) == "c1/ns/deployment/d"
    assert len(index.for_host("other.azurecr.io")) == 0


def test_in_use_parts_are_bounded_and_join_back() -> None:
    uses = [ImageUse(f"r.io/app{i}:v{i}", f"c/n/pod/p{i}") for i in range(25)]
    uses += [ImageUse(f"r.io/app{i}@sha256:{i:064d}", f"c/n/pod/q{i}") for i in range(10)]
    whole = build_in_use(uses, hosts=["r.io"]).for_host("r.io")
    parts = split_parts(whole, max_entries=8)
    assert len(parts) == 5 and all(len(p["digests"]) + len(p["tags"]) <= 8 for p in parts)
    joined = join_parts(parts)
    assert joined.digests == whole.digests and joined.tags == whole.tags
    assert split_parts(build_in_use([], hosts=["r.io"]).for_host("r.io")) == [{"digests": {}, "tags": {}}]


def test_merging_cluster_indexes() -> None:
    first = build_in_use([ImageUse("r.io/a:1", "c1/n/pod/x")], hosts=["r.io"])
    second = build_in_use(
        [ImageUse("r.io/a:1", "c2/n/pod/y"), ImageUse("r.io/b:2", "c2/n/pod/z")], hosts=["r.io"]
    )
    merge_in_use(first, second)
    merge_in_use(first, InUseIndex(unreadable={"c3": "stopped"}))
    assert first.for_host("r.io").tags == {"a:1": "c1/n/pod/x", "b:2": "c2/n/pod/z"}
    assert first.unreadable == {"c3": "stopped"}


def test_batch_message_round_trips() -> None:
    body = '{"run": "20261126T030000Z-ab12cd34", "batch": 3, "registry": {"name": "reg", "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/reg", "loginServer": "reg.azurecr.io", "sku": "Standard"}, "repositories": ["a", "b/c"]}'  # noqa: E501
    message = parse_batch_message(body)
    assert message.key == "20261126T030000Z-ab12cd34/00003"
    assert message.registry_ref.sku == "Standard"
    assert parse_batch_message(message.to_json()) == message
    assert parse_batch_message(body.encode()) == message


REGISTRY_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/x"
GOOD = {
    "run": "r",
    "batch": 0,
    "registry": {"name": "x", "id": REGISTRY_ID, "loginServer": "y"},
    "repositories": ["a"],
}


def body_with(**changes: object) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("not json", "<root>"),
        ("[1]", "<root>"),
        (body_with(repositories=None), "repositories"),
        (body_with(repositories=[]), "repositories"),
        (body_with(run="r/../x"), "run"),
        (body_with(batch=-1), "batch"),
        (body_with(registry={"name": "x", "id": REGISTRY_ID}), "registry.loginServer"),
        (body_with(registry={"name": "x", "loginServer": "y"}), "registry.id"),
        (body_with(registry={"name": "x", "id": "/subscriptions/s", "loginServer": "y"}), "registry.id"),
        (
            body_with(registry={"name": "x", "id": REGISTRY_ID, "loginServer": "127.0.0.1:1/x"}),
            "registry.loginServer",
        ),
        (body_with(extra=1), "extra"),
        (body_with(repositories=["../../v2/_catalog"]), "repositories[0]"),
        (body_with(repositories=["a", "x" * 40_000]), "repositories[1]"),
        (body_with(repositories=["a", "x" * 60_000]), "<root>"),  # over the message size
        (body_with(repositories=["a", "x" * 256]), "repositories[1]"),
        (body_with(repositories=["Upper/Case"]), "repositories[0]"),
        (body_with(repositories=["a//b"]), "repositories[0]"),
        (body_with(repositories=["a"] * 501), "repositories"),
        (body_with(repositories=["\ud800"]), "repositories[0]"),  # a lone surrogate, escaped
        ("[" * 100_000 + "]" * 100_000, "<root>"),
        ('{"run": ' + "[" * 5000 + "]" * 5000 + "}", "<root>"),
    ],
)
def test_malformed_messages_name_the_field(body: str, path: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_batch_message(body)
    assert info.value.path == path


def test_reclaimed_bytes_count_blobs_only_deleted_manifests_use() -> None:
    layers = {
        "old": [("base", 100), ("old-app", 30), ("cfg-old", 1)],
        "older": [("base", 100), ("older-app", 20), ("old-app", 30)],
        "new": [("base", 100), ("new-app", 40)],
    }
    assert reclaimed_bytes(layers, deleted=["old", "older"], kept=["new"]) == 51
    assert reclaimed_bytes(layers, deleted=["old"], kept=["new", "older"]) == 1
    assert reclaimed_bytes(layers, deleted=["unknown"], kept=[]) == 0


def test_batch_summaries_merge_into_a_run_summary() -> None:
    parts = [
        {"repositories": 2, "manifests_deleted": 3, "tags_deleted": 2, "bytes_reclaimed": 10, "failed": 0,
         "protected_by_reason": {"in-use": 2, "lock": 1}, "dry_run": False},
        {"repositories": 1, "manifests_deleted": 1, "tags_deleted": 1, "bytes_reclaimed": 5, "failed": 1,
         "protected_by_reason": {"in-use": 1}, "dry_run": False},
    ]  # fmt: skip
    merged = merge_summaries(parts)
    assert (
        merged["repositories"] == 3 and merged["manifests_deleted"] == 4 and merged["bytes_reclaimed"] == 15
    )
    assert merged["protected"] == 4 and merged["protected_by_reason"] == {"in-use": 3, "lock": 1}
    assert merged["failed"] == 1 and merged["dry_run"] is False


def test_local_queue_is_first_in_first_out(tmp_path: Path) -> None:
    queue = StoreQueue(SqliteStateStore(tmp_path / "state.db"), "purge-work")
    for body in ("one", "two", "three"):
        queue.send(body)
    received = queue.receive(max_messages=2)
    assert [m.body for m in received] == ["one", "two"]
    for message in received:
        queue.delete(message)
    assert [m.body for m in queue.receive()] == ["three"]


def test_refused_batches_merge_into_the_run_summary() -> None:
    done = {"repositories": 2, "manifests_deleted": 1, "protected_by_reason": {}, "dry_run": False}
    late = refused_summary(3, "the run's in-use set was read 45m ago", dry_run=False)
    merged = merge_summaries([done, late, late])
    assert merged["repositories"] == 2 and merged["manifests_deleted"] == 1
    assert merged["refused_batches"] == 2 and merged["refused_repositories"] == 6
    assert merged["refused"] == ["the run's in-use set was read 45m ago"]
    assert merge_summaries([done])["refused_batches"] == 0


NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
DEV = ClusterRef(
    "aks-dev", "rg-aks", "sub", id="/subscriptions/sub/resourceGroups/rg-aks/providers/x/aks-dev"
)
HOST = "reg.azurecr.io"


def uses(*images: str) -> InUseIndex:
    return build_in_use(
        [ImageUse(f"{HOST}/{image}", f"aks-dev/ns/deployment/d{n}") for n, image in enumerate(images)],
        hosts=[HOST, "other.azurecr.io"],
    )


def test_last_known_set_round_trips_and_a_newer_one_replaces_it(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    save_last_known(store, DEV, uses("a:1", "b:2", "c@" + D), hosts=[HOST], seen=NOW - timedelta(hours=2))
    save_last_known(store, DEV, uses("a:1"), hosts=[HOST], seen=NOW - timedelta(hours=1))
    known = load_last_known(store, DEV, hosts=[HOST], now=NOW, max_age=timedelta(days=14))
    assert isinstance(known, LastKnown) and known.seen == NOW - timedelta(hours=1)
    assert dict(known.registries[HOST].tags) == {"a:1": "aks-dev/ns/deployment/d0"}
    assert known.as_index("aks-dev").last_seen == {"aks-dev": NOW - timedelta(hours=1)}
    parts = [r.key for r in store.list_records(LAST_KNOWN, prefix="p/")]
    assert len(parts) == 1  # the older generation's parts are gone


@pytest.mark.parametrize(
    ("hosts", "max_age", "why"),
    [
        ([HOST, "other.azurecr.io"], timedelta(days=14), "does not cover other.azurecr.io"),
        ([HOST], timedelta(hours=1), "is 2h old, over OPS_PURGE_STOPPED_CLUSTER_MAX_AGE (1h)"),
    ],
    ids=["another-registry", "too-old"],
)
def test_last_known_set_refused(tmp_path: Path, hosts: list[str], max_age: timedelta, why: str) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    assert "was ever recorded" in str(load_last_known(store, DEV, hosts=hosts, now=NOW, max_age=max_age))
    save_last_known(store, DEV, uses("a:1"), hosts=[HOST], seen=NOW - timedelta(hours=2))
    known = load_last_known(store, DEV, hosts=hosts, now=NOW, max_age=max_age)
    assert isinstance(known, str) and why in known


def test_an_incomplete_last_known_set_is_refused(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    save_last_known(store, DEV, uses("a:1"), hosts=[HOST], seen=NOW)
    (part,) = store.list_records(LAST_KNOWN, prefix="p/")
    store.delete_record(LAST_KNOWN, part.key)
    assert load_last_known(store, DEV, hosts=[HOST], now=NOW, max_age=timedelta(days=1)) == (
        "its last-known in-use set is incomplete"
    )


def test_run_ids_carry_their_start_time() -> None:
    run = new_run_id(NOW)
    assert run.startswith("20261126T030000Z-") and run_started(run) == NOW
    assert run_started("not-a-run") is None
