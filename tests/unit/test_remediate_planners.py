"""Remediation planners and their arithmetic, as pure functions with parametrized tables.

Cases:
- port math: max nodes = 64,000 x IPs / ports, the AKS docs' examples (1,000 ports x 2
  IPs → 128 nodes; 4,000 x 7 → 112) and AKS's refusal example (8,000 ports x 9 nodes
  with 1 IP); the default (dynamic) tiers at every boundary; rounding to 8;
- subnet math: flat Azure CNI (maxPods + 1 per node) and overlay (1), pools at
  maxCount + surge (counted and percentage surge); VM sizes → quota family and vCPUs;
- plan_snat: dynamic → explicit ports; ports + IPs together when validation needs them;
  explicit → raised ports; capped at the IP ceiling; refused at the ceiling; NAT gateway
  adds an IP, refused at its ceiling; unsupported outbound types and custom IPs; the
  condition cleared; cooldown, daily cap, scope and busy guards; the idle timeout is
  only recommended;
- plan_max_count: raises by step; cut by the subnet, refused by the subnet; refused by
  quota (family and regional total); cut by the day's node and vCPU budget; the SNAT
  port budget adds IPs in the same change, or refuses; System pools protected unless
  allowed; not confirmed without the autoscaler's word; nothing at max;
- property: whatever the cluster, a planned change passes AKS's ports and subnet rules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.remediate.autoscaler import plan_max_count
from ops.remediate.capacity import (
    dynamic_ports,
    ips_per_node,
    max_nodes_for_ports,
    ports_fit,
    round_ports,
    subnet_demand,
    validated_nodes,
    vm_size,
)
from ops.remediate.clusters import (
    AutoscalerSignal,
    ObservedCluster,
    Outbound,
    Pool,
    QuotaUsage,
    SnatSignal,
    SubnetUsage,
)
from ops.remediate.guards import History
from ops.remediate.policy import load_policy
from ops.remediate.snat import plan_snat

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
SUBNET = "/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/aks"
POLICY = load_policy({"remediate": {}})


def cluster(
    *, outbound: Outbound | None = None, pools: tuple[Pool, ...] | None = None, **kw: object
) -> ObservedCluster:
    return ObservedCluster(
        id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
        name="aks",
        location="eastus2",
        subscription="s",
        etag="e1",
        node_resource_group="MC_rg_aks_eastus2",
        provisioning_state=str(kw.get("provisioning_state", "Succeeded")),
        power_state="Running",
        outbound=outbound or Outbound(),
        pools=pools
        or (
            Pool("system", "System", count=1, max_pods=30, vnet_subnet_id=SUBNET),
            Pool(
                "user",
                count=4,
                enable_auto_scaling=True,
                min_count=1,
                max_count=4,
                max_pods=30,
                vnet_subnet_id=SUBNET,
            ),
        ),
    )


def snat_signal(demand: float, allocated: float, nodes: int = 5) -> SnatSignal:
    ips = [f"10.0.0.{i}" for i in range(nodes)]
    return SnatSignal(
        allocated_per_backend=dict.fromkeys(ips, allocated),
        used_per_backend=dict.fromkeys(ips, min(demand, allocated)),
        failed_per_backend=dict.fromkeys(ips, max(0.0, demand - allocated)),
        failed_connections=max(0.0, demand - allocated) * nodes,
    )


# -- arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "ips", "nodes", "source"),
    [
        (1000, 2, 128, "configure-load-balancer-standard.md: 1,000 ports x 2 IPs supports 128 nodes"),
        (4000, 7, 112, "configure-load-balancer-standard.md: 4,000 ports x 7 IPs supports 112 nodes"),
        (64000, 1, 1, "one IP's 64,000 ports all to one node"),
        (1024, 1, 62, "the default tier's 1,024 ports on one IP"),
    ],
)
def test_max_nodes_for_ports(ports: int, ips: int, nodes: int, source: str) -> None:
    assert max_nodes_for_ports(ports, ips) == nodes, source


@pytest.mark.parametrize(
    ("ports", "ips", "counts", "fits"),
    [
        (8000, 1, [(1, None), (7, None)], False),  # AKS: "Total node count 9 requires 72000 ports ... 1 IPs"
        (8000, 2, [(1, None), (7, None)], True),
        (1000, 2, [(127, None)], True),  # 128 nodes with surge: the doc's limit exactly
        (1000, 2, [(128, None)], False),
        (0, 1, [(999, None)], True),  # dynamic ports are never refused
        (4000, 7, [(100, "10%")], True),  # 100 + 10 surge = 110 ≤ 112
        (4000, 7, [(100, "20%")], False),
    ],
)
def test_ports_validation_counts_max_and_surge(
    ports: int, ips: int, counts: list[tuple[int, str | None]], fits: bool
) -> None:
    pools = [Pool(f"p{i}", count=n, max_surge=surge) for i, (n, surge) in enumerate(counts)]
    assert ports_fit(ports, ips, pools) is fits


@pytest.mark.parametrize(
    ("backends", "ports"),
    [
        (1, 1024),
        (50, 1024),
        (51, 512),
        (100, 512),
        (101, 256),
        (200, 256),
        (201, 128),
        (400, 128),
        (401, 64),
        (800, 64),
        (801, 32),
        (1000, 32),
    ],
)
def test_dynamic_tiers(backends: int, ports: int) -> None:
    assert dynamic_ports(backends) == ports


@pytest.mark.parametrize(("wanted", "rounded"), [(1, 8), (8, 8), (1001, 1008), (70_000, 64_000)])
def test_round_ports(wanted: float, rounded: int) -> None:
    assert round_ports(wanted) == rounded


@pytest.mark.parametrize(
    ("plugin_mode", "pool", "demand", "source"),
    [
        (None, Pool("u", count=3, max_pods=30), (3 + 1) * 31, "flat CNI: (nodes + surge) x (maxPods + 1)"),
        ("overlay", Pool("u", count=3, max_pods=30), 3 + 1, "overlay: node IPs only"),
        (
            None,
            Pool("u", count=2, enable_auto_scaling=True, min_count=1, max_count=5, max_pods=110),
            6 * 111,
            "autoscaled pools count at maxCount",
        ),
        (None, Pool("u", count=10, max_pods=30, max_surge="50%"), 15 * 31, "percentage surge rounds up"),
    ],
)
def test_subnet_demand(plugin_mode: str | None, pool: Pool, demand: int, source: str) -> None:
    outbound = Outbound(network_plugin_mode=plugin_mode)
    assert subnet_demand(outbound, [pool]) == demand, source
    assert ips_per_node(outbound, pool) == (1 if plugin_mode else pool.max_pods + 1)


@pytest.mark.parametrize(
    ("name", "family", "vcpus"),
    [
        ("Standard_D4s_v5", "standardDSv5Family", 4),
        ("Standard_D8ds_v5", "standardDDSv5Family", 8),
        ("Standard_B2s", "standardBSFamily", 2),
        ("Standard_D4as_v5", "standardDASv5Family", 4),
        ("Standard_E16s_v3", "standardESv3Family", 16),
    ],
)
def test_vm_sizes(name: str, family: str, vcpus: int) -> None:
    size = vm_size(name)
    assert size is not None and (size.family, size.vcpus) == (family, vcpus)


# -- plan_snat --------------------------------------------------------------------------------------


def _only(plan: object) -> dict[str, object]:
    actions = plan.actions  # type: ignore[attr-defined]
    assert len(actions) == 1, plan
    return dict(actions[0].params)


def _refusal(plan: object) -> str:
    assert not plan.actions, plan  # type: ignore[attr-defined]
    return str(plan.protected[0].reason)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("outbound", "demand", "ports", "ips", "text"),
    [
        (Outbound(), 1500, 1880, 1, "set explicit ports 1880"),  # 1,500 x 1.25 → 1,880; 7 x 1,880 ≤ 64,000
        (Outbound(), 8000, 10000, 2, "add outbound IPs 1 → 2"),  # 10,000 x 7 = 70,000 needs 2 IPs
        (Outbound(allocated_outbound_ports=2000), 2600, 3256, 1, "raise allocatedOutboundPorts 2000 → 3256"),
        # 16,000 x 7 nodes (user 4+1, system 1+1) = 112,000 ports: 2 IPs
        (Outbound(allocated_outbound_ports=8000), 14000, 16000, 2, "add outbound IPs 1 → 2"),
    ],
)
def test_snat_plans(outbound: Outbound, demand: float, ports: int, ips: int, text: str) -> None:
    current = outbound.allocated_outbound_ports or 1024
    plan = plan_snat(cluster(outbound=outbound), snat_signal(demand, current), History(), POLICY, NOW)
    params = _only(plan)
    assert (params["allocatedOutboundPorts"], params["managedOutboundIPs"], params["etag"]) == (
        ports,
        ips,
        "e1",
    )
    assert text in plan.actions[0].reason
    assert ports_fit(ports, ips, cluster().pools)


def test_snat_capped_by_ip_ceiling_and_refused_at_it() -> None:
    policy = load_policy({"remediate": {"snat": {"maxOutboundIPs": 2, "maxPortsPerNode": 30000}}})
    plan = plan_snat(cluster(), snat_signal(20000, 1024), History(), policy, NOW)
    params = _only(plan)
    assert params["managedOutboundIPs"] == 2 and params["allocatedOutboundPorts"] == 64000 * 2 // 7 // 8 * 8
    assert any(n.startswith("capped:") for n in plan.notes)
    full = Outbound(allocated_outbound_ports=18280, managed_outbound_ips=2)
    assert _refusal(
        plan_snat(cluster(outbound=full), snat_signal(20000, 18280), History(), policy, NOW)
    ).startswith("ceiling:")


@pytest.mark.parametrize(
    ("ips", "max_ips", "attempted", "expected"),
    [(1, 4, 90_000, 2), (1, 4, 300_000, 4), (2, 16, 10_000, 3), (4, 4, 300_000, None)],
)
def test_nat_gateway(ips: int, max_ips: int, attempted: float, expected: int | None) -> None:
    policy = load_policy({"remediate": {"snat": {"maxNatGatewayIPs": max_ips}}})
    outbound = Outbound(outbound_type="managedNATGateway", nat_gateway_ips=ips)
    signal = SnatSignal(failed_connections=10, attempted_connections=attempted)
    plan = plan_snat(cluster(outbound=outbound), signal, History(), policy, NOW)
    if expected is None:
        assert _refusal(plan).startswith("ceiling:")
    else:
        assert _only(plan)["natGatewayIPs"] == expected


@pytest.mark.parametrize(
    ("change", "history", "reason"),
    [
        ({"outbound": Outbound(outbound_type="userDefinedRouting")}, History(), "unsupported:"),
        ({"outbound": Outbound(custom_outbound_ips=True)}, History(), "unsupported:"),
        ({"signal": SnatSignal()}, History(), "condition cleared:"),
        ({}, History(last_change=NOW - timedelta(minutes=10)), "cooldown:"),
        ({}, History(last_change=NOW - timedelta(hours=5), changes_today=3, day="2026-12-03"), "daily cap:"),
        ({"provisioning_state": "Updating"}, History(), "busy:"),
    ],
)
def test_snat_refusals(change: dict[str, object], history: History, reason: str) -> None:
    change = dict(change)  # the parameters are shared by every run of the test in a process
    signal = change.pop("signal", snat_signal(3000, 1024))
    plan = plan_snat(cluster(**change), signal, history, POLICY, NOW)  # type: ignore[arg-type]
    assert _refusal(plan).startswith(reason)


def test_snat_yesterdays_changes_do_not_count_and_scope_is_a_guard() -> None:
    yesterday = History(last_change=NOW - timedelta(days=1), changes_today=3, day="2026-12-02")
    assert _only(plan_snat(cluster(), snat_signal(3000, 1024), yesterday, POLICY, NOW))
    scoped = load_policy({"remediate": {"guards": {"clusters": ["prod-.*"]}}})
    assert _refusal(plan_snat(cluster(), snat_signal(3000, 1024), History(), scoped, NOW)).startswith(
        "out of scope:"
    )


def test_idle_timeout_is_recommended_never_applied() -> None:
    plan = plan_snat(
        cluster(outbound=Outbound(idle_timeout_minutes=30)), snat_signal(3000, 1024), History(), POLICY, NOW
    )
    assert any("idleTimeoutInMinutes 30 → 4" in n and "not applied" in n for n in plan.notes)
    assert "idleTimeoutInMinutes" not in _only(plan)


# -- plan_max_count ----------------------------------------------------------------------------------

SIGNAL = AutoscalerSignal(unschedulable_pods=8, max_size_reached_events=8)
QUOTAS = {
    "standardDSv5Family": QuotaUsage("standardDSv5Family", 400, 100),
    "cores": QuotaUsage("cores", 1000, 100),
}


def _subnets(limit: int, current: int) -> dict[str, SubnetUsage]:
    return {SUBNET.lower(): SubnetUsage(SUBNET, limit, current)}


@pytest.mark.parametrize(
    ("subnets", "quotas", "policy", "max_count", "reason"),
    [
        (_subnets(507, 186), QUOTAS, {}, 6, None),  # /23: room for 2 more flat-CNI nodes of 31 addresses
        (_subnets(251, 226), QUOTAS, {}, None, "subnet:"),  # 25 free < 31: InsufficientSubnetSize
        (_subnets(251, 200), QUOTAS, {}, 5, "subnet:"),  # 51 free: one node, not two
        (
            _subnets(507, 186),
            {**QUOTAS, "standardDSv5Family": QuotaUsage("standardDSv5Family", 100, 98)},
            {},
            None,
            "quota:",
        ),
        (_subnets(507, 186), {**QUOTAS, "cores": QuotaUsage("cores", 100, 96)}, {}, 5, "quota:"),
        (_subnets(507, 186), QUOTAS, {"autoscaler": {"maxNodesAddedPerDay": 1}}, 5, "daily budget:"),
        (_subnets(507, 186), QUOTAS, {"autoscaler": {"maxVcpusAddedPerDay": 3}}, None, "daily budget:"),
        (_subnets(507, 186), QUOTAS, {"autoscaler": {"maxCountCeiling": 4}}, None, "maxCountCeiling"),
    ],
)
def test_max_count_limits(
    subnets: dict[str, SubnetUsage],
    quotas: dict[str, QuotaUsage],
    policy: dict[str, object],
    max_count: int | None,
    reason: str | None,
) -> None:
    plan = plan_max_count(
        cluster(), SIGNAL, subnets, quotas, History(), load_policy({"remediate": policy}), NOW
    )
    if max_count is None:
        assert reason is not None and reason in _refusal(plan)
        return
    params = _only(plan)
    assert (params["pool"], params["maxCount"]) == ("user", max_count)
    if reason is not None:
        assert any(reason in note for note in plan.notes), plan.notes


def test_max_count_adds_ips_for_the_port_budget_or_refuses() -> None:
    # 7,000 ports x (1+1 + 4+1) = 49,000 ≤ 64,000; at maxCount 6: 7,000 x 9 = 63,000 fits; at 8 it would not.
    outbound = Outbound(allocated_outbound_ports=7000, network_plugin_mode="overlay")
    policy = load_policy({"remediate": {"autoscaler": {"step": 4}}})
    plan = plan_max_count(
        cluster(outbound=outbound), SIGNAL, _subnets(507, 10), QUOTAS, History(), policy, NOW
    )
    params = _only(plan)
    assert params["maxCount"] == 8 and params["managedOutboundIPs"] == 2
    raised = [replace(p, max_count=8) if p.name == "user" else p for p in cluster().pools]
    assert ports_fit(7000, 2, raised)
    strict = load_policy({"remediate": {"autoscaler": {"step": 4, "raiseIPsWithMaxCount": False}}})
    cut = plan_max_count(
        cluster(outbound=outbound), SIGNAL, _subnets(507, 10), QUOTAS, History(), strict, NOW
    )
    assert _only(cut)["maxCount"] == 6 and "managedOutboundIPs" not in _only(cut)
    full = Outbound(allocated_outbound_ports=9000, network_plugin_mode="overlay")
    refused = plan_max_count(
        cluster(outbound=full), SIGNAL, _subnets(507, 10), QUOTAS, History(), strict, NOW
    )
    assert _refusal(refused).startswith("snat:")


@pytest.mark.parametrize(
    ("signal", "pools", "policy", "reason"),
    [
        (AutoscalerSignal(), None, {}, "condition cleared:"),
        (AutoscalerSignal(unschedulable_pods=3), None, {}, "not confirmed:"),
        (
            SIGNAL,
            (Pool("system", "System", count=3, enable_auto_scaling=True, min_count=1, max_count=3),),
            {},
            "protected:",
        ),
        (
            SIGNAL,
            (Pool("user", count=2, enable_auto_scaling=True, min_count=1, max_count=4),),
            {},
            "condition cleared:",
        ),
    ],
)
def test_max_count_refusals(
    signal: AutoscalerSignal, pools: tuple[Pool, ...] | None, policy: dict[str, object], reason: str
) -> None:
    plan = plan_max_count(
        cluster(pools=pools),
        signal,
        _subnets(507, 10),
        QUOTAS,
        History(),
        load_policy({"remediate": policy}),
        NOW,
    )
    assert _refusal(plan).startswith(reason)


def test_system_pool_when_allowed() -> None:
    pools = (Pool("system", "System", count=3, enable_auto_scaling=True, min_count=1, max_count=3),)
    policy = load_policy({"remediate": {"autoscaler": {"allowSystemPools": True}}})
    assert (
        _only(plan_max_count(cluster(pools=pools), SIGNAL, {}, QUOTAS, History(), policy, NOW))["maxCount"]
        == 5
    )


# -- property: no plan AKS would reject -----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    ports=st.sampled_from([0, 1024, 2000, 4000, 8000, 16000]),
    ips=st.integers(1, 4),
    user=st.integers(1, 40),
    max_pods=st.sampled_from([30, 50, 110]),
    overlay=st.booleans(),
    free=st.integers(0, 600),
    demand=st.integers(100, 30000),
)
def test_planned_changes_pass_aks_validation(
    ports: int, ips: int, user: int, max_pods: int, overlay: bool, free: int, demand: int
) -> None:
    outbound = Outbound(
        allocated_outbound_ports=ports,
        managed_outbound_ips=ips,
        network_plugin_mode="overlay" if overlay else None,
    )
    pools = (
        Pool("system", "System", count=1, max_pods=max_pods, vnet_subnet_id=SUBNET),
        Pool(
            "user",
            count=user,
            enable_auto_scaling=True,
            min_count=1,
            max_count=user,
            max_pods=max_pods,
            vnet_subnet_id=SUBNET,
        ),
    )
    if not ports_fit(ports, ips, pools):
        return  # not a cluster AKS would have accepted in the first place
    observed = cluster(outbound=outbound, pools=pools)
    scale = plan_max_count(observed, SIGNAL, _subnets(4000, 4000 - free), QUOTAS, History(), POLICY, NOW)
    for action in scale.actions:
        raised = [replace(p, max_count=action.params["maxCount"]) if p.name == "user" else p for p in pools]
        added = subnet_demand(outbound, raised) - subnet_demand(outbound, pools)
        assert added <= free
        assert ports_fit(ports, int(action.params.get("managedOutboundIPs", ips)), raised)
    current = ports or dynamic_ports(user + 1)
    snat = plan_snat(observed, snat_signal(demand, current, user + 1), History(), POLICY, NOW)
    for action in snat.actions:
        assert action.params["allocatedOutboundPorts"] % 8 == 0
        assert ports_fit(action.params["allocatedOutboundPorts"], action.params["managedOutboundIPs"], pools)
    assert validated_nodes(pools) == user + 1 + 2
