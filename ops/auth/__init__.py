"""Entra ID authentication and app-role authorization for the HTTP functions.

Use it from a trigger as ``services.authenticator().require(req.headers, Role.X)``
(see :mod:`ops.auth.access`); the validator itself is pure (:mod:`ops.auth.tokens`)
and its keys come from the ``ops.adapters.entra`` adapter.
"""

from ops.auth.access import Authenticator, bearer_token
from ops.auth.callers import DEFAULT_ROLE_NAMES, Caller, Role, local_caller
from ops.auth.tokens import ALGORITHMS, LEEWAY_S, SigningKeys, TokenPolicy, validate_token

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ROLE_NAMES",
    "LEEWAY_S",
    "Authenticator",
    "Caller",
    "Role",
    "SigningKeys",
    "TokenPolicy",
    "bearer_token",
    "local_caller",
    "validate_token",
]
