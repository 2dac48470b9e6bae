"""create_client and issue_token: automation gets a client and a working token without a browser."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.security.oauth_helpers import basic, client_key

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_create_client_and_issue_token(secure, fhir, two_patients, client):
    created = json.loads(run("create_client", "--name", "Nightly job", "--scopes", "system/*.read system/*.write"))
    assert created["client_id"] and created["client_secret"] and created["grant_type"] == "client_credentials"
    token = run("issue_token", "--client-id", created["client_id"], "--scopes", "system/*.read")
    assert fhir.get("Observation/lab-b", Authorization=f"Bearer {token}").status_code == 200
    assert fhir.post("Patient", {"resourceType": "Patient"}, Authorization=f"Bearer {token}").status_code == 403
    # the printed secret is the real one: the token endpoint accepts it
    response = client.post("/oauth2/token", {"grant_type": "client_credentials", "scope": "system/*.write"},
                           HTTP_AUTHORIZATION=basic(created["client_id"], created["client_secret"]))
    assert response.status_code == 200


def test_issue_token_with_patient_user_and_expiry(secure, fhir, two_patients):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("nurse")
    created = json.loads(
        run(
            "create_client",
            "--name",
            "Bedside",
            "--scopes",
            "patient/*.rs launch/patient openid",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "https://bedside.example/cb",
            "--public",
        )
    )
    assert created["client_secret"] is None and created["client_type"] == "public"
    token = run("issue_token", "--client-id", created["client_id"], "--scopes", "patient/*.rs", "--patient", "a",
                "--user", "nurse", "--expires-in", "0")
    assert fhir.get("Patient/a", Authorization=f"Bearer {token}").status_code == 401  # expired at birth
    token = run(
        "issue_token",
        "--client-id",
        created["client_id"],
        "--scopes",
        "patient/*.rs",
        "--patient",
        "a",
        "--user",
        "nurse",
    )
    assert fhir.get("Patient/a", Authorization=f"Bearer {token}").status_code == 200
    assert fhir.get("Patient/b", Authorization=f"Bearer {token}").status_code == 403


def test_commands_refuse_what_they_cannot_honour(secure, two_patients, tmp_path):
    created = json.loads(run("create_client", "--name", "Reader", "--scopes", "system/*.rs"))
    with pytest.raises(CommandError, match="not registered"):
        run("issue_token", "--client-id", created["client_id"], "--scopes", "system/*.cruds")
    patient_app = json.loads(run("create_client", "--name", "P", "--scopes", "patient/*.rs"))
    with pytest.raises(CommandError, match="--patient"):
        run("issue_token", "--client-id", patient_app["client_id"], "--scopes", "patient/*.rs")
    with pytest.raises(CommandError, match="does not exist"):
        run("issue_token", "--client-id", patient_app["client_id"], "--scopes", "patient/*.rs", "--patient", "zzz")
    with pytest.raises(CommandError, match="no client"):
        run("issue_token", "--client-id", "nope", "--scopes", "patient/*.rs")
    with pytest.raises(CommandError):
        run("create_client", "--name", "Bad", "--scopes", "patient/Observation.xyz")
    private, kid, jwks = client_key("ES384")
    public_file = tmp_path / "jwks.json"
    public_file.write_text(json.dumps(jwks))
    backend = json.loads(
        run("create_client", "--name", "Backend", "--scopes", "system/*.rs", "--jwks", str(public_file))
    )
    assert backend["client_secret"] is None and backend["token_endpoint_auth_method"] == "private_key_jwt"
    import jwt

    private_jwks = {"keys": [json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private))]}
    (tmp_path / "private.json").write_text(json.dumps(private_jwks))
    with pytest.raises(CommandError, match="private key"):
        run("create_client", "--name", "Leaky", "--scopes", "system/*.rs", "--jwks", str(tmp_path / "private.json"))


def test_set_fhir_user(secure, two_patients):
    from django.contrib.auth import get_user_model

    from fhirserver.security.models import FhirUser

    user = get_user_model().objects.create_user("dr.who")
    assert run("set_fhir_user", "--user", "dr.who", "--resource", "Practitioner/doc") == "dr.who is Practitioner/doc"
    assert FhirUser.objects.get(user=user).resource == "Practitioner/doc"
    with pytest.raises(CommandError):
        run("set_fhir_user", "--user", "dr.who", "--resource", "Observation/1")
