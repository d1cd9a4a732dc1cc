"""Wiring: Settings → state store and adapters → the services that triggers and the CLI call.

This is the one place that decides which implementation backs each Protocol, so
tests swap fakes here and nowhere else. Adapters are imported lazily: building
Services must stay cheap at cold start.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.config import Settings, load_settings
from ops.executor import ExecutionPolicy
from ops.state.store import StateStore

if TYPE_CHECKING:
    from ops.alerts.webhook import AlertWebhook
    from ops.auth import Authenticator
    from ops.failover.service import FailoverService
    from ops.gate.policy import GatePolicy
    from ops.gate.service import GateService
    from ops.purge.protocols import WorkQueue
    from ops.purge.service import PurgeService
    from ops.remediate.service import RemediateService
    from ops.runbooks.service import RunbookService
    from ops.schedule.service import ScheduleService


@dataclass
class Services:
    """Lazily built, process-wide collaborators; clients are created once and reused."""

    settings: Settings
    _store: StateStore | None = field(default=None, repr=False)
    # The Functions host runs invocations on worker threads: two at once in a cold worker
    # must share one store, not race to open two (SQLite refuses the second WAL switch).
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # A CLI run's SIGTERM/SIGINT flag (ops.interrupts): every plan applied polls it.
    stop: Callable[[], bool] | None = field(default=None, repr=False, compare=False)

    def store(self) -> StateStore:
        with self._lock:
            if self._store is None:
                self._store = open_state_store(self.settings)
            return self._store

    def execution_policy(
        self, *, apply: bool | None = None, actor: Mapping[str, Any] | None = None
    ) -> ExecutionPolicy:
        """Dry-run unless ``apply`` says so or the settings turn dry-run off; ``actor`` (an HTTP
        caller) is named in the audit record of every action applied."""
        dry_run = self.settings.core.dry_run if apply is None else not apply
        return ExecutionPolicy(
            dry_run=dry_run,
            kill_switch=self.settings.core.kill_switch,
            max_concurrency=self.settings.caps.max_concurrency,
            actor=actor,
            stop=self.stop,
        )

    def schedule_service(
        self, *, apply: bool | None = None, actor: Mapping[str, Any] | None = None
    ) -> ScheduleService:
        """The schedule capability: Resource Graph finds clusters, ARM changes them."""
        from ops.adapters.aks import AksClusters
        from ops.adapters.graph import GraphClusters
        from ops.schedule.policy import load_policy
        from ops.schedule.service import ScheduleService

        schedule = self.settings.schedule
        pinned = schedule.now  # OPS_SCHEDULE_NOW: a fixed "now" for tests and demos
        return ScheduleService(
            inventory=GraphClusters(self.settings),
            control=AksClusters(self.settings),
            store=self.store(),
            policy=load_policy(schedule.policy, protected_environments=schedule.protected_environments),
            execution=self.execution_policy(apply=apply, actor=actor),
            cap=self.settings.caps.max_actions_per_run,
            lease=self.settings.caps.lease_duration,
            clock=(lambda: pinned) if pinned is not None else (lambda: datetime.now(UTC)),
        )

    def purge_service(
        self,
        *,
        apply: bool | None = None,
        queue: bool = False,
        actor: Mapping[str, Any] | None = None,
        exact_bytes: bool = False,
    ) -> PurgeService:
        """The purge capability: ARM finds registries and clusters; ACR and Kubernetes are read.

        ``queue`` opens the work queue in the app's storage (``purge_schedule`` needs it);
        ``exact_bytes`` refines the bytes estimate from the layers (``ops purge --exact-bytes``).
        """
        from ops.adapters.arm import ArmDirectory
        from ops.adapters.kube import kube_reader
        from ops.adapters.registry import registry_client
        from ops.purge.service import PurgeConfig, PurgeService

        purge = self.settings.purge
        directory = ArmDirectory(self.settings)
        return PurgeService(
            directory=directory,
            clusters=kube_reader(self.settings, directory),
            registries=lambda ref: registry_client(self.settings, ref),
            store=self.store(),
            execution=self.execution_policy(apply=apply, actor=actor),
            config=PurgeConfig(
                policy=purge.policy,
                batch_size=purge.batch_size,
                default_max_deletes=self.settings.caps.max_actions_per_run,
                estimate_bytes=purge.estimate_bytes,
                exact_bytes=exact_bytes,
                snapshot_max_age=purge.snapshot_max_age,
                concurrency=purge.concurrency,
                stopped_cluster_max_age=purge.stopped_cluster_max_age,
                lease=self.settings.caps.lease_duration,
            ),
            queue=self.purge_queue() if queue else None,
        )

    def gate_service(
        self,
        *,
        apply: bool | None = None,
        actor: Mapping[str, Any] | None = None,
        policy: GatePolicy | None = None,
    ) -> GateService:
        """The gate capability: ACR's data plane, ARM for quarantine policies, Resource Graph for
        Defender's findings, and the app's Event Grid topic for verdicts. ``policy`` stands in
        for ``OPS_GATE_POLICY`` (``ops gate check --policy``, which tries a policy out)."""
        from ops.adapters.arm import registry_directory
        from ops.adapters.graph import GraphFindings
        from ops.adapters.notify import EventGridPublisher
        from ops.adapters.registry import gate_registry
        from ops.gate.policy import read_policy_setting
        from ops.gate.service import GateConfig, GateService

        gate = self.settings.gate
        topic = self.settings.endpoints.events_topic_endpoint
        return GateService(
            policy=policy or read_policy_setting(gate.policy),
            registries=lambda image: gate_registry(self.settings, image),
            directory=registry_directory(self.settings),
            findings=GraphFindings(self.settings),
            publisher=EventGridPublisher(self.settings, topic) if topic else None,
            store=self.store(),
            execution=self.execution_policy(apply=apply, actor=actor),
            config=GateConfig(
                query_batch=gate.query_batch,
                sweep_limit=gate.sweep_limit,
                lease=self.settings.caps.lease_duration,
            ),
        )

    def authenticator(self) -> Authenticator:
        """Validates the HTTP functions' Entra tokens; the tenant's keys are cached per process.

        Without a tenant and an audience no token can be valid: ConfigError, so that an
        unconfigured app refuses every caller instead of trusting any.
        """
        from ops.adapters.entra import entra_keys
        from ops.auth import Authenticator, Role, TokenPolicy
        from ops.errors import ConfigError

        auth = self.settings.auth
        if not auth.tenant_id or not auth.audience:
            raise ConfigError(
                "OPS_AUTH_TENANT_ID and OPS_AUTH_AUDIENCE: expected the Entra tenant and the API's "
                "client id; without them the HTTP functions accept no caller"
            )
        return Authenticator(
            keys=entra_keys(auth.authority_host, auth.tenant_id),
            policy=TokenPolicy(tenant_id=auth.tenant_id, audiences=auth.audiences),
            role_names={
                Role.READ: auth.role_read,
                Role.OPERATE: auth.role_operate,
                Role.APPROVE: auth.role_approve,
                Role.WEBHOOK: auth.role_webhook,
            },
        )

    def remediate_service(self, *, apply: bool | None = None) -> RemediateService:
        """The remediate capability: ARM (AKS, network, compute, monitor) and the clusters' API servers."""
        from ops.adapters.outbound import ArmClusters, ArmOutbound, KubeAutoscaler
        from ops.remediate.policy import read_policy_setting
        from ops.remediate.service import RemediateService

        outbound = ArmOutbound(self.settings)
        pinned = self.settings.remediate.now
        return RemediateService(
            clusters=ArmClusters(self.settings),
            outbound=outbound,
            capacity=outbound,
            autoscaler=KubeAutoscaler(self.settings),
            store=self.store(),
            execution=self.execution_policy(apply=apply),
            policy=read_policy_setting(self.settings.remediate.policy),
            subscriptions=self.settings.core.subscriptions,
            clock=(lambda: pinned) if pinned is not None else (lambda: datetime.now(UTC)),
        )

    def failover_service(self, *, apply: bool | None = None) -> FailoverService:
        """The failover capability: App Configuration, Front Door, Traffic Manager, ACR
        replications and Resource Health; transitions published to the app's topic."""
        from ops.adapters.failover import AzureFailoverPaths
        from ops.adapters.notify import EventGridPublisher
        from ops.errors import ConfigError
        from ops.failover.policy import load_policy
        from ops.failover.service import FailoverService

        failover = self.settings.failover
        policy = load_policy(failover.policy)
        if policy is None:
            raise ConfigError("OPS_FAILOVER_POLICY: expected a failover policy; failover is off without one")
        pinned = failover.now
        topic = self.settings.endpoints.events_topic_endpoint
        return FailoverService(
            policy=policy,
            paths=AzureFailoverPaths(self.settings),
            store=self.store(),
            execution=self.execution_policy(apply=apply),
            clock=(lambda: pinned) if pinned is not None else (lambda: datetime.now(UTC)),
            publisher=EventGridPublisher(self.settings, topic) if topic else None,
            lease=self.settings.caps.lease_duration,
        )

    def runbook_queue(self) -> WorkQueue:
        """Where runbook runs too long for one HTTP call go (``runbook_worker``'s queue)."""
        return self._queue(self.settings.runbooks.queue)

    def runbook_service(self) -> RunbookService:
        from ops.runbooks.service import RunbookService

        return RunbookService(self)

    def alert_webhook(self) -> AlertWebhook:
        """The webhook's router (every capability's routes) and handlers; built per call, cheap."""
        from ops.alerts.routing import AlertRouter
        from ops.alerts.webhook import AlertWebhook
        from ops.remediate.alerts import RemediateAlerts
        from ops.remediate.policy import read_policy_setting

        policy = read_policy_setting(self.settings.remediate.policy)
        routes = [*policy.routes]
        handlers: dict[str, Any] = {"remediate": lambda: RemediateAlerts(self.remediate_service)}
        if self.settings.failover.policy:  # failover's routes come with its policy
            from ops.failover.alerts import ROUTES, FailoverAlerts

            routes.extend(ROUTES)
            handlers["failover"] = lambda: FailoverAlerts(self.failover_service)
        return AlertWebhook(
            router=AlertRouter(routes),
            handlers=handlers,
            store=self.store(),
            dedupe_ttl=self.settings.remediate.dedupe_ttl,
            clock=lambda: datetime.now(UTC),
            # Remediation confirms, plans and writes in alert_worker; the webhook answers at once.
            queues={"remediate": lambda: self._queue(self.settings.remediate.queue)},
        )

    def answer_alert(self, body: object) -> dict[str, Any]:
        """``alert_webhook``'s answer to one body: everything but a transient failure is an
        answer (see ops.alerts.webhook), including a setting or policy that cannot be loaded."""
        from ops.errors import ConfigError

        try:
            webhook = self.alert_webhook()
        except ConfigError as exc:
            return self.refuse_alert(exc, body)
        return webhook.handle(body).to_dict()

    def refuse_alert(self, error: Exception, body: object) -> dict[str, Any]:
        """Record why an alert could not be handled at all (a setting, the policy): 200 ``failed``."""
        from ops.errors import describe_error
        from ops.rejections import record_rejection

        now = datetime.now(UTC)
        record_rejection(
            self.store(), capability="alerts", source="alert_webhook", error=error, body=body, now=now
        )
        return {"status": "failed", "reason": describe_error(error)}

    def purge_queue(self) -> WorkQueue:
        """The purge work queue: a Storage queue, or pending items in SQLite without storage."""
        return self._queue(self.settings.purge.queue)

    def _queue(self, name: str) -> WorkQueue:
        if self.settings.storage.mode == "sqlite":
            from ops.purge.localqueue import StoreQueue

            return StoreQueue(self.store(), name)
        from ops.adapters.queues import open_queue

        return open_queue(self.settings, name)


