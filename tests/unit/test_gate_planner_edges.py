"""The gate's evaluator at its edges: whole-value matching, all-versus-any over a CVE's rows,
and both sides of the settle deadline.

Cases:
- a required annotation or label pattern matches the whole value: ``pay`` passes ``pay``
  and denies ``payments-evil``, ``xpay`` and ``pay\\n``; the deny names the key, the value
  and the pattern; a missing key is named as missing;
- ``ignoreUnfixed`` ignores a CVE only when every unhealthy row of it has no fix: one
  fixable package among unfixed ones still denies;
- the settle deadline: one instant before it the verdict is pending, at it the rule's
  onTimeout decides, and the message says when and what was awaited;
- the severity ceiling: exactly the maximum passes, one above denies.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ops.gate.evidence import ManifestFacts, Scan
from ops.gate.planner import Decision, evaluate
from tests.unit.test_gate_planner import NOW, evidence, finding, rule


def messages(verdict: Any, name: str) -> list[str]:
    return [c.message for c in verdict.checks if c.name == name]


@pytest.mark.parametrize("field", ["annotations", "labels"])
@pytest.mark.parametrize(
    ("value", "passes"),
    [
        ("pay", True),
        ("payments-evil", False),
        ("xpay", False),
        ("pay\n", False),
    ],
)
def test_a_required_pattern_matches_the_whole_value(field: str, value: str, passes: bool) -> None:
    facts = ManifestFacts("m", 1, **{field: {"team": value}})
    verdict = evaluate(evidence(manifest=facts), rule(**{field: {"team": "pay"}}), now=NOW)
    assert verdict.decision is (Decision.PASS if passes else Decision.DENY)
    noun = field[:-1]
    if not passes:
        assert messages(verdict, field) == [f"{noun} team={json.dumps(value)} does not match pay"]


def test_a_missing_required_key_is_named() -> None:
    facts = ManifestFacts("m", 1, annotations={"other": "x"})
    verdict = evaluate(evidence(manifest=facts), rule(annotations={"team": "pay", "owner": ".*"}), now=NOW)
    assert verdict.decision is Decision.DENY
    assert messages(verdict, "annotations") == ["annotation owner is missing; annotation team is missing"]


@pytest.mark.parametrize(
    ("fixes", "decision"),
    [
        pytest.param(("NoFixAvailable", "NoFixAvailable"), Decision.PASS, id="no-row-has-a-fix"),
        pytest.param(("NoFixAvailable", "FixAvailable"), Decision.DENY, id="one-fixable-row-denies"),
        pytest.param(("FixAvailable", "NoFixAvailable"), Decision.DENY, id="in-either-order"),
    ],
)
def test_ignore_unfixed_needs_every_row_unfixed(fixes: tuple[str, str], decision: Decision) -> None:
    rows = tuple(finding("CVE-2024-7", "High", fix=fix) for fix in fixes)
    verdict = evaluate(evidence(scan=Scan(findings=rows)), rule(ignoreUnfixed=True), now=NOW)
    assert verdict.decision is decision


@pytest.mark.parametrize(
    ("elapsed", "decision"),
    [
        pytest.param(
            timedelta(minutes=30) - timedelta(microseconds=1), Decision.PENDING, id="an-instant-before"
        ),
        pytest.param(timedelta(minutes=30), Decision.DENY, id="at-the-deadline"),
    ],
)
def test_settle_deadline_boundary(elapsed: timedelta, decision: Decision) -> None:
    first_seen = NOW - elapsed
    verdict = evaluate(evidence(scan=None, first_seen=first_seen), rule(settleTimeout="30m"), now=NOW)
    assert verdict.decision is decision
    if decision is Decision.DENY:
        deadline = (first_seen + timedelta(minutes=30)).isoformat(timespec="seconds")
        assert messages(verdict, "settle") == [
            f"settle timeout of 30m after the push passed at {deadline} "
            "while waiting for scan; onTimeout is deny"
        ]


@pytest.mark.parametrize(
    ("severity", "decision"),
    [("Medium", Decision.PASS), ("High", Decision.DENY), ("Low", Decision.PASS)],
)
def test_severity_ceiling_boundary(severity: str, decision: Decision) -> None:
    scan = Scan(findings=(finding("CVE-2024-9", severity),))
    verdict = evaluate(evidence(scan=scan), rule(maxSeverity="medium"), now=NOW)
    assert verdict.decision is decision
