"""The ARM request pipeline: route table, authentication, api-version, errors, paging.

ARM paths are case-insensitive and every call must carry a valid ``api-version`` and
a bearer token for the management audience; anything the sandbox does not emulate
is answered with a loud 400, never an empty success. Handlers are declared with
:func:`arm_route` and receive an :class:`ArmCall`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.arm.lro import LroEngine, Operation
from sandbox.authz import check_action
from sandbox.faults import Faults
from sandbox.http import SandboxHTTPError, require_arm_bearer
from sandbox.world import Subscription, World

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@dataclass(slots=True)
class ArmContext:
    """What every handler may use: the world, the LRO engine, faults, TLS CA, port binding."""

    world: World
    engine: LroEngine
    faults: Faults
    ca_pem: bytes
    bind_resource: Callable[[str, str], int] | None


@dataclass(slots=True)
class ArmCall:
    request: Request
    params: dict[str, str]
    ctx: ArmContext
    api_version: str

    @property
    def world(self) -> World:
        return self.ctx.world

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    async def json(self) -> dict[str, Any]:
        raw = await self.request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise SandboxHTTPError(
                400, "InvalidRequestContent", f"The request content is not valid JSON: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise SandboxHTTPError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return body

    def subscription(self) -> Subscription:
        sub_id = self.params["subscriptionId"]
        sub = self.world.subscriptions.get(sub_id.lower())
        if sub is None:
            raise SandboxHTTPError(
                404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found."
            )
        return sub

    def resource_group(self) -> str:
        """The resource group's name as the estate spells it (ARM names are case-insensitive)."""
        sub = self.subscription()
        wanted = self.params["resourceGroupName"]
        for name in sub.resource_groups:
            if name.lower() == wanted.lower():
                return name
        raise SandboxHTTPError(404, "ResourceGroupNotFound", f"Resource group '{wanted}' could not be found.")

    def begin_operation(
        self,
        *,
        name: str,
        resource_id: str,
        finish: Callable[[], None],
        fail: Callable[[dict[str, str]], None],
    ) -> Operation:
        """Start the LRO this request asks for (an ``lro_failure`` fault matches its method and path)."""
        return self.ctx.engine.begin(
            name=name,
            resource_id=resource_id,
            method=self.request.method,
            path=self.request.url.path,
            finish=finish,
            fail=fail,
        )

    def self_url(self, **query: str) -> str:
        return (
            f"{self.base_url}{self.request.url.path}?{urlencode({'api-version': self.api_version, **query})}"
        )


class Placed(Protocol):
    """A top-level resource: named, in one subscription's resource group."""

    @property
    def name(self) -> str: ...
    @property
    def subscription(self) -> str: ...
    @property
    def resource_group(self) -> str: ...


_Resource = TypeVar("_Resource", bound=Placed)


def find_in_group(call: ArmCall, resources: Iterable[_Resource], name: str, resource_type: str) -> _Resource:
    """The resource named ``name`` in the call's resource group (names ignore case, as ARM's do); 404
    ``ResourceNotFound`` when there is none."""
    group = call.resource_group()
    sub = call.subscription()
    for resource in resources:
        if (
            resource.name.lower() == name.lower()
            and resource.subscription == sub.id
            and resource.resource_group.lower() == group.lower()
        ):
            return resource
    raise not_found(resource_type, name, group)


def list_in_subscription(call: ArmCall, resources: Iterable[_Resource], read_action: str) -> list[_Resource]:
    """The resources in the call's subscription, once the caller may ``read_action`` there."""
    sub = call.subscription()
    check_action(call.world, f"/subscriptions/{sub.id}", read_action)
    return [r for r in resources if r.subscription == sub.id]


def list_in_group(call: ArmCall, resources: Iterable[_Resource], read_action: str) -> list[_Resource]:
    """The resources in the call's resource group, once the caller may ``read_action`` there."""
    group = call.resource_group()
    sub = call.subscription()
    check_action(call.world, f"/subscriptions/{sub.id}/resourceGroups/{group}", read_action)
    return [r for r in resources if r.subscription == sub.id and r.resource_group.lower() == group.lower()]


Handler = Callable[[ArmCall], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ArmRoute:
    method: str
    regex: re.Pattern[str]
    handler: Handler
    name: str


ROUTES: list[ArmRoute] = []


def arm_route(method: str, pattern: str, name: str) -> Callable[[Handler], Handler]:
    """Declare a handler for ``METHOD /path/{param}/...`` (matched case-insensitively)."""
    regex = re.compile(
        "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "/?$", re.IGNORECASE
    )

    def register(handler: Handler) -> Handler:
        ROUTES.append(ArmRoute(method, regex, handler, name))
        return handler

    return register


def authenticate(request: Request) -> dict[str, Any]:
    """ARM accepts tokens for https://management.azure.com and the legacy management audience."""
    return require_arm_bearer(request)


def check_api_version(request: Request) -> str:
    version = request.query_params.get("api-version")
    if not version:
        raise SandboxHTTPError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.match(version):
        raise SandboxHTTPError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are dated like 'YYYY-MM-DD'.",
        )
    return version


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status, headers=headers)


def page(call: ArmCall, items: list[dict[str, Any]]) -> Response:
    """An ARM list page: ``{"value": [...], "nextLink": ...}`` with ``$skipToken`` offsets."""
    size = int(call.world.settings.get("arm_page_size", 100))
    token = call.request.query_params.get("$skipToken") or "0"
    try:
        start = int(token)
    except ValueError:
        raise SandboxHTTPError(400, "InvalidSkipToken", f"The $skipToken '{token}' is not valid.") from None
    body: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        body["nextLink"] = call.self_url(**{"$skipToken": str(start + size)})
    return ok(body)


def lro_headers(call: ArmCall, op: Operation, *, status_path: str, result_path: str | None) -> dict[str, str]:
    """Azure-AsyncOperation (+ Location) and Retry-After for a started operation."""
    query = urlencode({"api-version": call.api_version})
    headers = {
        "Azure-AsyncOperation": f"{call.base_url}{status_path}/{op.id}?{query}",
        "Retry-After": str(call.ctx.engine.retry_after(op)),
    }
    if result_path is not None:
        headers["Location"] = f"{call.base_url}{result_path}/{op.id}?{query}"
    return headers


def not_found(resource_type: str, name: str, resource_group: str) -> SandboxHTTPError:
    return SandboxHTTPError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def operation_status(call: ArmCall) -> Response:
    """The status resource of the operation named by the ``operationId`` path parameter."""
    op = call.ctx.engine.operations.get(call.params["operationId"])
    if op is None:
        raise SandboxHTTPError(
            404, "OperationNotFound", f"The operation '{call.params['operationId']}' was not found."
        )
    headers = {"Retry-After": str(call.ctx.engine.retry_after(op))} if op.status == "InProgress" else None
    return ok(op.body(), headers=headers)
