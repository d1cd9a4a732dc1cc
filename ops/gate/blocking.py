"""How the gate keeps an image from being pulled until it decides, and how it lets go, per mode.

The modes differ in what they lock, and so in what keeps working while an image waits
(docs/gate.md, "Blocking: the modes", has the sources and the trade-offs):

============  ==============================  ===============================  ==========================
mode          while pending                   pass                             deny
============  ==============================  ===============================  ==========================
lock-tags     ``readEnabled=false`` on every  each tag unlocked, if it still   the manifest locked too
              tag pushed for the digest       names the digest
lock          ``readEnabled=false`` on the    the manifest unlocked            stays locked
              manifest
quarantine    ``quarantineState=Quarantined``  ``Passed`` with details          ``Failed`` with details
audit         nothing                         nothing                          nothing
============  ==============================  ===============================  ==========================

``lock-tags`` (the default) refuses pulls by tag, which is what deployments use, while the
digest stays readable: notation, cosign and oras resolve the subject by digest before they
attach a signature, and Defender reads the digest to scan it; ACR refuses both on a locked
manifest. A tag pushed while its digest is pending is locked by that push's own event.

Every action's idempotency key is (kind, image, decision, decision number, tag): a replay
applies nothing twice, and a tag is locked once however many events name it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ops.gate.evidence import ImageRef
from ops.gate.policy import Mode
from ops.plan import Action, make_key

LOCK = "gate.lock"
UNLOCK = "gate.unlock"
LOCK_TAG = "gate.lock_tag"
UNLOCK_TAG = "gate.unlock_tag"
QUARANTINE = "gate.quarantine"
RESTORE_TAG = "gate.restore_tag"
UNTAG = "gate.untag"
RECORD = "gate.record"
PUBLISH = "gate.publish"

PENDING = "pending"
PASS = "pass"
DENY = "deny"

#: Kinds whose target may be gone by the time they run: nothing left to block or release.
_MISSING_OK = frozenset({LOCK, UNLOCK, LOCK_TAG, UNLOCK_TAG, QUARANTINE, UNTAG})


def block_effects(
    image: ImageRef,
    mode: Mode,
    *,
    quarantine_enabled: bool,
    blocked: bool,
    tags: Sequence[str],
) -> tuple[Action, ...]:
    """What a pending image needs to be blocked: everything on its first push (``blocked``
    False), and in ``lock-tags`` mode a lock for each tag, however late it was pushed.

    On a registry whose quarantine policy is on, ACR quarantines every push; in the lock
    modes and in audit mode the gate releases that quarantine (Defender does not scan
    quarantined images, and audit mode blocks nothing), after its locks.
    """
    actions: list[Action] = []
    if mode is Mode.LOCK_TAGS:
        actions += [
            make_action(LOCK_TAG, image, f"pending: pulls by tag {tag} locked until the gate decides",
                        PENDING, 0, tag=tag)
            for tag in tags
        ]  # fmt: skip
    if blocked:
        return tuple(actions)
    if mode is Mode.LOCK:
        actions.append(make_action(LOCK, image, "pending: locked until the gate decides", PENDING, 0))
    if mode is Mode.QUARANTINE:
        actions.append(
            quarantine_action(image, "Quarantined", "pending: quarantined until the gate decides", PENDING, 0)
        )
    elif quarantine_enabled:
        why = {
            Mode.LOCK: "its manifest is locked instead (Defender does not scan quarantined images)",
            Mode.LOCK_TAGS: "its tags are locked instead, so that signers and Defender can read it",
        }.get(mode, "audit mode blocks nothing")
        actions.append(quarantine_action(image, "Passed", f"released from quarantine: {why}", PENDING, 0))
    return tuple(actions)


def release_tag_effects(
    tagged: Iterable[tuple[ImageRef, str]], reason: str, decision: str, number: int
) -> list[Action]:
    """Unlock each (image, tag); applied only while the tag still names that image."""
    return [make_action(UNLOCK_TAG, image, reason, decision, number, tag=tag) for image, tag in tagged]


def release_effects(
    targets: Sequence[ImageRef],
    mode: Mode,
    reason: str,
    number: int,
    *,
    tagged: Sequence[tuple[ImageRef, str]],
    was_denied: bool,
    details: Mapping[str, Any],
) -> list[Action]:
    """A pass: every target (an image and its platform images) released as its mode says."""
    effects: list[Action] = []
    if mode is Mode.QUARANTINE:
        return [quarantine_action(t, "Passed", reason, PASS, number, details=details) for t in targets]
    if mode is Mode.LOCK or (mode is Mode.LOCK_TAGS and was_denied):
        effects += [make_action(UNLOCK, target, reason, PASS, number) for target in targets]
    if mode is Mode.LOCK_TAGS:
        effects += release_tag_effects(tagged, reason, PASS, number)
    return effects


def hold_effects(
    targets: Sequence[ImageRef], mode: Mode, reason: str, number: int, *, details: Mapping[str, Any]
) -> list[Action]:
    """A deny: the image stays blocked for good; in ``lock-tags`` mode its manifest (and its
    platform images') is locked too, so that no pull by digest gets it either. A lock is
    applied again even when the standing says blocked: that flag may be stale."""
    if mode is Mode.QUARANTINE:
        return [quarantine_action(targets[0], "Failed", reason, DENY, number, details=details)]
    if mode is Mode.LOCK:
        return [make_action(LOCK, targets[0], reason, DENY, number)]
    if mode is Mode.LOCK_TAGS:
        return [make_action(LOCK, target, reason, DENY, number) for target in targets]
    return []


def make_action(kind: str, image: ImageRef, reason: str, decision: str, number: int, **extra: Any) -> Action:
    """An action on ``image`` whose key is (kind, image, decision, number, tag): nothing time-dependent."""
    identity = {"decision": decision, "number": number, "tag": extra.get("tag")}
    params = {"image": image.to_dict(), **identity, **extra}
    return Action(
        kind=kind,
        target=image.key if "tag" not in extra else f"{image.key} ({extra['tag']})",
        reason=reason,
        service=f"acr:{image.registry}" if kind not in (RECORD, PUBLISH) else kind,
        params=params,
        key=make_key(kind, image.key, identity),
        # A manifest or tag deleted meanwhile needs no blocking, releasing or untagging any more.
        missing_ok=kind in _MISSING_OK,
    )


def quarantine_action(
    image: ImageRef,
    state: str,
    reason: str,
    decision: str,
    number: int,
    *,
    details: Mapping[str, Any] | None = None,
) -> Action:
    """Set ``quarantineState`` with ``quarantineDetails``: the verdict, or the reason."""
    body: Mapping[str, Any] = {"state": state, **details} if details else {"state": state, "reason": reason}
    action = make_action(QUARANTINE, image, reason, decision, number, state=state)
    params = {**action.params, "details": json.dumps(body, separators=(",", ":"))}
    return Action(
        action.kind, action.target, action.reason, action.service, params, action.key, action.missing_ok
    )
