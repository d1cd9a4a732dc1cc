"""Function triggers: thin blueprints that decode input, call a service and map errors.

Each module holds one ``bp`` blueprint; ``function_app.py`` registers them all.
"""

from ops.triggers import alerts, eventgrid, http, queues, timers

BLUEPRINTS = (http.bp, alerts.bp, timers.bp, queues.bp, eventgrid.bp)

__all__ = ["BLUEPRINTS"]
