"""The gate's runbooks: re-evaluate one image now, and override the gate for one digest.

``gate-reevaluate`` reads fresh evidence (Defender's findings, referrers, the
manifest) and applies the verdict as a sweep would: a pass unblocks, a deny keeps
the image blocked. ``gate-override`` lets one digest through until an expiry, for a
stated reason, recorded with who decided (it needs the approve role), then
re-evaluates the image so that it is unblocked at once. An override names a digest,
never a tag: a new push under the same tag is gated again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ops.errors import InvalidInput, NotFound
from ops.executor import apply_plan
from ops.gate import records
from ops.gate.evidence import ImageRef
from ops.gate.planner import Override
from ops.plan import Action, Guard, Plan, make_key
from ops.policies import parse_duration
from ops.runbooks.catalog import Context, Execution, Prepared, Runbook
from ops.runbooks.params import ImageParams, OverrideParams

REEVALUATE = "gate.reevaluate"
OVERRIDE = "gate.override"
MAX_OVERRIDE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class _Target:
    image: ImageRef
    override: Override | None = None


def _resolve(context: Context, reference: str) -> ImageRef:
    service = context.services.gate_service(apply=False)
    try:
        return service.resolve(reference)
    except InvalidInput as exc:
        raise InvalidInput("params.image", exc.expected, exc.got) from None
    except NotFound as exc:
        raise NotFound(f"params.image: {exc}") from None


def _reevaluation(context: Context, image: ImageRef) -> tuple[Action | None, Guard | None]:
    service = context.services.gate_service(apply=False)
    result = service.check(image)
    if result.verdict is None:
        return None, Guard(image.key, f"not gated: {result.detail}")
    if result.record is None:
        return None, Guard(
            image.key, "skipped: the gate has no record of this image (pushed before the gate?)"
        )
    verdict = result.verdict
    recorded = result.record.standing
    reason = (
        f"re-evaluate: the verdict now is {verdict.decision} under rule {verdict.rule}; "
        f"recorded: {recorded.decision} (decision {recorded.number})"
    )
    params = {"image": image.key, "decision": str(verdict.decision), "recorded": recorded.number}
    return Action(REEVALUATE, image.key, reason, "gate", params), None


def prepare_reevaluate(context: Context, params: ImageParams) -> Prepared:
    image = _resolve(context, params.image)
    action, guard = _reevaluation(context, image)
    plan = Plan("gate", actions=(action,) if action else (), skipped=(guard,) if guard else ())
    return Prepared(plan, state=_Target(image))


def prepare_override(context: Context, params: OverrideParams) -> Prepared:
    expires = parse_duration(params.expires)
    if not timedelta(minutes=30) <= expires <= MAX_OVERRIDE:
        raise InvalidInput("params.expires", "a duration from 30m to 30d", params.expires)
    image = _resolve(context, params.image)
    now = datetime.now(UTC)
    until = (now + expires).replace(second=0, microsecond=0)
    override = Override(image.digest, params.reason, until, by=context.caller_name, at=now)
    allow = Action(
        OVERRIDE,
        image.key,
        f"override: allow {image.digest} until {until.isoformat()}: {params.reason}",
        "gate",
        {"digest": image.digest, "until": until.isoformat(), "reason": params.reason},
        key=make_key(OVERRIDE, image.key, {"until": until.isoformat(), "reason": params.reason}),
    )
    reevaluate, guard = _reevaluation(context, image)
    actions = (allow, reevaluate) if reevaluate else (allow,)
    plan = Plan("gate", actions=actions, skipped=(guard,) if guard else ())
    return Prepared(plan, state=_Target(image, override))


def execute_gate(
    context: Context, params: object, prepared: Prepared, review: Callable[[Plan], None]
) -> Execution:
    review(prepared.plan)
    target: _Target = prepared.state
    services = context.services
    service = services.gate_service(apply=True, actor=context.actor)

    def allow(action: Action) -> None:
        assert target.override is not None
        records.save_override(services.store(), target.image.key, target.override)

    def reevaluate(action: Action) -> None:
        service.check(target.image, apply=True)

    outcomes = apply_plan(
        prepared.plan,
        handlers={OVERRIDE: allow, REEVALUATE: reevaluate},
        store=services.store(),
        policy=services.execution_policy(apply=True, actor=context.actor),
    )
    after = service.check(target.image)
    verdict = after.verdict.to_dict() if after.verdict else None
    return Execution(outcomes, detail={"image": target.image.key, "verdict": verdict})


RUNBOOKS = (
    Runbook(
        name="gate-reevaluate",
        summary="The gate's verdict for one image from fresh evidence; POST applies it as a sweep would.",
        capability="gate",
        params=ImageParams,
        prepare=prepare_reevaluate,
        execute=execute_gate,
    ),
    Runbook(
        name="gate-override",
        summary="Let one digest through the gate until an expiry, with a reason; needs approval.",
        capability="gate",
        params=OverrideParams,
        prepare=prepare_override,
        execute=execute_gate,
        approval=True,
    ),
)