def open_state_store(settings: Settings) -> StateStore:
    """Azure Tables when storage is configured, else the embedded SQLite file."""
    storage = settings.storage
    if storage.mode == "sqlite":
        from ops.state.sqlite import SqliteStateStore

        Path(storage.state_path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStateStore(storage.state_path)
    from ops.adapters.identity import build_credential
    from ops.adapters.storage import open_table_store

    credential = (
        None if storage.mode == "connection_string" else build_credential(settings, storage.client_id)
    )
    return open_table_store(
        connection_string=storage.connection_string,
        table_endpoint=storage.service_uri("table"),
        blob_endpoint=storage.service_uri("blob"),
        credential=credential,
    )


_SERVICES: dict[str, Services] = {}
_SERVICES_LOCK = threading.Lock()


def get_services(env: Mapping[str, str] | None = None) -> Services:
    """The process-wide Services (triggers call this on every invocation; it is cached)."""
    if env is not None:
        return Services(load_settings(env))
    with _SERVICES_LOCK:  # invocations on concurrent threads share one Services
        if "default" not in _SERVICES:
            _SERVICES["default"] = Services(load_settings(os.environ))
        return _SERVICES["default"]


def reset_services() -> None:
    """Forget cached Services, e.g. after the CLI loads an env file or a test changes env."""
    with _SERVICES_LOCK:
        _SERVICES.clear()
