"""Purge inputs and records: image references, the in-use index, queue messages, summaries.

Cases: image references in every form Kubernetes shows them (tag, digest, both, implicit
latest and Docker Hub, registry ports, runtime ``imageID`` schemes, bare image IDs); the
in-use index keeps only our registries, the first user, and survives being split into
bounded parts and joined; merging per-cluster indexes; a queue message round-trips and a
malformed one is InvalidInput naming the field; reclaimed bytes count blobs only the
deleted manifests used; batch summaries merge into a run summary; the local work queue
(SQLite) is first in, first out.
"""

from __future__ import annotations

import json
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
from ops.purge.localqueue import StoreQueue
from ops.purge.messages import parse_batch_message
from ops.purge.summary import merge_summaries, reclaimed_bytes
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
    body = '{"run": "20261126T030000Z-ab12cd34", "batch": 3, "registry": {"name": "reg", "loginServer": "reg.azurecr.io", "sku": "Standard"}, "repositories": ["a", "b/c"]}'  # noqa: E501
    message = parse_batch_message(body)
    assert message.key == "20261126T030000Z-ab12cd34/00003"
    assert message.registry_ref.sku == "Standard"
    assert parse_batch_message(message.to_json()) == message
    assert parse_batch_message(body.encode()) == message


GOOD = {"run": "r", "batch": 0, "registry": {"name": "x", "loginServer": "y"}, "repositories": ["a"]}


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
        (body_with(registry={"name": "x"}), "registry.loginServer"),
        (body_with(extra=1), "extra"),
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
