"""Benchmark: a burst of 500 action-group alerts against alert_webhook, on many clusters.

An estate of clusters in one subscription: half run out of SNAT ports behind their outbound
load balancer (dynamic ports, one IP, workloads wanting 8,000 ports a node), half have an
autoscaled pool at its maxCount with pods Pending, in subnets with room for two more nodes;
every tenth of those sits in a full subnet instead, so the guardrail must refuse it. The
sandbox runs in its own process (real SDKs, ARM throttling on).

The burst mixes what action groups really send: each cluster's alert (Microsoft's samples,
aimed at the sandbox's resources), the same delivery again (duplicates), new alerts for a
cluster just changed (cooldown), Resolved notifications, and Fired notifications that arrive
after their Resolved (out of order), in two waves: what fires, then, once that is
handled, what resolves (Azure Monitor resolves an alert minutes after it fired). Alerts
are delivered by 8 threads through the same code path as the Functions host (``ops
invoke``), each with a secure-webhook token; a 503 is delivered again, as action groups
do. ``alert_webhook`` answers 202 for an alert it hands to the queue; meanwhile 16 more
threads play the host's queue trigger and deliver each queued message to ``alert_worker``
(a message whose delivery raises is delivered again, five times at most, as with
``maxDequeueCount``).

- ``alerts``: deliveries in the burst (retries not counted);
- ``ack_p99_ms``: the 99th percentile of the webhook's answer time, with the workers busy;
- ``handled_p99_ms``: the 99th percentile, per alert, from its first delivery to the
  answer that settled it: ``alert_worker``'s result for a queued alert (queue wait and
  redeliveries included), the webhook's answer for the others (duplicates, out of
  order, retries included). Goals: ``ack_p99_ms`` ≤ 500, ``handled_p99_ms`` ≤ 2,000.
  The worker is warm, as a Functions worker is after its first invocation: one dry-run
  plan of each kind has imported the SDKs and made the clients (a cold worker pays about
  15 s of imports once, on its first alert);
- ``arm_writes``: managedClusters PUTs in the sandbox's request log; ``arm_writes_needed``:
  one per cluster that needs a change (the guarded ones need none). Goal: equal;
- ``rejected_by_aks``: PUTs AKS refused (400). Goal: 0.

Usage: ``python -m bench.remediate [--quick]``; the last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sandbox.process import start_sandbox_process

SUBSCRIPTION = "00000000-0000-4000-8000-000000000042"
RG = "rg-aks"
REGION = "eastus2"
POLICY = Path(__file__).resolve().parents[1] / "examples" / "remediate-policy.yaml"
WORKERS = int(os.environ.get("BENCH_WORKERS", "8"))
#: Concurrent alert_worker invocations. host.json takes one queue message at a time per
#: instance (batchSize 1), and the Flex Consumption plan adds instances as the queue grows,
#: so a burst is worked by many instances at once; here they are threads of one process.
QUEUE_WORKERS = int(os.environ.get("BENCH_QUEUE_WORKERS", "16"))
MAX_DEQUEUE = 5  # host.json maxDequeueCount


def build_estate(count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The estate and, per cluster, what it is (snat, autoscaler, guarded)."""
    subnets, clusters, kinds = [], [], []
    for n in range(count):
        name = f"aks-{n:03d}"
        subnet = f"s{n:03d}"
        system = {
            "name": "system",
            "mode": "System",
            "count": 1,
            "maxPods": 30,
            "vnetSubnetID": f"vnet/{subnet}",
        }
        if n % 2 == 0:
            kind = "snat"
            subnets.append({"name": subnet, "addressPrefix": f"10.{n // 256}.{n % 256}.0/24"})
            user = {"name": "user", "count": 4, "enableAutoScaling": True, "minCount": 1, "maxCount": 6}
            cluster = {
                "name": name,
                "resourceGroup": RG,
                "networkProfile": {"networkPluginMode": "overlay"},
                "snatPortsWantedPerNode": 8000,
                "agentPools": [system, {**user, "maxPods": 30, "vnetSubnetID": f"vnet/{subnet}"}],
            }
        else:
            kind = "guarded" if n % 10 == 9 else "autoscaler"
            other = 80 if kind == "guarded" else 0
            subnets.append(
                {
                    "name": subnet,
                    "addressPrefix": f"10.{n // 256}.{n % 256}.0/24",
                    "otherUsedAddresses": other,
                }
            )
            user = {"name": "user", "count": 2, "enableAutoScaling": True, "minCount": 1, "maxCount": 2}
            cluster = {
                "name": name,
                "resourceGroup": RG,
                "agentPools": [system, {**user, "maxPods": 30, "vnetSubnetID": f"vnet/{subnet}"}],
                "pods": [
                    {
                        "name": f"job-{i}",
                        "containers": ["mcr.microsoft.com/azuredocs/aks-helloworld:v1"],
                        "phase": "Pending",
                        "reason": "Unschedulable",
                    }
                    for i in range(3)
                ],
            }
        clusters.append(cluster)
        kinds.append({"name": name, "kind": kind})
    estate = {
        "settings": {"lroSeconds": 1, "throttling": True},
        "subscriptions": [
            {
                "id": SUBSCRIPTION,
                "name": "bench",
                "resourceGroups": [{"name": RG, "location": REGION}, {"name": "rg-net", "location": REGION}],
            }
        ],
        "virtualNetworks": [
            {"name": "vnet", "resourceGroup": RG, "addressPrefixes": ["10.0.0.0/8"], "subnets": subnets}
        ],
        "quotas": [{"location": REGION, "name": "standardDSv5Family", "limit": 100_000}],
        "clusters": clusters,
    }
    return estate, kinds


