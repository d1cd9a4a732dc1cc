"""Reading infra/ for the tests: parse the Bicep with pycep, walk the trees, name the contracts.

pycep turns a Bicep file into nested dicts (``parameters``, ``variables``, ``resources``,
``modules``, ``outputs``). A resource's body sits under ``config``, wrapped once more when
the resource is conditional or looped; :func:`resource_body` unwraps it so that tests see
the object as written. pycep renders identifiers and string literals alike as ``str``, so
tests that need to tell them apart read the source text as well.

The constants below are the documented exceptions the tests reason with; each says why.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HOOKS = INFRA / "hooks"
SAMPLE_SETTINGS = ROOT / "local.settings.sample.json"

#: The connection-string form of the host's storage, in local.settings.sample.json and
#: Settings for local runs on Azurite. infra deliberately replaces it with the
#: identity-based ``AzureWebJobsStorage__*`` keys and never sets it.
REPLACED_BY_IDENTITY = frozenset({"AzureWebJobsStorage"})

#: Settings the Functions host reads for telemetry. They are neither product settings
#: (Settings never reads them) nor local ones (there is no Application Insights locally),
#: so only infra sets them, in infra/app/api.bicep's ``hostSettings``.
HOST_ONLY_SETTINGS = frozenset(
    {"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}
)

#: Product settings whose value the deployment derives from what it creates or from the cloud
#: it deploys to, so there is nothing for ``azd env set`` to choose. Every other setting in
#: ``appSettings`` comes from a parameter that infra/main.parameters.json maps.
INFRA_OWNED_SETTINGS: dict[str, str] = {
    "OPS_ARM_ENDPOINT": "ARM of the cloud deployed to, environment().resourceManager",
    "OPS_ARM_AUDIENCE": "the token audience of that ARM endpoint",
    "OPS_STATE_PATH": "the SQLite fallback, unused with storage; the package is read-only, so /tmp",
    "OPS_SCHEDULE_NOW": "a test clock, refused in Azure, so always empty there",
    "OPS_FAILOVER_NOW": "a test clock, refused in Azure, so always empty there",
    "OPS_REMEDIATE_NOW": "a test clock, refused in Azure, so always empty there",
    "OPS_EVENTS_TOPIC_ENDPOINT": "the app's own topic, created by this deployment",
    "AZURE_CLIENT_ID": "the app's identity, created by this deployment",
    "AzureWebJobsStorage__accountName": "the app's storage, created by this deployment",
    "AzureWebJobsStorage__blobServiceUri": "the app's storage, created by this deployment",
    "AzureWebJobsStorage__queueServiceUri": "the app's storage, created by this deployment",
    "AzureWebJobsStorage__tableServiceUri": "the app's storage, created by this deployment",
    "AzureWebJobsStorage__credential": "always the managed identity: shared keys are off",
    "AzureWebJobsStorage__clientId": "the app's identity, created by this deployment",
    "OPS_AUTH_TENANT_ID": "the tenant deployed to, tenant().tenantId",
    "OPS_AUTH_AUTHORITY_HOST": "the login host of the cloud deployed to (environment())",
}

#: Owner, Contributor and User Access Administrator: never granted.
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d34161-1e9d-4a53-9bb7-1f0bb0db1a38": "User Access Administrator",
}

#: Every role assignment's description starts with the capability that needs it.
CAPABILITIES = (
    "purge:",
    "gate:",
    "discovery:",
    "schedules:",
    "remediate:",
    "in-use scan:",
    "storage:",
    "telemetry:",
    "events:",
    "failover:",
)

#: The stable function names and HTTP routes of DESIGN.md ("Function names" table).
DESIGN_FUNCTIONS: dict[str, str | None] = {
    "gate_on_image_pushed": None,
    "gate_sweep": None,
    "purge_schedule": None,
    "purge_repository": None,
    "schedule_tick": None,
    "alert_webhook": "alerts",
    "runbook": "runbooks/{name}",
    "health": "health",
}

#: Functions infra already targets whose capability has not landed in function_app yet.
#: When one lands, delete it here: test_functions then checks it against the real app.
PENDING_FUNCTIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Resource:
    """One ``resource`` declaration: where it is, its symbol, type and unwrapped body."""

    path: Path
    symbol: str
    type: str
    existing: bool
    condition: Any
    body: dict[str, Any]


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def _parser() -> BicepParser:
    return BicepParser()


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    """The pycep tree of one Bicep file (parsed once per test session)."""
    return _parser().parse(file_path=path)


@functools.cache
def text(path: Path) -> str:
    return path.read_text()


def resource_body(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The condition (or None) and the object written in a resource or module declaration."""
    condition = None
    while (
        isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config)
    ):
        condition = config.get("condition") or condition
        config = config["config"]
    return condition, config


