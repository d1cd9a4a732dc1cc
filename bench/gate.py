"""The gate under a burst: 1,000 ImagePushed events, then sweeps until every image is decided.

The sandbox runs in its own process (``ops sandbox serve``) with one Premium registry
whose images Defender has already scanned (a third with a Critical finding, the rest
Healthy), ACR and Resource Graph throttling on. This process delivers one host-shaped
ImagePushed event per image (Microsoft's documented sample, re-aimed at each image) to
``gate_on_image_pushed`` through the local invoker, exactly as the Functions host would,
then runs ``gate_sweep`` until nothing is pending, and prints::

    RESULT events=… graph_queries=… p50_ms=… p99_ms=… sweeps=… sweep_s=…

- ``events``: ImagePushed events delivered;
- ``graph_queries``: Resource Graph requests in the sandbox's request log over the whole
  run (pages and throttled attempts included): the push handler never queries, a
  sweep asks once per ``OPS_GATE_QUERY_BATCH`` digests;
- ``p50_ms``, ``p99_ms``: the push handler's latency per event, in process (lock
  included: read the manifest, record, lock the pushed tag, evaluate), in the default
  ``lock-tags`` mode;
- ``sweeps``, ``sweep_s``: sweeps run, and their total time (unlock each tag that still
  names its digest, or lock a denied manifest; record and publish each verdict).

Goals: graph_queries ≤ 10 and p99_ms ≤ 200. ``--quick`` delivers 1,000 events; the full
run 2,000 (over the registry's write limit of 2,000 a minute with the unlocks, so the
sweep has to honour Retry-After).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sandbox.process import start_sandbox_process

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "events" / "acr_image_pushed_eventgrid.json"
SUBSCRIPTION = "5a1c0f3e-0000-4000-8000-00000000ca7e"
REGISTRY = "benchgate"
REPOSITORIES = 10
POLICY = r"""
gate:
  rules:
    - name: bench
      registry: benchgate
      maxSeverity: high
      immutableTags: ['v\d+\.\d+\.\d+']
      settleTimeout: 30m
"""
TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}


def estate(images: int) -> dict[str, Any]:
    per_repo = images // REPOSITORIES
    repositories = [
        {"name": f"team/app{r}", "manifests": [{"tags": [f"v1.0.{i}"], "age": "2m"} for i in range(per_repo)]}
        for r in range(REPOSITORIES)
    ]
    findings = [
        {
            "image": f"{REGISTRY}/team/app{r}:v1.0.{i}",
            "cve": "CVE-2024-3094" if (r * per_repo + i) % 3 == 0 else "CVE-2024-0727",
            "severity": "Critical" if (r * per_repo + i) % 3 == 0 else "Low",
            "status": "Unhealthy" if (r * per_repo + i) % 3 == 0 else "Healthy",
        }
        for r in range(REPOSITORIES)
        for i in range(per_repo)
    ]
    return {
        "settings": {"lroSeconds": 1, "throttling": True, "requestLogLimit": 1_000_000},
        "subscriptions": [
            {
                "id": SUBSCRIPTION,
                "name": "bench",
                "resourceGroups": [{"name": "rg-bench", "location": "eastus2"}],
            }
        ],
        "registries": [
            {"name": REGISTRY, "resourceGroup": "rg-bench", "sku": "Premium", "repositories": repositories}
        ],
        "findings": findings,
    }


def pushed_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One ImagePushed event per tagged image, as ACR would have sent it (the documented sample)."""
    from sandbox.estate.manifests import image_manifest_bytes

    sample = json.loads(SAMPLE.read_text())[0]
    registry = next(r for r in state["registries"] if r["name"] == REGISTRY)
    topic = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-bench"
        f"/providers/Microsoft.ContainerRegistry/registries/{REGISTRY}"
    )
    host = registry["loginServer"]
    events = []
    for repository in registry["repositories"]:
        for manifest in repository["manifests"]:
            content = image_manifest_bytes(
                media_type="application/vnd.oci.image.manifest.v1+json",
                config=(manifest["config"]["digest"], manifest["config"]["size"]),
                layers=[(layer["digest"], layer["size"]) for layer in manifest["layers"]],
                annotations=manifest.get("annotations"),
            )
            event = copy.deepcopy(sample)
            moment = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
            tag = manifest["tags"][0] if isinstance(manifest["tags"][0], str) else manifest["tags"][0]["name"]
            event.update(
                id=str(uuid.uuid4()), topic=topic, subject=f"{repository['name']}:{tag}", eventTime=moment
            )
            data = event["data"]
            data.update(id=str(uuid.uuid4()), timestamp=moment)
            data.pop("connectedRegistry", None)
            data["target"] = {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": len(content),
                "digest": manifest["digest"],
                "length": len(content),
                "repository": repository["name"],
                "tag": tag,
            }
            data["request"]["host"] = host
            events.append(event)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 events (the full run delivers 2,000)")
    args = parser.parse_args()
    images = 1000 if args.quick else 2000
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        with start_sandbox_process(estate(images), workdir) as sandbox:
            print(f"sandbox up in {time.monotonic() - started:.1f}s: {images} scanned images", flush=True)
            figures = run(workdir, sandbox.env)
    print("RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()), flush=True)


def run(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    os.environ.update(
        {"OPS_STATE_PATH": str(workdir / "state.db"), "OPS_DRY_RUN": "false", "OPS_GATE_POLICY": POLICY}
    )
    import function_app
    from ops.gate.records import PENDING_KIND
    from ops.services import get_services
    from ops.triggers.invoking import invoke_function
    from sandbox.cli import call_control

    arm = env["OPS_ARM_ENDPOINT"]
    state = call_control(arm, "GET", "state")
    login = _login_server(env)
    for registry in state["registries"]:
        registry["loginServer"] = login
    events = pushed_events(state)
    call_control(arm, "DELETE", "requests")
    latencies = []
    for event in events:
        begun = time.perf_counter()
        invoke_function(function_app.app, "gate_on_image_pushed", event)
        latencies.append((time.perf_counter() - begun) * 1000)
    store = get_services().store()
    print(
        f"{len(events)} events delivered; {len(store.list_pending(PENDING_KIND, limit=100_000))} pending",
        flush=True,
    )
    sweeps, begun = 0, time.monotonic()
    while store.list_pending(PENDING_KIND, limit=1) and sweeps < 20:
        invoke_function(function_app.app, "gate_sweep", TIMER)
        sweeps += 1
    sweep_s = time.monotonic() - begun
    left = len(store.list_pending(PENDING_KIND, limit=100_000))
    graph = call_control(arm, "GET", "requests?service=graph")["requests"]
    decided = [r.value["decision"] for r in store.list_records("gate-images")]
    print(
        f"{sweeps} sweep(s) in {sweep_s:.1f}s; decisions "
        f"{ {d: decided.count(d) for d in sorted(set(decided))} }; {left} still pending",
        flush=True,
    )
    if left:
        raise SystemExit(f"{left} image(s) still pending after {sweeps} sweeps")
    ordered = sorted(latencies)
    return {
        "events": len(events),
        "graph_queries": len(graph),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1),
        "sweeps": sweeps,
        "sweep_s": round(sweep_s, 1),
    }


def _login_server(env: dict[str, str]) -> str:
    from ops.adapters.arm import ArmRegistryDirectory
    from ops.config import load_settings

    found = ArmRegistryDirectory(load_settings(os.environ)).find_registry(REGISTRY)
    if found is None:
        raise RuntimeError(f"{REGISTRY} is not in the sandbox")
    return found[1]


if __name__ == "__main__":
    main()
