"""Keyword-only services behind the views and management commands: clients, tokens, launches."""
from __future__ import annotations

import calendar
import hashlib
import json
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, set_token_value
from oauthlib.common import generate_token

from fhirserver.security.models import ClientRegistration, FhirUser, LaunchContext, TokenContext
from fhirserver.security.scopes import Scopes, parse_scopes, registration_allows
from fhirserver.storage.models import ResourceRecord
from resources.names import display_name

LAUNCH_SECONDS = 3600
GRANTS = {
    "authorization_code": Application.GRANT_AUTHORIZATION_CODE,
    "client_credentials": Application.GRANT_CLIENT_CREDENTIALS,
}


class LaunchError(ValueError):
    """A launch or patient choice that cannot be honoured (unknown patient, expired launch...)."""


# --- clients -------------------------------------------------------------------------------------
@transaction.atomic
def client_create(*, name: str, scopes: str, grant: str = "client_credentials", redirect_uris: list[str] | None = None,
                  public: bool = False, jwks: dict | None = None, jwks_uri: str = "", launch_uri: str = "") -> dict:
    """Register a client; return its id and (confidential, symmetric clients only) its secret, once."""
    parse_scopes(scopes)  # ScopeError on anything we would never grant
    if grant not in GRANTS:
        raise ValueError(f"grant must be one of {sorted(GRANTS)}")
    if grant == "authorization_code" and not redirect_uris:
        raise ValueError("an authorization_code client needs at least one redirect URI")
    if public and grant == "client_credentials":
        raise ValueError("a public client cannot use client_credentials")
    secret = None if public or jwks or jwks_uri else generate_client_secret()
    application = Application(
        name=name, client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=GRANTS[grant], redirect_uris=" ".join(redirect_uris or []),
        algorithm=Application.RS256_ALGORITHM, skip_authorization=False,
        client_secret=secret or generate_client_secret(),  # asymmetric clients never learn theirs
    )
    application.save()
    ClientRegistration.objects.create(
        application=application, scopes=scopes, jwks=jwks, jwks_uri=jwks_uri, launch_uri=launch_uri
    )
    return {
        "client_id": application.client_id,
        "client_secret": secret,
        "name": name,
        "grant_type": grant,
        "client_type": application.client_type,
        "scopes": scopes,
        "redirect_uris": redirect_uris or [],
        "token_endpoint_auth_method": "none"
        if public
        else ("private_key_jwt" if (jwks or jwks_uri) else "client_secret_basic"),
    }


def read_jwks(path: str | Path) -> dict:
    jwks = json.loads(Path(path).read_text())
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{path} is not a JWKS (an object with a 'keys' array)")
    if any("d" in key for key in jwks["keys"]):
        raise ValueError(f"{path} holds a private key; register only the public JWKS")
    return jwks


