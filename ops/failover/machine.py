"""The per-stamp state machine and the pure planner of each step.

::

    normal ──(active region impaired)──▶ failing-over ──(pointer, traffic, routing)──▶ failed-over
      ▲                                                                                   │
      └──(routing, traffic, pointer)── failing-back ◀──(verified healthy, hysteresis)─────┘
                                            │
                                            └──(a flap: the region falters again)──▶ failed-over

Failover moves the pointer first (CI pushes to a healthy region at once), then traffic,
then routing; failback reverses the order, one step per watch tick, re-verifying health
before each step. Everything here is pure: observed state, policy and ``now`` in, a
decision or a :class:`~ops.plan.Plan` out; guards appear in the plan with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ops.failover.policy import FailoverPolicy, Stamp
from ops.plan import Action, Guard, Plan, make_key

CAPABILITY = "failover"
FAILOVER_STEPS = ("pointer", "traffic", "routing")
FAILBACK_STEPS = ("routing", "traffic", "pointer")
MAX_ROUTING_ATTEMPTS = 3


class Phase(StrEnum):
    NORMAL = "normal"
    FAILING_OVER = "failing-over"
    FAILED_OVER = "failed-over"
    FAILING_BACK = "failing-back"


@dataclass(frozen=True, slots=True)
class StampState:
    """What the StateStore keeps per stamp (table ``failover-stamps``)."""

    phase: Phase = Phase.NORMAL
    home: str | None = None  # the region failed away from, to return to
    active: str | None = None  # where the paths point during a failover
    done: tuple[str, ...] = ()  # steps finished in the current transition
    failovers: tuple[datetime, ...] = ()  # when each failover started (the daily cap)
    online_checks: int = 0  # consecutive verified-healthy watch checks
    routing_attempts: int = 0
    routing_refused: str | None = None
    saved_priorities: Mapping[str, int] = field(default_factory=dict)  # TM endpoint → priority
    note: str | None = None
    updated: datetime | None = None
    generation: int = 0  # one more at every transition: its actions are new work, never "done before"

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": str(self.phase),
            "home": self.home,
            "active": self.active,
            "done": list(self.done),
            "failovers": [t.isoformat() for t in self.failovers],
            "onlineChecks": self.online_checks,
            "routingAttempts": self.routing_attempts,
            "routingRefused": self.routing_refused,
            "savedPriorities": dict(self.saved_priorities),
            "note": self.note,
            "updated": self.updated.isoformat() if self.updated else None,
            "generation": self.generation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StampState:
        return cls(
            phase=Phase(data.get("phase", "normal")),
            home=data.get("home"),
            active=data.get("active"),
            done=tuple(data.get("done") or ()),
            failovers=tuple(datetime.fromisoformat(t) for t in data.get("failovers") or ()),
            online_checks=int(data.get("onlineChecks") or 0),
            routing_attempts=int(data.get("routingAttempts") or 0),
            routing_refused=data.get("routingRefused"),
            saved_priorities=dict(data.get("savedPriorities") or {}),
            note=data.get("note"),
            updated=datetime.fromisoformat(data["updated"]) if data.get("updated") else None,
            generation=int(data.get("generation") or 0),
        )

    @property
    def transition(self) -> str:
        """Names the current transition in idempotency keys: a second failover, or a failback
        after a flap, is new work, not a repeat of the first."""
        return f"{self.generation}:{self.phase}"


# -- region health ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionHealth:
    """A region as the signals tell it: impaired while any source says so."""

    region: str
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # source → {active, at, detail}
    healthy_since: datetime | None = None

    @property
    def impaired(self) -> bool:
        return any(bool(s.get("active")) for s in self.sources.values())

    def reasons(self) -> list[str]:
        return [f"{key}: {s.get('detail', '')}" for key, s in sorted(self.sources.items()) if s.get("active")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "healthySince": self.healthy_since.isoformat() if self.healthy_since else None,
        }

    @classmethod
    def from_dict(cls, region: str, data: Mapping[str, Any]) -> RegionHealth:
        since = data.get("healthySince")
        return cls(region, dict(data.get("sources") or {}), datetime.fromisoformat(since) if since else None)


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence about a region: a source that is active (impaired) or not."""

    region: str
    source: str  # the key: "servicehealth:<trackingId>", "resourcehealth:<id>", "metric:<alert id>"
    active: bool
    at: datetime  # when Azure says it happened (orders duplicates and out-of-order deliveries)
    detail: str = ""


