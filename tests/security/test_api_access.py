"""The API's door: 401 without a valid token, 403 without the scope, public metadata and discovery."""
import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

pytestmark = pytest.mark.django_db


def test_metadata_and_discovery_are_public(secure, fhir):
    assert fhir.get("metadata").status_code == 200
    config = fhir.client.get("/fhir/.well-known/smart-configuration", HTTP_ORIGIN="https://app.example")
    assert config.status_code == 200
    assert config["Access-Control-Allow-Origin"] in ("*", "https://app.example")
    body = config.json()
    assert body["code_challenge_methods_supported"] == ["S256"]
    for capability in ("launch-standalone", "launch-ehr", "client-public", "client-confidential-symmetric",
                       "client-confidential-asymmetric", "context-standalone-patient", "context-ehr-patient",
                       "permission-patient", "permission-user", "permission-v1", "permission-v2", "sso-openid-connect"):
        assert capability in body["capabilities"]
    for key in (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "jwks_uri",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "scopes_supported",
        "response_types_supported",
    ):
        assert body[key]
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]


def test_capability_statement_names_smart_and_oauth_uris(secure, fhir):
    security = fhir.get("metadata").json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"].endswith("/oauth2/token") and uris["authorize"].endswith("/oauth2/authorize")


def test_health_is_public(secure, client):
    assert client.get("/healthz").status_code == 200


def test_missing_token_is_401_with_challenge(secure, fhir, two_patients):
    response = fhir.get("Patient/a")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="fhir"') and "error=" in response["WWW-Authenticate"]
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_invalid_token_is_401(secure, fhir, two_patients, header):
    response = fhir.get("Patient/a", Authorization=header)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_expired_token_is_401(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/*.rs")
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200
    for stored in AccessToken.objects.all():  # as time passing would: the cached state must not outlive it
        stored.expires = timezone.now() - timezone.timedelta(seconds=1)
        stored.save()
    response = fhir.get("Patient/a", **bearer(token))
    assert response.status_code == 401 and "expired" in response.json()["issue"][0]["diagnostics"]


def test_token_without_scope_for_type_is_403(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/Patient.rs")
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200
    for path in ("Observation/lab-a", "Observation?code=2345-7", "Observation/lab-a/_history"):
        response = fhir.get(path, **bearer(token))
        assert response.status_code == 403, path
        assert response.json()["issue"][0]["code"] == "forbidden"
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_read_scope_does_not_write(secure, fhir, two_patients, token_for, bearer):
    token = token_for("system/*.read")
    body = {"resourceType": "Patient", "id": "a", "gender": "male"}
    assert fhir.put("Patient/a", body, **bearer(token)).status_code == 403
    assert fhir.post("Patient", {"resourceType": "Patient"}, **bearer(token)).status_code == 403
    assert fhir.delete("Patient/a", **bearer(token)).status_code == 403
    assert fhir.get("Patient/a", **bearer(token)).json()["gender"] == "female"


def test_v2_letters_are_distinct(secure, fhir, two_patients, token_for, bearer):
    create_only = token_for("system/Observation.c")
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/a"},
    }
    created = fhir.post("Observation", observation, **bearer(create_only))
    assert created.status_code == 201
    assert fhir.get("Observation/lab-a", **bearer(create_only)).status_code == 403
    read_only = token_for("system/Observation.r")
    assert fhir.get("Observation/lab-a", **bearer(read_only)).status_code == 200
    assert fhir.get("Observation?code=2345-7", **bearer(read_only)).status_code == 403  # r is not s


def test_v1_write_allows_update_and_delete(secure, fhir, two_patients, token_for, bearer):
    token = token_for("user/*.write user/*.read")
    condition = fhir.get("Condition/cond-a", **bearer(token)).json()
    assert (
        fhir.put("Condition/cond-a", {**condition, "code": {"text": "Type 2 diabetes"}}, **bearer(token)).status_code
        == 200
    )
    assert fhir.delete("Condition/cond-a", **bearer(token)).status_code in (200, 204)


def test_query_constrained_scope(secure, fhir, two_patients, token_for, bearer):
    token = token_for(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        patient="a",
    )
    assert fhir.get("Observation/lab-a", **bearer(token)).status_code == 200
    assert fhir.get("Observation/vital-a", **bearer(token)).status_code == 403
    found = fhir.get("Observation?subject=Patient/a", **bearer(token)).json()
    assert {e["resource"]["id"] for e in found.get("entry", [])} == {"lab-a"}


def test_security_off_still_enforces_a_presented_token(settings, fhir, two_patients, token_for, bearer):
    settings.FHIR = {**settings.FHIR, "AUTH_REQUIRED": False}
    assert fhir.get("Patient/a").status_code == 200  # trusted without a token
    assert fhir.get("Patient/a", Authorization="Bearer nope").status_code == 401
    token = token_for("patient/*.rs", patient="b")
    assert fhir.get("Patient/a", **bearer(token)).status_code == 403
