"""Bearer token -> Access, with a short per-process cache so a read costs no token query.

The cache is keyed by the bearer token itself (no hash per request; the token is in the request's
memory anyway), and the `Access` it holds keeps what it works out per token (its rules per type).
A revoked or deleted token leaves this process's cache at once (signals); other worker processes
forget it within FHIR["TOKEN_CACHE_SECONDS"]. Expiry is checked on every request, cached or not.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import AccessToken

from fhirserver.security.access import Access
from fhirserver.security.scopes import ScopeError, parse_scopes


@dataclass(frozen=True)
class TokenState:
    access: Access
    expires_at: float  # epoch seconds
    cached_at: float


_cache: dict[str, TokenState] = {}  # bearer token -> its state
_tokens_of: dict[str, str] = {}  # checksum (what the database and its signals know) -> bearer token
_MAX_ENTRIES = 10_000


def checksum(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def lookup(raw_token: str) -> TokenState | None:
    """The token's state if it exists (expired or not), else None."""
    now = time.time()
    state = _cache.get(raw_token)
    if state is not None and now - state.cached_at < settings.FHIR.get("TOKEN_CACHE_SECONDS", 10):
        return state
    key = checksum(raw_token)
    state = _load(key, now)
    if state is None:
        _cache.pop(raw_token, None)
        return None
    if len(_cache) >= _MAX_ENTRIES:
        forget_all()
    _cache[raw_token] = state
    _tokens_of[key] = raw_token
    return state


def _load(key: str, now: float) -> TokenState | None:
    token = (AccessToken.objects.select_related("application", "user", "smart_context")
             .filter(token_checksum=key).first())
    if token is None or token.application is None:
        return None
    try:
        scopes = parse_scopes(token.scope)
    except ScopeError:
        return None
    context = getattr(token, "smart_context", None)
    access = Access(
        client_id=token.application.client_id,
        scopes=scopes,
        launch_patient=(context.patient or None) if context else None,
        user_id=token.user_id,
        username=token.user.get_username() if token.user else None,
        fhir_user=(context.fhir_user or None) if context else None,
        token_id=token.pk,
    )
    return TokenState(access=access, expires_at=token.expires.timestamp(), cached_at=now)


def forget_all() -> None:
    _cache.clear()
    _tokens_of.clear()


@receiver(post_delete, sender=AccessToken)
@receiver(post_save, sender=AccessToken)
def _forget(sender, instance: AccessToken, **kwargs) -> None:
    raw = _tokens_of.pop(instance.token_checksum, None) if instance.token_checksum else None
    if raw is not None:
        _cache.pop(raw, None)
    if instance.token:  # a token saved with its own text (DOT keeps it): whatever its checksum says
        _cache.pop(instance.token, None)
