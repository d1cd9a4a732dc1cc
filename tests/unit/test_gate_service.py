"""The gate service over in-memory fakes of the registry, ARM and Resource Graph: the fail-open
paths found in review, each closed.

Cases:
- a push merely tagged like cosign's scheme (``sha256-<hex>.sig``) is gated like any image
  (locked; on a quarantining registry never released); a real cosign signature (cosign layer
  media types, its subject in the repository) is not gated;
- lock mode on a quarantining registry: a failed lock leaves the image quarantined (the
  release runs only after the lock took effect);
- a claimed event whose handling fails for good (Forbidden, any bug) is handled again on
  redelivery, not acknowledged as a duplicate;
- a deny after a stale "blocked" standing (effects applied, report failed) still locks;
- an index listing a platform image denied on its own is denied, and that child is neither
  re-parented nor unlocked;
- the sweep survives an image whose handling raises a non-ops error, decides the others, and
  moves skipped items (no rule any more, children of a known index) out of the way;
- a decision stored by someone else between evaluation and save makes the loser re-evaluate
  instead of overwriting it;
- the sweep looks up an index linked after a platform image was recorded, and never locks a
  platform image of an index that already passed;
- the registry comes from the event's topic through ARM: a request host that is not one of
  its endpoints (another registry's, ``127.0.0.1:1``) or a topic ARM does not know is
  invalid input, and nothing is recorded or touched; any endpoint of the registry (a
  regional one, another case, ``:443``) is accepted, and the image is keyed by ARM's login
  server;
- lock-tags mode: every tag pushed while the digest is pending is locked and the manifest is
  not; a pass unlocks each tag still naming the digest; a tag moved meanwhile to another
  pending digest stays locked; a tag pushed after the pass is released; a deny locks the
  manifest too; on a quarantining registry a failed tag lock leaves the image quarantined; an
  immutable tag put back on a digest that passed is unlocked there;
- a referrers listing refused by a lock (405) keeps the image waiting, it does not raise.
- a delivery that died after its lock landed, never delivered again: the sweep's first
  step leaves the claim alone while a live delivery could still hold it, and once it is
  older than that, reads the lock back and writes its one audit record; the sweep then
  re-evaluates the image without a second record.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.errors import Forbidden, InvalidInput, Locked, NotFound, TransientError
from ops.events import Event, parse_events
from ops.executor import ExecutionPolicy
from ops.gate import records
from ops.gate.evidence import Finding, ImageRef, ManifestFacts, Referrer
from ops.gate.planner import Decision, Standing, Verdict
from ops.gate.policy import Mode, load_policy
from ops.gate.service import GateService
from ops.purge.inventory import RegistryRef
from ops.registries import registry_hosts
from ops.state.sqlite import SqliteStateStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REGISTRY_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.ContainerRegistry/registries/contoso"
)
LOGIN = "contoso.azurecr.io"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "acr_image_pushed_eventgrid.json"
IMAGE_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def image_facts(*layer_types: str, size: int = 1000, children: tuple[str, ...] = ()) -> ManifestFacts:
    layers = [{"mediaType": t, "digest": digest("0"), "size": 10} for t in layer_types]
    media = INDEX_TYPE if children else IMAGE_TYPE
    return ManifestFacts(media, size=size, children=children, content=json.dumps({"layers": layers}))


class FakeGate:
    """One registry: manifests by (repository, digest), and every effect asked of it."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], ManifestFacts] = {}
        self.readable: dict[tuple[str, str], bool] = {}
        self.quarantine: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, ...]] = []
        self.fail_lock: Exception | None = None
        self.fail_referrers: Exception | None = None
        self.fail_read: dict[str, Exception] = {}
        self.tags: dict[tuple[str, str], str] = {}  # (repository, tag) → digest
        self.tag_readable: dict[tuple[str, str], bool] = {}
        self.referrers: dict[str, Sequence[Referrer]] = {}

    def read_manifest(self, repository: str, digest: str, *, labels: bool) -> ManifestFacts:
        if digest in self.fail_read:
            raise self.fail_read[digest]
        if (repository, digest) not in self.manifests:
            raise NotFound(f"{repository}@{digest}")
        return self.manifests[(repository, digest)]

    def list_referrers(self, repository: str, digest: str) -> Sequence[Referrer]:
        if self.fail_referrers is not None:
            raise self.fail_referrers
        return self.referrers.get(digest, ())

    def set_read_enabled(self, repository: str, digest: str, enabled: bool) -> None:
        if not enabled and self.fail_lock is not None:
            raise self.fail_lock
        self.calls.append(("unlock" if enabled else "lock", repository, digest))
        self.readable[(repository, digest)] = enabled

    def set_quarantine(self, repository: str, digest: str, state: str, details: str) -> None:
        self.calls.append(("quarantine", repository, digest, state))
        self.quarantine[(repository, digest)] = state

    def untag(self, repository: str, tag: str) -> None:
        self.calls.append(("untag", repository, tag))

    def put_tag(self, repository: str, tag: str, content: str, media_type: str) -> None:
        self.calls.append(("put_tag", repository, tag))

    def set_tag_read_enabled(self, repository: str, tag: str, enabled: bool) -> None:
        if not enabled and self.fail_lock is not None:
            raise self.fail_lock
        self.calls.append(("unlock_tag" if enabled else "lock_tag", repository, tag))
        self.tag_readable[(repository, tag)] = enabled

    def resolve_tag(self, repository: str, tag: str) -> str:
        if (repository, tag) not in self.tags:
            raise NotFound(tag)
        return self.tags[(repository, tag)]

    def read_manifest_readable(self, repository: str, digest: str) -> bool:
        if (repository, digest) not in self.manifests:
            raise NotFound(f"{repository}@{digest}")
        return self.readable.get((repository, digest), True)

    def read_tag_readable(self, repository: str, tag: str) -> bool:
        return self.tag_readable.get((repository, tag), True)

    def read_quarantine(self, repository: str, digest: str) -> str | None:
        return self.quarantine.get((repository, digest))


