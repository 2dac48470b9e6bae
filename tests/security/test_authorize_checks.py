"""issue 16: the authorization request is checked before anyone is asked to sign in (RFC 6749 4.1.2.1).

A bad client or redirect_uri gets an error page and never a redirect (it could be an open redirector);
every other mistake goes back to the registered redirect_uri with the error and the state. The token
and introspection answers carry what the SMART kits read."""
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model

from fhirserver.security import services
from tests.security.oauth_helpers import LAUNCH_SCOPES, REDIRECT, basic, pkce

pytestmark = pytest.mark.django_db
BASE = "http://testserver/fhir"


@pytest.fixture
def public_app(db):
    return services.client_create(name="Public app", scopes=LAUNCH_SCOPES + " launch", grant="authorization_code",
                                  redirect_uris=[REDIRECT], public=True)


@pytest.fixture
def confidential_app(db):
    return services.client_create(name="Confidential app", scopes=LAUNCH_SCOPES, grant="authorization_code",
                                  redirect_uris=[REDIRECT])


def params_for(app, **overrides):
    _, challenge = pkce()
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT,
              "scope": LAUNCH_SCOPES, "state": "st-42", "aud": BASE, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def back_to_app(response) -> dict:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith(REDIRECT + "?"), response["Location"]
    return parse_qs(urlsplit(response["Location"]).query)


def test_unknown_client_gets_an_error_page_not_the_login(secure, client):
    response = client.get("/oauth2/authorize", {"response_type": "code", "client_id": "no-such-client",
                                                "redirect_uri": REDIRECT, "code_challenge": "x" * 43,
                                                "code_challenge_method": "plain", "state": "s", "aud": BASE})
    assert response.status_code == 400 and "Location" not in response
    assert b"Authorization refused" in response.content and b"client" in response.content.lower()


def test_unregistered_redirect_uri_gets_an_error_page_not_the_login(secure, client, public_app):
    response = client.get("/oauth2/authorize", params_for(public_app, redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400 and "Location" not in response
    assert b"Authorization refused" in response.content


def test_missing_client_id_gets_an_error_page(secure, client, public_app):
    response = client.get("/oauth2/authorize", params_for(public_app, client_id=None))
    assert response.status_code == 400 and "Location" not in response


@pytest.mark.parametrize("overrides, error, words", [
    ({"aud": None}, "invalid_request", "aud"),
    ({"aud": "https://elsewhere.example/fhir"}, "invalid_request", "aud"),
    ({"aud": BASE + "/Patient"}, "invalid_request", "aud"),
    ({"code_challenge_method": "plain"}, "invalid_request", ""),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", "challenge"),
    ({"scope": "launch/patient patient/Observation.bogus"}, "invalid_scope", ""),
    ({"scope": "patient/*.rs made-up-scope"}, "invalid_scope", ""),
    ({"scope": "system/*.cruds"}, "invalid_scope", ""),
    ({"scope": "launch patient/*.rs", "launch": "never-minted"}, "invalid_request", "launch"),
    ({"response_type": "token"}, "unauthorized_client", ""),  # implicit: not this client's grant
    ({"response_type": "made_up"}, "unsupported_response_type", ""),
])
def test_mistakes_go_back_to_the_app_before_sign_in(secure, client, public_app, overrides, error, words):
    query = back_to_app(client.get("/oauth2/authorize", params_for(public_app, **overrides)))
    assert query["error"] == [error] and query["state"] == ["st-42"]
    assert "code" not in query
    if words:
        assert words in query["error_description"][0].lower()


def test_a_valid_request_asks_for_sign_in_and_keeps_the_request(secure, client, public_app):
    params = params_for(public_app)
    response = client.get("/oauth2/authorize", params)
    assert response.status_code == 302 and response["Location"].startswith("/oauth2/login")
    following = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert parse_qs(urlsplit(following).query)["state"] == ["st-42"]


def test_confidential_client_may_skip_pkce_but_not_use_plain(secure, client, two_patients, confidential_app):
    """SMART v1 kits launch confidential clients without PKCE; plain is refused from anyone."""
    plain = client.get("/oauth2/authorize", params_for(confidential_app, code_challenge_method="plain"))
    assert back_to_app(plain)["error"] == ["invalid_request"]
    params = params_for(confidential_app, code_challenge=None, code_challenge_method=None)
    assert client.get("/oauth2/authorize", params)["Location"].startswith("/oauth2/login")
    user = get_user_model().objects.create_user("doc2", password="pw-12345678")
    client.force_login(user)
    assert client.get("/oauth2/authorize", params).status_code == 200
    done = client.post("/oauth2/authorize?" + urlencode(params), {**params, "allow": "Authorize", "patient": "a"})
    code = back_to_app(done)["code"][0]
    token = client.post("/oauth2/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                        HTTP_AUTHORIZATION=basic(confidential_app["client_id"], confidential_app["client_secret"]))
    assert token.status_code == 200, token.content
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["patient"] == "a"
    assert set(body["scope"].split()) == set(LAUNCH_SCOPES.split())
    assert token["Cache-Control"] == "no-store" and token["Pragma"] == "no-cache"
    reused = client.post("/oauth2/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                         HTTP_AUTHORIZATION=basic(confidential_app["client_id"], confidential_app["client_secret"]))
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_public_client_cannot_exchange_a_code_without_the_verifier(secure, client, two_patients, public_app):
    verifier, challenge = pkce()
    params = params_for(public_app, code_challenge=challenge)
    client.force_login(get_user_model().objects.create_user("doc3", password="pw-12345678"))
    done = client.post("/oauth2/authorize?" + urlencode(params), {**params, "allow": "Authorize", "patient": "a"})
    code = back_to_app(done)["code"][0]
    missing = client.post("/oauth2/token", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT, "client_id": public_app["client_id"]})
    assert missing.status_code == 400 and missing.json()["error"] in ("invalid_request", "invalid_grant")
    wrong_client = client.post("/oauth2/token", {"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": REDIRECT, "client_id": "no-such-client",
                                                 "code_verifier": verifier})
    assert wrong_client.status_code in (400, 401) and wrong_client.json()["error"] == "invalid_client"


def test_introspection_names_the_patient_by_bare_id(secure, client, two_patients):
    resource_server = services.client_create(name="Resource server", scopes="system/*.rs")
    app = services.client_create(name="CLI app", scopes="patient/*.rs")
    token = services.token_issue(client_id=app["client_id"], scopes="patient/*.rs", patient="Patient/a")
    answer = client.post("/oauth2/introspect", {"token": token},
                         HTTP_AUTHORIZATION=basic(resource_server["client_id"], resource_server["client_secret"]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["active"] is True and body["patient"] == "a" and body["scope"] == "patient/*.rs"
    assert body["client_id"] == app["client_id"] and isinstance(body["exp"], int)
