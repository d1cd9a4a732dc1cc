"""The gate's pure evaluator: evidence + rule + now → a verdict with its reasons, and the actions it needs.

:func:`evaluate` runs every check of the rule over the evidence. Each check says
``ok``, ``deny``, ``wait`` (evidence may still arrive) or ``note``. Any ``deny``
decides at once, because no later evidence can undo a known violation; otherwise an
image waiting for evidence stays pending until the rule's settle timeout, and then
gets the rule's ``onTimeout`` verdict; an image with nothing to wait for passes.

:func:`plan_block` is what a push does before anything is known (lock the tags or the
manifest, quarantine, or nothing in audit mode); :func:`plan_decision` is what a changed
verdict does: unblock on pass; on deny, stay blocked (the manifest locked too in
``lock-tags`` mode), mark the quarantine Failed with details, put back a moved immutable
tag, and optionally untag; then record and publish the verdict. What each mode locks and
releases is :mod:`ops.gate.blocking`.
Action keys name the image, the verdict and the decision number, so a replayed event,
a second tag of the same digest or an overlapping sweep applies each effect once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ops.gate import blocking
from ops.gate.blocking import PUBLISH, RECORD, RESTORE_TAG, UNTAG, make_action, quarantine_action
from ops.gate.evidence import Evidence, Finding, ImageRef, Referrer
from ops.gate.policy import SEVERITIES, GateRule, Mode, Requirement
from ops.plan import Action, Plan
from ops.policies import format_duration

CAPABILITY = "gate"

#: Defender fix statuses that mean "no fix to install now".
NO_FIX = frozenset({"NoFixAvailable", "WontFix", "Scheduled"})


class Decision(StrEnum):
    PASS = "pass"
    DENY = "deny"
    PENDING = "pending"


class Result(StrEnum):
    OK = "ok"
    DENY = "deny"
    WAIT = "wait"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Check:
    """One finding of the evaluation: which check, what it concluded, and why, in words."""

    name: str
    result: Result
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "result": str(self.result), "message": self.message}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Check:
        return cls(str(value["check"]), Result(value["result"]), str(value["message"]))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one evaluation. ``mode`` is the mode in effect for the image's registry."""

    decision: Decision
    checks: tuple[Check, ...]
    rule: str
    mode: Mode
    at: datetime

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.name for c in self.checks if c.result is Result.WAIT))

    @property
    def reasons(self) -> tuple[str, ...]:
        """The checks that decided: denials for a deny, waits for pending, the rest for a pass."""
        wanted = {Decision.DENY: Result.DENY, Decision.PENDING: Result.WAIT}.get(self.decision)
        chosen = [c for c in self.checks if c.result is wanted] if wanted else []
        if self.decision is Decision.PASS or not chosen:
            chosen = [c for c in self.checks if c.result is not Result.NOTE] or list(self.checks)
        return tuple(f"{c.name}: {c.message}" for c in chosen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": str(self.decision),
            "rule": self.rule,
            "mode": str(self.mode),
            "at": self.at.isoformat(),
            "waitingFor": list(self.waiting_for),
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Verdict:
        return cls(
            decision=Decision(value["decision"]),
            checks=tuple(Check.from_dict(c) for c in value.get("checks") or ()),
            rule=str(value.get("rule") or ""),
            mode=Mode(value.get("mode") or Mode.LOCK_TAGS),
            at=datetime.fromisoformat(str(value["at"])),
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an image stands before this evaluation: its last decision, and whether it is blocked."""

    decision: Decision = Decision.PENDING
    number: int = 0  # how many times the decision has changed; part of every action key
    blocked: bool = False


# ------------------------------------------------------------------------------ evaluation


def effective_mode(rule: GateRule, quarantine_enabled: bool) -> tuple[Mode, str | None]:
    """The mode the registry allows, and a note when it differs from the rule's."""
    if rule.mode is Mode.QUARANTINE and not quarantine_enabled:
        note = "the registry's quarantine policy is disabled, so the image's tags are locked instead"
        return Mode.LOCK_TAGS, note
    return rule.mode, None


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's decision to let one digest through despite the gate, until ``until``.

    Set only by the ``gate-override`` runbook (``Ops.Approve``): who (``by``), why, when.
    It names a digest, never a tag, so a re-push under the same tag is gated again.
    """

    digest: str
    reason: str
    until: datetime
    by: str
    at: datetime

    def active(self, digest: str, now: datetime) -> bool:
        return digest == self.digest and now < self.until

    def to_dict(self) -> dict[str, str]:
        return {
            "digest": self.digest,
            "reason": self.reason,
            "until": self.until.isoformat(),
            "by": self.by,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Override:
        return cls(
            digest=str(value["digest"]),
            reason=str(value["reason"]),
            until=datetime.fromisoformat(str(value["until"])),
            by=str(value["by"]),
            at=datetime.fromisoformat(str(value["at"])),
        )


def evaluate(
    evidence: Evidence, rule: GateRule, *, now: datetime, override: Override | None = None
) -> Verdict:
    """Every check of ``rule`` over ``evidence``, and the decision they make at ``now``.

    An active ``override`` for the image's digest turns a deny or a wait into a pass,
    with the override named among the checks; the checks themselves are still shown.
    """
    mode, mode_note = effective_mode(rule, evidence.quarantine_enabled)
    checks: list[Check] = [Check("mode", Result.NOTE, mode_note)] if mode_note else []
    checks += check_tags(evidence)
    checks += check_children(evidence)
    checks += check_manifest(evidence, rule)
    checks += check_referrers("signatures", rule.signatures, evidence.referrers)
    checks += check_referrers("sbom", rule.sbom, evidence.referrers)
    checks += check_scan(evidence, rule, now=now)
    decision = Decision.PASS
    if any(c.result is Result.DENY for c in checks):
        decision = Decision.DENY
    elif any(c.result is Result.WAIT for c in checks):
        deadline = evidence.first_seen + rule.settle_timeout
        if now < deadline:
            decision = Decision.PENDING
        else:
            waiting = ", ".join(dict.fromkeys(c.name for c in checks if c.result is Result.WAIT))
            decision = Decision.DENY if rule.on_timeout == "deny" else Decision.PASS
            message = (
                f"settle timeout of {format_duration(rule.settle_timeout)} after the push passed at "
                f"{deadline.isoformat(timespec='seconds')} while waiting for {waiting}; "
                f"onTimeout is {rule.on_timeout}"
            )
            checks.append(Check("settle", Result.DENY if decision is Decision.DENY else Result.NOTE, message))
    if override is not None and override.active(evidence.image.digest, now):
        was = "" if decision is Decision.PASS else f" (would be {decision})"
        message = f"allowed by {override.by} until {override.until.isoformat()}{was}: {override.reason}"
        checks.append(Check("override", Result.NOTE, message))
        decision = Decision.PASS
    return Verdict(decision=decision, checks=tuple(checks), rule=rule.name, mode=mode, at=now)


def check_tags(evidence: Evidence) -> list[Check]:
    return [
        Check(
            "immutable-tag",
            Result.DENY,
            f"tag {c.tag} is immutable (pattern {c.pattern}) and already named {c.previous}; "
            "the tag is put back on it",
        )
        for c in evidence.conflicts
    ]


def check_children(evidence: Evidence) -> list[Check]:
    """An index whose platform image was denied on its own is denied too: passing the index
    would release that image with it."""
    return [
        Check("platform", Result.DENY, f"platform image {digest} was denied on its own")
        for digest in evidence.denied_children
    ]


def check_manifest(evidence: Evidence, rule: GateRule) -> list[Check]:
    manifest = evidence.manifest
    wanted = rule.annotations or rule.labels or rule.max_size is not None
    if not wanted:
        return []
    if manifest is None:
        return [Check("manifest", Result.WAIT, "the manifest has not been read yet")]
    checks = _check_pairs("annotations", "annotation", rule.annotations, manifest.annotations)
    if rule.labels and manifest.is_index:
        checks.append(
            Check("labels", Result.NOTE, "an index has no config; its platform images carry labels")
        )
    else:
        checks += _check_pairs("labels", "label", rule.labels, manifest.labels)
    if rule.max_size is not None and not manifest.is_index:
        over = manifest.size > rule.max_size
        checks.append(
            Check(
                "size",
                Result.DENY if over else Result.OK,
                f"{_bytes(manifest.size)} {'is over' if over else 'is within'} the maximum of "
                f"{_bytes(rule.max_size)}",
            )
        )
    return checks


def _check_pairs(
    name: str, noun: str, required: Sequence[tuple[str, Any]], present: Mapping[str, str]
) -> list[Check]:
    if not required:
        return []
    problems = []
    for key, pattern in required:
        value = present.get(key)
        if value is None:
            problems.append(f"{noun} {key} is missing")
        elif not pattern.fullmatch(value):
            problems.append(f"{noun} {key}={json.dumps(value)} does not match {pattern.pattern}")
    if problems:
        return [Check(name, Result.DENY, "; ".join(problems))]
    return [Check(name, Result.OK, f"{', '.join(k for k, _ in required)} present")]


def check_referrers(
    name: str, requirement: Requirement | None, referrers: Sequence[Referrer] | None
) -> list[Check]:
    if requirement is None:
        return []
    if referrers is None:
        return [Check(name, Result.WAIT, "the referrers have not been listed yet")]
    found = {r.artifact_type: r.digest for r in referrers if r.artifact_type in requirement.types}
    satisfied = set(found) == set(requirement.types) if requirement.require_all else bool(found)
    if satisfied:
        shown = ", ".join(f"{kind} ({digest})" for kind, digest in found.items())
        return [Check(name, Result.OK, f"found {shown}")]
    missing = [t for t in requirement.types if t not in found]
    return [Check(name, Result.WAIT, f"needs {requirement.describe()}; missing {', '.join(missing)}")]


def check_scan(evidence: Evidence, rule: GateRule, *, now: datetime) -> list[Check]:
    """Defender's findings against the severity ceiling, the deny list and the exceptions."""
    scan = evidence.scan
    if scan is None or not scan.complete:
        unscanned = ", ".join(scan.unscanned) if scan else evidence.image.digest
        if rule.require_scan:
            return [Check("scan", Result.WAIT, f"Defender has not reported on {unscanned} yet")]
        if scan is None or not scan.findings:
            return [Check("scan", Result.NOTE, "not required by the rule, and not reported yet")]
    assert scan is not None
    checks: list[Check] = []
    allowed = 0
    for cve, rows in _by_cve(scan.findings).items():
        unhealthy = [r for r in rows if r.status == "Unhealthy"]
        if not unhealthy:
            continue
        severity = max((r.severity for r in unhealthy), key=_rank)
        detail = _finding_detail(unhealthy, severity)
        waiver = next((w for w in rule.exceptions if w.cve == cve), None)
        if cve in rule.deny_cves:
            checks.append(Check("cve", Result.DENY, f"{cve} is on the deny list ({detail})"))
        elif waiver is not None and now < waiver.until:
            until = waiver.until.isoformat(timespec="seconds")
            checks.append(
                Check("exception", Result.NOTE, f"{cve} ({detail}) allowed until {until}: {waiver.reason}")
            )
        elif rule.ignore_unfixed and all(r.fix_status in NO_FIX for r in unhealthy):
            checks.append(Check("cve", Result.NOTE, f"{cve} ({detail}) ignored: no fix to install"))
        elif _rank(severity) > _rank(rule.max_severity):
            expired = (
                f"; its exception expired at {waiver.until.isoformat(timespec='seconds')}" if waiver else ""
            )
            checks.append(
                Check(
                    "cve",
                    Result.DENY,
                    f"{cve} is {severity}, above the maximum {rule.max_severity.lower()} ({detail}){expired}",
                )
            )
        else:
            allowed += 1
    exempt = sum(1 for f in scan.findings if f.status == "NotApplicable")
    reported = len({f.cve for f in scan.findings if f.status == "Unhealthy"})
    summary = f"scanned: {reported} vulnerability(ies)" if reported else "scanned: no vulnerabilities"
    if allowed:
        summary += f"; {allowed} at or below {rule.max_severity.lower()}"
    if exempt:
        summary += f"; {exempt} exempted in Defender"
    if not any(c.result is Result.DENY for c in checks):
        checks.insert(0, Check("scan", Result.OK, summary))
    return checks


def _by_cve(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.cve, []).append(finding)
    return out


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else (-1 if severity == "None" else 0)


def _finding_detail(rows: Sequence[Finding], severity: str) -> str:
    packages = ", ".join(sorted({f"{r.package}" for r in rows if r.package})) or "unknown package"
    fixed = sorted({r.fixed_version for r in rows if r.fixed_version})
    fix = f"fixed in {', '.join(fixed)}" if fixed else f"fix: {rows[0].fix_status}"
    return f"{severity}, {packages}, {fix}"


def _bytes(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


# -------------------------------------------------------------------------------- actions


def plan_block(
    image: ImageRef,
    mode: Mode,
    *,
    quarantine_enabled: bool,
    standing: Standing,
    tags: Sequence[str] = (),
) -> Plan:
    """What a push does at once: lock (the tags, or the manifest), or (re)quarantine; in audit
    mode nothing is blocked. In ``lock-tags`` mode a tag pushed while its digest is pending is
    locked too; a tag pushed once the image passed is released (it may carry a lock the gate
    set for the digest it named before). See :mod:`ops.gate.blocking`.
    """
    if standing.decision is Decision.PASS and mode is Mode.LOCK_TAGS:
        reason = "passed: a tag pushed after the pass stays readable"
        tagged = [(image, tag) for tag in tags]
        return Plan(
            CAPABILITY, actions=tuple(blocking.release_tag_effects(tagged, reason, "pass", standing.number))
        )
    if standing.decision is not Decision.PENDING:
        return Plan(CAPABILITY)
    actions = blocking.block_effects(
        image, mode, quarantine_enabled=quarantine_enabled, blocked=standing.blocked, tags=tags
    )
    return Plan(CAPABILITY, actions=actions)


def plan_release(image: ImageRef, why: str) -> Plan:
    """Release an image ACR quarantined that the gate does not hold: a referrer (verifiers must
    read signatures), or a platform image of an index that already passed."""
    return Plan(CAPABILITY, actions=(quarantine_action(image, "Passed", why, str(Decision.PASS), 0),))


@dataclass(frozen=True, slots=True)
class DecisionPlan:
    """The effects of a changed verdict, then its record and publication (applied in that order)."""

    effects: Plan
    report: Plan
    number: int  # the new decision number

    @property
    def empty(self) -> bool:
        return not self.effects.actions and not self.report.actions


def plan_decision(
    verdict: Verdict,
    evidence: Evidence,
    rule: GateRule,
    *,
    standing: Standing,
    children: Sequence[ImageRef] = (),
    children_tags: Sequence[tuple[ImageRef, str]] = (),
    event: Mapping[str, Any] | None = None,
) -> DecisionPlan:
    """The actions a verdict needs, or none when it is pending or unchanged.

    ``children`` are an index's platform images, released (or held) with it, and
    ``children_tags`` their tags. ``event`` is the CloudEvent to publish (None when no
    topic is configured).
    """
    if verdict.decision is Decision.PENDING or verdict.decision is standing.decision:
        return DecisionPlan(Plan(CAPABILITY), Plan(CAPABILITY), standing.number)
    number = standing.number + 1
    decision = verdict.decision
    image = evidence.image
    mode = verdict.mode
    reason = f"{decision}: " + "; ".join(verdict.reasons)
    details = {"verdict": str(verdict.decision), "rule": verdict.rule, "reasons": list(verdict.reasons)}
    targets = (image, *children)
    effects: list[Action] = []
    if decision is Decision.PASS:
        tagged = [*((image, tag) for tag in evidence.tags), *children_tags]
        effects += blocking.release_effects(
            targets,
            mode,
            reason,
            number,
            tagged=tagged,
            was_denied=standing.decision is Decision.DENY,
            details=details,
        )
    elif mode is not Mode.AUDIT:
        effects += blocking.hold_effects(targets, mode, reason, number, details=details)
        moved = {c.tag for c in evidence.conflicts}
        for conflict in evidence.conflicts:
            effects.append(
                make_action(
                    RESTORE_TAG,
                    image.with_digest(conflict.previous),
                    f"immutable tag {conflict.tag} put back on {conflict.previous}, not {image.digest}",
                    str(decision),
                    number,
                    tag=conflict.tag,
                )
            )
        if rule.untag_on_deny:
            for tag in sorted(set(evidence.tags) - moved):
                effects.append(
                    make_action(UNTAG, image, f"untagged: {reason}", str(decision), number, tag=tag)
                )
    report = [make_action(RECORD, image, reason, str(decision), number, verdict=verdict.to_dict())]
    if event is not None:
        report.append(
            make_action(
                PUBLISH, image, f"published {event['type']}", str(decision), number, event=dict(event)
            )
        )
    return DecisionPlan(
        Plan(CAPABILITY, actions=tuple(effects)), Plan(CAPABILITY, actions=tuple(report)), number
    )
