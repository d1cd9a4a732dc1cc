"""The purge runbook: ACR retention for one registry, or one repository of it, by hand.

The plan is the scheduled purge's own plan for that scope (the same policy, in-use
protection, locks, keep-lists and caps); applying it takes the purge lease as
``ops purge --apply`` does, and refuses while a scheduled run may still delete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ops.errors import InvalidInput
from ops.plan import Plan
from ops.runbooks.catalog import Context, Execution, Prepared, Runbook
from ops.runbooks.params import PurgeParams

T = TypeVar("T")
_PATHS = {"--registry": "params.registry", "--repository": "params.repository"}


def prepare_purge(context: Context, params: PurgeParams) -> Prepared:
    service = context.services.purge_service(apply=False)
    result = _scoped(lambda: service.run_inline(registry=params.registry, repository=params.repository))
    assert result.plan is not None
    return Prepared(result.plan, detail={"summary": result.summary})


def execute_purge(
    context: Context, params: PurgeParams, prepared: Prepared, review: Callable[[Plan], None]
) -> Execution:
    service = context.services.purge_service(apply=True, actor=context.actor)
    result = _scoped(
        lambda: service.run_inline(registry=params.registry, repository=params.repository, review=review)
    )
    return Execution(result.outcomes, detail={"summary": result.summary, "run": result.run})


def _scoped(call: Callable[[], T]) -> T:
    """The purge service names CLI options in its errors; a runbook names its parameters."""
    try:
        return call()
    except InvalidInput as exc:
        if exc.path in _PATHS:
            raise InvalidInput(_PATHS[exc.path], exc.expected, exc.got) from None
        raise


RUNBOOKS = (
    Runbook(
        name="purge",
        summary="ACR purge of one registry, or one repository: plan on GET, delete on POST.",
        capability="purge",
        params=PurgeParams,
        prepare=prepare_purge,
        execute=execute_purge,
    ),
)
