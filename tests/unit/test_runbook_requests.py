"""Runbook requests (ops.runbooks.requests) and parameters (ops.runbooks.params).

Cases:
- defaults for an empty body; a full body (params of every shape, planDigest, reason);
- invalid bodies name the field path: a name mismatch, unknown fields (including the
  identity fields a caller might try: requestedBy), wrong types, nested or null params,
  bad parameter names, too many params, long text, a planDigest that is not SHA-256 hex,
  a long reason, a body that is not an object, bad JSON, an oversized body;
- each runbook's parameter model refuses what an adapter could not take safely
  (registry and repository grammars, an override by tag, a duration over its grammar,
  a cluster name with a path, snooze without until or clear) with ``params.<field>``;
- the plan digest ignores run ids and reason wording but not targets or parameters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.errors import InvalidInput
from ops.plan import Action, Guard, Plan
from ops.runbooks.digests import plan_digest
from ops.runbooks.params import ClusterParams, ImageParams, OverrideParams, PurgeParams, SnoozeParams
from ops.runbooks.requests import RunbookRequest, parse_runbook_request, validate_model

DIGEST = "sha256:" + "a" * 64


def test_defaults() -> None:
    for body in (None, b"", "  ", {}):
        request = parse_runbook_request("purge", body)
        assert request == RunbookRequest(name="purge")
        assert request.params == {} and request.plan_digest is None and request.reason is None


def test_a_full_body() -> None:
    body = {
        "params": {"registry": "demo", "keep": 3, "dry": False, "ratio": 0.5, "repos": ["a", "b"]},
        "planDigest": "0" * 64,
        "reason": "INC-42",
    }
    request = parse_runbook_request("purge", json.dumps(body).encode())
    assert request.params == body["params"]
    assert (request.plan_digest, request.reason) == ("0" * 64, "INC-42")
    assert parse_runbook_request("purge", {"name": "purge"}).name == "purge"


INVALID: list[tuple[str, Any, str, str]] = [
    ("name mismatch", {"name": "failover"}, "name", "route's runbook name"),
    ("identity in the body", {"requestedBy": "someone-else"}, "requestedBy", "no such field"),
    ("apply is not a field", {"apply": True}, "apply", "no such field"),
    ("body is an array", b"[]", "<root>", "a JSON object"),
    ("bad json", b"{apply}", "<root>", "valid JSON"),
    ("nested param", {"params": {"x": {"a": 1}}}, "params.x", "a string"),
    ("nested list param", {"params": {"x": [[1]]}}, "params.x", "a list"),
    ("null param", {"params": {"x": None}}, "params.x", "a string"),
    ("params not object", {"params": ["x"]}, "params", "dictionary"),
    ("bad param name", {"params": {"bad key": 1}}, "params", "parameter names"),
    ("too many params", {"params": {f"p{i}": i for i in range(65)}}, "params", "at most 64"),
    ("long param text", {"params": {"x": "y" * 4097}}, "params.x", "at most 4096"),
    ("digest not hex", {"planDigest": "xyz"}, "planDigest", "matching"),
    ("reason too long", {"reason": "r" * 1001}, "reason", "at most 1000"),
    ("body too large", b" " + b"x" * (64 * 1024), "<root>", "at most"),
]


@pytest.mark.parametrize(("body", "path", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_bodies_name_the_path(body: Any, path: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_runbook_request("purge", body)
    assert raised.value.path == path
    assert expected in raised.value.expected


PARAMS: list[tuple[str, type, dict[str, Any], str]] = [
    ("registry too short", PurgeParams, {"registry": "abc"}, "params.registry"),
    ("registry with a dot", PurgeParams, {"registry": "contoso.azurecr.io"}, "params.registry"),
    ("repository uppercase", PurgeParams, {"registry": "contoso", "repository": "App"}, "params.repository"),
    ("repository escape", PurgeParams, {"registry": "contoso", "repository": "../x"}, "params.repository"),
    ("missing registry", PurgeParams, {}, "params.registry"),
    ("unknown parameter", PurgeParams, {"registry": "contoso", "regsitry": "x"}, "params.regsitry"),
    ("image without digest or tag", ImageParams, {"image": "contoso/app"}, "params.image"),
    (
        "override by tag",
        OverrideParams,
        {"image": "contoso/app:1", "reason": "r" * 12, "expires": "1d"},
        "params.image",
    ),
    (
        "override short reason",
        OverrideParams,
        {"image": f"contoso/app@{DIGEST}", "reason": "x", "expires": "1d"},
        "params.reason",
    ),
    (
        "override bad duration",
        OverrideParams,
        {"image": f"contoso/app@{DIGEST}", "reason": "r" * 12, "expires": "1 week"},
        "params.expires",
    ),
    ("cluster path", ClusterParams, {"cluster": "aks/../x"}, "params.cluster"),
    ("snooze neither", SnoozeParams, {"cluster": "aks-dev"}, "params"),
    ("snooze both", SnoozeParams, {"cluster": "aks-dev", "until": "3h", "clear": True}, "params"),
]


@pytest.mark.parametrize(("model", "value", "path"), [c[1:] for c in PARAMS], ids=[c[0] for c in PARAMS])
def test_parameters_are_checked_before_any_io(model: type, value: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_model(model, value, ("params",))
    assert raised.value.path == path


def test_valid_parameters() -> None:
    assert (
        validate_model(PurgeParams, {"registry": "contoso", "repository": "team/app"}).repository
        == "team/app"
    )
    assert validate_model(ImageParams, {"image": "contoso.azurecr.io/app:v1.2"}).image.endswith(":v1.2")
    assert validate_model(SnoozeParams, {"cluster": "aks-dev", "clear": "true"}).clear is True
    override = {
        "image": f"contoso/app@{DIGEST}",
        "reason": "CVE-2026-1 has no fix; risk accepted",
        "expires": "7d",
    }
    assert validate_model(OverrideParams, override).expires == "7d"


def _plan(run: str, reason: str, target: str = "t1", keep: int = 3) -> Plan:
    action = Action("delete", target, reason, "acr:x", {"run": run, "keep": keep}, key=run)
    return Plan("purge", actions=(action,), protected=(Guard("t9", f"protected: {reason}"),))


def test_the_digest_covers_what_the_plan_does_only() -> None:
    base = plan_digest(_plan("run-1", "older than 30d (age 40d)"))
    assert plan_digest(_plan("run-2", "older than 30d (age 41d)")) == base
    assert plan_digest(_plan("run-1", "x", target="t2")) != base
    assert plan_digest(_plan("run-1", "x", keep=4)) != base
    assert len(base) == 64
