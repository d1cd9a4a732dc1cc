"""``ops audit`` and ``ops audit show`` through typer's CliRunner, over the app's own SQLite
state (the audit trail is the app's record, not Azure state).

Cases:
- JSON keeps every field: the key and the whole detail (a purge run summary's counts);
- filters: capability, kind, status, part of a target by name in any case (finding an
  ARM id), a time window (since inclusive, until exclusive), limit;
- an unknown capability is a usage error (2) with a suggestion; until before since too;
- the table names ARM resources by name (a cluster, ``cluster/pool``), not the id, and
  shows the start of each key;
- ``show`` finds a record by whole key or by the start the table shows, prints the
  detail, and names an ambiguous or unknown key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from ops.commands.audit import display_target
from ops.services import get_services, reset_services
from ops.state.store import AuditRecord

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
CLUSTER = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-aks/providers/"
    "Microsoft.ContainerService/managedClusters/aks-dev"
)
SUMMARY = {"manifests_deleted": 12, "tags_deleted": 15, "bytes_reclaimed": 3_221_225_472, "protected": 4}
RECORDS = [
    AuditRecord("purge-run:r-1", "purge", "run_summary", "r-1", "12 manifest(s) ...", "dry_run", T0, SUMMARY),
    AuditRecord("a1b2c3d4e5f6a7b8c9d0", "schedule", "stop_cluster", CLUSTER, "off hours", "applied",
                T0 + timedelta(minutes=5), {"params": {"window": "2026-11-26T19:00"}}),
    AuditRecord("a1b2c3ffffff00000000", "schedule", "scale_pool", f"{CLUSTER}/agentPools/user", "off hours",
                "failed", T0 + timedelta(minutes=10), {"note": "AllocationFailed"}),
    AuditRecord("0f0f0f0f0f0f0f0f0f0f", "gate", "lock", "contosoprod.azurecr.io/web@sha256:ab", "pending",
                "applied", T0 + timedelta(minutes=15)),
]  # fmt: skip


@pytest.fixture(autouse=True)
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
    reset_services()
    store = get_services().store()
    for record in RECORDS:
        assert store.append_audit(record)


def ops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args])
    return result.exit_code, result.output


def keys(*args: str) -> list[str]:
    code, output = ops(*args, "-o", "json")
    assert code == 0, output
    return [r["key"] for r in json.loads(output)]


def test_json_keeps_the_key_and_the_detail() -> None:
    code, output = ops("--kind", "run_summary", "-o", "json")
    (summary,) = json.loads(output)
    assert code == 0
    assert summary["key"] == "purge-run:r-1" and summary["detail"] == SUMMARY
    assert summary["detail"]["manifests_deleted"] == 12


def test_filters() -> None:
    assert keys() == ["0f0f0f0f0f0f0f0f0f0f", "a1b2c3ffffff00000000", "a1b2c3d4e5f6a7b8c9d0", "purge-run:r-1"]
    assert keys("--capability", "schedule") == ["a1b2c3ffffff00000000", "a1b2c3d4e5f6a7b8c9d0"]
    assert keys("--status", "failed") == ["a1b2c3ffffff00000000"]
    assert keys("--target", "AKS-DEV", "--kind", "stop_cluster") == ["a1b2c3d4e5f6a7b8c9d0"]
    assert keys("--target", "contosoprod") == ["0f0f0f0f0f0f0f0f0f0f"]
    window = keys("--since", "2026-11-26T18:05:00", "--until", "2026-11-26T18:15:00+00:00")
    assert window == ["a1b2c3ffffff00000000", "a1b2c3d4e5f6a7b8c9d0"]
    assert keys("--limit", "1") == ["0f0f0f0f0f0f0f0f0f0f"]


def test_usage_errors() -> None:
    code, output = ops("--capability", "schedul")
    assert code == 2 and "did you mean 'schedule'" in output
    code, output = ops("--since", "2026-11-26T19:00", "--until", "2026-11-26T18:00")
    assert code == 2 and "--until" in output


def test_the_table_names_resources_and_shows_key_starts() -> None:
    code, output = ops("--capability", "schedule")
    assert code == 0
    assert "aks-dev" in output and "a1b2c3" in output
    assert "/subscriptions/" not in output and "managedClusters" not in output
    assert "a1b2c3ffffff00000000" not in output


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        (CLUSTER, "aks-dev"),
        (f"{CLUSTER}/agentPools/user", "aks-dev/user"),
        ("contosoprod.azurecr.io/web@sha256:ab", "contosoprod.azurecr.io/web@sha256:ab"),
        ("/subscriptions/s/resourceGroups", "/subscriptions/s/resourceGroups"),  # not an id: as it is
        ("r-1", "r-1"),
    ],
)
def test_targets_are_shown_by_name(target: str, shown: str) -> None:
    assert display_target(target) == shown


def test_show_one_record() -> None:
    code, output = ops("show", "purge-run:r-1")
    assert code == 0
    assert "run_summary" in output and '"manifests_deleted": 12' in output
    code, output = ops("show", "a1b2c3d4e5f6", "-o", "json")
    assert code == 0 and json.loads(output)["target"] == CLUSTER
    code, output = ops("show", "a1b2c3")
    assert code == 2 and "more than one" in output
    code, output = ops("show", "ffff")
    assert code == 1 and "no audit record" in output
