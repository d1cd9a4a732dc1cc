"""The JSON every command prints with ``-o json`` (and, the same document, ``-o yaml``),
as models, from which docs/schemas/cli/ is generated.

A script can rely on these shapes: each field named here is always present (``null``
where the model says it may be), with the type given. Fields may be added in later
versions, so the schemas allow properties they do not name; none is removed or renamed
without a new schema. ``python -m ops.commands.documents`` writes the schemas (through
``ops.policies.publish_schema``, the generator the policy schemas use); a test compares
the files with the models, and another validates every command's actual output
against its schema. An error ends any command with ``ErrorDocument``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "cli"


class _Document(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- shared parts ------------------------------------------------------------------------------


class ActionModel(_Document):
    """One action a plan would take, with its reason and idempotency key."""

    kind: str = Field(description="what the action does: delete_manifest, stop_cluster, …")
    target: str = Field(description="the ARM id or registry reference it acts on")
    reason: str
    service: str
    params: dict[str, Any]
    key: str = Field(description="the idempotency key: the same action always has the same key")


class GuardModel(_Document):
    """Something the plan leaves alone on purpose, and why."""

    target: str
    reason: str
    detail: dict[str, Any] | None = None


class PlanSummaryModel(_Document):
    capability: str
    actions: int
    by_kind: dict[str, int]
    protected: int
    protected_by_reason: dict[str, int]
    skipped: int
    skipped_by_reason: dict[str, int]
    cap: int | None


class PlanModel(_Document):
    """What a capability would do, and everything it deliberately did not touch."""

    capability: str
    summary: PlanSummaryModel
    actions: list[ActionModel]
    protected: list[GuardModel]
    skipped: list[GuardModel]
    notes: list[str]


class OutcomeModel(_Document):
    """What happened to one action."""

    kind: str
    target: str
    key: str
    status: Literal["applied", "already_done", "dry_run", "halted", "failed"]
    attempts: int
    detail: str
    retryable: bool


# -- errors and validate -----------------------------------------------------------------------


class ErrorDocument(_Document):
    """How any command ends on an error, with ``-o json|yaml`` (on stdout)."""

    error: str = Field(description="what went wrong, in words")
    kind: Literal["invalid", "refused", "failed", "unreachable", "credential"]
    exitCode: Literal[1, 2, 3] = Field(description="the exit code the command ends with")
    check: str | None = Field(None, description="what to check, where the message alone does not say")
    details: dict[str, Any] | None = Field(None, description="a refusal's plan, a changed plan's digest")


class ProblemModel(_Document):
    path: str = Field(description="the field path, e.g. purge.rules[2].olderThan")
    line: int | None
    column: int | None
    message: str


class FileReportModel(_Document):
    file: str
    kind: str | None = Field(description="purge, gate, schedule, remediate, failover or estate")
    valid: bool
    problems: list[ProblemModel]


class ValidateDocument(RootModel[list[FileReportModel]]):
    """``ops validate``: one report per file, in the order given."""


# -- purge -------------------------------------------------------------------------------------


class PurgeSummaryModel(_Document):
    repositories: int
    actions: int
    manifests_deleted: int
    tags_deleted: int
    bytes_reclaimed: int = Field(description="bytes, not humanized")
    failed: int
    protected: int
    protected_by_reason: dict[str, int]
    dry_run: bool


class PurgeActionModel(_Document):
    kind: str
    registry: str
    repository: str
    digest: str
    tags: list[str]
    reason: str
    status: str


class PurgeProtectedModel(_Document):
    registry: str
    repository: str
    digest: str
    tags: list[str]
    reason: str
    protection: str


class PurgeDocument(_Document):
    """``ops purge``: the run, its summary, every action and every protected manifest."""

    run: str
    summary: PurgeSummaryModel
    actions: list[PurgeActionModel]
    protected: list[PurgeProtectedModel]
    notes: list[str]
    interrupted: str | None = Field(None, description="present when a signal stopped an --apply")


# -- schedule ----------------------------------------------------------------------------------


class ClusterRowModel(_Document):
    cluster: str
    id: str
    schedule: str | None
    timezone: str | None
    mode: str | None
    environment: str | None
    desired: str | None
    current: str | None
    action: str | None
    reason: str | None
    nextChange: str | None
    nodeHoursSavedPerWeek: float | None
    error: str | None


class SchedulePlanModel(_Document):
    """``ops schedule``: each cluster's schedule and planned action, and the plan."""

    now: str
    clusters: list[ClusterRowModel]
    notInScope: int
    plan: PlanModel


