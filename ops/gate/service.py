"""Gate orchestration: pushes and sweeps, through injected adapters → evaluate → plan → apply → record.

A push (:meth:`GateService.handle_event`) of an image a rule covers is, in order:

1. recorded: the image's record and a pending item, before any read that may fail
   (for good, as a missing role does, or for now), so that a sweep finishes the job
   even if this invocation dies or keeps failing: an in-scope push is never left
   unrecorded;
2. read: the manifest (annotations, size, bytes; config labels when a rule needs them),
   before anything is locked, since a locked manifest cannot be read. A push that
   turns out not to be an image (a referrer, an OCI artifact, a manifest deleted
   since) is withdrawn again; one whose manifest cannot be read is read by the sweep;
3. deduplicated by event id (``StateStore.claim_once``): a replay stops here, unless the
   first delivery failed transiently, which the record remembers;
4. blocked at once: its tags locked (the default), its manifest locked, or quarantined,
   as the rule's mode and the registry allow (``ops.gate.blocking``);
5. evaluated with what is known now: manifest checks and referrers, never Resource
   Graph (one query per push would not scale; Defender takes minutes anyway).

A pushed referrer (a signature or an SBOM) is not gated: it re-evaluates its subject.
:meth:`GateService.sweep` (the ``gate_sweep`` timer) re-evaluates pending images in
batches, with one Resource Graph query for many digests, until each has a verdict or
reaches its settle timeout. A verdict is applied as effects first (unblock, or stay
blocked and mark the quarantine Failed, restore a moved immutable tag, untag), then
recorded and published (``ops.gate.effects`` applies them); the actions' idempotency
keys make replays and overlapping runs apply each effect, and write each audit record, once.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from ops.errors import (
    Conflict,
    InvalidInput,
    Locked,
    NotFound,
    OpsError,
    PermanentError,
    TransientError,
    describe_error,
)
from ops.events import IMAGE_PUSHED, Event, ImageEvent, parse_image_event
from ops.executor import ExecutionPolicy
from ops.gate import records
from ops.gate.effects import APPLIED, GateEffects, raise_if_failed
from ops.gate.evidence import Finding, ImageRef, ManifestFacts, Scan, TagConflict, cosign_layers
from ops.gate.planner import (
    Decision,
    Standing,
    Verdict,
    effective_mode,
    evaluate,
    plan_block,
    plan_decision,
    plan_release,
)
from ops.gate.policy import GatePolicy, GateRule, Mode
from ops.gate.protocols import FindingsSource, RegistryDirectory, RegistryGates, VerdictPublisher
from ops.gate.records import GateRecord
from ops.gate.verdicts import verdict_event
from ops.registries import is_registry_host
from ops.state.leases import LEASE_DURATION, LeaseHeld, take_lease
from ops.state.store import StateStore
from ops.suggestions import suggest
from ops.telemetry import record_gate_pending

log = logging.getLogger(__name__)

EVENTS_NAMESPACE = "gate-events"
#: cosign's tag scheme for artifacts of an image: ``sha256-<hex>.sig`` (or ``.att``, ``.sbom``).
_COSIGN_TAG = re.compile(r"sha256-(?P<hex>[0-9a-f]{64})\.(?P<kind>sig|att|sbom)")
_REFERENCE = re.compile(
    r"^(?P<registry>[^/\s]+)/(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64})|:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))$"
)
SWEEP_LEASE = "gate-sweep"
_DECIDE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Settings the service needs (see ``ops.config.GateSettings``)."""

    query_batch: int = 300  # digests per Resource Graph query
    sweep_limit: int = 5000  # pending images one sweep looks at
    event_ttl: timedelta = timedelta(hours=48)  # Event Grid retries for up to 24 h
    lease: timedelta = LEASE_DURATION
    retry_sleep_cap: float = 2.0  # an Event Grid delivery times out after 30 s


@dataclass(frozen=True, slots=True)
class EventResult:
    """What one delivered event did."""

    status: str  # gated, duplicate, ignored, referrer
    image: str = ""
    decision: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        reason = self.detail or (f"decision: {self.decision}" if self.decision else self.status)
        return {
            "status": self.status,
            "reason": reason,
            "image": self.image,
            "decision": self.decision,
            "detail": self.detail,
        }


