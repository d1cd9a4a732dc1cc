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
from ops.errors import ConfigError, InvalidInput
from ops.gate.evidence import ImageRef
from ops.purge.inventory import ClusterRef, RegistryRef

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
        found = []
        for subscription in self.subscriptions:
            client = registry_management_client(self.settings, subscription)
            with translated_errors(f"list registries of subscription {subscription}"):
                for registry in client.registries.list():
                    found.append(
                        RegistryRef(
                            name=registry.name,
                            login_server=registry.login_server,
                            sku=enum_text(registry.sku.name) if registry.sku else "Basic",
                            id=registry.id,
                        )
                    )
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


def registry_directory(settings: Settings) -> ArmRegistryDirectory:
    """The process-wide ArmRegistryDirectory (its cache is worth keeping between invocations).

    Keyed by credential like every client: what it caches is what that identity was shown.
    """
    key = (ArmRegistryDirectory, settings.endpoints.arm_endpoint, build_credential(settings))
    return cached_client(key, lambda: ArmRegistryDirectory(settings))


class ArmRegistryDirectory:
    """The gate's RegistryDirectory: registries by name, and each one's quarantine policy, through ARM.

    A push handler asks for every event; the answer is cached per registry for
    ``ttl_s`` seconds, because the policy changes rarely and ARM reads are throttled.
    """

    def __init__(self, settings: Settings, *, ttl_s: float = 300.0) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def quarantine_enabled(self, image: ImageRef) -> bool:
        try:
            registry_id = parse_resource_id(image.registry_id, of_type=REGISTRIES)
        except InvalidInput:
            raise ConfigError(
                f"{image.key}: {image.registry_id!r} is not the ARM id of a container registry"
            ) from None
        key = image.registry_id.lower()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[1] < self.ttl_s:
            return cached[0]
        client = registry_management_client(self.settings, registry_id.subscription)
        with translated_errors(f"get registry {registry_id.name}"):
            registry = client.registries.get(registry_id.resource_group, registry_id.name)
        policy = registry.policies.quarantine_policy if registry.policies else None
        enabled = policy is not None and enum_text(policy.status).lower() == "enabled"
        with self._lock:
            self._cache[key] = (enabled, time.monotonic())
        return enabled

    def find_registry(self, name: str) -> tuple[str, str, str] | None:
        """(name, login server, ARM id) of the registry named ``name`` or served at that login server."""
        wanted = name.lower()
        for registry in ArmDirectory(self.settings).list_registries():
            if wanted in (registry.name.lower(), registry.login_server.lower()):
                return registry.name, registry.login_server, registry.id
        return None
