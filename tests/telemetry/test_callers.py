"""An HTTP caller names the invocation: once its token is validated, the span and every
record carry the caller's object id, so that docs/observability.md can list a caller's
actions.

Cases:
- after Authenticator.require, the invocation span has ops.caller, and the plan and
  action records written later in the invocation carry ``caller``;
- a refused token names no caller.
"""

from __future__ import annotations

import pytest

import ops.telemetry as telemetry
from ops.auth import DEFAULT_ROLE_NAMES, Authenticator, Role
from ops.errors import Unauthenticated
from ops.executor import ExecutionPolicy, apply_plan
from ops.plan import Action, Plan
from ops.state.sqlite import SqliteStateStore
from tests.telemetry.conftest import Captured
from tests.unit.test_auth_tokens import KEYS, POLICY, claims, sign

OID = "0b5e3c1d-0000-4000-8000-0000000000aa"


def test_a_validated_caller_names_the_span_and_the_records(otel: Captured) -> None:
    authenticator = Authenticator(keys=KEYS, policy=POLICY, role_names=DEFAULT_ROLE_NAMES)
    token = sign(claims(roles=["Ops.Operate"]))
    store = SqliteStateStore(":memory:")
    plan = Plan("schedule", actions=(Action("stop_cluster", "aks-dev", "off hours", "arm"),))

    with telemetry.invocation("runbook", capability="schedule"):
        authenticator.require({"Authorization": f"Bearer {token}"}, Role.OPERATE)
        apply_plan(plan, handlers={}, store=store, policy=ExecutionPolicy(dry_run=True))

    assert otel.span("runbook").attributes["ops.caller"] == OID  # type: ignore[index]
    assert {r.caller for r in otel.records} == {OID}
    (action,) = otel.events("action")
    assert (action.action_kind, action.status, action.caller) == ("stop_cluster", "dry_run", OID)
    store.close()


def test_a_refused_token_names_no_caller(otel: Captured) -> None:
    authenticator = Authenticator(keys=KEYS, policy=POLICY, role_names=DEFAULT_ROLE_NAMES)

    with telemetry.invocation("runbook", capability="schedule"), pytest.raises(Unauthenticated):
        authenticator.require({"Authorization": "Bearer not-a-token"}, Role.OPERATE)

    assert "ops.caller" not in (otel.span("runbook").attributes or {})
