"""The remediation service: from "this alert fired" (or an operator's request) to a bounded,
recorded change of one cluster.

One call does, in order, under the cluster's lease (alerts for one cluster are handled
one at a time; another waits a moment, then gets a TransientError so the action group
delivers it again):

1. **Verify the target** through ARM: the load balancer or NAT gateway exists and its
   resource group is a cluster's ``nodeResourceGroup``; a cluster named by an alert
   exists in the subscriptions in scope, exactly once.
2. **Continue** what an earlier call started: the PUT's long-running operation is asked
   once (``Azure-AsyncOperation``); a failure is recorded and the cooldown lifted; a
   success is compared with the cluster (**drift**: AKS has been seen to reset ports
   after a scale, Azure/AKS#3288) and any difference is reported and audited.
3. **Confirm** the condition again (SNAT metrics; pending pods, autoscaler events and
   status) and **plan** (``ops.remediate.snat`` / ``ops.remediate.autoscaler``: pure).
4. **Apply** through the one executor (dry-run, kill switch, audit, idempotency key):
   GET, change, PUT with ``If-Match``. A 412 means the cluster changed since it was read:
   read again and plan again (three times at most). The PUT's operation is not waited
   for: the next call (or ``ops remediate --continue``) asks how it ended.

Nothing here imports an adapter: ``ops.services`` wires them in (Protocols in
``ops.remediate.protocols``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ops.errors import Conflict, InvalidInput, NotFound, TransientError
from ops.executor import ExecutionPolicy, Verifier, apply_plan
from ops.plan import Action, Guard, Outcome, Plan, Status
from ops.remediate.autoscaler import UPDATE_MAX_COUNT, plan_max_count
from ops.remediate.clusters import ClusterChange, ObservedCluster, QuotaUsage, SubnetUsage
from ops.remediate.guards import check_guards
from ops.remediate.policy import RemediatePolicy
from ops.remediate.protocols import AutoscalerReader, CapacityReader, ClusterWriter, OutboundReader
from ops.remediate.records import ClusterRecord, read_record, record_change, write_record
from ops.remediate.snat import UPDATE_OUTBOUND, plan_snat
from ops.resource_ids import parse_resource_id
from ops.schedule.protocols import OperationRef, OperationState
from ops.state.store import AuditRecord, StateStore
from ops.telemetry import record_transition

if TYPE_CHECKING:
    from ops.remediate.watch import WatchResult

Remedy = Literal["snat", "autoscaler"]
_LEASE_WAIT_S = 5.0
_PLAN_ATTEMPTS = 3
_OUTBOUND_TYPES = {"loadbalancers": "loadBalancer", "natgateways": "managedNATGateway"}


@dataclass(frozen=True, slots=True)
class Target:
    """What to remediate: named by an alert (a load balancer, NAT gateway or cluster id, or a
    cluster's name from a Prometheus label) or by an operator."""

    remedy: Remedy
    resource_id: str | None = None
    cluster_name: str | None = None
    pool: str | None = None
    source: str = "operator"  # the alert id, or who asked


@dataclass
class Remediation:
    """What one call did: the plan with its reasons, what was applied, what it found."""

    remedy: Remedy
    cluster: str
    status: str  # applied, planned (dry run), refused, failed, halted
    plan: Plan
    outcomes: Sequence[Outcome] = ()
    operation: str | None = None
    continued: list[str] = field(default_factory=list)  # what the earlier change came to
    raced: int = 0  # 412s met on the way

    def to_dict(self) -> dict[str, Any]:
        return {
            "remedy": self.remedy,
            "cluster": self.cluster,
            "status": self.status,
            "reason": self.reason,
            "plan": self.plan.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "operation": self.operation,
            "continued": list(self.continued),
            "raced": self.raced,
        }

    @property
    def reason(self) -> str:
        if self.plan.actions:
            return self.plan.actions[0].reason
        guards = [*self.plan.protected, *self.plan.skipped]
        return guards[0].reason if guards else "nothing to do"


class RemediateService:
    def __init__(
        self,
        *,
        clusters: ClusterWriter,
        outbound: OutboundReader,
        capacity: CapacityReader,
        autoscaler: AutoscalerReader,
        store: StateStore,
        execution: ExecutionPolicy,
        policy: RemediatePolicy,
        subscriptions: Sequence[str],
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clusters = clusters
        self.outbound = outbound
        self.capacity = capacity
        self.autoscaler = autoscaler
        self.store = store
        self.execution = execution
        self.policy = policy
        self.subscriptions = list(subscriptions)
        self.clock = clock
        self.sleep = sleep

    # -- targets --------------------------------------------------------------------------------

    def locate(self, target: Target) -> str:
        """The id of the cluster a target names, from ARM's list of clusters; InvalidInput when
        it names none. :meth:`resolve` then reads the cluster itself."""
        if target.resource_id:
            found = parse_resource_id(target.resource_id, field="alertTargetIDs[0]")
            kind = (found.resource_type or "").rsplit("/", 1)[-1].lower()
            if kind == "managedclusters":
                return target.resource_id
            if kind not in _OUTBOUND_TYPES:
                raise InvalidInput(
                    "alertTargetIDs[0]",
                    "a load balancer, NAT gateway or managed cluster id",
                    target.resource_id,
                )
            cluster_id = self.clusters.find_by_node_resource_group(found.subscription, found.resource_group)
            if cluster_id is None:
                raise InvalidInput(
                    "alertTargetIDs[0]",
                    "a resource in an AKS cluster's node resource group",
                    target.resource_id,
                )
            return cluster_id
        if target.cluster_name:
            ids = self.clusters.find_by_name(self.subscriptions, target.cluster_name)
            if len(ids) != 1:
                raise InvalidInput(
                    "labels.cluster",
                    f"the name of exactly one cluster in the subscriptions in scope (found {len(ids)})",
                    target.cluster_name,
                )
            return ids[0]
        raise InvalidInput("alertTargetIDs", "a resource id or a cluster label naming the cluster")

    def resolve(self, target: Target) -> ObservedCluster:
        """The cluster a target names, read through ARM and checked against the target: a load
        balancer or NAT gateway must be the outbound AKS manages for it (the cluster's
        ``outboundType``; the load balancer ``kubernetes``), in its ``nodeResourceGroup``. The
        metrics read next come from that very resource, so a missing one is NotFound there."""
        cluster = self.clusters.get_cluster(self.locate(target))
        if target.resource_id:
            found = parse_resource_id(target.resource_id, field="alertTargetIDs[0]")
            kind = (found.resource_type or "").rsplit("/", 1)[-1].lower()
            if kind in _OUTBOUND_TYPES:
                if cluster.node_resource_group.lower() != found.resource_group.lower():
                    raise InvalidInput(
                        "alertTargetIDs[0]", f"a resource of cluster {cluster.name}", target.resource_id
                    )
                if cluster.outbound.outbound_type != _OUTBOUND_TYPES[kind]:
                    raise InvalidInput(
                        "alertTargetIDs[0]",
                        f"the {cluster.outbound.outbound_type} outbound of cluster {cluster.name}",
                        target.resource_id,
                    )
                if kind == "loadbalancers" and found.name.lower() != "kubernetes":
                    raise InvalidInput(
                        "alertTargetIDs[0]",
                        "the outbound load balancer AKS names kubernetes",
                        target.resource_id,
                    )
        return cluster

    # -- one remediation -------------------------------------------------------------------------

    def remediate(self, target: Target, *, review: Callable[[Plan], None] | None = None) -> Remediation:
        """Plan for ``target`` and apply the plan (a dry run plans only). ``review`` sees the plan
        before anything is applied, and may refuse it by raising (a runbook's reviewed digest)."""
        cluster = self.resolve(target)
        lease_name = f"remediate:{cluster.id.lower()}"
        lease = self._lease(lease_name)
        try:
            return self._remediate(target, cluster, review)
        finally:
            self.store.release_lease(lease)

    def _lease(self, name: str) -> Any:
        deadline = time.monotonic() + _LEASE_WAIT_S
        while True:
            lease = self.store.acquire_lease(
                name, holder="remediate", duration=_lease_duration(), now=self.clock()
            )
            if lease is not None:
                return lease
            if time.monotonic() >= deadline:
                raise TransientError(f"{name} is held by another invocation", retry_after=5)
            self.sleep(0.05)

    def _remediate(
        self, target: Target, cluster: ObservedCluster, review: Callable[[Plan], None] | None = None
    ) -> Remediation:
        record = read_record(self.store, cluster.id)
        record, continued = self._continue(cluster, record)
        if record.operation is None:
            record, reverted = self._revert(cluster, record)
            if reverted is not None:
                continued.append(reverted)
                record = write_record(self.store, cluster.id, record)
        raced = 0
        early = self._early_refusal(cluster, record)
        if early is not None:  # before any signal is read: a refused alert costs no metrics or kube calls
            plan = Plan("remediate", protected=[early])
            return Remediation(target.remedy, cluster.name, "refused", plan, continued=continued)
        for _ in range(_PLAN_ATTEMPTS):
            plan = self._plan(target, cluster, record)
            if plan.actions and record.operation is not None:
                plan = Plan(
                    plan.capability,
                    protected=[Guard(cluster.id, "busy: the previous change is still being applied")],
                    notes=plan.notes,
                )
            if not plan.actions:
                return Remediation(
                    target.remedy, cluster.name, "refused", plan, continued=continued, raced=raced
                )
            if review is not None:  # a runbook's reviewed plan: a re-plan after a 412 is another plan
                review(plan)
            refs: list[OperationRef] = []
            conflicts: list[Conflict] = []
            outcomes = apply_plan(
                plan,
                handlers={
                    UPDATE_OUTBOUND: self._handler(refs, conflicts),
                    UPDATE_MAX_COUNT: self._handler(refs, conflicts),
                },
                store=self.store,
                policy=self.execution,
                now=self.clock,
                verifiers=self._verifiers(),
            )
            if conflicts:
                raced += 1
                cluster = self.clusters.get_cluster(cluster.id)
                continue
            status = _status(outcomes)
            transient = [o for o in outcomes if o.status is Status.FAILED and o.retryable]
            if status == "failed" and transient and not refs:
                # Nothing was written (ARM throttled or unavailable): the alert is delivered again.
                raise TransientError(f"{cluster.name}: {transient[0].detail}", retry_after=30)
            url = refs[0].url if refs else None
            if status == "applied":
                action = plan.actions[0]
                record = record_change(record, action.params, now=self.clock(), url=url, alert=target.source)
                if action.kind == UPDATE_MAX_COUNT and self.policy.autoscaler.revert_after is not None:
                    record = replace(
                        record,
                        revert={
                            "pool": action.params["pool"],
                            "maxCount": action.params["before"]["maxCount"],
                            "raisedTo": action.params["maxCount"],
                            "due": None,
                        },
                    )
                write_record(self.store, cluster.id, record)
                record_transition(
                    capability="remediate", from_state="steady", to_state="changing", target=cluster.name
                )
            return Remediation(
                target.remedy, cluster.name, status, plan, outcomes, url, continued=continued, raced=raced
            )
        raise TransientError(f"{cluster.name} kept changing while it was being remediated ({raced} times)")

    def _early_refusal(self, cluster: ObservedCluster, record: ClusterRecord) -> Guard | None:
        """A change in flight, or a guard (scope, cooldown, daily cap): a refusal whatever the signals say."""
        if record.operation is not None:
            return Guard(cluster.id, "busy: the previous change is still being applied")
        return check_guards(cluster, record.history, self.policy.guards, self.clock())

    def _handler(self, refs: list[OperationRef], conflicts: list[Conflict]) -> Callable[[Action], None]:
        def handle(action: Action) -> None:
            try:
                refs.append(
                    self.clusters.begin_update(
                        action.target,
                        etag=action.params.get("etag"),
                        change=ClusterChange.from_params(action.params),
                    )
                )
            except Conflict as exc:
                conflicts.append(exc)
                raise

        return handle

    def _verifiers(self) -> dict[str, Verifier]:
        """Is a change a dead invocation left in flight in place? (its claim met again; see
        ops.executor). ARM's cluster shows the change's values: done, recorded now; it does
        not: applied again (the same PUT). A cluster that is gone cannot tell."""

        def landed(action: Action) -> bool | None:
            try:
                cluster = self.clusters.get_cluster(action.target)
            except NotFound:
                return None
            return not ClusterChange.from_params(action.params).differs_from(cluster)

        return {UPDATE_OUTBOUND: landed, UPDATE_MAX_COUNT: landed}

    def _plan(self, target: Target, cluster: ObservedCluster, record: ClusterRecord) -> Plan:
        now = self.clock()
        if target.remedy == "snat":
            nat = cluster.outbound.outbound_type == "managedNATGateway"
            resource = target.resource_id or _outbound_id(cluster)
            if resource is None:
                return Plan(
                    "remediate", protected=[Guard(cluster.id, "unsupported: no managed outbound to read")]
                )
            snat = self.outbound.read_snat(resource, nat_gateway=nat, now=now)
            return plan_snat(cluster, snat, record.history, self.policy, now)
        signal = self.autoscaler.read_autoscaler(cluster)
        subnets: dict[str, SubnetUsage] = {}
        for pool in cluster.pools:
            if pool.vnet_subnet_id and pool.vnet_subnet_id.lower() not in subnets:
                subnets[pool.vnet_subnet_id.lower()] = self.capacity.subnet_usage(pool.vnet_subnet_id)
        quotas: Mapping[str, QuotaUsage] = self.capacity.quota_usage(cluster.subscription, cluster.location)
        return plan_max_count(
            cluster, signal, subnets, quotas, record.history, self.policy, now, pool_name=target.pool
        )

    # -- continuation -----------------------------------------------------------------------------

    def _continue(self, cluster: ObservedCluster, record: ClusterRecord) -> tuple[ClusterRecord, list[str]]:
        """Ask how the change in flight ended; report drift from what was last set."""
        notes: list[str] = []
        operation = record.operation
        if operation is not None:
            result = self.clusters.get_operation(OperationRef(url=operation.get("url")))
            if result.state is OperationState.IN_PROGRESS:
                return record, [f"in progress: the change started at {operation.get('started')}"]
            if result.state is OperationState.FAILED:
                notes.append(
                    f"failed: the change started at {operation.get('started')} failed: {result.error}"
                )
                self._audit(cluster, "remediate.failed", notes[-1], operation)
                history = replace(record.history, last_change=None)  # a failed change holds no cooldown
                record = replace(record, history=history, operation=None)
            else:
                notes.append(f"succeeded: the change started at {operation.get('started')}")
                record = replace(record, operation=None)
            record = write_record(self.store, cluster.id, record)
            ended = "failed" if result.state is OperationState.FAILED else "succeeded"
            record_transition(
                capability="remediate", from_state="changing", to_state=ended, target=cluster.name
            )
        applied = record.history.applied
        if applied and record.operation is None:
            current = self.clusters.get_cluster(cluster.id) if operation is not None else cluster
            drift = ClusterChange.from_params(applied).differs_from(current)
            if drift:
                text = "drift: " + "; ".join(drift) + " (changed outside remediation since it was set)"
                notes.append(text)
                # Audited once per change and drift, however often the watch or an alert sees it.
                last = record.history.last_change.isoformat() if record.history.last_change else ""
                once = hashlib.sha256(f"{last}|{text}".encode()).hexdigest()[:16]
                self._audit(
                    cluster, "remediate.drift", text, {"applied": dict(applied), "drift": drift}, key=once
                )
        return record, notes

    def resolve_alert(self, target: Target) -> dict[str, Any]:
        """A Resolved alert: recorded; a raised maxCount is restored ``revertAfter`` from now.
        Nothing is read from the cluster: the restore itself verifies it when it is due."""
        cluster_id = self.locate(target)
        name = cluster_id.rsplit("/", 1)[-1]
        lease = self._lease(f"remediate:{cluster_id.lower()}")
        try:
            record = read_record(self.store, cluster_id)
            after = self.policy.autoscaler.revert_after
            revert = record.revert
            if target.remedy == "autoscaler" and revert is not None and after is not None:
                due = self.clock() + after
                write_record(
                    self.store, cluster_id, replace(record, revert={**revert, "due": due.isoformat()})
                )
                reason = (
                    f"resolved: {name} pool {revert['pool']} maxCount back to "
                    f"{revert['maxCount']} after {due.isoformat()} if it is quiet"
                )
            else:
                reason = f"resolved: {name}; nothing to restore"
            return {"remedy": target.remedy, "cluster": name, "status": "resolved", "reason": reason}
        finally:
            self.store.release_lease(lease)

    def _revert(self, cluster: ObservedCluster, record: ClusterRecord) -> tuple[ClusterRecord, str | None]:
        """Restore a raised maxCount once its alert resolved and ``revertAfter`` passed, if quiet."""
        revert = record.revert
        if not revert or not revert.get("due") or datetime.fromisoformat(str(revert["due"])) > self.clock():
            return record, None
        pool = cluster.pool(str(revert["pool"]))
        old = int(revert["maxCount"])
        if pool is None or pool.max_count != int(revert["raisedTo"]):
            return replace(record, revert=None), "revert: skipped, maxCount was changed since it was raised"
        if pool.count > old:
            return record, f"revert: waiting, {pool.name} still runs {pool.count} nodes (> {old})"
        if self.autoscaler.read_autoscaler(cluster).unschedulable_pods:
            return record, "revert: waiting, pods are Pending again"
        guard = check_guards(cluster, record.history, self.policy.guards, self.clock())
        if guard is not None:  # a restore is a change like any other: scope, cooldown, daily cap
            return record, f"revert: waiting, {guard.reason}"
        reason = f"revert: {pool.name} maxCount {pool.max_count} → {old} (the alert resolved, quiet since)"
        params = {
            "etag": cluster.etag,
            "pool": pool.name,
            "maxCount": old,
            "before": {"maxCount": pool.max_count},
        }
        plan = Plan("remediate", actions=[Action(UPDATE_MAX_COUNT, cluster.id, reason, "arm", params)])
        refs: list[OperationRef] = []
        outcomes = apply_plan(
            plan,
            handlers={UPDATE_MAX_COUNT: self._handler(refs, [])},
            store=self.store,
            policy=self.execution,
            now=self.clock,
            verifiers=self._verifiers(),
        )
        if _status(outcomes) != "applied":
            return record, f"{reason}: {outcomes[0].status} {outcomes[0].detail}".rstrip()
        record = replace(record, revert=None)
        record = record_change(
            record, params, now=self.clock(), url=refs[0].url if refs else None, alert="revert"
        )
        return record, reason

    def continue_pending(self, cluster_id: str) -> list[str]:
        """Finish what an earlier call started for one cluster (``ops remediate --continue``)."""
        cluster = self.clusters.get_cluster(cluster_id)
        lease = self._lease(f"remediate:{cluster.id.lower()}")
        try:
            record, notes = self._continue(cluster, read_record(self.store, cluster.id))
            if record.operation is None:
                record, reverted = self._revert(cluster, record)
                if reverted is not None:
                    notes.append(reverted)
                    write_record(self.store, cluster.id, record)
            return notes
        finally:
            self.store.release_lease(lease)

    def watch(self) -> WatchResult:
        """One run of ``remediate_watch`` over every cluster with a record (ops.remediate.watch)."""
        from ops.remediate.watch import watch_clusters

        return watch_clusters(self)

    def _audit(
        self,
        cluster: ObservedCluster,
        kind: str,
        reason: str,
        detail: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        now = self.clock()
        self.store.append_audit(
            AuditRecord(
                key=f"{kind}:{cluster.id.lower()}:{key or now.isoformat()}",
                capability="remediate",
                kind=kind,
                target=cluster.id,
                reason=reason,
                status=kind.rsplit(".", 1)[-1],
                at=now,
                detail=dict(detail),
            )
        )


def _status(outcomes: Sequence[Outcome]) -> str:
    if any(o.status is Status.FAILED for o in outcomes):
        return "failed"
    if any(o.status is Status.HALTED for o in outcomes):
        return "halted"
    if outcomes and all(o.status is Status.DRY_RUN for o in outcomes):
        return "planned"
    return "applied"


def _outbound_id(cluster: ObservedCluster) -> str | None:
    base = f"/subscriptions/{cluster.subscription}/resourceGroups/{cluster.node_resource_group}/providers"
    if cluster.outbound.outbound_type == "loadBalancer":
        return f"{base}/Microsoft.Network/loadBalancers/kubernetes"
    if cluster.outbound.outbound_type == "managedNATGateway":
        return None  # its name is AKS's own; alerts name it
    return None


def _lease_duration() -> Any:
    from datetime import timedelta

    return timedelta(minutes=2)
