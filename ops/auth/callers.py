"""Who called: the identity an HTTP request proved, and the app roles it holds.

A :class:`Caller` is built from a validated Entra access token and travels with
everything a request does, down to the audit record of each applied action, so
that the audit trail answers "who did this" with the token's own identifiers.
The app roles are configurable names (app settings); :class:`Role` names the four
things a role can mean here, so that code asks for ``Role.OPERATE`` and never for a
literal role string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a caller may do; each maps to an app role name in the settings."""

    READ = "read"  # see plans and runs (GET)
    OPERATE = "operate"  # apply runbooks (POST)
    APPROVE = "approve"  # overrides, and runbooks marked as needing approval
    WEBHOOK = "webhook"  # the action group's secure webhook (alert_webhook)


#: The app role names Microsoft's docs and this project use by default.
DEFAULT_ROLE_NAMES: Mapping[Role, str] = {
    Role.READ: "Ops.Read",
    Role.OPERATE: "Ops.Operate",
    Role.APPROVE: "Ops.Approve",
    Role.WEBHOOK: "ActionGroupsSecureWebhook",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """A validated caller.

    ``object_id`` is the principal's ``oid`` (a user or a service principal);
    ``app_id`` the client application (``azp`` in v2 tokens, ``appid`` in v1);
    ``kind`` is ``app`` for a token an application got for itself (client
    credentials), ``user`` for one acting for a signed-in user; ``roles`` are the app
    roles the token carries, by name; ``roles_used`` the ones an operation relied on.
    """

    object_id: str
    app_id: str
    tenant_id: str
    kind: str
    roles: frozenset[str] = frozenset()
    name: str | None = None
    token_version: str = "2.0"
    roles_used: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def has_role(self, role_name: str) -> bool:
        return role_name in self.roles

    def using(self, *role_names: str) -> Caller:
        """The same caller, noting the roles an operation relied on (for the audit record)."""
        used = tuple(dict.fromkeys((*self.roles_used, *role_names)))
        return Caller(
            object_id=self.object_id,
            app_id=self.app_id,
            tenant_id=self.tenant_id,
            kind=self.kind,
            roles=self.roles,
            name=self.name,
            token_version=self.token_version,
            roles_used=used,
            extra=self.extra,
        )

    def to_audit(self) -> dict[str, Any]:
        """What the audit record keeps: the identifiers, never the token."""
        out: dict[str, Any] = {
            "oid": self.object_id,
            "appid": self.app_id,
            "tid": self.tenant_id,
            "kind": self.kind,
            "roles": sorted(self.roles_used or self.roles),
        }
        if self.name:
            out["name"] = self.name
        return out


def local_caller(name: str, roles: frozenset[str]) -> Caller:
    """The terminal's identity for ``ops runbook``: whoever runs the CLI, with every role.

    The CLI acts with the operator's own Azure credentials, so Azure RBAC is what
    limits it; the audit record still says it came from a terminal, and whose.
    """
    return Caller(
        object_id=f"local:{name}",
        app_id="ops-cli",
        tenant_id="local",
        kind="user",
        roles=roles,
        name=name,
        token_version="local",
    )
