"""OAuth flows over HTTP (Django's test client): standalone and EHR launch, refresh, backend services,
introspection, revocation, and the SMART test kits' negative cases."""
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.contrib.auth import get_user_model

from fhirserver.security import services
from fhirserver.security.models import FhirUser
from tests.security.oauth_helpers import LAUNCH_SCOPES, REDIRECT, basic, client_assertion, client_key, pkce

pytestmark = pytest.mark.django_db
BASE = "http://testserver/fhir"
TOKEN_URL = "http://testserver/oauth2/token"


@pytest.fixture
def clinician(db):
    user = get_user_model().objects.create_user("clinician", password="s3cret-pass")
    FhirUser.objects.create(user=user, resource="Practitioner/doc")
    return user


@pytest.fixture
def app(db):
    return services.client_create(name="Growth chart", scopes=LAUNCH_SCOPES + " launch online_access patient/*.cruds",
                                  grant="authorization_code", redirect_uris=[REDIRECT], public=True)


def authorize_params(app, challenge, **overrides):
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT, "scope": LAUNCH_SCOPES,
              "state": "st-123", "aud": BASE, "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def approve(client, params, patient="a"):
    """Open the consent page, then allow it with `patient` picked; return the redirect's query."""
    page = client.get("/oauth2/authorize", params)
    assert page.status_code == 200, page.content[:500]
    form = {**params, "allow": "Authorize"}
    if patient:
        form["patient"] = patient
    response = client.post("/oauth2/authorize?" + urlencode(params), form)
    assert response.status_code == 302, response.content[:500]
    return parse_qs(urlsplit(response["Location"]).query)


