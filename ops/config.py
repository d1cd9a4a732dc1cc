"""Settings: one frozen, validated object, built from the environment or app settings.

Nothing reads the environment at import time: callers pass a mapping to
:func:`load_settings`, which reports every invalid or missing setting at once, by
name, with what was expected. Every setting here is also listed in
``local.settings.sample.json`` and in the infra; a test keeps the three in agreement.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ops.errors import ConfigError

#: Settings the Functions host owns; they live in local.settings but not in Settings.
HOST_SETTINGS = frozenset({"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"})

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _split_list(value: Any) -> Any:
    """App settings are strings: accept ``a,b c`` as well as a real list."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value.strip()) if part]
    return value


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _duration(value: Any) -> Any:
    # Imported here: the policy helpers load RE2 and YAML, which most settings never need.
    from ops.policies import parse_duration

    return parse_duration(value)


CommaList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]
OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
#: A duration written as in policies: ``30m``, ``12h``, ``14d``.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class CoreSettings(_Group):
    """Safety switches and scope: the settings an operator changes most."""

    dry_run: bool = Field(True, alias="OPS_DRY_RUN")
    kill_switch: bool = Field(False, alias="OPS_KILL_SWITCH")
    subscriptions: CommaList = Field((), alias="OPS_SUBSCRIPTIONS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="OPS_LOG_LEVEL")
    # Print every span to the console (ops --trace does the same for one command).
    trace: bool = Field(False, alias="OPS_TRACE")

    @field_validator("subscriptions")
    @classmethod
    def _check_guids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _GUID.match(v)]
        if bad:
            raise ValueError(f"expected comma-separated subscription GUIDs, not {', '.join(bad)}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class CapSettings(_Group):
    """Upper bounds on what one run may change; a plan over its cap is refused whole."""

    max_actions_per_run: int = Field(200, ge=1, le=100_000, alias="OPS_MAX_ACTIONS_PER_RUN")
    max_concurrency: int = Field(16, ge=1, le=32, alias="OPS_MAX_CONCURRENCY")
    # Singleton leases (purge, schedule tick, gate sweep, failover stamps) last this long unless renewed;
    # holders renew every third of it, so a dead holder blocks the next run this long.
    lease_duration: Duration = Field(
        timedelta(seconds=60), ge=timedelta(seconds=5), le=timedelta(minutes=10), alias="OPS_LEASE_DURATION"
    )


class EndpointSettings(_Group):
    """Where Azure is: public cloud by default, the sandbox or a sovereign cloud by override."""

    arm_endpoint: str = Field("https://management.azure.com", alias="OPS_ARM_ENDPOINT")
    arm_audience: str = Field("https://management.azure.com", alias="OPS_ARM_AUDIENCE")
    logs_endpoint: str = Field("https://api.loganalytics.io", alias="OPS_LOGS_ENDPOINT")
    managed_identity_client_id: OptionalStr = Field(None, alias="AZURE_CLIENT_ID")
    # The app's own Event Grid topic (CloudEvents input schema); empty: nothing is published.
    events_topic_endpoint: OptionalStr = Field(None, alias="OPS_EVENTS_TOPIC_ENDPOINT")

    @field_validator("managed_identity_client_id")
    @classmethod
    def _check_client_id(cls, value: str | None) -> str | None:
        return _check_guid(value)

    @field_validator("arm_endpoint", "arm_audience", "logs_endpoint")
    @classmethod
    def _check_https(cls, value: str) -> str:
        if not re.match(r"^https://[^\s/]+", value):
            raise ValueError("expected an https:// URL")
        return value.rstrip("/")

    @field_validator("events_topic_endpoint")
    @classmethod
    def _check_topic(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[^\s/]+", value):
            raise ValueError(
                "expected the topic's https:// endpoint, like https://<topic>.<region>-1.eventgrid.azure.net/api/events"
            )
        return value


class StorageSettings(_Group):
    """The app's own storage, in the forms the Functions runtime accepts.

    Either a connection string (``AzureWebJobsStorage``) or the identity-based
    form (``AzureWebJobsStorage__accountName`` or explicit service URIs, with an
    optional user-assigned ``__clientId``). With neither, the CLI and demo use an
    embedded SQLite file at ``OPS_STATE_PATH``.
    """

    connection_string: OptionalStr = Field(None, alias="AzureWebJobsStorage")
    account_name: OptionalStr = Field(None, alias="AzureWebJobsStorage__accountName")
    blob_service_uri: OptionalStr = Field(None, alias="AzureWebJobsStorage__blobServiceUri")
    queue_service_uri: OptionalStr = Field(None, alias="AzureWebJobsStorage__queueServiceUri")
    table_service_uri: OptionalStr = Field(None, alias="AzureWebJobsStorage__tableServiceUri")
    credential: OptionalStr = Field(None, alias="AzureWebJobsStorage__credential")
    client_id: OptionalStr = Field(None, alias="AzureWebJobsStorage__clientId")
    state_path: str = Field(".ops/state.db", alias="OPS_STATE_PATH")

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str | None) -> str | None:
        return _check_guid(value)

    @field_validator("account_name")
    @classmethod
    def _check_account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9]{3,24}", value):
            raise ValueError("expected a storage account name: 3-24 lower-case letters and digits")
        return value

    @field_validator("blob_service_uri", "queue_service_uri", "table_service_uri")
    @classmethod
    def _check_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+/?", value):
            raise ValueError("expected the service's endpoint, like https://<account>.blob.core.windows.net")
        return value

    @field_validator("connection_string")
    @classmethod
    def _check_connection_string(cls, value: str | None) -> str | None:
        if value is not None:
            check_connection_string(value)
        return value

    @field_validator("state_path")
    @classmethod
    def _check_state_path(cls, value: str) -> str:
        return check_state_path(value)

    @field_validator("credential")
    @classmethod
    def _check_credential(cls, value: str | None) -> str | None:
        if value is not None and value.lower() != "managedidentity":
            raise ValueError("expected 'managedidentity', the only credential the Functions runtime accepts")
        return value

    @property
    def mode(self) -> Literal["connection_string", "identity", "sqlite"]:
        if self.connection_string:
            return "connection_string"
        if self.account_name or self.table_service_uri:
            return "identity"
        return "sqlite"

    def service_uri(self, service: Literal["blob", "queue", "table"]) -> str | None:
        """The identity-based endpoint of one storage service, explicit or derived."""
        explicit = {
            "blob": self.blob_service_uri,
            "queue": self.queue_service_uri,
            "table": self.table_service_uri,
        }[service]
        if explicit:
            return explicit
        if self.account_name:
            return f"https://{self.account_name}.{service}.core.windows.net"
        return None