def declared_resources(path: Path) -> list[Resource]:
    found = []
    for symbol, declaration in parse(path).get("resources", {}).items():
        condition, body = resource_body(declaration["config"])
        found.append(
            Resource(path, symbol, declaration["type"], bool(declaration["existing"]), condition, body)
        )
    return found


def all_resources() -> list[Resource]:
    return [r for path in bicep_files() for r in declared_resources(path)]


def role_assignments() -> list[Resource]:
    return [
        r for r in all_resources() if r.type == "Microsoft.Authorization/roleAssignments" and not r.existing
    ]


def walk(node: Any) -> Iterator[Any]:
    """Every node of a pycep tree, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def strings(node: Any) -> list[str]:
    return [n for n in walk(node) if isinstance(n, str)]


def dotted(node: Any) -> str:
    """A property-access chain as written (``identity.outputs.appClientId``), else ValueError."""
    if isinstance(node, str):
        return node
    operator = node.get("operator", {}) if isinstance(node, dict) else {}
    if operator.get("type") != "property_accessor":
        raise ValueError(f"not a property access: {node!r}")
    operands = operator["operands"]
    return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"


def roles() -> dict[str, str]:
    """infra/roles.json: the built-in role GUIDs infra may grant, by name."""
    data: dict[str, str] = json.loads((INFRA / "roles.json").read_text())
    return data


def sample_setting_names() -> set[str]:
    return set(json.loads(SAMPLE_SETTINGS.read_text())["Values"])


def product_settings() -> dict[str, Any]:
    """infra/main.bicep's ``appSettings`` variable: setting name -> pycep expression."""
    value: dict[str, Any] = parse(INFRA / "main.bicep")["variables"]["appSettings"]["value"]
    return value


def parameter_env_names() -> dict[str, str]:
    """infra/main.parameters.json: parameter -> the azd environment value it is read from.

    Each entry is ``"${NAME}"`` (azd substitutes the environment value; when it is unset or
    empty, the template's default applies); anything else is refused here.
    """
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    names = {}
    for parameter, entry in mapped.items():
        match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", str(entry.get("value")))
        if match is None:
            raise ValueError(f'main.parameters.json {parameter}: expected "${{NAME}}", not {entry!r}')
        names[parameter] = match.group(1)
    return names


def referenced_parameters(expression: Any, path: Path = INFRA / "main.bicep") -> set[str]:
    """The parameters of ``path`` that ``expression`` reads, through its variables too."""
    tree = parse(path)
    parameters, variables = set(tree.get("parameters", {})), tree.get("variables", {})
    found: set[str] = set()
    seen: set[str] = set()
    pending = [expression]
    while pending:
        for name in strings(pending.pop()):
            if name in parameters:
                found.add(name)
            elif name in variables and name not in seen:
                seen.add(name)
                pending.append(variables[name]["value"])
    return found


def host_settings() -> dict[str, Any]:
    """infra/app/api.bicep's ``hostSettings`` variable, a name/value list, as a dict."""
    items = parse(INFRA / "app" / "api.bicep")["variables"]["hostSettings"]["value"]
    return {item["name"]: item["value"] for item in items}


def function_names_used_by_infra() -> dict[str, list[str]]:
    """Function names infra routes events or alerts to, with where each is named.

    Bicep names them in variables ending in ``FunctionName``; the hooks name them in
    ``.../functions/<name>`` resource IDs.
    """
    used: dict[str, list[str]] = {}
    for path in bicep_files():
        for name, variable in parse(path).get("variables", {}).items():
            if name.endswith("FunctionName"):
                used.setdefault(variable["value"], []).append(f"{path.relative_to(ROOT)}:{name}")
    for path in sorted(HOOKS.glob("*.sh")):
        for match in re.finditer(r"/functions/([A-Za-z_][A-Za-z0-9_]*)", text(path)):
            used.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    return used
