"""Kubernetes reads for purge: every image that pods and pod templates name, per cluster.

Pod templates are read from every kind that may run them again: deployments, their
ReplicaSets (a rollback, ``kubectl rollout undo``, brings an old ReplicaSet's template
back, so its image must still exist), statefulsets, daemonsets, replication
controllers, cronjobs and standalone Jobs (a suspended Job runs when resumed).

The API server and its CA come from the cluster user kubeconfig that ARM returns
(``listClusterUserCredential``). Its user is a ``kubelogin`` exec plugin, which a
Function cannot run; the app instead presents its own managed-identity token for
the AKS AAD server application (``6dae42f8-4368-4678-94ff-3960e28e3630``), as
Azure RBAC for Kubernetes expects, and refreshes it before it expires.

Lists are paged with ``limit``/``continue``. A continue token expires after a few
minutes (``410 Gone``); the list then restarts from the beginning, which is safe
because the in-use set only grows. Responses are parsed as plain JSON rather than
into the client's models: 100k pods as models would take minutes and gigabytes.
Workload templates count whatever their replicas: a deployment scaled to zero, a
suspended cronjob, still name images that will run again.

A token that cannot be had is translated like any Azure SDK error
(:func:`ops.adapters.errors.to_ops_error`): a timeout at the token endpoint is a
TransientError and is retried; a refusal is Forbidden.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ops.adapters.arm import ArmDirectory
from ops.adapters.errors import retry_after_seconds, to_ops_error
from ops.config import Settings
from ops.errors import ConfigError, Forbidden, NotFound, OpsError, PermanentError, TransientError
from ops.purge.images import ImageUse
from ops.purge.inventory import ClusterRef
from ops.remediate.clusters import AutoscalerSignal
from ops.telemetry import record_throttle

#: The AKS AAD server application: the audience of tokens the API server accepts.
AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
PAGE_SIZE = 500
_RESTARTS = 3
_ATTEMPTS = 4
_MAX_WAIT_S = 10.0
_TOKEN_MARGIN_S = 300


_READERS: dict[str, KubeReader] = {}
_READERS_LOCK = threading.Lock()


def kube_reader(settings: Settings, directory: ArmDirectory) -> KubeReader:
    """The process-wide KubeReader (its API clients and tokens are reused across invocations)."""
    with _READERS_LOCK:
        key = settings.endpoints.arm_endpoint
        if key not in _READERS:
            from ops.adapters.identity import build_credential

            _READERS[key] = KubeReader(directory, build_credential(settings))
        return _READERS[key]


class KubeReader:
    """Purge's ClusterReader: images of pods and workload templates in one cluster."""

    def __init__(
        self,
        directory: ArmDirectory,
        credential: Any,
        *,
        page_size: int = PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.directory = directory
        self.credential = credential
        self.page_size = page_size
        self.sleep = sleep
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._ca_dir = Path(tempfile.mkdtemp(prefix="ops-kube-ca-"))

    def list_image_uses(self, cluster: ClusterRef) -> Iterator[ImageUse]:
        from kubernetes import client as k8s

        api = self._api_client(cluster)
        core, apps, batch = k8s.CoreV1Api(api), k8s.AppsV1Api(api), k8s.BatchV1Api(api)
        # Owners before what they own: the first user seen of an image is the one a plan names.
        listings: list[tuple[str, Callable[..., Any], Callable[[Mapping[str, Any]], Iterator[str]]]] = [
            ("pod", core.list_pod_for_all_namespaces, pod_images),
            ("deployment", apps.list_deployment_for_all_namespaces, template_images),
            ("replicaset", apps.list_replica_set_for_all_namespaces, template_images),
            ("statefulset", apps.list_stateful_set_for_all_namespaces, template_images),
            ("daemonset", apps.list_daemon_set_for_all_namespaces, template_images),
            ("replicationcontroller", core.list_replication_controller_for_all_namespaces, template_images),
            ("cronjob", batch.list_cron_job_for_all_namespaces, cronjob_images),
            ("job", batch.list_job_for_all_namespaces, template_images),
        ]
        for kind, lister, images in listings:
            for item in self._list_all(cluster, kind, lister):
                meta = item.get("metadata") or {}
                user = f"{cluster.name}/{meta.get('namespace', '')}/{kind}/{meta.get('name', '')}"
                for image in images(item):
                    yield ImageUse(image=image, user=user)

    def read_autoscaler(self, cluster: ClusterRef) -> AutoscalerSignal:
        """What the cluster says about its autoscaler: pods Pending as Unschedulable,
        ``NotTriggerScaleUp`` events ("max node group size reached"), and the node groups
        the ``kube-system/cluster-autoscaler-status`` ConfigMap shows at their max size."""
        from kubernetes import client as k8s

        core = k8s.CoreV1Api(self._api_client(cluster))
        pods = self._list_all(
            cluster,
            "pod",
            lambda **kw: core.list_pod_for_all_namespaces(field_selector="status.phase=Pending", **kw),
        )
        unschedulable = sum(
            1
            for pod in pods
            if any(
                c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
                for c in (pod.get("status") or {}).get("conditions") or []
            )
        )
        events = self._list_all(
            cluster,
            "event",
            lambda **kw: core.list_event_for_all_namespaces(field_selector="reason=NotTriggerScaleUp", **kw),
        )
        at_max = sum(1 for e in events if "max node group size reached" in str(e.get("message") or ""))
        return AutoscalerSignal(
            unschedulable_pods=unschedulable,
            max_size_reached_events=at_max,
            status_max_reached=tuple(self._groups_at_max(cluster, core)),
        )

    def _groups_at_max(self, cluster: ClusterRef, core: Any) -> list[str]:
        from kubernetes.client.exceptions import ApiException

        try:
            response = core.read_namespaced_config_map(
                "cluster-autoscaler-status", "kube-system", _preload_content=False, _request_timeout=30
            )
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise _api_error(cluster, "configmap", exc) from None
        text = (json.loads(response.data).get("data") or {}).get("status") or ""
        try:
            status = yaml.safe_load(text)
        except yaml.YAMLError:
            return []  # the older free-text format: the events say enough
        groups = status.get("nodeGroups") if isinstance(status, dict) else None
        out = []
        for group in groups or []:
            health = group.get("health") or {}
            target, top = health.get("cloudProviderTarget"), health.get("maxSize")
            if isinstance(target, int) and isinstance(top, int) and target >= top:
                out.append(str(group.get("name")))
        return out

    # -- paging ---------------------------------------------------------------------------------

    def _list_all(
        self, cluster: ClusterRef, kind: str, lister: Callable[..., Any]
    ) -> Iterator[Mapping[str, Any]]:
        """Every item of a list, page by page; a 410 (expired continue token) restarts it."""
        for _ in range(_RESTARTS):
            token: str | None = None
            try:
                while True:
                    page = self._page(cluster, kind, lister, token)
                    yield from page.get("items") or ()
                    token = (page.get("metadata") or {}).get("continue") or None
                    if not token:
                        return
            except _Expired:
                continue
        raise TransientError(f"{cluster.name}: listing {kind}s kept expiring ({_RESTARTS} restarts)")

    def _page(
        self, cluster: ClusterRef, kind: str, lister: Callable[..., Any], token: str | None
    ) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        for attempt in range(1, _ATTEMPTS + 1):
            try:
                kwargs: dict[str, Any] = {
                    "limit": self.page_size,
                    "_preload_content": False,
                    "_request_timeout": 60,
                }
                if token:
                    kwargs["_continue"] = token
                response = lister(**kwargs)
                body = json.loads(response.data)
                return body if isinstance(body, dict) else {}
            except ApiException as exc:
                if exc.status == 410:
                    raise _Expired from None
                error = _api_error(cluster, kind, exc)
            except (HTTPError, OSError) as exc:
                error = TransientError(f"{cluster.name}: listing {kind}s failed: {exc}")
            except TransientError as exc:  # from the token hook, before the request went out
                error = exc
            if not isinstance(error, TransientError) or attempt == _ATTEMPTS:
                raise error
            self.sleep(min(_MAX_WAIT_S, error.retry_after if error.retry_after is not None else 2.0**attempt))
        raise AssertionError("unreachable")

    def check_api_server(self, cluster: ClusterRef, *, timeout_s: float = 5.0) -> None:
        """Ask the API server for ``/version``: the failover's synthetic check that it answers.

        Raises TransientError when it does not answer, so a caller tells "down" from "bug"."""
        from kubernetes import client as k8s

        api = self._api_client(cluster)
        try:
            k8s.VersionApi(api).get_code(_request_timeout=timeout_s)
        except Exception as exc:  # urllib3 and kubernetes raise many types; all mean "no answer"
            raise TransientError(f"cluster {cluster.name}: the API server did not answer ({exc})") from None

    # -- client -------------------------------------------------------------------------------------

    def _api_client(self, cluster: ClusterRef) -> Any:
        with self._lock:
            cached = self._clients.get(cluster.id or cluster.name)
        if cached is not None:
            return cached
        from kubernetes import client as k8s

        server, ca_path = self._server_of(cluster)
        configuration = k8s.Configuration()
        configuration.host = server
        configuration.ssl_ca_cert = str(ca_path)
        configuration.verify_ssl = True
        # The hook runs before every request (the first one too), inside _page's retries; the
        # client asks for the header only while an "authorization" key exists, so one does.
        configuration.api_key = {"authorization": ""}
        configuration.refresh_api_key_hook = self._refresh_token  # type: ignore[assignment]
        api = k8s.ApiClient(configuration)
        with self._lock:
            self._clients[cluster.id or cluster.name] = api
        return api

    def _server_of(self, cluster: ClusterRef) -> tuple[str, Path]:
        raw = self.directory.get_kubeconfig(cluster)
        try:
            config = yaml.safe_load(raw)
            entry = config["clusters"][0]["cluster"]
            server = str(entry["server"])
            ca = base64.b64decode(entry["certificate-authority-data"])
        except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"cluster {cluster.name}: the kubeconfig from ARM is not usable ({exc})"
            ) from None
        path = self._ca_dir / f"{cluster.name}.crt"
        path.write_bytes(ca)
        return server, path

    def _refresh_token(self, configuration: Any) -> None:
        """Runs before every request: a fresh managed-identity token for the AKS server app."""
        expires = getattr(configuration, "_ops_token_expires", 0.0)
        if expires - time.time() > _TOKEN_MARGIN_S:
            return
        from azure.core.exceptions import AzureError

        try:
            token = self.credential.get_token(AKS_SCOPE)
        except AzureError as exc:  # a timeout is transient; a refusal is Forbidden
            raise to_ops_error(f"get a token for the AKS API ({AKS_SCOPE})", exc) from exc
        configuration.api_key = {"authorization": token.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration._ops_token_expires = float(token.expires_on)


class _Expired(Exception):
    """The continue token expired (410 Gone): restart the list."""


def _api_error(cluster: ClusterRef, kind: str, exc: Any) -> OpsError:
    status = int(exc.status or 0)
    reason = _status_message(exc)
    message = f"{cluster.name}: listing {kind}s: {status} {reason}"
    if status == 429:  # the API server's priority and fairness: retried after Retry-After
        record_throttle(service="kubernetes")
    if status in (408, 429) or status >= 500 or status == 0:
        headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
        return TransientError(message, retry_after=retry_after_seconds(headers))
    if status in (401, 403):
        return Forbidden(message)
    if status == 404:
        return NotFound(message)
    return PermanentError(message)


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)


def pod_images(pod: Mapping[str, Any]) -> Iterator[str]:
    """A pod's images as specified, and as resolved by the runtime (status ``imageID``)."""
    yield from spec_images(pod.get("spec") or {})
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(key) or ():
            for field in ("image", "imageID"):
                value = container.get(field)
                if value:
                    yield str(value)


def spec_images(spec: Mapping[str, Any]) -> Iterator[str]:
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            image = container.get("image")
            if image:
                yield str(image)


def template_images(workload: Mapping[str, Any]) -> Iterator[str]:
    """Images of a pod template (``spec.template``): deployments, ReplicaSets, statefulsets,
    daemonsets, replication controllers and Jobs, whatever their replicas."""
    template = (workload.get("spec") or {}).get("template") or {}
    yield from spec_images(template.get("spec") or {})


def cronjob_images(cronjob: Mapping[str, Any]) -> Iterator[str]:
    job = ((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
    yield from spec_images((job.get("template") or {}).get("spec") or {})