# --- tokens --------------------------------------------------------------------------------------
@transaction.atomic
def token_issue(*, client_id: str, scopes: str, patient: str | None = None, user: str | None = None,
                expires_in: int = 3600) -> str:
    """Mint an access token directly (scripts, test harnesses, the demo): same checks as OAuth."""
    application = Application.objects.select_related("smart").filter(client_id=client_id).first()
    if application is None:
        raise ValueError(f"no client with id {client_id}")
    parsed = parse_scopes(scopes)
    patient = patient.removeprefix("Patient/") if patient else patient  # the context holds bare ids
    if not registration_allows(application.smart.scopes, scopes):
        raise ValueError(
            f"client {client_id} is not registered for '{scopes}' (registered: {application.smart.scopes})"
        )
    if any(r.context == "patient" for r in parsed.rules) and not patient:
        raise ValueError("patient/ scopes need --patient")
    if patient and not _patient_exists(patient):
        raise ValueError(f"Patient/{patient} does not exist")
    account = get_user_model().objects.get(username=user) if user else None
    raw = generate_token()
    token = AccessToken(
        user=account, application=application, scope=scopes, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    set_token_value(token, raw)
    token.save()
    fhir_user = _fhir_user_of(account)
    if patient or fhir_user:
        TokenContext.objects.create(access_token=token, patient=patient or "", fhir_user=fhir_user or "")
    return raw


def introspect(raw: str | None) -> dict:
    """RFC 7662 answer, with SMART's patient and fhirUser when the token carries them."""
    if not raw:
        return {"active": False}
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    token = (
        AccessToken.objects.select_related("application", "user", "smart_context")
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or not token.is_valid():
        return {"active": False}
    data = {
        "active": True,
        "scope": token.scope,
        "client_id": token.application.client_id if token.application else None,
        "exp": int(calendar.timegm(token.expires.utctimetuple())),
        "token_type": "Bearer",
    }
    if token.user:
        data["username"] = token.user.get_username()
        data["sub"] = str(token.user.pk)
    context = getattr(token, "smart_context", None)
    if context and context.patient:
        data["patient"] = context.patient.removeprefix("Patient/")  # SMART: a bare id, as in the token response
    if context and context.fhir_user:
        data["fhirUser"] = context.fhir_user
    return data


# --- launch context ------------------------------------------------------------------------------
def launch_create(*, user, patient: str, encounter: str = "") -> LaunchContext:
    if not patient or not _patient_exists(patient):
        raise LaunchError(f"Patient/{patient} does not exist")
    return LaunchContext.objects.create(user=user, patient=patient, encounter=encounter)


def _live_launch(launch: str) -> LaunchContext | None:
    return LaunchContext.objects.filter(
        launch=launch, created__gt=timezone.now() - timedelta(seconds=LAUNCH_SECONDS)
    ).first()


def launch_exists(launch: str) -> bool:
    return _live_launch(launch) is not None


def launch_uri(client_id: str) -> str:
    registration = ClientRegistration.objects.filter(application__client_id=client_id).first()
    return registration.launch_uri if registration else ""


def launch_context_for(*, user, scopes: Scopes, launch: str | None, patient: str | None, approved: bool) -> dict | None:
    """The context an approved authorization carries: from the EHR launch, or the patient picked."""
    if not approved:
        return None
    context = {"patient": "", "encounter": "", "fhir_user": _fhir_user_of(user) or ""}
    if launch:
        minted = _live_launch(launch)
        if minted is None:
            raise LaunchError("the launch has expired")
        context.update(patient=minted.patient, encounter=minted.encounter)
    elif scopes.wants_patient:
        if not patient:
            raise LaunchError("Choose a patient to continue")
        if not _patient_exists(patient):
            raise LaunchError(f"Patient/{patient} does not exist")
        context["patient"] = patient
    return context


def patient_choices(text: str, limit: int = 200) -> list[dict]:
    """Patients for the picker: id and a readable name, filtered by `text` in the name."""
    rows = (
        ResourceRecord.objects.filter(resource_type="Patient", deleted=False)
        .order_by("logical_id")
        .values_list("logical_id", "content")
    )
    choices, wanted = [], text.strip().lower()
    for logical_id, content in rows[:5000]:
        label = display_name(content or {}) or logical_id
        if not wanted or wanted in label.lower() or wanted == logical_id.lower():
            choices.append({"id": logical_id, "label": label, "birth_date": (content or {}).get("birthDate", "")})
        if len(choices) >= limit:
            break
    return choices


def _patient_exists(patient: str) -> bool:
    return ResourceRecord.objects.filter(resource_type="Patient", logical_id=patient, deleted=False).exists()


def _fhir_user_of(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    link = FhirUser.objects.filter(user=user).first()
    return link.resource if link else None


# --- the demo ------------------------------------------------------------------------------------
DEMO_CLIENT = "demo-cli"


def demo_token(*, expires_in: int = 86400) -> str:
    """A system token for the demo (`make run` prints it): a fixed client, created on first use."""
    if not Application.objects.filter(client_id=DEMO_CLIENT).exists():
        application = Application.objects.create(
            client_id=DEMO_CLIENT, name="Demo command line", client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=generate_client_secret())
        ClientRegistration.objects.create(application=application, scopes="system/*.cruds")
    return token_issue(client_id=DEMO_CLIENT, scopes="system/*.cruds", expires_in=expires_in)