class FakeDirectory:
    """ARM with one registry, contoso; any other registry id is not found."""

    def __init__(self, quarantine: bool) -> None:
        self.quarantine = quarantine

    def resolve_registry(self, registry_id: str) -> RegistryRef:
        if registry_id.lower() != REGISTRY_ID.lower():
            raise InvalidInput("registry id", "the id of an existing container registry", registry_id)
        endpoints = registry_hosts(name="contoso", login_server=LOGIN, regions=["eastus2", "westeurope"])
        return RegistryRef("contoso", LOGIN, id=REGISTRY_ID, endpoints=endpoints)

    def quarantine_enabled(self, image: ImageRef) -> bool:
        return self.quarantine

    def find_registry(self, name: str) -> tuple[str, str, str] | None:
        return None

    def list_registry_names(self) -> list[str]:
        return ["contoso"]


class FakeFindings:
    def __init__(self) -> None:
        self.rows: list[Finding] = []
        self.queries = 0

    def list_findings(self, digests: Sequence[str]) -> Sequence[Finding]:
        self.queries += 1
        return [r for r in self.rows if r.digest in digests]


POLICY = """
gate:
  rules:
    - {name: signed, repository: 'signed/.*', mode: lock, requireScan: false, signatures: [notation]}
    - {name: sized, repository: 'sized/.*', mode: lock, requireScan: false, maxSize: 1MiB}
    - {name: quarantined, repository: 'q/.*', mode: quarantine, requireScan: false}
    - {name: tagged, repository: 'tagged/.*', requireScan: false, signatures: [notation], maxSize: 1MiB}
    - name: released
      repository: 'released/.*'
      requireScan: false
      signatures: [notation]
      immutableTags: ['v\\d+']
    - {name: scanned, repository: 'app/.*', mode: lock}
"""


class Harness:
    def __init__(self, tmp_path: Path, *, quarantine: bool = False) -> None:
        self.gate = FakeGate()
        self.directory = FakeDirectory(quarantine)
        self.findings = FakeFindings()
        self.store = SqliteStateStore(tmp_path / "state.db")
        self.now = NOW
        self.service = GateService(
            policy=load_policy(POLICY),
            registries=lambda image: self.gate,
            directory=self.directory,
            findings=self.findings,
            publisher=None,
            store=self.store,
            execution=ExecutionPolicy(dry_run=False, backoff_s=0.0),
            clock=lambda: self.now,
        )

    def put(self, repository: str, char: str, facts: ManifestFacts) -> ImageRef:
        self.gate.manifests[(repository, digest(char))] = facts
        return ImageRef("contoso", LOGIN, repository, digest(char), REGISTRY_ID)

    def event(
        self,
        repository: str,
        char: str,
        tag: str | None,
        *,
        event_id: str | None = None,
        host: str = LOGIN,
        topic: str = REGISTRY_ID,
    ) -> Event:
        raw = json.loads(FIXTURE.read_text())
        raw = copy.deepcopy(raw[0] if isinstance(raw, list) else raw)
        raw["id"] = event_id or str(uuid.uuid4())
        raw["topic"] = topic
        raw["subject"] = f"{repository}:{tag}" if tag else repository
        raw["eventTime"] = NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        data = raw["data"]
        data["timestamp"] = raw["eventTime"]
        data["target"] = {
            "mediaType": IMAGE_TYPE,
            "size": 1000,
            "digest": digest(char),
            "length": 1000,
            "repository": repository,
            **({"tag": tag} if tag else {}),
        }
        data["request"]["host"] = host
        data.pop("connectedRegistry", None)
        return parse_events([raw])[0]

    def record(self, image: ImageRef) -> records.GateRecord:
        found = records.load_record(self.store, image.key)
        assert found is not None
        return found


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path)
    yield made
    made.store.close()


