"""Purge at scale: listing cost, time to plan, memory, and delete throughput under throttling.

The sandbox runs in its own process (``ops sandbox serve``) with a generated estate:
full size is 1,000 repositories x 100 manifests plus 20 clusters x 5,000 pods
(``--quick``: 100 x 100 plus 4 x 1,000). This process then runs ``ops purge --apply``'s
path (``PurgeService.run_inline``) through the real adapters and SDKs, with the
sandbox's ACR throttling on (Premium: 2,000 writes a minute), and prints::

    RESULT list_requests=… list_lower_bound=… plan_s=… rss_mb=… deletes_per_min=… throttled_unrecovered=…

- ``list_requests``: ACR list pages requested (catalog, manifests, tags), from the
  sandbox's request log, 401 challenges included;
- ``list_lower_bound``: the fewest pages those lists take at ACR's largest page
  (``n=1000``): one catalog page per 1,000 repositories, and per repository one
  manifest page and one tag page per 1,000 entries;
- ``plan_s``: wall time from start to a finished plan (ARM, every cluster's pods and
  templates, every repository, the planner);
- ``rss_mb``: this process's peak resident memory;
- ``deletes_per_min``: manifest deletes applied per minute of the apply phase (the
  run's delete cap bounds how many);
- ``throttled_unrecovered``: deletes that still failed after the executor's retries.

On top of the sandbox's write limit, 5% of deletes are answered 429 with
``Retry-After: 1`` (an injected fault, as when another client shares the registry's
limit), so the run has to honour Retry-After and still finish every delete.

Goals: list_requests ≤ 1.05 x list_lower_bound, plan_s ≤ 60 at full size, rss_mb ≤ 300,
deletes_per_min ≥ 1,800 (90% of the Premium write limit) with throttled_unrecovered = 0.
Bytes-reclaimed estimation is off here (``OPS_PURGE_ESTIMATE_BYTES=false``), and measured
on its own by ``--estimate``, which runs no deletes and prints::

    RESULT plan_s=… plan_estimate_s=… estimate_ratio=… bytes_estimate=… estimate_requests=…

- ``plan_s``: wall time of a dry-run purge (the whole ``ops purge`` without ``--apply``)
  without a bytes estimate; ``plan_estimate_s``: the same with the estimate, which comes
  from ACR's ``imageSize`` in the manifest listing. Each is the best of two runs,
  alternated after a warm-up run, so that neither profits from the other's warm caches;
- ``estimate_ratio``: plan_estimate_s / plan_s; goal ≤ 1.3;
- ``bytes_estimate``: the bytes the dry run would reclaim, by that estimate;
- ``estimate_requests``: registry requests the estimate added (goal: 0).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.process import start_sandbox_process

SUBSCRIPTION = "5a1c0f3e-0000-4000-8000-00000000be01"
REGISTRY = "benchreg"
ACR_PAGE = 1000
LIST_OPERATIONS = ("acr.catalog.list", "acr.manifests.list", "acr.tags.list")
THROTTLE_FAULT = {
    "kind": "throttle",
    "service": f"acr:{REGISTRY}",
    "method": "DELETE",
    "rate": 0.05,
    "retryAfter": 1,
}

SIZES: dict[str, dict[str, int]] = {
    "quick": {"repositories": 100, "manifests": 100, "clusters": 4, "pods": 1000, "deletes": 600},
    "full": {"repositories": 1000, "manifests": 100, "clusters": 20, "pods": 5000, "deletes": 3000},
}

POLICY = """
purge:
  minAge: 1d
  maxDeletesPerRun: {deletes}
  rules:
    - name: old-builds
      repository: 'team/.*'
      tags: '1\\.0\\.\\d+'
      olderThan: 200d
      untagged: true
      keep: 5
      allowSuspicious: true
