"""ACR purge: declarative retention that never deletes what is in use.

``policy`` validates the rules, ``planner`` decides (pure), ``service`` observes
through the adapters it is given, applies through the executor and records;
``protocols`` names the adapters it needs. See docs/purge.md.
"""
