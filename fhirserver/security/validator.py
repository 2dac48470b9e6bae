"""django-oauth-toolkit's OAuth2Validator taught SMART App Launch.

- scopes: any SMART v1/v2 scope within what the client registered (backend services: system/ only);
- launch context (patient, encounter, fhirUser) carried from the authorization to the code, the
  access token, the refresh token and every token refreshed from it, and into the token response;
- refresh tokens only when `offline_access` or `online_access` was granted;
- `private_key_jwt` client authentication for backend services;
- `fhirUser` in the id_token.
"""
from __future__ import annotations

import logging

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request

from fhirserver.security import client_assertion
from fhirserver.security.discovery import endpoints
from fhirserver.security.models import ClientRegistration, TokenContext
from fhirserver.security.scopes import ScopeError, describe, parse_scopes, registration_allows

log = logging.getLogger("fhirserver.security")


def _param(request: Request, name: str):
    try:
        return getattr(request, name)
    except AttributeError:
        return None


class SmartValidator(OAuth2Validator):
    oidc_claim_scope = None  # claims are chosen by get_additional_claims, not by OIDC profile scopes

    # --- client authentication: private_key_jwt -----------------------------------------------------
    def client_authentication_required(self, request, *args, **kwargs):
        if _param(request, "client_assertion"):
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs):
        assertion = _param(request, "client_assertion")
        if assertion is None and _param(request, "client_assertion_type") is None:
            return super().authenticate_client(request, *args, **kwargs)
        if _param(request, "client_assertion_type") != client_assertion.ASSERTION_TYPE or not assertion:
            log.info("refused client assertion: wrong or missing client_assertion_type")
            return False
        issuer = client_assertion.unverified_issuer(assertion)
        registration = (
            ClientRegistration.objects.select_related("application").filter(application__client_id=issuer).first()
        )
        if registration is None:
            return False
        try:
            client_assertion.verify(assertion, client_id=_param(request, "client_id"), registration=registration,
                                    token_urls=self._token_urls(request))
        except client_assertion.AssertionError_ as exc:
            log.info("refused client assertion from %s: %s", issuer, exc)
            return False
        request.client = registration.application
        request.client_id = issuer
        return True

    def _token_urls(self, request: Request) -> list[str]:
        """The token endpoint as the client may name it in `aud`: this host (either scheme), or the configured base."""
        host = self.build_http_request(request).get_host()
        path = request.uri.split("?", 1)[0]
        urls = [f"{scheme}://{host}{path}" for scheme in ("https", "http")]
        if settings.FHIR.get("BASE_URL"):
            urls.append(endpoints(settings.FHIR["BASE_URL"])["token"])
        return urls

    # --- PKCE: required of public clients (SMART), optional for confidential ones (SMART v1 kits) -----
    def is_pkce_required(self, client_id, request):
        client = getattr(request, "client", None) or self._load_application(client_id, request)
        return client is None or client.client_type == client.CLIENT_PUBLIC

    # --- scopes ---------------------------------------------------------------------------------------
    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        registration = getattr(client, "smart", None)
        if registration is None:
            return False
        requested = " ".join(scopes)
        try:
            parsed = parse_scopes(requested)
        except ScopeError:
            return False
        if request.grant_type == "client_credentials" and any(r.context != "system" for r in parsed.rules):
            return False  # no user and no patient to stand for: backend services hold system/ scopes
        return registration_allows(registration.scopes, requested)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        registration = getattr(request.client, "smart", None)
        return registration.scopes.split() if registration else []

    # --- launch context -----------------------------------------------------------------------------
    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        grant = self._create_authorization_code(request, code)
        context = _param(request, "smart_context")
        if context:
            TokenContext.objects.create(grant=grant, **context)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        valid = super().validate_code(client_id, code, client, request, *args, **kwargs)
        if valid:
            context = TokenContext.objects.filter(grant__code=code, grant__application=client).first()
            request.smart_context = context.as_dict() if context else None
        return valid

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if valid:
            context = TokenContext.objects.filter(refresh_token=request.refresh_token_instance).first()
            request.smart_context = context.as_dict() if context else None
        return valid

    def save_bearer_token(self, token, request, *args, **kwargs):
        if request.grant_type == "authorization_code" and not parse_scopes(" ".join(request.scopes)).wants_refresh:
            token.pop("refresh_token", None)
        super().save_bearer_token(token, request, *args, **kwargs)
        context = _param(request, "smart_context") or {}
        if context.get("patient"):
            token["patient"] = context["patient"]
            token["need_patient_banner"] = True
        if context.get("encounter"):
            token["encounter"] = context["encounter"]

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        context = _param(request, "smart_context")
        if context:
            TokenContext.objects.create(access_token=access_token, **context)
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        context = _param(request, "smart_context")
        if context:
            TokenContext.objects.create(refresh_token=refresh_token, **context)
        return refresh_token

    # --- OpenID Connect --------------------------------------------------------------------------
    def get_additional_claims(self, request):
        context = _param(request, "smart_context") or {}
        claims = {}
        if "fhirUser" in request.scopes and context.get("fhir_user"):
            claims["fhirUser"] = context["fhir_user"]
        if request.user is not None:
            claims["preferred_username"] = request.user.get_username()
        return claims




class SmartScopesBackend:
    """DOT's scopes backend for open-ended SMART scopes: any parseable scope has a description."""

    class _Descriptions(dict):
        def __missing__(self, scope: str) -> str:
            return describe(scope)

    def get_all_scopes(self):
        return self._Descriptions()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        registration = getattr(application, "smart", None)
        return registration.scopes.split() if registration else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)
