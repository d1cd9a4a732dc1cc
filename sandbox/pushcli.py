"""``ops sandbox push``: push an image or artifact to a running sandbox, as an OCI client would.

The login server is discovered through ARM and tokens come from the sandbox's
managed-identity endpoint, exactly as for the app, so the push records the same
ImagePushed event that ACR would emit.
"""

from __future__ import annotations

import json
import ssl
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from sandbox.acr.pushing import push_over_https
from sandbox.http import ACR_AUDIENCE, ARM_AUDIENCE

_REGISTRY_API = "2023-07-01"


def push_to_sandbox(
    env: Mapping[str, str],
    *,
    registry: str,
    repository: str,
    tag: str | None,
    subject: str | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, str]:
    """Push and return ``{"loginServer", "repository", "tag", "digest"}``."""
    ca = env.get("SSL_CERT_FILE")
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    login_server = _login_server(env, registry, context)
    digest = push_over_https(
        f"https://{login_server}",
        repository,
        tag,
        aad_token=lambda: _token(env, ACR_AUDIENCE, context),
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
        verify=ca or True,
    )
    return {"loginServer": login_server, "repository": repository, "tag": tag or "", "digest": digest}


def _token(env: Mapping[str, str], resource: str, context: ssl.SSLContext) -> str:
    query = urllib.parse.urlencode({"resource": resource, "api-version": "2019-08-01"})
    request = urllib.request.Request(
        f"{env['IDENTITY_ENDPOINT']}?{query}", headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]}
    )
    return str(_get_json(request, context)["access_token"])


def _login_server(env: Mapping[str, str], registry: str, context: ssl.SSLContext) -> str:
    arm = env["OPS_ARM_ENDPOINT"].rstrip("/")
    url = (
        f"{arm}/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/providers/Microsoft.ContainerRegistry"
        f"/registries?api-version={_REGISTRY_API}"
    )
    headers = {"Authorization": f"Bearer {_token(env, ARM_AUDIENCE, context)}"}
    while url:
        page = _get_json(urllib.request.Request(url, headers=headers), context)
        for item in page.get("value", []):
            if item["name"].lower() == registry.lower():
                return str(item["properties"]["loginServer"])
        url = page.get("nextLink") or ""
    raise LookupError(f"no registry named {registry!r} in subscription {env['AZURE_SUBSCRIPTION_ID']}")


def _get_json(request: urllib.request.Request, context: ssl.SSLContext) -> Any:
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return json.loads(response.read())
