"""Which purge batch messages are honoured: exactly what ``purge_schedule`` enqueued.

A queue message is input like any other. Anyone who can write to the queue, a bug, or
an old run's message delivered late can put one there, and a message that names a
registry the run never looked at would be planned against an in-use set that does not
cover it, which reads as "nothing is in use". So ``purge_schedule`` records, in the
StateStore, what it enqueued for each batch (the registry as ARM reported it: name,
resource id, login server, SKU and endpoints; and the repositories, in order), and
the number of in-use parts it stored per registry. ``purge_repository`` then honours a
message only if:

- its run was recorded by ``purge_schedule``;
- its batch number is one that run enqueued;
- its registry (name, ARM id, login server, SKU) is the one recorded for that batch;
- its repositories are exactly those recorded for that batch.

Anything else is :class:`~ops.errors.InvalidInput`: recorded and acknowledged, with
nothing read from a registry and nothing deleted. The batch then runs with the
*recorded* registry, never with values from the message, so that ACR tokens only go to
the login server ARM named.

A verified batch whose run's in-use set is missing or incomplete is refused (see
:func:`load_in_use`): a missing set is never read as an empty one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ops.errors import InvalidInput
from ops.purge.images import RegistryInUse, join_parts
from ops.purge.inventory import RegistryRef
from ops.purge.messages import BatchMessage
from ops.purge.records import ENQUEUED, IN_USE
from ops.state.store import StateStore


def enqueued_record(registry: RegistryRef, repositories: Sequence[str]) -> dict[str, Any]:
    """What ``purge_schedule`` keeps for one batch it enqueues."""
    return {"registry": registry_record(registry), "repositories": list(repositories)}


def registry_record(registry: RegistryRef) -> dict[str, Any]:
    return {
        "name": registry.name,
        "id": registry.id,
        "loginServer": registry.login_server,
        "sku": registry.sku,
        "endpoints": list(registry.endpoints),
    }


def registry_from_record(value: Mapping[str, Any]) -> RegistryRef:
    return RegistryRef(
        name=str(value["name"]),
        login_server=str(value["loginServer"]),
        sku=str(value.get("sku") or "Basic"),
        id=str(value.get("id") or ""),
        endpoints=tuple(str(e) for e in value.get("endpoints") or ()),
    )


def verify_batch(store: StateStore, message: BatchMessage, run: Mapping[str, Any]) -> RegistryRef:
    """The registry to purge for ``message``, as its run recorded it; InvalidInput when the
    message is not exactly what the run enqueued."""
    recorded = store.get_record(ENQUEUED, message.key)
    if recorded is None:
        count = int(run.get("batches", 0))
        raise InvalidInput(
            "batch",
            f"a batch run {message.run} enqueued (it enqueued batches 0 to {count - 1})"
            if count
            else f"no batch: run {message.run} enqueued none",
            message.batch,
        )
    value = recorded.value
    registry = registry_from_record(value["registry"])
    sent = message.registry
    where = f"what run {message.run} enqueued in batch {message.batch}"
    if sent.name.lower() != registry.name.lower():
        raise InvalidInput("registry.name", f"{registry.name!r}, {where}", sent.name)
    if sent.id.lower() != registry.id.lower():
        raise InvalidInput("registry.id", f"{registry.id!r}, {where}", sent.id)
    if sent.login_server.lower() != registry.login_server.lower():
        raise InvalidInput(
            "registry.loginServer",
            f"{registry.login_server!r} (as ARM reported it), {where}",
            sent.login_server,
        )
    if sent.sku != registry.sku:
        raise InvalidInput("registry.sku", f"{registry.sku!r}, {where}", sent.sku)
    expected = [str(r) for r in value.get("repositories") or ()]
    if list(message.repositories) != expected:
        extra = sorted(set(message.repositories) - set(expected))
        raise InvalidInput(
            "repositories",
            f"the {len(expected)} repositories of {where}"
            + (f"; {len(extra)} it did not enqueue there" if extra else "; a different list"),
            ", ".join(extra[:3]) if extra else None,
        )
    return registry


def load_in_use(
    store: StateStore, run_id: str, run: Mapping[str, Any], registry: RegistryRef
) -> RegistryInUse | str:
    """The run's in-use set for ``registry``, or why it cannot be used (missing or incomplete)."""
    counts = run.get("in_use_parts")
    expected = counts.get(registry.name) if isinstance(counts, Mapping) else None
    records = store.list_records(IN_USE, prefix=f"{run_id}/{registry.name}/")
    if not isinstance(expected, int) or expected < 1:
        return (
            f"run {run_id} recorded no in-use set for registry {registry.name}: "
            "nothing can be known to be unused"
        )
    if len(records) != expected:
        return (
            f"run {run_id}'s in-use set for registry {registry.name} is incomplete "
            f"({len(records)} of {expected} parts): nothing can be known to be unused"
        )
    return join_parts(r.value for r in records)
