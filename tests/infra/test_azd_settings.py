"""Every app setting can be set with ``azd env set`` and reaches the app.

The chain is: an azd environment value, named in infra/main.parameters.json, fills a
parameter of infra/main.bicep, which builds a setting in ``appSettings``, which
infra/app/api.bicep deploys. The checks are generic: a setting another capability adds
is held to the same chain the moment it appears in ``appSettings`` (and
tests/infra/test_settings.py holds ``appSettings`` equal to local.settings.sample.json).

Cases:
- every parameter of main.bicep is mapped in main.parameters.json as ``${NAME}``, each
  from its own environment value;
- every product setting is built from mapped parameters (through variables too), unless
  infra derives it from what it creates (INFRA_OWNED_SETTINGS, each with its reason);
- no INFRA_OWNED_SETTINGS entry is stale or also read from a parameter;
- a setting built from one parameter is set under its own name: ``azd env set X`` sets X;
- the sample's settings reach the app: each is in appSettings, or host-owned, or the
  connection string that identity-based storage replaces;
- the instance cap and memory reach the app's scale settings from their parameters.
"""

from __future__ import annotations

from collections import Counter

from ops.config import HOST_SETTINGS
from tests.infra.templates import (
    INFRA,
    INFRA_OWNED_SETTINGS,
    REPLACED_BY_IDENTITY,
    declared_resources,
    parameter_env_names,
    parse,
    product_settings,
    referenced_parameters,
    sample_setting_names,
)


def test_every_parameter_is_mapped_from_its_own_environment_value() -> None:
    declared = set(parse(INFRA / "main.bicep")["parameters"])
    mapped = parameter_env_names()
    assert declared - set(mapped) == set(), "parameters azd cannot set: add them to main.parameters.json"
    shared = {name: n for name, n in Counter(mapped.values()).items() if n > 1}
    assert not shared, f"environment values feeding several parameters: {shared}"


def test_every_product_setting_comes_from_mapped_parameters_or_is_infra_owned() -> None:
    mapped = parameter_env_names()
    unreachable = {}
    for name, value in product_settings().items():
        used = referenced_parameters(value)
        if not used and name not in INFRA_OWNED_SETTINGS:
            unreachable[name] = "built from no parameter: add a parameter and map it"
        elif used - set(mapped):
            unreachable[name] = f"parameters not in main.parameters.json: {sorted(used - set(mapped))}"
    assert not unreachable, unreachable


def test_infra_owned_settings_are_current() -> None:
    settings = product_settings()
    stale = sorted(set(INFRA_OWNED_SETTINGS) - set(settings))
    assert not stale, f"INFRA_OWNED_SETTINGS names settings appSettings does not build: {stale}"
    from_parameters = sorted(n for n in INFRA_OWNED_SETTINGS if referenced_parameters(settings[n]))
    assert not from_parameters, f"read from parameters, so not infra-owned: {from_parameters}"
    assert all(reason.strip() for reason in INFRA_OWNED_SETTINGS.values())


def test_a_setting_from_one_parameter_is_set_under_its_own_name() -> None:
    mapped = parameter_env_names()
    renamed = {}
    for name, value in product_settings().items():
        used = referenced_parameters(value)
        if len(used) == 1:
            (parameter,) = used
            if mapped.get(parameter) != name:
                renamed[name] = f"{parameter} is read from {mapped.get(parameter)}"
    assert not renamed, f"azd env set NAME must set the app setting NAME: {renamed}"


def test_every_sample_setting_reaches_the_app() -> None:
    missing = sorted(sample_setting_names() - HOST_SETTINGS - REPLACED_BY_IDENTITY - set(product_settings()))
    assert not missing, f"in local.settings.sample.json but never deployed: {missing}"


def test_instance_cap_and_memory_reach_the_scale_settings() -> None:
    mapped = parameter_env_names()
    api = parse(INFRA / "main.bicep")["modules"]["api"]["config"]["params"]
    (site,) = [r for r in declared_resources(INFRA / "app" / "api.bicep") if r.type == "Microsoft.Web/sites"]
    scale = site.body["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    for parameter in ("maximumInstanceCount", "instanceMemoryMB"):
        assert api[parameter] == parameter
        assert scale[parameter] == parameter
        assert parameter in mapped
