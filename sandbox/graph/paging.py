"""Resource Graph paging: ``$top``/``$skip``/``$skipToken`` and the response envelope.

A page holds at most 1,000 rows (``$top``, default 1,000). When rows remain and the query
can be paged, the response carries an opaque ``$skipToken``: the next offset plus a hash
of the query and scopes, so that a token replayed with another query is refused. A
query that limits its own rows (``limit``/``take``), or whose columns are all dynamic,
cannot be paged; then ``resultTruncated`` is ``"true"`` and no token is given, as the
Resource Graph documentation describes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sandbox.graph.errors import bad_request
from sandbox.graph.expressions import Row, Schema
from sandbox.graph.values import to_json

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class PageRequest:
    top: int | None
    skip: int | None
    skip_token: str | None
    result_format: str  # "objectArray" or "table"


def read_options(options: Any) -> PageRequest:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise bad_request("InvalidRequestContent", "options must be an object.")
    top, skip = options.get("$top"), options.get("$skip")
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_PAGE):
        raise bad_request("InvalidRequestContent", f"The value of $top must be between 1 and {MAX_PAGE}.")
    if skip is not None and (not isinstance(skip, int) or isinstance(skip, bool) or skip < 0):
        raise bad_request("InvalidRequestContent", "The value of $skip must be a non-negative integer.")
    token = options.get("$skipToken")
    if token is not None and not isinstance(token, str):
        raise bad_request("InvalidRequestContent", "$skipToken must be a string.")
    result_format = str(options.get("resultFormat") or "objectArray")
    formats = {"objectarray": "objectArray", "table": "table"}
    if result_format.lower() not in formats:
        raise bad_request("InvalidRequestContent", f"Unknown resultFormat '{result_format}'.")
    return PageRequest(top, skip, token or None, formats[result_format.lower()])


def query_hash(query: str, subscriptions: list[str] | None) -> str:
    scope = ",".join(sorted(s.lower() for s in subscriptions or []))
    return hashlib.sha256(f"{query}\n{scope}".encode()).hexdigest()[:16]


def encode_skip_token(offset: int, digest: str) -> str:
    body = json.dumps({"o": offset, "h": digest}, separators=(",", ":")).encode()
    return base64.b64encode(body).decode()


def decode_skip_token(token: str, digest: str) -> int:
    try:
        body = json.loads(base64.b64decode(token, validate=True))
        offset, token_digest = int(body["o"]), str(body["h"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request("InvalidSkipToken", "The $skipToken is not valid.") from exc
    if token_digest != digest or offset < 0:
        raise bad_request(
            "InvalidSkipToken",
            "The $skipToken was issued for a different query or scope; repeat the same query.",
        )
    return offset


def format_rows(schema: Schema, rows: list[Row], result_format: str) -> Any:
    names = schema.names()
    if result_format == "table":
        return {
            "columns": [{"name": name, "type": column_type} for name, column_type in schema.columns],
            "rows": [[to_json(row.get(name)) for name in names] for row in rows],
        }
    return [{name: to_json(row.get(name)) for name in names} for row in rows]


def pageable_columns(schema: Schema) -> bool:
    """Paging needs at least one non-dynamic column to order pages by."""
    return any(column_type != "object" for _, column_type in schema.columns)


def build_page(
    *,
    schema: Schema,
    rows: list[Row],
    request: PageRequest,
    pageable: bool,
    digest: str,
) -> dict[str, Any]:
    offset = request.skip or 0
    if request.skip_token is not None:
        offset = decode_skip_token(request.skip_token, digest)
        if request.skip is not None:
            offset = request.skip
    size = request.top or MAX_PAGE
    page = rows[offset : offset + size]
    body: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false"}
    next_offset = offset + len(page)
    if next_offset < len(rows):
        if pageable and pageable_columns(schema):
            body["$skipToken"] = encode_skip_token(next_offset, digest)
        else:
            body["resultTruncated"] = "true"
    body["data"] = format_rows(schema, page, request.result_format)
    return body