@pytest.fixture
def quarantining(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path, quarantine=True)
    yield made
    made.store.close()


# ---------------------------------------------------------------- the registry, from ARM


@pytest.mark.parametrize(
    ("host", "topic", "path"),
    [
        ("127.0.0.1:1", REGISTRY_ID, "data.request.host"),  # would send the token exchange there
        ("other.azurecr.io", REGISTRY_ID, "data.request.host"),  # registry B's image, A's topic
        (LOGIN, REGISTRY_ID.replace("/contoso", "/other"), "topic"),  # no such registry in ARM
    ],
)
def test_a_host_or_topic_arm_does_not_confirm_is_invalid_and_touches_nothing(
    harness: Harness, host: str, topic: str, path: str
) -> None:
    harness.put("signed/api", "a", image_facts(IMAGE_TYPE))
    with pytest.raises(InvalidInput) as caught:
        harness.service.handle_event(harness.event("signed/api", "a", "v1", host=host, topic=topic))
    assert caught.value.path == path
    assert harness.gate.calls == [] and harness.store.list_records(records.IMAGES) == []


@pytest.mark.parametrize(
    "host", ["contoso.westeurope.geo.azurecr.io", "CONTOSO.azurecr.io", "contoso.azurecr.io:443"]
)
def test_any_endpoint_of_the_registry_is_accepted_and_the_login_server_is_arms(
    harness: Harness, host: str
) -> None:
    image = harness.put("signed/api", "a", image_facts(IMAGE_TYPE))
    result = harness.service.handle_event(harness.event("signed/api", "a", "v1", host=host))
    assert result.status == "gated" and result.image == image.key  # keyed by ARM's login server
    assert ("lock", "signed/api", image.digest) in harness.gate.calls


# ---------------------------------------------------------------------------- item 1


@pytest.mark.parametrize("quarantine", [False, True])
def test_an_image_merely_tagged_like_cosign_is_gated(tmp_path: Path, quarantine: bool) -> None:
    h = Harness(tmp_path, quarantine=quarantine)
    image = h.put("signed/api", "a", image_facts(IMAGE_TYPE))  # ordinary layers
    result = h.service.handle_event(h.event("signed/api", "a", f"sha256-{'b' * 64}.sig"))
    assert result.status == "gated" and result.decision == "pending"
    assert ("lock", "signed/api", image.digest) in h.gate.calls
    # Released from ACR's quarantine only after the lock (so Defender can scan it), never open.
    assert h.gate.readable[("signed/api", image.digest)] is False
    assert h.record(image).standing.blocked


def test_a_cosign_layered_push_whose_subject_is_missing_is_gated(harness: Harness) -> None:
    image = harness.put("signed/api", "a", image_facts(SIMPLESIGNING))
    result = harness.service.handle_event(harness.event("signed/api", "a", f"sha256-{'b' * 64}.sig"))
    assert result.status == "gated"
    assert ("lock", "signed/api", image.digest) in harness.gate.calls


def test_a_real_cosign_signature_is_not_gated(quarantining: Harness) -> None:
    h = quarantining
    h.put("signed/api", "b", image_facts(IMAGE_TYPE))
    sig = h.put("signed/api", "a", image_facts(SIMPLESIGNING))
    result = h.service.handle_event(h.event("signed/api", "a", f"sha256-{'b' * 64}.sig"))
    assert result.status == "ignored"
    assert h.gate.calls == [("quarantine", "signed/api", sig.digest, "Passed")]
    assert records.load_record(h.store, sig.key) is None


