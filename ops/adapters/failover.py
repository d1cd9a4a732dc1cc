"""The failover capability's doors to Azure: App Configuration, Front Door, Traffic Manager,
ACR replications, Resource Health, and the synthetic checks of a region.

Each SDK client is built once per process (``ops.adapters.clients``). Writes change one
property and nothing else: an origin's ``enabledState`` (``afd_origins.begin_update``, an
LRO), an endpoint's ``priority`` (``endpoints.update``), a replication's
``regionEndpointEnabled`` (``replications.begin_update``, an LRO), and the pointer key
(``set_configuration_setting`` with ``If-Match`` on the ETag it was read at). A
replication write is tried once per call: while the registry's home region is down ARM
may refuse it, and the service decides how often to come back, never forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ops.adapters.clients import cached_client, management_client, parse_resource_id
from ops.adapters.errors import translated_errors
from ops.adapters.identity import build_credential
from ops.config import Settings
from ops.errors import OpsError
from ops.failover.machine import Endpoint, Origin, PointerValue, Replica
from ops.failover.policy import Stamp
from ops.plan import Action

_ACR_AUDIENCE = "https://containerregistry.azure.net"
_PROBE_TIMEOUT_S = 5


class AzureFailoverPaths:
    """Reads and moves one stamp's write paths (the ``FailoverPaths`` protocol)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- clients -------------------------------------------------------------------------------

    def _appconfig(self, store: str) -> Any:
        from azure.appconfiguration import AzureAppConfigurationClient

        credential = build_credential(self.settings)
        return cached_client(
            (AzureAppConfigurationClient, store, credential),
            lambda: AzureAppConfigurationClient(store, credential),
        )

    def _cdn(self, subscription: str) -> Any:
        from azure.mgmt.cdn import CdnManagementClient

        return management_client(self.settings, CdnManagementClient, subscription=subscription)

    def _tm(self, subscription: str) -> Any:
        from azure.mgmt.trafficmanager import TrafficManagerManagementClient

        return management_client(self.settings, TrafficManagerManagementClient, subscription=subscription)

    def _acr(self, subscription: str) -> Any:
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        return management_client(self.settings, ContainerRegistryManagementClient, subscription=subscription)

    def _health(self, subscription: str) -> Any:
        from azure.mgmt.resourcehealth import ResourceHealthMgmtClient

        return management_client(self.settings, ResourceHealthMgmtClient, subscription=subscription)

    # -- pointer -------------------------------------------------------------------------------

    def read_pointer(self, stamp: Stamp) -> PointerValue:
        from azure.core.exceptions import ResourceNotFoundError

        pointer = stamp.pointer
        client = self._appconfig(pointer.store)
        try:
            with translated_errors(f"read {pointer.key} from {pointer.store}"):
                setting = client.get_configuration_setting(key=pointer.key, label=pointer.label)
        except OpsError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return PointerValue(None, None)
            raise
        return PointerValue(setting.value, setting.etag)

    def set_pointer(self, action: Action) -> None:
        from azure.appconfiguration import ConfigurationSetting
        from azure.core import MatchConditions

        p = action.params
        client = self._appconfig(str(p["store"]))
        setting = ConfigurationSetting(key=str(p["key"]), label=p.get("label"), value=str(p["value"]))
        etag = p.get("etag")
        with translated_errors(f"set {p['key']} in {p['store']}"):
            if etag:
                client.set_configuration_setting(
                    setting, match_condition=MatchConditions.IfNotModified, etag=str(etag)
                )
            else:
                client.set_configuration_setting(setting)

    # -- traffic -------------------------------------------------------------------------------

    def read_origins(self, stamp: Stamp) -> dict[str, Origin]:
        front_door = stamp.traffic.front_door
        if front_door is None:
            return {}
        group = parse_resource_id(front_door.origin_group)
        profile, group_name = group.name, group.children[0][1] if group.children else ""
        client = self._cdn(group.subscription)
        with translated_errors(f"list origins of {front_door.origin_group}"):
            listed = list(client.afd_origins.list_by_origin_group(group.resource_group, profile, group_name))
        by_name = {o.name.lower(): o for o in listed}
        out: dict[str, Origin] = {}
        for region, name in front_door.origins.items():
            origin = by_name.get(name.lower())
            if origin is not None:
                out[region] = Origin(
                    id=str(origin.id),
                    name=str(origin.name),
                    enabled=_text(origin.enabled_state) == "Enabled",
                    priority=int(origin.priority or 1),
                )
        return out

    def set_origin_state(self, action: Action) -> None:
        ref = parse_resource_id(action.target)
        client = self._cdn(ref.subscription)
        parts = action.target.rstrip("/").split("/")
        profile, group, origin = parts[-5], parts[-3], parts[-1]
        with translated_errors(f"set enabledState of {action.target}"):
            poller = client.afd_origins.begin_update(
                ref.resource_group,
                profile,
                group,
                origin,
                {"properties": {"enabledState": action.params["enabledState"]}},
            )
            poller.result()

    def read_endpoints(self, stamp: Stamp) -> dict[str, Endpoint]:
        tm = stamp.traffic.traffic_manager
        if tm is None:
            return {}
        ref = parse_resource_id(tm.profile)
        client = self._tm(ref.subscription)
        with translated_errors(f"read Traffic Manager profile {tm.profile}"):
            profile = client.profiles.get(ref.resource_group, ref.name)
        by_key = {
            (str(e.type).rsplit("/", 1)[-1].lower(), str(e.name).lower()): e for e in profile.endpoints or []
        }
        out: dict[str, Endpoint] = {}
        for region, spec in tm.endpoints.items():
            kind, name = spec.split("/", 1)
            endpoint = by_key.get((kind.lower(), name.lower()))
            if endpoint is not None:
                out[region] = Endpoint(
                    id=str(endpoint.id),
                    name=str(endpoint.name),
                    enabled=_text(endpoint.endpoint_status) == "Enabled",
                    priority=int(endpoint.priority or 1),
                    monitor=_text(endpoint.endpoint_monitor_status),
                )
        return out

    def set_endpoint_priority(self, action: Action) -> None:
        ref = parse_resource_id(action.target)
        parts = action.target.rstrip("/").split("/")
        profile, kind, name = parts[-3], parts[-2], parts[-1]
        endpoint_type = kind[0].upper() + kind[1:]
        client = self._tm(ref.subscription)
        with translated_errors(f"set priority of {action.target}"):
            client.endpoints.update(
                ref.resource_group,
                profile,
                endpoint_type,
                name,
                {"properties": {"priority": int(action.params["priority"])}},
            )

    # -- routing -------------------------------------------------------------------------------

    def read_replicas(self, stamp: Stamp) -> dict[str, Replica]:
        ref = parse_resource_id(stamp.registry.id)
        client = self._acr(ref.subscription)
        with translated_errors(f"list replications of {stamp.registry.id}"):
            listed = list(client.replications.list(ref.resource_group, ref.name))
        by_name = {r.name.lower(): r for r in listed}
        out: dict[str, Replica] = {}
        for region, name in stamp.registry.replications.items():
            rep = by_name.get(name.lower())
            if rep is not None:
                out[region] = Replica(
                    id=str(rep.id), name=str(rep.name), routed=rep.region_endpoint_enabled is not False
                )
        return out

    def set_replication_routing(self, action: Action) -> None:
        ref = parse_resource_id(action.target)
        name = action.target.rstrip("/").rsplit("/", 1)[-1]
        client = self._acr(ref.subscription)
        with translated_errors(f"set regionEndpointEnabled of {action.target}"):
            poller = client.replications.begin_update(
                ref.resource_group,
                ref.name,
                name,
                {"properties": {"regionEndpointEnabled": bool(action.params["regionEndpointEnabled"])}},
                retry_total=0,  # a refusal is reported to the service, which bounds the retries
            )
            poller.result()

    # -- health --------------------------------------------------------------------------------

    def read_availability(self, resource_id: str) -> tuple[str, datetime | None]:
        """Resource Health's ``availabilityState`` of a resource, and since when."""
        client = self._health(parse_resource_id(resource_id).subscription)
        with translated_errors(f"read Resource Health of {resource_id}"):
            status = client.availability_statuses.get_by_resource(resource_id.lstrip("/"))
        props = status.properties
        if props is None:
            return "Unknown", None
        return _text(props.availability_state), props.occured_time

    def probe_registry(self, endpoint: str, probe: str) -> str | None:
        """The regional endpoint answers ``/v2/`` and serves ``probe``; None when it does, else why not."""
        from azure.containerregistry import ContainerRegistryClient

        repository, tag = probe.rsplit(":", 1)
        client = cached_client(
            (ContainerRegistryClient, endpoint, build_credential(self.settings)),
            lambda: ContainerRegistryClient(
                f"https://{endpoint}", build_credential(self.settings), audience=_ACR_AUDIENCE
            ),
        )
        try:
            with translated_errors(f"read {probe} from {endpoint}"):
                client.get_manifest(repository, tag, retry_total=0, connection_timeout=_PROBE_TIMEOUT_S)
        except OpsError as exc:
            return str(exc)
        return None

    def probe_cluster(self, cluster_id: str) -> str | None:
        """The cluster's API server answers; None when it does, else why not."""
        from ops.adapters.arm import ArmDirectory
        from ops.adapters.kube import kube_reader
        from ops.purge.inventory import ClusterRef

        ref = parse_resource_id(cluster_id)
        directory = ArmDirectory(self.settings, [ref.subscription])
        reader = cached_client(
            ("failover-kube", cluster_id, build_credential(self.settings)),
            lambda: kube_reader(self.settings, directory),
        )
        try:
            reader.check_api_server(
                ClusterRef(
                    name=ref.name,
                    resource_group=ref.resource_group,
                    subscription=ref.subscription,
                    id=cluster_id,
                )
            )
        except OpsError as exc:
            return str(exc)
        return None


def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")
