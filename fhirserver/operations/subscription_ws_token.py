"""Subscription/$get-ws-binding-token (Backport IG): a token a websocket client binds with.

Instance level: that subscription; type level: the `id`s given, or every websocket subscription
of the caller. The token is random, only its hash is stored, and it expires after
SUBSCRIPTIONS["BINDING_TOKEN_SECONDS"]; `websocket-url` is where the websocket server listens.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings

from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.subscriptions import notifications, websocket
from fhirserver.subscriptions.models import BindingToken, SubscriptionState
from fhirserver.subscriptions.selectors import owned, parameter_values


def get_ws_binding_token(request: FhirRequest) -> FhirResponse:
    states = [s for s in owned(request, parameter_values(request, "id"))
              if s.channel_type == SubscriptionState.WEBSOCKET]
    if not states:
        raise FhirError(422, "No websocket subscription of yours was named", issue_code="invalid",
                        code="WS_TOKEN_NO_SUBSCRIPTION", expression=["id"])
    if not settings.SUBSCRIPTIONS["WEBSOCKET_PORT"]:
        raise FhirError(501, "The websocket channel is turned off on this server", issue_code="not-supported",
                        code="WS_OFF")
    token = secrets.token_urlsafe(32)
    expires = websocket.new_token_expiry()
    BindingToken.objects.create(token_hash=websocket.token_hash(token), subscriptions=[s.logical_id for s in states],
                                owner_client=getattr(request.access, "client_id", "") or "", expires_at=expires)
    parameters = [{"name": "token", "valueString": token},
                  {"name": "expiration", "valueDateTime": notifications.instant(expires)}]
    parameters += [{"name": "subscription", "valueString": f"{request.base_url}/Subscription/{s.logical_id}"}
                   for s in states]
    parameters.append({"name": "websocket-url", "valueUrl": websocket_url(request.base_url)})
    return FhirResponse(status=200, resource={"resourceType": "Parameters", "parameter": parameters})


def websocket_url(base_url: str) -> str:
    config = settings.SUBSCRIPTIONS
    if config["WEBSOCKET_URL"]:
        return config["WEBSOCKET_URL"]
    host = urlsplit(base_url).hostname or "localhost"
    return f"ws://{host if ':' not in host else f'[{host}]'}:{config['WEBSOCKET_PORT']}/"


register(Operation(
    name="get-ws-binding-token", handler=get_ws_binding_token, resource_types=("Subscription",),
    levels=("type", "instance"), affects_state=True,
    definition="http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
               "backport-subscription-get-ws-binding-token",
))