def alert_body(kind: str, cluster: str, alert_id: str, condition: str) -> dict[str, Any]:
    from tests.support.alerts import autoscaler_alert, snat_alert

    if kind == "snat":
        group = f"MC_{RG}_{cluster}_{REGION}"
        lb = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Network/loadBalancers"
        lb += "/kubernetes"
        return snat_alert(lb, alert_id=alert_id, condition=condition)
    return autoscaler_alert(cluster, SUBSCRIPTION, alert_id=alert_id, condition=condition)


Delivery = tuple[str, dict[str, Any]]


def build_burst(kinds: list[dict[str, Any]], total: int, seed: int = 7) -> list[list[list[Delivery]]]:
    """Two waves of units of (delivery key, body), ``total`` deliveries in all. The first wave
    fires: each cluster's alert, the same deliveries again, new alerts for clusters just
    changed. The second resolves: Resolved notifications, and Resolved/Fired pairs that
    arrive out of order (a unit, delivered in that order). In Azure Monitor an alert
    resolves minutes after it fired, when its condition has cleared for whole evaluation
    periods, so the second wave starts once the first is handled. Each wave is shuffled."""
    rng = random.Random(seed)
    fired: list[list[Delivery]] = []
    resolving: list[list[Delivery]] = []
    first = []

    def one(item: dict[str, Any], alert_id: str, condition: str) -> Delivery:
        body = alert_body(item["kind"], item["name"], alert_id, condition)
        return (f"{item['name']}:{alert_id}:{condition}", body)

    for item in kinds:
        alert_id = str(uuid.UUID(int=rng.getrandbits(128)))
        first.append((item, alert_id))
        fired.append([one(item, alert_id, "Fired")])
    count = len(fired)
    while count < total:
        item, alert_id = rng.choice(first)
        roll = rng.random()
        if roll < 0.45:  # the same delivery again
            fired.append([one(item, alert_id, "Fired")])
        elif roll < 0.7:  # a new alert for the same cluster: cooldown, or busy
            fired.append([one(item, str(uuid.UUID(int=rng.getrandbits(128))), "Fired")])
        elif roll < 0.9:  # Resolved
            resolving.append([one(item, alert_id, "Resolved")])
        else:  # out of order: Resolved, then its Fired
            early = str(uuid.UUID(int=rng.getrandbits(128)))
            resolving.append([one(item, early, "Resolved"), one(item, early, "Fired")][: total - count])
            count += len(resolving[-1]) - 1
        count += 1
    rng.shuffle(fired)
    rng.shuffle(resolving)
    return [fired, resolving]


def warm_up(kinds: list[dict[str, Any]]) -> None:
    """What a warm Functions worker has: the SDK modules imported, clients and tokens made. A
    dry run plans one remediation of each kind and changes nothing."""
    from ops.remediate.service import Target
    from ops.services import get_services

    service = get_services().remediate_service(apply=False)
    for kind in ("snat", "autoscaler"):
        name = next(k["name"] for k in kinds if k["kind"] == kind)
        remedy = "snat" if kind == "snat" else "autoscaler"
        service.remediate(Target(remedy, cluster_name=name))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--alerts", type=int, default=500)
    args = parser.parse_args(argv)
    clusters = 20 if args.quick else 60
    estate, kinds = build_estate(clusters)
    needed = sum(1 for k in kinds if k["kind"] != "guarded")
    with tempfile.TemporaryDirectory(prefix="bench-remediate-") as tmp:
        served = start_sandbox_process(estate, Path(tmp))
        try:
            return run(served.env, kinds, args.alerts, needed, Path(tmp))
        finally:
            served.stop()


