"""Benchmark: the sandbox itself, so that it is never the bottleneck of other benchmarks.

- ``seed_s``: seconds to load the generated benchmark estate, 1,000 repositories x
  100 manifests plus 20 clusters x 5,000 pods (goal: at most 15 s and 1.5 GB RSS;
  ``peak_rss_mb`` is reported too).
- ``list_rps``: ACR manifest-list pages per second (``GET /acr/v1/{repo}/_manifests``,
  100 manifests a page) over HTTPS, with the throttling emulation off: the sandbox runs
  in this process, the clients in separate processes, each with a keep-alive
  ``requests.Session`` and an ACR access token from the ``/oauth2`` exchange (goal: at
  least 300 pages/s).

Usage: ``python -m bench.sandbox [--quick]`` (quick: a shorter list phase; the estate
is the full one either way). The last line is ``RESULT list_rps=<n> seed_s=<n> ...``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

SUBSCRIPTION = "00000000-0000-4000-8000-00000000be01"

ESTATE: dict[str, Any] = {
    "settings": {"throttling": False},
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "bench", "resourceGroups": [{"name": "rg-bench", "location": "eastus2"}]}
    ],
    "registries": [
        {
            "name": "benchacr",
            "resourceGroup": "rg-bench",
            "generate": {"repositories": 1000, "manifestsPerRepository": 100},
        }
    ],
    "generate": {
        "clusters": {
            "count": 20,
            "resourceGroup": "rg-bench",
            "pods": 5000,
            "images": {"registry": "benchacr"},
        }
    },
}


def seed_world() -> tuple[Any, float]:
    from sandbox.estate import load_estate

    started = time.perf_counter()
    world = load_estate(ESTATE)
    return world, time.perf_counter() - started


def acr_access_token(server: Any, repositories: list[str]) -> str:
    """The app's path to an ACR access token: managed identity → /oauth2/exchange → /oauth2/token."""
    import requests
    from azure.identity import ManagedIdentityCredential

    for key, value in server.env().items():
        os.environ[key] = value
    registry = server.world.registries["benchacr"]
    base = f"https://{registry.login_server}"
    aad = ManagedIdentityCredential().get_token("https://containerregistry.azure.net/.default").token
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.tls.ca_cert)
    exchanged = session.post(
        f"{base}/oauth2/exchange",
        data={"grant_type": "access_token", "service": registry.login_server, "access_token": aad},
        timeout=30,
    )
    exchanged.raise_for_status()
    scopes = " ".join(f"repository:{name}:metadata_read" for name in repositories)
    issued = session.post(
        f"{base}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "service": registry.login_server,
            "scope": scopes,
            "refresh_token": exchanged.json()["refresh_token"],
        },
        timeout=30,
    )
    issued.raise_for_status()
    token: str = issued.json()["access_token"]
    return token


def list_pages(base: str, token: str, ca_file: str, repositories: list[str], seconds: float) -> int:
    """A client process: list manifest pages in a loop for ``seconds``; returns the page count."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    session.headers["Authorization"] = f"Bearer {token}"
    pages = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        name = repositories[pages % len(repositories)]
        response = session.get(f"{base}/acr/v1/{name}/_manifests", params={"n": 100}, timeout=30)
        if response.status_code != 200 or len(response.json()["manifests"]) != 100:
            raise RuntimeError(f"unexpected answer {response.status_code}: {response.text[:200]}")
        pages += 1
    return pages


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter list phase (same estate)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    args = parser.parse_args()

    from sandbox.server import SandboxServer

    world, seed_s = seed_world()
    manifests = sum(len(r.manifests) for r in world.registries["benchacr"].repositories.values())
    pods = sum(len(c.kube.pods) for c in world.clusters.values())
    print(f"seeded {manifests} manifests and {pods} pods in {seed_s:.2f} s")
    seconds = 5.0 if args.quick else 20.0
    repositories = sorted(world.registries["benchacr"].repositories)[:50]
    with (
        tempfile.TemporaryDirectory() as state_dir,
        SandboxServer(world, state_dir=Path(state_dir)) as server,
    ):
        world.settings["throttling"] = False
        token = acr_access_token(server, repositories)
        base = f"https://{world.registries['benchacr'].login_server}"
        ca_file = str(server.tls.ca_cert)
        list_pages(base, token, ca_file, repositories, 0.5)  # warm up TLS, caches
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.clients) as pool:
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            counts = pool.starmap(list_pages, [(base, token, ca_file, repositories, seconds)] * args.clients)
            elapsed = time.perf_counter() - started
            server_cpu = _cpu_seconds() - cpu_before
    list_rps = sum(counts) / elapsed
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"listed {sum(counts)} pages of 100 manifests in {elapsed:.1f} s with {args.clients} client processes"
    )
    # The server's own CPU per page says what one core could serve, whatever else
    # (the clients, other jobs) competes for the machine's cores.
    cpu_ms = server_cpu / max(1, sum(counts)) * 1000
    print(f"server CPU: {cpu_ms:.2f} ms per page, i.e. {1000 / cpu_ms:.0f} pages/s on one core")
    run = "quick" if args.quick else "full"
    print(f"estate: 1000 repositories x 100 manifests + 20 clusters x 5000 pods ({run} run)")
    print(
        f"RESULT list_rps={list_rps:.0f} seed_s={seed_s:.2f} peak_rss_mb={peak_mb:.0f} "
        f"server_core_rps={1000 / cpu_ms:.0f}"
    )


if __name__ == "__main__":
    main()