# ---------------------------------------------------------------------------- item 2


def test_a_failed_lock_is_never_followed_by_the_quarantine_release(quarantining: Harness) -> None:
    h = quarantining
    image = h.put("app/api", "a", image_facts(IMAGE_TYPE))
    h.gate.fail_lock = Forbidden("no role to lock")
    h.service.handle_event(h.event("app/api", "a", "v1"))
    assert ("quarantine", "app/api", image.digest, "Passed") not in h.gate.calls
    assert not h.record(image).standing.blocked


# ---------------------------------------------------------------------------- item 3


@pytest.mark.parametrize("error", [Forbidden("no role"), ValueError("a bug")])
def test_a_claimed_event_that_failed_for_good_is_handled_on_redelivery(
    harness: Harness, error: Exception
) -> None:
    harness.put("signed/api", "a", image_facts(IMAGE_TYPE))
    event = harness.event("signed/api", "a", "v1")
    harness.gate.fail_referrers = error
    with pytest.raises(type(error)):
        harness.service.handle_event(event)
    harness.gate.fail_referrers = None
    result = harness.service.handle_event(event)
    assert result.status == "gated"


# ---------------------------------------------------------------------------- item 4


def test_a_deny_after_a_stale_blocked_standing_locks(harness: Harness) -> None:
    image = harness.put("sized/api", "a", image_facts(IMAGE_TYPE, size=2 * 1024 * 1024))
    # Recorded as blocked, but the lock never took (the report failed after the effects).
    records.update_record(
        harness.store,
        image.key,
        lambda r: records.GateRecord(
            image=image, rule="sized", first_seen=NOW, updated=NOW, standing=Standing(blocked=True)
        ),
    )
    result = harness.service.handle_event(harness.event("sized/api", "a", "v1"))
    assert result.decision == "deny"
    assert ("lock", "sized/api", image.digest) in harness.gate.calls


# ---------------------------------------------------------------------------- item 5


def test_an_index_of_a_child_denied_on_its_own_is_denied_and_the_child_stays_locked(harness: Harness) -> None:
    child = harness.put("sized/api", "c", image_facts(IMAGE_TYPE, size=2 * 1024 * 1024))
    assert harness.service.handle_event(harness.event("sized/api", "c", None)).decision == "deny"
    index = harness.put("sized/api", "d", image_facts(IMAGE_TYPE, size=10, children=(child.digest,)))
    result = harness.service.handle_event(harness.event("sized/api", "d", "v1"))
    assert result.decision == "deny"
    assert any(child.digest in r for r in harness.record(index).verdict.reasons)  # type: ignore[union-attr]
    assert harness.record(child).parent is None
    assert ("unlock", "sized/api", child.digest) not in harness.gate.calls


# ---------------------------------------------------------------------------- item 6