def apply_signal(health: RegionHealth, signal: Signal) -> tuple[RegionHealth, bool]:
    """The region after ``signal``, and whether it changed anything.

    A signal older than (or as old as) what is known from the same source is a duplicate
    or arrived out of order: it changes nothing.
    """
    known = health.sources.get(signal.source)
    if known is not None and datetime.fromisoformat(str(known["at"])) >= signal.at:
        return health, False
    sources = {k: dict(v) for k, v in health.sources.items()}
    sources[signal.source] = {"active": signal.active, "at": signal.at.isoformat(), "detail": signal.detail}
    was_impaired = health.impaired
    updated = replace(health, sources=sources)
    if updated.impaired:
        updated = replace(updated, healthy_since=None)
    elif was_impaired or health.healthy_since is None:
        updated = replace(updated, healthy_since=signal.at)
    return updated, True


# -- decisions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a stamp now: ``kind`` is none, failover, resume, refuse, page,
    failback-check, failback-step or flap."""

    kind: str
    reason: str
    target: str | None = None  # the region paths move to


def choose_target(stamp: Stamp, impaired: set[str], away_from: str) -> str | None:
    """The first region in priority order that is neither the one left nor impaired."""
    return next((r for r in stamp.regions if r != away_from and r not in impaired), None)


def decide(
    stamp: Stamp,
    policy: FailoverPolicy,
    state: StampState,
    impaired: set[str],
    now: datetime,
    *,
    approved: bool = False,
) -> Decision:
    """What the stamp needs, from its state and which regions are impaired now."""
    active = state.active or stamp.regions[0]
    if state.phase is Phase.FAILING_OVER:
        return Decision("resume", f"resuming the failover to {state.active}", target=state.active)
    if state.phase is Phase.FAILING_BACK:
        if state.home in impaired:
            return Decision("flap", f"{state.home} faltered again during failback; staying on {state.active}")
        return Decision("failback-step", f"failing back to {state.home}", target=state.home)
    if state.phase is Phase.FAILED_OVER:
        return Decision(
            "failback-check", f"failed over from {state.home} to {state.active}", target=state.home
        )
    if active not in impaired:
        return Decision("none", f"{active} is healthy")
    others = [r for r in stamp.regions if r != active]
    if all(r in impaired for r in others):
        return Decision(
            "refuse",
            f"{active} and every other region ({', '.join(others)}) are impaired: "
            "doing nothing, because there is nowhere healthy to move to",
        )
    target = choose_target(stamp, impaired, active)
    assert target is not None
    hysteresis = policy.hysteresis_of(stamp)
    recent = [t for t in state.failovers if now - t < timedelta(days=1)]
    if len(recent) >= hysteresis.max_failovers_per_day:
        return Decision(
            "refuse",
            f"{len(recent)} failover(s) in the last 24 hours reach the cap of "
            f"{hysteresis.max_failovers_per_day}; a person must decide",
        )
    if not policy.automatic_of(stamp).failover and not approved:
        return Decision(
            "page",
            f"{active} is impaired; automatic failover is off, so a person must approve",
            target=target,
        )
    return Decision("failover", f"{active} is impaired", target=target)


def begin_failover(state: StampState, *, home: str, target: str, now: datetime) -> StampState:
    return replace(
        state,
        phase=Phase.FAILING_OVER,
        home=home,
        active=target,
        done=(),
        failovers=(*[t for t in state.failovers if now - t < timedelta(days=1)], now),
        online_checks=0,
        routing_attempts=0,
        routing_refused=None,
        note=None,
        updated=now,
        generation=state.generation + 1,
    )


def failback_ready(
    *,
    health: RegionHealth,
    resource_health_since: datetime | None,
    probes_online: bool,
    synthetic_ok: bool,
    state: StampState,
    stable_for: timedelta,
    online_checks: int,
    now: datetime,
) -> tuple[int, list[str]]:
    """The new consecutive-check count, and what still blocks failback (empty: go)."""
    blocking: list[str] = []
    if health.impaired:
        blocking.append(f"{health.region} is still impaired ({'; '.join(health.reasons())})")
    elif health.healthy_since is not None and now - health.healthy_since < stable_for:
        blocking.append(f"the incident resolved {now - health.healthy_since} ago, less than {stable_for}")
    if resource_health_since is None:
        blocking.append("Resource Health is not Available")
    elif now - resource_health_since < stable_for:
        blocking.append(
            f"Resource Health Available for {now - resource_health_since}, less than {stable_for}"
        )
    checks = state.online_checks + 1 if (probes_online and synthetic_ok) else 0
    if not probes_online:
        blocking.append("health probes are not Online")
    if not synthetic_ok:
        blocking.append("the synthetic check failed")
    if checks < online_checks:
        blocking.append(f"{checks} of {online_checks} consecutive checks passed")
    return checks, blocking


# -- observed state and step plans -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    id: str
    name: str
    enabled: bool
    priority: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    name: str
    enabled: bool
    priority: int
    monitor: str


@dataclass(frozen=True, slots=True)
class Replica:
    id: str
    name: str
    routed: bool


@dataclass(frozen=True, slots=True)
class PointerValue:
    value: str | None
    etag: str | None


def _action(
    kind: str, target: str, reason: str, service: str, params: Mapping[str, Any], transition: str
) -> Action:
    return Action(
        kind=kind,
        target=target,
        reason=reason,
        service=service,
        params=dict(params),
        key=make_key(kind, target, {**params, "transition": transition}),
    )


def plan_pointer(stamp: Stamp, pointer: PointerValue, *, to_region: str, transition: str) -> Plan:
    wanted = stamp.pointer.endpoints[to_region]
    target = f"{stamp.pointer.store}/kv/{stamp.pointer.key}?label={stamp.pointer.label or ''}"
    if pointer.value == wanted:
        return Plan(CAPABILITY, skipped=[Guard(target, f"skipped: already {wanted}")])
    action = _action(
        "set_pointer",
        target,
        f"pointer: CI pushes to {to_region} ({wanted}), was {pointer.value}",
        "appconfig",
        {
            "store": stamp.pointer.store,
            "key": stamp.pointer.key,
            "label": stamp.pointer.label,
            "value": wanted,
            "etag": pointer.etag,
        },
        transition,
    )
    return Plan(CAPABILITY, actions=[action])


def plan_traffic(
    stamp: Stamp,
    origins: Mapping[str, Origin],
    endpoints: Mapping[str, Endpoint],
    *,
    away_from: str,
    to_region: str,
    impaired: set[str],
    saved_priorities: Mapping[str, int],
    failing_over: bool,
    transition: str,
) -> Plan:
    """Front Door: disable (or re-enable) the origin of ``away_from``; Traffic Manager: demote
    (or restore) its endpoint's priority, which keeps it probed so that failback can see it Online."""
    actions: list[Action] = []
    protected: list[Guard] = []
    skipped: list[Guard] = []
    origin = origins.get(away_from)
    if origin is not None:
        if failing_over:
            healthy_enabled = [
                o
                for region, o in origins.items()
                if o.enabled and region != away_from and region not in impaired
            ]
            if not origin.enabled:
                skipped.append(Guard(origin.id, "skipped: origin already disabled"))
            elif not healthy_enabled:
                protected.append(Guard(origin.id, "protected: last enabled origin in a healthy region"))
            else:
                actions.append(
                    _action(
                        "set_origin_state",
                        origin.id,
                        f"traffic: {away_from} is impaired",
                        "arm",
                        {"enabledState": "Disabled"},
                        transition,
                    )
                )
        elif origin.enabled:
            skipped.append(Guard(origin.id, "skipped: origin already enabled"))
        else:
            actions.append(
                _action(
                    "set_origin_state",
                    origin.id,
                    f"traffic: back to {to_region}",
                    "arm",
                    {"enabledState": "Enabled"},
                    transition,
                )
            )
    endpoint = endpoints.get(away_from)
    if endpoint is not None:
        others = [e for region, e in endpoints.items() if region != away_from]
        if failing_over:
            healthy_endpoints = [
                e
                for region, e in endpoints.items()
                if e.enabled and region != away_from and region not in impaired
            ]
            demoted = max(e.priority for e in endpoints.values()) + 1
            if others and all(endpoint.priority > o.priority for o in others):
                skipped.append(Guard(endpoint.id, "skipped: endpoint already last in priority"))
            elif not healthy_endpoints:
                protected.append(Guard(endpoint.id, "protected: last enabled endpoint in a healthy region"))
            elif demoted > 1000:
                protected.append(
                    Guard(endpoint.id, "protected: no priority left below the others (max 1000)")
                )
            else:
                actions.append(
                    _action(
                        "set_endpoint_priority",
                        endpoint.id,
                        f"traffic: {away_from} is impaired",
                        "arm",
                        {"priority": demoted, "original": endpoint.priority},
                        transition,
                    )
                )
        else:
            original = saved_priorities.get(endpoint.id)
            if original is None or endpoint.priority == original:
                skipped.append(Guard(endpoint.id, "skipped: endpoint priority already restored"))
            elif any(o.priority == original for o in others):
                protected.append(
                    Guard(endpoint.id, f"protected: priority {original} is now used by another endpoint")
                )
            else:
                actions.append(
                    _action(
                        "set_endpoint_priority",
                        endpoint.id,
                        f"traffic: back to {to_region}",
                        "arm",
                        {"priority": original},
                        transition,
                    )
                )
    return Plan(CAPABILITY, actions=actions, protected=protected, skipped=skipped)


