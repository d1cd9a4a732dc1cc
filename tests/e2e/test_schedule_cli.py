"""``ops schedule snooze`` through typer's CliRunner, against the sandbox's Resource Graph and
ARM with the real SDKs, the schedule's clock pinned with ``OPS_SCHEDULE_NOW``.

Cases:
- a snooze is a plan by default: it says what it would set, in the cluster's own time
  zone (``2026-11-26 23:00 CET (Europe/Berlin)``, no UTC, no microseconds), and no tag
  changes; ``--apply`` sets the tag with the cluster's offset and audits it;
- a duration (``3h``) and a time without an offset are both read and shown in the
  cluster's zone (New York for aks-qa);
- ``--clear`` plans, then clears;
- a protected (prod) cluster is refused, exit 3, nothing written;
- a misspelt cluster name gets a suggestion of the closest names, and fails;
- a time in the past names the field and the current time in the cluster's zone;
- ``preview`` lists each cluster's starts and stops in its own zone (Berlin, New York),
  a protected cluster as one row saying so, in JSON and as a table; ``--days 0`` is a
  usage error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from ops.services import get_services
from sandbox.server import SandboxServer
from tests.support.sandbox import SUBSCRIPTION, connect_local_app, running_sandbox

BERLIN = ZoneInfo("Europe/Berlin")
EVENING = datetime(2026, 11, 26, 19, 5, tzinfo=BERLIN)  # a Thursday


def cluster(name: str, environment: str, zone: str) -> dict[str, Any]:
    return {
        "name": name,
        "resourceGroup": "rg-aks",
        "tags": {"environment": environment, "ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": zone},
        "agentPools": [{"name": "system", "mode": "System", "count": 1}],
    }


ESTATE: dict[str, Any] = {
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "test", "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}]}
    ],
    "clusters": [
        cluster("aks-dev", "dev", "Europe/Berlin"),
        cluster("aks-devtest", "dev", "Europe/Berlin"),
        cluster("aks-qa", "qa", "America/New_York"),
        cluster("aks-prod", "prod", "Europe/Berlin"),
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("schedulecli")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_local_app(server, monkeypatch, tmp_path, {"OPS_SCHEDULE_NOW": EVENING.isoformat()})
    return server


def ops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def tags(server: SandboxServer, name: str) -> dict[str, str]:
    with server.world.lock:
        return dict(server.world.clusters[name].tags)


def test_a_snooze_is_planned_in_local_time_then_applied(sandbox: SandboxServer) -> None:
    code, output = ops("schedule", "snooze", "aks-dev", "--until", "2026-11-26T23:00")
    assert code == 0, output
    assert "aks-dev: would keep running until 2026-11-26 23:00 CET (Europe/Berlin)" in output
    assert "--apply" in output and "+00:00" not in output
    assert "ops-snooze-until" not in tags(sandbox, "aks-dev")

    code, output = ops(
        "schedule", "snooze", "aks-dev", "--until", "2026-11-26T23:00", "--apply", "-o", "json"
    )
    assert code == 0, output
    body = json.loads(output)
    assert body["status"] == "applied" and body["timezone"] == "Europe/Berlin"
    assert body["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    assert body["untilLocal"] == "2026-11-26 23:00 CET (Europe/Berlin)"
    assert tags(sandbox, "aks-dev")["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    audited = get_services().store().query_audit(capability="schedule", limit=10)
    assert [(r.kind, r.status) for r in audited] == [("snooze", "applied")]


def test_durations_and_times_are_read_and_shown_in_the_clusters_zone(sandbox: SandboxServer) -> None:
    code, body = json_of("schedule", "snooze", "aks-qa", "--until", "3h")
    assert code == 0
    assert body["ops-snooze-until"] == "2026-11-26T16:05:00-05:00"  # 19:05 Berlin + 3h, in New York
    assert body["untilLocal"] == "2026-11-26 16:05 EST (America/New_York)"
    code, body = json_of("schedule", "snooze", "aks-qa", "--until", "2026-11-26T20:00")
    assert body["ops-snooze-until"] == "2026-11-26T20:00:00-05:00"
    assert body["status"] == "planned" and "ops-snooze-until" not in tags(sandbox, "aks-qa")


def test_clear_is_planned_then_applied(sandbox: SandboxServer) -> None:
    assert ops("schedule", "snooze", "aks-devtest", "--until", "2h", "--apply")[0] == 0
    code, output = ops("schedule", "snooze", "aks-devtest", "--clear")
    assert code == 0 and "would clear its snooze" in output
    assert "ops-snooze-until" in tags(sandbox, "aks-devtest")


def test_a_protected_cluster_is_refused(sandbox: SandboxServer) -> None:
    code, output = ops("schedule", "snooze", "aks-prod", "--until", "3h", "--apply")
    assert code == 3 and "refused: protected: environment=prod" in output
    assert "ops-snooze-until" not in tags(sandbox, "aks-prod")


def test_a_misspelt_cluster_gets_suggestions(sandbox: SandboxServer) -> None:
    code, output = ops("schedule", "snooze", "aks-dve", "--until", "3h")
    assert code not in (0, 3)
    assert "no managed cluster named 'aks-dve'" in output and "did you mean 'aks-dev'" in output
    code, output = ops("schedule", "snooze", "zzz", "--until", "3h")
    assert code not in (0, 3) and "did you mean" not in output


def test_a_past_time_is_refused_with_the_local_now(sandbox: SandboxServer) -> None:
    code, output = ops("schedule", "snooze", "aks-dev", "--until", "2026-11-26T18:00")
    assert code not in (0, 3)
    assert "--until" in output and "2026-11-26 19:05 CET (Europe/Berlin)" in output


def test_preview_lists_each_clusters_transitions_in_local_time(sandbox: SandboxServer) -> None:
    code, rows = json_of("schedule", "preview", "--days", "2")  # from Thursday 19:05 in Berlin
    assert code == 0
    # an earlier test's snooze may add a "snooze ends" row: the schedule's own transitions here
    dev = [
        (r["local"], r["action"]) for r in rows if r["cluster"] == "aks-dev" and r["action"] != "snooze ends"
    ]
    assert dev == [
        ("2026-11-27 07:30 CET (Europe/Berlin)", "start"),
        ("2026-11-27 19:00 CET (Europe/Berlin)", "stop"),
    ]
    qa = [
        (r["local"], r["action"]) for r in rows if r["cluster"] == "aks-qa" and r["action"] != "snooze ends"
    ]
    assert qa == [  # it is 13:05 in New York: Thursday's stop is still to come there
        ("2026-11-26 19:00 EST (America/New_York)", "stop"),
        ("2026-11-27 07:30 EST (America/New_York)", "start"),
        ("2026-11-27 19:00 EST (America/New_York)", "stop"),
    ]
    (prod,) = [r for r in rows if r["cluster"] == "aks-prod"]
    assert prod["action"] == "none" and prod["note"].startswith("protected: environment=prod")
    code, output = ops("schedule", "preview", "--days", "1")
    assert code == 0 and "aks-dev" in output and "07:30" in output
    assert ops("schedule", "preview", "--days", "0")[0] == 2


def transitions(rows: Any, name: str) -> list[tuple[str, str]]:
    return [(r["local"], r["action"]) for r in rows if r["cluster"] == name and r["action"] != "snooze ends"]


def json_of(*args: str) -> tuple[int, dict[str, Any]]:
    code, output = ops(*args, "-o", "json")
    return code, json.loads(output)