def check_ncrontab(value: str) -> str:
    """A timer trigger schedule: six-field NCRONTAB (seconds first, parsed by croniter as
    the host would), or a TimeSpan ``hh:mm:ss``. Counting the fields is not enough:
    ``x y z w v u`` has six."""
    from croniter import croniter

    if re.match(r"^\d{1,2}:\d{2}:\d{2}$", value.strip()):
        return value
    if len(value.split()) != 6 or not croniter.is_valid(value, second_at_beginning=True):
        raise ValueError("expected a six-field NCRONTAB expression like '0 */5 * * * *', or hh:mm:ss")
    return value


def check_queue_name(value: str) -> str:
    """A Storage queue name: 3-63 lower-case letters, digits and single hyphens."""
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", value) or "--" in value:
        raise ValueError("expected a queue name: 3-63 lower-case letters, digits and single hyphens")
    return value


def _check_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("expected an ISO 8601 time with an offset, like 2026-11-26T19:05:00+00:00")
    return value


#: A timer trigger schedule (NCRONTAB or hh:mm:ss).
Ncrontab = Annotated[str, AfterValidator(check_ncrontab)]
#: A Storage queue name.
QueueName = Annotated[str, AfterValidator(check_queue_name)]
#: A test clock: empty (the real time) or an instant with an offset.
PinnedClock = Annotated[datetime | None, BeforeValidator(_blank_to_none), AfterValidator(_check_aware)]


#: Settings whose values are never shown in a problem (they hold account keys).
_SECRET_SETTINGS = frozenset({"AzureWebJobsStorage"})
_CONNECTION_KEYS = frozenset(
    {
        "DefaultEndpointsProtocol", "AccountName", "AccountKey", "EndpointSuffix", "SharedAccessSignature",
        "BlobEndpoint", "QueueEndpoint", "TableEndpoint", "FileEndpoint", "UseDevelopmentStorage",
        "DevelopmentStorageProxyUri",
    }
)  # fmt: skip