def test_the_sweep_survives_a_bug_on_one_image_and_decides_the_others(harness: Harness) -> None:
    bad = harness.put("sized/bad", "a", image_facts(IMAGE_TYPE))
    good = harness.put("sized/good", "b", image_facts(IMAGE_TYPE))
    harness.gate.fail_read[bad.digest] = Forbidden("denied")
    harness.gate.fail_read[good.digest] = Forbidden("denied")
    with pytest.raises(Forbidden):
        harness.service.handle_event(harness.event("sized/bad", "a", "v1"))
    with pytest.raises(Forbidden):
        harness.service.handle_event(harness.event("sized/good", "b", "v1"))
    harness.gate.fail_read = {bad.digest: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad byte")}
    result = harness.service.sweep()
    assert bad.key in result.failed and "UnicodeDecodeError" in result.failed[bad.key]
    assert harness.record(good).standing.decision is Decision.PASS


def test_the_sweep_moves_skipped_items_out_of_the_way(harness: Harness) -> None:
    orphan = ImageRef("contoso", LOGIN, "norule/x", digest("e"), REGISTRY_ID)
    records.update_record(
        harness.store,
        orphan.key,
        lambda r: records.GateRecord(
            image=orphan, rule="gone", first_seen=NOW - timedelta(days=9), updated=NOW
        ),
    )
    records.mark_pending(harness.store, harness.record(orphan))
    fresh = harness.put("sized/new", "f", image_facts(IMAGE_TYPE))
    harness.gate.fail_read[fresh.digest] = Forbidden("denied")
    with pytest.raises(Forbidden):
        harness.service.handle_event(harness.event("sized/new", "f", "v1"))
    harness.gate.fail_read = {}
    harness.service = replace_limit(harness.service, 1)
    harness.now = NOW + timedelta(minutes=1)
    harness.service.sweep()  # the orphan goes to the back
    harness.service.sweep()
    assert harness.record(fresh).standing.decision is Decision.PASS


def replace_limit(service: GateService, limit: int) -> GateService:
    service.config = replace(service.config, sweep_limit=limit)
    return service


# ---------------------------------------------------------------------------- item 7


def test_a_decision_stored_meanwhile_is_not_overwritten(harness: Harness) -> None:
    image = harness.put("app/api", "a", image_facts(IMAGE_TYPE))
    harness.service.handle_event(harness.event("app/api", "a", "v1"))
    assert harness.record(image).standing.decision is Decision.PENDING
    stale = harness.record(image)
    # A push decided DENY meanwhile (number 1); a sweep holding the stale snapshot decides now.
    records.update_record(
        harness.store, image.key, lambda r: r and replace(r, standing=Standing(Decision.DENY, 1, True))
    )
    harness.service._decide(replace(stale, scan=None), harness.service.policy.rules[3], False)  # type: ignore[union-attr]
    assert harness.record(image).standing == Standing(Decision.DENY, 1, True)


# ---------------------------------------------------------------------------- item 8


def test_the_sweep_never_locks_a_platform_image_whose_index_passed(harness: Harness) -> None:
    child = harness.put("sized/api", "c", image_facts(IMAGE_TYPE))
    harness.gate.fail_read[child.digest] = Forbidden("denied")
    with pytest.raises(Forbidden):
        harness.service.handle_event(harness.event("sized/api", "c", None))
    harness.gate.fail_read = {}
    index = harness.put("sized/api", "d", image_facts(IMAGE_TYPE, size=10, children=(child.digest,)))
    records.link_child(harness.store, child.key, index.key)
    now = NOW
    records.update_record(
        harness.store,
        index.key,
        lambda r: records.GateRecord(
            image=index,
            rule="sized",
            first_seen=now,
            updated=now,
            standing=Standing(Decision.PASS, 1, False),
            verdict=Verdict(Decision.PASS, (), "sized", Mode.LOCK, now),
        ),
    )
    harness.service.sweep()
    assert ("lock", "sized/api", child.digest) not in harness.gate.calls
    assert harness.record(child).standing.decision is Decision.PASS


# ---------------------------------------------------------------------------- lock-tags mode

NOTATION = "application/vnd.cncf.notary.signature"


def push_tag(h: Harness, image: ImageRef, tag: str) -> str:
    h.gate.tags[(image.repository, tag)] = image.digest
    return h.service.handle_event(h.event(image.repository, image.digest[-1], tag)).decision


def test_lock_tags_locks_every_tag_pushed_while_pending_and_a_pass_releases_them(harness: Harness) -> None:
    h = harness
    image = h.put("tagged/api", "a", image_facts(IMAGE_TYPE))
    decisions = [push_tag(h, image, "v1"), push_tag(h, image, "latest")]
    locked = dict(h.gate.tag_readable)
    h.gate.referrers[image.digest] = [Referrer(digest("5"), NOTATION)]
    h.service.sweep()

    assert decisions == ["pending", "pending"]
    assert locked == {("tagged/api", "v1"): False, ("tagged/api", "latest"): False}
    assert not [c for c in h.gate.calls if c[0] in ("lock", "unlock")]  # the digest stays readable
    assert h.record(image).standing.decision is Decision.PASS
    assert h.gate.tag_readable == {("tagged/api", "v1"): True, ("tagged/api", "latest"): True}


def test_a_tag_moved_to_another_pending_digest_stays_locked(harness: Harness) -> None:
    h = harness
    first = h.put("tagged/api", "a", image_facts(IMAGE_TYPE))
    second = h.put("tagged/api", "b", image_facts(IMAGE_TYPE))
    push_tag(h, first, "v1")
    push_tag(h, second, "v1")  # the tag moves on while the first digest is pending
    h.gate.referrers[first.digest] = [Referrer(digest("5"), NOTATION)]
    h.service.sweep()

    assert h.record(first).standing.decision is Decision.PASS
    assert h.record(second).standing.decision is Decision.PENDING
    assert ("unlock_tag", "tagged/api", "v1") not in h.gate.calls
    assert h.gate.tag_readable[("tagged/api", "v1")] is False


def test_a_tag_pushed_after_the_pass_is_released(harness: Harness) -> None:
    h = harness
    image = h.put("tagged/api", "a", image_facts(IMAGE_TYPE))
    h.gate.referrers[image.digest] = [Referrer(digest("5"), NOTATION)]
    assert push_tag(h, image, "v1") == "pass"
    h.gate.tag_readable[("tagged/api", "stable")] = False  # locked for the digest it named before
    assert push_tag(h, image, "stable") == "pass"

    assert h.gate.tag_readable[("tagged/api", "stable")] is True


def test_a_deny_in_lock_tags_mode_locks_the_manifest_too(harness: Harness) -> None:
    h = harness
    image = h.put("tagged/api", "a", image_facts(IMAGE_TYPE, size=2 * 1024 * 1024))
    assert push_tag(h, image, "v1") == "deny"

    assert ("lock_tag", "tagged/api", "v1") in h.gate.calls
    assert ("lock", "tagged/api", image.digest) in h.gate.calls
    assert h.gate.readable[("tagged/api", image.digest)] is False


def test_a_failed_tag_lock_leaves_the_image_quarantined(quarantining: Harness) -> None:
    h = quarantining
    image = h.put("tagged/api", "a", image_facts(IMAGE_TYPE))
    h.gate.fail_lock = TransientError("registry 503")
    h.gate.tags[("tagged/api", "v1")] = image.digest
    with pytest.raises(TransientError):
        h.service.handle_event(h.event("tagged/api", "a", "v1"))

    assert not [c for c in h.gate.calls if c[0] == "quarantine"]


def test_referrers_refused_by_a_lock_keep_the_image_waiting(harness: Harness) -> None:
    image = harness.put("signed/api", "a", image_facts(IMAGE_TYPE))
    harness.gate.fail_referrers = Locked("list referrers: REGISTRY_DISALLOWED_OPERATION")
    result = harness.service.handle_event(harness.event("signed/api", "a", "v1"))

    assert result.decision == "pending"
    assert harness.record(image).referrers is None


def test_an_immutable_tag_put_back_on_a_passed_digest_is_unlocked(harness: Harness) -> None:
    h = harness
    first = h.put("released/api", "a", image_facts(IMAGE_TYPE))
    second = h.put("released/api", "b", image_facts(IMAGE_TYPE))
    h.gate.referrers[first.digest] = [Referrer(digest("5"), NOTATION)]
    assert push_tag(h, first, "v1") == "pass"
    assert push_tag(h, second, "v1") == "deny"  # the immutable tag moved: put back on the first

    calls = h.gate.calls
    assert calls.index(("lock_tag", "released/api", "v1")) < calls.index(("put_tag", "released/api", "v1"))
    assert calls[calls.index(("put_tag", "released/api", "v1")) + 1] == ("unlock_tag", "released/api", "v1")
    assert h.gate.tag_readable[("released/api", "v1")] is True
    assert h.gate.readable[("released/api", second.digest)] is False


class Died(BaseException):
    """Stands in for SIGKILL: nothing after it runs, and no ``except Exception`` catches it."""


def test_a_lock_a_dead_delivery_left_unrecorded_is_recorded_by_a_later_sweep(harness: Harness) -> None:
    image = harness.put("app/orphan", "e", image_facts(IMAGE_TYPE))
    real = harness.gate.set_read_enabled

    def lock_then_die(repository: str, digest: str, enabled: bool) -> None:
        real(repository, digest, enabled)
        raise Died

    harness.gate.set_read_enabled = lock_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        harness.service.handle_event(harness.event("app/orphan", "e", "v1"))
    harness.gate.set_read_enabled = real  # type: ignore[method-assign]
    assert harness.gate.readable[("app/orphan", image.digest)] is False
    locks = lambda: [r for r in harness.store.query_audit(capability="gate") if r.kind == "gate.lock"]  # noqa: E731
    assert locks() == []  # landed, unrecorded: the event is never delivered again

    assert harness.service.effects.resume() == 0 and locks() == []  # a live delivery may hold it
    harness.now += timedelta(minutes=11)
    assert harness.service.effects.resume() == 1  # what each sweep does first
    assert [r.target for r in locks()] == [image.key] and locks()[0].status == "applied"
    swept = harness.service.sweep()
    assert swept.resumed == 0 and swept.evaluated == 1 and len(locks()) == 1
