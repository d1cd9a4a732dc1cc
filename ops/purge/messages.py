"""The queue message ``purge_schedule`` sends and ``purge_repository`` receives.

One message is one batch of repositories of one registry, within one run. It is
validated on receipt: a malformed message is recorded and acknowledged, never
retried forever.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.errors import InvalidInput
from ops.purge.inventory import RegistryRef

#: The largest message body the Storage queue accepts is 64 KiB; base64 costs a third.
MAX_BODY = 48 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RegistryPart(_Message):
    name: str = Field(min_length=1)
    login_server: str = Field(alias="loginServer", min_length=1)
    sku: str = "Premium"


class BatchMessage(_Message):
    """Purge these repositories of this registry, as part of run ``run``."""

    run: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    batch: int = Field(ge=0)
    registry: RegistryPart
    repositories: list[str] = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"{self.run}/{self.batch:05d}"

    @property
    def registry_ref(self) -> RegistryRef:
        return RegistryRef(
            name=self.registry.name, login_server=self.registry.login_server, sku=self.registry.sku
        )

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def parse_batch_message(body: str | bytes | dict[str, Any]) -> BatchMessage:
    """A BatchMessage from a queue body; InvalidInput names the bad field."""
    if isinstance(body, bytes | str):
        if len(body) > MAX_BODY:
            raise InvalidInput("<root>", f"a message of at most {MAX_BODY} bytes", f"{len(body)} bytes")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise InvalidInput("<root>", "a JSON object", str(exc)) from None
    else:
        data = body
    if not isinstance(data, dict):
        raise InvalidInput("<root>", "a JSON object", type(data).__name__)
    try:
        return BatchMessage.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in error["loc"])
        got = error.get("input")
        raise InvalidInput(path, error["msg"], None if isinstance(got, dict) else got) from None
