"""Every function infra sends events or alerts to exists in function_app, under its route.

FUNCTION_NAMES is read from function_app's own registrations (``app.get_functions()``), the
same list the Functions host indexes. Infra names the functions it targets in variables
ending in ``FunctionName`` (Bicep) and in ``/functions/<name>`` resource IDs (hooks).

A capability's infra may land before its function does. Such names wait in
PENDING_FUNCTIONS (tests/infra/templates.py) with the capability that brings them; the
moment function_app registers one, the ratchet test fails until it is taken off the list,
and from then on it is checked like any other.

Cases:
- infra targets at least the gate's and the alert webhook's functions;
- every targeted name is one of DESIGN's stable function names;
- every targeted name is registered in function_app, or is pending;
- no pending name is registered yet (the ratchet);
- the action group calls alert_webhook's route (DESIGN: alerts), and when alert_webhook is
  registered, the route it registers;
- Event Grid resource IDs name their function only through a FunctionName variable.
"""

from __future__ import annotations

import re

import function_app
from ops.triggers.invoking import list_functions
from tests.infra.templates import (
    DESIGN_FUNCTIONS,
    INFRA,
    PENDING_FUNCTIONS,
    bicep_files,
    function_names_used_by_infra,
    parse,
    text,
)

FUNCTIONS = list_functions(function_app.app)  # cached: a second get_functions() raises
FUNCTION_NAMES = frozenset(FUNCTIONS)


def test_infra_targets_the_gate_and_the_alert_webhook() -> None:
    assert {"gate_on_image_pushed", "alert_webhook"} <= set(function_names_used_by_infra())


def test_targeted_names_are_design_names() -> None:
    unknown = {
        name: where for name, where in function_names_used_by_infra().items() if name not in DESIGN_FUNCTIONS
    }
    assert not unknown, f"not a DESIGN function name: {unknown}"


def test_targeted_functions_exist_in_function_app() -> None:
    missing = {
        name: where
        for name, where in function_names_used_by_infra().items()
        if name not in FUNCTION_NAMES and name not in PENDING_FUNCTIONS
    }
    assert not missing, f"infra targets functions function_app does not register: {missing}"


def test_pending_functions_are_not_registered_yet() -> None:
    landed = sorted(set(PENDING_FUNCTIONS) & FUNCTION_NAMES)
    assert not landed, f"{landed} now exist in function_app: remove them from PENDING_FUNCTIONS"


def test_action_group_calls_the_alert_webhook_route() -> None:
    variables = parse(INFRA / "app" / "alerts.bicep")["variables"]
    assert variables["alertFunctionName"]["value"] == "alert_webhook"
    route = variables["alertRoute"]["value"]
    assert route == DESIGN_FUNCTIONS["alert_webhook"]
    assert "serviceUri: 'https://${appHostName}/api/${alertRoute}'" in text(INFRA / "app" / "alerts.bicep")
    if "alert_webhook" in FUNCTIONS:
        assert FUNCTIONS["alert_webhook"].get_trigger().route == route


def test_function_ids_name_functions_through_variables() -> None:
    for path in bicep_files():
        for match in re.finditer(r"/functions/([^'\s]*)", text(path)):
            assert re.fullmatch(r"\$\{\w+FunctionName\}", match.group(1)), (
                f"{path}: /functions/{match.group(1)}"
            )
