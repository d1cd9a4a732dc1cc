"""The health report: is the app alive, and will its configuration work?

It names every invalid setting and every problem of every configured policy, so that a
misconfigured deployment is obvious from one GET rather than from a timer that fails
every run. Settings are validated by :func:`ops.config.load_settings` (GUIDs, the
storage connection in each of its forms, schedules parsed as NCRONTAB by croniter, a
usable state path, a non-empty protected-environment set); policies are loaded with the
same loaders the timers and events use. It never imports an SDK, so that it stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ops import __version__
from ops.config import load_settings
from ops.errors import ConfigError


def report_health(env: Mapping[str, str]) -> dict[str, Any]:
    """``status`` is ``ok`` or ``misconfigured``; ``problems`` lists every bad setting and policy."""
    problems: list[str] = []
    settings = None
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        problems.extend(exc.problems)
    problems.extend(check_policies(env))
    if settings is None or problems:
        return {"status": "misconfigured", "version": __version__, "problems": problems}
    return {
        "status": "ok",
        "version": __version__,
        "problems": [],
        "dry_run": settings.core.dry_run,
        "kill_switch": settings.core.kill_switch,
        "subscriptions": list(settings.core.subscriptions),
        "storage": settings.storage.mode,
        "arm_endpoint": settings.endpoints.arm_endpoint,
    }


def check_policies(env: Mapping[str, str]) -> list[str]:
    """The problems of every configured policy, each loaded as its capability loads it."""
    from ops.failover.policy import load_policy as load_failover
    from ops.gate.policy import read_policy_setting as read_gate
    from ops.purge.policy import read_policy_setting as read_purge
    from ops.remediate.policy import read_policy_setting as read_remediate
    from ops.schedule.policy import load_policy as load_schedule

    checks: dict[str, Callable[[str], object]] = {
        "OPS_GATE_POLICY": read_gate,
        "OPS_PURGE_POLICY": read_purge,
        "OPS_SCHEDULE_POLICY": load_schedule,
        "OPS_REMEDIATE_POLICY": read_remediate,
        "OPS_FAILOVER_POLICY": load_failover,
    }
    problems: list[str] = []
    for name, load in checks.items():
        value = (env.get(name) or "").strip()
        if not value:
            continue  # not configured: that capability plans nothing
        try:
            load(value)
        except ConfigError as exc:
            problems.extend(p if p.startswith(name) else f"{name}: {p}" for p in exc.problems)
    return problems
