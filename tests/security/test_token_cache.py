"""The per-process token cache (security/tokens.py): a cached token still stops working the moment it is
revoked, expires or loses a scope, and what one token's Access remembers never serves another token."""
import time

import pytest
from oauth2_provider.models import AccessToken

from fhirserver.security import tokens

pytestmark = pytest.mark.django_db


def _stored(token: str) -> AccessToken:
    return AccessToken.objects.get(token_checksum=tokens.checksum(token))


def test_a_cached_token_revoked_is_refused_at_once(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/*.rs")
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200  # now cached
    _stored(token).revoke()
    assert fhir.get("Patient/a", **bearer(token)).status_code == 401


def test_a_cached_token_that_expires_is_refused(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/*.rs", expires_in=1)
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200
    time.sleep(1.1)
    assert fhir.get("Patient/a", **bearer(token)).status_code == 401


def test_a_cached_token_narrowed_loses_the_scope_at_once(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/*.rs")
    assert fhir.get("Observation/lab-a", **bearer(token)).status_code == 200
    stored = _stored(token)
    stored.scope = "system/Patient.rs"
    stored.save()
    assert fhir.get("Observation/lab-a", **bearer(token)).status_code == 403
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200


def test_what_one_token_works_out_never_serves_another(secure, fhir, two_patients, token_for, bearer):
    wide, narrow = token_for("system/*.rs"), token_for("system/Patient.rs")
    for _ in range(2):
        assert fhir.get("Observation/lab-a", **bearer(wide)).status_code == 200
        assert fhir.get("Observation/lab-a", **bearer(narrow)).status_code == 403
    confined = token_for("patient/*.rs", patient="a")
    assert fhir.get("Observation/lab-a", **bearer(confined)).status_code == 200
    assert fhir.get("Observation/lab-b", **bearer(confined)).status_code == 403
