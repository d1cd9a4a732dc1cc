"""The azd hooks that deploy and remove the estate layer, run against a fake ``az``.

The fake ``az`` on PATH records every call and answers from a small JSON state: whether the
estate deployment exists, which resource IDs exist, and what the deployment lists in its
removableResourceIds output.

Cases:
- estate-up deploys infra/estate/main.bicep as a subscription deployment named after the
  environment, passing every value from the environment;
- estate-up subscribes the gate only when gate_on_image_pushed exists, and says why not;
- estate-up refuses to run before azd provision has set its inputs, and calls nothing;
- estate-down is a no-op when there is no estate deployment;
- estate-down deletes diagnostic settings and event subscriptions, then system topics,
  then role assignments, then role definitions, skips IDs already gone, and removes the
  deployment record last;
- estate-down refuses, before deleting anything, when the list holds another kind of
  resource (a resource group or a registry).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.templates import HOOKS

SUB = "00000000-0000-0000-0000-000000000001"
APP = f"/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-api-x"
ACR = f"/subscriptions/{SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/acr1"
TOPIC = f"/subscriptions/{SUB}/resourceGroups/rg-acr/providers/Microsoft.EventGrid/systemTopics/evgt-acr1"
EVENT_SUB = f"{TOPIC}/eventSubscriptions/ops-gate-dev"
DIAGNOSTICS = f"{ACR}/providers/Microsoft.Insights/diagnosticSettings/acr-aks-ops-dev"
TOPIC_DIAGNOSTICS = f"{TOPIC}/providers/Microsoft.Insights/diagnosticSettings/acr-aks-ops-dev"
ACR_ASSIGNMENT = (
    f"{ACR}/providers/Microsoft.Authorization/roleAssignments/11111111-1111-1111-1111-111111111111"
)
AUTHORIZATION = f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
SUB_ASSIGNMENT = f"{AUTHORIZATION}/roleAssignments/22222222-2222-2222-2222-222222222222"
ROLE_DEFINITION = f"{AUTHORIZATION}/roleDefinitions/33333333-3333-3333-3333-333333333333"
APP_GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-dev/providers"

FAKE_AZ = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
state = json.loads(os.environ.get("FAKE_AZ_STATE", "{{}}"))

def value(flag):
    return args[args.index(flag) + 1] if flag in args else None

if args[:3] == ["deployment", "sub", "show"]:
    if not state.get("deployment"):
        sys.exit(3)
    if value("--query"):
        print("\\n".join(state.get("removable", [])))
    sys.exit(0)
if args[:2] == ["resource", "show"]:
    sys.exit(0 if value("--ids") in state.get("existing", []) else 3)
if args[:1] == ["rest"] and value("--method") == "get":
    sys.exit(0 if value("--url").split("?")[0] in state.get("existing", []) else 3)
sys.exit(0)
"""

UP_ENV = {
    "AZURE_ENV_NAME": "dev",
    "AZURE_LOCATION": "eastus2",
    "AZURE_SUBSCRIPTION_ID": SUB,
    "OPS_APP_PRINCIPAL_ID": "44444444-4444-4444-4444-444444444444",
    "OPS_FUNCTION_APP_ID": APP,
    "OPS_EVENTGRID_IDENTITY_ID": f"{APP_GROUP}/Microsoft.ManagedIdentity/userAssignedIdentities/id-eg",
    "OPS_DEADLETTER_STORAGE_ID": f"{APP_GROUP}/Microsoft.Storage/storageAccounts/stx",
    "OPS_DEADLETTER_CONTAINER": "gate-deadletter",
    "OPS_ESTATE_REGISTRIES": '[{"name": "acr1", "resourceGroup": "rg-acr"}]',
    "OPS_ESTATE_CLUSTERS": "[]",
    "OPS_ESTATE_SUBSCRIPTIONS": f'["{SUB}"]',
    "OPS_ESTATE_FAILOVER": '[{"resourceGroup": "rg-acr", "registry": "acr1", "replications": ["eastus2"]}]',
    "OPS_WORKSPACE_ID": f"{APP_GROUP}/Microsoft.OperationalInsights/workspaces/log-x",
}