def check_connection_string(value: str) -> None:
    """A storage connection string the SDKs (and the host) can use, or ValueError saying why.

    ``UseDevelopmentStorage=true`` is Azurite; otherwise ``key=value`` pairs naming an
    account with its key or a SAS, or explicit endpoints with a SAS.
    """
    pairs: dict[str, str] = {}
    for number, part in enumerate((p for p in value.strip().split(";") if p.strip()), start=1):
        key, sep, item = part.partition("=")
        if not sep or key.strip() not in _CONNECTION_KEYS or not item.strip():
            # Nothing of the value is shown: a misplaced account key must not reach a report.
            known = ", ".join(sorted(_CONNECTION_KEYS))
            raise ValueError(
                f"expected a connection string of Key=value parts ({known}); part {number} is not one"
            )
        pairs[key.strip()] = item.strip()
    if pairs.get("UseDevelopmentStorage", "").lower() == "true":
        return
    account = "AccountName" in pairs and ("AccountKey" in pairs or "SharedAccessSignature" in pairs)
    endpoints = any(k.endswith("Endpoint") for k in pairs) and "SharedAccessSignature" in pairs
    if not (account or endpoints):
        raise ValueError(
            "expected AccountName with AccountKey (or SharedAccessSignature), or UseDevelopmentStorage=true"
        )


def check_state_path(value: str) -> str:
    """An SQLite file path the CLI can create: its nearest existing parent is a writable directory."""
    path = Path(value).expanduser()
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"expected a file path whose directory can be created and written, not {value!r}")
    return value


def _check_guid(value: str | None) -> str | None:
    if value is not None and not _GUID.match(value):
        raise ValueError("expected a client id GUID like 00000000-0000-0000-0000-000000000000")
    return value


class ScheduleSettings(_Group):
    """The schedule capability: its timer, its policy, protected environments, and a test clock.

    ``OPS_SCHEDULE_NOW`` pins the schedule's "now" to an instant, for tests and demos
    only; leave it empty in Azure, where the tick uses the real time.
    """

    tick: Ncrontab = Field("0 */5 * * * *", alias="SCHEDULE_TICK")
    policy: OptionalStr = Field(None, alias="OPS_SCHEDULE_POLICY")
    protected_environments: CommaList = Field(
        ("prod", "production"), alias="OPS_SCHEDULE_PROTECTED_ENVIRONMENTS"
    )
    now: PinnedClock = Field(None, alias="OPS_SCHEDULE_NOW")

    @field_validator("protected_environments")
    @classmethod
    def _never_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            # A "," or blank list would protect nothing, so that prod could be stopped.
            raise ValueError("expected one or more environment names; an empty protected set is refused")
        return value


class PurgeSettings(_Group):
    """The purge capability: its timer, its policy (a file path or inline YAML), its work queue.

    Repositories are enqueued ``OPS_PURGE_BATCH_SIZE`` to a message. Bytes reclaimed are
    estimated from ACR's ``imageSize`` in the manifest listing, at no cost (an upper
    bound; ``ops purge --exact-bytes`` refines it from the layers);
    ``OPS_PURGE_ESTIMATE_BYTES=false`` turns that off (the summary then reports 0).

    A batch is refused when its run's in-use set is older than
    ``OPS_PURGE_SNAPSHOT_MAX_AGE``. ``OPS_PURGE_CONCURRENCY`` is how many batches may run
    at once (purge_repository's scale-out): each paces its deletes under that share of
    the registry's write limit. A stopped cluster's last-known in-use set stands in for
    it while younger than ``OPS_PURGE_STOPPED_CLUSTER_MAX_AGE``.
    """

    schedule: Ncrontab = Field("0 0 3 * * *", alias="PURGE_SCHEDULE")
    policy: OptionalStr = Field(None, alias="OPS_PURGE_POLICY")
    queue: QueueName = Field("purge-work", alias="OPS_PURGE_QUEUE")
    batch_size: int = Field(20, ge=1, le=500, alias="OPS_PURGE_BATCH_SIZE")
    estimate_bytes: bool = Field(True, alias="OPS_PURGE_ESTIMATE_BYTES")
    snapshot_max_age: Duration = Field(
        timedelta(minutes=30), gt=timedelta(0), alias="OPS_PURGE_SNAPSHOT_MAX_AGE"
    )
    concurrency: int = Field(1, ge=1, le=1000, alias="OPS_PURGE_CONCURRENCY")
    stopped_cluster_max_age: Duration = Field(timedelta(days=14), alias="OPS_PURGE_STOPPED_CLUSTER_MAX_AGE")


