"""Bearer token -> Access, with a short per-process cache so a read costs no token query.

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


_cache: dict[str, TokenState] = {}
_MAX_ENTRIES = 10_000


def checksum(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def lookup(raw_token: str) -> TokenState | None:
    """The token's state if it exists (expired or not), else None."""
    key = checksum(raw_token)
    now = time.time()
    state = _cache.get(key)
    if state is not None and now - state.cached_at < settings.FHIR.get("TOKEN_CACHE_SECONDS", 10):
        return state
    state = _load(key, now)
    if state is None:
        _cache.pop(key, None)
        return None
    if len(_cache) >= _MAX_ENTRIES:
        _cache.clear()
    _cache[key] = state
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


@receiver(post_delete, sender=AccessToken)
@receiver(post_save, sender=AccessToken)
def _forget(sender, instance: AccessToken, **kwargs) -> None:
    if instance.token_checksum:
        _cache.pop(instance.token_checksum, None)
