"""The gate's memory between invocations, in the StateStore.

- ``gate-images``: one record per gated image (``ImageRef.key``): its standing, the
  evidence read so far (manifest bytes included, so a locked image never needs to be
  read again), its last verdict, its parent index, and the ids of the events handled;
- ``gate-tags``: for each immutable tag, the digest it first named and when, which is
  how a re-push to another digest is recognised, whatever order events arrive in;
- ``gate-children``: platform image → the index that lists it;
- ``gate-overrides``: an operator's override of one image (``ImageRef.key``): allow its
  digest until a time, with the reason and who decided;
- pending items of kind ``gate``: the images the sweep re-evaluates.

Writes are read-modify-write under the record's ETag, retried on a conflict, so that
overlapping invocations (two tags of one digest, a sweep beside a push) never lose an
update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ops.errors import Conflict
from ops.gate.evidence import Evidence, ImageRef, ManifestFacts, Referrer, Scan, TagConflict
from ops.gate.planner import Decision, Override, Standing, Verdict
from ops.state.store import PendingItem, StateStore

IMAGES = "gate-images"
TAGS = "gate-tags"
CHILDREN = "gate-children"
OVERRIDES = "gate-overrides"
PENDING_KIND = "gate"
_KEPT_EVENTS = 20
_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class GateRecord:
    """Everything remembered about one gated image."""

    image: ImageRef
    rule: str
    first_seen: datetime
    updated: datetime
    tags: tuple[str, ...] = ()
    standing: Standing = field(default_factory=Standing)
    manifest: ManifestFacts | None = None
    referrers: tuple[Referrer, ...] | None = None
    scan: Scan | None = None
    conflicts: tuple[TagConflict, ...] = ()
    verdict: Verdict | None = None
    parent: str | None = None  # the key of the index that lists this image
    events: tuple[str, ...] = ()  # ids of the events handled to the end (newest last)
    retrying: tuple[str, ...] = ()  # ids whose handling failed transiently: a redelivery proceeds

    def evidence(self, *, quarantine_enabled: bool) -> Evidence:
        return Evidence(
            image=self.image,
            first_seen=self.first_seen,
            tags=self.tags,
            manifest=self.manifest,
            scan=self.scan,
            referrers=self.referrers,
            conflicts=self.conflicts,
            quarantine_enabled=quarantine_enabled,
        )

    def with_event(self, event_id: str, *, done: bool) -> GateRecord:
        if done:
            kept = tuple(e for e in self.events if e != event_id)[-(_KEPT_EVENTS - 1) :]
            events = (*kept, event_id)
            return replace(self, events=events, retrying=tuple(e for e in self.retrying if e != event_id))
        if event_id in self.retrying:
            return self
        return replace(self, retrying=(*self.retrying, event_id)[-_KEPT_EVENTS:])

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.to_dict(),
            "rule": self.rule,
            "firstSeen": self.first_seen.isoformat(),
            "updated": self.updated.isoformat(),
            "tags": list(self.tags),
            "decision": str(self.standing.decision),
            "number": self.standing.number,
            "blocked": self.standing.blocked,
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "referrers": [r.to_dict() for r in self.referrers] if self.referrers is not None else None,
            "scan": self.scan.to_dict() if self.scan else None,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "parent": self.parent,
            "events": list(self.events),
            "retrying": list(self.retrying),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> GateRecord:
        referrers = value.get("referrers")
        return cls(
            image=ImageRef.from_dict(value["image"]),
            rule=str(value.get("rule") or ""),
            first_seen=datetime.fromisoformat(str(value["firstSeen"])),
            updated=datetime.fromisoformat(str(value["updated"])),
            tags=tuple(value.get("tags") or ()),
            standing=Standing(
                decision=Decision(value.get("decision") or Decision.PENDING),
                number=int(value.get("number") or 0),
                blocked=bool(value.get("blocked")),
            ),
            manifest=ManifestFacts.from_dict(value["manifest"]) if value.get("manifest") else None,
            referrers=tuple(Referrer.from_dict(r) for r in referrers) if referrers is not None else None,
            scan=Scan.from_dict(value["scan"]) if value.get("scan") else None,
            conflicts=tuple(TagConflict.from_dict(c) for c in value.get("conflicts") or ()),
            verdict=Verdict.from_dict(value["verdict"]) if value.get("verdict") else None,
            parent=value.get("parent"),
            events=tuple(value.get("events") or ()),
            retrying=tuple(value.get("retrying") or ()),
        )


def load_record(store: StateStore, key: str) -> GateRecord | None:
    found = store.get_record(IMAGES, key)
    return None if found is None else GateRecord.from_dict(found.value)


def update_record(
    store: StateStore, key: str, change: Callable[[GateRecord | None], GateRecord | None]
) -> GateRecord | None:
    """Apply ``change`` to the stored record (None when absent) under its ETag; retried on a
    conflict with a fresh read. ``change`` returning the record unchanged writes nothing."""
    for _ in range(_ATTEMPTS):
        found = store.get_record(IMAGES, key)
        current = None if found is None else GateRecord.from_dict(found.value)
        wanted = change(current)
        if wanted is None or wanted == current:
            return current
        try:
            store.put_record(IMAGES, key, wanted.to_dict(), etag=None if found is None else found.etag)
        except Conflict:
            continue
        return wanted
    raise Conflict(f"gate record {key} kept changing under {_ATTEMPTS} attempts to update it")


def mark_pending(store: StateStore, record: GateRecord) -> None:
    """Put the image on the sweep's list (idempotent)."""
    store.put_pending(
        PendingItem(
            kind=PENDING_KIND, key=record.image.key, payload={"rule": record.rule}, due=record.first_seen
        )
    )


