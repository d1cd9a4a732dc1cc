"""How the Azure Tables store maps keys, times, lease lengths, errors and settings.

Cases:
- encode_key round-trips any text, emits only characters safe in Table keys and blob
  names (none of / \\ # ? % ' or control characters), and keeps prefixes as prefixes;
- format_instant sorts as time does and parse_instant inverts it, across time zones;
- choose_blob_lease_seconds maps durations onto Azure's 15-60 s or infinite leases;
- to_ops_error: a refused connection is Unreachable (a TransientError), a credential chain
  that gave no token NoCredential (a Forbidden), other network errors, 408, 429 and 5xx
  are TransientError with retry_after from Retry-After (seconds or HTTP date) or
  retry-after-ms; 409/412 →
  Conflict; 404 → NotFound; 401/403 → Forbidden; other 4xx → PermanentError;
- open_table_store refuses incomplete identity settings and a malformed connection
  string with a ConfigError that names the settings, and TableStateStore refuses a
  prefix that cannot name a table.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from hypothesis import given
from hypothesis import strategies as st

from ops.adapters.errors import to_ops_error
from ops.adapters.storage import (
    TableStateStore,
    choose_blob_lease_seconds,
    decode_key,
    encode_key,
    format_instant,
    open_table_store,
    parse_instant,
)
from ops.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    NoCredential,
    NotFound,
    PermanentError,
    TransientError,
    Unreachable,
)

FORBIDDEN_IN_KEYS = set("/\\#?%'") | {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]}


@given(st.text())
def test_encode_key_round_trips_with_safe_characters(text: str) -> None:
    encoded = encode_key(text)
    assert decode_key(encoded) == text
    assert not FORBIDDEN_IN_KEYS & set(encoded)
    assert encoded.isascii()


@given(st.text(), st.text())
def test_encode_key_preserves_prefixes(head: str, tail: str) -> None:
    assert encode_key(head + tail) == encode_key(head) + encode_key(tail)


def test_encode_key_keeps_plain_keys_readable() -> None:
    assert encode_key("aks-prod.eus2") == "aks-prod.eus2"
    assert encode_key("repo/api:v1") == "repo_2Fapi_3Av1"
    assert encode_key("_") == "_5F"


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        ),
    ),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)),
)
def test_instants_sort_as_time_and_round_trip(moment: datetime, gap: timedelta) -> None:
    later = moment + gap
    assert parse_instant(format_instant(moment)) == moment
    assert (format_instant(moment) <= format_instant(later)) == (moment <= later)


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        (timedelta(seconds=1), 15),
        (timedelta(seconds=15), 15),
        (timedelta(seconds=30.2), 31),
        (timedelta(seconds=60), 60),
        (timedelta(seconds=61), -1),
        (timedelta(hours=2), -1),
    ],
)
def test_choose_blob_lease_seconds(duration: timedelta, seconds: int) -> None:
    assert choose_blob_lease_seconds(duration) == seconds


class FakeResponse:
    """Just enough of an azure-core response for HttpResponseError to describe it."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = headers or {}
        self.request = None

    def text(self, encoding: str | None = None) -> str:
        return ""

    def body(self) -> bytes:
        return b""


def http_error(status: int, headers: dict[str, str] | None = None, kind: Any = HttpResponseError) -> Any:
    return kind(message=f"status {status}", response=FakeResponse(status, headers))


@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        (ServiceRequestError("connection refused"), Unreachable, None),
        (ServiceResponseError("connection reset"), TransientError, None),
        (http_error(429, {"Retry-After": "7"}), TransientError, 7.0),
        (http_error(503, {"x-ms-retry-after-ms": "1500"}), TransientError, 1.5),
        (http_error(500), TransientError, None),
        (http_error(408), TransientError, None),
        (http_error(409, kind=ResourceExistsError), Conflict, None),
        (http_error(412, kind=ResourceModifiedError), Conflict, None),
        (http_error(409), Conflict, None),
        (http_error(404, kind=ResourceNotFoundError), NotFound, None),
        (http_error(403), Forbidden, None),
        (http_error(401, kind=ClientAuthenticationError), Forbidden, None),
        (ClientAuthenticationError("DefaultAzureCredential failed"), NoCredential, None),
        (http_error(400), PermanentError, None),
    ],
)
def test_to_ops_error(error: Any, expected: type[Exception], retry_after: float | None) -> None:
    translated = to_ops_error("put record t/k", error)
    assert type(translated) is expected
    assert str(translated).startswith("put record t/k: ")
    if isinstance(translated, TransientError):
        assert translated.retry_after == retry_after


def test_to_ops_error_reads_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    translated = to_ops_error("op", http_error(429, {"Retry-After": when}))
    assert isinstance(translated, TransientError)
    assert translated.retry_after is not None and 25 <= translated.retry_after <= 31


def test_open_table_store_needs_complete_identity_settings() -> None:
    with pytest.raises(ConfigError) as caught:
        open_table_store(table_endpoint="https://acct.table.core.windows.net")
    assert caught.value.problems == [
        "AzureWebJobsStorage__blobServiceUri (or __accountName) is required",
        "an identity credential is required when no connection string is set",
    ]


def test_open_table_store_derives_endpoints_from_account_name() -> None:
    with pytest.raises(ConfigError) as caught:
        open_table_store(account_name="acct", credential=None)
    assert caught.value.problems == ["an identity credential is required when no connection string is set"]


def test_open_table_store_rejects_malformed_connection_string() -> None:
    with pytest.raises(ConfigError, match="AzureWebJobsStorage"):
        open_table_store(connection_string="this is not a connection string")


@pytest.mark.parametrize("prefix", ["", "1ops", "ops-state", "ops_state", "x" * 52])
def test_table_store_rejects_prefix_that_cannot_name_tables(prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        TableStateStore(tables=None, blobs=None, prefix=prefix)  # type: ignore[arg-type]
