"""ARM discovery for purge: registries (azure-mgmt-containerregistry) and AKS clusters.

Registries are listed per subscription, with their login server and SKU (the SKU
sets the write limit deletes are paced under). Clusters come from the AKS
client in ``ops.adapters.aks`` (one client per subscription per process), and so
does each cluster's user kubeconfig (``listClusterUserCredential``), which is how
``ops.adapters.kube`` finds the API server and its CA.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Sequence
from typing import Any

from ops.adapters.aks import container_service_client
from ops.adapters.clients import cached_client, enum_text, management_client, parse_resource_id
from ops.adapters.errors import translated_errors
from ops.adapters.identity import build_credential
from ops.config import Settings
from ops.errors import ConfigError, InvalidInput, NotFound
from ops.gate.evidence import ImageRef
from ops.purge.inventory import ClusterRef, RegistryRef
from ops.registries import registry_hosts

REGISTRIES = "Microsoft.ContainerRegistry/registries"


def registry_management_client(settings: Settings, subscription: str) -> Any:
    """The process-wide ContainerRegistryManagementClient for ``subscription``."""
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return management_client(settings, ContainerRegistryManagementClient, subscription=subscription)


class ArmDirectory:
    """Purge's Directory: the registries and clusters of the subscriptions in scope."""

    def __init__(self, settings: Settings, subscriptions: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.subscriptions = tuple(
            subscriptions if subscriptions is not None else settings.core.subscriptions
        )
        if not self.subscriptions:
            raise ConfigError(
                "OPS_SUBSCRIPTIONS: purge needs the subscriptions whose registries and clusters it scans"
            )

    def list_registries(self) -> list[RegistryRef]:
        """Every registry, with all its endpoints (one more ARM read per Premium registry)."""
        found = []
        for subscription in self.subscriptions:
            client = registry_management_client(self.settings, subscription)
            with translated_errors(f"list registries of subscription {subscription}"):
                registries = list(client.registries.list())
            found += [registry_ref(client, registry) for registry in registries]
        return found

    def list_clusters(self) -> list[ClusterRef]:
        found = []
        for subscription in self.subscriptions:
            client = container_service_client(self.settings, subscription)
            with translated_errors(f"list managed clusters of subscription {subscription}"):
                for cluster in client.managed_clusters.list():
                    power = cluster.power_state.code if cluster.power_state else "Running"
                    found.append(
                        ClusterRef(
                            name=cluster.name,
                            resource_group=parse_resource_id(cluster.id).resource_group,
                            subscription=subscription,
                            id=cluster.id,
                            power_state=enum_text(power or "Running"),
                        )
                    )
        return found

    def get_kubeconfig(self, cluster: ClusterRef) -> bytes:
        """The cluster user kubeconfig, as AKS returns it (server, CA, an exec user we ignore)."""
        client = container_service_client(self.settings, cluster.subscription)
        with translated_errors(f"list cluster user credentials of {cluster.name}"):
            result = client.managed_clusters.list_cluster_user_credentials(
                cluster.resource_group, cluster.name
            )
        configs = result.kubeconfigs or []
        if not configs:
            raise ConfigError(f"cluster {cluster.name}: listClusterUserCredential returned no kubeconfig")
        value = configs[0].value
        # The SDK's model declares ``value`` as base64 bytes (bytearray); decode either form.
        if isinstance(value, str):
            return base64.b64decode(value)
        return bytes(value)


def registry_ref(client: Any, registry: Any) -> RegistryRef:
    """A RegistryRef from the SDK's Registry, with every endpoint ARM reports or implies:
    the regions are the home region and the replications' (only Premium replicates)."""
    sku = enum_text(registry.sku.name) if registry.sku else "Basic"
    regions = [registry.location]
    if sku == "Premium":
        group = parse_resource_id(registry.id).resource_group
        with translated_errors(f"list replications of registry {registry.name}"):
            regions += [r.location for r in client.replications.list(group, registry.name)]
    endpoints = registry_hosts(
        name=registry.name,
        login_server=registry.login_server,
        regions=[r for r in regions if r],
        data_endpoints=registry.data_endpoint_host_names or (),
    )
    return RegistryRef(
        name=registry.name, login_server=registry.login_server, sku=sku, id=registry.id, endpoints=endpoints
    )


def registry_directory(settings: Settings) -> ArmRegistryDirectory:
    """The process-wide ArmRegistryDirectory (its cache is worth keeping between invocations).

    Keyed by credential like every client: what it caches is what that identity was shown.
    """
    key = (ArmRegistryDirectory, settings.endpoints.arm_endpoint, build_credential(settings))
    return cached_client(key, lambda: ArmRegistryDirectory(settings))


class ArmRegistryDirectory:
    """The gate's RegistryDirectory: registries resolved from their ARM id, with their
    endpoints and quarantine policy, through ARM.

    A push handler asks for every event; the answer is cached per registry for
    ``ttl_s`` seconds, because a registry's endpoints and policy change rarely and ARM
    reads are throttled.
    """

    def __init__(self, settings: Settings, *, ttl_s: float = 300.0) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[RegistryRef, bool, float]] = {}
        self._lock = threading.Lock()

    def resolve_registry(self, registry_id: str) -> RegistryRef:
        """The registry with this ARM id, as ARM reports it (login server, SKU, endpoints).

        InvalidInput for an id that is not a registry's, or names one outside
        ``OPS_SUBSCRIPTIONS`` (when set) or one that does not exist; Forbidden and
        transient errors as ARM answers.
        """
        return self._read(registry_id)[0]

    def quarantine_enabled(self, image: ImageRef) -> bool:
        try:
            return self._read(image.registry_id)[1]
        except InvalidInput as exc:
            raise ConfigError(f"{image.key}: {exc}") from None

    def _read(self, registry_id: str) -> tuple[RegistryRef, bool]:
        parsed = parse_resource_id(registry_id, of_type=REGISTRIES, field="registry id")
        scope = {s.lower() for s in self.settings.core.subscriptions}
        if scope and parsed.subscription.lower() not in scope:
            raise InvalidInput(
                "registry id", "a registry in a subscription of OPS_SUBSCRIPTIONS", parsed.subscription
            )
        key = registry_id.strip().lower()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[2] < self.ttl_s:
            return cached[0], cached[1]
        client = registry_management_client(self.settings, parsed.subscription)
        try:
            with translated_errors(f"get registry {parsed.name}"):
                registry = client.registries.get(parsed.resource_group, parsed.name)
        except NotFound:
            raise InvalidInput(
                "registry id", "the ARM id of an existing container registry", registry_id
            ) from None
        ref = registry_ref(client, registry)
        policy = registry.policies.quarantine_policy if registry.policies else None
        enabled = policy is not None and enum_text(policy.status).lower() == "enabled"
        with self._lock:
            self._cache[key] = (ref, enabled, time.monotonic())
        return ref, enabled

    def find_registry(self, name: str) -> tuple[str, str, str] | None:
        """(name, login server, ARM id) of the registry named ``name`` or served at that login server."""
        wanted = name.lower()
        for registry in ArmDirectory(self.settings).list_registries():
            if wanted in (registry.name.lower(), registry.login_server.lower()):
                return registry.name, registry.login_server, registry.id
        return None

    def list_registry_names(self) -> list[str]:
        return [registry.name for registry in ArmDirectory(self.settings).list_registries()]