def clear_pending(store: StateStore, key: str) -> None:
    store.remove_pending(PENDING_KIND, key)


@dataclass(frozen=True, slots=True)
class Binding:
    """The digest an immutable tag first named, and when it was pushed there."""

    digest: str
    at: datetime


def bind_tag(store: StateStore, key: str, digest: str, at: datetime) -> tuple[Binding, Binding | None]:
    """Record that ``key`` (``<login server>/<repository>:<tag>``) named ``digest`` at ``at``, unless an
    earlier push bound it already. Returns the binding in force, and the binding this push
    displaced (an out-of-order event: that other digest was the re-push).

    Events arrive out of order, so the earliest push wins, not the first event handled:
    a binding is replaced only by an earlier push of another digest.
    """
    for _ in range(_ATTEMPTS):
        found = store.get_record(TAGS, key)
        bound = None
        if found is not None:
            bound = Binding(str(found.value["digest"]), datetime.fromisoformat(str(found.value["at"])))
            if bound.digest == digest or bound.at <= at:
                return bound, None
        value = {"digest": digest, "at": at.isoformat()}
        try:
            store.put_record(TAGS, key, value, etag=None if found is None else found.etag)
        except Conflict:
            continue
        return Binding(digest, at), bound
    raise Conflict(f"immutable tag binding {key} kept changing")


def link_child(store: StateStore, child: str, parent: str) -> None:
    store.put_record(CHILDREN, child, {"parent": parent}, etag="*")


def parent_of(store: StateStore, child: str) -> str | None:
    found = store.get_record(CHILDREN, child)
    return None if found is None else str(found.value["parent"])


def save_override(store: StateStore, key: str, override: Override) -> None:
    """Record (or replace) the override of image ``key``."""
    store.put_record(OVERRIDES, key, override.to_dict(), etag="*")


def load_override(store: StateStore, key: str) -> Override | None:
    """The override of image ``key``, expired or not; None when there is none (or it is unreadable)."""
    record = store.get_record(OVERRIDES, key)
    if record is None:
        return None
    try:
        return Override.from_dict(record.value)
    except (KeyError, ValueError):
        return None
