"""Event Grid-triggered functions.

The host answers 500 for the whole batch if any invocation raises, and Event Grid
then redelivers the batch, so only transient failures raise; malformed events are
recorded and acknowledged."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()
