"""Action kinds → the FailoverPaths methods that apply them (the executor's handlers)."""

from __future__ import annotations

from collections.abc import Mapping

from ops.executor import Handler
from ops.failover.protocols import FailoverPaths


def handlers_for(paths: FailoverPaths) -> Mapping[str, Handler]:
    return {
        "set_pointer": paths.set_pointer,
        "set_origin_state": paths.set_origin_state,
        "set_endpoint_priority": paths.set_endpoint_priority,
        "set_replication_routing": paths.set_replication_routing,
    }
