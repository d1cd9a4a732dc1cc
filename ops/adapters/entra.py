"""The tenant's token-signing keys: OIDC discovery and the JWKS, fetched and cached.

``ops.auth.tokens`` validates tokens against :class:`EntraKeys`, which finds the
tenant's JWKS through its OpenID Connect discovery documents (v2.0 for the key set
URI and the v2 issuer, v1 for the ``sts.windows.net`` issuer; another cloud, or the
sandbox, names its own) and fetches it with PyJWT's ``PyJWKClient``. Both are cached
per process for ``KEYS_TTL``: a thousand requests cost one key fetch.

Entra rolls its keys over without notice, so a token signed with a key id the cache
does not know triggers one refresh. Refreshes are rate-limited (a few a minute, and
once per unknown key id), so that tokens with invented key ids cannot make the app
hammer the tenant's key endpoint. Network failures are TransientError (503, try
again); a discovery document the tenant does not have is a ConfigError.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

import jwt

from ops.errors import ConfigError, TransientError

KEYS_TTL = timedelta(hours=12)
#: At most this many refreshes for unknown key ids in any minute.
REFRESHES_PER_MINUTE = 4
_TIMEOUT_S = 10.0

FetchJson = Callable[[str], dict[str, Any]]


class EntraKeys:
    """Signing keys and issuers of one tenant at one authority (implements ops.auth.SigningKeys)."""

    def __init__(
        self,
        authority_host: str,
        tenant_id: str,
        *,
        fetch_json: FetchJson | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authority = authority_host.rstrip("/")
        self.tenant_id = tenant_id
        self._fetch_json = fetch_json or fetch_json_document
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._issuers: tuple[str, ...] = ()
        self._jwks_uri = ""
        self._loaded_at: float | None = None
        self._refreshes: deque[float] = deque()
        self._tried: set[str] = set()
        self.jwks_fetches = 0  # for operators and benchmarks: how often the key set was fetched

    def signing_key(self, kid: str) -> Any | None:
        with self._lock:
            if self._loaded_at is None or self._clock() - self._loaded_at > KEYS_TTL.total_seconds():
                self._load()
            if kid in self._keys:
                return self._keys[kid]
            if kid in self._tried or not self._may_refresh():
                return None
            self._tried.add(kid)
            self._load()
            return self._keys.get(kid)

    def issuers(self) -> Collection[str]:
        with self._lock:
            if self._loaded_at is None:
                self._load()
            return self._issuers

    def _may_refresh(self) -> bool:
        now = self._clock()
        while self._refreshes and now - self._refreshes[0] > 60:
            self._refreshes.popleft()
        if len(self._refreshes) >= REFRESHES_PER_MINUTE:
            return False
        self._refreshes.append(now)
        return True

    def _load(self) -> None:
        base = f"{self.authority}/{self.tenant_id}"
        v2 = self._fetch_json(f"{base}/v2.0/.well-known/openid-configuration")
        v1 = self._fetch_json(f"{base}/.well-known/openid-configuration")
        issuers = [str(doc.get("issuer") or "") for doc in (v2, v1)]
        jwks_uri = str(v2.get("jwks_uri") or "")
        if not all(issuers) or not jwks_uri.startswith("https://"):
            raise ConfigError(
                f"OPS_AUTH_AUTHORITY_HOST: {base} serves no usable OpenID configuration (issuer, jwks_uri)"
            )
        self._issuers = tuple(issuer.replace("{tenantid}", self.tenant_id) for issuer in issuers)
        self._jwks_uri = jwks_uri
        self._keys = self._fetch_keys(jwks_uri)
        self._tried = {kid for kid in self._tried if kid not in self._keys}
        self._loaded_at = self._clock()

    def _fetch_keys(self, uri: str) -> dict[str, Any]:
        client = jwt.PyJWKClient(uri, cache_jwk_set=False, timeout=_TIMEOUT_S, ssl_context=_ssl_context())
        self.jwks_fetches += 1
        try:
            key_set = client.get_jwk_set()
        except jwt.PyJWKClientConnectionError as exc:
            raise TransientError(f"cannot fetch the signing keys from {uri}: {exc}", retry_after=5) from None
        except jwt.PyJWKClientError as exc:
            raise TransientError(f"the signing keys at {uri} are unusable: {exc}", retry_after=30) from None
        return {
            key.key_id: key.key
            for key in key_set.keys
            if key.key_id and key.key_type == "RSA" and getattr(key, "public_key_use", "sig") in (None, "sig")
        }


def fetch_json_document(url: str) -> dict[str, Any]:
    """GET a JSON document over HTTPS; TransientError for network failures and 5xx."""
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S, context=_ssl_context()) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise TransientError(f"GET {url}: HTTP {exc.code}", retry_after=5) from None
        raise ConfigError(
            f"OPS_AUTH_TENANT_ID/OPS_AUTH_AUTHORITY_HOST: GET {url} answered {exc.code}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TransientError(f"GET {url}: {exc}", retry_after=5) from None
    except ValueError as exc:
        raise TransientError(f"GET {url}: not JSON ({exc})", retry_after=5) from None
    if not isinstance(document, dict):
        raise ConfigError(f"GET {url}: expected a JSON object")
    return document


def _ssl_context() -> ssl.SSLContext:
    # The default context honours SSL_CERT_FILE, which is how the sandbox's CA is trusted.
    return ssl.create_default_context()


_KEYS: dict[tuple[str, str], EntraKeys] = {}
_KEYS_LOCK = threading.Lock()


def entra_keys(authority_host: str, tenant_id: str) -> EntraKeys:
    """The process-wide keys of one tenant: every invocation shares one cache."""
    key = (authority_host.rstrip("/").lower(), tenant_id.lower())
    with _KEYS_LOCK:
        if key not in _KEYS:
            _KEYS[key] = EntraKeys(authority_host, tenant_id)
        return _KEYS[key]


def forget_keys() -> None:
    """Drop every cached key set (tests start a fresh sandbox, with its own keys and CA)."""
    with _KEYS_LOCK:
        _KEYS.clear()
