"""Settings loading.

Cases: defaults are safe (dry-run on, kill switch off, SQLite storage); every bad
setting is reported at once by name; lists and booleans parse from app-setting
strings; the identity-based storage forms; partial identity storage and SQLite in
Azure are refused; the sample settings file and Settings
name the same set of settings.
"""

import json
from pathlib import Path

import pytest

from ops.config import HOST_SETTINGS, Settings, check_settings, load_settings
from ops.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000001"


def test_defaults_are_safe() -> None:
    settings = load_settings({})
    assert settings.core.dry_run is True
    assert settings.core.kill_switch is False
    assert settings.storage.mode == "sqlite"
    assert settings.caps.max_actions_per_run == 200


def test_every_problem_is_reported_at_once_by_name() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "OPS_DRY_RUN": "perhaps",
                "OPS_MAX_ACTIONS_PER_RUN": "0",
                "OPS_SUBSCRIPTIONS": f"{SUB},not-a-guid",
                "OPS_ARM_ENDPOINT": "http://insecure",
                "AzureWebJobsStorage__credential": "accountkey",
            }
        )
    names = [p.split(":")[0] for p in info.value.problems]
    assert sorted(names) == sorted(
        [
            "OPS_DRY_RUN",
            "OPS_MAX_ACTIONS_PER_RUN",
            "OPS_SUBSCRIPTIONS",
            "OPS_ARM_ENDPOINT",
            "AzureWebJobsStorage__credential",
        ]
    )
    assert any("not-a-guid" in p for p in info.value.problems)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("no", False)],
)
def test_booleans_parse_from_strings(raw: str, expected: bool) -> None:
    assert load_settings({"OPS_KILL_SWITCH": raw}).core.kill_switch is expected


def test_subscriptions_split_on_commas_and_spaces() -> None:
    other = "00000000-0000-0000-0000-000000000002"
    settings = load_settings({"OPS_SUBSCRIPTIONS": f" {SUB}, {other} "})
    assert settings.core.subscriptions == (SUB, other)


def test_identity_based_storage_derives_service_uris() -> None:
    settings = load_settings(
        {
            "AzureWebJobsStorage__accountName": "opsstate",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "11111111-2222-4333-8444-555555555555",
        }
    )
    assert settings.storage.mode == "identity"
    assert settings.storage.service_uri("table") == "https://opsstate.table.core.windows.net"
    assert settings.storage.client_id == "11111111-2222-4333-8444-555555555555"


def test_connection_string_and_account_name_together_is_an_error() -> None:
    problems = check_settings(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "AzureWebJobsStorage__accountName": "opsstate"}
    )
    assert problems and problems[0].startswith("AzureWebJobsStorage:")


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(ValueError):
        settings.core.dry_run = False  # type: ignore[misc]


def test_sample_settings_name_exactly_the_settings() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert set(sample) - HOST_SETTINGS == Settings.env_names()
    assert check_settings({k: v for k, v in sample.items() if k not in HOST_SETTINGS}) == []


def test_partial_identity_storage_is_not_silently_sqlite() -> None:
    problems = check_settings(
        {
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "11111111-2222-4333-8444-555555555555",
        }
    )
    assert problems and problems[0].startswith("AzureWebJobsStorage__accountName:")


def test_sqlite_is_refused_when_hosted_in_azure() -> None:
    problems = check_settings({"WEBSITE_SITE_NAME": "ops-app"})
    assert problems and "not shared between instances" in problems[0]
    assert (
        check_settings({"WEBSITE_SITE_NAME": "ops-app", "AzureWebJobsStorage__accountName": "opsstate"}) == []
    )


def test_a_pinned_schedule_clock_is_refused_in_azure() -> None:
    env = {"WEBSITE_SITE_NAME": "ops-app", "AzureWebJobsStorage__accountName": "opsstate"}
    problems = check_settings({**env, "OPS_SCHEDULE_NOW": "2026-11-26T19:00:00Z"})
    assert problems[0].startswith("OPS_SCHEDULE_NOW:")
    assert check_settings({"OPS_SCHEDULE_NOW": "2026-11-26T19:00:00Z"}) == []


def test_a_pinned_remediation_clock_is_refused_in_azure() -> None:
    env = {"WEBSITE_SITE_NAME": "ops-app", "AzureWebJobsStorage__accountName": "opsstate"}
    problems = check_settings({**env, "OPS_REMEDIATE_NOW": "2026-11-26T19:00:00Z"})
    assert problems[0].startswith("OPS_REMEDIATE_NOW:")
    assert check_settings({"OPS_REMEDIATE_NOW": "2026-11-26T19:00:00Z"}) == []
    assert check_settings({"OPS_REMEDIATE_NOW": "2026-11-26T19:00:00"})[0].startswith("OPS_REMEDIATE_NOW")
    assert check_settings({"REMEDIATE_WATCH_SCHEDULE": "*/5 * * * *"})[0].startswith(
        "REMEDIATE_WATCH_SCHEDULE"
    )
