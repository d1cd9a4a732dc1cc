"""record_rejection: one audit record per capability, source, error text and UTC day.

Cases: the same rejection twice on one day is one record (the second call says so);
the next UTC day records again, and the day is the UTC one whatever ``now``'s time
zone; another error text, source or capability is another record; the record carries
the error class, the reason, the field path of invalid input, and the body (bytes
decoded, long bodies shortened), and no body when there was none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ops.errors import ConfigError, InvalidInput
from ops.rejections import record_rejection
from ops.state.sqlite import SqliteStateStore

MORNING = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)
POLICY = ConfigError("purge.rules[0].keep: Input should be greater than or equal to 0")


@pytest.fixture
def store() -> Iterator[SqliteStateStore]:
    state = SqliteStateStore(":memory:")
    yield state
    state.close()


def reasons(store: SqliteStateStore) -> list[tuple[str, str, str, str]]:
    return sorted((r.capability, r.target, r.reason, r.at.date().isoformat()) for r in store.query_audit())


def test_one_record_per_rejection_per_utc_day(store: SqliteStateStore) -> None:
    def record(now: datetime) -> bool:
        return record_rejection(store, capability="purge", source="purge_schedule", error=POLICY, now=now)

    assert record(MORNING) is True
    assert record(MORNING + timedelta(hours=23, minutes=50)) is False  # a timer run every few minutes
    eastern = timezone(timedelta(hours=-5))
    assert record(datetime(2026, 11, 26, 20, 0, tzinfo=eastern)) is True  # 01:00 UTC on the 27th
    assert record(datetime(2026, 11, 27, 23, 0, tzinfo=UTC)) is False
    text = f"invalid configuration: {POLICY}"
    assert reasons(store) == [
        ("purge", "purge_schedule", text, "2026-11-26"),
        ("purge", "purge_schedule", text, "2026-11-27"),
    ]


def test_another_error_source_or_capability_is_another_record(store: SqliteStateStore) -> None:
    other = ConfigError("purge.rules[1].keep: Input should be greater than or equal to 0")
    for capability, source, error in [
        ("purge", "purge_schedule", POLICY),
        ("purge", "purge_schedule", other),
        ("purge", "purge_repository", POLICY),
        ("gate", "purge_schedule", POLICY),
    ]:
        assert record_rejection(store, capability=capability, source=source, error=error, now=MORNING)
    assert len(store.query_audit()) == 4


def test_the_record_says_what_was_rejected(store: SqliteStateStore) -> None:
    error = InvalidInput("data.target.digest", "a sha256 digest", "sha256:nope")
    body = b'{"id": "e1", "data": "' + b"x" * 3000 + b'"}'
    record_rejection(
        store, capability="gate", source="gate_on_image_pushed", error=error, body=body, now=MORNING
    )
    record_rejection(store, capability="schedule", source="schedule_tick", error=POLICY, now=MORNING)
    gate, schedule = sorted(store.query_audit(), key=lambda r: r.capability)
    assert (gate.kind, gate.status, gate.at) == ("rejected", "rejected", MORNING)
    assert gate.reason == "invalid input: data.target.digest: expected a sha256 digest (got 'sha256:nope')"
    assert gate.detail["error"] == "InvalidInput" and gate.detail["path"] == "data.target.digest"
    kept = gate.detail["body"]
    assert kept.startswith('{"id": "e1", "data": "xxx') and kept.endswith("...") and len(kept) == 2000
    assert dict(schedule.detail) == {"error": "ConfigError"}