class ScheduleTickModel(_Document):
    """``ops schedule --apply``: what one tick did (``skipped`` alone when another held the lease)."""

    capability: Literal["schedule"]
    now: str
    dryRun: bool
    skipped: str | None = None
    summary: PlanSummaryModel | None = None
    outcomes: dict[str, int] | None = None
    actions: list[OutcomeModel] | None = None
    clusters: list[ClusterRowModel] | None = None


class ScheduleDocument(RootModel[SchedulePlanModel | ScheduleTickModel]):
    """``ops schedule``: a plan, or with ``--apply`` a tick's result."""


class SnoozeDocument(_Document):
    """``ops schedule snooze``: the snooze shown (or, with ``--apply``, set) in the cluster's zone."""

    cluster: str
    id: str
    status: str
    until: str | None = Field(None, alias="ops-snooze-until", description="the tag's value; null: cleared")
    timezone: str | None
    message: str
    outcomes: list[OutcomeModel]


class TransitionModel(_Document):
    cluster: str
    id: str
    timezone: str | None
    at: str | None = Field(description="when, with the cluster's own UTC offset; null: no transition")
    local: str = Field(description="when, as the cluster's local time reads")
    action: str = Field(description="start, stop, scale up, scale down; none for a row that only notes")
    note: str


class SchedulePreviewDocument(RootModel[list[TransitionModel]]):
    """``ops schedule preview``: every transition each cluster makes, by cluster then time."""


# -- gate --------------------------------------------------------------------------------------


class CheckModel(_Document):
    check: str
    result: str
    message: str


class VerdictModel(_Document):
    decision: Literal["pass", "deny", "pending"]
    rule: str
    mode: str
    at: str
    waitingFor: list[str]
    checks: list[CheckModel]


class GateCheckDocument(_Document):
    """``ops gate check``: the verdict (null: no rule covers the image) and its evidence."""

    image: str
    tags: list[str]
    verdict: VerdictModel | None
    reasons: list[str]
    recorded: dict[str, Any] | None = Field(description="the gate's stored decision, if any")
    evidence: dict[str, Any] = Field(description="manifest, scan, referrers and tag conflicts as read")
    detail: str


class PendingImageModel(_Document):
    image: str
    tags: list[str]
    age: str
    ageSeconds: int
    waitingFor: list[str]
    rule: str | None
    mode: str
    blocked: bool
    timeoutIn: str


class GatePendingDocument(RootModel[list[PendingImageModel]]):
    """``ops gate pending``: images held pending, oldest first."""


# -- audit -------------------------------------------------------------------------------------


class AuditRecordModel(_Document):
    key: str
    at: str
    capability: str
    kind: str
    target: str
    status: str
    reason: str
    detail: dict[str, Any]


class AuditDocument(RootModel[list[AuditRecordModel]]):
    """``ops audit``: records, newest first."""


# -- failover ----------------------------------------------------------------------------------


class StampStatusModel(_Document):
    stamp: str
    phase: str
    home: str | None
    active: str | None
    note: str | None
    regions: dict[str, dict[str, Any]]


class FailoverStatusDocument(RootModel[list[StampStatusModel]]):
    """``ops failover status``: each stamp's phase and its regions' health."""


