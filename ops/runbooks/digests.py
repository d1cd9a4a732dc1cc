"""The plan digest: what a caller reviewed, so that an apply can refuse a different plan.

``GET runbooks/{name}`` returns the plan and its digest; ``POST`` may send the digest
back as ``planDigest``, and the apply is refused (409, with the new plan) when the plan
computed now digests differently. The digest covers what the plan would do, each
action's kind, target and parameters, and the targets it protects or skips, in order;
not the run id a planner stamps on its actions, nor the wording of reasons (ages in
reasons grow by the minute while the plan stays the same).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ops.plan import Plan

#: Parameters that name the run rather than the change.
_VOLATILE = frozenset({"run"})


def plan_digest(plan: Plan) -> str:
    """The SHA-256 (hex) of the plan's substance."""
    content: dict[str, Any] = {
        "capability": plan.capability,
        "actions": [
            [a.kind, a.target, {k: v for k, v in a.params.items() if k not in _VOLATILE}]
            for a in plan.actions
        ],
        "protected": [g.target for g in plan.protected],
        "skipped": [g.target for g in plan.skipped],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
