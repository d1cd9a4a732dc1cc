"""Scheduled shutdown and startup of non-prod AKS clusters (the ``schedule`` capability).

``windows`` turns weekly on-hours into instants, ``policy`` resolves each cluster's
opt-in tags over the policy's defaults, ``planner`` is the pure engine, and
``service`` runs a tick: lease, observe, confirm earlier operations, plan, apply.
"""
