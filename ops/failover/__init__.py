"""Regional failover and verified failback of the write paths Azure does not move by itself.

ACR geo-replication is active-active and its global endpoint fails over on its own, so
what moves here is, per stamp: the push-endpoint pointer CI reads (an App Configuration
key naming a regional registry endpoint), application write traffic (Front Door origins,
Traffic Manager endpoints) and a replica's global routing (``regionEndpointEnabled``).

- ``policy``: ``OPS_FAILOVER_POLICY``, validated, with its JSON Schema;
- ``signals``: Service Health, Resource Health and metric alerts → region health signals;
- ``machine``: the per-stamp state machine and the pure planner of each step;
- ``protocols``: what the service needs from outside (adapters implement them);
- ``service``: signals, watch ticks and runbooks, under a lease per stamp.
"""
