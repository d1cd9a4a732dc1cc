"""The CloudEvents a verdict publishes, so that other systems can subscribe instead of polling.

``ops.gate.passed`` and ``ops.gate.denied`` carry the image, the verdict with every
check, and the evidence it was computed from. The event id is derived from the image
and the decision number, so a verdict published again after a redelivery has the same
id and subscribers can drop the duplicate (Event Grid delivers at least once anyway).
"""

from __future__ import annotations

from typing import Any

from ops.gate.evidence import Evidence
from ops.gate.planner import Decision, Verdict
from ops.plan import make_key

PASSED = "ops.gate.passed"
DENIED = "ops.gate.denied"


def verdict_event(verdict: Verdict, evidence: Evidence, *, number: int) -> dict[str, Any]:
    """The CloudEvents 1.0 event for a pass or deny verdict (decision ``number`` of the image)."""
    if verdict.decision is Decision.PENDING:
        raise ValueError("a pending verdict is not published")
    image = evidence.image
    kind = PASSED if verdict.decision is Decision.PASS else DENIED
    return {
        "specversion": "1.0",
        "id": make_key(kind, image.key, {"number": number}),
        "source": image.registry_id or f"//{image.login_server}",
        "type": kind,
        "subject": f"{image.repository}@{image.digest}",
        "time": verdict.at.isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "image": f"{image.login_server}/{image.repository}@{image.digest}",
            "tags": list(evidence.tags),
            "verdict": str(verdict.decision),
            "decision": number,
            "rule": verdict.rule,
            "mode": str(verdict.mode),
            "reasons": list(verdict.reasons),
            "checks": [c.to_dict() for c in verdict.checks],
            "evidence": evidence.to_dict(),
        },
    }