def plan_routing(
    stamp: Stamp,
    replicas: Mapping[str, Replica],
    *,
    region: str,
    impaired: set[str],
    routed: bool,
    transition: str,
) -> Plan:
    """Take the replica of an impaired ``region`` out of global routing, or put it back."""
    replica = replicas.get(region)
    if replica is None:
        return Plan(
            CAPABILITY,
            skipped=[Guard(f"{stamp.registry.id}/replications/?", f"skipped: no replica in {region}")],
        )
    if replica.routed == routed:
        return Plan(
            CAPABILITY, skipped=[Guard(replica.id, f"skipped: regionEndpointEnabled already {routed}")]
        )
    if not routed:
        others = [r for reg, r in replicas.items() if reg != region and r.routed and reg not in impaired]
        if not others:
            return Plan(
                CAPABILITY,
                protected=[Guard(replica.id, "protected: last routed replica in a healthy region")],
            )
    reason = f"routing: {region} is impaired" if not routed else f"routing: {region} is healthy again"
    return Plan(
        CAPABILITY,
        actions=[
            _action(
                "set_replication_routing",
                replica.id,
                reason,
                "arm",
                {"regionEndpointEnabled": routed},
                transition,
            )
        ],
    )


def combine(plans: Sequence[Plan], *, notes: Sequence[str] = ()) -> Plan:
    return Plan(
        CAPABILITY,
        actions=[a for p in plans for a in p.actions],
        protected=[g for p in plans for g in p.protected],
        skipped=[g for p in plans for g in p.skipped],
        notes=[*notes, *[n for p in plans for n in p.notes]],
    )
