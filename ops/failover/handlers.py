"""Action kinds → the FailoverPaths methods that apply them (the executor's handlers), and
the reads that tell whether each one's effect is in place (its verifiers).

A watch tick or redelivery that meets the claim of a step a dead run left in flight
asks the stamp's resources rather than waiting the claim out (see ops.executor): the
push-endpoint pointer holds the value, the Front Door origin the enabled state, the
Traffic Manager endpoint the priority, the replica the routing. In place: done, and
its audit record written then; not in place: applied again (each is a set). A
resource the stamp no longer lists cannot tell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ops.executor import Handler, Verifier
from ops.failover.policy import Stamp
from ops.failover.protocols import FailoverPaths
from ops.plan import Action


def handlers_for(paths: FailoverPaths) -> Mapping[str, Handler]:
    return {
        "set_pointer": paths.set_pointer,
        "set_origin_state": paths.set_origin_state,
        "set_endpoint_priority": paths.set_endpoint_priority,
        "set_replication_routing": paths.set_replication_routing,
    }


def verifiers_for(paths: FailoverPaths, stamp: Stamp) -> Mapping[str, Verifier]:
    def by_id(read: Callable[[Stamp], Mapping[str, Any]], check: Callable[[Any, Action], bool]) -> Verifier:
        def verify(action: Action) -> bool | None:
            found = next((r for r in read(stamp).values() if r.id.lower() == action.target.lower()), None)
            return None if found is None else check(found, action)

        return verify

    return {
        "set_pointer": lambda action: paths.read_pointer(stamp).value == str(action.params["value"]),
        "set_origin_state": by_id(
            paths.read_origins, lambda o, a: o.enabled is (a.params["enabledState"] == "Enabled")
        ),
        "set_endpoint_priority": by_id(
            paths.read_endpoints, lambda e, a: e.priority == int(a.params["priority"])
        ),
        "set_replication_routing": by_id(
            paths.read_replicas, lambda r, a: r.routed is bool(a.params["regionEndpointEnabled"])
        ),
    }
