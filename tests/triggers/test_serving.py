"""``ops serve``: the HTTP functions over real HTTP, and Entra authentication on the wire.

A probe FunctionApp (HTTP functions shaped like the runbooks) is served by
``LocalHost`` on a free port, against a sandbox whose Entra tenant issues the tokens.

Cases:
- routing as the host does: ``/api/<route>``, route parameters, optional ones,
  literal segments before parameters, methods, 404 outside ``/api`` or for unknown
  routes; query strings and headers reach the function; a function that raises
  answers an empty 500; a body above the limit is refused with 413 unread;
- authentication: a sandbox token with the role gets 200 and the caller's identity;
  401 with ``WWW-Authenticate: Bearer`` and a problem document (no token: no error
  code; a bad token: ``error="invalid_token"``) for no token, an expired one, the wrong
  audience, another tenant's issuer, a key the tenant never published, ``alg: none``
  and HS256 signed with the tenant's public key; 403 naming the missing role;
- key rotation: after the tenant rolls its key, a new token is accepted after one
  key-set refresh, and a thousand calls cost no further fetches;
- the CLI: ``ops serve --port`` serves health; ``ops sandbox token`` prints a token
  the app accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ops.auth import Role
from ops.triggers.handling import respond_to_request
from ops.triggers.responses import respond_json
from ops.triggers.serving import MAX_BODY_BYTES, LocalHost
from sandbox.server import SandboxServer
from tests.support.entra import bearer, entra_info, mint, rotate
from tests.support.sandbox import MINIMAL_ESTATE, app_sandbox

ROOT = Path(__file__).resolve().parents[2]

PROBE = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@PROBE.function_name("probe_read")
@PROBE.route(route="probe/{name?}", methods=["GET"])
def probe_read(req: func.HttpRequest) -> func.HttpResponse:
    def handle(services: Any) -> func.HttpResponse:
        caller = services.authenticator().require(req.headers, Role.READ)
        return respond_json(
            {
                "caller": caller.to_audit(),
                "name": req.route_params.get("name"),
                "query": dict(req.params),
                "agent": req.headers.get("user-agent"),
            }
        )

    return respond_to_request("probe_read", handle, capability="runbook")


@PROBE.function_name("probe_approve")
@PROBE.route(route="probe/{name}", methods=["POST"])
def probe_approve(req: func.HttpRequest) -> func.HttpResponse:
    def handle(services: Any) -> func.HttpResponse:
        caller = services.authenticator().require(req.headers, Role.OPERATE, Role.APPROVE)
        return respond_json({"caller": caller.to_audit(), "body": req.get_json()})

    return respond_to_request("probe_approve", handle, capability="runbook")


@PROBE.function_name("probe_literal")
@PROBE.route(route="probe/fixed/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def probe_literal(req: func.HttpRequest) -> func.HttpResponse:
    return respond_json({"literal": req.route_params["id"]})


@PROBE.function_name("probe_bug")
@PROBE.route(route="bug", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def probe_bug(req: func.HttpRequest) -> func.HttpResponse:
    raise ZeroDivisionError("a bug")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, str]]:
    directory = tmp_path_factory.mktemp("serve")
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = {"AzureWebJobsStorage": None, "OPS_STATE_PATH": str(directory / "state.db")}
        with (
            app_sandbox(MINIMAL_ESTATE, directory / "sandbox", monkeypatch, settings) as server,
            LocalHost(PROBE) as host,
        ):
            yield server, host.url


def test_routes_params_and_methods(served: tuple[SandboxServer, str]) -> None:
    server, url = served
    token = mint(server, roles=["Ops.Read"])
    answer = requests.get(
        f"{url}/probe/purge?registry=contoso&x=1", headers={**bearer(token), "User-Agent": "t/1"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (
        body["name"] == "purge"
        and body["query"] == {"registry": "contoso", "x": "1"}
        and body["agent"] == "t/1"
    )
    listing = requests.get(f"{url}/probe", headers=bearer(token))
    assert listing.status_code == 200 and listing.json()["name"] is None
    assert requests.get(f"{url}/probe/fixed/abc").json() == {"literal": "abc"}
    assert requests.get(f"{url}/nothing/here").status_code == 404
    assert requests.get(url.removesuffix("/api") + "/probe").status_code == 404
    assert requests.delete(f"{url}/probe/purge", headers=bearer(token)).status_code == 404


def test_a_raising_function_is_an_empty_500(served: tuple[SandboxServer, str]) -> None:
    answer = requests.get(f"{served[1]}/bug")
    assert answer.status_code == 500 and answer.content == b""


def test_an_oversized_body_is_refused(served: tuple[SandboxServer, str]) -> None:
    answer = requests.post(f"{served[1]}/probe/x", data=b"x" * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413


def test_a_token_with_the_role_names_the_caller(served: tuple[SandboxServer, str]) -> None:
    server, url = served
    token = mint(server, roles=["Ops.Operate", "Ops.Approve"], name="dana")
    answer = requests.post(f"{url}/probe/override", json={"why": "CVE triage"}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    caller = answer.json()["caller"]
    assert caller["name"] == "Dana" and caller["kind"] == "user"
    assert caller["roles"] == ["Ops.Approve", "Ops.Operate"] and caller["tid"] == server.entra.tenant_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(server: SandboxServer, kind: str) -> str:
    tid = server.entra.tenant_id
    body = {
        "aud": server.entra.api_client_id,
        "iss": f"{server.authority}/{tid}/v2.0",
        "tid": tid,
        "oid": "o",
        "exp": int(time.time()) + 600,
        "roles": ["Ops.Read"],
    }
    payload = _b64(json.dumps(body).encode())
    kid = server.entra.signing.kid
    if kind == "none":
        return f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{payload}."
    if kind == "hs256":
        pem = server.entra.signing.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        signature = hmac.new(pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
        return f"{head}.{payload}.{_b64(signature)}"
    assert kind == "unknown-key"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(body, stranger, algorithm="RS256", headers={"kid": "not-published"})


@pytest.mark.parametrize("case", ["expired", "audience", "issuer", "unknown-key", "none", "hs256", "garbage"])
def test_invalid_tokens_get_401(served: tuple[SandboxServer, str], case: str) -> None:
    server, url = served
    token = {
        "expired": lambda: mint(server, roles=["Ops.Read"], ttl=-600),
        "audience": lambda: mint(server, roles=["Ops.Read"], audience="https://management.azure.com"),
        "issuer": lambda: mint(server, roles=["Ops.Read"], tenant="11111111-0000-4000-8000-000000000002"),
        "garbage": lambda: "abc.def",
    }.get(case, lambda: _forged(server, case))()
    answer = requests.get(f"{url}/probe/purge", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="acr-aks-ops", error="invalid_token"'
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 401 and problem["error"] == "Unauthenticated"
    assert problem["detail"] == "The access token is missing, expired or not valid for this API."


def test_no_token_gets_a_bare_challenge(served: tuple[SandboxServer, str]) -> None:
    answer = requests.get(f"{served[1]}/probe/purge")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="acr-aks-ops"'
    assert "Authorization: Bearer" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "roles", "missing"),
    [
        ("GET", [], "Ops.Read"),
        ("GET", ["Ops.Operate"], "Ops.Read"),
        ("POST", ["Ops.Read"], "Ops.Operate"),
        ("POST", ["Ops.Operate"], "Ops.Approve"),
    ],
)
def test_a_missing_role_gets_403(
    served: tuple[SandboxServer, str], method: str, roles: list[str], missing: str
) -> None:
    server, url = served
    answer = requests.request(
        method, f"{url}/probe/x", json={}, headers=bearer(mint(server, roles=roles, app=True))
    )
    assert answer.status_code == 403, answer.text
    problem = answer.json()
    assert problem["role"] == missing and problem["error"] == "NotPermitted"
    assert "WWW-Authenticate" not in answer.headers


def test_rotation_costs_one_key_fetch_and_then_none(served: tuple[SandboxServer, str]) -> None:
    server, url = served
    requests.get(f"{url}/probe/x", headers=bearer(mint(server, roles=["Ops.Read"])))
    rotate(server)
    before = entra_info(server)["jwksFetches"]
    token = mint(server, roles=["Ops.Read"])
    with requests.Session() as session:
        for _ in range(200):
            assert session.get(f"{url}/probe/x", headers=bearer(token)).status_code == 200
    assert entra_info(server)["jwksFetches"] - before == 1


def test_cli_serve_and_sandbox_token(served: tuple[SandboxServer, str], tmp_path: Path) -> None:
    server, _ = served
    env_file = tmp_path / "sandbox.env"
    server.write_env_file(env_file)
    env = {**os.environ, "OPS_STATE_PATH": str(tmp_path / "state.db")}
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops",
            "--env-file",
            str(env_file),
            "sandbox",
            "token",
            "--roles",
            "Ops.Read",
            "--app",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    claims = jwt.decode(printed.stdout.strip(), options={"verify_signature": False})
    assert claims["roles"] == ["Ops.Read"] and claims["idtyp"] == "app"
    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "--env-file", str(env_file), "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("serving the HTTP functions at http://127.0.0.1:"), line
        base = line.split(" at ")[1].split()[0]
        assert requests.get(f"{base}/health", timeout=30).json()["status"] == "ok"
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
