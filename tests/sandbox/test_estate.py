"""Estate files: loading, validation with field paths, generated content, dump/load.

Cases:
- the demo estate loads and has what the capabilities need (a Premium registry with a
  geo-replication, a multi-arch index, a signed image with a signature and an SBOM,
  a Critical CVE, dev/staging/prod clusters, a digest-pinned pod, a scaled-to-zero
  deployment, an Unschedulable pod, role assignments);
- the complete example in docs/estate.md loads;
- manifest digests are the sha256 of real OCI content with the right media types;
  index children and referrer subjects point at real manifests;
- relative ages are relative to the load time; absolute times are kept;
- invalid estates fail with every problem named by its field path (table);
- dump → load → dump is a fixpoint, for the demo and for an estate changed after
  load (a deleted tag still running in a pod, a pushed manifest with its own bytes);
- generators are deterministic and produce the requested counts; a 10% slice of the
  benchmark estate loads quickly.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.estate import DEMO_ESTATE, EstateError, dump_estate, load_estate
from sandbox.estate import manifests as oci
from sandbox.world import Manifest
from tests.support.sandbox import minimal_estate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "estate.md"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_demo_estate_has_what_the_capabilities_need() -> None:
    world = load_estate(DEMO_ESTATE)

    prod = world.registries["contosoprod"]
    assert prod.sku == "Premium"
    assert {r.location for r in prod.replications.values()} == {"eastus2", "westeurope"}
    base = prod.repositories["platform/base"]
    index = base.manifests[base.tags["3.19"].digest]
    assert index.media_type == oci.OCI_INDEX and len(index.children) == 2
    frontend = prod.repositories["web/frontend"]
    signed = frontend.tags["v2.0.0"].digest
    referrers = {m.artifact_type for m in frontend.manifests.values() if m.subject == signed}
    assert referrers == {oci.NOTATION_SIGNATURE, "application/spdx+json"}
    assert any(f.severity == "Critical" and f.fix_status == "FixAvailable" for f in world.findings)
    assert {c.name: c.tags.get("environment") for c in world.clusters.values()} == {
        "aks-dev": "dev",
        "aks-staging": "staging",
        "aks-prod": "prod",
        "aks-batch": None,  # remediation's clusters: no schedule selects them
        "aks-ci": None,
    }
    for name, pool in (("aks-batch", "batch"), ("aks-ci", "runners")):
        cluster = world.clusters[name]
        assert cluster.agent_pools[pool].count == cluster.agent_pools[pool].max_count
        events = [e for e in cluster.kube.events.values() if e["reason"] == "NotTriggerScaleUp"]
        assert events and "max node group size reached" in events[0]["message"]
        assert cluster.agent_pools[pool].vnet_subnet_id is not None
    api = prod.repositories["payments/api"]
    pinned = api.tags["v1.2.0"].digest
    prod_images = [
        c["image"] for p in world.clusters["aks-prod"].kube.pods.values() for c in p["spec"]["containers"]
    ]
    assert f"contosoprod.azurecr.io/payments/api@{pinned}" in prod_images
    assert (
        world.clusters["aks-dev"].kube.deployments[("payments", "batch-reconciler")]["spec"]["replicas"] == 0
    )
    pending = [
        p for p in world.clusters["aks-staging"].kube.pods.values() if p["status"]["phase"] == "Pending"
    ]
    assert [p["status"]["conditions"][0]["reason"] for p in pending] == ["Unschedulable"]
    assert world.identity.roles and "AKS Schedule Operator" in world.identity.custom_roles


def test_docs_complete_example_loads() -> None:
    text = DOCS.read_text()
    block = text.split("## A complete example", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]

    world = load_estate(yaml.safe_load(block))

    assert set(world.registries) == {"contosoexample"}
    assert len(world.faults) == 2


def test_digests_are_sha256_of_real_oci_content() -> None:
    world = load_estate(DEMO_ESTATE)

    for registry in world.registries.values():
        for repo in registry.repositories.values():
            for digest, manifest in repo.manifests.items():
                assert digest == "sha256:" + hashlib.sha256(manifest.content).hexdigest()
                document = json.loads(manifest.content)
                assert document["schemaVersion"] == 2
                assert document["mediaType"] == manifest.media_type
                for child in manifest.children:
                    assert child in repo.manifests
                    entry = next(e for e in document["manifests"] if e["digest"] == child)
                    assert entry["size"] == len(repo.manifests[child].content)
                    assert entry["platform"]["os"] == "linux"
                if manifest.subject:
                    assert document["subject"]["digest"] == manifest.subject
                    assert document["artifactType"] == manifest.artifact_type
                    assert document["subject"]["size"] == len(repo.manifests[manifest.subject].content)


def test_relative_ages_count_back_from_load_time() -> None:
    estate = minimal_estate()
    manifests = estate["registries"][0]["repositories"][0]["manifests"]
    manifests[0] = {"tags": ["v1"], "age": "40d", "updatedAge": "12h"}
    manifests[1] = {
        "tags": [{"name": "v2", "created": "2024-01-02T03:04:05Z"}],
        "created": "2024-01-01T00:00:00Z",
    }

    repo = load_estate(estate, now=NOW).registries["contosotest"].repositories["payments/api"]

    first = repo.manifests[repo.tags["v1"].digest]
    assert first.created == NOW - timedelta(days=40)
    assert first.updated == NOW - timedelta(hours=12)
    assert repo.tags["v2"].created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert repo.manifests[repo.tags["v2"].digest].created == datetime(2024, 1, 1, tzinfo=UTC)


def _with(path: str, value: Any) -> dict[str, Any]:
    """minimal_estate() with the value at a dotted path (``a.b[0].c``) replaced."""
    estate = minimal_estate()
    parts = re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)
    target: Any = estate
    for key, index in parts[:-1]:
        target = target[int(index)] if index else target[key]
    key, index = parts[-1]
    if index:
        target[int(index)] = value
    else:
        target[key] = value
    return estate


REPO = "registries[0].repositories[0]"
CLUSTER = "clusters[0]"

INVALID = [
    (_with(f"{REPO}.manifests[0].age", "40dayz"), f"{REPO}.manifests[0].age", "not a duration"),
    (_with(f"{REPO}.manifests[0].colour", "red"), f"{REPO}.manifests[0].colour", "unknown field"),
    (_with(f"{REPO}.manifests[1].tags", [7]), f"{REPO}.manifests[1].tags[0]", "valid string"),
    (_with(f"{REPO}.manifests[1].tags", ["v1"]), f"{REPO}.manifests[1].tags", "used twice"),
    (_with("registries[0].resourceGroup", "rg-nope"), "registries[0].resourceGroup", "not a resource group"),
    (_with("registries[0].sku", "Ultra"), "registries[0].sku", "Premium"),
    (
        _with(
            f"{REPO}.manifests[1]",
            {"kind": "artifact", "artifactType": "application/spdx+json", "subject": "v9"},
        ),
        f"{REPO}.manifests[1].subject",
        "not a ref, tag or digest",
    ),
    (
        _with(f"{REPO}.manifests[1]", {"tags": ["v2"], "digest": "sha256:" + "0" * 64}),
        f"{REPO}.manifests[1].digest",
        "is not the digest",
    ),
    (
        _with(f"{CLUSTER}.deployments[0].containers", ["contosotest.azurecr.io/payments/api:v9"]),
        f"{CLUSTER}.deployments[0].containers[0].image",
        "tag 'v9'",
    ),
    (
        _with(f"{CLUSTER}.deployments[0].containers", ["nosuchacr.azurecr.io/payments/api:v1"]),
        f"{CLUSTER}.deployments[0].containers[0].image",
        "registry 'nosuchacr'",
    ),
    (
        _with(f"{CLUSTER}.agentPools[0].count", 0),
        f"{CLUSTER}.agentPools[0]",
        "System pool cannot have count 0",
    ),
    (_with(f"{CLUSTER}.agentPools[1].count", 9), f"{CLUSTER}.agentPools[1]", "not within minCount..maxCount"),
    (
        _with(f"{CLUSTER}.networkProfile", {"loadBalancerProfile": {"allocatedOutboundPorts": 64000}}),
        f"{CLUSTER}.networkProfile.loadBalancerProfile.allocatedOutboundPorts",
        "ports but only 64000 ports are available given 1 outbound public IPs",
    ),
    (
        _with(f"{CLUSTER}.networkProfile", {"loadBalancerProfile": {"allocatedOutboundPorts": 1001}}),
        f"{CLUSTER}.networkProfile.loadBalancerProfile.allocatedOutboundPorts",
        "multiple of 8",
    ),
    (
        _with(
            "identity",
            {
                "roles": [
                    {"role": "AcrDeleet", "scope": "/subscriptions/00000000-0000-4000-8000-000000000001"}
                ]
            },
        ),
        "identity.roles[0].role",
        "unknown role 'AcrDeleet'",
    ),
    (_with("faults", [{"kind": "explode"}]), "faults[0].kind", "expected one of"),
    (_with("subscriptions", []), "subscriptions", "at least 1"),
]


@pytest.mark.parametrize(("estate", "path", "fragment"), INVALID, ids=[case[1] for case in INVALID])
def test_invalid_estates_name_the_field_path(estate: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(EstateError) as failure:
        load_estate(estate)

    matching = [p for p in failure.value.problems if p.startswith(f"{path}: ")]
    assert matching, failure.value.problems
    assert any(fragment in p for p in matching), matching


def test_all_problems_are_reported_at_once() -> None:
    estate = _with(f"{REPO}.manifests[0].age", "soon")
    estate["clusters"][0]["resourceGroup"] = "rg-missing"
    estate["registries"][0]["resourceGroup"] = "rg-missing-too"

    with pytest.raises(EstateError) as failure:
        load_estate(estate)
    assert len(failure.value.problems) == 1  # schema errors come first, alone

    estate = _with("clusters[0].resourceGroup", "rg-missing")
    estate["registries"][0]["resourceGroup"] = "rg-missing-too"
    with pytest.raises(EstateError) as failure:
        load_estate(estate)
    paths = {p.split(":")[0] for p in failure.value.problems}
    assert {"clusters[0].resourceGroup", "registries[0].resourceGroup"} <= paths


def test_yaml_syntax_errors_have_a_line() -> None:
    with pytest.raises(EstateError) as failure:
        load_estate("subscriptions: [\n  - id: x\n")
    assert "line" in failure.value.problems[0]


def test_dump_load_round_trips_the_demo() -> None:
    world = load_estate(DEMO_ESTATE)
    first = dump_estate(world)

    again = load_estate(yaml.safe_load(yaml.safe_dump(first)))

    assert dump_estate(again) == first
    for name, registry in world.registries.items():
        other = again.registries[name]
        for repo_name, repo in registry.repositories.items():
            assert set(other.repositories[repo_name].manifests) == set(repo.manifests)
            assert {t: x.digest for t, x in other.repositories[repo_name].tags.items()} == {
                t: x.digest for t, x in repo.tags.items()
            }
    for name, cluster in world.clusters.items():
        assert again.clusters[name].kube.pods.keys() == cluster.kube.pods.keys()
        for key, pod in cluster.kube.pods.items():
            assert again.clusters[name].kube.pods[key]["status"] == pod["status"]


def test_round_trip_keeps_changes_made_after_load() -> None:
    world = load_estate(minimal_estate())
    repo = world.registries["contosotest"].repositories["payments/api"]
    running = repo.tags.pop("v1").digest  # the running tag was deleted (say, by a purge)
    repo.manifests[running].attrs.delete_enabled = False
    pushed = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
        + b"1" * 64
        + b'","size":7},"layers":[]}'
    )
    digest = oci.digest_of(pushed)
    stamp = datetime(2025, 1, 1, tzinfo=UTC)
    repo.manifests[digest] = Manifest(
        digest, oci.OCI_MANIFEST, pushed, stamp, stamp, config=("sha256:" + "1" * 64, 7)
    )
    world.clusters["aks-test"].tags["owner"] = "me"

    dumped = dump_estate(world)
    again = load_estate(copy.deepcopy(dumped))

    assert dump_estate(again) == dumped
    again_repo = again.registries["contosotest"].repositories["payments/api"]
    assert again_repo.manifests[digest].content == pushed
    assert again_repo.manifests[running].attrs.delete_enabled is False
    pods = again.clusters["aks-test"].kube.pods.values()
    assert {p["status"]["containerStatuses"][0]["imageID"].split("@")[1] for p in pods} == {running}
    assert again.clusters["aks-test"].tags["owner"] == "me"


GENERATED: dict[str, Any] = {
    "subscriptions": [
        {
            "id": "00000000-0000-4000-8000-000000000009",
            "resourceGroups": [{"name": "rg", "location": "eastus2"}],
        }
    ],
    "registries": [
        {
            "name": "benchacr",
            "resourceGroup": "rg",
            "generate": {"repositories": 100, "manifestsPerRepository": 100, "taggedFraction": 0.5},
        }
    ],
    "generate": {
        "clusters": {
            "count": 2,
            "resourceGroup": "rg",
            "pods": 5000,
            "pendingFraction": 0.01,
            "images": {"registry": "benchacr", "byDigestFraction": 0.5},
        }
    },
}


def test_generators_are_deterministic_and_sized() -> None:
    world = load_estate(copy.deepcopy(GENERATED), now=NOW)
    again = load_estate(copy.deepcopy(GENERATED), now=NOW)

    registry = world.registries["benchacr"]
    assert len(registry.repositories) == 100
    assert sum(len(r.manifests) for r in registry.repositories.values()) == 10_000
    assert all(len(r.tags) == 51 for r in registry.repositories.values())  # 50 tagged + latest
    assert set(registry.repositories["gen/app0042"].manifests) == set(
        again.registries["benchacr"].repositories["gen/app0042"].manifests
    )
    pods = [p for c in world.clusters.values() for p in c.kube.pods.values()]
    assert len(pods) == 10_000
    assert sum(p["status"]["phase"] == "Pending" for p in pods) == 100
    pinned = sum("@sha256:" in p["spec"]["containers"][0]["image"] for p in pods)
    assert 3_000 < pinned < 7_000
    # How fast estates load is bench.sandbox's seed_s (goal: the full estate within 15 s),
    # not a wall-clock assertion that fails whenever the machine is busy.


def test_generator_gives_several_tags_per_manifest() -> None:
    world = load_estate(
        {
            "subscriptions": [
                {
                    "id": "00000000-0000-0000-0000-0000000000aa",
                    "name": "s",
                    "resourceGroups": [{"name": "rg", "location": "eastus"}],
                }
            ],
            "registries": [
                {
                    "name": "tagsreg01",
                    "resourceGroup": "rg",
                    "location": "eastus",
                    "generate": {"repositories": 4, "manifestsPerRepository": 10, "tagsPerManifest": 1.5},
                }
            ],
        }
    )
    repos = world.registries["tagsreg01"].repositories.values()
    versioned = [t for r in repos for t in r.tags.values() if t.name != "latest"]
    assert len(versioned) == 4 * 15
    assert all(t.digest in r.manifests for r in repos for t in r.tags.values())
    assert any(t.name.endswith("-build1") for t in versioned)