def run(env: dict[str, str], kinds: list[dict[str, Any]], total: int, needed: int, workdir: Path) -> int:
    from sandbox.cli import call_control, issue_token

    os.environ.update(env)
    os.environ.pop("AzureWebJobsStorage", None)
    os.environ.update(
        {
            "OPS_DRY_RUN": "false",
            "OPS_STATE_PATH": str(workdir / "state.db"),
            "OPS_SUBSCRIPTIONS": SUBSCRIPTION,
            "OPS_REMEDIATE_POLICY": str(POLICY),
        }
    )
    import function_app
    from ops.triggers.invoking import invoke_function

    token = issue_token(env, roles=["ActionGroupsSecureWebhook"], app=True, name="AzNS AAD Webhook")
    warm_up(kinds)
    burst = build_burst(kinds, total)
    acks: list[float] = []
    handled: list[float] = []
    firsts: dict[tuple[str, str], float] = {}  # (alert id, condition) → its first delivery
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def count(label: str) -> None:
        with lock:
            statuses[label] = statuses.get(label, 0) + 1

    def deliver_unit(unit: list[Delivery]) -> None:
        for item in unit:
            deliver(item)

    def deliver(item: Delivery) -> None:
        _, body = item
        request = {
            "method": "POST",
            "url": "http://localhost:7071/api/alerts",
            "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            "body": json.dumps(body),
        }
        essentials = body["data"]["essentials"]
        first = time.perf_counter()
        with lock:
            firsts.setdefault((essentials["alertId"].lower(), essentials["monitorCondition"]), first)
        for _attempt in range(6):  # an action group retries 503 up to five times
            began = time.perf_counter()
            answer = invoke_function(function_app.app, "alert_webhook", request).results[0]
            done = time.perf_counter()
            with lock:
                acks.append((done - began) * 1000)
            if answer["status"] == 202:
                count("accepted")  # settled by alert_worker
                return
            if answer["status"] != 503:
                reply = answer["body"] or {}
                with lock:
                    handled.append((done - first) * 1000)
                count(reply.get("status", str(answer["status"])))
                return
            time.sleep(0.05)
        count("gave-up")

    from ops.purge.localqueue import StoreQueue
    from ops.services import get_services

    stop = threading.Event()
    queue = StoreQueue(get_services().store(), get_services().settings.remediate.queue)
    in_flight: set[str] = set()
    worked: list[float] = []  # alert_worker's own time per message

    def drained() -> bool:
        with lock:
            busy = bool(in_flight)
        return not busy and not queue.receive(max_messages=1)

    def work_queue() -> None:
        """The host's queue trigger: each message to alert_worker, redelivered when it raises."""
        tries: dict[str, int] = {}

        def work(message: Any) -> None:
            began_work = time.perf_counter()
            try:
                result = invoke_function(function_app.app, "alert_worker", message.body).results[0]
            except Exception:
                tries[message.key] = tries.get(message.key, 0) + 1
                if tries[message.key] >= MAX_DEQUEUE:
                    queue.delete(message)  # the host moves it to the poison queue
                    count("worker:poison")
            else:
                queue.delete(message)
                alert = json.loads(message.body)["alert"]["data"]["essentials"]
                finished = time.perf_counter()
                with lock:
                    started = firsts[(alert["alertId"].lower(), alert["monitorCondition"])]
                    handled.append((finished - started) * 1000)
                    worked.append((finished - began_work) * 1000)
                detail = (result.get("detail") or {}).get("status")
                count(f"worker:{result['status']}" + (f":{detail}" if detail else ""))
            finally:
                with lock:
                    in_flight.discard(message.key)

        with ThreadPoolExecutor(max_workers=QUEUE_WORKERS) as pool:
            while True:
                messages = queue.receive(max_messages=64)
                with lock:
                    fresh = [m for m in messages if m.key not in in_flight]
                    in_flight.update(m.key for m in fresh)
                    idle = not in_flight
                for message in fresh:
                    pool.submit(work, message)
                if stop.is_set() and not messages and idle:
                    return
                if not fresh:
                    time.sleep(0.02)  # the host's polling interval, much shortened

    call_control(env, "DELETE", "requests")
    began = time.perf_counter()
    consumer = threading.Thread(target=work_queue, name="alert-worker-host")
    consumer.start()
    fired, resolving = burst
    deliveries = sum(len(unit) for wave in burst for unit in wave)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(deliver_unit, fired))
    while not drained():  # the alerts resolve minutes later in Azure: after the work
        time.sleep(0.05)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(deliver_unit, resolving))
    acked = time.perf_counter() - began
    stop.set()
    consumer.join()
    elapsed = time.perf_counter() - began
    records = call_control(env, "GET", "requests?service=arm", timeout=60)["requests"]
    puts = [r for r in records if r["method"] == "PUT" and "/managedclusters/" in r["path"].lower()]
    rejected = sum(1 for r in puts if r["status"] == 400)
    writes = len(puts)
    print(
        f"{deliveries} alerts on {len(kinds)} clusters: answered in {acked:.1f} s (two waves), "
        f"all handled in {elapsed:.1f} s, with {WORKERS} webhook and {QUEUE_WORKERS} queue threads"
    )
    print(f"answers: {json.dumps(dict(sorted(statuses.items())))}")
    print(
        f"alert_worker per message: p50 {percentile(worked, 0.5):.0f} ms, "
        f"p99 {percentile(worked, 0.99):.0f} ms; webhook answers p50 {percentile(acks, 0.5):.0f} ms"
    )
    print(f"managedClusters PUTs {writes} (needed {needed}), refused by AKS {rejected}")
    print(
        f"RESULT alerts={deliveries} handled_p99_ms={percentile(handled, 0.99):.0f} "
        f"ack_p99_ms={percentile(acks, 0.99):.0f} arm_writes={writes} arm_writes_needed={needed} "
        f"rejected_by_aks={rejected}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