def exchange(client, app, code, verifier, **extra):
    return client.post("/oauth2/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                         "client_id": app["client_id"], "code_verifier": verifier, **extra})


def test_standalone_launch_with_picker_pkce_id_token_and_refresh(secure, client, fhir, two_patients, clinician, app):
    client.force_login(clinician)
    verifier, challenge = pkce()
    params = authorize_params(app, challenge)
    page = client.get("/oauth2/authorize", params)
    assert b"patient-picker" in page.content and b"FamilyA" in page.content and b"FamilyB" in page.content
    redirect = approve(client, params, patient="a")
    assert redirect["state"] == ["st-123"]
    response = exchange(client, app, redirect["code"][0], verifier)
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["patient"] == "a" and token["token_type"] == "Bearer" and token["refresh_token"]
    assert set(token["scope"].split()) == set(LAUNCH_SCOPES.split())
    assert response["Cache-Control"] == "no-store"
    # the id_token is signed with the key the JWKS endpoint serves, and names the fhirUser
    jwks = client.get("/oauth2/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks).keys[0].key
    claims = jwt.decode(token["id_token"], key, algorithms=["RS256"], audience=app["client_id"])
    assert (
        claims["fhirUser"] == "Practitioner/doc"
        and claims["iss"] == client.get("/fhir/.well-known/smart-configuration").json()["issuer"]
    )
    # the token works, confined to the patient picked
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert fhir.get("Patient/a", **auth).status_code == 200
    assert fhir.get("Patient/b", **auth).status_code == 403
    # refresh keeps the launch context
    refreshed = client.post(
        "/oauth2/token",
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": app["client_id"]},
    )
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["patient"] == "a"
    again = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert fhir.get("Observation/lab-a", **again).status_code == 200
    assert fhir.get("Observation/lab-b", **again).status_code == 403
    # the rotated-out refresh token is dead
    stale = client.post(
        "/oauth2/token",
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": app["client_id"]},
    )
    assert stale.status_code == 400


def test_no_refresh_token_without_offline_or_online_access(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    verifier, challenge = pkce()
    redirect = approve(client, authorize_params(app, challenge, scope="launch/patient patient/*.rs"))
    token = exchange(client, app, redirect["code"][0], verifier).json()
    assert "refresh_token" not in token and token["patient"] == "a"


def test_picker_insists_on_a_patient(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    _, challenge = pkce()
    params = authorize_params(app, challenge)
    response = client.post("/oauth2/authorize?" + urlencode(params), {**params, "allow": "Authorize"})
    assert response.status_code == 302 and response["Location"].startswith("/oauth2/authorize?")
    assert "Choose+a+patient" in response["Location"] or "Choose%20a%20patient" in response["Location"]


def test_login_required_before_consent(secure, client, two_patients, app):
    _, challenge = pkce()
    response = client.get("/oauth2/authorize", authorize_params(app, challenge))
    assert response.status_code == 302 and response["Location"].startswith("/oauth2/login")


def test_ehr_launch_carries_minted_context(secure, client, fhir, two_patients, clinician, app):
    client.force_login(clinician)
    minted = client.post("/oauth2/launch", {"patient": "b", "encounter": "enc-b"})
    assert minted.status_code == 200 and minted.json()["iss"] == BASE
    launch = minted.json()["launch"]
    verifier, challenge = pkce()
    params = authorize_params(app, challenge, scope="launch openid fhirUser patient/*.rs", launch=launch)
    page = client.get("/oauth2/authorize", params)
    assert page.status_code == 200 and b"patient-picker" not in page.content
    redirect = approve(client, params, patient=None)
    token = exchange(client, app, redirect["code"][0], verifier).json()
    assert token["patient"] == "b" and token["encounter"] == "enc-b"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert fhir.get("Observation/lab-b", **auth).status_code == 200
    assert fhir.get("Observation/lab-a", **auth).status_code == 403


def test_unknown_launch_refused(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    _, challenge = pkce()
    response = client.get(
        "/oauth2/authorize", authorize_params(app, challenge, scope="launch patient/*.rs", launch="made-up")
    )
    assert response.status_code == 302 and "error=invalid_request" in response["Location"]


@pytest.mark.parametrize("overrides, reason", [
    ({"aud": "https://elsewhere.example/fhir"}, "aud"),
    ({"aud": None}, "aud"),
    ({"code_challenge_method": "plain"}, "S256"),
    ({"code_challenge_method": None, "code_challenge": None}, "challenge"),
])
def test_authorize_refusals_go_back_to_the_app(secure, client, two_patients, clinician, app, overrides, reason):
    client.force_login(clinician)
    _, challenge = pkce()
    response = client.get("/oauth2/authorize", authorize_params(app, challenge, **overrides))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(REDIRECT)
    assert (
        query["error"] == ["invalid_request"]
        and reason.lower() in query["error_description"][0].lower()
        and query["state"] == ["st-123"]
    )


def test_unregistered_redirect_uri_is_never_redirected_to(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    _, challenge = pkce()
    response = client.get("/oauth2/authorize", authorize_params(app, challenge, redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400


def test_code_is_single_use_and_needs_the_verifier(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    verifier, challenge = pkce()
    code = approve(client, authorize_params(app, challenge))["code"][0]
    wrong = exchange(client, app, code, "x" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    verifier2, challenge2 = pkce()
    code2 = approve(client, authorize_params(app, challenge2))["code"][0]
    assert exchange(client, app, code2, verifier2).status_code == 200
    reused = exchange(client, app, code2, verifier2)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_bad_grant_type_and_scope(secure, client, app):
    response = client.post(
        "/oauth2/token", {"grant_type": "password", "username": "x", "password": "y", "client_id": app["client_id"]}
    )
    assert response.status_code == 400 and response.json()["error"] in (
        "unsupported_grant_type",
        "unauthorized_client",
        "invalid_grant",
    )
    response = client.post("/oauth2/token", {"grant_type": "made_up", "client_id": app["client_id"]})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_scopes_beyond_registration_refused(secure, client, two_patients, clinician, app):
    client.force_login(clinician)
    _, challenge = pkce()
    response = client.get("/oauth2/authorize", authorize_params(app, challenge, scope="user/*.cruds"))
    assert response.status_code == 302 and "error=invalid_scope" in response["Location"]


# --- confidential clients, introspection and revocation ----------------------------------------
def test_confidential_client_introspects_and_revokes(secure, client, fhir, two_patients, token_for):
    resource_server = services.client_create(name="Resource server", scopes="system/*.rs")
    credentials = basic(resource_server["client_id"], resource_server["client_secret"])
    token = token_for("patient/*.rs", patient="a")
    answer = client.post("/oauth2/introspect", {"token": token}, HTTP_AUTHORIZATION=credentials).json()
    assert answer["active"] is True and answer["patient"] == "a" and answer["scope"] == "patient/*.rs" and answer["exp"]
    assert client.post("/oauth2/introspect", {"token": "nope"}, HTTP_AUTHORIZATION=credentials).json() == {
        "active": False
    }
    assert client.post("/oauth2/introspect", {"token": token}).status_code in (401, 403)  # introspection needs a client
    auth = {"Authorization": f"Bearer {token}"}
    assert fhir.get("Patient/a", **auth).status_code == 200
    from oauth2_provider.models import AccessToken

    owner = (
        AccessToken.objects.select_related("application")
        .get(token_checksum=__import__("hashlib").sha256(token.encode()).hexdigest())
        .application
    )
    revoked = client.post("/oauth2/revoke", {"token": token, "client_id": owner.client_id}, HTTP_AUTHORIZATION="")
    assert revoked.status_code in (200, 401)
    if revoked.status_code == 401:  # confidential owner: it must authenticate to revoke
        secret_client = services.client_create(name="Revoker", scopes="patient/*.rs")
        token = services.token_issue(client_id=secret_client["client_id"], scopes="patient/*.rs", patient="a")
        auth = {"Authorization": f"Bearer {token}"}
        assert fhir.get("Patient/a", **auth).status_code == 200
        revoked = client.post(
            "/oauth2/revoke",
            {"token": token},
            HTTP_AUTHORIZATION=basic(secret_client["client_id"], secret_client["client_secret"]),
        )
        assert revoked.status_code == 200
    assert fhir.get("Patient/a", **auth).status_code == 401
    assert client.post("/oauth2/introspect", {"token": token}, HTTP_AUTHORIZATION=credentials).json() == {
        "active": False
    }


def test_confidential_symmetric_client_uses_its_secret(secure, client):
    service = services.client_create(name="Nightly export", scopes="system/*.rs")
    ok = client.post("/oauth2/token", {"grant_type": "client_credentials", "scope": "system/Observation.rs"},
                     HTTP_AUTHORIZATION=basic(service["client_id"], service["client_secret"]))
    assert ok.status_code == 200 and ok.json()["scope"] == "system/Observation.rs"
    bad = client.post("/oauth2/token", {"grant_type": "client_credentials", "scope": "system/Observation.rs"},
                      HTTP_AUTHORIZATION=basic(service["client_id"], "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


# --- backend services: private_key_jwt --------------------------------------------------------
@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_backend_service_with_signed_assertion(secure, client, fhir, two_patients, alg):
    private, kid, jwks = client_key(alg)
    service = services.client_create(name=f"Backend {alg}", scopes="system/*.rs", jwks=jwks)
    assert service["client_secret"] is None
    form = {"grant_type": "client_credentials", "scope": "system/*.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(service["client_id"], TOKEN_URL, private, kid, alg)}
    response = client.post("/oauth2/token", form)
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["scope"] == "system/*.rs" and token["expires_in"] > 0 and "refresh_token" not in token
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert fhir.get("Observation/lab-b", **auth).status_code == 200
    assert fhir.put("Patient/a", {"resourceType": "Patient", "id": "a"}, **auth).status_code == 403
    replay = client.post("/oauth2/token", form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"


def test_backend_service_negative_cases(secure, client):
    private, kid, jwks = client_key("RS384")
    service = services.client_create(name="Backend", scopes="system/*.rs", jwks=jwks)
    other_key, _, _ = client_key("RS384")
    cid = service["client_id"]
    cases = {
        "wrong key": client_assertion(cid, TOKEN_URL, other_key, kid),
        "wrong aud": client_assertion(cid, "https://elsewhere.example/token", private, kid),
        "expired": client_assertion(cid, TOKEN_URL, private, kid, exp=1_000_000),
        "too long-lived": client_assertion(cid, TOKEN_URL, private, kid, exp=4_000_000_000),
        "sub differs": client_assertion(cid, TOKEN_URL, private, kid, sub="someone-else"),
        "unknown kid": client_assertion(cid, TOKEN_URL, private, "no-such-kid"),
        "not a jwt": "abc.def.ghi",
    }
    for name, assertion in cases.items():
        response = client.post(
            "/oauth2/token",
            {
                "grant_type": "client_credentials",
                "scope": "system/*.rs",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_client", name
    wrong_type = client.post(
        "/oauth2/token",
        {
            "grant_type": "client_credentials",
            "scope": "system/*.rs",
            "client_assertion_type": "urn:x",
            "client_assertion": client_assertion(cid, TOKEN_URL, private, kid),
        },
    )
    assert wrong_type.status_code == 400
    patient_scope = client.post(
        "/oauth2/token",
        {
            "grant_type": "client_credentials",
            "scope": "patient/*.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(cid, TOKEN_URL, private, kid),
        },
    )
    assert patient_scope.status_code == 400 and patient_scope.json()["error"] == "invalid_scope"


def test_openid_configuration_matches_smart_discovery(secure, client):
    smart = client.get("/fhir/.well-known/smart-configuration").json()
    oidc = client.get("/oauth2/.well-known/openid-configuration")
    assert oidc.status_code == 200
    assert oidc.json()["issuer"] == smart["issuer"]
    assert oidc.json()["jwks_uri"] == smart["jwks_uri"]
    assert smart["token_endpoint"] == "http://testserver/oauth2/token"
    assert client.get("/oauth2/.well-known/jwks.json").json()["keys"][0]["kty"] == "RSA"


def test_backend_service_keys_fetched_from_its_registered_jwks_uri(secure, client):
    """A client that registered a JWKS URL: keys are fetched from there (and only there)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    private, kid, jwks = client_key("ES384")
    served = []

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keyserver = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=keyserver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{keyserver.server_port}/jwks.json"
        service = services.client_create(name="Remote keys", scopes="system/*.rs", jwks_uri=url)
        form = {"grant_type": "client_credentials", "scope": "system/*.rs",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": client_assertion(service["client_id"], TOKEN_URL, private, kid, "ES384")}
        assert client.post("/oauth2/token", form).status_code == 200
        assert served == ["/jwks.json"]
    finally:
        keyserver.shutdown()


def test_patient_scopes_without_a_patient_reach_nothing(secure, client, fhir, two_patients, clinician, app):
    """An app that asked for patient/ scopes but no launch/patient (and no EHR launch) gets no patient."""
    client.force_login(clinician)
    verifier, challenge = pkce()
    redirect = approve(client, authorize_params(app, challenge, scope="patient/*.rs"), patient=None)
    token = exchange(client, app, redirect["code"][0], verifier).json()
    assert "patient" not in token
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert fhir.get("Observation?code=2345-7", **auth).status_code == 403
    assert fhir.get("Observation/lab-a", **auth).status_code == 403