@dataclass(slots=True)
class SweepResult:
    """What one sweep did."""

    status: str = "swept"
    evaluated: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    queries: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    resumed: int = 0  # effects dead deliveries left unrecorded, recorded by this sweep

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "evaluated": self.evaluated,
            "resumed": self.resumed,
            "decisions": dict(self.decisions),
            "graphQueries": self.queries,
            "failed": dict(self.failed),
            "detail": self.detail,
            "reason": self.detail
            or f"{self.evaluated} pending image(s) evaluated, {len(self.failed)} failed: {self.decisions}",
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``ops gate check``: the verdict for one image and the evidence behind it."""

    image: ImageRef
    tags: tuple[str, ...]
    verdict: Verdict | None
    record: GateRecord | None
    evidence: Mapping[str, Any]
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.key,
            "tags": list(self.tags),
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "reasons": list(self.verdict.reasons) if self.verdict else [],
            "recorded": None
            if self.record is None
            else {
                "decision": str(self.record.standing.decision),
                "number": self.record.standing.number,
                "blocked": self.record.standing.blocked,
                "firstSeen": self.record.first_seen.isoformat(),
            },
            "evidence": dict(self.evidence),
            "detail": self.detail,
        }


class GateService:
    """The gate over injected adapters; build it with ``ops.services.Services.gate_service``."""

    def __init__(
        self,
        *,
        policy: GatePolicy | None,
        registries: RegistryGates,
        directory: RegistryDirectory,
        findings: FindingsSource,
        publisher: VerdictPublisher | None,
        store: StateStore,
        execution: ExecutionPolicy,
        config: GateConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.registries = registries
        self.directory = directory
        self.findings = findings
        self.publisher = publisher
        self.store = store
        self.config = config or GateConfig()
        self.clock = clock
        self.effects = GateEffects(
            registries=registries,
            store=store,
            publisher=publisher,
            execution=execution,
            clock=clock,
            retry_sleep_cap=self.config.retry_sleep_cap,
        )

    # ------------------------------------------------------------------------ pushes

    def handle_event(self, event: Event) -> EventResult:
        """One delivered event: gate an image push, re-evaluate a referrer's subject, ignore the rest."""
        if event.type != IMAGE_PUSHED:
            return EventResult("ignored", detail=f"{event.type} is not an image push")
        pushed = parse_image_event(event)
        if self.policy is None:
            return EventResult("ignored", detail="no gate policy is configured (OPS_GATE_POLICY)")
        registry = pushed.registry_name
        if registry is None:
            where = "topic" if event.event_schema == "eventgrid" else "source"
            raise InvalidInput(where, "the ARM id of a container registry", pushed.registry_id)
        rule = self.policy.rule_for(registry, pushed.repository)
        if rule is None:
            return EventResult(
                "ignored",
                f"{registry}/{pushed.repository}@{pushed.digest}",
                detail=f"no gate rule covers {registry}/{pushed.repository}",
            )
        image = self._verified_image(pushed, where="topic" if event.event_schema == "eventgrid" else "source")
        existing = records.load_record(self.store, image.key)
        if existing is not None and event.id in existing.events:
            return EventResult(
                "duplicate", image.key, str(existing.standing.decision), "event handled before"
            )
        pushed_at = pushed.data.timestamp
        # Every push is recorded before the reads, one tagged like cosign's scheme too: a tag
        # is only a name, and anyone can push an image under it.
        cosign = _COSIGN_TAG.fullmatch(pushed.tag or "")
        existing = self._record_push(image, rule, None, pushed.tag, pushed_at)
        facts = existing.manifest
        if facts is None:
            try:
                facts = self._read_manifest(image, rule)
            except NotFound:
                self._withdraw(image.key)
                return EventResult("ignored", image.key, detail="the manifest is gone from the registry")
        if facts.subject:
            self._withdraw(image.key)
            return self._handle_referrer(image, facts, event)
        if facts.artifact_type is not None:
            self._withdraw(image.key)
            return EventResult(
                "ignored", image.key, detail=f"an OCI artifact ({facts.artifact_type}), not an image"
            )
        if cosign is not None and self._is_cosign_artifact(image, facts, f"sha256:{cosign['hex']}"):
            self._withdraw(image.key)
            if self.directory.quarantine_enabled(image):
                why = f"cosign {cosign['kind']} of sha256:{cosign['hex']}: not gated"
                raise_if_failed(self.effects.apply(plan_release(image, why)))
            return EventResult("ignored", image.key, detail=f"cosign's tag-scheme {cosign['kind']}")
        record = self._record_push(image, rule, facts, pushed.tag, pushed_at)
        quarantine = self.directory.quarantine_enabled(image)
        claimed = self.store.claim_once(
            EVENTS_NAMESPACE, event.id, ttl=self.config.event_ttl, now=self.clock()
        )
        if not claimed and event.id not in record.retrying:
            return EventResult("duplicate", image.key, str(record.standing.decision), "event claimed before")
        if claimed:
            # Marked unfinished before anything is applied: a delivery that dies (SIGKILL, a
            # recycled instance) leaves the mark, so its redelivery handles the event again
            # instead of acknowledging a duplicate. Every effect is idempotent, and the
            # executor settles an action left in flight by asking the registry.
            marked = records.update_record(
                self.store, image.key, lambda r: r and r.with_event(event.id, done=False)
            )
            record = marked or record
        try:
            if pushed.tag is not None and rule.immutable(pushed.tag) is not None:
                record = self._check_immutable(record, rule, pushed.tag, pushed_at, quarantine)
            record = self._link_family(record, facts)
            record = self._block(record, rule, quarantine)
            if rule.needs_referrers and record.parent is None:
                record = self._refresh_referrers(record)
            record = self._decide(record, rule, quarantine)
        except Exception:
            # Whatever failed (for now or for good), the event was claimed but not handled:
            # the redelivery must proceed, not be acknowledged as a duplicate.
            records.update_record(self.store, image.key, lambda r: r and r.with_event(event.id, done=False))
            raise
        records.update_record(self.store, image.key, lambda r: r and r.with_event(event.id, done=True))
        decision = record.standing.decision
        waiting = ", ".join(record.verdict.waiting_for) if record.verdict else ""
        detail = f"waiting for {waiting}" if decision is Decision.PENDING and waiting else ""
        return EventResult("gated", image.key, str(decision), detail)

    def _verified_image(self, pushed: ImageEvent, *, where: str) -> ImageRef:
        """The pushed image in the registry the event's ARM id names, as ARM reports it.

        The request's host must be one of that registry's endpoints; the login server the
        gate talks to (and sends tokens to) is ARM's, never the payload's.
        """
        try:
            registry = self.directory.resolve_registry(pushed.registry_id)
        except InvalidInput as exc:
            raise InvalidInput(where, exc.expected, exc.got) from None
        hosts = registry.endpoints or (registry.login_server,)
        if not is_registry_host(pushed.login_server, hosts):
            raise InvalidInput(
                "data.request.host",
                f"a host of registry {registry.name} (the event's {where}): {', '.join(hosts[:3])}"
                + (f" or {len(hosts) - 3} more" if len(hosts) > 3 else ""),
                pushed.login_server,
            )
        return ImageRef(registry.name, registry.login_server, pushed.repository, pushed.digest, registry.id)

    def _record_push(
        self,
        image: ImageRef,
        rule: GateRule,
        facts: ManifestFacts | None,
        tag: str | None,
        pushed_at: datetime,
    ) -> GateRecord:
        now = self.clock()

        def change(current: GateRecord | None) -> GateRecord:
            if current is None:
                current = GateRecord(image=image, rule=rule.name, first_seen=pushed_at, updated=now)
            tags = current.tags if tag is None or tag in current.tags else (*current.tags, tag)
            return replace(
                current,
                tags=tags,
                first_seen=min(current.first_seen, pushed_at),
                manifest=current.manifest or facts,
                updated=now,
            )

        record = records.update_record(self.store, image.key, change)
        assert record is not None
        if record.standing.decision is Decision.PENDING:
            records.mark_pending(self.store, record)
        return record

    def _is_cosign_artifact(self, image: ImageRef, facts: ManifestFacts, subject: str) -> bool:
        """Whether a push tagged like cosign's scheme really is a cosign signature, attestation
        or SBOM: every layer has one of cosign's media types, and the image its tag names is in
        the same repository. Anything else is gated like any image (fail closed)."""
        if not cosign_layers(facts.content):
            return False
        if records.load_record(self.store, subject_key := image.with_digest(subject).key) is not None:
            return True  # gated already (perhaps locked, so unreadable): it exists
        try:
            self.registries(image).read_manifest(image.repository, subject, labels=False)
        except TransientError:
            raise
        except OpsError as exc:
            log.warning(
                "gate: %s: cosign-tagged, but %s cannot be read (%s): gated", image.key, subject_key, exc
            )
            return False
        return True

    def _read_manifest(self, image: ImageRef, rule: GateRule) -> ManifestFacts:
        return self.registries(image).read_manifest(image.repository, image.digest, labels=bool(rule.labels))

    def _withdraw(self, key: str) -> None:
        """Forget a push recorded before its manifest was read, once the manifest shows that it
        is not a gated image. A record that anything else has written to since stays."""
        found = self.store.get_record(records.IMAGES, key)
        if found is not None:
            record = GateRecord.from_dict(found.value)
            if record.manifest is not None or record.verdict is not None or record.standing.blocked:
                return
            if record.events or record.retrying:
                return
            try:
                self.store.delete_record(records.IMAGES, key, etag=found.etag)
            except Conflict:
                return  # written meanwhile: no longer only this push's placeholder
        records.clear_pending(self.store, key)

    def _read_missing_manifest(self, record: GateRecord, rule: GateRule) -> GateRecord | None:
        """A pending image whose push could not read its manifest: read it now, before it is
        blocked. None when it turns out not to be a gated image (it is withdrawn). One that
        still cannot be read is judged without it: it waits, and is denied at its timeout."""
        image = record.image
        try:
            facts = self._read_manifest(image, rule)
        except NotFound:
            self._withdraw(image.key)
            return None
        except TransientError:
            raise
        except OpsError as exc:
            log.error("gate sweep: %s: the manifest cannot be read: %s", image.key, exc)
            return record
        if facts.subject or facts.artifact_type is not None:
            self._withdraw(image.key)
            return None
        updated = records.update_record(
            self.store, image.key, lambda r: r and replace(r, manifest=r.manifest or facts)
        )
        return updated or record

    def _handle_referrer(self, referrer: ImageRef, facts: ManifestFacts, event: Event) -> EventResult:
        """A signature or SBOM: released if the registry quarantined it, and its subject re-evaluated."""
        assert facts.subject is not None and self.policy is not None
        subject = referrer.with_digest(facts.subject)
        if self.directory.quarantine_enabled(referrer):
            raise_if_failed(
                self.effects.apply(plan_release(referrer, f"referrer of {subject.digest}: not gated"))
            )
        record = records.load_record(self.store, subject.key)
        if record is None:
            # Out of order, or an image from before the gate: its own push reads the referrers.
            return EventResult("referrer", referrer.key, detail=f"subject {subject.digest} is not gated yet")
        if record.parent is not None:
            record = records.load_record(self.store, record.parent) or record
        rule = self.policy.rule_for(record.image.registry, record.image.repository)
        if rule is None:
            return EventResult("referrer", referrer.key, detail="no gate rule covers the subject any more")
        quarantine = self.directory.quarantine_enabled(record.image)
        record = self._decide(self._refresh_referrers(record), rule, quarantine)
        return EventResult(
            "referrer", referrer.key, str(record.standing.decision), f"re-evaluated {record.image.key}"
        )

    def _check_immutable(
        self, record: GateRecord, rule: GateRule, tag: str, pushed_at: datetime, quarantine: bool
    ) -> GateRecord:
        """Bind an immutable tag to the first digest pushed to it; a later push to another digest
        is a conflict, whichever event arrives first."""
        image = record.image
        pattern = rule.immutable(tag)
        assert pattern is not None
        tag_key = f"{image.login_server}/{image.repository}:{tag}"
        bound, displaced = records.bind_tag(self.store, tag_key, image.digest, pushed_at)
        if bound.digest != image.digest:
            conflict = TagConflict(tag=tag, previous=bound.digest, pattern=pattern.pattern)
            return self._add_conflict(record.image.key, conflict) or record
        if displaced is not None:
            # This push came first: the image the tag was bound to is the re-push.
            other = image.with_digest(displaced.digest)
            conflict = TagConflict(tag=tag, previous=image.digest, pattern=pattern.pattern)
            updated = self._add_conflict(other.key, conflict)
            if updated is not None:
                self._decide(updated, rule, quarantine)
        return record

    def _add_conflict(self, key: str, conflict: TagConflict) -> GateRecord | None:
        def change(current: GateRecord | None) -> GateRecord | None:
            if current is None or conflict in current.conflicts:
                return current
            return replace(current, conflicts=(*current.conflicts, conflict))

        return records.update_record(self.store, key, change)

    def _link_family(self, record: GateRecord, facts: ManifestFacts) -> GateRecord:
        """An index and its platform images: children are released with their index."""
        image = record.image
        for child in facts.children:
            child_key = image.with_digest(child).key
            known = records.load_record(self.store, child_key)
            if known is not None and known.standing.decision is Decision.DENY and known.parent != image.key:
                # Denied on its own: never re-parented (its index's pass would release it);
                # the index is denied instead (see _denied_children).
                continue
            records.link_child(self.store, child_key, image.key)
            records.update_record(self.store, child_key, lambda r: r and replace(r, parent=image.key))
        if not facts.children:
            record = self._find_parent(record)
        return record

    def _find_parent(self, record: GateRecord) -> GateRecord:
        """A platform image whose index was pushed (and linked) first."""
        if record.parent is not None:
            return record
        parent = records.parent_of(self.store, record.image.key)
        if parent is None:
            return record
        return (
            records.update_record(self.store, record.image.key, lambda r: r and replace(r, parent=parent))
            or record
        )

    def _denied_children(self, record: GateRecord) -> tuple[str, ...]:
        """An index's platform images denied on their own (not by adopting this index's deny)."""
        if record.manifest is None or not record.manifest.children:
            return ()
        denied = []
        for digest in record.manifest.children:
            child = records.load_record(self.store, record.image.with_digest(digest).key)
            if (
                child is not None
                and child.standing.decision is Decision.DENY
                and child.parent != record.image.key
            ):
                denied.append(digest)
        return tuple(denied)

    def _block(self, record: GateRecord, rule: GateRule, quarantine: bool) -> GateRecord:
        parent = records.load_record(self.store, record.parent) if record.parent else None
        if parent is not None and parent.standing.decision is Decision.PASS:
            # A platform image whose index passed before its own event came: never blocked.
            if quarantine:
                why = f"platform image of {parent.image.digest}, which passed"
                raise_if_failed(self.effects.apply(plan_release(record.image, why)))
            return self._adopt(record, parent)
        mode, _ = effective_mode(rule, quarantine)
        plan = plan_block(
            record.image, mode, quarantine_enabled=quarantine, standing=record.standing, tags=record.tags
        )
        if plan.actions:
            outcomes = self.effects.apply_in_order(plan)
            raise_if_failed(outcomes)
            if record.standing.decision is Decision.PENDING:  # else: tags released after a pass
                blocked = (
                    mode is not Mode.AUDIT
                    and len(outcomes) == len(plan.actions)
                    and all(o.status in APPLIED for o in outcomes)
                )
                record = (
                    records.update_record(
                        self.store,
                        record.image.key,
                        lambda r: r and replace(r, standing=replace(r.standing, blocked=blocked)),
                    )
                    or record
                )
        if parent is not None and parent.standing.decision is Decision.DENY:
            return self._adopt(record, parent)
        return record

    def _refresh_referrers(self, record: GateRecord) -> GateRecord:
        image = record.image
        try:
            found = tuple(self.registries(image).list_referrers(image.repository, image.digest))
        except Locked as exc:
            # Whether ACR lists the referrers of a locked manifest is not documented: if it
            # refuses, the image waits for its signatures and is denied at its settle timeout.
            log.warning("gate: %s: the referrers cannot be listed (%s); still waiting", image.key, exc)
            return record
        updated = records.update_record(self.store, image.key, lambda r: r and replace(r, referrers=found))
        return updated or record

    # ------------------------------------------------------------------------ decisions

    def _decide(self, record: GateRecord, rule: GateRule, quarantine: bool) -> GateRecord:
        """Evaluate from the stored record, apply what a changed verdict needs, and record the
        outcome only if no one (a push beside a sweep) decided the image meanwhile; otherwise
        evaluate again from what they stored."""
        for _ in range(_DECIDE_ATTEMPTS):
            fresh = records.load_record(self.store, record.image.key) or record
            decided = self._decide_once(fresh, rule, quarantine)
            if decided is not None:
                return decided
        raise TransientError(f"gate: {record.image.key} kept being decided by others; retried later")

    def _decide_once(self, record: GateRecord, rule: GateRule, quarantine: bool) -> GateRecord | None:
        if record.parent is not None:
            parent = records.load_record(self.store, record.parent)
            if parent is not None:
                return self._adopt(record, parent)
        now = self.clock()
        evidence = replace(
            record.evidence(quarantine_enabled=quarantine), denied_children=self._denied_children(record)
        )
        verdict = evaluate(
            evidence, rule, now=now, override=records.load_override(self.store, record.image.key)
        )
        standing = record.standing
        changed = verdict.decision is not Decision.PENDING and verdict.decision is not standing.decision
        event = None
        if changed and self.publisher is not None:
            event = verdict_event(verdict, evidence, number=standing.number + 1)
        children = self._children(record)
        plan = plan_decision(
            verdict,
            evidence,
            rule,
            standing=standing,
            children=[c.image for c in children],
            children_tags=[(c.image, tag) for c in children for tag in c.tags],
            event=event,
        )
        if not plan.empty:
            effects = self.effects.apply(plan.effects)
            raise_if_failed(effects)
            if not all(o.ok for o in effects):
                log.error(
                    "gate: %s: effects failed; the verdict stays unapplied: %s", record.image.key, effects
                )
                return self._save_verdict(record, verdict, standing, expected=record.standing)
            report = self.effects.apply(plan.report)
            raise_if_failed(report)
            if not all(o.status in APPLIED for o in (*effects, *report)):
                # Dry run or kill switch: the verdict is shown, and applied once they are off.
                return self._save_verdict(record, verdict, standing, expected=record.standing)
            blocked = standing.blocked
            if verdict.mode is not Mode.AUDIT:
                blocked = verdict.decision is Decision.DENY
            standing = Standing(decision=verdict.decision, number=plan.number, blocked=blocked)
        decided = self._save_verdict(record, verdict, standing, expected=record.standing)
        if decided is None:
            return None
        if changed:
            for child in children:
                self._adopt(child, decided)
        return decided

    @overload
    def _save_verdict(self, record: GateRecord, verdict: Verdict, standing: Standing) -> GateRecord: ...

    @overload
    def _save_verdict(
        self, record: GateRecord, verdict: Verdict, standing: Standing, *, expected: Standing
    ) -> GateRecord | None: ...

    def _save_verdict(
        self, record: GateRecord, verdict: Verdict, standing: Standing, *, expected: Standing | None = None
    ) -> GateRecord | None:
        """Store a verdict; with ``expected``, only if the stored standing is still that one
        (inside the ETag'd change), else None: someone else decided meanwhile."""
        now = self.clock()
        lost = False

        def change(current: GateRecord | None) -> GateRecord | None:
            nonlocal lost
            lost = current is not None and expected is not None and current.standing != expected
            if current is None or lost:
                return current
            return replace(current, verdict=verdict, standing=standing, updated=now)

        updated = records.update_record(self.store, record.image.key, change)
        if lost:
            return None
        if standing.decision is Decision.PENDING:
            records.mark_pending(self.store, updated or record)
        else:
            records.clear_pending(self.store, record.image.key)
        return updated or record

    def _children(self, record: GateRecord) -> list[GateRecord]:
        if record.manifest is None or not record.manifest.children:
            return []
        keys = [record.image.with_digest(d).key for d in record.manifest.children]
        found = (records.load_record(self.store, k) for k in keys)
        # A child denied on its own is never released with its index.
        return [
            child
            for child in found
            if child is not None
            and not (child.standing.decision is Decision.DENY and child.parent != record.image.key)
        ]

    def _adopt(self, child: GateRecord, parent: GateRecord) -> GateRecord:
        """A platform image takes its index's decision: the index's plan released it on a pass,
        and on a deny it stays blocked as it was."""
        if parent.standing.decision is Decision.PENDING or parent.verdict is None:
            return child
        standing = Standing(
            decision=parent.standing.decision,
            number=child.standing.number,
            blocked=parent.standing.decision is Decision.DENY and child.standing.blocked,
        )
        return self._save_verdict(child, parent.verdict, standing)

    # ------------------------------------------------------------------------ sweeps

    def sweep(self) -> SweepResult:
        """Re-evaluate pending images in batches: one Resource Graph query per batch of digests."""
        result = SweepResult()
        if self.policy is None:
            return SweepResult(status="skipped", detail="no gate policy is configured (OPS_GATE_POLICY)")
        now = self.clock()
        try:
            lease = take_lease(
                self.store,
                SWEEP_LEASE,
                holder=f"sweep-{uuid.uuid4().hex[:8]}",
                what="another sweep holds the lease",
                duration=self.config.lease,
                now=self.clock,
            )
        except LeaseHeld as held:
            return SweepResult(status="skipped", detail=str(held))
        transient: TransientError | None = None
        try:
            result.resumed = self.effects.resume()
            pending = self._load_pending()
            ages = [(now - record.first_seen).total_seconds() for record, _ in pending]
            record_gate_pending(len(pending), oldest_age_s=max(ages, default=0.0))
            scans, result.queries = self._read_scans([r for r, rule in pending if rule.require_scan])
            for record, rule in pending:
                try:
                    if record.manifest is None:
                        unread = self._read_missing_manifest(record, rule)
                        if unread is None:
                            continue
                        record = unread
                    if record.manifest is not None and not record.manifest.children:
                        # A platform image whose index was linked after this image was
                        # recorded: released (or held) with its index, never locked alone.
                        record = self._find_parent(record)
                    record = self._store_scan(record, scans.get(record.image.key, record.scan))
                    quarantine = self.directory.quarantine_enabled(record.image)
                    if not record.standing.blocked:
                        record = self._block(record, rule, quarantine)
                    if rule.needs_referrers and (
                        record.referrers is None
                        or (
                            record.verdict is not None
                            and {"signatures", "sbom"} & set(record.verdict.waiting_for)
                        )
                    ):
                        record = self._refresh_referrers(record)
                    record = self._decide(record, rule, quarantine)
                except TransientError as exc:
                    transient = exc
                    result.failed[record.image.key] = describe_error(exc)
                    continue
                except Exception as exc:  # one bad image must not stop every sweep from now on
                    result.failed[record.image.key] = describe_error(exc)
                    log.exception("gate sweep: %s: %s", record.image.key, exc)
                    continue
                result.evaluated += 1
                decision = str(record.standing.decision)
                result.decisions[decision] = result.decisions.get(decision, 0) + 1
        finally:
            lease.release()
        if transient is not None:
            raise TransientError(
                f"gate sweep: {len(result.failed)} image(s) failed transiently; the next sweep retries them "
                f"({transient})",
                retry_after=transient.retry_after,
            )
        return result

    def _store_scan(self, record: GateRecord, scan: Scan | None) -> GateRecord:
        if scan is None or scan == record.scan:
            return record
        updated = records.update_record(self.store, record.image.key, lambda r: r and replace(r, scan=scan))
        return updated or replace(record, scan=scan)

    def _load_pending(self) -> list[tuple[GateRecord, GateRule]]:
        assert self.policy is not None
        out = []
        now = self.clock()
        for item in self.store.list_pending(records.PENDING_KIND, limit=self.config.sweep_limit):
            try:
                record = records.load_record(self.store, item.key)
            except Exception:  # an unreadable record: to the back of the list, not in the way
                log.exception("gate sweep: the record of %s cannot be read", item.key)
                self.store.put_pending(replace(item, due=now))
                continue
            if record is None or record.standing.decision is not Decision.PENDING:
                records.clear_pending(self.store, item.key)
                continue
            if record.parent is not None and records.load_record(self.store, record.parent) is not None:
                # Decided with its index, which is on the list itself and marks it again
                # if need be: off the list, so that it does not crowd out new pushes.
                records.clear_pending(self.store, item.key)
                continue
            rule = self.policy.rule_for(record.image.registry, record.image.repository)
            if rule is None:
                log.warning("gate sweep: no rule covers %s any more; it waits at the back", record.image.key)
                self.store.put_pending(replace(item, due=now))
                continue
            out.append((record, rule))
        return out

    def _read_scans(self, pending: Sequence[GateRecord]) -> tuple[dict[str, Scan], int]:
        """Defender's findings for every pending image still without a complete scan, in as few
        queries as the batch size allows."""
        wanted: dict[str, list[str]] = {}
        for record in pending:
            if record.scan is not None and record.scan.complete:
                continue
            manifest = record.manifest
            digests = (
                list(manifest.children)
                if manifest is not None and manifest.children
                else [record.image.digest]
            )
            wanted[record.image.key] = digests
        every = sorted({d for digests in wanted.values() for d in digests})
        rows: list[Finding] = []
        queries = 0
        for start in range(0, len(every), self.config.query_batch):
            rows.extend(self.findings.list_findings(every[start : start + self.config.query_batch]))
            queries += 1
        now = self.clock()
        by_image: dict[tuple[str, str, str], list[Finding]] = {}
        for row in rows:
            by_image.setdefault((row.registry_host.lower(), row.repository, row.digest), []).append(row)
        scans = {}
        for record in pending:
            if record.image.key not in wanted:
                continue
            digests = wanted[record.image.key]
            host, repository = record.image.login_server.lower(), record.image.repository
            found = [f for d in digests for f in by_image.get((host, repository, d), [])]
            unscanned = tuple(d for d in digests if (host, repository, d) not in by_image)
            scans[record.image.key] = Scan(findings=tuple(found), unscanned=unscanned, checked_at=now)
        return scans, queries

    # ------------------------------------------------------------------------ CLI

    def resolve(self, reference: str) -> ImageRef:
        """``REGISTRY/REPOSITORY@sha256:…`` or ``REGISTRY/REPOSITORY:TAG`` (REGISTRY: a name or a
        login server) → the image, its registry found through ARM and a tag resolved to its digest."""
        match = _REFERENCE.match(reference.strip())
        if match is None:
            raise InvalidInput(
                "reference", "REGISTRY/REPOSITORY@sha256:<digest> or REGISTRY/REPOSITORY:TAG", reference
            )
        found = self.directory.find_registry(match["registry"])
        if found is None:
            raise NotFound(
                f"no registry named {match['registry']!r} in the subscriptions in scope (OPS_SUBSCRIPTIONS)"
                + suggest(match["registry"], self.directory.list_registry_names())
            )
        name, login_server, registry_id = found
        image = ImageRef(name, login_server, match["repository"], match["digest"] or "", registry_id)
        if match["tag"]:
            image = image.with_digest(self.registries(image).resolve_tag(image.repository, match["tag"]))
        return image

    def check_reference(self, reference: str, *, apply: bool = False) -> CheckResult:
        """:meth:`check` for a reference as a person writes it; a tag asked for is one of the
        image's tags even when the gate has no record of the image."""
        match = _REFERENCE.match(reference.strip())
        asked = (match["tag"],) if match and match["tag"] else ()
        return self.check(self.resolve(reference), apply=apply, tags=asked)

    def check(self, image: ImageRef, *, apply: bool = False, tags: Sequence[str] = ()) -> CheckResult:
        """The verdict for one image now, from fresh evidence (``ops gate check``).

        Read-only unless ``apply``, which acts on the verdict as a sweep would (only for an
        image the gate has a record of: one pushed while the gate was watching). ``tags``
        are tags known to name the image besides those its record holds.
        """
        if self.policy is None:
            raise PermanentError("no gate policy is configured (OPS_GATE_POLICY)")
        rule = self.policy.rule_for(image.registry, image.repository)
        record = records.load_record(self.store, image.key)
        known = tuple(dict.fromkeys((*(record.tags if record else ()), *tags)))
        if rule is None:
            return CheckResult(image, known, None, record, {}, detail="no gate rule covers this repository")
        gate = self.registries(image)
        facts = record.manifest if record is not None else None
        if facts is None:  # read only when unknown: a locked manifest cannot be read
            facts = gate.read_manifest(image.repository, image.digest, labels=bool(rule.labels))
        now = self.clock()
        base = record or GateRecord(image=image, rule=rule.name, first_seen=now, updated=now, tags=known)
        probe = replace(base, manifest=facts, scan=None, referrers=None)
        scans, _ = self._read_scans([probe])
        referrers = (
            tuple(gate.list_referrers(image.repository, image.digest)) if rule.needs_referrers else None
        )
        current = replace(probe, scan=scans.get(image.key), referrers=referrers)
        quarantine = self.directory.quarantine_enabled(image)
        evidence = current.evidence(quarantine_enabled=quarantine)
        verdict = evaluate(evidence, rule, now=now, override=records.load_override(self.store, image.key))
        if apply:
            if record is None:
                raise PermanentError(
                    f"{image.key} has no gate record (pushed before the gate?); nothing to apply"
                )
            stored = records.update_record(
                self.store,
                image.key,
                lambda r: r and replace(r, manifest=facts, scan=current.scan, referrers=referrers),
            )
            record = self._decide(stored or current, rule, quarantine)
            verdict = record.verdict or verdict
        return CheckResult(image, known, verdict, record, evidence.to_dict())

    def pending(self) -> list[dict[str, Any]]:
        """Pending images, oldest first, with their age and what each waits for (``ops gate pending``)."""
        now = self.clock()
        rows = []
        for item in self.store.list_pending(records.PENDING_KIND, limit=self.config.sweep_limit):
            record = records.load_record(self.store, item.key)
            if record is None or record.standing.decision is not Decision.PENDING:
                continue
            rule = (
                self.policy.rule_for(record.image.registry, record.image.repository) if self.policy else None
            )
            waiting = list(record.verdict.waiting_for) if record.verdict else ["evaluation"]
            if record.parent is not None:
                waiting = [f"its index {record.parent.rsplit('@', 1)[-1]}"]
            deadline = record.first_seen + rule.settle_timeout if rule else None
            rows.append(
                {
                    "image": record.image.key,
                    "tags": list(record.tags),
                    "age": _age(now - record.first_seen),
                    "ageSeconds": int((now - record.first_seen).total_seconds()),
                    "waitingFor": waiting,
                    "rule": record.rule,
                    "mode": str(record.verdict.mode) if record.verdict else "",
                    "blocked": record.standing.blocked,
                    "timeoutIn": _age(deadline - now) if deadline and deadline > now else "due",
                }
            )
        return sorted(rows, key=lambda row: -row["ageSeconds"])


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
