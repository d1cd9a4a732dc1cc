"""Fuzzing ``purge_repository``, and every other queue function, with queue messages (at
least 300 cases each).

Cases: any JSON value, raw bodies (bytes that are not UTF-8, text, 200,000-deep brackets,
NaN), and mutations of a real batch message that ``purge_schedule`` sent for the sandbox
(hostile registry names, ids, login servers, batch numbers, repository names such as
``../../v2/_catalog``, 40 KB names, lone surrogates, deep nesting). For every case:
nothing raises, and a rejected message sends no request to any registry and deletes or
changes nothing. Every other queue function (``runbook_worker`` today) gets any JSON and
raw bodies, with the same properties.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import function_app
from ops.triggers.invoking import list_functions
from tests.fuzz.conftest import FUZZ, FuzzApp, assert_judged
from tests.fuzz.strategies import HOSTILE_TEXT, json_values, mutations, raw_bodies


@pytest.fixture(scope="module")
def message(fuzz_app: FuzzApp) -> dict[str, Any]:
    """A batch message exactly as purge_schedule sent it (the run is recorded): this run's, or
    the one a timer case scheduled earlier (a new one is skipped while it may still delete)."""
    from ops.purge.localqueue import StoreQueue
    from ops.services import get_services

    services = get_services()
    assert services.purge_service(queue=True).schedule().status in ("scheduled", "skipped")
    queue = services.purge_queue()
    assert isinstance(queue, StoreQueue)
    (first, *_) = queue.receive()
    return dict(json.loads(first.body))


def as_body(value: Any) -> Any:
    """Queue bodies are text; one too deep for ``json.dumps`` is delivered as the object."""
    try:
        return json.dumps(value)
    except (RecursionError, ValueError):
        return value


SPECIALS = st.sampled_from(
    [*HOSTILE_TEXT, ["../../v2/_catalog"], ["x" * 40_000], ["\ud800"], ["a"] * 600, -1, 10**9, "contosoprod2"]
)


def same_message(changed: Any, original: dict[str, Any]) -> bool:
    """Whether ``changed`` still says exactly what was sent (a dropped default, say)."""
    from ops.errors import InvalidInput
    from ops.purge.messages import parse_batch_message

    try:
        return parse_batch_message(as_body(changed)) == parse_batch_message(json.dumps(original))
    except InvalidInput:
        return False


@FUZZ
@given(payload=json_values)
def test_any_json_value(fuzz_app: FuzzApp, payload: Any) -> None:
    assert_judged(fuzz_app.deliver("purge_repository", as_body(payload)), payload)


@FUZZ
@given(body=raw_bodies)
def test_raw_bodies(fuzz_app: FuzzApp, body: Any) -> None:
    assert_judged(fuzz_app.deliver("purge_repository", body), body)


@FUZZ
@given(data=st.data())
def test_mutated_batch_messages(fuzz_app: FuzzApp, message: dict[str, Any], data: st.DataObject) -> None:
    changed = data.draw(mutations(message, SPECIALS))
    outcome = fuzz_app.deliver("purge_repository", as_body(changed))
    if not same_message(changed, message):
        assert outcome.rejected, changed  # only what the run enqueued is honoured
    assert_judged(outcome, changed)


#: Every other queue function of the app, found from its registrations (a new one is fuzzed too).
OTHER_QUEUES = sorted(
    name
    for name, fn in list_functions(function_app.app).items()
    if fn.get_trigger().type == "queueTrigger" and name != "purge_repository"
)


@pytest.mark.parametrize("function", OTHER_QUEUES)
@FUZZ
@given(body=json_values.map(as_body) | raw_bodies)
def test_other_queue_functions(fuzz_app: FuzzApp, function: str, body: Any) -> None:
    assert_judged(fuzz_app.deliver(function, body), body)
