"""The ACR data plane for purge, through azure-containerregistry's ContainerRegistryClient.

One client per login server per process, with the ACR audience
(``https://containerregistry.azure.net``). Lists use ACR's largest page (``n=1000``)
and follow ``Link`` headers. The manifest and tag lists go through the client's own
pipeline (``send_request``) because the SDK's models drop ``mediaType`` and
``configMediaType``, which tell an image from a signature or an SBOM.

Tokens. The SDK's challenge policy sends every request without a token, takes the
401, exchanges tokens and sends again: each call costs two registry requests, and
the 401 half counts against ACR's throttling like the real one. Before touching a
set of repositories, :meth:`AcrRegistry.prepare` asks ACR once for an access token
covering all of them (several scopes in one ``/oauth2/token`` exchange, as the token
protocol allows), and a request hook attaches it; the SDK's challenge flow remains
the fallback.

Writes (delete, unlock) pass ``retry_total=0``: the executor owns their retries, so
that it paces them under the registry's write limit and honours Retry-After itself.
Reads keep the SDK's retry policy, which also honours Retry-After.

Times. A ``createdTime`` or ``lastUpdateTime`` the registry leaves out, or that does not
parse, is ``None`` (unknown), never a default: an epoch default would make a manifest
look decades old, and so deletable. The planner keeps what it cannot date.

Manifest content (subject, children, artifact type, config, layers) is parsed by one
function, :func:`parse_manifest`, for purge and for the gate alike.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ops.adapters.clients import cached_client
from ops.adapters.errors import translated_errors
from ops.adapters.identity import build_credential
from ops.adapters.telemetry import throttle_counting_retry
from ops.config import Settings
from ops.gate.evidence import ImageRef, ManifestFacts, Referrer
from ops.purge.inventory import SUBJECT_MEDIA_TYPES, Manifest, RegistryRef, RepositoryState, Tag

ACR_AUDIENCE = "https://containerregistry.azure.net"
#: ACR caps every list's ``n`` at 1000 (larger values are ignored): Azure/acr#749.
PAGE_SIZE = 1000
#: Repositories per access token: each adds a scope to the token and to every request header.
SCOPES_PER_TOKEN = 20
#: Config media types of runnable images; any other config marks an artifact (a possible referrer).
IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
_ACTIONS = "pull,delete,metadata_read,metadata_write"
_REFRESH_MARGIN_S = 300


def registry_client(settings: Settings, registry: RegistryRef) -> AcrRegistry:
    """The process-wide AcrRegistry of ``registry`` (created on first use)."""
    key = (AcrRegistry, registry.login_server.lower(), registry.name, build_credential(settings))
    return cached_client(key, lambda: AcrRegistry(settings, registry))


def gate_registry(settings: Settings, image: ImageRef) -> AcrRegistry:
    """The process-wide AcrRegistry of an image's registry, resolved from its ARM id: the
    login server (where tokens go) is the one ARM reports, never one an event or a record
    carried."""
    from ops.adapters.arm import registry_directory

    return registry_client(settings, registry_directory(settings).resolve_registry(image.registry_id))


class AcrRegistry:
    """Purge's RegistryClient for one registry."""

    def __init__(self, settings: Settings, registry: RegistryRef, *, pool_size: int = 32) -> None:
        import requests
        from azure.containerregistry import ContainerRegistryClient
        from azure.core.pipeline.transport import RequestsTransport

        self.registry = registry
        session = requests.Session()
        # The executor runs up to 32 deletes at once; a pool that small would reconnect.
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        session.mount("https://", adapter)
        self.client = ContainerRegistryClient(
            f"https://{registry.login_server}",
            build_credential(settings),
            audience=ACR_AUDIENCE,
            transport=RequestsTransport(session=session, session_owner=False),
            retry_policy=throttle_counting_retry("acr"),
        )
        self.tokens = _ScopedTokens(self.client, registry.login_server)

    # -- listing ----------------------------------------------------------------------------

    def list_repositories(self) -> Iterator[str]:
        self.tokens.authorize_catalog()
        with translated_errors(f"list repositories of {self.registry.name}"):
            yield from self.client.list_repository_names(results_per_page=PAGE_SIZE)

    def prepare(self, repositories: Sequence[str]) -> None:
        """Get access tokens covering ``repositories`` now, a few requests for all of them."""
        self.tokens.authorize(repositories)

    def read_repository(self, repository: str) -> RepositoryState:
        self.tokens.authorize([repository])
        name = quote(repository, safe="")
        action = f"read repository {self.registry.name}/{repository}"
        with translated_errors(action):
            attributes = self._get_json(f"/acr/v1/{name}")
            raw_manifests = [
                m for page in self._pages(f"/acr/v1/{name}/_manifests", "manifests") for m in page
            ]
            raw_tags = [t for page in self._pages(f"/acr/v1/{name}/_tags", "tags") for t in page]
        shared = _Shared()
        manifests = [
            self._with_content(repository, _manifest_from(item, shared), item.get("configMediaType"))
            for item in raw_manifests
        ]
        tags = tuple(_tag_from(item, shared) for item in raw_tags)
        repo_attrs = attributes.get("changeableAttributes") or {}
        return RepositoryState(
            registry=self.registry.name,
            login_server=self.registry.login_server,
            repository=repository,
            manifests=tuple(manifests),
            tags=tags,
            delete_enabled=bool(repo_attrs.get("deleteEnabled", True)),
            write_enabled=bool(repo_attrs.get("writeEnabled", True)),
        )

    def read_layers(self, repository: str, digest: str) -> Sequence[tuple[str, int]]:
        with translated_errors(f"get manifest {self.registry.name}/{repository}@{digest}"):
            content = parse_manifest(self._get_manifest(repository, digest))
        config = [(content.config.digest, content.config.size)] if content.config else []
        # An OCI artifact manifest lists "blobs" where an image lists "layers".
        return [*config, *(content.layers or content.blobs)]

    # -- writes ---------------------------------------------------------------------------------

    def delete_manifest(self, repository: str, digest: str) -> None:
        with translated_errors(f"delete manifest {self.registry.name}/{repository}@{digest}"):
            self.client.delete_manifest(repository, digest, retry_total=0)

    def unlock_manifest(self, repository: str, digest: str) -> None:
        with translated_errors(f"unlock manifest {self.registry.name}/{repository}@{digest}"):
            self.client.update_manifest_properties(
                repository, digest, can_delete=True, can_write=True, retry_total=0
            )

    def unlock_tag(self, repository: str, tag: str) -> None:
        with translated_errors(f"unlock tag {self.registry.name}/{repository}:{tag}"):
            self.client.update_tag_properties(repository, tag, can_delete=True, can_write=True, retry_total=0)

    def read_manifest_flags(self, repository: str, digest: str) -> tuple[bool, bool]:
        self.tokens.authorize([repository])
        with translated_errors(f"read manifest {self.registry.name}/{repository}@{digest}"):
            found = self.client.get_manifest_properties(repository, digest, retry_total=0)
        return bool(found.can_delete), bool(found.can_write)

    def read_tag_flags(self, repository: str, tag: str) -> tuple[bool, bool]:
        self.tokens.authorize([repository])
        with translated_errors(f"read tag {self.registry.name}/{repository}:{tag}"):
            found = self.client.get_tag_properties(repository, tag, retry_total=0)
        return bool(found.can_delete), bool(found.can_write)

    # -- the gate: evidence, locks, quarantine, tags ------------------------------------------

    def read_manifest(self, repository: str, digest: str, *, labels: bool) -> ManifestFacts:
        """A manifest's facts and exact bytes; ``labels`` also reads the image config's labels."""
        self.tokens.authorize([repository])
        path = f"/v2/{quote(repository, safe='/')}"
        with translated_errors(f"get manifest {self.registry.name}/{repository}@{digest}"):
            response = self._send(f"{path}/manifests/{digest}", accept=MANIFEST_ACCEPT)
            content = bytes(response.content)
            config = parse_manifest(content).config
            found: Mapping[str, str] = {}
            if labels and config is not None and config.media_type in IMAGE_CONFIG_TYPES:
                found = _config_labels(self._read_blob(f"{path}/blobs/{config.digest}"))
        return manifest_facts(content, response.headers.get("Content-Type"), found)

    def _read_blob(self, path: str) -> bytes:
        # Streamed: the pipeline would otherwise try to decode application/octet-stream.
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", path, headers={"Accept": "*/*"})
        response = self.client._client.send_request(request, stream=True)
        response.raise_for_status()
        return bytes(response.read())

    def list_referrers(self, repository: str, digest: str) -> list[Referrer]:
        """The OCI referrers API: every manifest whose subject is ``digest``, all pages."""
        self.tokens.authorize([repository])
        url: str | None = f"/v2/{quote(repository, safe='/')}/referrers/{digest}"
        found = []
        with translated_errors(f"list referrers of {self.registry.name}/{repository}@{digest}"):
            while url:
                response = self._send(url, accept="application/vnd.oci.image.index.v1+json")
                body = response.json()
                for item in (body.get("manifests") if isinstance(body, dict) else None) or ():
                    if isinstance(item, dict) and item.get("digest"):
                        found.append(Referrer(str(item["digest"]), str(item.get("artifactType") or "")))
                url = _next_link(response.headers.get("Link"))
        return found

    def set_read_enabled(self, repository: str, digest: str, enabled: bool) -> None:
        verb = "unlock" if enabled else "lock"
        self.tokens.authorize([repository])
        with translated_errors(f"{verb} pulls of {self.registry.name}/{repository}@{digest}"):
            self.client.update_manifest_properties(repository, digest, can_read=enabled, retry_total=0)

    def set_tag_read_enabled(self, repository: str, tag: str, enabled: bool) -> None:
        verb = "unlock" if enabled else "lock"
        self.tokens.authorize([repository])
        with translated_errors(f"{verb} pulls of {self.registry.name}/{repository}:{tag}"):
            self.client.update_tag_properties(repository, tag, can_read=enabled, retry_total=0)

    def set_quarantine(self, repository: str, digest: str, state: str, details: str) -> None:
        """ACR's quarantine: PATCH ``quarantineState`` with ``quarantineDetails`` (AcrQuarantineWriter)."""
        from azure.core.rest import HttpRequest

        self.tokens.authorize([repository])
        request = HttpRequest(
            "PATCH",
            f"/acr/v1/{quote(repository, safe='')}/_manifests/{digest}",
            json={"quarantineState": state, "quarantineDetails": details},
        )
        with translated_errors(f"set quarantine {state} on {self.registry.name}/{repository}@{digest}"):
            self.client._client.send_request(request, retry_total=0).raise_for_status()

    def read_manifest_readable(self, repository: str, digest: str) -> bool:
        self.tokens.authorize([repository])
        with translated_errors(f"read manifest {self.registry.name}/{repository}@{digest}"):
            found = self.client.get_manifest_properties(repository, digest, retry_total=0)
        return bool(found.can_read)

    def read_tag_readable(self, repository: str, tag: str) -> bool:
        self.tokens.authorize([repository])
        with translated_errors(f"read tag {self.registry.name}/{repository}:{tag}"):
            found = self.client.get_tag_properties(repository, tag, retry_total=0)
        return bool(found.can_read)

    def read_quarantine(self, repository: str, digest: str) -> str | None:
        """The manifest's ``quarantineState`` (which the SDK's properties model leaves out)."""
        self.tokens.authorize([repository])
        path = f"/acr/v1/{quote(repository, safe='')}/_manifests/{digest}"
        with translated_errors(f"read quarantine of {self.registry.name}/{repository}@{digest}"):
            body = self._get_json(path)
        nested = body.get("manifest")
        manifest: dict[str, Any] = nested if isinstance(nested, dict) else body
        attributes = manifest.get("changeableAttributes") or {}
        state = attributes.get("quarantineState") or manifest.get("quarantineState")
        return None if state is None else str(state)

    def untag(self, repository: str, tag: str) -> None:
        self.tokens.authorize([repository])
        with translated_errors(f"untag {self.registry.name}/{repository}:{tag}"):
            self.client.delete_tag(repository, tag, retry_total=0)

    def resolve_tag(self, repository: str, tag: str) -> str:
        self.tokens.authorize([repository])
        with translated_errors(f"get tag {self.registry.name}/{repository}:{tag}"):
            return str(self.client.get_tag_properties(repository, tag).digest)

    def put_tag(self, repository: str, tag: str, content: str, media_type: str) -> None:
        """Point ``tag`` at the manifest with exactly these bytes (the registry recomputes its digest)."""
        from io import BytesIO

        with translated_errors(f"tag {self.registry.name}/{repository}:{tag}"):
            self.client.set_manifest(
                repository, BytesIO(content.encode()), tag=tag, media_type=media_type, retry_total=0
            )

    # -- HTTP through the client's pipeline --------------------------------------------------

    def _send(self, path: str, *, accept: str = "application/json") -> Any:
        from azure.core.rest import HttpRequest

        response = self.client._client.send_request(HttpRequest("GET", path, headers={"Accept": accept}))
        response.raise_for_status()
        return response

    def _get_json(self, path: str) -> dict[str, Any]:
        body = self._send(path).json()
        return body if isinstance(body, dict) else {}

    def _pages(self, path: str, key: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of an ACR list, following ``Link: <...>; rel="next"``."""
        url: str | None = f"{path}?n={PAGE_SIZE}"
        while url:
            response = self._send(url)
            body = response.json()
            yield list(body.get(key) or []) if isinstance(body, dict) else []
            url = _next_link(response.headers.get("Link"))

    def _get_manifest(self, repository: str, digest: str) -> bytes:
        response = self._send(f"/v2/{quote(repository, safe='/')}/manifests/{digest}", accept=MANIFEST_ACCEPT)
        return bytes(response.content)

    def _with_content(self, repository: str, manifest: Manifest, config_type: Any) -> Manifest:
        """Read the content where the list cannot say: a possible referrer's ``subject`` (an
        untagged manifest whose config, by the list's ``configMediaType``, is not an image's),
        and an index's children when the list gave no ``references``."""
        needs_subject = (
            not manifest.tags
            and manifest.media_type in SUBJECT_MEDIA_TYPES
            and config_type not in IMAGE_CONFIG_TYPES
        )
        needs_children = manifest.is_index and not manifest.children
        if not (needs_subject or needs_children):
            return manifest
        with translated_errors(f"get manifest {self.registry.name}/{repository}@{manifest.digest}"):
            content = parse_manifest(self._get_manifest(repository, manifest.digest))
        return complete_manifest(manifest, content)


class _ScopedTokens:
    """ACR access tokens for many repositories at once, attached to requests before they go.

    Wraps the SDK's challenge policy of one client: its ``on_request`` hook (a no-op
    in the SDK) now sets ``Authorization`` when a cached token covers the request's
    repository (or the catalog), so the request succeeds without a 401 round trip.
    """

    def __init__(self, client: Any, service: str) -> None:
        self.service = service
        self.exchange = client._auth_policy._exchange_client
        self._lock = threading.Lock()
        self._refresh: tuple[str, float] | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        client._auth_policy.on_request = self._attach

    def authorize_catalog(self) -> None:
        if not self._fresh("registry:catalog"):
            self._fetch(["registry:catalog"], "registry:catalog:*")

    def authorize(self, repositories: Sequence[str]) -> None:
        missing = [r for r in dict.fromkeys(repositories) if not self._fresh(r)]
        for start in range(0, len(missing), SCOPES_PER_TOKEN):
            chunk = missing[start : start + SCOPES_PER_TOKEN]
            self._fetch(chunk, " ".join(f"repository:{r}:{_ACTIONS}" for r in chunk))

    def _fresh(self, key: str) -> bool:
        with self._lock:
            entry = self._tokens.get(key)
        return entry is not None and entry[1] - time.time() > _REFRESH_MARGIN_S

    def _fetch(self, keys: Sequence[str], scope: str) -> None:
        with translated_errors(f"get an ACR access token from {self.service}"):
            token = self.exchange.exchange_refresh_token_for_access_token(
                self._refresh_token(), service=self.service, scope=scope
            )
        expires = _expiry(token)
        with self._lock:
            for key in keys:
                self._tokens[key] = (token, expires)

    def _refresh_token(self) -> str:
        with self._lock:
            cached = self._refresh
        if cached is not None and cached[1] - time.time() > _REFRESH_MARGIN_S:
            return cached[0]
        token = str(self.exchange.exchange_aad_token_for_refresh_token(self.service))
        with self._lock:
            self._refresh = (token, _expiry(token))
        return token

    def _attach(self, request: Any) -> None:
        key = _scope_key(urlsplit(request.http_request.url).path)
        if key is None:
            return
        with self._lock:
            entry = self._tokens.get(key)
        if entry is not None and entry[1] > time.time():
            request.http_request.headers["Authorization"] = f"Bearer {entry[0]}"


def _scope_key(path: str) -> str | None:
    """The repository (or ``registry:catalog``) a data-plane path is about."""
    path = unquote(path)
    if path in ("/acr/v1/_catalog", "/v2/_catalog"):
        return "registry:catalog"
    if path.startswith("/acr/v1/"):
        rest = path[len("/acr/v1/") :]
        for marker in ("/_manifests", "/_tags"):
            if marker in rest:
                return rest[: rest.index(marker)]
        return rest or None
    if path.startswith("/v2/"):
        rest = path[len("/v2/") :]
        for marker in ("/manifests/", "/tags/", "/blobs/", "/referrers/"):
            if marker in rest:
                return rest[: rest.rindex(marker)]
    return None


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    start, end = header.find("<"), header.find(">")
    if start < 0 or end <= start or 'rel="next"' not in header:
        return None
    return header[start + 1 : end]


def _expiry(token: str) -> float:
    """The ``exp`` claim of a JWT, or a minute from now when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return time.time() + 60


class _Shared:
    """One object per distinct value within a repository read.

    JSON parsing makes a new string for every occurrence: 100k manifests would carry
    100k copies of the same media type, and each tag its own copy of its manifest's
    digest and timestamp. Sharing them keeps a large estate's inventory small.
    """

    def __init__(self) -> None:
        self.values: dict[Any, Any] = {}
        self.times: dict[str, datetime] = {}

    def one(self, value: Any) -> Any:
        return self.values.setdefault(value, value)

    def time(self, value: Any) -> datetime | None:
        """The instant ACR wrote, or None when it wrote none or one that does not parse."""
        if not isinstance(value, str) or not value:
            return None
        parsed = self.times.get(value)
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return None
            parsed = self.times[value] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return parsed


def _flags(item: Mapping[str, Any]) -> tuple[bool, bool]:
    attrs = item.get("changeableAttributes") or {}
    return bool(attrs.get("deleteEnabled", True)), bool(attrs.get("writeEnabled", True))


def _intern(value: Any) -> str | None:
    return sys.intern(str(value)) if value else None


def _manifest_from(item: Mapping[str, Any], shared: _Shared) -> Manifest:
    delete_enabled, write_enabled = _flags(item)
    references = item.get("references") or ()
    return Manifest(
        digest=shared.one(str(item["digest"])),
        media_type=sys.intern(str(item.get("mediaType") or "")),
        created=shared.time(item.get("createdTime")),
        updated=shared.time(item.get("lastUpdateTime")),
        size=int(item.get("imageSize") or 0),
        tags=tuple(shared.one(str(t)) for t in item.get("tags") or ()),
        delete_enabled=delete_enabled,
        write_enabled=write_enabled,
        children=tuple(
            shared.one(str(r["digest"])) for r in references if isinstance(r, dict) and r.get("digest")
        ),
        artifact_type=_intern(artifact_type_of(item.get("artifactType"), item.get("configMediaType"))),
    )


def _tag_from(item: Mapping[str, Any], shared: _Shared) -> Tag:
    delete_enabled, write_enabled = _flags(item)
    return Tag(
        name=shared.one(str(item["name"])),
        digest=shared.one(str(item.get("digest") or "")),
        updated=shared.time(item.get("lastUpdateTime")),
        delete_enabled=delete_enabled,
        write_enabled=write_enabled,
    )


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI descriptor: what a manifest says about a blob it references."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ManifestContent:
    """What a manifest's JSON says about itself: one parse for purge and the gate."""

    media_type: str | None = None
    artifact_type: str | None = None
    subject: str | None = None
    children: tuple[str, ...] = ()  # an index's manifests
    config: Descriptor | None = None
    layers: tuple[tuple[str, int], ...] = ()  # an image's layers
    blobs: tuple[tuple[str, int], ...] = ()  # an OCI artifact manifest's blobs
    annotations: Mapping[str, str] = field(default_factory=dict)


def artifact_type_of(declared: Any, config_media_type: Any) -> str | None:
    """The OCI rule: ``artifactType``, else the config's media type, unless that is an image
    config (then it is a runnable image, not an artifact)."""
    if declared:
        return str(declared)
    if config_media_type and config_media_type not in IMAGE_CONFIG_TYPES:
        return str(config_media_type)
    return None


def parse_manifest(content: bytes | str) -> ManifestContent:
    """Parse manifest bytes; what is missing or malformed is simply absent."""
    try:
        body = json.loads(content)
    except ValueError:
        return ManifestContent()
    if not isinstance(body, dict):
        return ManifestContent()
    config = body.get("config")
    descriptor = None
    if isinstance(config, dict) and config.get("digest"):
        descriptor = Descriptor(
            str(config["digest"]), str(config.get("mediaType") or ""), int(config.get("size") or 0)
        )
    subject = body.get("subject")
    annotations = body.get("annotations")
    return ManifestContent(
        media_type=str(body["mediaType"]) if body.get("mediaType") else None,
        artifact_type=artifact_type_of(
            body.get("artifactType"), config.get("mediaType") if isinstance(config, dict) else None
        ),
        subject=str(subject["digest"]) if isinstance(subject, dict) and subject.get("digest") else None,
        children=_digests(body.get("manifests")),
        config=descriptor,
        layers=_sized(body.get("layers")),
        blobs=_sized(body.get("blobs")),
        annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
    )


def complete_manifest(listed: Manifest, content: ManifestContent) -> Manifest:
    """A listed manifest completed from its content: subject, children, artifact type."""
    return replace(
        listed,
        children=listed.children or content.children,
        subject=content.subject,
        artifact_type=content.artifact_type or listed.artifact_type,
    )


def manifest_facts(content: bytes, content_type: str | None, labels: Mapping[str, str]) -> ManifestFacts:
    """What the gate reads from a manifest: size (config and layers), annotations, artifact type,
    subject and children, with the exact bytes kept as text."""
    parsed = parse_manifest(content)
    size = (parsed.config.size if parsed.config else 0) + sum(size for _, size in parsed.layers)
    return ManifestFacts(
        media_type=parsed.media_type or (content_type or "").split(";")[0].strip(),
        size=size,
        annotations=dict(parsed.annotations),
        labels=dict(labels),
        artifact_type=parsed.artifact_type,
        subject=parsed.subject,
        children=parsed.children,
        content=content.decode("utf-8"),
    )


def _digests(items: Any) -> tuple[str, ...]:
    return tuple(str(m["digest"]) for m in items or () if isinstance(m, dict) and m.get("digest"))


def _sized(items: Any) -> tuple[tuple[str, int], ...]:
    return tuple(
        (str(m["digest"]), int(m.get("size") or 0))
        for m in items or ()
        if isinstance(m, dict) and m.get("digest")
    )


def _config_labels(blob: bytes) -> dict[str, str]:
    """``config.Labels`` of an image config (OCI and Docker spell it the same)."""
    try:
        labels = (json.loads(blob).get("config") or {}).get("Labels") or {}
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
