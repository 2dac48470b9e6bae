"""A subscription's owner: the access of the token that wrote it bounds what it is ever told.

The Subscription is written through the ordinary FHIR core, which hands the repository no request.
`OwnerMiddleware` keeps the Django request of the current thread in a context variable; when the
write observer sees a Subscription being written, `current_owner()` reads the access the security
layer attached to that request (`fhir_access`), and it is stored with the subscription's state.
When events are matched, `access_of(state)` rebuilds the same `Access` (scopes and launch patient)
and every focus and additional-context resource must pass its `can_read`.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass
from urllib.parse import urlencode

from fhirserver.security.access import Access
from fhirserver.security.scopes import parse_scopes

_request: contextvars.ContextVar = contextvars.ContextVar("fhirserver_subscriptions_request", default=None)


class OwnerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@dataclass(frozen=True)
class Owner:
    client: str = ""
    scopes: str = ""
    patient: str = ""
    trusted: bool = True  # security off, or an internal write: no bound


def current_owner() -> Owner:
    request = _request.get()
    access = getattr(request, "fhir_access", None) if request is not None else None
    if access is None:
        return Owner()
    return Owner(client=access.client_id, scopes=scope_text(access.scopes.rules),
                 patient=access.launch_patient or "", trusted=False)


def scope_text(rules) -> str:
    """The resource rules back as a SMART v2 scope string (what `parse_scopes` reads)."""
    out = []
    for rule in rules:
        letters = "".join(ch for ch in "cruds" if ch in rule.permissions)
        text = f"{rule.context}/{rule.resource_type}.{letters}"
        if rule.query:
            text += "?" + urlencode(list(rule.query), safe="|:/,")
        out.append(text)
    return " ".join(out)


def access_of(state):
    """The owner's access (None = trusted: sees everything)."""
    if state.owner_trusted:
        return None
    return Access(client_id=state.owner_client, scopes=parse_scopes(state.owner_scopes),
                  launch_patient=state.owner_patient or None)


def same_owner(state, access) -> bool:
    """Whether a request's access may manage this subscription ($status, $events, binding tokens)."""
    if access is None:
        return True
    return not state.owner_trusted and state.owner_client == access.client_id and \
        (state.owner_patient or None) == (access.launch_patient or None)


def current_base_url() -> str:
    """The FHIR base the current request came in on ("" outside a request)."""
    from django.conf import settings

    if settings.FHIR.get("BASE_URL"):
        return settings.FHIR["BASE_URL"].rstrip("/")
    request = _request.get()
    return request.build_absolute_uri("/fhir") if request is not None else ""
