"""The two layers keep azd down safe and complete.

azd down deletes every resource group that holds a resource of azd's deployment. So the azd
layer (infra/main.bicep and infra/app) must create nothing outside the app's own resource
group, and the estate layer (infra/estate), which does, must list everything it creates for
infra/hooks/estate-down.sh to delete.

Cases:
- main.bicep creates only the resource group and deploys every module into it;
- no template under infra/app creates a resource or module with a scope of its own (only
  ``existing`` references may point at other resource groups);
- every resource the estate layer creates appears in its file's removableResourceIds output
  (a looped one through a variable after it that lists each item's id), and estate/main.bicep
  gathers that output from every module;
- the estate layer only references the registries, clusters and failover's Front Door,
  Traffic Manager and App Configuration resources (``existing``), never creates or changes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.templates import INFRA, declared_resources, parse, resource_body, text

APP_FILES = sorted((INFRA / "app").glob("*.bicep"))
ESTATE_FILES = sorted((INFRA / "estate").glob("*.bicep"))


def test_main_creates_only_the_resource_group_and_deploys_into_it() -> None:
    tree = parse(INFRA / "main.bicep")
    assert {r["type"] for r in tree["resources"].values()} == {"Microsoft.Resources/resourceGroups"}
    for name, module in tree["modules"].items():
        _, body = resource_body(module["config"])
        assert body.get("scope") == "rg", f"module {name} is not deployed into the app's resource group"


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.name)
def test_app_templates_create_nothing_elsewhere(path: Path) -> None:
    for resource in declared_resources(path):
        scope = resource.body.get("scope")
        if resource.existing:
            continue
        assert scope is None or isinstance(scope, str), (
            f"{path.name}:{resource.symbol} is created at {scope!r}, outside the app's resource group"
        )
    for name, module in parse(path).get("modules", {}).items():
        _, body = resource_body(module["config"])
        assert "scope" not in body, f"{path.name}: module {name} is deployed outside the app's resource group"


@pytest.mark.parametrize("path", ESTATE_FILES, ids=lambda p: p.name)
def test_estate_lists_everything_it_creates(path: Path) -> None:
    output = parse(path)["outputs"]["removableResourceIds"]
    assert output["type"] == "array"
    listed = text(path)[text(path).index("output removableResourceIds") :]
    for resource in declared_resources(path):
        if not resource.existing:
            # a looped resource is gathered by a variable after the output, one id per item
            ids = (f"{resource.symbol}.id", f"{resource.symbol}[i].id")
            assert any(i in listed for i in ids), f"{path.name}: {resource.symbol} is never removed"


def test_estate_main_gathers_every_module() -> None:
    source = text(INFRA / "estate" / "main.bicep")
    for module in parse(INFRA / "estate" / "main.bicep")["modules"]:
        assert re.search(rf"{module}\[i\]\.outputs\.removableResourceIds", source), module


@pytest.mark.parametrize("path", ESTATE_FILES, ids=lambda p: p.name)
def test_estate_never_creates_registries_or_clusters(path: Path) -> None:
    for resource in declared_resources(path):
        if resource.type.startswith(
            (
                "Microsoft.ContainerRegistry/",
                "Microsoft.ContainerService/",
                "Microsoft.Cdn/",
                "Microsoft.Network/trafficManagerProfiles",
                "Microsoft.AppConfiguration/",
            )
        ):
            assert resource.existing, f"{path.name}: {resource.symbol} would be created or changed"
