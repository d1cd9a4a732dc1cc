"""Applying the gate's plans: what each action does to the registry, through the one executor.

The planner says what to lock, release, restore, record and publish (``ops.gate.blocking``
names the kinds); this module is where those actions become registry and topic calls. They
run one at a time, in plan order, once each (the executor's idempotency keys), and give up
quickly: an Event Grid delivery times out after 30 s, so a call that cannot finish raises
and the event is redelivered later.

A delivery that died with an action in flight leaves the action's claim open; its
redelivery (or a sweep, or ``ops gate check --apply``) plans the same action again and
meets that claim. Rather than wait out the claim's timeout, the executor asks the
registry whether the effect is in place (:meth:`GateEffects.verifiers`): the manifest or
tag locked or unlocked, the quarantine state set, the tag gone or restored. In place
means done (the audit record is written then, once); not in place means applied again,
which every one of these effects makes harmless. ``gate.record`` has no effect but its
record; ``gate.publish`` is published again (the event keeps its id, and Event Grid
delivers at least once anyway, so subscribers already deduplicate by id). A delivery
that is never redelivered (Event Grid gave up, or the image's next event planned
something else) leaves its claim behind: each sweep settles those older than
``ORPHANED`` the same way (:meth:`GateEffects.resume`). Every outcome is kept in
:attr:`GateEffects.applied`, so that an interrupted CLI run says how far it got.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ops.errors import NotFound, TransientError
from ops.executor import (
    ExecutionPolicy,
    Handler,
    Verifier,
    apply_plan,
    failed_transiently,
    resolve_open_claims,
)
from ops.gate import records
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
from ops.gate.evidence import ImageRef
from ops.gate.planner import CAPABILITY, Decision
from ops.gate.protocols import RegistryGates, VerdictPublisher
from ops.plan import Action, Outcome, Plan, Status
from ops.state.store import StateStore

log = logging.getLogger(__name__)

APPLIED = (Status.APPLIED, Status.ALREADY_DONE)
#: An open claim older than this has no live delivery behind it: Event Grid waits 30 s.
ORPHANED = timedelta(minutes=10)


class GateEffects:
    """The gate's actions applied through the executor, against the registries and the topic."""

    def __init__(
        self,
        *,
        registries: RegistryGates,
        store: StateStore,
        publisher: VerdictPublisher | None,
        execution: ExecutionPolicy,
        clock: Callable[[], datetime],
        retry_sleep_cap: float,
    ) -> None:
        self.registries = registries
        self.store = store
        self.publisher = publisher
        # One at a time, in plan order, and at most three attempts each.
        self.execution = replace(execution, max_concurrency=1, max_attempts=min(execution.max_attempts, 3))
        self.clock = clock
        self.retry_sleep_cap = retry_sleep_cap
        self.applied: list[Outcome] = []

    def apply(self, plan: Plan) -> list[Outcome]:
        if not plan.actions:
            return []
        cap = self.retry_sleep_cap
        outcomes = apply_plan(
            plan,
            handlers=self.handlers(),
            store=self.store,
            policy=self.execution,
            sleep=lambda seconds: time.sleep(min(seconds, cap)),
            now=self.clock,
            verifiers=self.verifiers(),
        )
        self.applied.extend(outcomes)
        return outcomes

    def apply_in_order(self, plan: Plan) -> list[Outcome]:
        """Each action only once the one before it took effect: the quarantine release of lock
        mode must never run on an image whose lock failed (or was only shown, in a dry run)."""
        outcomes: list[Outcome] = []
        for action in plan.actions:
            outcomes.extend(self.apply(replace(plan, actions=(action,))))
            if outcomes[-1].status not in APPLIED:
                break
        return outcomes

    def handlers(self) -> dict[str, Handler]:
        """Each action kind's effect on the registry (or the topic)."""

        def gate_of(action: Action) -> tuple[Any, ImageRef]:
            image = ImageRef.from_dict(action.params["image"])
            return self.registries(image), image

        def lock(action: Action) -> None:
            gate, image = gate_of(action)
            gate.set_read_enabled(image.repository, image.digest, False)

        def unlock(action: Action) -> None:
            gate, image = gate_of(action)
            gate.set_read_enabled(image.repository, image.digest, True)

        def lock_tag(action: Action) -> None:
            gate, image = gate_of(action)
            gate.set_tag_read_enabled(image.repository, action.params["tag"], False)

        def unlock_tag(action: Action) -> None:
            """Only while the tag still names this image: a tag moved to another digest is that
            digest's to release (or to keep locked while it is pending)."""
            gate, image = gate_of(action)
            tag = action.params["tag"]
            if gate.resolve_tag(image.repository, tag) != image.digest:
                log.info("gate: %s:%s names another digest now; left to that image", image.repository, tag)
                return
            gate.set_tag_read_enabled(image.repository, tag, True)

        def quarantine(action: Action) -> None:
            gate, image = gate_of(action)
            gate.set_quarantine(
                image.repository, image.digest, action.params["state"], action.params["details"]
            )

        def untag(action: Action) -> None:
            gate, image = gate_of(action)
            gate.untag(image.repository, action.params["tag"])

        def restore_tag(action: Action) -> None:
            gate, image = gate_of(action)
            previous = records.load_record(self.store, image.key)
            facts = previous.manifest if previous is not None else None
            if facts is None or not facts.content:
                facts = gate.read_manifest(image.repository, image.digest, labels=False)
            gate.put_tag(image.repository, action.params["tag"], facts.content, facts.media_type)
            if previous is None or previous.standing.decision is Decision.PASS:
                # The tag may carry the read lock set for the digest it was moved to.
                gate.set_tag_read_enabled(image.repository, action.params["tag"], True)

        def record(action: Action) -> None:
            log.info("gate verdict %s: %s", action.target, action.reason)

        def publish(action: Action) -> None:
            if self.publisher is not None:
                self.publisher.publish([action.params["event"]])

        return {
            LOCK: lock,
            UNLOCK: unlock,
            LOCK_TAG: lock_tag,
            UNLOCK_TAG: unlock_tag,
            QUARANTINE: quarantine,
            UNTAG: untag,
            RESTORE_TAG: restore_tag,
            RECORD: record,
            PUBLISH: publish,
        }

    def resume(self) -> int:
        """Settle the actions dead deliveries left open longer than ``ORPHANED``: the number
        found in place (and audited now). The rest are released for a later plan to apply."""
        if self.execution.dry_run or self.execution.kill_switch:
            return 0
        now = self.clock()
        try:
            resolved = resolve_open_claims(
                self.store,
                capability=CAPABILITY,
                verifiers=self.verifiers(),
                older_than=now - ORPHANED,
                now=now,
            )
        except TransientError as exc:
            log.warning("gate: could not verify what dead deliveries left open: %s", exc)
            return 0
        return len(resolved)

    def verifiers(self) -> dict[str, Verifier]:
        """Is an action's effect in place in the registry now? (after a crash; see above)"""

        def gate_of(action: Action) -> tuple[Any, ImageRef]:
            image = ImageRef.from_dict(action.params["image"])
            return self.registries(image), image

        def gone_means_done(read: Callable[[Action], bool]) -> Verifier:
            def verify(action: Action) -> bool | None:
                try:
                    return read(action)
                except NotFound:  # nothing left to block or release: what the handler would say
                    return True

            return verify

        def manifest_readable(enabled: bool) -> Verifier:
            def read(action: Action) -> bool:
                gate, image = gate_of(action)
                return bool(gate.read_manifest_readable(image.repository, image.digest)) is enabled

            return gone_means_done(read)

        def tag_locked(action: Action) -> bool:
            gate, image = gate_of(action)
            return not gate.read_tag_readable(image.repository, action.params["tag"])

        def tag_unlocked(action: Action) -> bool:
            gate, image = gate_of(action)
            tag = action.params["tag"]
            if gate.resolve_tag(image.repository, tag) != image.digest:
                return True  # moved to another digest: the handler leaves it alone too
            return bool(gate.read_tag_readable(image.repository, tag))

        def quarantined(action: Action) -> bool:
            gate, image = gate_of(action)
            return bool(gate.read_quarantine(image.repository, image.digest) == action.params["state"])

        def untagged(action: Action) -> bool | None:
            gate, image = gate_of(action)
            try:
                gate.resolve_tag(image.repository, action.params["tag"])
            except NotFound:
                return True
            return False

        def restored(action: Action) -> bool | None:
            gate, image = gate_of(action)
            tag = action.params["tag"]
            try:
                named = gate.resolve_tag(image.repository, tag)
            except NotFound:
                return False
            # Restored and, if it was to be, unlocked: otherwise put again (the same bytes).
            return named == image.digest and bool(gate.read_tag_readable(image.repository, tag))

        return {
            LOCK: manifest_readable(False),
            UNLOCK: manifest_readable(True),
            LOCK_TAG: gone_means_done(tag_locked),
            UNLOCK_TAG: gone_means_done(tag_unlocked),
            QUARANTINE: gone_means_done(quarantined),
            UNTAG: untagged,
            RESTORE_TAG: restored,
            RECORD: lambda _action: True,
            PUBLISH: lambda _action: False,
        }


def raise_if_failed(outcomes: Sequence[Outcome]) -> None:
    """Raise when an effect failed for now, so that the trigger redelivers."""
    if failed_transiently(outcomes):
        failed = [o for o in outcomes if o.status is Status.FAILED]
        raise TransientError(f"gate: {len(failed)} action(s) failed transiently: {failed[0].detail}")
