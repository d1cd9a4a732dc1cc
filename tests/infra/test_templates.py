"""The infra files are well formed and wired together.

Cases:
- every .bicep under infra/ parses with pycep-parser;
- every local module path and every loadJsonContent file a template names exists;
- infra/roles.json holds unique role GUIDs, and infra/abbreviations.json is valid JSON;
- main.parameters.json maps only parameters main.bicep declares, and every required one;
- azure.yaml deploys infra/main.bicep and the function app, and wires the estate hooks,
  which exist and are executable;
- every environment value estate-up.sh reads is an output of main.bicep or set by azd;
- estate-up.sh passes every parameter of infra/estate/main.bicep that has no default.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from tests.infra.templates import HOOKS, INFRA, ROOT, bicep_files, parse, roles, text

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: Values azd itself puts in the environment of provisioning and hooks.
AZD_PROVIDED = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID"}


def test_infra_has_the_expected_templates() -> None:
    names = {str(p.relative_to(INFRA)) for p in bicep_files()}
    assert {"main.bicep", "app/api.bicep", "app/rbac.bicep", "estate/main.bicep"} <= names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse(path)
    assert tree.get("resources") or tree.get("modules"), f"{path} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_referenced_files_exist(path: Path) -> None:
    for name, module in parse(path).get("modules", {}).items():
        assert module["type"] == "local", f"{path}: module {name} is not local"
        target = path.parent / module["detail"]["path"]
        assert target.is_file(), f"{path}: module {name} points at missing {target}"
    for match in re.finditer(r"loadJsonContent\('([^']+)'\)", text(path)):
        target = path.parent / match.group(1)
        assert target.is_file(), f"{path}: loadJsonContent of missing {target}"
        json.loads(target.read_text())


def test_roles_json_holds_unique_guids() -> None:
    table = roles()
    assert all(GUID.match(guid) for guid in table.values()), table
    assert len(set(table.values())) == len(table)


def test_abbreviations_are_json() -> None:
    assert json.loads((INFRA / "abbreviations.json").read_text())


def test_main_parameters_map_declared_parameters_only() -> None:
    mapped = set(json.loads((INFRA / "main.parameters.json").read_text())["parameters"])
    declared = parse(INFRA / "main.bicep")["parameters"]
    assert mapped <= set(declared), mapped - set(declared)
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= mapped, required - mapped


def test_azure_yaml_deploys_the_function_app_and_wires_the_estate_hooks() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert project["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    hooks = project["hooks"]
    assert hooks["postdeploy"]["run"] == "./infra/hooks/estate-up.sh"
    assert hooks["predown"]["run"] == "./infra/hooks/estate-down.sh"
    for hook in hooks.values():
        assert hook["continueOnError"] is False
        script = ROOT / hook["run"]
        assert script.is_file() and os.access(script, os.X_OK), script


def test_api_module_is_the_azd_service() -> None:
    assert "'azd-service-name': 'api'" in text(INFRA / "app" / "api.bicep")


def test_estate_up_reads_only_values_azd_provides() -> None:
    outputs = set(parse(INFRA / "main.bicep")["outputs"])
    read = set(re.findall(r"\$\{?((?:OPS|AZURE)_[A-Z_]+)", text(HOOKS / "estate-up.sh")))
    assert read, "estate-up.sh reads no environment values"
    assert read <= outputs | AZD_PROVIDED, read - outputs - AZD_PROVIDED


def test_estate_up_passes_every_required_estate_parameter() -> None:
    declared = parse(INFRA / "estate" / "main.bicep")["parameters"]
    # The --parameters block: one `name="value"` per line, indented four spaces.
    passed = set(re.findall(r'^    (\w+)="[^\n]*\\$', text(HOOKS / "estate-up.sh"), re.MULTILINE))
    assert passed <= set(declared), passed - set(declared)
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= passed, required - passed
