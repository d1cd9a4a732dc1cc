"""What every ARM adapter shares: process-wide SDK clients, ARM resource ids, SDK enum values.

An SDK client holds a connection pool and, through the credential, a token cache, so
each one is built once per process and reused by every invocation the host runs in
it. ARM clients are all built the same way (the configured ARM endpoint and audience,
the app's credential), which is written here once for the registry, AKS and Resource
Graph adapters. Resource ids are parsed here once too, so that "which subscription,
which group, which registry" is answered the same way everywhere.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from ops.adapters.identity import build_credential
from ops.adapters.telemetry import throttle_counting_retry
from ops.config import Settings
from ops.resource_ids import ResourceId, parse_resource_id

_T = TypeVar("_T")

_CLIENTS: dict[tuple[Hashable, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


__all__ = ["ResourceId", "cached_client", "enum_text", "management_client", "parse_resource_id"]


def cached_client(key: tuple[Hashable, ...], build: Callable[[], _T]) -> _T:
    """The process-wide object stored under ``key``, built by ``build`` the first time.

    Keys carry the credential the object uses, so that a new credential (another
    managed identity, or a test's fresh sandbox) never reuses a client of the old one.
    """
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = build()
        found: _T = _CLIENTS[key]
        return found


def management_client(settings: Settings, cls: Callable[..., _T], *, subscription: str | None = None) -> _T:
    """The process-wide ARM client of SDK class ``cls`` (for ``subscription``, when the
    class is per subscription) at the configured ARM endpoint and audience."""
    credential = build_credential(settings)
    endpoint = settings.endpoints.arm_endpoint
    audience = settings.endpoints.arm_audience

    def build() -> _T:
        args = (credential,) if subscription is None else (credential, subscription)
        return cls(
            *args,
            base_url=endpoint,
            credential_scopes=[audience + "/.default"],
            retry_policy=throttle_counting_retry("arm"),
        )

    key = (cls, endpoint, audience, (subscription or "").lower(), credential)
    return cached_client(key, build)


def enum_text(value: Any) -> str:
    """An SDK enum member's wire value (``SkuName.PREMIUM`` → ``Premium``), or the string itself.

    ``str()`` of a str-valued SDK enum is ``SkuName.PREMIUM``, not its value, so comparing
    ``str(field)`` to a wire value passes for strings and silently fails for enums.
    """
    return str(getattr(value, "value", value))


@contextlib.contextmanager
def separate_clients() -> Iterator[None]:
    """Build every credential and client afresh inside, and put the process's back after.

    For the demo, which talks to a second sandbox (its own identity endpoint and CA) while
    the first still runs: clients are cached per process, and the first sandbox's would be
    reused otherwise."""
    from ops.adapters import identity, kube

    saved = (dict(_CLIENTS), dict(identity._CREDENTIALS), dict(kube._READERS))
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
    identity._CREDENTIALS.clear()
    kube._READERS.clear()
    try:
        yield
    finally:
        with _CLIENTS_LOCK:
            _CLIENTS.clear()
            _CLIENTS.update(saved[0])
        identity._CREDENTIALS.clear()
        identity._CREDENTIALS.update(saved[1])
        kube._READERS.clear()
        kube._READERS.update(saved[2])
