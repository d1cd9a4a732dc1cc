"""Queue-triggered functions: the app's own fan-out work.

A message is delivered at least once; raising makes the host retry it (up to
``maxDequeueCount`` in host.json, then the poison queue), so only transient
failures raise."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()
