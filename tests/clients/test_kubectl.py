"""kubectl against the sandbox's API server, as an SRE would run it.

Cases:
- ``get pods -A``, ``get nodes``, ``get deployments`` print the server's Table columns
  (READY STATUS RESTARTS AGE; STATUS ROLES AGE VERSION; READY UP-TO-DATE AVAILABLE);
  ``-o wide`` adds the priority-1 columns;
- ``get all`` lists every kind of the "all" category;
- ``api-resources`` exits 0 and lists the served kinds with their short names;
- ``get -w`` sees a scale made while it watches; ``rollout status`` completes;
- ``auth can-i`` answers from the emulated RBAC;
- ``--chunk-size`` lists page through limit/continue and miss nothing;
- ``logs`` of a pod answers (empty: the sandbox runs no containers);
- scaling a deployment to zero removes its pods, and back up recreates them.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.clients.conftest import run, tool


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(tool("kubectl"), f"--kubeconfig={kubeconfig}", *args, check=check)


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_get_pods_prints_server_columns(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "get", "pods", "-A").stdout
    assert header(out) == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    api_rows = [line.split() for line in out.splitlines()[1:] if line.startswith("payments")]
    assert len(api_rows) == 2
    assert all(row[2] == "1/1" and row[3] == "Running" and row[4] == "0" for row in api_rows)


def test_get_nodes_prints_status_roles_version(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "get", "nodes").stdout
    assert header(out) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = [line.split() for line in out.splitlines()[1:]]
    assert len(rows) == 3
    assert {row[1] for row in rows} == {"Ready"}
    assert all(row[4].startswith("v1.") for row in rows)


def test_wide_output_adds_priority_one_columns(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "get", "pods", "-n", "payments", "-o", "wide").stdout
    assert header(out)[:8] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED"]


def test_get_deployments_columns(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "get", "deployments", "-n", "payments").stdout
    assert header(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["api", "2/2", "2", "2"]


def test_get_all_lists_the_all_category(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "get", "all", "-n", "payments").stdout
    assert "pod/api-" in out
    assert "deployment.apps/api" in out
    assert "replicaset.apps/api-" in out
    default = kubectl(kubeconfig, "get", "all", "-n", "default").stdout
    assert "service/kubernetes" in default


def test_api_resources_exits_zero(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "api-resources").stdout
    names = {line.split()[0] for line in out.splitlines()[1:]}
    assert {"pods", "nodes", "deployments", "services", "horizontalpodautoscalers", "cronjobs"} <= names
    assert "selfsubjectaccessreviews" in names


def test_auth_can_i(kubeconfig: Path) -> None:
    assert kubectl(kubeconfig, "auth", "can-i", "list", "pods", "-A").stdout.strip() == "yes"
    refused = kubectl(kubeconfig, "auth", "can-i", "delete", "pods", check=False)
    assert refused.returncode == 1
    assert refused.stdout.startswith("no")


def test_chunked_list_misses_nothing(kubeconfig: Path) -> None:
    whole = kubectl(kubeconfig, "get", "pods", "-A", "-o", "name").stdout.split()
    chunked = kubectl(kubeconfig, "get", "pods", "-A", "-o", "name", "--chunk-size=1").stdout.split()
    assert chunked == whole
    assert len(whole) >= 2


def test_logs_answer(kubeconfig: Path) -> None:
    pod = kubectl(kubeconfig, "get", "pods", "-n", "payments", "-o", "name").stdout.split()[0]
    assert kubectl(kubeconfig, "logs", "-n", "payments", pod).returncode == 0


def test_watch_sees_a_scale_and_rollout_status_completes(kubeconfig: Path) -> None:
    watcher = subprocess.Popen(
        [tool("kubectl"), f"--kubeconfig={kubeconfig}", "get", "deployments", "-n", "payments", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert first.split()[0] == "NAME"
        assert watcher.stdout.readline().split()[:2] == ["api", "2/2"]
        kubectl(kubeconfig, "scale", "deployment/api", "-n", "payments", "--replicas=3")
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            line = watcher.stdout.readline().split()
            seen.append(line)
            if line[:2] == ["api", "3/3"]:
                break
        assert ["api", "3/3"] in [row[:2] for row in seen], seen
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    status = kubectl(kubeconfig, "rollout", "status", "deployment/api", "-n", "payments", "--timeout=20s")
    assert "successfully rolled out" in status.stdout
    pods = kubectl(kubeconfig, "get", "pods", "-n", "payments", "-o", "name").stdout.split()
    assert len(pods) == 3


def test_scale_to_zero_removes_pods(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "scale", "deployment/api", "-n", "payments", "--replicas=0")
    assert kubectl(kubeconfig, "get", "pods", "-n", "payments", "-o", "name").stdout.split() == []
    rs = kubectl(kubeconfig, "get", "rs", "-n", "payments").stdout.splitlines()[1].split()
    assert rs[1:4] == ["0", "0", "0"]
    kubectl(kubeconfig, "scale", "deployment/api", "-n", "payments", "--replicas=2")
    assert len(kubectl(kubeconfig, "get", "pods", "-n", "payments", "-o", "name").stdout.split()) == 2
