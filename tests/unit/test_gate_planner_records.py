"""The gate's stored shapes and small plans: what a verdict and an override look like on
disk, and the release of an image the gate does not hold.

Cases:
- a check and a verdict are stored with fixed field names, and read back equal; a stored
  verdict without checks, rule or mode reads as none, "" and lock-tags;
- an override is stored with its fields as ISO instants and read back equal; it is active
  for its own digest only, up to an instant before ``until`` and not at ``until``;
- a verdict's reasons: the denials for a deny, the waits for pending, every check but the
  notes for a pass, and every check when nothing else is left; waiting_for names each
  awaited check once, in order;
- plan_release marks the quarantine Passed with the reason as its details, under the key
  of a pass with decision number 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ops.gate.blocking import QUARANTINE
from ops.gate.planner import Check, Decision, Override, Result, Verdict, plan_release
from ops.gate.policy import Mode
from ops.plan import make_key
from tests.unit.test_gate_planner import IMAGE, NOW, OTHER

UNTIL = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_check_is_stored_with_fixed_field_names() -> None:
    check = Check("cve", Result.DENY, "CVE-1 is High")
    stored = check.to_dict()
    assert stored == {"check": "cve", "result": "deny", "message": "CVE-1 is High"}
    assert Check.from_dict(stored) == check
    assert Check.from_dict(stored).result is Result.DENY


def test_a_verdict_is_stored_and_read_back() -> None:
    checks = (
        Check("scan", Result.WAIT, "no scan yet"),
        Check("signature", Result.WAIT, "no signature yet"),
        Check("scan", Result.WAIT, "still none"),
        Check("tags", Result.OK, "v1"),
    )
    verdict = Verdict(Decision.PENDING, checks, "prod", Mode.QUARANTINE, NOW)
    stored = verdict.to_dict()
    assert stored == {
        "decision": "pending",
        "rule": "prod",
        "mode": "quarantine",
        "at": "2026-11-26T12:00:00+00:00",
        "waitingFor": ["scan", "signature"],
        "checks": [c.to_dict() for c in checks],
    }
    back = Verdict.from_dict(json.loads(json.dumps(stored)))
    assert back == verdict
    assert back.mode is Mode.QUARANTINE
    assert back.decision is Decision.PENDING


def test_a_stored_verdict_without_optional_fields_reads_with_defaults() -> None:
    back = Verdict.from_dict({"decision": "deny", "at": "2026-11-26T12:00:00+00:00"})
    assert back == Verdict(Decision.DENY, (), "", Mode.LOCK_TAGS, NOW)
    nulls = Verdict.from_dict(
        {"decision": "pass", "at": "2026-11-26T12:00:00+00:00", "checks": None, "rule": None, "mode": None}
    )
    assert (nulls.checks, nulls.rule, nulls.mode) == ((), "", Mode.LOCK_TAGS)


@pytest.mark.parametrize(
    ("decision", "reasons"),
    [
        (Decision.DENY, ("cve: CVE-1 is High",)),
        (Decision.PENDING, ("scan: no scan yet",)),
        (Decision.PASS, ("scan: no scan yet", "cve: CVE-1 is High", "tags: v1")),
    ],
)
def test_a_verdicts_reasons_are_the_checks_that_decided(decision: Decision, reasons: tuple[str, ...]) -> None:
    checks = (
        Check("scan", Result.WAIT, "no scan yet"),
        Check("cve", Result.DENY, "CVE-1 is High"),
        Check("mode", Result.NOTE, "a note"),
        Check("tags", Result.OK, "v1"),
    )
    assert Verdict(decision, checks, "r", Mode.LOCK_TAGS, NOW).reasons == reasons


def test_a_deny_without_denials_gives_every_check_but_the_notes_and_only_notes_give_all() -> None:
    checks = (Check("tags", Result.OK, "v1"), Check("mode", Result.NOTE, "a note"))
    assert Verdict(Decision.DENY, checks, "r", Mode.LOCK_TAGS, NOW).reasons == ("tags: v1",)
    notes = (Check("mode", Result.NOTE, "a note"),)
    assert Verdict(Decision.PASS, notes, "r", Mode.LOCK_TAGS, NOW).reasons == ("mode: a note",)


def test_an_override_is_stored_and_read_back() -> None:
    override = Override(IMAGE.digest, "hotfix for INC-7", UNTIL, "alice@contoso.com", NOW)
    stored = override.to_dict()
    assert stored == {
        "digest": IMAGE.digest,
        "reason": "hotfix for INC-7",
        "until": "2026-12-01T09:30:00+00:00",
        "by": "alice@contoso.com",
        "at": "2026-11-26T12:00:00+00:00",
    }
    assert Override.from_dict(json.loads(json.dumps(stored))) == override


@pytest.mark.parametrize(
    ("digest", "now", "active"),
    [
        pytest.param(IMAGE.digest, UNTIL - timedelta(microseconds=1), True, id="an-instant-before-until"),
        pytest.param(IMAGE.digest, UNTIL, False, id="at-until"),
        pytest.param(IMAGE.digest, UNTIL + timedelta(days=1), False, id="after"),
        pytest.param(OTHER, NOW, False, id="another-digest"),
    ],
)
def test_an_override_is_active_for_its_digest_until_its_end(digest: str, now: datetime, active: bool) -> None:
    override = Override(IMAGE.digest, "hotfix", UNTIL, "alice", NOW)
    assert override.active(digest, now) is active


def test_plan_release_passes_the_quarantine_with_its_reason() -> None:
    plan = plan_release(IMAGE, "a signature: verifiers must read it")
    assert plan.capability == "gate"
    (action,) = plan.actions
    assert action.kind == QUARANTINE
    assert action.target == IMAGE.key
    assert action.reason == "a signature: verifiers must read it"
    assert action.params["state"] == "Passed"
    assert (action.params["decision"], action.params["number"]) == ("pass", 0)
    assert json.loads(action.params["details"]) == {
        "state": "Passed",
        "reason": "a signature: verifiers must read it",
    }
    assert action.key == make_key(QUARANTINE, IMAGE.key, {"decision": "pass", "number": 0, "tag": None})
