"""Runbook runs: what each POST did, kept in the app's state for ``GET runbooks/runs/{id}``.

A run is recorded when a POST is accepted (``queued`` when its work goes to the
background, ``running`` otherwise), and updated as it ends (``succeeded``, ``failed``:
an action failed, ``refused``: the plan changed before the background work began).
It names the caller and keeps the outcomes, so that the 202 answer's ``Location``
reports progress and results.

A POST repeated within ``REPLAY_WINDOW`` with the same runbook, parameters and
plan digest is a replay: it gets the first run back and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.errors import Conflict
from ops.payloads import fail, load_json
from ops.plan import Outcome, summarize_outcomes
from ops.state.store import StateStore

RUNS = "runbook-runs"
RUN_ID = re.compile(r"rb-[0-9]{14}-[0-9a-f]{10}")
REPLAYS = "runbook-replays"
REPLAY_WINDOW = timedelta(minutes=15)
#: Outcomes kept in a run record (the audit trail has every one).
MAX_KEPT_OUTCOMES = 500


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    runbook: str
    params: Mapping[str, Any]
    plan_digest: str
    caller: Mapping[str, Any]
    status: str
    created: datetime
    reason: str | None = None
    finished: datetime | None = None
    actions: int = 0
    outcomes: Sequence[Mapping[str, Any]] = ()
    summary: Mapping[str, int] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "refused")

    def finish(self, outcomes: Sequence[Outcome], detail: Mapping[str, Any], *, now: datetime) -> Run:
        failed = any(not o.ok for o in outcomes)
        return replace(
            self,
            status="failed" if failed else "succeeded",
            finished=now,
            outcomes=[o.to_dict() for o in outcomes[:MAX_KEPT_OUTCOMES]],
            summary=summarize_outcomes(outcomes),
            detail=dict(detail),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "runbook": self.runbook,
            "status": self.status,
            "params": dict(self.params),
            "planDigest": self.plan_digest,
            "reason": self.reason,
            "caller": dict(self.caller),
            "createdAt": self.created.isoformat(),
            "finishedAt": self.finished.isoformat() if self.finished else None,
            "actions": self.actions,
            "summary": dict(self.summary),
            "outcomes": [dict(o) for o in self.outcomes],
            "detail": json.loads(json.dumps(dict(self.detail), default=str)),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Run:
        finished = value.get("finishedAt")
        return cls(
            id=str(value["id"]),
            runbook=str(value["runbook"]),
            params=dict(value.get("params") or {}),
            plan_digest=str(value["planDigest"]),
            caller=dict(value.get("caller") or {}),
            status=str(value["status"]),
            created=datetime.fromisoformat(str(value["createdAt"])),
            reason=value.get("reason"),
            finished=datetime.fromisoformat(str(finished)) if finished else None,
            actions=int(value.get("actions") or 0),
            outcomes=list(value.get("outcomes") or []),
            summary=dict(value.get("summary") or {}),
            detail=dict(value.get("detail") or {}),
            error=value.get("error"),
        )


def parse_run_message(body: bytes | str) -> str:
    """The run id of a ``runbook_worker`` message (``{"run": "<id>"}``); InvalidInput otherwise."""
    value = load_json(body, limit=1024, what="a runbook message")
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("run"), str)
        or not RUN_ID.fullmatch(value["run"])
    ):
        fail(("run",), "a runbook run id like rb-<yyyymmddHHMMSS>-<10 hex digits>", value)
    return str(value["run"])


def new_run_id(now: datetime) -> str:
    return f"rb-{now.astimezone(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:10]}"


def save_run(store: StateStore, run: Run) -> None:
    store.put_record(RUNS, run.id, run.to_dict(), etag="*")


def load_run(store: StateStore, run_id: str) -> Run | None:
    record = store.get_record(RUNS, run_id)
    return None if record is None else Run.from_dict(record.value)


def fingerprint(runbook: str, params: Mapping[str, Any], plan_digest: str) -> str:
    blob = json.dumps([runbook, params, plan_digest], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def claim_replay(store: StateStore, key: str, run_id: str, *, now: datetime) -> str | None:
    """Take ``key`` for ``run_id``; the id of the earlier run when it is a replay (None: ours)."""
    value = {"run": run_id, "at": now.isoformat()}
    try:
        store.put_record(REPLAYS, key, value, etag=None)
        return None
    except Conflict:
        pass
    record = store.get_record(REPLAYS, key)
    if record is None:
        return claim_replay(store, key, run_id, now=now)
    if now - datetime.fromisoformat(str(record.value["at"])) < REPLAY_WINDOW:
        return str(record.value["run"])
    try:  # an old one: this is a new request that happens to look the same
        store.put_record(REPLAYS, key, value, etag=record.etag)
    except Conflict:
        return claim_replay(store, key, run_id, now=now)
    return None
