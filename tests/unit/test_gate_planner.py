"""The gate's pure evaluator and planner, as tables: evidence + rule + now → verdict → actions.

Cases:
- evaluate: every check's pass, deny and wait, and how they combine: a deny decides at
  once (even while other evidence is awaited); waiting is pending until the settle
  timeout, then the rule's onTimeout; an exception applies through its expiry day and
  not after; NotApplicable (exempt) and Healthy rows never deny; an index is scanned
  through its platform images; quarantine mode on a registry without a quarantine
  policy falls back to lock-tags, and says so; lock-tags is the default mode;
- plan_block: lock, quarantine, audit, the quarantine release on quarantining
  registries, nothing for an image already blocked or decided; lock-tags locks every tag
  (a tag pushed while pending too), releases the quarantine after its tag locks, and
  releases a tag pushed after the pass;
- plan_decision in lock-tags mode: a pass unlocks the image's and its children's tags (and
  the manifests only after an earlier deny); a deny locks the manifest and the children's;
- plan_decision: unblock on pass (children too), stay blocked and mark Failed on deny,
  re-lock after an earlier pass, restore a moved immutable tag, untag the other tags,
  record and publish; nothing when pending or unchanged; keys depend on image,
  decision and decision number, never on time; a deny in lock mode always locks, even
  when the standing says blocked (that flag may be stale), once per decision number;
- an index whose platform image was denied on its own is denied, naming the child.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ops.gate.blocking import (
    LOCK,
    LOCK_TAG,
    PUBLISH,
    QUARANTINE,
    RECORD,
    RESTORE_TAG,
    UNLOCK,
    UNLOCK_TAG,
    UNTAG,
)
from ops.gate.evidence import Evidence, Finding, ImageRef, ManifestFacts, Referrer, Scan, TagConflict
from ops.gate.planner import (
    Decision,
    Standing,
    evaluate,
    plan_block,
    plan_decision,
)
from ops.gate.policy import GateRule, Mode, load_policy

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
IMAGE = ImageRef(
    "contosoprod", "contosoprod.azurecr.io", "payments/api", "sha256:" + "a" * 64, "/subscriptions/x"
)
OTHER = "sha256:" + "b" * 64
NOTATION = "application/vnd.cncf.notary.signature"
SPDX = "application/spdx+json"


def rule(**fields: Any) -> GateRule:
    return load_policy({"gate": {"rules": [{"name": "r", **fields}]}}).rules[0]


def finding(cve: str, severity: str, status: str = "Unhealthy", fix: str = "FixAvailable") -> Finding:
    return Finding(
        digest=IMAGE.digest, cve=cve, severity=severity, status=status, fix_status=fix, package="pkg"
    )


def evidence(**fields: Any) -> Evidence:
    base: dict[str, Any] = {
        "image": IMAGE,
        "first_seen": NOW - timedelta(minutes=5),
        "tags": ("v1",),
        "manifest": ManifestFacts("application/vnd.oci.image.manifest.v1+json", size=1000),
        "scan": Scan(findings=(finding("CVE-2024-0001", "Low", status="Healthy"),)),
        "referrers": (),
    }
    return Evidence(**{**base, **fields})


CLEAN = Scan(findings=(finding("CVE-2024-0001", "Low", status="Healthy"),))


@pytest.mark.parametrize(
    ("fields", "given", "expected", "deciding"),
    [
        ({}, {"scan": None}, "pending", "scan"),
        ({}, {"scan": Scan(unscanned=(IMAGE.digest,))}, "pending", "scan"),
        ({}, {}, "pass", "scan"),
        ({"requireScan": False}, {"scan": None}, "pass", ""),
        ({}, {"scan": Scan(findings=(finding("CVE-1-1", "High"),))}, "deny", "cve"),
        ({}, {"scan": Scan(findings=(finding("CVE-1-1", "Medium"),))}, "pass", "scan"),
        ({"maxSeverity": "none"}, {"scan": Scan(findings=(finding("CVE-1-1", "Low"),))}, "deny", "cve"),
        (
            {"maxSeverity": "critical"},
            {"scan": Scan(findings=(finding("CVE-1-1", "Critical"),))},
            "pass",
            "scan",
        ),
        (
            {"maxSeverity": "critical", "denyCves": ["CVE-2024-3094"]},
            {"scan": Scan(findings=(finding("CVE-2024-3094", "Low"),))},
            "deny",
            "cve",
        ),
        ({}, {"scan": Scan(findings=(finding("CVE-1-1", "High", fix="NoFixAvailable"),))}, "deny", "cve"),
        (
            {"ignoreUnfixed": True},
            {"scan": Scan(findings=(finding("CVE-1-1", "High", fix="NoFixAvailable"),))},
            "pass",
            "scan",
        ),
        (
            {"ignoreUnfixed": True},
            {"scan": Scan(findings=(finding("CVE-1-1", "High", fix="Unknown"),))},
            "deny",
            "cve",
        ),
        (
            {},
            {"scan": Scan(findings=(finding("CVE-1-1", "Critical", status="NotApplicable"),))},
            "pass",
            "scan",
        ),
        ({"signatures": ["notation"]}, {"referrers": None}, "pending", "signatures"),
        ({"signatures": ["notation"]}, {"referrers": ()}, "pending", "signatures"),
        (
            {"signatures": ["notation", "cosign"]},
            {"referrers": (Referrer(OTHER, NOTATION),)},
            "pass",
            "signatures",
        ),
        (
            {"signatures": {"allOf": ["notation", "cosign"]}},
            {"referrers": (Referrer(OTHER, NOTATION),)},
            "pending",
            "signatures",
        ),
        ({"sbom": ["spdx"]}, {"referrers": (Referrer(OTHER, SPDX),)}, "pass", "sbom"),
        ({"annotations": ["org.opencontainers.image.source"]}, {}, "deny", "annotations"),
        (
            {"annotations": {"team": "pay.*"}},
            {"manifest": ManifestFacts("m", 1, annotations={"team": "payments"})},
            "pass",
            "annotations",
        ),
        (
            {"annotations": {"team": "pay.*"}},
            {"manifest": ManifestFacts("m", 1, annotations={"team": "web"})},
            "deny",
            "annotations",
        ),
        (
            {"labels": ["maintainer"]},
            {"manifest": ManifestFacts("m", 1, labels={"maintainer": "x"})},
            "pass",
            "",
        ),
        ({"labels": ["maintainer"]}, {}, "deny", "labels"),
        ({"maxSize": "1KiB"}, {}, "pass", "size"),
        ({"maxSize": "512B"}, {}, "deny", "size"),
        (
            {"immutableTags": ["v.*"]},
            {"conflicts": (TagConflict("v1", OTHER, "v.*"),)},
            "deny",
            "immutable-tag",
        ),
        # a known violation decides at once, even while a signature is still awaited
        (
            {"signatures": ["notation"]},
            {"scan": Scan(findings=(finding("CVE-1-1", "Critical"),))},
            "deny",
            "cve",
        ),
        ({}, {"scan": None, "first_seen": NOW - timedelta(minutes=31)}, "deny", "settle"),
        ({"onTimeout": "pass"}, {"scan": None, "first_seen": NOW - timedelta(hours=1)}, "pass", "settle"),
    ],
)
def test_evaluate(fields: dict, given: dict, expected: str, deciding: str) -> None:
    verdict = evaluate(evidence(**given), rule(**fields), now=NOW)
    assert str(verdict.decision) == expected, verdict.checks
    results = {c.name: str(c.result) for c in verdict.checks}
    if expected == "deny":
        assert results[deciding] == "deny"
    elif expected == "pending":
        assert verdict.waiting_for == (deciding,)
    elif deciding:
        assert results[deciding] in ("ok", "note") and "deny" not in results.values()


@pytest.mark.parametrize(
    ("now", "expected"),
    [(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "pass"), (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "deny")],
)
def test_an_exception_applies_through_its_expiry_day(now: datetime, expected: str) -> None:
    waived = rule(
        maxSeverity="low",
        cveExceptions=[{"cve": "CVE-2024-1111", "expires": "2026-12-31", "reason": "vendor patch due"}],
    )
    verdict = evaluate(
        evidence(first_seen=now, scan=Scan(findings=(finding("CVE-2024-1111", "High"),))), waived, now=now
    )
    assert str(verdict.decision) == expected
    messages = " ".join(c.message for c in verdict.checks)
    assert ("vendor patch due" in messages) is (expected == "pass")
    assert ("exception expired" in messages) is (expected == "deny")


def test_an_index_is_scanned_through_its_platform_images() -> None:
    index = ManifestFacts(
        "application/vnd.oci.image.index.v1+json", 500, children=(OTHER, "sha256:" + "c" * 64)
    )
    partial = Scan(findings=(finding("CVE-1-1", "Low", status="Healthy"),), unscanned=("sha256:" + "c" * 64,))
    verdict = evaluate(evidence(manifest=index, scan=partial), rule(labels=["x"], maxSize="1B"), now=NOW)
    assert verdict.decision is Decision.PENDING
    assert [c.name for c in verdict.checks] == ["labels", "scan"]  # no config labels, no size on an index


def test_quarantine_without_the_registry_policy_falls_back_to_lock_tags() -> None:
    verdict = evaluate(
        evidence(quarantine_enabled=False), rule(mode="quarantine", requireScan=False), now=NOW
    )
    assert verdict.mode is Mode.LOCK_TAGS and verdict.checks[0].name == "mode"
    assert evaluate(evidence(), rule(), now=NOW).mode is Mode.LOCK_TAGS  # the default
    assert evaluate(
        evidence(quarantine_enabled=True), rule(mode="quarantine", requireScan=False), now=NOW
    ).mode is (Mode.QUARANTINE)


@pytest.mark.parametrize(
    ("mode", "quarantine", "standing", "expected"),
    [
        (Mode.LOCK, False, Standing(), [(LOCK, None)]),
        (Mode.LOCK, True, Standing(), [(LOCK, None), (QUARANTINE, "Passed")]),
        (Mode.QUARANTINE, True, Standing(), [(QUARANTINE, "Quarantined")]),
        (Mode.AUDIT, False, Standing(), []),
        (Mode.AUDIT, True, Standing(), [(QUARANTINE, "Passed")]),
        (Mode.LOCK, False, Standing(blocked=True), []),
        (Mode.LOCK, False, Standing(decision=Decision.PASS, number=1), []),
    ],
)
def test_plan_block(mode: Mode, quarantine: bool, standing: Standing, expected: list) -> None:
    plan = plan_block(IMAGE, mode, quarantine_enabled=quarantine, standing=standing)
    assert [(a.kind, a.params.get("state")) for a in plan.actions] == expected


def _decide(
    fields: dict, given: dict, standing: Standing, *, quarantine: bool = False, children: tuple = ()
) -> Any:
    subject = evidence(quarantine_enabled=quarantine, **given)
    verdict = evaluate(subject, rule(**fields), now=NOW)
    event = {"type": f"ops.gate.{verdict.decision}", "id": "e"}
    return plan_decision(verdict, subject, rule(**fields), standing=standing, children=children, event=event)


DIRTY = {"scan": Scan(findings=(finding("CVE-1-1", "Critical"),))}
CHILD = IMAGE.with_digest(OTHER)


@pytest.mark.parametrize(
    ("fields", "given", "standing", "quarantine", "effects"),
    [
        ({"mode": "lock"}, {}, Standing(blocked=True), False, [(UNLOCK, IMAGE.digest), (UNLOCK, OTHER)]),
        (
            {"mode": "quarantine", "requireScan": False},
            {},
            Standing(blocked=True),
            True,
            [(QUARANTINE, IMAGE.digest), (QUARANTINE, OTHER)],
        ),
        ({"mode": "audit"}, {}, Standing(), False, []),
        # A stale "blocked" (effects applied, report failed) must not skip the lock.
        ({"mode": "lock"}, DIRTY, Standing(blocked=True), False, [(LOCK, IMAGE.digest)]),
        ({"mode": "lock"}, DIRTY, Standing(decision=Decision.PASS, number=1), False, [(LOCK, IMAGE.digest)]),
        (
            {"mode": "quarantine", "requireScan": False},
            DIRTY,
            Standing(blocked=True),
            True,
            [(QUARANTINE, IMAGE.digest)],
        ),
        ({"mode": "audit"}, DIRTY, Standing(), False, []),
        (
            {"mode": "lock", "untagOnDeny": True, "immutableTags": ["v.*"]},
            {**DIRTY, "tags": ("v1", "latest"), "conflicts": (TagConflict("v1", OTHER, "v.*"),)},
            Standing(blocked=True),
            False,
            [(LOCK, IMAGE.digest), (RESTORE_TAG, OTHER), (UNTAG, IMAGE.digest)],
        ),
    ],
)
def test_plan_decision_effects(
    fields: dict, given: dict, standing: Standing, quarantine: bool, effects: list
) -> None:
    plan = _decide(fields, given, standing, quarantine=quarantine, children=(CHILD,))
    assert [(a.kind, a.params["image"]["digest"]) for a in plan.effects.actions] == effects
    assert [a.kind for a in plan.report.actions] == [RECORD, PUBLISH]
    assert plan.number == standing.number + 1
    if any(kind == QUARANTINE for kind, _ in effects):
        state = plan.effects.actions[0].params["state"]
        assert state == ("Failed" if given else "Passed")
        assert plan.effects.actions[0].params["details"].startswith(f'{{"state":"{state}","verdict"')
    untags = [a.params["tag"] for a in plan.effects.actions if a.kind == UNTAG]
    assert untags in ([], ["latest"])  # the moved immutable tag is put back, not removed


@pytest.mark.parametrize(
    ("quarantine", "standing", "tags", "expected"),
    [
        (False, Standing(), ("v1",), [(LOCK_TAG, "v1")]),
        (True, Standing(), ("v1",), [(LOCK_TAG, "v1"), (QUARANTINE, None)]),
        (True, Standing(), (), [(QUARANTINE, None)]),  # pushed by digest only: nothing to lock
        (False, Standing(blocked=True), ("v1", "latest"), [(LOCK_TAG, "v1"), (LOCK_TAG, "latest")]),
        (False, Standing(decision=Decision.PASS, number=1), ("stable",), [(UNLOCK_TAG, "stable")]),
        (False, Standing(decision=Decision.DENY, number=1), ("v2",), []),  # the manifest is locked
    ],
)
def test_plan_block_in_lock_tags_mode(
    quarantine: bool, standing: Standing, tags: tuple, expected: list
) -> None:
    plan = plan_block(IMAGE, Mode.LOCK_TAGS, quarantine_enabled=quarantine, standing=standing, tags=tags)
    assert [(a.kind, a.params.get("tag")) for a in plan.actions] == expected
    first = plan_block(IMAGE, Mode.LOCK_TAGS, quarantine_enabled=False, standing=Standing(), tags=("v1",))
    again = plan_block(
        IMAGE, Mode.LOCK_TAGS, quarantine_enabled=False, standing=Standing(blocked=True), tags=("v1",)
    )
    assert {a.key for a in first.actions} == {a.key for a in again.actions}  # locked once per tag


@pytest.mark.parametrize(
    ("given", "standing", "effects"),
    [
        (
            {"tags": ("v1",)},
            Standing(blocked=True),
            [(UNLOCK_TAG, IMAGE.digest, "v1"), (UNLOCK_TAG, OTHER, "amd64")],
        ),
        (
            {"tags": ("v1",)},
            Standing(decision=Decision.DENY, number=1, blocked=True),
            [
                (UNLOCK, IMAGE.digest, None),
                (UNLOCK, OTHER, None),
                (UNLOCK_TAG, IMAGE.digest, "v1"),
                (UNLOCK_TAG, OTHER, "amd64"),
            ],
        ),
        (
            {**DIRTY, "tags": ("v1",)},
            Standing(blocked=True),
            [(LOCK, IMAGE.digest, None), (LOCK, OTHER, None)],
        ),
    ],
)
def test_plan_decision_in_lock_tags_mode(given: dict, standing: Standing, effects: list) -> None:
    subject = evidence(**given)
    verdict = evaluate(subject, rule(), now=NOW)
    plan = plan_decision(
        verdict, subject, rule(), standing=standing, children=(CHILD,), children_tags=((CHILD, "amd64"),)
    )
    assert [
        (a.kind, a.params["image"]["digest"], a.params.get("tag")) for a in plan.effects.actions
    ] == effects


def test_nothing_to_do_when_pending_or_unchanged() -> None:
    assert _decide({}, {"scan": None}, Standing(blocked=True)).empty
    assert _decide({}, {}, Standing(decision=Decision.PASS, number=1)).empty


def test_keys_name_the_decision_not_the_time() -> None:
    subject = evidence()
    first = evaluate(subject, rule(), now=NOW)
    later = evaluate(subject, rule(), now=NOW + timedelta(minutes=3))
    key = [
        a.key for a in plan_decision(first, subject, rule(), standing=Standing(blocked=True)).effects.actions
    ]
    again = [
        a.key for a in plan_decision(later, subject, rule(), standing=Standing(blocked=True)).effects.actions
    ]
    assert key == again
    flipped = plan_decision(first, subject, rule(), standing=Standing(decision=Decision.DENY, number=3))
    assert [a.key for a in flipped.effects.actions] != key and flipped.number == 4


def test_a_deny_in_lock_mode_locks_even_when_recorded_as_blocked() -> None:
    plan = _decide({}, DIRTY, Standing(decision=Decision.PENDING, number=2, blocked=True))
    locks = [a for a in plan.effects.actions if a.kind == LOCK]
    assert len(locks) == 1 and locks[0].params["number"] == 3  # once per decision number


def test_an_index_with_a_child_denied_on_its_own_is_denied() -> None:
    index = ManifestFacts("application/vnd.oci.image.index.v1+json", size=500, children=(OTHER,))
    verdict = evaluate(evidence(manifest=index, denied_children=(OTHER,)), rule(), now=NOW)
    assert verdict.decision is Decision.DENY
    assert any(OTHER in reason and "denied on its own" in reason for reason in verdict.reasons)
    assert evaluate(evidence(manifest=index), rule(), now=NOW).decision is Decision.PASS
