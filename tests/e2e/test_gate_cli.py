"""``ops gate check`` as a CI step would run it, through typer's CliRunner, against the
sandbox's ACR, ARM and Resource Graph with the real SDKs.

Cases:
- exit codes: a passing image exits 0, a denied one 4, a pending one (no scan yet) 4, an
  image no rule covers 0, in table and JSON output alike;
- ``--apply`` exits with the verdict it applied (4 for a deny it recorded);
- ``--policy FILE`` judges under a policy that is not deployed: an image the deployed
  policy passes is denied by a stricter trial policy (and the reverse), nothing is
  recorded; ``--policy`` with ``--apply`` and a missing file are usage errors (2); a
  policy file with an error is refused with its field path and no verdict;
- a misspelt registry name gets a suggestion;
- asked by tag, the tag is shown (table and JSON) even for an image the gate has no
  record of; an untagged image shows ``(none)``, never ``-``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from ops.services import get_services
from sandbox.server import SandboxServer
from tests.support.gate import ESTATE, REGISTRY, push, scanned
from tests.support.sandbox import connect_local_app, control, running_sandbox

DEPLOYED = f"""
gate:
  rules:
    - {{name: severity, repository: 'sev/.*', mode: lock, maxSeverity: high}}
    - {{name: default, registry: {REGISTRY}, repository: 'app/.*', mode: lock}}
"""

STRICT = """
gate:
  rules:
    - {name: strict, repository: 'sev/.*', mode: lock, maxSeverity: medium}
"""

LENIENT = """
gate:
  rules:
    - {name: lenient, repository: 'sev/.*', mode: audit, maxSeverity: critical}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("gatecli")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_local_app(server, monkeypatch, tmp_path, {"OPS_GATE_POLICY": DEPLOYED})
    control(server, "DELETE", "faults")
    return server


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["gate", "check", *args])
    return result.exit_code, result.output


def check_json(*args: str) -> tuple[int, dict]:
    code, output = check(*args, "--output", "json")
    return code, json.loads(output)


def test_exit_codes_follow_the_verdict(sandbox: SandboxServer) -> None:
    world = sandbox.world
    passing, _ = push(world, "sev/pass", "v1")
    scanned(world, "sev/pass", passing, {"cve": "CVE-2024-1000", "severity": "Medium", "package": "zlib"})
    denied, _ = push(world, "sev/deny", "v1")
    scanned(world, "sev/deny", denied, {"cve": "CVE-2024-2000", "severity": "Critical", "package": "glibc"})
    push(world, "sev/pending", "v1")  # Defender has not scanned it yet
    ungated, _ = push(world, "other/tool", "v1")

    code, body = check_json(f"{REGISTRY}/sev/pass@{passing}")
    assert (code, body["verdict"]["decision"]) == (0, "pass")
    code, body = check_json(f"{REGISTRY}/sev/deny@{denied}")
    assert (code, body["verdict"]["decision"]) == (4, "deny")
    code, body = check_json(f"{REGISTRY}/sev/pending:v1")
    assert (code, body["verdict"]["decision"]) == (4, "pending")
    code, body = check_json(f"{REGISTRY}/other/tool:v1")
    assert (code, body["verdict"]) == (0, None)

    code, output = check(f"{REGISTRY}/sev/deny:v1")
    assert code == 4 and "verdict: deny" in output and "CVE-2024-2000" in output
    code, output = check(f"{REGISTRY}/other/tool@{ungated}")
    assert code == 0 and "not gated" in output


def test_apply_exits_with_the_verdict_it_applied(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "sev/applied", "v2")
    payload = json.dumps(event)
    pushed = CliRunner().invoke(cli, ["invoke", "gate_on_image_pushed", "--payload", "-"], input=payload)
    assert pushed.exit_code == 0, pushed.output
    scanned(world, "sev/applied", digest, {"cve": "CVE-2024-3000", "severity": "Critical", "package": "curl"})
    code, output = check(f"{REGISTRY}/sev/applied@{digest}", "--apply")
    assert code == 4 and "deny" in output
    login = world.registries[REGISTRY].login_server
    stored = get_services().store().get_record("gate-images", f"{login}/sev/applied@{digest}")
    assert stored is not None and stored.value["decision"] == "deny"


def test_a_trial_policy_judges_without_deploying(sandbox: SandboxServer, tmp_path: Path) -> None:
    world = sandbox.world
    digest, _ = push(world, "sev/trial", "v3")
    scanned(world, "sev/trial", digest, {"cve": "CVE-2024-4000", "severity": "High", "package": "openssl"})
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(LENIENT)

    code, body = check_json(f"{REGISTRY}/sev/trial:v3")  # deployed: maxSeverity high
    assert (code, body["verdict"]["decision"], body["verdict"]["rule"]) == (0, "pass", "severity")
    code, body = check_json(f"{REGISTRY}/sev/trial:v3", "--policy", str(strict))
    assert (code, body["verdict"]["decision"], body["verdict"]["rule"]) == (4, "deny", "strict")
    assert body["recorded"] is None  # trying a policy records nothing
    assert get_services().store().get_record("gate-images", body["image"]) is None

    denied, _ = push(world, "sev/trial2", "v1")
    scanned(world, "sev/trial2", denied, {"cve": "CVE-2024-5000", "severity": "Critical", "package": "bash"})
    code, body = check_json(f"{REGISTRY}/sev/trial2:v1")
    assert (code, body["verdict"]["decision"]) == (4, "deny")
    code, body = check_json(f"{REGISTRY}/sev/trial2:v1", "--policy", str(lenient))
    assert (code, body["verdict"]["decision"], body["verdict"]["rule"]) == (0, "pass", "lenient")


def test_trial_policy_usage_errors(sandbox: SandboxServer, tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    code, output = check(f"{REGISTRY}/sev/x:v1", "--policy", str(strict), "--apply")
    assert code == 2 and "--apply" in output
    code, output = check(f"{REGISTRY}/sev/x:v1", "--policy", str(tmp_path / "missing.yaml"))
    assert code == 2 and "does not exist" in output
    broken = tmp_path / "broken.yaml"
    broken.write_text("gate:\n  rules:\n    - {name: bad, repository: 'sev/.*', maxSeverity: severe}\n")
    result = CliRunner().invoke(cli, ["gate", "check", f"{REGISTRY}/sev/x:v1", "--policy", str(broken)])
    assert result.exit_code not in (0, 4)
    assert "gate.rules[0].maxSeverity" in result.output and "verdict" not in result.output


def test_a_misspelt_registry_gets_a_suggestion(sandbox: SandboxServer) -> None:
    code, output = check(f"{REGISTRY[:-1]}x/sev/pass:v1")
    assert code not in (0, 4)
    assert f"did you mean {REGISTRY!r}" in output


def test_the_asked_tag_is_shown(sandbox: SandboxServer) -> None:
    world = sandbox.world
    push(world, "app/web", "2024.12.1")
    code, body = check_json(f"{REGISTRY}/app/web:2024.12.1")
    assert body["tags"] == ["2024.12.1"] and body["recorded"] is None and code == 4  # no scan yet
    code, output = check(f"{REGISTRY}/app/web:2024.12.1")
    assert "tags: 2024.12.1" in output
    untagged, _ = push(world, "app/web")
    code, output = check(f"{REGISTRY}/app/web@{untagged}")
    assert "tags: (none)" in output and "tags: -" not in output
