"""The sandbox's Azure Resource Graph: a KQL-subset engine over the live World.

Queries are parsed and checked against the table schemas, then evaluated over rows
built from the World at request time (registries, replications and managed clusters
in ``resources``; Defender findings in ``securityresources``), so that a change made
through any other sandbox API shows up in the next query. Anything outside the
subset is refused with Resource Graph's 400 ``BadRequest``/``InvalidQuery`` body,
never answered with an empty result.
"""
