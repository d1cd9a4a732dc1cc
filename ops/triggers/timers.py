"""Timer-triggered functions. Schedules are app settings (``%SETTING%``), so operators
change them without a deploy. Timer runs can overlap or replay: each service takes its
own lease before acting."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()
