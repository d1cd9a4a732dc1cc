"""The one door of every HTTP function: bearer token in, validated :class:`Caller` out.

A trigger calls ``services.authenticator().require(req.headers, Role.OPERATE)``
first, inside ``respond_to_request``: it returns the caller, or raises
``Unauthenticated`` (401, with ``WWW-Authenticate: Bearer``) or ``NotPermitted``
(403). ``alert_webhook`` asks for ``Role.WEBHOOK`` the same way. Role names come
from the settings, so a tenant that already uses other names keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ops.auth.callers import Caller, Role
from ops.auth.tokens import INVALID, SigningKeys, TokenPolicy, validate_token
from ops.errors import NotPermitted, Unauthenticated
from ops.telemetry import annotate


class Authenticator:
    """Validates bearer tokens against one tenant and API, and checks app roles."""

    def __init__(self, *, keys: SigningKeys, policy: TokenPolicy, role_names: Mapping[Role, str]) -> None:
        self.keys = keys
        self.policy = policy
        self.role_names = dict(role_names)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these headers (any case), or Unauthenticated.

        The caller's object id then names the invocation in telemetry: its span, and every
        record it writes (``caller``), so that a caller's actions can be queried."""
        caller = validate_token(bearer_token(headers), keys=self.keys, policy=self.policy)
        annotate(caller=caller.object_id or caller.app_id)
        return caller

    def require(self, headers: Mapping[str, str], *roles: Role) -> Caller:
        """The caller, who must hold every one of ``roles``; the caller notes the roles used."""
        caller = self.authenticate(headers)
        return self.authorize(caller, *roles)

    def authorize(self, caller: Caller, *roles: Role) -> Caller:
        """``caller`` noting ``roles`` as used; NotPermitted naming the first role it lacks."""
        names = [self.role_names[role] for role in roles]
        for name in names:
            if not caller.has_role(name):
                raise NotPermitted(f"this operation needs the app role {name!r}", role=name)
        return caller.using(*names)

    def role_name(self, role: Role) -> str:
        return self.role_names[role]


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of an ``Authorization: Bearer …`` header; Unauthenticated without one."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if value is None or not value.strip():
        raise Unauthenticated(
            "This API needs an Entra ID access token: Authorization: Bearer <token>.",
            reason="no Authorization header",
            challenge="",
        )
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(INVALID, reason=f"Authorization scheme {scheme[:20]!r} is not Bearer")
    return token.strip()
