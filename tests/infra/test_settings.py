"""The app settings infra deploys: the same names as the sample and Settings, and no secrets.

The three sets are compared after two documented, explicit differences:
- ``HOST_SETTINGS`` (ops.config): FUNCTIONS_WORKER_RUNTIME and AzureWebJobsFeatureFlags live
  in the sample for the local host; on Flex Consumption the runtime comes from
  functionAppConfig and worker indexing is on by default, so infra sets neither.
- ``REPLACED_BY_IDENTITY``: the connection-string form of AzureWebJobsStorage, replaced in
  Azure by the identity-based AzureWebJobsStorage__* keys, which are in all three sets.
And one addition, ``HOST_ONLY_SETTINGS``: the telemetry settings only infra sets.

Cases:
- infra's product settings equal the sample's keys, less the two exceptions;
- infra's product settings equal Settings.env_names(), less the connection string;
- the host-only settings are exactly the documented ones, and disjoint from the others;
- the app gets both lists: main passes appSettings to api.bicep, which deploys both;
- host storage is identity-based: credential managedidentity and the app identity's client ID;
- no setting value holds a key, SAS, connection string with a key, or a list*() call, and no
  template calls list*() at all;
- the one value that embeds an instrumentation key, APPLICATIONINSIGHTS_CONNECTION_STRING,
  is read from the component, whose local authentication is disabled, and telemetry is
  sent with an Entra identity;
- the storage account refuses shared keys, local users and anonymous blob access.
"""

from __future__ import annotations

import re
from typing import Any

from ops.config import HOST_SETTINGS, Settings
from tests.infra.templates import (
    HOST_ONLY_SETTINGS,
    INFRA,
    REPLACED_BY_IDENTITY,
    bicep_files,
    declared_resources,
    dotted,
    host_settings,
    parse,
    product_settings,
    sample_setting_names,
    strings,
    text,
    walk,
)

#: What a secret looks like in a setting value, case-insensitively.
SECRET_PATTERNS = re.compile(
    r"AccountKey=|SharedAccessSignature|SharedAccessKey|[?&]sig=|InstrumentationKey=|Password=|DefaultEndpointsProtocol=",
    re.IGNORECASE,
)


def _diff(infra: set[str], expected: set[str]) -> str:
    only_infra, missing = sorted(infra - expected), sorted(expected - infra)
    return f"only in infra: {only_infra}; missing from infra/main.bicep appSettings: {missing}"


def test_product_settings_equal_the_sample_keys() -> None:
    infra = set(product_settings())
    expected = sample_setting_names() - HOST_SETTINGS - REPLACED_BY_IDENTITY
    assert infra == expected, _diff(infra, expected)


def test_product_settings_equal_the_settings_fields() -> None:
    infra = set(product_settings())
    expected = set(Settings.env_names()) - REPLACED_BY_IDENTITY
    assert infra == expected, _diff(infra, expected)


def test_host_only_settings_are_the_documented_ones() -> None:
    host = set(host_settings())
    assert host == HOST_ONLY_SETTINGS
    assert not host & set(product_settings())
    assert not host & sample_setting_names()
    assert not host & set(Settings.env_names())
    assert not REPLACED_BY_IDENTITY & (host | set(product_settings()))


def test_the_app_receives_both_lists() -> None:
    api_module = parse(INFRA / "main.bicep")["modules"]["api"]["config"]["params"]
    assert api_module["appSettings"] == "appSettings"
    api = text(INFRA / "app" / "api.bicep")
    assert re.search(r"var productSettings = \[for setting in items\(appSettings\): \{", api)
    assert "appSettings: concat(productSettings, hostSettings)" in api


def test_host_storage_connects_with_the_app_identity() -> None:
    settings = product_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert dotted(settings["AzureWebJobsStorage__clientId"]) == "identity.outputs.appClientId"
    assert dotted(settings["AZURE_CLIENT_ID"]) == "identity.outputs.appClientId"
    assert dotted(settings["AzureWebJobsStorage__accountName"]) == "storage.outputs.name"
    for service in ("blob", "queue", "table"):
        uri = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert dotted(uri) == f"storage.outputs.{service}Endpoint"


def _calls_list_function(node: Any) -> bool:
    return any(
        isinstance(n, dict) and n.get("type") in {"function_accessor", "list_func"} for n in walk(node)
    )


def test_no_setting_value_is_a_secret() -> None:
    for name, value in {**product_settings(), **host_settings()}.items():
        leaked = [s for s in strings(value) if SECRET_PATTERNS.search(s)]
        assert not leaked, f"{name} holds {leaked}"
        assert not _calls_list_function(value), f"{name} calls a list*() function"


def test_no_template_reads_keys_or_secrets() -> None:
    for path in bicep_files():
        source = text(path)
        assert not re.search(r"\.list\w*\(|\blist\w*\(|getSecret\(", source), path
        assert not SECRET_PATTERNS.search(source), path
        assert "@secure" not in source, f"{path}: a secure parameter means a secret is being passed"


def test_telemetry_connection_string_is_an_address_not_a_credential() -> None:
    connection = host_settings()["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    assert dotted(connection) == "applicationInsights.properties.ConnectionString"
    assert host_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    (component,) = [
        r
        for r in declared_resources(INFRA / "app" / "monitoring.bicep")
        if r.type == "Microsoft.Insights/components"
    ]
    assert component.body["properties"]["DisableLocalAuth"] is True


def test_storage_account_refuses_keys_and_anonymous_access() -> None:
    (account,) = [
        r
        for r in declared_resources(INFRA / "app" / "storage.bicep")
        if r.type == "Microsoft.Storage/storageAccounts"
    ]
    props = account.body["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["isLocalUserEnabled"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
