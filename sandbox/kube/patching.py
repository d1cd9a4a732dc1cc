"""The three patch formats the apiserver accepts for built-in kinds.

- JSON merge patch (RFC 7386), ``application/merge-patch+json``;
- strategic merge patch, ``application/strategic-merge-patch+json``: a merge patch
  where lists of named objects (containers, env, ports, volumes, ...) merge by their
  ``name`` instead of being replaced; this is what the kubernetes client sends for a
  dict body;
- JSON patch (RFC 6902), ``application/json-patch+json``: what the client sends for a
  list body.

Server-side apply (``application/apply-patch+yaml``) is outside the sandbox's subset and
is refused with the apiserver's 415, never applied approximately.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.status import KubeStatusError, bad_request

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC)

# Lists whose items merge by a key under a strategic merge patch (the patchMergeKey tags
# of the Kubernetes API types the sandbox serves).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
}


def unsupported_media_type(content_type: str) -> KubeStatusError:
    return KubeStatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(PATCH_TYPES)}, application/apply-patch+yaml (got {content_type or 'none'}; "
        "server-side apply is not served by the sandbox)",
    )


def apply_patch(target: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """A patched deep copy of ``target``; the stored object is never half-changed."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return _json_patch(copy.deepcopy(target), patch)
    if media in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        return _merge(copy.deepcopy(target), patch, strategic=media == STRATEGIC)
    raise unsupported_media_type(media)


def _merge(target: dict[str, Any], patch: dict[str, Any], *, strategic: bool) -> dict[str, Any]:
    for key, value in patch.items():
        if strategic and key.startswith("$"):  # directives such as $setElementOrder carry no data
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = _merge(target[key], value, strategic=strategic)
        elif (
            strategic and isinstance(value, list) and isinstance(target.get(key), list) and key in _MERGE_KEYS
        ):
            target[key] = _merge_list(target[key], value, _MERGE_KEYS[key])
        else:
            target[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return target


def _merge_list(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    merged = list(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            return copy.deepcopy(patch)  # not a keyed list after all: replace, as a merge patch would
        at = next(
            (i for i, c in enumerate(merged) if isinstance(c, dict) and c.get(merge_key) == item[merge_key]),
            None,
        )
        if item.get("$patch") == "delete":
            if at is not None:
                merged.pop(at)
        elif at is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[at] = _merge(merged[at], item, strategic=True)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(
            f'the server rejected our request due to an error in our request: invalid path "{path}"'
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KubeStatusError(422, "Invalid", f'doc is missing path: "{path}": missing value')
    return node, parts[-1]


def _json_patch(doc: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("the server rejected our request due to an error in our request")
        kind, path = op["op"], op["path"]
        parts = _pointer(path)
        if not parts:
            raise KubeStatusError(422, "Invalid", "the sandbox does not patch the document root")
        if kind in ("move", "copy"):
            source_parent, source_key = _parent(doc, _pointer(op.get("from", "")), op.get("from", ""))
            value = _get(source_parent, source_key, op.get("from", ""))
            if kind == "move":
                _remove(source_parent, source_key, op.get("from", ""))
            _add(*_parent(doc, parts, path), copy.deepcopy(value))
        elif kind == "add":
            _add(*_parent(doc, parts, path), copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(*_parent(doc, parts, path), path)
        elif kind == "replace":
            parent, key = _parent(doc, parts, path)
            _get(parent, key, path)
            _set(parent, key, copy.deepcopy(op.get("value")))
        elif kind == "test":
            parent, key = _parent(doc, parts, path)
            if _get(parent, key, path) != op.get("value"):
                raise KubeStatusError(422, "Invalid", f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


def _get(parent: Any, key: str, path: str) -> Any:
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise KubeStatusError(422, "Invalid", f"doc is missing key: {path}: missing value")


def _set(parent: Any, key: str, value: Any) -> None:
    if isinstance(parent, list):
        parent[int(key)] = value
    else:
        parent[key] = value


def _add(parent: Any, key: str, value: Any) -> None:
    if isinstance(parent, list):
        parent.insert(len(parent) if key == "-" else int(key), value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise KubeStatusError(422, "Invalid", "add operation does not apply: doc is missing path")


def _remove(parent: Any, key: str, path: str) -> None:
    _get(parent, key, path)
    if isinstance(parent, list):
        parent.pop(int(key))
    else:
        del parent[key]
