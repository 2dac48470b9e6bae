"""What SMART adds to django-oauth-toolkit's clients, grants and tokens, and the audit log.

DOT owns Application, Grant, AccessToken and RefreshToken; these rows hang off them (cascading
with them) so DOT's own tables stay untouched.
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken


def new_launch_id() -> str:
    return secrets.token_urlsafe(24)


class ClientRegistration(models.Model):
    """A SMART client's registration beyond DOT's: the scopes it may ask for and its public keys."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="smart")
    scopes = models.TextField(help_text="Space-separated scopes the client may request (upper bound)")
    jwks = models.JSONField(null=True, blank=True, help_text="Public JWKS for private_key_jwt (inline)")
    jwks_uri = models.URLField(blank=True, help_text="Where the client publishes its JWKS (fetched only from here)")
    launch_uri = models.URLField(blank=True, help_text="Where the EHR launches the app")


class LaunchContext(models.Model):
    """An EHR launch: the context the server minted, handed to the app as the opaque `launch` value."""

    launch = models.CharField(max_length=64, unique=True, default=new_launch_id)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
    patient = models.CharField(max_length=64, blank=True)
    encounter = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)


class FhirUser(models.Model):
    """Which FHIR resource (Practitioner/123, Patient/9...) a signed-in user is, for `fhirUser`."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fhir_identity")
    resource = models.CharField(max_length=140)


class TokenContext(models.Model):
    """The launch context granted with a code, an access token or a refresh token (one of the three)."""

    grant = models.OneToOneField(Grant, null=True, on_delete=models.CASCADE, related_name="smart_context")
    access_token = models.OneToOneField(AccessToken, null=True, on_delete=models.CASCADE, related_name="smart_context")
    refresh_token = models.OneToOneField(
        RefreshToken, null=True, on_delete=models.CASCADE, related_name="smart_context"
    )
    patient = models.CharField(max_length=64, blank=True)
    encounter = models.CharField(max_length=64, blank=True)
    fhir_user = models.CharField(max_length=140, blank=True)

    def as_dict(self) -> dict:
        return {"patient": self.patient, "encounter": self.encounter, "fhir_user": self.fhir_user}


class AuditRecord(models.Model):
    """One access to the FHIR API: append-only (never updated), served as AuditEvent resources."""

    recorded = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=1)  # C R U D E (AuditEvent.action)
    interaction = models.CharField(max_length=32)  # read, search-type, create, transaction, operation...
    method = models.CharField(max_length=8)
    path = models.TextField()  # path and query as requested
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    status = models.PositiveSmallIntegerField()
    client_id = models.CharField(max_length=100, blank=True)  # indexed with `recorded` (Meta)
    username = models.CharField(max_length=150, blank=True)
    fhir_user = models.CharField(max_length=140, blank=True)
    patient = models.CharField(max_length=64, blank=True)
    address = models.GenericIPAddressField(null=True)
    request_id = models.CharField(max_length=128, blank=True)
    # Set by the audit spool (security/spool.py): a record drained twice is stored once.
    key = models.UUIDField(unique=True, null=True, editable=False)

    class Meta:
        # Every index is paid by every request's record: only those the AuditEvent search uses (no
        # LIKE indexes, no client_id index of its own beside the composite one that starts with it).
        indexes = [
            models.Index(fields=["client_id", "recorded"], name="audit_client_recorded"),
            models.Index(fields=["patient"], name="audit_patient"),
        ]


class RateCounter(models.Model):
    """A rate-limit window's count, shared by every worker when the cache is the database (no Redis):
    one atomic upsert per count, where Django's database cache would read and then write."""

    key = models.CharField(max_length=255, primary_key=True)
    count = models.BigIntegerField(default=0)
    expires = models.FloatField(db_index=True)  # epoch seconds; expired rows are swept now and then
