"""How telemetry is turned on, in a fresh process each (providers are process-wide).

Cases:
- without APPLICATIONINSIGHTS_CONNECTION_STRING, ``--trace`` or OPS_TRACE, an invocation
  configures nothing and imports no OpenTelemetry module;
- OPS_TRACE=true turns the console on, as ``ops --trace`` does;
- the Application Insights authentication string names the managed identity the
  exporter authenticates with (local authentication is off on the component); without
  ``Authorization=AAD`` there is no credential.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.telemetry.conftest import environment_without_settings

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from ops.adapters.telemetry import configure_telemetry
from ops.telemetry import enabled, invocation
mode = configure_telemetry({env!r})
with invocation("schedule_tick", capability="schedule"):
    pass
print(mode, enabled(), any(m.startswith("opentelemetry") for m in sys.modules))
"""


def _probe(env: dict[str, str]) -> str:
    clean = environment_without_settings()
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(env=env)],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_without_a_connection_string_nothing_is_configured_or_imported() -> None:
    assert _probe({}) == "off False False"


def test_ops_trace_setting_turns_on_the_console() -> None:
    assert _probe({"OPS_TRACE": "true"}) == "console True True"


def test_the_authentication_string_names_the_managed_identity() -> None:
    from azure.identity import ManagedIdentityCredential

    from ops.adapters.telemetry import _credential

    credential = _credential("ClientId=5a5a5a5a-0000-4000-8000-0000000000bb;Authorization=AAD")
    assert isinstance(credential, ManagedIdentityCredential)
    assert _credential("") is None
    assert _credential("ClientId=x") is None
