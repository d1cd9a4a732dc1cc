"""The queue message ``purge_schedule`` sends and ``purge_repository`` receives.

One message is one batch of repositories of one registry, within one run. It is
validated on receipt, as bounded JSON (``ops.payloads``: size, depth, surrogates)
and field by field: the run id, the registry's ARM id and login server, and every
repository name against the OCI distribution grammar (``ops.distribution``). A
malformed message is recorded and acknowledged, never retried forever.

A well-formed message is not yet a trusted one: ``ops.purge.batches`` checks it
against what the run recorded before anything is read or deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ops.distribution import MAX_REPOSITORY_LENGTH, REPOSITORY_EXPECTED, is_repository_name
from ops.errors import InvalidInput
from ops.payloads import load_json
from ops.purge.inventory import RegistryRef
from ops.resource_ids import parse_resource_id
from ops.wire import custom_error, validate_model

#: The largest message body the Storage queue accepts is 64 KiB; base64 costs a third.
MAX_BODY = 48 * 1024
#: More repositories than OPS_PURGE_BATCH_SIZE allows (at most 500) never come from purge_schedule.
MAX_REPOSITORIES = 500
REGISTRIES = "Microsoft.ContainerRegistry/registries"


def _repository(name: str) -> str:
    if not is_repository_name(name):
        raise custom_error("repository", REPOSITORY_EXPECTED)
    return name


def _registry_id(value: str) -> str:
    try:
        parse_resource_id(value, of_type=REGISTRIES)
    except InvalidInput:
        raise custom_error("registry_id", f"the ARM id of a {REGISTRIES} resource") from None
    return value


RepositoryName = Annotated[str, Field(max_length=MAX_REPOSITORY_LENGTH), AfterValidator(_repository)]
RegistryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,50}$")]
LoginServer = Annotated[
    str,
    StringConstraints(max_length=260, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$"),
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RegistryPart(_Message):
    """The registry as ARM reported it to the run that sent the message."""

    name: RegistryName
    id: Annotated[str, Field(max_length=1024), AfterValidator(_registry_id)]
    login_server: LoginServer = Field(alias="loginServer")
    sku: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{1,20}$")] = "Premium"


class BatchMessage(_Message):
    """Purge these repositories of this registry, as part of run ``run``."""

    run: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    batch: int = Field(ge=0, le=1_000_000)
    registry: RegistryPart
    repositories: list[RepositoryName] = Field(min_length=1, max_length=MAX_REPOSITORIES)

    @property
    def key(self) -> str:
        return f"{self.run}/{self.batch:05d}"

    @property
    def registry_ref(self) -> RegistryRef:
        return RegistryRef(
            name=self.registry.name,
            login_server=self.registry.login_server,
            sku=self.registry.sku,
            id=self.registry.id,
        )

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def parse_batch_message(body: str | bytes | dict[str, Any]) -> BatchMessage:
    """A BatchMessage from a queue body; InvalidInput (naming the field) is the only error."""
    data = load_json(body, limit=MAX_BODY, what="a message")
    if not isinstance(data, dict):
        raise InvalidInput("<root>", "a JSON object", type(data).__name__)
    return validate_model(BatchMessage, data)
