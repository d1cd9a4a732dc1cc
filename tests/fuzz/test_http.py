"""Fuzzing every HTTP function (found from the app's registrations; ``health`` today) with
host-shaped requests (at least 300 cases each).

Cases: any method, route parameter, query, headers and body (JSON of any shape, bytes,
deep nesting). For every case: nothing raises, and the answer is a JSON response whose
status is not a 5xx other than 503 (health's "misconfigured", a transient failure), and
no registry is touched.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import function_app
from ops.triggers.invoking import list_functions
from tests.fuzz.conftest import FUZZ, FuzzApp, assert_judged
from tests.fuzz.strategies import HOSTILE_TEXT, json_values, raw_bodies

#: Every HTTP function of the app and its route.
ROUTES = {
    name: fn.get_trigger().route or name
    for name, fn in list_functions(function_app.app).items()
    if fn.get_trigger().type == "httpTrigger"
}
HEADER = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
SEGMENT = st.sampled_from(["x", "purge", "..", "%2e%2e", "a" * 300, "😀"]) | st.text(
    alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=12
)


def urls(route: str) -> st.SearchStrategy[str]:
    """The route with each ``{parameter}`` filled in, with a query string or not."""
    pieces = [SEGMENT if part.startswith("{") else st.just(part) for part in re.split(r"(\{[^}]*\})", route)]
    query = st.sampled_from(["", "?x=1", "?apply=true&x=%00", "?" + "a=1&" * 50])
    return st.tuples(*pieces, query).map(lambda bits: "http://localhost:7071/api/" + "".join(bits))


def requests(route: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "get"]),
            "url": urls(route),
            "headers": st.dictionaries(
                HEADER, st.text(max_size=40) | st.sampled_from(HOSTILE_TEXT), max_size=5
            ),
            "params": st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
            "body": json_values | raw_bodies,
        }
    )


@pytest.mark.parametrize("function", sorted(ROUTES))
@FUZZ
@given(data=st.data())
def test_http_functions_answer_every_request(fuzz_app: FuzzApp, function: str, data: st.DataObject) -> None:
    request = data.draw(requests(ROUTES[function]))
    outcome = fuzz_app.deliver(function, request)
    assert_judged(outcome, request)
    if not outcome.refused_by_host:
        (response,) = outcome.results
        assert response["status"] < 500 or response["status"] == 503, response
        assert isinstance(response["body"], dict | list | str | None), response
    assert outcome.registry_requests == [] and not outcome.changed
