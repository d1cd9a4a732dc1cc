"""The CLI glue ``ops sandbox serve|state|events`` calls (sandbox.cli).

Cases:
- serve writes the env file once the sandbox answers, with every contract key;
- state, read through the env file, is an estate that loads back with the same
  resources; events is the (empty) recorded list;
- stopping removes the env file, so nothing points at dead ports.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml
from dotenv import dotenv_values

from sandbox import cli
from sandbox.estate import load_estate
from tests.support.sandbox import minimal_estate

CONTRACT = {
    "AZURE_SUBSCRIPTION_ID",
    "OPS_SUBSCRIPTIONS",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "OPS_ARM_ENDPOINT",
    "OPS_LOGS_ENDPOINT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
}


def test_serve_state_events_and_clean_stop(tmp_path: Path) -> None:
    estate = tmp_path / "estate.yaml"
    estate.write_text(yaml.safe_dump(minimal_estate()))
    env_file = tmp_path / "sandbox.env"
    stop = threading.Event()
    thread = threading.Thread(
        target=cli.serve, args=(estate, env_file), kwargs={"stop_event": stop}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not env_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    try:
        values = dotenv_values(env_file)
        state = cli.state(env_file)
        events = cli.events(env_file)
    finally:
        stop.set()
        thread.join(timeout=15)

    assert set(values) >= CONTRACT
    assert Path(values["SSL_CERT_FILE"]).exists()
    again = load_estate(state)
    assert set(again.registries) == {"contosotest"} and set(again.clusters) == {"aks-test"}
    assert events == []
    assert not thread.is_alive()
    assert not env_file.exists()
