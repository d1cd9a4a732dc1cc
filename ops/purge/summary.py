"""Run summaries: what a purge deleted, what it reclaimed, and what it protected, by reason.

Bytes reclaimed are an estimate, made one of two ways (``bytes_estimate`` in the summary):

- ``imageSize`` (the default): the sum of ACR's ``imageSize`` of every deleted image
  manifest, which the manifest listing already returns, so the estimate costs no
  request at all. A layer shared by several deleted manifests counts once for each,
  so this is an upper bound.
- ``layers`` (asked for: ``ops purge --exact-bytes``): the sizes of the config and
  layer blobs that the deleted manifests referenced and that no remaining manifest of
  the same repository still references, read from each manifest (one registry read
  per manifest of every repository that loses something).

Either way, blobs shared with other repositories are counted as reclaimed (ACR
deduplicates storage registry-wide, so the true figure can only be lower). Without an
estimate (``OPS_PURGE_ESTIMATE_BYTES=false``) the method is ``none`` and the bytes 0.

A dry run produces the same summary, counting what *would* be deleted, with
``dry_run: true``, so that a plan can be compared with the run that applies it.

A batch refused because its run's in-use set had grown too old is recorded with a
summary of its own (nothing done, ``refused``: why); the run summary counts refused
batches and their repositories and lists the reasons, so an operator sees what waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ops.executor import describe_interruption
from ops.plan import Outcome, Plan, Status
from ops.purge.inventory import Manifest
from ops.purge.planner import DELETE

IMAGE_SIZE = "imageSize"
LAYERS = "layers"
NO_ESTIMATE = "none"

_DONE = frozenset({Status.APPLIED, Status.ALREADY_DONE, Status.DRY_RUN})
_COUNTS = (
    "repositories",
    "actions",
    "manifests_deleted",
    "tags_deleted",
    "bytes_reclaimed",
    "unlocked",
    "failed",
    "resumed",
)


def deleted_digests(outcomes: Iterable[Outcome]) -> dict[tuple[str, str, str], Outcome]:
    """(registry, repository, digest) → outcome, for delete actions that succeeded (or would)."""
    return {
        (o.action.params["registry"], o.action.params["repository"], o.action.params["digest"]): o
        for o in outcomes
        if o.action.kind == DELETE and o.status in _DONE
    }


def bytes_method(*, estimate: bool, exact: bool) -> str:
    """How bytes reclaimed are estimated: from the listing, from the layers, or not at all."""
    if not estimate and not exact:
        return NO_ESTIMATE
    return LAYERS if exact else IMAGE_SIZE


def listed_bytes(manifests: Iterable[Manifest], *, deleted: Iterable[str]) -> int:
    """The sum of ACR's ``imageSize`` of the ``deleted`` image manifests: an upper bound of
    what they free, from the listing alone. An index is left out: its platform images are
    manifests of their own, counted when they go."""
    gone = set(deleted)
    return sum(m.size for m in manifests if m.digest in gone and not m.is_index)


def reclaimed_bytes(
    layers: Mapping[str, Sequence[tuple[str, int]]], *, deleted: Iterable[str], kept: Iterable[str]
) -> int:
    """Bytes of blobs referenced by ``deleted`` manifests and by none of ``kept``."""
    still_used = {blob for digest in kept for blob, _ in layers.get(digest, ())}
    freed: dict[str, int] = {}
    for digest in deleted:
        for blob, size in layers.get(digest, ()):
            if blob not in still_used:
                freed[blob] = size
    return sum(freed.values())


def summarize_batch(
    plan: Plan,
    outcomes: Sequence[Outcome],
    *,
    repositories: int,
    bytes_reclaimed: int,
    dry_run: bool,
    resumed: int = 0,
    bytes_estimate: str = IMAGE_SIZE,
) -> dict[str, Any]:
    """``resumed`` counts effects of an interrupted attempt, verified and recorded by this one;
    ``bytes_estimate`` says how ``bytes_reclaimed`` was estimated."""
    done = [o for o in outcomes if o.status in _DONE]
    deletes = [o for o in done if o.action.kind == DELETE]
    return {
        "repositories": repositories,
        "actions": len(plan.actions),
        "manifests_deleted": len(deletes),
        "tags_deleted": sum(len(o.action.params.get("tags") or ()) for o in deletes),
        "bytes_reclaimed": bytes_reclaimed,
        "bytes_estimate": bytes_estimate,
        "unlocked": sum(1 for o in done if o.action.kind != DELETE),
        "failed": sum(1 for o in outcomes if o.status is Status.FAILED),
        "resumed": resumed,
        "protected": len(plan.protected),
        "protected_by_reason": dict(
            Counter(str(g.detail.get("protection", "other")) for g in plan.protected)
        ),
        "dry_run": dry_run,
    }


def refused_summary(repositories: int, reason: str, *, dry_run: bool) -> dict[str, Any]:
    """The summary of a batch that did nothing because it was refused, and why."""
    return {
        **dict.fromkeys(_COUNTS, 0),
        "protected": 0,
        "protected_by_reason": {},
        "dry_run": dry_run,
        "refused": reason,
        "refused_repositories": repositories,
    }


def merge_summaries(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary from batch summaries (counts add up; protected counts by reason too;
    refused batches are counted, with their reasons)."""
    total: dict[str, Any] = dict.fromkeys(_COUNTS, 0)
    reasons: Counter[str] = Counter()
    refused: dict[str, None] = {}
    refused_batches = refused_repositories = 0
    dry = False
    methods: dict[str, None] = {}
    for part in parts:
        if part.get("bytes_estimate") and not part.get("refused"):
            methods.setdefault(str(part["bytes_estimate"]))
        for key in _COUNTS:
            total[key] += int(part.get(key, 0))
        reasons.update({str(k): int(v) for k, v in (part.get("protected_by_reason") or {}).items()})
        dry = dry or bool(part.get("dry_run"))
        if part.get("refused"):
            refused_batches += 1
            refused_repositories += int(part.get("refused_repositories", 0))
            refused.setdefault(str(part["refused"]))
    total["protected"] = sum(reasons.values())
    total["protected_by_reason"] = dict(sorted(reasons.items()))
    total["dry_run"] = dry
    # Every batch of a run estimates the same way; "mixed" would mean a run split across
    # a change of the setting, and says so rather than pick one.
    estimate = next(iter(methods)) if len(methods) == 1 else "mixed"
    total["bytes_estimate"] = estimate if methods else NO_ESTIMATE
    total["refused_batches"] = refused_batches
    total["refused_repositories"] = refused_repositories
    total["refused"] = list(refused)
    return total


