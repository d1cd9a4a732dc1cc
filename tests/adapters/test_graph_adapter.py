"""ops.adapters.graph against the sandbox's Resource Graph, through azure-mgmt-resourcegraph.

Cases: one query finds the managed clusters of every subscription in scope, and only
those; with a small page it follows ``$skipToken`` page by page to the last cluster,
in one query's worth of requests (one per page); rows map to the same clusters as an
ARM GET (tags, power state, pools).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.adapters.aks import AksClusters
from ops.adapters.graph import GraphClusters
from ops.config import load_settings
from sandbox.server import SandboxServer
from tests.support.sandbox import app_sandbox

SUB_A = "00000000-0000-4000-8000-00000000000a"
SUB_B = "00000000-0000-4000-8000-00000000000b"
SUB_C = "00000000-0000-4000-8000-00000000000c"


def _cluster(name: str, subscription: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "subscription": subscription, "resourceGroup": "rg", "tags": {"n": name}, **extra}


ESTATE: dict[str, Any] = {
    "subscriptions": [
        {"id": sub, "name": sub[-1], "resourceGroups": [{"name": "rg", "location": "westeurope"}]}
        for sub in (SUB_A, SUB_B, SUB_C)
    ],
    "clusters": [
        *(_cluster(f"aks-a{i}", SUB_A) for i in range(3)),
        *(_cluster(f"aks-b{i}", SUB_B, powerState="Stopped") for i in range(2)),
        _cluster("aks-c0", SUB_C),
    ],
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    in_scope = {"OPS_SUBSCRIPTIONS": f"{SUB_A},{SUB_B}"}  # C is out of scope
    with app_sandbox(ESTATE, tmp_path, monkeypatch, in_scope) as server:
        yield server


def graph_requests(server: SandboxServer) -> int:
    return sum(1 for r in server.world.requests if r.service == "graph")


def test_one_query_across_subscriptions_in_scope(sandbox: SandboxServer) -> None:
    clusters = GraphClusters(load_settings(os.environ)).list_clusters()
    assert [c.name for c in clusters] == ["aks-a0", "aks-a1", "aks-a2", "aks-b0", "aks-b1"]
    assert graph_requests(sandbox) == 1


def test_small_pages_follow_the_skip_token_to_the_end(sandbox: SandboxServer) -> None:
    clusters = GraphClusters(load_settings(os.environ), page_size=2).list_clusters()
    assert [c.name for c in clusters] == ["aks-a0", "aks-a1", "aks-a2", "aks-b0", "aks-b1"]
    assert graph_requests(sandbox) == 3  # pages of 2, 2 and 1


def test_rows_match_arm(sandbox: SandboxServer) -> None:
    settings = load_settings(os.environ)
    from_graph = {c.name: c for c in GraphClusters(settings).list_clusters()}
    for name in ("aks-a1", "aks-b0"):
        from_arm = AksClusters(settings).get_cluster(from_graph[name].id)
        assert from_graph[name] == from_arm
    assert from_graph["aks-b0"].power_state == "Stopped"
    assert from_graph["aks-a1"].tags == {"n": "aks-a1"}
