"""Fuzzing the HTTP functions (``health``) with host-shaped requests (at least 300 cases).

Cases: any method, URL, query, headers and body (JSON of any shape, bytes, deep nesting).
For every case: nothing raises, and the answer is a JSON response whose status is not a
5xx other than 503 (health's "misconfigured"), and the sandbox is not touched.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, FuzzApp, assert_judged
from tests.fuzz.strategies import HOSTILE_TEXT, json_values, raw_bodies

HEADER = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "get"]),
        "url": st.sampled_from(
            ["http://localhost:7071/api/health", "http://h/api/health?x=1", "http://h/api/health/"]
        ),
        "headers": st.dictionaries(HEADER, st.text(max_size=40) | st.sampled_from(HOSTILE_TEXT), max_size=5),
        "params": st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
        "body": json_values | raw_bodies,
    }
)


@FUZZ
@given(request=requests)
def test_health_answers_every_request(fuzz_app: FuzzApp, request: dict[str, Any]) -> None:
    outcome = fuzz_app.deliver("health", request)
    assert_judged(outcome, request)
    if not outcome.refused_by_host:
        (response,) = outcome.results
        assert response["status"] < 500 or response["status"] == 503, response
        assert isinstance(response["body"], dict)
    assert outcome.registry_requests == [] and not outcome.changed
