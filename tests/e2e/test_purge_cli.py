"""``ops purge`` against the sandbox (no storage account: SQLite state, in-process run).

Cases: the default is a dry run whose JSON plan lists every action with registry,
repository, digest, tags and reason, and every protected item with digest and reason,
and deletes nothing; the table output has a row per repository and a summary line;
``--apply`` deletes exactly what the dry run planned; ``--registry`` narrows the scope
and an unknown one is an error; a bad ``--policy`` file is a clear error naming the
rule, and nothing is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app
from sandbox.server import SandboxServer
from tests.support.purge import (
    ESTATE,
    POLICY,
    REGISTRY,
    expected_remaining,
    refs_of,
    remember_refs,
    reset_adapter_caches,
)
from tests.support.sandbox import control, sandbox_env, start_sandbox


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    server = start_sandbox(ESTATE, state_dir=tmp_path / "sandbox")
    try:
        sandbox_env(server, monkeypatch)
        monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
        monkeypatch.delenv("AzureWebJobsStorage", raising=False)
        monkeypatch.delenv("OPS_PURGE_POLICY", raising=False)
        monkeypatch.setenv("OPS_DRY_RUN", "true")
        reset_adapter_caches(monkeypatch)
        remember_refs(server.world)
        yield server
    finally:
        server.stop()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def ops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_dry_run_prints_the_plan_as_json_and_deletes_nothing(
    sandbox: SandboxServer, policy_file: Path
) -> None:
    before = refs_of(sandbox.world)
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")
    assert code == 0, out
    plan = json.loads(out)
    assert refs_of(sandbox.world) == before
    deletes = [a for a in plan["actions"] if a["kind"] == "delete_manifest"]
    assert len(deletes) == 9 and all(a["status"] == "dry_run" for a in deletes)
    old = next(a for a in deletes if a["tags"] == ["ci-100"])
    assert old["registry"] == REGISTRY and old["repository"] == "shop/api"
    assert old["digest"].startswith("sha256:") and "older than 30d (rule ci)" in old["reason"]
    protected = {p["tags"][0] if p["tags"] else p["digest"]: p for p in plan["protected"]}
    assert protected["ci-101"]["reason"].startswith("protected: in use by aks-shop/shop/deployment/idle")
    assert protected["ci-103"]["protection"] == "lock"
    assert all(p["digest"].startswith("sha256:") for p in plan["protected"])
    assert plan["summary"]["dry_run"] is True and plan["summary"]["manifests_deleted"] == 9


def test_apply_deletes_what_the_dry_run_planned(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file), "--output", "json")
    planned = {a["digest"] for a in json.loads(out)["actions"]}
    code, out = ops("purge", "--policy", str(policy_file), "--apply", "--output", "json")
    assert code == 0, out
    applied = json.loads(out)
    assert {a["digest"] for a in applied["actions"]} == planned
    assert {a["status"] for a in applied["actions"]} == {"applied"}
    assert refs_of(sandbox.world) == expected_remaining(sandbox.world)


def test_table_output(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file))
    assert code == 0, out
    assert "shop/api" in out and "shop/base" in out and "shop/web" in out
    assert "would delete 9 manifest(s) and 4 tag(s)" in out and "dry run (--apply to delete)" in out


def test_registry_filter(sandbox: SandboxServer, policy_file: Path) -> None:
    code, out = ops("purge", "--policy", str(policy_file), "--registry", REGISTRY, "--output", "json")
    assert code == 0 and json.loads(out)["summary"]["repositories"] == 3
    code, out = ops("purge", "--policy", str(policy_file), "--registry", "nope", "--output", "json")
    assert code == 1 and "--registry" in json.loads(out)["error"]


def test_bad_policy_file_names_the_rule_and_reads_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("tags: 'ci-.*'", "tags: 'ci-(.*'"))
    control(sandbox, "DELETE", "requests")
    code, out = ops("purge", "--policy", str(bad), "--output", "json")
    assert code == 1
    assert 'purge.rules[0].tags: "ci-(.*" is not a valid regular expression' in json.loads(out)["error"]
    assert control(sandbox, "GET", "requests")["requests"] == []
