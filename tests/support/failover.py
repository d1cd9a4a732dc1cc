"""The failover estate and policy (``sandbox.failover.stamps``) for a test's running sandbox."""

from __future__ import annotations

from typing import Any

from sandbox.failover.stamps import (
    POINTER_KEY,
    PRIMARY,
    SECONDARY,
    STORE,
    failover_estate,
    stamp_names,
)
from sandbox.failover.stamps import failover_policy as policy_for_regions
from sandbox.server import SandboxServer
from tests.support.sandbox import control

__all__ = [
    "POINTER_KEY",
    "PRIMARY",
    "SECONDARY",
    "STORE",
    "failover_estate",
    "failover_policy",
    "stamp_names",
]


def failover_policy(server: SandboxServer, *, stamps: int = 1, **overrides: Any) -> dict[str, Any]:
    """The OPS_FAILOVER_POLICY for ``failover_estate(stamps=...)`` served by ``server``."""
    return policy_for_regions(control(server, "GET", "regions"), stamps=stamps, **overrides)
