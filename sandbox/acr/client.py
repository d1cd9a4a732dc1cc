"""The client side of a sandbox registry: ACR's token dance for plain ``requests`` callers.

``ops sandbox push``, the conformance suite and tests talk ``/v2`` the way OCI clients
(docker, oras) do: send, meet ``401 WWW-Authenticate: Bearer realm,service,scope``,
trade the Entra token for an ACR refresh token (``/oauth2/exchange``) and that for an
access token for exactly the challenged scope (``/oauth2/token``), retry.
:class:`ChallengeAuth` does this for a ``requests.Session``; against a registry that
never challenges (the reference docker-registry), it does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests
from requests.auth import AuthBase

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> dict[str, str]:
    """``Bearer realm="...",service="...",scope="..."`` as a dict (empty if not Bearer)."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return dict(_PARAM.findall(params))


class ChallengeAuth(AuthBase):
    """Answer ACR's Bearer challenges with tokens exchanged from an Entra token."""

    def __init__(self, aad_token: str | Callable[[], str]) -> None:
        self._aad_token = aad_token
        self._refresh: dict[str, str] = {}  # service → ACR refresh token
        self._access: str | None = None  # the last access token, tried first
        self._scopes: list[str] = []  # every scope challenged so far: one token covers them all

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._access:
            request.headers["Authorization"] = f"Bearer {self._access}"
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if response.status_code != 401 or "realm" not in challenge or getattr(response, "_retried", False):
            return response
        self._access = self.access_token(response.connection, challenge, **kwargs)
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self._access}"
        again: requests.Response = response.connection.send(retry, **kwargs)
        again._retried = True  # type: ignore[attr-defined]
        again.history.append(response)
        again.request = retry
        return again

    def access_token(self, adapter: Any, challenge: dict[str, str], **kwargs: Any) -> str:
        """An access token for the challenge's scope, exchanging (and caching) a refresh token."""
        realm, service = challenge["realm"], challenge.get("service", "")
        base = realm.rsplit("/oauth2/", 1)[0]
        verify = kwargs.get("verify", True)
        refresh = self._refresh.get(service)
        if refresh is None:
            aad = self._aad_token() if callable(self._aad_token) else self._aad_token
            exchanged = requests.post(
                f"{base}/oauth2/exchange",
                data={"grant_type": "access_token", "service": service, "access_token": aad},
                verify=verify,
                timeout=30,
            )
            raise_for_status(exchanged)
            refresh = self._refresh[service] = exchanged.json()["refresh_token"]
        scope = challenge.get("scope")
        if scope and scope not in self._scopes:
            self._scopes.append(scope)
        form = {"grant_type": "refresh_token", "service": service, "refresh_token": refresh}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        token = requests.post(realm, data=form, verify=verify, timeout=30)
        raise_for_status(token)
        value: str = token.json()["access_token"]
        return value


def registry_session(
    aad_token: str | Callable[[], str] | None, *, verify: bool | str = True
) -> requests.Session:
    """A session that authenticates to a sandbox registry like an OCI client (None: anonymous)."""
    session = requests.Session()
    session.verify = verify
    if aad_token is not None:
        session.auth = ChallengeAuth(aad_token)
    return session


def raise_for_status(response: requests.Response) -> None:
    """Like ``raise_for_status`` but with the registry's error body in the message."""
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}"
        )
