"""Every spelling of a registry's endpoints counts as the registry, for purge and the gate.

Cases: ``registry_hosts`` lists the login server first, then each region's regional
(``.geo.``) and data (``.data.``) endpoint, and the data endpoints ARM reports, without
duplicates; a login server outside the ACR suffixes (the sandbox's ``127.0.0.1:<port>``)
gets every suffix; ``normalize_host`` folds case, a trailing dot and ``:443``; a table of
image references (with and without tag, digest, both, scheme prefixes, docker.io-style
prefixes, ports, case, regional and data endpoints, other registries, unknown regions)
is, or is not, indexed under the registry's login server by tag and by digest.
"""

from __future__ import annotations

import pytest

from ops.purge.images import ImageUse, build_in_use, endpoint_aliases
from ops.purge.inventory import RegistryRef
from ops.registries import is_registry_host, normalize_host, registry_hosts

LOGIN = "myreg.azurecr.io"
DIGEST = "sha256:" + "ab" * 32
ENDPOINTS = registry_hosts(
    name="MyReg",
    login_server=LOGIN,
    regions=["eastus2", "westeurope"],
    data_endpoints=["myreg.eastus2.data.azurecr.io", "MYREG.westeurope.data.azurecr.io"],
)
REGISTRY = RegistryRef("myreg", LOGIN, endpoints=ENDPOINTS)


def test_registry_hosts_lists_every_endpoint_once_login_server_first() -> None:
    assert ENDPOINTS == (
        "myreg.azurecr.io",
        "myreg.eastus2.geo.azurecr.io",
        "myreg.eastus2.data.azurecr.io",
        "myreg.westeurope.geo.azurecr.io",
        "myreg.westeurope.data.azurecr.io",
    )


def test_a_login_server_without_an_acr_suffix_gets_every_suffix() -> None:
    hosts = registry_hosts(name="contosoprod", login_server="127.0.0.1:8443", regions=["westeurope"])
    assert hosts[0] == "127.0.0.1:8443"
    assert {"contosoprod.westeurope.geo.azurecr.io", "contosoprod.westeurope.geo.azurecr.cn"} <= set(hosts)
    sovereign = registry_hosts(name="r", login_server="r.azurecr.us", regions=["usgovvirginia"])
    assert sovereign == ("r.azurecr.us", "r.usgovvirginia.geo.azurecr.us", "r.usgovvirginia.data.azurecr.us")


@pytest.mark.parametrize(
    ("host", "normal"),
    [("MyReg.AzureCR.io", LOGIN), ("myreg.azurecr.io.", LOGIN), ("myreg.azurecr.io:443", LOGIN),
     ("127.0.0.1:8443", "127.0.0.1:8443"), ("myreg.azurecr.io:5000", "myreg.azurecr.io:5000")],
)  # fmt: skip
def test_normalize_host(host: str, normal: str) -> None:
    assert normalize_host(host) == normal


#: reference → (tag key, digest key) expected under the login server; None: not this registry's.
SPELLINGS: list[tuple[str, tuple[str | None, str | None] | None]] = [
    ("myreg.azurecr.io/app:v1", ("app:v1", None)),
    ("myreg.azurecr.io/app", ("app:latest", None)),
    (f"myreg.azurecr.io/app@{DIGEST}", (None, f"app@{DIGEST}")),
    (f"myreg.azurecr.io/app:v1@{DIGEST}", ("app:v1", f"app@{DIGEST}")),
    (f"myreg.azurecr.io/team/app/api:v1@{DIGEST}", ("team/app/api:v1", f"team/app/api@{DIGEST}")),
    (f"MYREG.AzureCR.IO/app@{DIGEST}", (None, f"app@{DIGEST}")),
    (f"myreg.azurecr.io/App@{DIGEST.upper().replace('SHA256', 'sha256')}", (None, f"app@{DIGEST}")),
    (f"myreg.westeurope.geo.azurecr.io/app@{DIGEST}", (None, f"app@{DIGEST}")),
    ("MyReg.WestEurope.Geo.AzureCR.io/app:v1", ("app:v1", None)),
    ("myreg.eastus2.geo.azurecr.io/app:v1", ("app:v1", None)),
    (f"myreg.eastus2.data.azurecr.io/app@{DIGEST}", (None, f"app@{DIGEST}")),
    (f"myreg.azurecr.io:443/app@{DIGEST}", (None, f"app@{DIGEST}")),
    ("myreg.azurecr.io./app:v1", ("app:v1", None)),
    (f"docker-pullable://myreg.westeurope.geo.azurecr.io/app@{DIGEST}", (None, f"app@{DIGEST}")),
    (f"containerd://myreg.azurecr.io/app@{DIGEST}", (None, f"app@{DIGEST}")),
    ("myreg.azurecr.io:5000/app:v1", None),  # another port is another server
    ("myreg.northeurope.geo.azurecr.io/app:v1", None),  # no replica there
    ("docker.io/myreg.azurecr.io/app:v1", None),  # Docker Hub's repository of that name
    ("docker.io/library/app:v1", None),
    ("index.docker.io/myreg/app:v1", None),
    ("myreg/app:v1", None),  # docker.io/myreg/app
    ("app:v1", None),
    ("otherreg.azurecr.io/app:v1", None),
    ("myreg.azurecr.io.evil.example/app:v1", None),
    (f"{DIGEST}", None),  # a bare image id names no repository
]


@pytest.mark.parametrize(("reference", "expected"), SPELLINGS)
def test_every_spelling_of_the_registry_is_in_use(
    reference: str, expected: tuple[str | None, str | None] | None
) -> None:
    index = build_in_use(
        [ImageUse(reference, "aks/ns/pod/x")], hosts=[LOGIN], aliases=endpoint_aliases([REGISTRY])
    )
    found = index.for_host(LOGIN)
    if expected is None:
        assert len(found) == 0, found
        return
    tag, digest = expected
    assert list(found.tags) == ([tag] if tag else [])
    assert list(found.digests) == ([digest] if digest else [])


def test_is_registry_host_for_the_gate() -> None:
    assert is_registry_host("MYREG.westeurope.geo.azurecr.io", ENDPOINTS)
    assert not is_registry_host("127.0.0.1:1", ENDPOINTS)
    assert not is_registry_host("otherreg.azurecr.io", ENDPOINTS)
