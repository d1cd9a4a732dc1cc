"""The parts of the estate that regional failover moves, and the regions they live in.

Azure does not move these write paths by itself when a region is impaired, so the
sandbox emulates each one as Azure serves it, through the same APIs the unmodified
SDKs call:

- ``state``: regions (impaired or healthy, since when), Front Door profiles with
  origin groups and origins, Traffic Manager profiles and endpoints, App Configuration
  stores and their key-values;
- ``frontdoor``, ``trafficmanager``, ``resourcehealth``: the ARM routes
  (Microsoft.Cdn, Microsoft.Network/trafficmanagerprofiles, Microsoft.ResourceHealth);
- ``appconfig``: the App Configuration data plane (key-values with ETags, Entra tokens);
- ``gates``: what an impaired region does to the endpoints in it (regional registry
  hosts and cluster API servers stop answering; the global registry endpoint fails
  while it still routes to an impaired replica);
- ``control``: ``/_sandbox/regions`` to impair and heal a region at run time;
- ``estate``: the estate file's ``failover:`` section.
"""
