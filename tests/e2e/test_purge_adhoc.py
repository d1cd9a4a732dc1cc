"""``ops purge`` with acr-cli style flags, and the bytes-reclaimed estimate, through typer's
CliRunner against the sandbox's ARM and ACR with the real SDKs (SQLite state, in-process).

Cases:
- ``--registry R --filter 'shop/.*:ci-.*' --ago 30d --untagged`` plans exactly what the
  same rule in a policy file plans, and ``--apply`` deletes it; ``--keep N`` keeps the
  newest N a filter covers in each repository;
- the flags are validated as a policy is, with the problems named by flag (``--ago``, a
  filter's bad regex, a filter that selects nothing); usage errors exit 2 before
  anything is read: ``--filter`` without ``--registry`` or ``--ago``, ``--ago`` without
  ``--filter``, ``--policy`` with ``--filter``, a filter without a colon; a misspelt
  ``--registry`` gets a suggestion;
- bytes reclaimed come from ACR's ``imageSize`` in the listing (the sum over the deleted
  image manifests, read from the sandbox through the SDK), without a single manifest
  read; ``--exact-bytes`` reads the layers and reports no more than that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.services import reset_services
from sandbox.server import SandboxServer
from tests.support.purge import ESTATE, POLICY, REGISTRY, expected_remaining, refs_of, remember_refs
from tests.support.sandbox import app_sandbox, control

FLAGS = ("--registry", REGISTRY, "--filter", "shop/.*:ci-.*", "--ago", "30d", "--untagged")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = {
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "AzureWebJobsStorage": None,
        "OPS_PURGE_POLICY": None,
        "OPS_DRY_RUN": "true",
    }
    with app_sandbox(ESTATE, tmp_path / "sandbox", monkeypatch, settings) as server:
        remember_refs(server.world)
        yield server


def ops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def plan_of(*args: str) -> dict[str, Any]:
    code, out = ops("purge", *args, "--output", "json")
    assert code == 0, out
    return json.loads(out)


def deleted(plan: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["repository"], a["digest"]) for a in plan["actions"] if a["kind"] == "delete_manifest"}


def test_flags_plan_what_the_same_rule_in_a_file_plans(sandbox: SandboxServer, tmp_path: Path) -> None:
    # The shared policy allows suspicious repositories; the flags do not, so compare like with like.
    same = tmp_path / "same.yaml"
    same.write_text(POLICY.replace("      allowSuspicious: true\n", ""))
    from_file = plan_of("--policy", str(same))
    from_flags = plan_of(*FLAGS)
    assert deleted(from_flags) == deleted(from_file) and deleted(from_flags)
    ruled = {a["reason"].split("(rule ")[-1] for a in from_flags["actions"] if "(rule " in a["reason"]}
    assert ruled == {"--filter shop/.*:ci-.*)"}

    code, out = ops("purge", *FLAGS, "--apply", "--output", "json")
    assert code == 0, out
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)  # what the estate's policy leaves


def test_keep_keeps_the_newest_each_filter_covers(sandbox: SandboxServer) -> None:
    every = deleted(plan_of("--registry", REGISTRY, "--filter", "shop/api:ci-.*", "--ago", "30d"))
    kept = deleted(
        plan_of("--registry", REGISTRY, "--filter", "shop/api:ci-.*", "--ago", "30d", "--keep", "3")
    )
    assert kept < every and len(every - kept) >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--registry", REGISTRY, "--filter", "shop/.*:ci-.*", "--ago", "30 dayz"), "--ago: "),
        (("--registry", REGISTRY, "--filter", "shop/(:ci", "--ago", "30d"), "--filter 'shop/(:ci': "),
        (("--registry", REGISTRY, "--filter", "shop/.*:", "--ago", "30d"), "selects nothing"),
    ],
)
def test_flags_are_validated_as_a_policy_is(
    sandbox: SandboxServer, args: tuple[str, ...], message: str
) -> None:
    control(sandbox, "DELETE", "requests")
    code, out = ops("purge", *args)
    assert code not in (0, 3) and message in out
    assert control(sandbox, "GET", f"requests?service=acr:{REGISTRY}")["requests"] == []  # nothing read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--filter", "shop/.*:ci-.*", "--ago", "30d"), "--registry"),
        (("--registry", REGISTRY, "--filter", "shop/.*:ci-.*"), "--ago"),
        (("--ago", "30d"), "only go with --filter"),
        (("--untagged",), "only go with --filter"),
        (("--policy", "x.yaml", "--registry", REGISTRY, "--filter", "a:b", "--ago", "1d"), "not both"),
    ],
)
def test_usage_errors(sandbox: SandboxServer, args: tuple[str, ...], message: str) -> None:
    code, out = ops("purge", *args)
    assert code == 2 and message in out


def test_a_filter_needs_a_colon_and_a_misspelt_registry_gets_a_suggestion(sandbox: SandboxServer) -> None:
    code, out = ops("purge", "--registry", REGISTRY, "--filter", "shop/api", "--ago", "30d")
    assert code not in (0, 3) and "REPOSITORY:TAGS" in out
    code, out = ops("purge", "--registry", "contosopurg", "--filter", "shop/.*:ci-.*", "--ago", "30d")
    assert code not in (0, 3) and f"did you mean {REGISTRY!r}" in out


def acr_requests(sandbox: SandboxServer) -> int:
    """Registry API requests (token exchanges left out: clients cache tokens per process)."""
    log = control(sandbox, "GET", f"requests?service=acr:{REGISTRY}")["requests"]
    return sum(1 for r in log if not r["operation"].startswith("oauth2."))


def test_bytes_come_from_image_size_and_refine_from_the_layers(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    control(sandbox, "DELETE", "requests")
    plan = plan_of(*FLAGS)
    with_estimate = acr_requests(sandbox)  # before the table run below adds its own
    summary = plan["summary"]
    repositories = sandbox.world.registries[REGISTRY].repositories
    listed = sum(
        repositories[repository].manifests[digest].size
        for repository, digest in deleted(plan)
        if not repositories[repository].manifests[digest].children
    )
    assert summary["bytes_estimate"] == "imageSize" and summary["bytes_reclaimed"] == listed > 0
    code, out = ops("purge", *FLAGS)
    assert code == 0 and "imageSize" in out and "--exact-bytes" in out

    monkeypatch.setenv("OPS_PURGE_ESTIMATE_BYTES", "false")
    reset_services()
    control(sandbox, "DELETE", "requests")
    unestimated = plan_of(*FLAGS)["summary"]
    assert (unestimated["bytes_estimate"], unestimated["bytes_reclaimed"]) == ("none", 0)
    assert acr_requests(sandbox) == with_estimate  # the estimate costs no request at all

    control(sandbox, "DELETE", "requests")
    exact = plan_of(*FLAGS, "--exact-bytes")["summary"]
    assert exact["bytes_estimate"] == "layers" and acr_requests(sandbox) > with_estimate
    assert 0 < exact["bytes_reclaimed"] <= summary["bytes_reclaimed"]