def run_hook(
    tmp_path: Path, script: str, env: dict[str, str], state: dict[str, object]
) -> tuple[int, str, list[list[str]]]:
    """Run one hook with the fake az first on PATH; return its status, stderr and az calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "az"
    fake.write_text(FAKE_AZ.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "az.log"
    log.write_text("")
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_AZ_LOG": str(log),
        "FAKE_AZ_STATE": json.dumps(state),
        **env,
    }
    done = subprocess.run(
        ["sh", str(HOOKS / script)], env=full_env, capture_output=True, text=True, timeout=60, check=False
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return done.returncode, done.stderr, calls


def _parameters(call: list[str]) -> dict[str, str]:
    start = call.index("--parameters") + 1
    values = {}
    for arg in call[start:]:
        if arg.startswith("--"):
            break
        key, _, value = arg.partition("=")
        values[key] = value
    return values


def _deployment(calls: list[list[str]]) -> list[str]:
    (create,) = [c for c in calls if c[:3] == ["deployment", "sub", "create"]]
    return create


def test_estate_up_deploys_the_estate_template_with_the_environment(tmp_path: Path) -> None:
    gate = f"{APP}/functions/gate_on_image_pushed"
    status, stderr, calls = run_hook(tmp_path, "estate-up.sh", UP_ENV, {"existing": [gate]})
    assert status == 0, stderr
    create = _deployment(calls)
    assert create[create.index("--name") + 1] == "acr-aks-ops-estate-dev"
    assert create[create.index("--subscription") + 1] == SUB
    assert create[create.index("--location") + 1] == "eastus2"
    assert Path(create[create.index("--template-file") + 1]).resolve() == (
        HOOKS.parent / "estate" / "main.bicep"
    )
    assert _parameters(create) == {
        "environmentName": "dev",
        "registries": UP_ENV["OPS_ESTATE_REGISTRIES"],
        "clusters": "[]",
        "subscriptions": UP_ENV["OPS_ESTATE_SUBSCRIPTIONS"],
        "failoverTargets": UP_ENV["OPS_ESTATE_FAILOVER"],
        "appPrincipalId": UP_ENV["OPS_APP_PRINCIPAL_ID"],
        "functionAppId": APP,
        "eventGridIdentityId": UP_ENV["OPS_EVENTGRID_IDENTITY_ID"],
        "deadLetterStorageId": UP_ENV["OPS_DEADLETTER_STORAGE_ID"],
        "deadLetterContainer": "gate-deadletter",
        "subscribeGate": "true",
        "workspaceId": UP_ENV["OPS_WORKSPACE_ID"],
    }


def test_estate_up_waits_for_the_gate_function(tmp_path: Path) -> None:
    status, stderr, calls = run_hook(tmp_path, "estate-up.sh", UP_ENV, {"existing": []})
    assert status == 0, stderr
    assert _parameters(_deployment(calls))["subscribeGate"] == "false"
    assert "gate_on_image_pushed is not deployed yet" in stderr


@pytest.mark.parametrize("missing", ["OPS_APP_PRINCIPAL_ID", "OPS_FUNCTION_APP_ID", "AZURE_ENV_NAME"])
def test_estate_up_refuses_without_its_inputs(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in UP_ENV.items() if k != missing}
    status, stderr, calls = run_hook(tmp_path, "estate-up.sh", env, {})
    assert status != 0
    assert missing in stderr
    assert calls == []


DOWN_ENV = {"AZURE_ENV_NAME": "dev", "AZURE_SUBSCRIPTION_ID": SUB}


def test_estate_down_without_a_deployment_does_nothing(tmp_path: Path) -> None:
    status, stderr, calls = run_hook(tmp_path, "estate-down.sh", DOWN_ENV, {"deployment": False})
    assert status == 0, stderr
    assert all(c[:3] == ["deployment", "sub", "show"] for c in calls)


def test_estate_down_deletes_in_dependency_order(tmp_path: Path) -> None:
    # Listed out of order on purpose; SUB_ASSIGNMENT is already gone.
    removable = [
        ROLE_DEFINITION,
        ACR_ASSIGNMENT,
        TOPIC,
        DIAGNOSTICS,
        SUB_ASSIGNMENT,
        EVENT_SUB,
        TOPIC_DIAGNOSTICS,
    ]
    state = {
        "deployment": True,
        "removable": removable,
        "existing": [ROLE_DEFINITION, ACR_ASSIGNMENT, TOPIC, DIAGNOSTICS, EVENT_SUB, TOPIC_DIAGNOSTICS],
    }
    status, stderr, calls = run_hook(tmp_path, "estate-down.sh", DOWN_ENV, state)
    assert status == 0, stderr
    deletes = [c for c in calls if "delete" in c]
    deleted = []
    for call in deletes:
        if call[:2] == ["resource", "delete"]:
            deleted.append(call[call.index("--ids") + 1])
        elif call[:1] == ["rest"]:
            deleted.append(call[call.index("--url") + 1].split("?")[0])
        else:
            deleted.append(" ".join(call[:3]))
    assert deleted == [
        DIAGNOSTICS,
        EVENT_SUB,
        TOPIC_DIAGNOSTICS,
        TOPIC,
        ACR_ASSIGNMENT,
        ROLE_DEFINITION,
        "deployment sub delete",
    ]
    rest_deletes = [c for c in deletes if c[:1] == ["rest"]]
    assert [c[c.index("--url") + 1].split("?")[1] for c in rest_deletes] == [
        "api-version=2021-05-01-preview",
        "api-version=2021-05-01-preview",
        "api-version=2022-04-01",
        "api-version=2022-04-01",
    ]


@pytest.mark.parametrize(
    "intruder",
    [f"/subscriptions/{SUB}/resourceGroups/rg-acr", ACR],
    ids=["resource group", "registry"],
)
def test_estate_down_refuses_foreign_resources_before_deleting(tmp_path: Path, intruder: str) -> None:
    state = {"deployment": True, "removable": [EVENT_SUB, intruder], "existing": [EVENT_SUB, intruder]}
    status, stderr, calls = run_hook(tmp_path, "estate-down.sh", DOWN_ENV, state)
    assert status != 0
    assert "refusing to run" in stderr and intruder in stderr
    assert not [c for c in calls if "delete" in c]
