"""The parameters of each runbook: pydantic models, so that one definition validates
requests (GET query, POST ``params``) and generates the OpenAPI document.

Names follow the Azure resources they point at. Anything an adapter would put in a URL
(registry, repository, cluster) is held to its grammar here, before any I/O.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ops.distribution import MAX_REPOSITORY_LENGTH, REPOSITORY_PATTERN

RegistryName = Annotated[
    str,
    Field(pattern=r"^[a-zA-Z0-9]{5,50}$", description="Registry resource name (5-50 letters and digits)."),
]
RepositoryName = Annotated[
    str,
    Field(
        max_length=MAX_REPOSITORY_LENGTH,
        pattern=f"^{REPOSITORY_PATTERN}$",
        description="Repository name, as in the OCI distribution spec.",
    ),
]
_IMAGE = r"[a-zA-Z0-9][a-zA-Z0-9.-]{0,252}(?::[0-9]{1,5})?/" + REPOSITORY_PATTERN
ImageReference = Annotated[
    str,
    Field(
        max_length=600,
        pattern=f"^{_IMAGE}(?:@sha256:[0-9a-f]{{64}}|:[A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})$",
        description="REGISTRY/REPOSITORY@sha256:<digest> or REGISTRY/REPOSITORY:TAG "
        "(REGISTRY: the registry's name or login server).",
        examples=["contosoprod/payments/api@sha256:" + "0" * 64],
    ),
]
DigestReference = Annotated[
    str,
    Field(
        max_length=600,
        pattern=f"^{_IMAGE}@sha256:[0-9a-f]{{64}}$",
        description="REGISTRY/REPOSITORY@sha256:<digest>: an override names one digest, never a tag.",
    ),
]
ClusterName = Annotated[
    str,
    Field(
        max_length=400,
        pattern=r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,62}|/subscriptions/[^\s?#]+)$",
        description="Managed cluster name (unique in scope) or ARM id.",
    ),
]
Until = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=r"^[0-9+][0-9A-Za-z:.+\- ]*$",
        description="A duration from now (3h, 90m, 2d) or an ISO 8601 time (the cluster's time zone "
        "without an offset).",
    ),
]
Duration = Annotated[
    str,
    Field(pattern=r"^[1-9][0-9]{0,4}[mhd]$", description="A duration: 30m, 12h, 7d (at most 30d)."),
]


class RunbookParams(BaseModel):
    """Every runbook's parameters: exact (unknown names are refused), immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PurgeParams(RunbookParams):
    registry: RegistryName
    repository: RepositoryName | None = Field(None, description="Only this repository (default: every one).")


class ImageParams(RunbookParams):
    image: ImageReference


class OverrideParams(RunbookParams):
    image: DigestReference
    reason: Annotated[str, Field(min_length=10, max_length=1000, description="Why, for the audit record.")]
    expires: Duration = Field(description="How long the override holds: 30m to 30d.")


class ClusterParams(RunbookParams):
    cluster: ClusterName


class StartParams(ClusterParams):
    until: Until | None = Field(
        None, description="Keep it running until then (a snooze); needed while its schedule wants it off."
    )


class SnoozeParams(ClusterParams):
    until: Until | None = Field(None, description="Keep it running until then.")
    clear: bool = Field(False, description="Remove the snooze instead.")

    @model_validator(mode="after")
    def _one_of(self) -> SnoozeParams:
        if (self.until is None) == (not self.clear):
            raise ValueError("give until, or clear=true, not both")
        return self
