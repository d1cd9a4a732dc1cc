"""The sandbox's ACR data plane: one app per registry, on the registry's own port.

The token exchange (``/oauth2``), ACR's metadata API (``/acr/v1``) and the OCI
distribution API (``/v2``, with the referrers API), with ACR's semantics for locks,
quarantine and deletes, and the Event Grid events a push or delete raises. The real
``azure-containerregistry`` client and OCI clients run against it unmodified.
"""

from sandbox.acr.app import build_registry_app

__all__ = ["build_registry_app"]