class GateSettings(_Group):
    """The gate capability: its sweep timer, its policy (a file path or inline YAML), and batching.

    A sweep looks at up to ``OPS_GATE_SWEEP_LIMIT`` pending images and asks Resource Graph
    for Defender's findings in one query per ``OPS_GATE_QUERY_BATCH`` digests. Without a
    policy the gate acknowledges every push and gates nothing.
    """

    sweep_schedule: Ncrontab = Field("0 */1 * * * *", alias="GATE_SWEEP_SCHEDULE")
    policy: OptionalStr = Field(None, alias="OPS_GATE_POLICY")
    query_batch: int = Field(300, ge=1, le=1000, alias="OPS_GATE_QUERY_BATCH")
    sweep_limit: int = Field(5000, ge=1, le=100_000, alias="OPS_GATE_SWEEP_LIMIT")


class RunbookSettings(_Group):
    """Manual runbooks: a plan of more than ``OPS_RUNBOOK_INLINE_ACTIONS`` actions is applied in
    the background (202 with a status location), through the ``OPS_RUNBOOK_QUEUE`` queue,
    so that no HTTP call outlives the 230-second limit of the Functions front end."""

    queue: QueueName = Field("runbook-runs", alias="OPS_RUNBOOK_QUEUE")
    inline_actions: int = Field(50, ge=0, le=10_000, alias="OPS_RUNBOOK_INLINE_ACTIONS")


class AuthSettings(_Group):
    """Who may call the HTTP functions: the Entra tenant, the API's app registration, the
    app-role names, and the authority host (another cloud's, or the sandbox's).

    Tokens are accepted for the API's client id (``OPS_AUTH_AUDIENCE``, v2 tokens) and
    its application id URI (``OPS_AUTH_APP_ID_URI``, default ``api://<client id>``, v1
    tokens). With no tenant or audience, every HTTP call but ``health`` is refused.
    """

    tenant_id: OptionalStr = Field(None, alias="OPS_AUTH_TENANT_ID")
    audience: OptionalStr = Field(None, alias="OPS_AUTH_AUDIENCE")
    app_id_uri: OptionalStr = Field(None, alias="OPS_AUTH_APP_ID_URI")
    authority_host: str = Field("https://login.microsoftonline.com", alias="OPS_AUTH_AUTHORITY_HOST")
    role_read: str = Field("Ops.Read", min_length=1, alias="OPS_AUTH_ROLE_READ")
    role_operate: str = Field("Ops.Operate", min_length=1, alias="OPS_AUTH_ROLE_OPERATE")
    role_approve: str = Field("Ops.Approve", min_length=1, alias="OPS_AUTH_ROLE_APPROVE")
    role_webhook: str = Field("ActionGroupsSecureWebhook", min_length=1, alias="OPS_AUTH_ROLE_WEBHOOK")

    @field_validator("tenant_id", "audience")
    @classmethod
    def _check_guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError("expected a GUID")
        return value

    @field_validator("authority_host")
    @classmethod
    def _check_authority(cls, value: str) -> str:
        if not re.match(r"^https://[^\s/]+/?$", value):
            raise ValueError("expected an https:// host, like https://login.microsoftonline.com")
        return value.rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(self.tenant_id and self.audience)

    @property
    def audiences(self) -> tuple[str, ...]:
        """Every ``aud`` a token for this API may carry."""
        if not self.audience:
            return ()
        uris = {self.app_id_uri or f"api://{self.audience}"}
        return (self.audience, *sorted(uris))


class RemediateSettings(_Group):
    """The remediate capability: its policy (a file path or inline YAML; empty: the defaults,
    which plan but route no alert), how long an alert's id + condition is remembered, the
    queue that carries accepted alerts from ``alert_webhook`` to ``alert_worker``, and the
    schedule of ``remediate_watch`` (operations in flight, drift, due restores).

    ``OPS_REMEDIATE_NOW`` pins remediation's "now" (cooldowns, daily caps, when a restore is
    due) to an instant, for tests and demos on the sandbox clock only; leave it empty in Azure.
    """

    policy: OptionalStr = Field(None, alias="OPS_REMEDIATE_POLICY")
    dedupe_ttl: Duration = Field(timedelta(days=2), gt=timedelta(0), alias="OPS_ALERT_DEDUPE_TTL")
    watch_schedule: Ncrontab = Field("0 */1 * * * *", alias="REMEDIATE_WATCH_SCHEDULE")
    queue: QueueName = Field("alert-work", alias="OPS_ALERT_QUEUE")
    now: PinnedClock = Field(None, alias="OPS_REMEDIATE_NOW")


