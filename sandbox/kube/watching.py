"""Watch streams (``?watch=true``): what ``kubectl get -w`` and ``rollout status`` read.

A watch answers with a chunked stream of newline-separated JSON events
(``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK", "object": …}``), as an apiserver
does (``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go``). The World
keeps no event history, so the stream is derived by comparing the kind's store with
what the stream last sent, every ``_POLL_S``: an object whose resourceVersion (or
identity) changed is MODIFIED, a new one ADDED, a vanished one DELETED. Objects that
stop or start matching the selectors leave or enter the stream the same way.

``resourceVersion`` semantics follow the apiserver's:

- unset or ``"0"``: synthetic ADDED events for every current object, then changes;
- ``N``: only objects changed after ``N`` (as MODIFIED: the World cannot tell an
  object created after ``N`` from one modified after it), then changes;
- ``sendInitialEvents=true`` (watch-list): the current objects, then a BOOKMARK
  annotated ``k8s.io/initial-events-end``.

``allowWatchBookmarks=true`` adds a BOOKMARK carrying the current resourceVersion
every ``_BOOKMARK_S``. A stream ends after ``timeoutSeconds`` (at most 1,800, the
apiserver's ``--min-request-timeout``) or when the client goes away. With the
``meta.k8s.io`` Table media type every event's object is a one-row Table, and only
the first carries the column definitions, as the apiserver sends them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.responses import StreamingResponse

from sandbox.kube import printing
from sandbox.kube.kinds import KubeKind
from sandbox.kube.objects import ClusterView, fill_server_metadata, timestamp, with_type
from sandbox.kube.selectors import compile_filter, parse_field_selector, parse_label_selector
from sandbox.kube.status import bad_request

_POLL_S = 0.05
_BOOKMARK_S = 1.0
_MAX_TIMEOUT_S = 1800

Snapshot = dict[Any, tuple[str, int, dict[str, Any]]]  # key -> (resourceVersion, id, copy)


def _timeout(params: Mapping[str, str]) -> float:
    text = params.get("timeoutSeconds")
    if not text:
        return _MAX_TIMEOUT_S
    try:
        value = int(text)
    except ValueError as exc:
        raise bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from exc
    return float(min(max(value, 0), _MAX_TIMEOUT_S))


def _since(params: Mapping[str, str]) -> int | None:
    text = params.get("resourceVersion") or "0"
    try:
        version = int(text)
    except ValueError as exc:
        raise bad_request(f'resourceVersion: Invalid value: "{text}": must be a number') from exc
    return None if version == 0 else version


def _matcher(kind: KubeKind, params: Mapping[str, str]) -> Callable[[dict[str, Any]], bool] | None:
    label_text = params.get("labelSelector")
    resource = f"{kind.api_version if kind.group else '/' + kind.version}, Resource={kind.plural}"
    fields = parse_field_selector(
        params.get("fieldSelector"), allowed=kind.field_labels, resource=resource, label_selector=label_text
    )
    return compile_filter(parse_label_selector(label_text), fields)


class _Stream:
    """One watch: what was last sent, and how to render the next event."""

    def __init__(
        self, view: ClusterView, kind: KubeKind, namespace: str | None, params: Mapping[str, str], table: bool
    ) -> None:
        self.view, self.kind, self.namespace = view, kind, namespace
        self.predicate = _matcher(kind, params)
        self.table = table
        self.include = printing.include_policy(params) if table else "Object"
        self.headers_sent = False
        self.sent: Snapshot = {}

    def scan(self) -> tuple[Snapshot, int]:
        """The matching objects now, and the kube resourceVersion they are at."""
        world = self.view.world
        with world.lock:
            cluster = self.view.cluster()
            kube = cluster.kube
            store = self.kind.objects(kube)
            now = timestamp(world)
            current: Snapshot = {}
            keys = sorted(store, key=lambda k: k if isinstance(k, tuple) else ("", k))
            if self.namespace is not None:
                keys = [k for k in keys if isinstance(k, tuple) and k[0] == self.namespace]
            for key in keys:
                obj = store[key]
                if self.predicate is not None and not self.predicate(obj):
                    continue
                meta = fill_server_metadata(
                    obj, kube=kube, kind=self.kind, key=key, cluster=cluster.name, now=now
                )
                current[key] = (str(meta.get("resourceVersion", "")), id(obj), json.loads(json.dumps(obj)))
            return current, kube.resource_version

    def render(self, event_type: str, obj: dict[str, Any]) -> bytes:
        typed = with_type(self.kind, obj)
        if self.table:
            body: dict[str, Any] = printing.to_table(
                self.kind.plural,
                [typed],
                metadata={"resourceVersion": typed["metadata"].get("resourceVersion", "")},
                now=self.view.world.now(),
                include=self.include,
                api_version=self.kind.api_version,
                kind=self.kind.kind,
            )
            if self.headers_sent:
                body["columnDefinitions"] = None
            self.headers_sent = True
            typed = body
        return (json.dumps({"type": event_type, "object": typed}, separators=(",", ":")) + "\n").encode()

    def bookmark(self, version: int, *, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.kind.kind, "apiVersion": self.kind.api_version, "metadata": metadata}
        return (json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")) + "\n").encode()

    def changes(self, current: Snapshot, version: int) -> list[bytes]:
        events = []
        for key, (rv, ident, obj) in current.items():
            before = self.sent.get(key)
            if before is None:
                events.append(self.render("ADDED", obj))
            elif before[0] != rv or before[1] != ident:
                events.append(self.render("MODIFIED", obj))
        for key, (_, _, obj) in self.sent.items():
            if key not in current:
                gone = json.loads(json.dumps(obj))
                gone.setdefault("metadata", {})["resourceVersion"] = str(version)
                events.append(self.render("DELETED", gone))
        self.sent = current
        return events


def watch_response(
    view: ClusterView, kind: KubeKind, namespace: str | None, params: Mapping[str, str], *, table: bool
) -> StreamingResponse:
    """The stream for ``GET …?watch=true``; parameters are checked before it starts."""
    timeout = _timeout(params)
    since = _since(params)
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
    initial = params.get("sendInitialEvents") in ("true", "1")
    if initial and params.get("resourceVersionMatch") != "NotOlderThan":
        raise bad_request(
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan"
        )
    stream = _Stream(view, kind, namespace, params, table)

    async def events() -> AsyncIterator[bytes]:
        world = view.world
        current, version = stream.scan()
        if since is None or initial:
            for _, _, obj in current.values():
                yield stream.render("ADDED", obj)
            stream.sent = current
            if initial:
                yield stream.bookmark(version, initial_end=True)
        else:
            stream.sent = {k: v for k, v in current.items() if int(v[0] or 0) <= since}
            for chunk in stream.changes(current, version):
                yield chunk
        deadline = world.monotonic() + timeout
        next_bookmark = world.monotonic() + _BOOKMARK_S
        while world.monotonic() < deadline:
            await asyncio.sleep(_POLL_S)
            current, version = stream.scan()
            for chunk in stream.changes(current, version):
                yield chunk
            if bookmarks and world.monotonic() >= next_bookmark:
                next_bookmark = world.monotonic() + _BOOKMARK_S
                yield stream.bookmark(version)

    media = "application/json;as=Table;v=v1;g=meta.k8s.io" if table else "application/json"
    return StreamingResponse(events(), media_type=media)
