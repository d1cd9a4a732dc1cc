"""Every host name that serves one container registry, from what ARM reports about it.

An image belongs to a registry whichever of its endpoints names it:

- the login server ARM reports (``properties.loginServer``, ``myreg.azurecr.io``);
- a replica's regional endpoint, ``<name>.<region>.geo.azurecr.io``, for the home region
  and every region in the registry's replications list;
- a dedicated data endpoint, ``<name>.<region>.data.azurecr.io``: those ARM lists in
  ``properties.dataEndpointHostNames``, and the same pattern for every region;

in any letter case, with a trailing dot, or with the default HTTPS port (``:443``).
The ARM API versions the app uses name no regional endpoint host, so those are derived
from the registry's name, its regions (ARM's) and its login server's DNS suffix
(``azurecr.io``, ``azurecr.cn``, ``azurecr.us``; all three when the login server has
none of them, as in the sandbox). Counting a host too many is safe in both places this
is used: purge protects more, and the gate only *accepts* a host as the registry's,
while its tokens go to ARM's login server alone.
"""

from __future__ import annotations

from collections.abc import Iterable

ACR_SUFFIXES = ("azurecr.io", "azurecr.cn", "azurecr.us")


def normalize_host(host: str) -> str:
    """How hosts are compared: lower case, no trailing dot, no default HTTPS port."""
    text = host.strip().lower()
    if text.endswith(":443"):
        text = text[: -len(":443")]
    return text.rstrip(".")


def registry_hosts(
    *, name: str, login_server: str, regions: Iterable[str], data_endpoints: Iterable[str] = ()
) -> tuple[str, ...]:
    """Every normalized host of the registry, the login server first."""
    login = normalize_host(login_server)
    lowered = name.lower()
    suffixes = [s for s in ACR_SUFFIXES if login == f"{lowered}.{s}"] or list(ACR_SUFFIXES)
    hosts = [login]
    for region in regions:
        place = region.replace(" ", "").lower()
        for suffix in suffixes:
            hosts += [f"{lowered}.{place}.geo.{suffix}", f"{lowered}.{place}.data.{suffix}"]
    hosts += [normalize_host(h) for h in data_endpoints]
    return tuple(dict.fromkeys(h for h in hosts if h))


def is_registry_host(host: str, hosts: Iterable[str]) -> bool:
    return normalize_host(host) in {normalize_host(h) for h in hosts}
