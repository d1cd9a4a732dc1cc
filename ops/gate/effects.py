"""Applying the gate's plans: what each action does to the registry, through the one executor.

The planner says what to lock, release, restore, record and publish (``ops.gate.blocking``
names the kinds); this module is where those actions become registry and topic calls. They
run one at a time, in plan order, once each (the executor's idempotency keys), and give up
quickly: an Event Grid delivery times out after 30 s, so a call that cannot finish raises
and the event is redelivered later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ops.errors import TransientError
from ops.executor import ExecutionPolicy, Handler, apply_plan, failed_transiently
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
from ops.gate.planner import Decision
from ops.gate.protocols import RegistryGates, VerdictPublisher
from ops.plan import Action, Outcome, Plan, Status
from ops.state.store import StateStore

log = logging.getLogger(__name__)

APPLIED = (Status.APPLIED, Status.ALREADY_DONE)


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

    def apply(self, plan: Plan) -> list[Outcome]:
        if not plan.actions:
            return []
        cap = self.retry_sleep_cap
        return apply_plan(
            plan,
            handlers=self.handlers(),
            store=self.store,
            policy=self.execution,
            sleep=lambda seconds: time.sleep(min(seconds, cap)),
            now=self.clock,
        )

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


def raise_if_failed(outcomes: Sequence[Outcome]) -> None:
    """Raise when an effect failed for now, so that the trigger redelivers."""
    if failed_transiently(outcomes):
        failed = [o for o in outcomes if o.status is Status.FAILED]
        raise TransientError(f"gate: {len(failed)} action(s) failed transiently: {failed[0].detail}")
