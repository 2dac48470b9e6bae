"""SMART launches in a real headless Chromium (Debian's, driven by Playwright) against a live server,
with the Python SMART client `fhirclient` playing the app and `fhirpy` using the token it got."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from fhirserver.security import services
from fhirserver.security.models import FhirUser

SCOPES = "launch/patient openid fhirUser offline_access patient/*.rs"


@pytest.fixture
def browser_page(chromium):
    return chromium.new_context().new_page()


@pytest.fixture
def world(live_server, secure, two_patients):
    user = get_user_model().objects.create_user("dr.jones", password="correct horse battery")
    FhirUser.objects.create(user=user, resource="Practitioner/doc")
    callback = f"{live_server.url}/app/callback"
    app = services.client_create(
        name="Lab trends",
        scopes=SCOPES + " launch",
        grant="authorization_code",
        redirect_uris=[callback],
        public=True,
        launch_uri=f"{live_server.url}/app/launch",
    )
    return {"base": f"{live_server.url}/fhir", "callback": callback, "app": app, "server": live_server.url}


@pytest.fixture
def smart_client(world):
    """fhirclient as the app; its keep-alive session is closed afterwards (else the live server's
    handler thread, and its database connection, outlive the test)."""
    from fhirclient import client

    made = []

    def make(scope=SCOPES, launch=None):
        settings = {
            "app_id": world["app"]["client_id"],
            "api_base": world["base"],
            "redirect_uri": world["callback"],
            "scope": scope,
        }
        if launch:
            settings["launch_token"] = launch
        made.append(client.FHIRClient(settings=settings))
        return made[-1]

    yield make
    for smart in made:
        smart.server.session.close()


def sign_in(page):
    page.fill("#id_username", "dr.jones")
    page.fill("#id_password", "correct horse battery")
    page.click("#sign-in")


def test_standalone_launch_through_login_and_patient_picker(world, browser_page, smart_client):
    page = browser_page
    smart = smart_client()
    page.goto(smart.authorize_url)  # fhirclient read the OAuth URIs from our CapabilityStatement
    assert "/oauth2/login" in page.url
    sign_in(page)
    page.wait_for_selector("#patient-picker")
    assert "FamilyA" in page.content() and "FamilyB" in page.content()
    page.click("#allow")  # without a patient: asked again, with the reason
    page.wait_for_selector("#problem")
    page.check("#patient-a")
    with page.expect_navigation(url=lambda url: url.startswith(world["callback"])):
        page.click("#allow")
    smart.handle_callback(page.url)  # fhirclient exchanges the code with its PKCE verifier
    assert smart.patient_id == "a" and smart.ready
    assert smart.patient.name[0].family == "FamilyA"

    from fhirclient.models.observation import Observation

    observations = Observation.where(struct={"code": "2345-7"}).perform_resources(smart.server)
    assert [o.id for o in observations] == ["lab-a"]
    assert Observation.where(struct={"subject": "Patient/b"}).perform_resources(smart.server) == []

    # fhirpy, given the same token, searches the same way
    from fhirpy import SyncFHIRClient

    fhirpy = SyncFHIRClient(world["base"], authorization=f"Bearer {smart.server.auth.access_token}")
    found = fhirpy.resources("Observation").search(category="laboratory").fetch()
    assert [o["id"] for o in found] == ["lab-a"]
    assert fhirpy.resources("Patient").search(family="FamilyB").fetch() == []
    assert fhirpy.reference("Patient", "a").to_resource()["id"] == "a"

    # refresh through fhirclient keeps the patient
    assert smart.server.reauthorize() and smart.server.auth.access_token
    assert (
        requests.get(
            f"{world['base']}/Patient/b", headers={"Authorization": f"Bearer {smart.server.auth.access_token}"}
        ).status_code
        == 403
    )

    # every one of those accesses is in the audit log, refusals included (written outside any test transaction here)
    from fhirserver.security.models import AuditRecord

    rows = AuditRecord.objects.filter(client_id=world["app"]["client_id"])
    for _ in range(100):  # each row is written as its response closes, just after the client got it
        if rows.filter(resource_type="Patient", resource_id="b", status=403).exists():
            break
        time.sleep(0.05)
    assert rows.filter(resource_type="Patient", resource_id="a", status=200).exists()
    assert rows.filter(resource_type="Patient", resource_id="b", status=403).exists()
    assert rows.filter(interaction="search-type", resource_type="Observation").count() >= 3


def test_deny_returns_access_denied(world, browser_page, smart_client):
    page = browser_page
    smart = smart_client()
    page.goto(smart.authorize_url)
    sign_in(page)
    page.wait_for_selector("#patient-picker")
    with page.expect_navigation(url=lambda url: url.startswith(world["callback"])):
        page.click("#deny")
    assert parse_qs(urlsplit(page.url).query)["error"] == ["access_denied"]


def test_ehr_launch_in_the_browser(world, browser_page, smart_client):
    page = browser_page
    page.goto(f"{world['server']}/oauth2/login")
    sign_in(page)
    # the EHR (this server) launches the app for Patient/b: the app gets iss and launch
    with page.expect_navigation(url=lambda url: url.startswith(f"{world['server']}/app/launch")):
        page.goto(f"{world['server']}/oauth2/launch?client_id={world['app']['client_id']}&patient=b")
    launched = parse_qs(urlsplit(page.url).query)
    assert launched["iss"] == [world["base"]]
    smart = smart_client(scope="launch openid fhirUser patient/*.rs", launch=launched["launch"][0])
    page.goto(smart.authorize_url)
    page.wait_for_selector("#allow")
    assert page.query_selector("#patient-picker") is None
    with page.expect_navigation(url=lambda url: url.startswith(world["callback"])):
        page.click("#allow")
    smart.handle_callback(page.url)
    assert smart.patient_id == "b"
    token = smart.server.auth.access_token
    assert (
        requests.get(f"{world['base']}/Observation/lab-b", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    assert (
        requests.get(f"{world['base']}/Observation/lab-a", headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )


def test_browser_app_on_another_origin_uses_discovery_and_the_api(world, browser_page, token_for):
    """A page on another origin (127.0.0.1 vs localhost) fetches discovery, then the API with a token (CORS
    preflight)."""
    page = browser_page
    port = urlsplit(world["server"]).port
    page.goto(f"http://127.0.0.1:{port}/healthz")
    config = page.evaluate("url => fetch(url).then(r => r.json())", f"{world['base']}/.well-known/smart-configuration")
    assert config["code_challenge_methods_supported"] == ["S256"]
    token = token_for("patient/*.rs", patient="a")
    script = """([url, token]) => fetch(url, {headers: {Authorization: 'Bearer ' + token,
                                                        Accept: 'application/fhir+json'}})
                 .then(r => r.json().then(body => [r.status, body.id]))"""
    assert page.evaluate(script, [f"{world['base']}/Patient/a", token]) == [200, "a"]
    assert page.evaluate(script, [f"{world['base']}/Patient/b", token])[0] == 403
