"""The failover service: signals in, stamps moved and verified back, one actor per stamp.

``handle_signals`` records what alerts say about regions and moves every stamp whose
active region is impaired; ``watch`` (the ``failover_watch`` timer) resumes unfinished
failovers, retries a refused routing change a bounded number of times, and fails back
one step per tick once the region is verified healthy; ``plan_region`` / ``apply_region``
serve the ``failover`` runbook and CLI. Each stamp is handled under a lease, and its
state is written with ETags, so that two watchers, or a watcher and an alert, never act
on one stamp at once. Every transition is published as a CloudEvent ``ops.failover.*``.

The stamp's lease is the project's short, renewed lease (``ops.state.leases``,
``OPS_LEASE_DURATION``): a live actor keeps it for as long as a failover takes, an actor
that died frees the stamp within that duration, and one whose renewal fails takes no
further step. Leases run on the wall clock even where failover's "now" is pinned or on
the sandbox clock: they are about processes, not about the incident's timeline.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.alerts.schema import Alert
from ops.errors import Conflict, OpsError, TransientError
from ops.executor import ExecutionPolicy, apply_plan, failed_transiently, resolve_open_claims
from ops.failover.machine import (
    CAPABILITY,
    FAILBACK_STEPS,
    FAILOVER_STEPS,
    MAX_ROUTING_ATTEMPTS,
    Phase,
    RegionHealth,
    Signal,
    StampState,
    apply_signal,
    begin_failover,
    combine,
    decide,
    failback_ready,
    plan_pointer,
    plan_routing,
    plan_traffic,
)
from ops.failover.policy import FailoverPolicy, Stamp
from ops.failover.protocols import FailoverPaths, Publisher
from ops.failover.signals import signals_from_alert
from ops.plan import Guard, Outcome, Plan
from ops.state.leases import LEASE_DURATION, HeldLease, LeaseHeld, take_lease
from ops.state.store import StateStore
from ops.telemetry import record_transition

log = logging.getLogger(__name__)

STAMPS = "failover-stamps"
REGIONS = "failover-regions"


@dataclass
class StampOutcome:
    stamp: str
    decision: str
    reason: str
    phase: str
    plan: Plan | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stamp": self.stamp,
            "decision": self.decision,
            "reason": self.reason,
            "phase": self.phase,
            "plan": self.plan.to_dict() if self.plan is not None else None,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass
class FailoverResult:
    stamps: list[StampOutcome] = field(default_factory=list)
    signals: int = 0  # signals that changed what is known about a region
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"signals": self.signals, "reason": self.reason, "stamps": [s.to_dict() for s in self.stamps]}


@dataclass
class FailoverService:
    policy: FailoverPolicy
    paths: FailoverPaths
    store: StateStore
    execution: ExecutionPolicy
    clock: Callable[[], datetime]
    publisher: Publisher | None = None
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: How long a stamp's lease lasts unless renewed (OPS_LEASE_DURATION).
    lease: timedelta = LEASE_DURATION
    lease_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    # The lease each stamp is being run under, for the checks between steps.
    _held: dict[str, HeldLease] = field(default_factory=dict, repr=False)
    # The phase each stamp had when last read or written, so that a save that changes it is
    # recorded as a transition (ops.telemetry).
    _phases: dict[str, Phase] = field(default_factory=dict, repr=False)

    # -- entry points ------------------------------------------------------------------------

    def handle_signals(self, signals: Sequence[Signal]) -> FailoverResult:
        """Record what the signals say about regions, then act on the stamps they touch."""
        regions = {s.region for s in signals}
        changed = self.record_signals(signals)
        touched = [stamp for stamp in self.policy.stamps if regions & set(stamp.regions)]
        return FailoverResult(stamps=self._run_all(touched), signals=changed)

    def record_signals(self, signals: Sequence[Signal]) -> int:
        """Only record what the signals say (the watch acts on it); how many changed anything."""
        return sum(self._record_signal(s) for s in signals)

    def handle_alert(self, alert: Alert) -> FailoverResult:
        """An action-group alert (Service Health, Resource Health, origin health) → signals → stamps."""
        signals, reason = signals_from_alert(alert, self.policy)
        result = self.handle_signals(signals)
        result.reason = reason
        return result

    def watch(self) -> FailoverResult:
        """The timer: every stamp, under its lease."""
        return FailoverResult(stamps=self._run_all(self.policy.stamps, watching=True))

    def _run_all(self, stamps: Sequence[Stamp], *, watching: bool = False) -> list[StampOutcome]:
        """Stamps are independent (each under its own lease): run them side by side, bounded by
        OPS_MAX_CONCURRENCY, so that a region's failover does not take one stamp's time times N.
        An error in one stamp is raised after every stamp has had its turn."""
        if len(stamps) <= 1 or self.execution.max_concurrency <= 1:
            return [self.run_stamp(stamp, watching=watching) for stamp in stamps]
        workers = min(self.execution.max_concurrency, len(stamps))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self.run_stamp, stamp, watching=watching) for stamp in stamps]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return [f.result() for f in futures]

    def status(self) -> list[dict[str, Any]]:
        out = []
        for stamp in self.policy.stamps:
            state = self._read_state(stamp)[0]
            regions = {r: self._read_region(r)[0] for r in stamp.regions}
            out.append(
                {
                    "stamp": stamp.name,
                    **state.to_dict(),
                    "regions": {
                        r: {"impaired": h.impaired, "reasons": h.reasons()} for r, h in regions.items()
                    },
                }
            )
        return out

    def plan_region(self, region: str) -> FailoverResult:
        """What failing over away from ``region`` would do now, for every stamp in it (no change)."""
        result = FailoverResult()
        for stamp in self.policy.stamps_in(region):
            state = self._read_state(stamp)[0]
            impaired = self._impaired(stamp) | {region}
            target = next((r for r in stamp.regions if r not in impaired), None)
            if target is None:
                result.stamps.append(
                    StampOutcome(stamp.name, "refuse", "every region is impaired", str(state.phase))
                )
                continue
            plan = self._plan_steps(
                stamp, FAILOVER_STEPS, state, home=region, target=target, impaired=impaired
            )
            result.stamps.append(
                StampOutcome(stamp.name, "plan", f"fail over to {target}", str(state.phase), plan)
            )
        return result

    def apply_region(self, region: str, *, reason: str) -> FailoverResult:
        """An approved failover away from ``region`` (the runbook): recorded as a manual signal.
        A dry run records nothing and returns the plan."""
        if self.execution.dry_run or self.execution.kill_switch:
            return self.plan_region(region)
        signal = Signal(region=region, source=f"manual:{region}", active=True, at=self.clock(), detail=reason)
        self._record_signal(signal)
        result = FailoverResult(signals=1)
        for stamp in self.policy.stamps_in(region):
            result.stamps.append(self.run_stamp(stamp, approved=True))
        return result

    def release_region(self, region: str, *, reason: str) -> FailoverResult:
        """An approved failback to ``region`` (the runbook): clears the manual signal, then
        runs the verified failback, approved even where automatic failback is off. A dry run
        records nothing."""
        if self.execution.dry_run or self.execution.kill_switch:
            return FailoverResult(
                stamps=[self.run_stamp(s, watching=True) for s in self.policy.stamps_in(region)]
            )
        signal = Signal(
            region=region, source=f"manual:{region}", active=False, at=self.clock(), detail=reason
        )
        self._record_signal(signal)
        result = FailoverResult(signals=1)
        for stamp in self.policy.stamps_in(region):
            outcome = self.run_stamp(stamp, watching=True, approved=True)
            # A person approved it: take the remaining steps now, each re-verified first.
            for _ in FAILBACK_STEPS:
                if outcome.decision != "failback-step":
                    break
                outcome = self.run_stamp(stamp, watching=True, approved=True)
            result.stamps.append(outcome)
        return result

    # -- one stamp ---------------------------------------------------------------------------

    def run_stamp(self, stamp: Stamp, *, watching: bool = False, approved: bool = False) -> StampOutcome:
        try:
            held = take_lease(
                self.store,
                f"failover-{stamp.name}",
                holder=self.holder,
                what=f"stamp {stamp.name}: another actor holds its lease",
                duration=self.lease,
                now=self.lease_clock,
            )
        except LeaseHeld as busy:
            state = self._read_state(stamp)[0]
            return StampOutcome(stamp.name, "busy", str(busy), str(state.phase))
        self._held[stamp.name] = held
        try:
            return self._run_locked(stamp, watching=watching, approved=approved)
        finally:
            self._held.pop(stamp.name, None)
            held.release()

    def _resume(self, stamp: Stamp) -> None:
        """Settle the writes a dead actor of this stamp left in flight: in place means its
        audit record is written now (a replanned step no longer contains it); not in place
        means released, for the step to apply it again."""
        from ops.failover.handlers import verifiers_for

        try:
            resolve_open_claims(
                self.store,
                capability=CAPABILITY,
                verifiers=verifiers_for(self.paths, stamp),
                scope=stamp.name,
                now=self.clock(),
            )
        except TransientError as exc:  # asked again by the claim path, or the next run
            log.warning("%s: could not verify what a dead actor left in flight: %s", stamp.name, exc)

    def _check_lease(self, stamp: Stamp, step: str) -> None:
        """Before each write: a lease that could not be renewed may be another actor's now."""
        held = self._held.get(stamp.name)
        if held is not None and held.lost.is_set():
            raise TransientError(
                f"{stamp.name}: its lease was lost; {step} not started, the next run resumes"
            )

    def _run_locked(self, stamp: Stamp, *, watching: bool, approved: bool) -> StampOutcome:
        if not (self.execution.dry_run or self.execution.kill_switch):
            self._resume(stamp)
        now = self.clock()
        state, etag = self._read_state(stamp)
        impaired = self._impaired(stamp)
        decision = decide(stamp, self.policy, state, impaired, now, approved=approved)
        kind = decision.kind
        if kind == "none":
            return StampOutcome(stamp.name, kind, decision.reason, str(state.phase))
        if kind in ("refuse", "page"):
            if state.note != decision.reason:
                self._save(stamp, replace(state, note=decision.reason, updated=now), etag)
                self._publish(stamp, "refused" if kind == "refuse" else "page", {"reason": decision.reason})
            plan = None
            if kind == "page" and decision.target is not None:
                active = state.active or stamp.regions[0]
                plan = self._plan_steps(
                    stamp, FAILOVER_STEPS, state, home=active, target=decision.target, impaired=impaired
                )
            return StampOutcome(stamp.name, kind, decision.reason, str(state.phase), plan)
        if self.execution.dry_run or self.execution.kill_switch:
            return self._dry(stamp, state, decision.kind, decision.reason, impaired)
        if kind == "failover":
            assert decision.target is not None
            home = state.active or stamp.regions[0]
            state = begin_failover(state, home=home, target=decision.target, now=now)
            etag = self._save(stamp, state, etag)
            self._publish(stamp, "started", {"from": home, "to": decision.target, "reason": decision.reason})
            kind = "resume"
        if kind == "resume":
            return self._fail_over(stamp, state, etag, impaired, decision.reason)
        if kind == "flap":
            return self._flap(stamp, state, etag, impaired, decision.reason)
        if kind == "failback-step":
            return self._fail_back_step(stamp, state, etag, impaired)
        if not watching:
            return StampOutcome(stamp.name, "wait", decision.reason, str(state.phase))
        return self._check_failback(stamp, state, etag, impaired, approved=approved)

    # -- failover ----------------------------------------------------------------------------

    def _fail_over(
        self, stamp: Stamp, state: StampState, etag: str | None, impaired: set[str], reason: str
    ) -> StampOutcome:
        assert state.home is not None and state.active is not None
        outcomes: list[Outcome] = []
        plans: list[Plan] = []
        for step in FAILOVER_STEPS:
            if step in state.done:
                continue
            self._check_lease(stamp, step)
            plan = self._plan_steps(
                stamp, (step,), state, home=state.home, target=state.active, impaired=impaired
            )
            plans.append(plan)
            # ARM may refuse a routing change while the home region is down: one try per run,
            # and the watch comes back a bounded number of times (MAX_ROUTING_ATTEMPTS).
            results = self._apply(plan, stamp, attempts=1 if step == "routing" else 2)
            outcomes.extend(results)
            failed = [o for o in results if not o.ok]
            if failed and step == "routing":
                attempts = state.routing_attempts + 1
                detail = failed[0].detail
                state = replace(state, routing_attempts=attempts, routing_refused=detail)
                self._publish(stamp, "routing_refused", {"attempt": attempts, "detail": detail})
                break
            if failed:
                self._save(stamp, replace(state, updated=self.clock()), etag)
                error: OpsError = (
                    TransientError(f"{stamp.name}: {step} failed: {failed[0].detail}")
                    if failed_transiently(results)
                    else OpsError(f"{stamp.name}: {step} failed: {failed[0].detail}")
                )
                raise error
            state = self._after_step(state, step, results)
            if step == "routing":
                state = replace(state, routing_refused=None)
            etag = self._save(stamp, state, etag)
            self._publish(stamp, f"step.{step}", {"from": state.home, "to": state.active})
        state = replace(state, phase=Phase.FAILED_OVER, updated=self.clock(), note=None)
        self._save(stamp, state, etag)
        self._publish(
            stamp,
            "completed",
            {"from": state.home, "to": state.active, "routingRefused": state.routing_refused},
        )
        return StampOutcome(stamp.name, "failover", reason, str(state.phase), combine(plans), outcomes)

    def _after_step(self, state: StampState, step: str, results: Sequence[Outcome]) -> StampState:
        saved = dict(state.saved_priorities)
        for outcome in results:
            action = outcome.action
            if action.kind == "set_endpoint_priority" and "original" in action.params:
                saved[action.target] = int(action.params["original"])
        return replace(state, done=(*state.done, step), saved_priorities=saved, updated=self.clock())

    # -- failback ----------------------------------------------------------------------------

    def _check_failback(
        self, stamp: Stamp, state: StampState, etag: str | None, impaired: set[str], *, approved: bool
    ) -> StampOutcome:
        assert state.home is not None and state.active is not None
        if state.routing_refused is not None and "routing" not in state.done:
            if state.routing_attempts >= MAX_ROUTING_ATTEMPTS:
                reason = (
                    f"routing change refused {state.routing_attempts} times ({state.routing_refused}); "
                    "a person must finish it"
                )
                if state.note != reason:
                    self._save(stamp, replace(state, note=reason, updated=self.clock()), etag)
                    self._publish(stamp, "page", {"reason": reason})
                return StampOutcome(stamp.name, "page", reason, str(state.phase))
            state = replace(state, phase=Phase.FAILING_OVER)
            return self._fail_over(stamp, state, etag, impaired, "retrying the refused routing change")
        now = self.clock()
        checks, blocking = self._failback_blockers(stamp, state, now)
        if blocking:
            if checks != state.online_checks:
                self._save(stamp, replace(state, online_checks=checks, updated=now), etag)
            return StampOutcome(stamp.name, "wait", "; ".join(blocking), str(state.phase))
        if not self.policy.automatic_of(stamp).failback and not approved:
            reason = f"{state.home} is verified healthy; automatic failback is off, so a person must approve"
            if state.note != reason:
                self._save(stamp, replace(state, online_checks=checks, note=reason, updated=now), etag)
                self._publish(stamp, "page", {"reason": reason})
            return StampOutcome(stamp.name, "page", reason, str(state.phase))
        state = replace(
            state,
            phase=Phase.FAILING_BACK,
            done=(),
            online_checks=checks,
            note=None,
            updated=now,
            generation=state.generation + 1,
        )
        etag = self._save(stamp, state, etag)
        self._publish(stamp, "failback_started", {"from": state.active, "to": state.home})
        return self._fail_back_step(stamp, state, etag, impaired)

    def _failback_blockers(self, stamp: Stamp, state: StampState, now: datetime) -> tuple[int, list[str]]:
        """The consecutive-check count this check makes, and what blocks failback (empty: go).
        Until the region has been stable for the hysteresis period nothing is probed, and
        the count starts over."""
        home = state.home
        assert home is not None
        hysteresis = self.policy.hysteresis_of(stamp)
        health = self._read_region(home)[0]
        if health.impaired:
            return 0, [f"{home} is still impaired ({'; '.join(health.reasons())})"]
        if health.healthy_since is None or now - health.healthy_since < hysteresis.stable_period:
            return 0, [f"{home} healthy since {health.healthy_since}, not yet {hysteresis.stable_for}"]
        return failback_ready(
            health=health,
            resource_health_since=self._available_since(stamp, home),
            probes_online=self._probes_online(stamp, home),
            synthetic_ok=self._synthetic(stamp, home) is None,
            state=state,
            stable_for=hysteresis.stable_period,
            online_checks=hysteresis.online_checks,
            now=now,
        )

    def _fail_back_step(
        self, stamp: Stamp, state: StampState, etag: str | None, impaired: set[str]
    ) -> StampOutcome:
        """One failback step per tick, each after the region is checked again."""
        assert state.home is not None and state.active is not None
        problem = self._synthetic(stamp, state.home)
        if problem is not None or state.home in impaired:
            return self._flap(stamp, state, etag, impaired, problem or f"{state.home} is impaired again")
        step = next(s for s in FAILBACK_STEPS if s not in state.done)
        self._check_lease(stamp, f"failback {step}")
        plan = self._plan_steps(
            stamp, (step,), state, home=state.home, target=state.active, impaired=impaired, back=True
        )
        results = self._apply(plan, stamp)
        failed = [o for o in results if not o.ok]
        if failed:
            self._save(stamp, replace(state, updated=self.clock()), etag)
            raise TransientError(f"{stamp.name}: failback {step} failed: {failed[0].detail}")
        state = replace(state, done=(*state.done, step), updated=self.clock())
        self._publish(stamp, f"failback.step.{step}", {"to": state.home})
        if len(state.done) == len(FAILBACK_STEPS):
            home = state.home
            state = replace(
                state,
                phase=Phase.NORMAL,
                home=None,
                active=None,
                done=(),
                online_checks=0,
                saved_priorities={},
            )
            self._save(stamp, state, etag)
            self._publish(stamp, "failback_completed", {"to": home})
            return StampOutcome(stamp.name, "failback", f"back on {home}", str(state.phase), plan, results)
        self._save(stamp, state, etag)
        return StampOutcome(
            stamp.name, "failback-step", f"{step} back to {state.home}", str(state.phase), plan, results
        )

    def _flap(
        self, stamp: Stamp, state: StampState, etag: str | None, impaired: set[str], reason: str
    ) -> StampOutcome:
        """The region faltered during failback: undo the failback steps taken, back to failed-over."""
        home, active = state.home, state.active
        assert home is not None and active is not None
        undo = tuple(s for s in FAILOVER_STEPS if s in state.done)
        self._check_lease(stamp, "undoing the failback")
        state = replace(state, generation=state.generation + 1)
        plan = self._plan_steps(stamp, undo, state, home=home, target=active, impaired=impaired | {home})
        results = self._apply(plan, stamp)
        state = replace(
            state,
            phase=Phase.FAILED_OVER,
            done=FAILOVER_STEPS,
            online_checks=0,
            note=reason,
            updated=self.clock(),
        )
        state = self._after_priorities(state, results)
        self._save(stamp, state, etag)
        self._publish(stamp, "failback_aborted", {"reason": reason, "undone": list(undo)})
        return StampOutcome(stamp.name, "flap", reason, str(state.phase), plan, results)

    def _after_priorities(self, state: StampState, results: Sequence[Outcome]) -> StampState:
        saved = dict(state.saved_priorities)
        for outcome in results:
            if outcome.action.kind == "set_endpoint_priority" and "original" in outcome.action.params:
                saved[outcome.action.target] = int(outcome.action.params["original"])
        return replace(state, saved_priorities=saved)

    # -- planning and applying -----------------------------------------------------------------

    def _plan_steps(
        self,
        stamp: Stamp,
        steps: Sequence[str],
        state: StampState,
        *,
        home: str,
        target: str,
        impaired: set[str],
        back: bool = False,
    ) -> Plan:
        plans: list[Plan] = []
        transition = f"{stamp.name}:{state.transition}"
        for step in steps:
            if step == "pointer":
                plans.append(
                    plan_pointer(
                        stamp,
                        self.paths.read_pointer(stamp),
                        to_region=home if back else target,
                        transition=transition,
                    )
                )
            elif step == "traffic":
                plans.append(
                    plan_traffic(
                        stamp,
                        self.paths.read_origins(stamp),
                        self.paths.read_endpoints(stamp),
                        away_from=home,
                        to_region=home if back else target,
                        impaired=impaired,
                        saved_priorities=state.saved_priorities,
                        failing_over=not back,
                        transition=transition,
                    )
                )
            else:
                plans.append(
                    plan_routing(
                        stamp,
                        self.paths.read_replicas(stamp),
                        region=home,
                        impaired=impaired,
                        routed=back,
                        transition=transition,
                    )
                )
        return combine(plans)

    def _apply(self, plan: Plan, stamp: Stamp, *, attempts: int = 2) -> list[Outcome]:
        """Apply with few, short retries: a failover that waits out a long Retry-After is late;
        what fails here is resumed by the next watch tick or redelivery instead, which verifies
        what a dead run left in flight against the stamp's resources."""
        from ops.failover.handlers import handlers_for, verifiers_for

        policy = replace(
            self.execution,
            max_attempts=min(self.execution.max_attempts, attempts),
            backoff_s=0.2,
            max_backoff_s=2.0,
        )
        return apply_plan(
            plan,
            handlers=handlers_for(self.paths),
            store=self.store,
            policy=policy,
            now=self.clock,
            verifiers=verifiers_for(self.paths, stamp),
            scope=stamp.name,
        )

    def _dry(
        self, stamp: Stamp, state: StampState, kind: str, reason: str, impaired: set[str]
    ) -> StampOutcome:
        home = state.home or state.active or stamp.regions[0]
        target = state.active if state.phase is not Phase.NORMAL else None
        if target is None:
            target = next((r for r in stamp.regions if r != home and r not in impaired), home)
        back = kind.startswith("failback")
        steps: tuple[str, ...] = FAILBACK_STEPS if back else FAILOVER_STEPS
        if kind == "failback-check":
            _, blocking = self._failback_blockers(stamp, state, self.clock())
            if blocking:  # what failback waits for is the plan: its digest changes once ready
                waiting = Guard(f"stamps/{stamp.name}/failback", f"skipped: waiting: {'; '.join(blocking)}")
                return StampOutcome(
                    stamp.name,
                    "wait",
                    "; ".join(blocking),
                    str(state.phase),
                    Plan(CAPABILITY, skipped=[waiting]),
                )
        if state.phase is Phase.FAILING_BACK:
            steps = tuple(step for step in steps if step not in state.done)
        plan = self._plan_steps(stamp, steps, state, home=home, target=target, impaired=impaired, back=back)
        outcomes = self._apply(plan, stamp)
        return StampOutcome(stamp.name, kind, f"dry run: {reason}", str(state.phase), plan, outcomes)

    # -- health --------------------------------------------------------------------------------

    def _impaired(self, stamp: Stamp) -> set[str]:
        return {r for r in stamp.regions if self._read_region(r)[0].impaired}

    def _available_since(self, stamp: Stamp, region: str) -> datetime | None:
        try:
            state, since = self.paths.read_availability(stamp.clusters[region])
        except TransientError:
            return None
        return since if state == "Available" else None

    def _probes_online(self, stamp: Stamp, region: str) -> bool:
        if stamp.traffic.traffic_manager is None:
            return True  # Front Door does not probe a disabled origin: the synthetic check stands in
        endpoint = self.paths.read_endpoints(stamp).get(region)
        return endpoint is not None and endpoint.monitor == "Online"

    def _synthetic(self, stamp: Stamp, region: str) -> str | None:
        problem = self.paths.probe_registry(stamp.pointer.endpoints[region], stamp.registry.probe)
        if problem is not None:
            return f"registry endpoint {stamp.pointer.endpoints[region]}: {problem}"
        problem = self.paths.probe_cluster(stamp.clusters[region])
        return None if problem is None else f"cluster API server in {region}: {problem}"

    # -- state ---------------------------------------------------------------------------------

    def _read_state(self, stamp: Stamp) -> tuple[StampState, str | None]:
        record = self.store.get_record(STAMPS, stamp.name)
        state = StampState() if record is None else StampState.from_dict(record.value)
        self._phases[stamp.name] = state.phase
        return state, None if record is None else record.etag

    def _save(self, stamp: Stamp, state: StampState, etag: str | None) -> str:
        saved = self.store.put_record(STAMPS, stamp.name, state.to_dict(), etag=etag).etag
        before = self._phases.get(stamp.name)
        if before is not None and before is not state.phase:
            record_transition(
                capability="failover", from_state=str(before), to_state=str(state.phase), target=stamp.name
            )
        self._phases[stamp.name] = state.phase
        return saved

    def _read_region(self, region: str) -> tuple[RegionHealth, str | None]:
        record = self.store.get_record(REGIONS, region)
        if record is None:
            return RegionHealth(region), None
        return RegionHealth.from_dict(region, record.value), record.etag

    def _record_signal(self, signal: Signal) -> bool:
        for _ in range(10):
            health, etag = self._read_region(signal.region)
            updated, changed = apply_signal(health, signal)
            if not changed:
                return False
            try:
                self.store.put_record(REGIONS, signal.region, updated.to_dict(), etag=etag)
            except Conflict:
                continue
            if updated.impaired != health.impaired:
                self._publish_region(signal.region, updated)
            return True
        raise TransientError(f"region {signal.region}: its health record kept changing; try again")

    # -- events --------------------------------------------------------------------------------

    def _publish(self, stamp: Stamp, kind: str, data: dict[str, Any]) -> None:
        now = self.clock()
        self._send(
            {
                "id": uuid.uuid4().hex,
                "source": f"/acr-aks-ops/failover/stamps/{stamp.name}",
                "type": f"ops.failover.{kind}",
                "subject": stamp.name,
                "time": now.isoformat(),
                "datacontenttype": "application/json",
                "data": {"stamp": stamp.name, **data},
            }
        )

    def _publish_region(self, region: str, health: RegionHealth) -> None:
        self._send(
            {
                "id": uuid.uuid4().hex,
                "source": f"/acr-aks-ops/failover/regions/{region}",
                "type": "ops.failover.region_impaired" if health.impaired else "ops.failover.region_healthy",
                "subject": region,
                "time": self.clock().isoformat(),
                "datacontenttype": "application/json",
                "data": {"region": region, "reasons": health.reasons()},
            }
        )

    def _send(self, event: dict[str, Any]) -> None:
        log.info("failover event %s %s %s", event["type"], event["subject"], event["data"])
        if self.publisher is None:
            return
        try:
            self.publisher.publish([event])
        except OpsError as exc:  # the state is the record; a lost event is logged, not fatal
            log.warning("could not publish %s: %s", event["type"], exc)


__all__ = ["CAPABILITY", "FailoverResult", "FailoverService", "StampOutcome"]
