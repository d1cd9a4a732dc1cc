"""The gate's words and effects, exactly: what a person reads in a verdict and what each
action of a decision carries.

Cases:
- sizes print in B, KiB, MiB and GiB, switching unit exactly at 1024, 1 MiB and 1 GiB; a size
  at the maximum is within it, one byte over is over;
- required annotations and labels that are all present are named, sorted;
- a CVE's detail names its packages (sorted, once each, "unknown package" when none) and its
  fixed versions, or its fix status when there is none;
- a severity Defender does not rank counts as Low: under maxSeverity low it passes, under
  none it denies;
- a deny in lock and quarantine modes: hold, restore the moved immutable tag, untag the others
  (sorted), record and publish, every action under the new decision number with the verdict's
  reasons, and the quarantine's details naming the verdict, rule and reasons;
- a pass after a deny releases with the same reason and numbering;
- a tag pushed after a pass in lock-tags mode is released under the standing's number; in any
  other standing than pending nothing is blocked;
- nothing to do keeps the standing's number and the gate's capability.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ops.gate.blocking import LOCK, PUBLISH, QUARANTINE, RECORD, RESTORE_TAG, UNLOCK_TAG, UNTAG
from ops.gate.evidence import ImageRef, ManifestFacts, Scan, TagConflict
from ops.gate.planner import Decision, Standing, evaluate, plan_block, plan_decision
from ops.gate.policy import Mode
from ops.plan import make_key
from tests.unit.test_gate_planner import IMAGE, NOW, OTHER, evidence, finding, rule

KIB = 2**10
MIB = 2**20
GIB = 2**30


def size_message(size: int, maximum: str) -> tuple[str, str]:
    facts = ManifestFacts("application/vnd.oci.image.manifest.v1+json", size)
    verdict = evaluate(evidence(manifest=facts), rule(maxSize=maximum), now=NOW)
    (check,) = [c for c in verdict.checks if c.name == "size"]
    return str(check.result), check.message


@pytest.mark.parametrize(
    ("size", "maximum", "result", "message"),
    [
        (KIB - 1, "1KiB", "ok", "1023 B is within the maximum of 1.0 KiB"),
        (KIB, "1KiB", "ok", "1.0 KiB is within the maximum of 1.0 KiB"),
        (KIB + 1, "1KiB", "deny", "1.0 KiB is over the maximum of 1.0 KiB"),
        (MIB - 1, "1MiB", "ok", "1024.0 KiB is within the maximum of 1.0 MiB"),
        (MIB, "1MiB", "ok", "1.0 MiB is within the maximum of 1.0 MiB"),
        (3 * MIB // 2, "1MiB", "deny", "1.5 MiB is over the maximum of 1.0 MiB"),
        (GIB - 1, "1GiB", "ok", "1024.0 MiB is within the maximum of 1.0 GiB"),
        (GIB, "1GiB", "ok", "1.0 GiB is within the maximum of 1.0 GiB"),
        (5 * GIB // 2, "2GiB", "deny", "2.5 GiB is over the maximum of 2.0 GiB"),
    ],
)
def test_sizes_print_in_their_unit_and_the_maximum_is_within(
    size: int, maximum: str, result: str, message: str
) -> None:
    assert size_message(size, maximum) == (result, message)


def test_required_pairs_all_present_are_named_sorted() -> None:
    facts = ManifestFacts("m", 1, annotations={"team": "pay", "owner": "x"}, labels={"tier": "web"})
    verdict = evaluate(
        evidence(manifest=facts),
        rule(annotations={"team": "pay", "owner": ".*"}, labels={"tier": "web"}),
        now=NOW,
    )
    assert [
        (c.name, str(c.result), c.message) for c in verdict.checks if c.name in ("annotations", "labels")
    ] == [
        ("annotations", "ok", "owner, team present"),
        ("labels", "ok", "tier present"),
    ]


def cve_message(*rows: Any, **fields: Any) -> str:
    verdict = evaluate(evidence(scan=Scan(findings=rows)), rule(**fields), now=NOW)
    (check,) = [c for c in verdict.checks if c.name == "cve"]
    return check.message


def test_a_cve_detail_names_packages_once_sorted_and_fixed_versions() -> None:
    rows = [
        replace(finding("CVE-2024-9", "High"), package="zlib", fixed_version="1.3"),
        replace(finding("CVE-2024-9", "High"), package="openssl", fixed_version="3.0.9"),
        replace(finding("CVE-2024-9", "Critical"), package="zlib", fixed_version="1.3"),
    ]
    assert cve_message(*rows) == (
        "CVE-2024-9 is Critical, above the maximum medium (Critical, openssl, zlib, fixed in 1.3, 3.0.9)"
    )


def test_a_cve_without_package_or_fixed_version_says_so() -> None:
    row = replace(finding("CVE-2024-8", "High", fix="NoFixAvailable"), package="")
    assert cve_message(row) == (
        "CVE-2024-8 is High, above the maximum medium (High, unknown package, fix: NoFixAvailable)"
    )


@pytest.mark.parametrize(
    ("maximum", "decision"),
    [("low", Decision.PASS), ("none", Decision.DENY)],
)
def test_an_unranked_severity_counts_as_low(maximum: str, decision: Decision) -> None:
    rows = (finding("CVE-2024-5", "Unknown"),)
    verdict = evaluate(evidence(scan=Scan(findings=rows)), rule(maxSeverity=maximum), now=NOW)
    assert verdict.decision is decision


def denied(mode: str) -> tuple[Any, Any, Any]:
    fields: dict[str, Any] = {"mode": mode, "untagOnDeny": True, "maxSize": "1KiB"}
    if mode == "quarantine":
        fields["requireScan"] = False
    gate_rule = rule(**fields)
    ev = evidence(
        tags=("v2", "v1", "latest"),
        conflicts=(TagConflict("v1", OTHER, "v*"),),
        quarantine_enabled=True,
        manifest=ManifestFacts("application/vnd.oci.image.manifest.v1+json", size=KIB + 1),
        scan=None if mode == "quarantine" else evidence().scan,
    )
    verdict = evaluate(ev, gate_rule, now=NOW)
    return gate_rule, ev, verdict


REASONS = [
    f"immutable-tag: tag v1 is immutable (pattern v*) and already named {OTHER}; the tag is put back on it",
    "size: 1.0 KiB is over the maximum of 1.0 KiB",
]


def identity(kind: str, image: ImageRef, decision: str, number: int, tag: str | None = None) -> str:
    return make_key(kind, image.key, {"decision": decision, "number": number, "tag": tag})


@pytest.mark.parametrize("mode", ["lock", "quarantine"])
def test_a_deny_holds_restores_untags_records_and_publishes(mode: str) -> None:
    gate_rule, ev, verdict = denied(mode)
    assert list(verdict.reasons)[-2:] == REASONS
    reason = "deny: " + "; ".join(verdict.reasons)
    event = {"type": "Contoso.Gate.ImageDenied", "id": "e-1"}
    plan = plan_decision(verdict, ev, gate_rule, standing=Standing(Decision.PENDING, 2, True), event=event)
    assert plan.number == 3
    assert plan.effects.capability == plan.report.capability == "gate"
    moved = IMAGE.with_digest(OTHER)
    hold = LOCK if mode == "lock" else QUARANTINE
    assert [(a.kind, a.target, a.reason, a.key) for a in plan.effects.actions] == [
        (hold, IMAGE.key, reason, identity(hold, IMAGE, "deny", 3)),
        (
            RESTORE_TAG,
            f"{moved.key} (v1)",
            f"immutable tag v1 put back on {OTHER}, not {IMAGE.digest}",
            identity(RESTORE_TAG, moved, "deny", 3, "v1"),
        ),
        (UNTAG, f"{IMAGE.key} (latest)", f"untagged: {reason}", identity(UNTAG, IMAGE, "deny", 3, "latest")),
        (UNTAG, f"{IMAGE.key} (v2)", f"untagged: {reason}", identity(UNTAG, IMAGE, "deny", 3, "v2")),
    ]
    for action in plan.effects.actions:
        assert (action.params["decision"], action.params["number"]) == ("deny", 3)
    if mode == "quarantine":
        details = json.loads(plan.effects.actions[0].params["details"])
        assert details == {
            "state": "Failed",
            "verdict": "deny",
            "rule": "r",
            "reasons": list(verdict.reasons),
        }
    record, publish = plan.report.actions
    assert (record.kind, record.reason, record.key) == (RECORD, reason, identity(RECORD, IMAGE, "deny", 3))
    assert record.params["verdict"] == verdict.to_dict()
    assert (publish.kind, publish.reason, publish.key) == (
        PUBLISH,
        "published Contoso.Gate.ImageDenied",
        identity(PUBLISH, IMAGE, "deny", 3),
    )
    assert publish.params["event"] == event


def test_a_pass_after_a_deny_releases_under_the_next_number_with_its_reasons() -> None:
    gate_rule = rule(mode="lock")
    ev = evidence(tags=("v1",))
    verdict = evaluate(ev, gate_rule, now=NOW)
    assert verdict.decision is Decision.PASS
    plan = plan_decision(verdict, ev, gate_rule, standing=Standing(Decision.DENY, 4, True))
    assert plan.number == 5
    reason = "pass: " + "; ".join(verdict.reasons)
    assert plan.effects.actions
    for action in plan.effects.actions:
        assert action.reason == reason
        assert (action.params["decision"], action.params["number"]) == ("pass", 5)
    (record,) = plan.report.actions
    assert (record.reason, record.key) == (reason, identity(RECORD, IMAGE, "pass", 5))


@pytest.mark.parametrize("decision", [Decision.PENDING, Decision.DENY])
def test_nothing_to_do_keeps_the_number(decision: Decision) -> None:
    gate_rule = rule(mode="lock")
    ev = evidence(first_seen=NOW - timedelta(seconds=1), scan=None)
    verdict = evaluate(ev, gate_rule, now=NOW) if decision is Decision.PENDING else denied("lock")[2]
    plan = plan_decision(verdict, ev, gate_rule, standing=Standing(decision, 7, True))
    assert plan.number == 7
    assert plan.empty
    assert plan.effects.capability == plan.report.capability == "gate"


def test_a_tag_pushed_after_a_pass_is_released_under_the_standing_number() -> None:
    plan = plan_block(
        IMAGE, Mode.LOCK_TAGS, quarantine_enabled=False, standing=Standing(Decision.PASS, 3), tags=("v9",)
    )
    assert plan.capability == "gate"
    assert [
        (a.kind, a.target, a.reason, a.params["decision"], a.params["number"], a.key) for a in plan.actions
    ] == [
        (
            UNLOCK_TAG,
            f"{IMAGE.key} (v9)",
            "passed: a tag pushed after the pass stays readable",
            "pass",
            3,
            identity(UNLOCK_TAG, IMAGE, "pass", 3, "v9"),
        )
    ]


@pytest.mark.parametrize("mode", [Mode.LOCK, Mode.QUARANTINE, Mode.LOCK_TAGS])
def test_a_decided_image_is_not_blocked_again(mode: Mode) -> None:
    plan = plan_block(
        IMAGE, mode, quarantine_enabled=True, standing=Standing(Decision.DENY, 3, True), tags=("v9",)
    )
    assert plan.capability == "gate"
    assert not plan.actions


def test_a_pending_image_is_blocked_in_the_gates_name() -> None:
    plan = plan_block(IMAGE, Mode.LOCK, quarantine_enabled=False, standing=Standing())
    assert plan.capability == "gate"
    assert [a.kind for a in plan.actions] == [LOCK]
