"""The project's own error tree: what an error means for retrying.

Adapters translate SDK and HTTP exceptions into these, so that services and triggers
decide what to do from the type alone, never by matching messages::

    OpsError                      anything the product raises on purpose
    ├── ConfigError               settings or policy are wrong; fix config, do not retry
    ├── InvalidInput              an event, alert or request is malformed; record and ack
    ├── TransientError            worth retrying, after ``retry_after`` seconds if known
    │   └── Unreachable           an endpoint did not answer
    ├── Unauthenticated           an HTTP caller's token is missing or not valid (401)
    ├── NotPermitted              an authenticated caller lacks the app role (403)
    └── PermanentError            retrying is useless
        ├── NotFound              the target is gone (a delete that 404s is done)
        ├── Conflict              an ETag or lease is held by someone else
        │   └── PlanChanged       the plan differs from the one the caller reviewed
        ├── Forbidden             the identity lacks a role for this action
        │   └── NoCredential      no credential gave a token (the identity endpoint, az login)
        ├── Locked                a registry lock (readEnabled/writeEnabled false) refused it
        ├── CapExceeded           a plan is larger than its cap; nothing was applied
        └── Refused               a guard refuses the request (a protected cluster)

A trigger acknowledges only ``InvalidInput`` (after recording it): retrying cannot fix a
malformed event. Everything else raises, so that the host keeps the input (redelivery,
the poison queue, dead-lettering) until a transient fault passes or config is fixed;
the mapping is one table in ``ops.triggers.handling``.
"""

from __future__ import annotations


class OpsError(Exception):
    """Base of every error the product raises deliberately."""


class ConfigError(OpsError):
    """Settings or a policy are invalid. ``problems`` lists every one, by name."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InvalidInput(OpsError):
    """Input from outside (event, alert, request) failed validation.

    ``path`` is the dotted field path, such as ``data.target.digest``; ``expected`` says
    what would have been valid.
    """

    def __init__(self, path: str, expected: str, got: object = None) -> None:
        self.path = path or "<root>"
        self.expected = expected
        self.got = got
        shown = "" if got is None else f" (got {_short(got)})"
        super().__init__(f"{self.path}: expected {expected}{shown}")


class TransientError(OpsError):
    """A failure that should succeed later: throttling, 5xx, timeouts, resets."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Unreachable(TransientError):
    """An endpoint (ARM, a registry, storage) could not be reached: the connection was
    refused, the name did not resolve, TLS failed. The message names what could not be
    reached; the CLI adds what to check. Retrying may help once it answers."""


class Unauthenticated(OpsError):
    """An HTTP request carries no bearer token, or one that fails validation.

    The message is safe to show the caller; ``reason`` says which check failed, for
    the app's own log only (telling a caller that, say, the signature was fine but the
    audience was not helps an attacker more than an operator).
    """

    def __init__(self, message: str, *, reason: str, challenge: str = "invalid_token") -> None:
        self.reason = reason
        self.challenge = challenge  # the RFC 6750 error code; "" when no token was sent
        super().__init__(message)


class NotPermitted(OpsError):
    """A validated caller lacks the app role an operation needs."""

    def __init__(self, message: str, *, role: str) -> None:
        self.role = role
        super().__init__(message)


class PermanentError(OpsError):
    """A failure that retrying cannot fix."""


class NotFound(PermanentError):
    """The target does not exist. For a delete, this means the work is already done."""


class Conflict(PermanentError):
    """Someone else changed the record (ETag) or holds the lease."""


class PlanChanged(Conflict):
    """The plan computed now is not the plan the caller reviewed; nothing was applied.

    ``extensions`` carries the new plan and its digest, for the caller to review again.
    """

    def __init__(self, message: str, *, extensions: dict[str, object]) -> None:
        self.extensions = extensions
        super().__init__(message)


class Forbidden(PermanentError):
    """The identity is not authorized for the action (Azure's 403)."""


class NoCredential(Forbidden):
    """No credential gave an access token: the managed-identity endpoint did not answer or
    refused, and no developer login was found. The message names the endpoint and why;
    the CLI adds what to check. Like any refusal, retrying does not help until it is fixed."""


class Locked(PermanentError):
    """ACR refused the call because of a lock on the repository, manifest or tag (405
    ``REGISTRY_DISALLOWED_OPERATION``)."""


class CapExceeded(PermanentError):
    """A plan has more actions than its cap allows; nothing was applied."""


class Refused(PermanentError):
    """A guard refuses what was asked (a protected environment, a schedule that would undo it);
    nothing was applied. ``extensions`` carries the plan that shows the guard."""

    def __init__(self, message: str, *, extensions: dict[str, object] | None = None) -> None:
        self.extensions = extensions or {}
        super().__init__(message)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidInput, "invalid input"),
    (ConfigError, "invalid configuration"),
    (Unreachable, "unreachable"),
    (TransientError, "temporary failure"),
    (Unauthenticated, "unauthenticated"),
    (NotPermitted, "not permitted"),
    (NotFound, "not found"),
    (PlanChanged, "plan changed"),
    (Conflict, "conflict"),
    (NoCredential, "no credential"),
    (Forbidden, "forbidden"),
    (Locked, "locked"),
    (CapExceeded, "over the cap"),
    (Refused, "refused"),
    (OpsError, "failed"),
)


def describe_error(error: BaseException) -> str:
    """``error`` as a person reads it, for reasons in records, results and outcomes: its
    kind in words, then its message (``invalid input: data.target.digest: expected …``),
    never a class name. An exception the product does not raise on purpose is a bug, and
    there its class is the best clue: ``unexpected KeyError: 'x'``."""
    for kind, words in _WORDS:
        if isinstance(error, kind):
            return f"{words}: {error}"
    return f"unexpected {type(error).__name__}: {error}"
