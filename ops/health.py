"""The health report: is the app alive, and are its settings valid?

It names every invalid setting, so that a misconfigured deployment is obvious
from one GET, and never imports an SDK, so that it stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops import __version__
from ops.config import load_settings
from ops.errors import ConfigError


def report_health(env: Mapping[str, str]) -> dict[str, Any]:
    """``status`` is ``ok`` or ``misconfigured``; ``problems`` lists every bad setting."""
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        return {"status": "misconfigured", "version": __version__, "problems": exc.problems}
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
