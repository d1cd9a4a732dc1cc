"""``alert_webhook`` (POST ``/api/alerts``): Azure Monitor action groups' secure webhook.

The caller must hold the ``ActionGroupsSecureWebhook`` app role (the token comes from the
AzNS AAD Webhook app); then :class:`ops.alerts.webhook.AlertWebhook` decides. An alert
queued for ``alert_worker`` (remediation) is 202 ``accepted``; every other answer is 200
(handled, ignored, invalid or failed, each with its reason) except a transient
failure, which is 503 so that the action group delivers the alert again; 401 and 403
for a caller without a valid token or the role. Never a 500: a setting or policy the app
cannot load is recorded and answered 200 ``failed``, because an action group that gets
a 500 does not retry either, and the record says what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from ops.triggers.handling import respond_to_request
from ops.triggers.responses import respond_json

if TYPE_CHECKING:
    from ops.services import Services

bp = func.Blueprint()


@bp.function_name("alert_webhook")
@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def alert_webhook(req: func.HttpRequest) -> func.HttpResponse:
    def call(services: Services) -> func.HttpResponse:
        from ops.auth import Role
        from ops.errors import ConfigError

        try:
            authenticator = services.authenticator()
        except ConfigError as exc:  # recorded; a 500 would help no one (action groups do not retry it)
            return respond_json(services.refuse_alert(exc, req.get_body()), 200)
        authenticator.require(req.headers, Role.WEBHOOK)
        answer = services.answer_alert(req.get_body())
        return respond_json(answer, 202 if answer.get("status") == "accepted" else 200)

    return respond_to_request("alert_webhook", call, capability="alerts")