def interrupted_summary(outcomes: Sequence[Outcome]) -> str:
    """What an operator sees when a purge run was stopped: how far it got, and what next."""
    return describe_interruption(outcomes, lease="purge")


def plan_document(
    plan: Plan, outcomes: Sequence[Outcome], summary: Mapping[str, Any], run: str
) -> dict[str, Any]:
    """The plan as ``ops purge --output json`` prints it: actions and protected items."""
    status = {o.action.key: str(o.status) for o in outcomes}
    actions = []
    for action in plan.actions:
        params = action.params
        entry = {
            "kind": action.kind,
            "registry": params["registry"],
            "repository": params["repository"],
            "digest": params.get("for") or params["digest"],
            "tags": list(params.get("tags") or ([params["tag"]] if "tag" in params else [])),
            "reason": action.reason,
            "status": status.get(action.key, "planned"),
        }
        actions.append(entry)
    protected = [
        {
            "registry": g.detail.get("registry"),
            "repository": g.detail.get("repository"),
            "digest": g.detail.get("digest"),
            "tags": list(g.detail.get("tags") or ()),
            "reason": g.reason,
            "protection": g.detail.get("protection"),
        }
        for g in plan.protected
    ]
    return {
        "run": run,
        "summary": dict(summary),
        "actions": actions,
        "protected": protected,
        "notes": list(plan.notes),
    }


def repository_rows(plan: Plan, outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per repository with something to delete or protect: the CLI's summary table."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(registry: str, repository: str) -> dict[str, Any]:
        key = (registry, repository)
        if key not in rows:
            rows[key] = {"registry": registry, "repository": repository, "delete": 0, "tags": 0,
                         "protected": Counter(), "failed": 0}  # fmt: skip
        return rows[key]

    for outcome in outcomes:
        params = outcome.action.params
        entry = row(params["registry"], params["repository"])
        if outcome.status is Status.FAILED:
            entry["failed"] += 1
        elif outcome.action.kind == DELETE:
            entry["delete"] += 1
            entry["tags"] += len(params.get("tags") or ())
    for guard in plan.protected:
        entry = row(str(guard.detail.get("registry")), str(guard.detail.get("repository")))
        entry["protected"][str(guard.detail.get("protection", "other"))] += 1
    out = []
    for key in sorted(rows):
        entry = rows[key]
        entry["protected"] = ", ".join(f"{k} {v}" for k, v in sorted(entry["protected"].items()))
        out.append(entry)
    return out
