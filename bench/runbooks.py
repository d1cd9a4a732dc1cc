"""Benchmark: authorized runbook GETs through ``ops serve``, tokens validated on every call.

The sandbox (its ARM, Resource Graph and Entra tenant) runs in one child process and
``ops serve`` in another, as an operator runs them; this process is the HTTP client.
After a few warm-up calls it sends N authorized ``GET /api/runbooks/schedule-snooze``
(a small plan: one cluster) over one keep-alive connection, each with a sandbox-issued
Entra token that the app validates in full (RS256 signature against the cached JWKS,
issuer, audience, expiry, roles).

- ``requests``: the measured GETs (all must answer 200).
- ``p50_ms``, ``p99_ms``: per request, the client's round trip minus the plan work the
  function reports in its ``Server-Timing`` header: token validation, routing through
  ``ops serve`` and the azure.functions converters, serialization, and loopback HTTP.
  Goal: p99 ≤ 20 ms.
- ``jwks_fetches``: how often the sandbox served the key set during the run, warm-up
  included (the app caches it). Goal: ≤ 2.
- ``auth_p99_ms``: the validation alone, as the function measures it; ``plan_p50_ms``
  the plan work, for context.

The sandbox's ARM throttling is off: each plan reads the cluster through ARM, and a
thousand plans a minute would spend the run waiting out emulated 429s, which say nothing
of what is measured here (the plan's own time is taken out of every figure).

``--quick`` sends 1,000 requests; the full run 5,000.
Usage: ``python -m bench.runbooks [--quick]``; the last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import requests

from sandbox.process import ROOT, start_sandbox_process

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 1, "throttling": False},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "bench",
            "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}],
        }
    ],
    "clusters": [
        {
            "name": "aks-dev",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "dev"},
            "agentPools": [{"name": "system", "mode": "System", "count": 1}],
        },
    ],
}
WARMUP = 20


def entra(env: dict[str, str], path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{env['OPS_AUTH_AUTHORITY_HOST']}/_sandbox/entra{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return json.loads(response.read())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-runbooks-") as tmp:
        workdir = Path(tmp)
        with start_sandbox_process(ESTATE, workdir) as sandbox:
            env = dict(sandbox.env)
            env_file = workdir / "app.env"
            settings = {**env, "OPS_STATE_PATH": str(workdir / "state.db"), "OPS_LOG_LEVEL": "WARNING"}
            env_file.write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in settings.items()))
            clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPS_", "AzureWebJobsStorage"))}
            serve = subprocess.Popen(
                [sys.executable, "-m", "ops", "--env-file", str(env_file), "serve", "--port", "0"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=clean,
            )
            try:
                assert serve.stdout is not None
                line = serve.stdout.readline()
                match = re.search(r"at (http://\S+)", line)
                if match is None:
                    raise RuntimeError(f"ops serve did not start: {line!r}")
                base = match.group(1)
                before = entra(env, "")["jwksFetches"]
                token = entra(env, "/token", {"roles": ["Ops.Read"], "app": True, "name": "bench"})[
                    "access_token"
                ]
                return measure(base, token, count) | {"jwks_fetches": entra(env, "")["jwksFetches"] - before}
            finally:
                serve.terminate()
                serve.wait(timeout=30)


def measure(base: str, token: str, count: int) -> dict[str, float]:
    url = f"{base}/runbooks/schedule-snooze"
    params = {"cluster": "aks-dev", "until": "3h"}
    overhead: list[float] = []
    auth: list[float] = []
    plan: list[float] = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for index in range(WARMUP + count):
            started = time.perf_counter()
            answer = session.get(url, params=params, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"GET answered {answer.status_code}: {answer.text[:500]}")
            timing = dict(re.findall(r"(\w+);dur=([0-9.]+)", answer.headers["Server-Timing"]))
            if index < WARMUP:
                continue
            plan.append(float(timing["plan"]))
            auth.append(float(timing["auth"]))
            overhead.append(elapsed - float(timing["plan"]))
    return {
        "requests": float(len(overhead)),
        "p50_ms": round(statistics.median(overhead), 2),
        "p99_ms": round(percentile(overhead, 0.99), 2),
        "auth_p99_ms": round(percentile(auth, 0.99), 2),
        "plan_p50_ms": round(statistics.median(plan), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 requests (the full run: 5,000)")
    args = parser.parse_args()
    result = run(1000 if args.quick else 5000)
    keys = ["requests", "p50_ms", "p99_ms", "jwks_fetches", "auth_p99_ms", "plan_p50_ms"]
    print("RESULT " + " ".join(f"{key}={result[key]:g}" for key in keys))


if __name__ == "__main__":
    main()
