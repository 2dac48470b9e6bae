"""Rate limits: per client and per IP on the API and the token endpoint, 429 with Retry-After."""
import pytest

from tests.security.oauth_helpers import basic

pytestmark = pytest.mark.django_db


def limits(settings, **values):
    settings.FHIR = {**settings.FHIR, "RATE_LIMITS": {"API_PER_CLIENT": "0", "API_PER_IP": "0", "TOKEN_PER_CLIENT": "0",
                                                      "TOKEN_PER_IP": "0", **values}}


def test_api_per_client(secure, fhir, two_patients, token_for, bearer):
    limits(secure, API_PER_CLIENT="3/60")
    first, second = token_for("system/*.rs"), token_for("system/*.rs")
    for _ in range(3):
        assert fhir.get("Patient/a", **bearer(first)).status_code == 200
    refused = fhir.get("Patient/a", **bearer(first))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["issue"][0]["code"] == "throttled"
    assert fhir.get("Patient/a", **bearer(second)).status_code == 200  # another client has its own budget


def test_api_per_ip(secure, fhir, two_patients, token_for, bearer):
    limits(secure, API_PER_IP="2/60")
    token = token_for("system/*.rs")
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200
    assert (
        fhir.client.get("/fhir/Patient/a", REMOTE_ADDR="10.0.0.9", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        == 200
    )
    assert fhir.get("Patient/a", **bearer(token)).status_code == 200
    refused = fhir.get("Patient/a", **bearer(token))
    assert refused.status_code == 429 and refused["Retry-After"]
    assert fhir.get("metadata").status_code == 200  # discovery and metadata stay reachable


def test_token_endpoint_per_client_and_ip(secure, client):
    from fhirserver.security import services

    limits(secure, TOKEN_PER_CLIENT="2/60")
    service = services.client_create(name="Busy", scopes="system/*.rs")
    credentials = basic(service["client_id"], service["client_secret"])
    form = {"grant_type": "client_credentials", "scope": "system/*.rs"}
    for _ in range(2):
        assert client.post("/oauth2/token", form, HTTP_AUTHORIZATION=credentials).status_code == 200
    refused = client.post("/oauth2/token", form, HTTP_AUTHORIZATION=credentials)
    assert refused.status_code == 429 and refused["Retry-After"] and refused.json()["error"] == "slow_down"
    other = services.client_create(name="Quiet", scopes="system/*.rs")
    assert (
        client.post(
            "/oauth2/token", form, HTTP_AUTHORIZATION=basic(other["client_id"], other["client_secret"])
        ).status_code
        == 200
    )
    limits(secure, TOKEN_PER_IP="1/60")
    assert (
        client.post(
            "/oauth2/token",
            form,
            REMOTE_ADDR="10.1.1.1",
            HTTP_AUTHORIZATION=basic(other["client_id"], other["client_secret"]),
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/oauth2/token",
            form,
            REMOTE_ADDR="10.1.1.1",
            HTTP_AUTHORIZATION=basic(other["client_id"], other["client_secret"]),
        ).status_code
        == 429
    )