class FailoverSettings(_Group):
    """The failover capability: its policy, its watch timer, and a test clock.

    ``OPS_FAILOVER_NOW`` pins the failover's "now" (hysteresis, the daily cap) to an
    instant, for tests and demos on the sandbox clock only; leave it empty in Azure.
    """

    policy: OptionalStr = Field(None, alias="OPS_FAILOVER_POLICY")
    watch_schedule: Ncrontab = Field("0 */1 * * * *", alias="FAILOVER_WATCH_SCHEDULE")
    now: PinnedClock = Field(None, alias="OPS_FAILOVER_NOW")


class Settings(_Group):
    """Everything the app is configured with, grouped by concern."""

    core: CoreSettings
    caps: CapSettings
    endpoints: EndpointSettings
    storage: StorageSettings
    schedule: ScheduleSettings
    purge: PurgeSettings
    gate: GateSettings
    auth: AuthSettings
    remediate: RemediateSettings
    failover: FailoverSettings
    runbooks: RunbookSettings

    @classmethod
    def env_names(cls) -> frozenset[str]:
        """Every app-setting name the product reads."""
        names: set[str] = set()
        for group in cls.model_fields.values():
            model = group.annotation
            assert isinstance(model, type) and issubclass(model, BaseModel)
            names.update(f.alias or n for n, f in model.model_fields.items())
        return frozenset(names)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build Settings from ``env``; raise ConfigError naming every bad setting at once."""
    groups: dict[str, BaseModel] = {}
    problems: list[str] = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, _Group)
        try:
            groups[name] = model.model_validate(dict(env))
        except ValidationError as exc:
            problems.extend(_describe(exc))
    storage = groups.get("storage")
    hosted = "WEBSITE_SITE_NAME" in env  # set by App Service and Functions in Azure
    if isinstance(storage, StorageSettings):
        problems.extend(_check_storage(storage, hosted=hosted))
    schedule = groups.get("schedule")
    if hosted and isinstance(schedule, ScheduleSettings) and schedule.now is not None:
        problems.append("OPS_SCHEDULE_NOW: expected empty in Azure; a pinned clock is for tests and demos")
    failover = groups.get("failover")
    if hosted and isinstance(failover, FailoverSettings) and failover.now is not None:
        problems.append("OPS_FAILOVER_NOW: expected empty in Azure; a pinned clock is for tests and demos")
    remediate = groups.get("remediate")
    if hosted and isinstance(remediate, RemediateSettings) and remediate.now is not None:
        problems.append("OPS_REMEDIATE_NOW: expected empty in Azure; a pinned clock is for tests and demos")
    if problems:
        raise ConfigError(problems)
    return Settings.model_validate(groups)


def _check_storage(storage: StorageSettings, *, hosted: bool) -> list[str]:
    """Storage must be shared by every instance: never fall back to SQLite by accident."""
    if storage.connection_string and storage.account_name:
        return [
            "AzureWebJobsStorage: set either the connection string "
            "or AzureWebJobsStorage__accountName, not both"
        ]
    partial = storage.blob_service_uri or storage.queue_service_uri or storage.credential or storage.client_id
    if storage.mode == "sqlite" and partial:
        return [
            "AzureWebJobsStorage__accountName: expected the storage account name (or "
            "AzureWebJobsStorage__tableServiceUri) with the other AzureWebJobsStorage__* settings"
        ]
    if storage.mode == "sqlite" and hosted:
        return [
            "AzureWebJobsStorage: expected a storage connection in Azure; a local SQLite file "
            "is not shared between instances, so leases, dedupe and audit would be lost"
        ]
    return []


def check_settings(env: Mapping[str, str]) -> list[str]:
    """The problems :func:`load_settings` would report, as a list (empty when valid)."""
    try:
        load_settings(env)
    except ConfigError as exc:
        return exc.problems
    return []


def _describe(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "<settings>"
        message = err["msg"].removeprefix("Value error, ")
        shown = err.get("input")
        secret = name in _SECRET_SETTINGS  # its value holds a key: never echoed
        got = "" if shown is None or isinstance(shown, dict) or secret else f" (got {shown!r})"
        out.append(f"{name}: {message}{got}")
    return out
