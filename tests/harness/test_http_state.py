"""Issue 19, state kept per worker, the sign-in page and the smaller gaps, through HTTP against
`make serve` with 2 workers: what one worker knows (a used jti, a count) the other knows too."""
from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection

from fhirserver.security import services
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
from tests.harness.conftest import HARNESS_ENV, outcome
from tests.harness.server import Server, database_url
from tests.security.oauth_helpers import basic, client_assertion, client_key

pytestmark = pytest.mark.django_db(transaction=True)
RATES = {"FHIR_RATE_TOKEN_PER_CLIENT": "10/60", "FHIR_RATE_API_PER_CLIENT": "20/60"}


@pytest.fixture(scope="module")
def limited(django_db_setup, django_db_blocker):
    """`make serve` with small rate limits, so that a doubled limit shows."""
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    running = Server(url, workers=2, env={**HARNESS_ENV, **RATES})
    yield running
    running.stop()


def _at_once(count: int, send) -> list[requests.Response]:
    """`count` requests in flight together: with 2 sync workers, both workers answer some of them."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: send(), range(count)))


# --- shared state ---------------------------------------------------------------------------------------
def test_a_client_assertion_is_accepted_once_across_workers(limited, two_patients):
    private, kid, jwks = client_key("RS384")
    service = services.client_create(name="Backend", scopes="system/*.rs", jwks=jwks)
    form = {"grant_type": "client_credentials", "scope": "system/*.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(service["client_id"], f"{limited.url}/oauth2/token", private, kid)}
    answers = _at_once(8, lambda: limited.request("POST", "/oauth2/token", data=form))
    assert sorted(r.status_code for r in answers) == [200] + [400] * 7
    assert all(r.json()["error"] == "invalid_client" for r in answers if r.status_code == 400)


def test_the_token_endpoint_limit_holds_across_workers(limited, two_patients):
    service = services.client_create(name="Busy", scopes="system/*.rs")
    credentials = {"Authorization": basic(service["client_id"], service["client_secret"])}
    form = {"grant_type": "client_credentials", "scope": "system/*.rs"}
    answers = _at_once(30, lambda: limited.request("POST", "/oauth2/token", data=form, headers=credentials))
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 10 and statuses.count(429) == 20, statuses
    assert all(r.headers.get("Retry-After") for r in answers if r.status_code == 429)


def test_the_api_limit_holds_across_workers(limited, two_patients, token_for):
    headers = {"Authorization": f"Bearer {token_for('system/*.rs')}"}
    answers = _at_once(40, lambda: limited.get("/fhir/Patient/a", headers=headers))
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 20 and statuses.count(429) == 20, statuses
    assert all(r.json()["issue"][0]["code"] == "throttled" for r in answers if r.status_code == 429)


# --- the sign-in page -------------------------------------------------------------------------------------
class Browser:
    """Cookies by hand: production cookies are Secure, and this server speaks plain HTTP to the test."""

    def __init__(self, server: Server):
        self.server, self.cookies = server, {}

    def _keep(self, response):
        for name, value in re.findall(r"(csrftoken|sessionid)=([^;]+)", response.headers.get("Set-Cookie", "")):
            self.cookies[name] = value
        return response

    def get(self, path):
        return self._keep(self.server.get(path, headers=self._cookie(), allow_redirects=False))

    def post(self, path, form, csrf=True):
        if csrf:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
        return self._keep(self.server.request("POST", path, data=form, headers=self._cookie(), allow_redirects=False))

    def _cookie(self):
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def sign_in(self, username, password):
        self.get("/oauth2/login")
        return self.post("/oauth2/login", {"username": username, "password": password})


def test_wrong_passwords_are_throttled(server, two_patients):
    get_user_model().objects.create_user("alice", password="right-password")
    browser = Browser(server)
    for _ in range(5):
        assert browser.sign_in("alice", "wrong").status_code == 200
    refused = browser.sign_in("alice", "right-password")  # even the right one waits now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.text
    get_user_model().objects.create_user("bob", password="bobs-password")
    assert Browser(server).sign_in("bob", "bobs-password").status_code == 302


def test_launch_needs_the_csrf_token(server, two_patients):
    get_user_model().objects.create_user("carol", password="carols-password")
    browser = Browser(server)
    assert browser.sign_in("carol", "carols-password").status_code == 302
    assert browser.post("/oauth2/launch", {"patient": "a"}, csrf=False).status_code == 403
    minted = browser.post("/oauth2/launch", {"patient": "a"})
    assert minted.status_code == 200 and minted.json()["launch"]


def test_pages_carry_a_content_security_policy_and_patient_data_is_not_cached(server, two_patients, as_patient):
    page = server.get("/oauth2/login")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "no-store" in page.headers["Cache-Control"]
    assert server.get("/fhir/Patient/a", headers=as_patient("a")).headers["Cache-Control"] == "no-store"
    assert server.get("/fhir/Observation?subject=Patient/a", headers=as_patient("a")).headers["Cache-Control"] == \
        "no-store"
    assert "no-store" not in server.get("/fhir/metadata").headers.get("Cache-Control", "")


# --- smaller gaps ------------------------------------------------------------------------------------------
def test_raw_html_binary_is_served_as_a_sandboxed_download(server, two_patients, token_for):
    headers = {"Authorization": f"Bearer {token_for('system/*.cruds')}"}
    html = b"<html><script>alert(document.cookie)</script></html>"
    created = server.request("POST", "/fhir/Binary", data=html, headers={**headers, "Content-Type": "text/html"})
    assert created.status_code == 201, created.text[:200]
    binary_id = created.headers["Location"].split("/Binary/")[1].split("/")[0]
    raw = server.get(f"/fhir/Binary/{binary_id}", headers={**headers, "Accept": "text/html"})
    assert raw.status_code == 200 and raw.content == html
    assert raw.headers["Content-Disposition"] == "attachment"
    assert raw.headers["Content-Security-Policy"].startswith("sandbox")
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
    assert base64.b64decode(server.get(f"/fhir/Binary/{binary_id}", headers=headers).json()["data"]) == html


def test_an_empty_token_matches_nothing_not_everything(server, two_patients, as_patient):
    outcome(server.get("/fhir/Observation?code=|", headers=as_patient("a")), 400)
    assert server.get("/fhir/Observation?code=http://loinc.org|", headers=as_patient("a")).status_code == 200


@pytest.mark.parametrize("field, value", [
    ("performer", [{"reference": "Patient/b"}]),
    ("encounter", {"reference": "Encounter/enc-b"}),
    ("hasMember", [{"reference": "Observation/lab-b"}]),
    ("focus", [{"reference": "Condition/cond-b"}]),
])
def test_a_patient_token_cannot_point_into_another_record(server, two_patients, as_patient, field, value):
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Patient/a"}, field: value}
    headers = {**as_patient("a"), "Content-Type": "application/fhir+json"}
    answer = outcome(server.request("POST", "/fhir/Observation", json=body, headers=headers), 403)
    assert answer["issue"][0]["expression"][0].startswith(f"Observation.{field}")
    lab = repository.read("Observation", "lab-a").content
    outcome(server.request("PUT", "/fhir/Observation/lab-a", json={**lab, field: value}, headers=headers), 403)
    own = {**body, field: {"reference": "Encounter/enc-a"} if field == "encounter" else [{"reference": "Patient/a"}]}
    own["performer"] = [{"reference": "Practitioner/doc"}]  # nobody's record: still fine
    assert server.request("POST", "/fhir/Observation", json=own, headers=headers).status_code == 201


def test_digitize_cannot_file_results_under_another_patients_encounter(server, two_patients, as_patient):
    from tests.harness import pdfs

    before = repository.current("Encounter", "enc-b").version
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"encounter\"\r\n\r\nEncounter/enc-b\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + pdfs.broken_media_box(b"[0 0 595 842]") + \
        f"\r\n--{boundary}--\r\n".encode()
    answer = server.request("POST", "/fhir/DiagnosticReport/$digitize", data=body, headers={
        **as_patient("a"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    outcome(answer, 403)
    assert not ResourceRecord.objects.filter(resource_type="DocumentReference").exists()  # refused before storing
    assert repository.current("Encounter", "enc-b").version == before