"""


def estate(size: dict[str, int]) -> dict[str, Any]:
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
            {
                "name": REGISTRY,
                "resourceGroup": "rg-bench",
                "sku": "Premium",
                "generate": {
                    "repositories": size["repositories"],
                    "manifestsPerRepository": size["manifests"],
                    "repositoryPrefix": "team/app",
                    "taggedFraction": 1.0,
                    "tagsPerManifest": 1.5,
                    "maxAge": "365d",
                },
            }
        ],
        "generate": {
            "clusters": {
                "count": size["clusters"],
                "namePrefix": "aks-bench-",
                "resourceGroup": "rg-bench",
                "pods": size["pods"],
                "namespaces": 10,
                "replicasPerDeployment": 10,
                "images": {"registry": REGISTRY, "byDigestFraction": 0.5},
            }
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="100 repositories x 100, 4 clusters x 1,000 pods"
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="compare a dry-run purge with and without the bytes estimate (no deletes)",
    )
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    with tempfile.TemporaryDirectory(prefix="bench-purge-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        with start_sandbox_process(estate(size), workdir, timeout=300) as sandbox:
            print(f"sandbox up in {time.monotonic() - started:.1f}s: {size}", flush=True)
            if args.estimate:
                figures = run_estimate(workdir, sandbox.env, size)
            else:
                figures = run(workdir, sandbox.env, size, estimate=False)
    print(
        "RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()),
        flush=True,
    )


def run(workdir: Path, env: dict[str, str], size: dict[str, int], *, estimate: bool) -> dict[str, Any]:
    os.environ.update(env)
    os.environ.update(
        {
            "OPS_STATE_PATH": str(workdir / "state.db"),
            "OPS_DRY_RUN": "false",
            "OPS_MAX_CONCURRENCY": "32",
            "OPS_PURGE_POLICY": POLICY.format(deletes=size["deletes"]),
            "OPS_PURGE_ESTIMATE_BYTES": "true" if estimate else "false",
        }
    )
    from ops.plan import Status
    from ops.services import get_services
    from sandbox.cli import call_control

    call_control(env["OPS_ARM_ENDPOINT"], "DELETE", "requests")
    call_control(env["OPS_ARM_ENDPOINT"], "POST", "faults", [THROTTLE_FAULT])
    service = get_services().purge_service(apply=True)
    result = service.run_inline()
    timings = result.timings
    log = call_control(env["OPS_ARM_ENDPOINT"], "GET", f"requests?service=acr:{REGISTRY}")["requests"]
    lists = [r for r in log if r["operation"] in LIST_OPERATIONS]
    throttled = sum(1 for r in log if r["status"] == 429)
    deletes = [o for o in result.outcomes if o.action.kind == "delete_manifest"]
    applied = sum(1 for o in deletes if o.status in (Status.APPLIED, Status.ALREADY_DONE))
    failed = [o for o in deletes if o.status is Status.FAILED]
    repositories, tags_per_repo = (
        size["repositories"],
        size["manifests"] + 1,
    )  # every manifest tagged, + latest
    lower_bound = math.ceil(repositories / ACR_PAGE) + repositories * (
        math.ceil(size["manifests"] / ACR_PAGE) + math.ceil(tags_per_repo / ACR_PAGE)
    )
    summary = result.summary
    print(
        f"plan: {len(result.plan.actions) if result.plan else 0} actions, protected "
        f"{summary['protected_by_reason']}; apply {timings['apply_s']:.1f}s, {applied} deleted, "
        f"{throttled} deletes answered 429, {len(failed)} given up; bytes {summary['bytes_reclaimed']}",
        flush=True,
    )
    return {
        "list_requests": len(lists),
        "list_lower_bound": lower_bound,
        "plan_s": round(timings["plan_s"], 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "deletes_per_min": round(applied / timings["apply_s"] * 60) if timings["apply_s"] > 0 else 0,
        "throttled_unrecovered": len(failed),
    }


def run_estimate(workdir: Path, env: dict[str, str], size: dict[str, int]) -> dict[str, Any]:
    """Dry runs without and with the bytes estimate, alternated: their wall times, the
    estimate, and the registry requests it added."""
    os.environ.update(env)
    os.environ.update(
        {
            "OPS_STATE_PATH": str(workdir / "state.db"),
            "OPS_DRY_RUN": "true",
            "OPS_MAX_CONCURRENCY": "32",
            "OPS_PURGE_POLICY": POLICY.format(deletes=size["deletes"]),
        }
    )
    from ops.services import get_services, reset_services
    from sandbox.cli import call_control

    def dry_run(estimate: bool) -> tuple[float, int, int]:
        os.environ["OPS_PURGE_ESTIMATE_BYTES"] = "true" if estimate else "false"
        reset_services()
        call_control(env["OPS_ARM_ENDPOINT"], "DELETE", "requests")
        started = time.monotonic()
        result = get_services().purge_service(apply=False).run_inline()
        seconds = time.monotonic() - started
        log = call_control(env["OPS_ARM_ENDPOINT"], "GET", f"requests?service=acr:{REGISTRY}")["requests"]
        requests = sum(1 for r in log if not r["operation"].startswith("oauth2."))
        summary = result.summary
        print(
            f"dry run, estimate {'on' if estimate else 'off'}: {seconds:.2f}s, {requests} registry requests, "
            f"{summary['manifests_deleted']} deletes planned, bytes {summary['bytes_reclaimed']}",
            flush=True,
        )
        return seconds, requests, int(summary["bytes_reclaimed"])

    dry_run(False)  # warm-up: tokens, clients, the sandbox's caches
    runs: dict[bool, list[tuple[float, int, int]]] = {False: [], True: []}
    for estimate in (False, True, False, True):
        runs[estimate].append(dry_run(estimate))
    plain = min(seconds for seconds, _, _ in runs[False])
    estimated = min(seconds for seconds, _, _ in runs[True])
    return {
        "plan_s": round(plain, 2),
        "plan_estimate_s": round(estimated, 2),
        "estimate_ratio": round(estimated / plain, 2),
        "bytes_estimate": runs[True][0][2],
        "estimate_requests": runs[True][0][1] - runs[False][0][1],
    }


if __name__ == "__main__":
    main()