class StampOutcomeModel(_Document):
    stamp: str
    decision: str
    reason: str
    phase: str
    plan: PlanModel | None
    outcomes: list[OutcomeModel]


class FailoverRunDocument(_Document):
    """``ops failover plan|apply|failback``: per stamp, the decision, its plan and outcomes."""

    signals: int
    reason: str
    stamps: list[StampOutcomeModel]


# -- remediate and runbooks --------------------------------------------------------------------


class RemediationModel(_Document):
    remedy: str
    cluster: str
    status: Literal["planned", "applied", "refused", "failed"]
    reason: str
    plan: PlanModel
    outcomes: list[OutcomeModel]


class RemediateOtherModel(_Document):
    status: Literal["ignored", "continued"]
    reason: str | None = None
    notes: list[str] | None = None


class RemediateDocument(RootModel[RemediationModel | RemediateOtherModel]):
    """``ops remediate``: the remediation's plan, or why the alert was ignored, or what
    ``--continue`` found."""


class RunbookPlanModel(_Document):
    runbook: str
    params: dict[str, Any]
    plan: PlanModel
    planDigest: str = Field(description="pass it to --plan-digest to apply exactly this plan")


class RunModel(_Document):
    id: str
    runbook: str
    status: str
    params: dict[str, Any]
    planDigest: str
    caller: dict[str, Any]
    summary: dict[str, int]
    outcomes: list[OutcomeModel]


class RunbookApplyModel(_Document):
    run: RunModel


class RunbookDocument(RootModel[RunbookPlanModel | RunbookApplyModel]):
    """``ops runbook``: the plan and its digest, or with ``--apply`` the run."""


class InvokeDocument(_Document):
    """``ops invoke``: the function's result, as the host would have it."""

    function: str
    trigger: str
    result: Any


# -- the registry the schemas are written from -------------------------------------------------

DOCUMENTS: dict[str, type[BaseModel]] = {
    "error": ErrorDocument,
    "validate": ValidateDocument,
    "purge": PurgeDocument,
    "schedule": ScheduleDocument,
    "schedule-snooze": SnoozeDocument,
    "schedule-preview": SchedulePreviewDocument,
    "gate-check": GateCheckDocument,
    "gate-pending": GatePendingDocument,
    "audit": AuditDocument,
    "audit-show": AuditRecordModel,
    "failover-status": FailoverStatusDocument,
    "failover-run": FailoverRunDocument,
    "remediate": RemediateDocument,
    "runbook": RunbookDocument,
    "invoke": InvokeDocument,
}


#: Each command that prints a document, by its words after ``ops``, and its schema's name.
COMMAND_DOCUMENTS: dict[str, str] = {
    "validate": "validate",
    "purge": "purge",
    "schedule": "schedule",
    "schedule snooze": "schedule-snooze",
    "schedule preview": "schedule-preview",
    "gate check": "gate-check",
    "gate pending": "gate-pending",
    "audit": "audit",
    "audit show": "audit-show",
    "failover status": "failover-status",
    "failover plan": "failover-run",
    "failover apply": "failover-run",
    "failover failback": "failover-run",
    "remediate": "remediate",
    "runbook": "runbook",
    "invoke": "invoke",
    "sandbox state": "../estate",  # the estate file format (docs/schemas/estate.schema.json)
}


def cli_schemas() -> dict[str, dict[str, Any]]:
    """Every command document's JSON Schema, by file stem, as docs/schemas/cli/ holds them."""
    from ops.policies import publish_schema

    return {name: publish_schema(model, name=f"cli-{name}") for name, model in DOCUMENTS.items()}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema (and remove any that no longer has a model); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = cli_schemas()
    for stale in directory.glob("*.schema.json"):
        if stale.name.removesuffix(".schema.json") not in schemas:
            stale.unlink()
    written = []
    for name, schema in schemas.items():
        path = directory / f"{name}.schema.json"
        path.write_text(schema_text(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
