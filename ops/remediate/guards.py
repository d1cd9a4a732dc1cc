"""The guards every remediation passes before it is planned: scope, cooldown, daily caps.

They read the cluster's remediation history (kept by the service in the state store)
and ``now``; a guard that holds is returned as a :class:`~ops.plan.Guard` with its
reason, so that a refused plan says why, exactly as a plan that acts says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ops.plan import Guard
from ops.policies import format_duration
from ops.remediate.clusters import ObservedCluster
from ops.remediate.policy import Guards


@dataclass(frozen=True, slots=True)
class History:
    """What remediation did to one cluster: when it last changed it, and today's totals (UTC)."""

    last_change: datetime | None = None
    changes_today: int = 0
    nodes_added_today: int = 0
    vcpus_added_today: int = 0
    day: str = ""  # the UTC date the totals are for
    applied: Mapping[str, Any] = field(default_factory=dict)  # the outbound profile last set

    def for_day(self, now: datetime) -> History:
        """Today's totals: yesterday's do not count against today's caps."""
        today = now.date().isoformat()
        if self.day == today:
            return self
        return History(last_change=self.last_change, day=today, applied=self.applied)


def check_guards(cluster: ObservedCluster, history: History, guards: Guards, now: datetime) -> Guard | None:
    """The first guard that stops a change to ``cluster`` now, or None."""
    if not guards.in_scope(cluster.name):
        return Guard(cluster.id, f"out of scope: {cluster.name} matches no remediate.guards.clusters pattern")
    if cluster.power_state != "Running":
        return Guard(cluster.id, f"not running: the cluster is {cluster.power_state}")
    if cluster.provisioning_state.lower() not in ("succeeded", "failed"):
        return Guard(cluster.id, f"busy: provisioningState is {cluster.provisioning_state}")
    today = history.for_day(now)
    if history.last_change is not None and now - history.last_change < guards.cooldown:
        until = history.last_change + guards.cooldown
        return Guard(
            cluster.id,
            f"cooldown: changed at {history.last_change.isoformat()}, no change before {until.isoformat()} "
            f"({format_duration(guards.cooldown)})",
        )
    if today.changes_today >= guards.max_changes_per_cluster_per_day:
        return Guard(
            cluster.id,
            f"daily cap: {today.changes_today} change(s) today, at most "
            f"{guards.max_changes_per_cluster_per_day} per cluster per day",
        )
    return None
