"""The sandbox's Kubernetes API server: one per AKS cluster, on the cluster's port.

It serves the cluster's :class:`sandbox.world.KubeObjects` to the real ``kubernetes``
client over HTTPS, with the behaviour the product depends on: chunked lists whose
continue tokens expire (410 Gone), label and field selectors, replica patches with
optimistic concurrency (409 on a stale resourceVersion), AKS AAD token audiences,
and an API server that does not answer while the cluster is stopped.
"""

from sandbox.kube.app import build_kube_app

__all__ = ["build_kube_app"]
