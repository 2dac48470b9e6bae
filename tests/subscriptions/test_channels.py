"""Websocket channel, the owner's bound, $digitize and the review page's confirm, a killed worker."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.subscriptions.conftest import (
    event_numbers,
    focus_of,
    free_port,
    kind,
    lab_observation,
    status_of,
    topic_subscription,
    wait_status,
)

ROOT = Path(__file__).resolve().parents[2]


def _patient(fhir, name="Test", **headers) -> str:
    response = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": name}]}, **headers)
    assert response.status_code == 201, response.content
    return f"Patient/{response.json()['id']}"


def _messages(ws, until, timeout: float = 15.0) -> list[dict]:
    got, deadline = [], time.monotonic() + timeout
    while not until(got):
        left = deadline - time.monotonic()
        assert left > 0, f"websocket: only {[kind(b) for b in got]}"
        try:
            got.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            continue
    return got


def test_websocket_binding_token_handshake_and_events(fhir, background):
    patient = _patient(fhir)
    sub = fhir.post("Subscription", topic_subscription("new-lab-result", channel="websocket",
                                                       filters=[f"patient={patient}"])).json()
    assert sub["status"] == "active"
    fhir.post("Observation", lab_observation(patient))  # before any client is bound: kept for it
    token = fhir.post(f"Subscription/{sub['id']}/$get-ws-binding-token").json()
    params = {p["name"]: p for p in token["parameter"]}
    assert params["websocket-url"]["valueUrl"] == f"ws://testserver:{background['WEBSOCKET_PORT']}/"
    url = f"ws://127.0.0.1:{background['WEBSOCKET_PORT']}/"
    for _ in range(50):  # the sweep starts the server
        try:
            ws = connect(url, open_timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    with ws:
        ws.send(f"bind-with-token: {params['token']['valueString']}")
        got = _messages(ws, lambda got: any(event_numbers(b) for b in got))
        assert kind(got[0]) == "handshake"
        assert [n for b in got for n in event_numbers(b)] == [1]
        fhir.post("Observation", lab_observation(patient))
        more = _messages(ws, lambda more: any(event_numbers(b) for b in more))
        assert [n for b in more for n in event_numbers(b)] == [2]
    wrong = fhir.post("Subscription/$get-ws-binding-token?id=nope")
    assert wrong.status_code == 422


@pytest.fixture
def smart(settings, background):
    from django.core.cache import cache

    from fhirserver.security import services, tokens

    settings.FHIR = {**settings.FHIR, "AUTH_REQUIRED": True}
    tokens.forget_all()
    cache.clear()

    def token(scopes: str, patient: str | None = None) -> dict:
        client = services.client_create(name=f"subs-{time.monotonic_ns()}", scopes=scopes)
        raw = services.token_issue(client_id=client["client_id"], scopes=scopes, patient=patient, expires_in=3600)
        return {"Authorization": f"Bearer {raw}"}

    yield token
    tokens.forget_all()


def test_a_patient_scoped_owner_never_hears_of_another_patient(fhir, receiver, smart):
    admin = smart("system/*.cruds")
    ada, bob = _patient(fhir, "Ada", **admin), _patient(fhir, "Bob", **admin)
    app = smart("patient/Observation.rs patient/Patient.rs user/Subscription.cruds", patient=ada.split("/")[1])
    for content in ("id-only", "full-resource"):
        created = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url, content=content), **app)
        assert created.status_code == 201, created.content
    other = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url, filters=[f"patient={bob}"]),
                      **app)
    assert other.status_code == 403
    receiver.wait_for(lambda got: sum(kind(b) == "handshake" for b in got) == 2)
    hidden = fhir.post("Observation", lab_observation(bob), **admin).json()
    seen = fhir.post("Observation", lab_observation(ada), **admin).json()
    receiver.wait_for(lambda got: sum(kind(b) == "event-notification" for b in got) == 2)
    time.sleep(0.5)
    text = json.dumps(receiver.received)
    assert hidden["id"] not in text and bob.split("/")[1] not in text
    assert seen["id"] in text
    notifications = [b for b in receiver.received if kind(b) == "event-notification"]
    assert all(event_numbers(b) == [1] for b in notifications)  # Bob's write was never an event of theirs
    # and the subscription is its owner's: another client cannot read its status
    stranger = smart("user/Subscription.cruds")
    assert fhir.get(f"Subscription/{created.json()['id']}/$status", **stranger).status_code == 403


def test_digitize_notifies_and_confirm_on_the_review_page_notifies_finalised(fhir, receiver, background, client):
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf
    from ingestion.models import DigitizeJob
    from review.accounts import clinician_create

    finished = fhir.post("Subscription", topic_subscription("digitize-finished", receiver.url)).json()
    final = fhir.post("Subscription", topic_subscription("lab-report-finalised", receiver.url,
                                                         content="full-resource")).json()
    wait_status(fhir, finished["id"], "active")
    wait_status(fhir, final["id"], "active")
    layout = LAYOUTS["classic"]
    from io import BytesIO

    upload = BytesIO(render_pdf(layout.report(1), layout))
    upload.name = "report.pdf"
    response = client.post("/fhir/DiagnosticReport/$digitize", {"file": upload})
    assert response.status_code == 200, response.content
    got = receiver.wait_for(lambda got: any(kind(b) == "event-notification" for b in got), timeout=60)
    [done] = [b for b in got if kind(b) == "event-notification"]
    assert status_of(done)["subscription"]["valueReference"]["reference"].endswith(finished["id"])
    job = DigitizeJob.objects.get()
    assert focus_of(done) == [f"http://testserver/fhir/{job.diagnostic_report}"]
    # a clinician confirms the report on the review page
    from review.selectors import document_review

    clinician_create(username="dr.sub", password="pw-pw-pw-pw", full_name="Dr Sub")
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="dr.sub"))
    review = document_review(job)
    form = {"action": "confirm"}
    for row in review.rows:
        i = row.index
        form.update({f"obs-{i}": row.observation, f"version-{i}": str(row.version)})
        form.update({f"{c}-{i}": getattr(row.cells, c) for c in ("name", "loinc", "value", "unit", "range", "flag")})
    if review.needs_patient_choice:
        form.update({"patient-action": "new"})
    assert client.post(f"/review/jobs/{job.id}", form).status_code == 302
    got = receiver.wait_for(lambda got: sum(kind(b) == "event-notification" for b in got) == 2, timeout=30)
    finalised = [b for b in got if kind(b) == "event-notification"][1]
    assert status_of(finalised)["topic"]["valueCanonical"].endswith("lab-report-finalised")
    report = finalised["entry"][1]["resource"]
    assert report["resourceType"] == "DiagnosticReport" and report["status"] == "final"


def test_a_worker_killed_mid_delivery_delivers_after_restart(receiver, tmp_path, transactional_db, settings):
    """A real server process (runserver, as `make run`) is killed -9 while its POST is held open."""
    from django.db import connection

    port = free_port()
    env = dict(os.environ, SUBSCRIPTIONS_LEASE_SECONDS="2", SUBSCRIPTIONS_TICK_SECONDS="0.2",
               SUBSCRIPTIONS_WEBSOCKET_PORT="0", SUBSCRIPTIONS_RETRY_BASE_SECONDS="0.2", FHIR_AUTH_REQUIRED="false",
               DJANGO_SETTINGS_MODULE="fhirserver.settings.base", DATABASE_URL=_database_url(connection))

    def start():
        process = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_up(port)
        return process

    server = start()
    try:
        sub = _http("POST", port, "Subscription", topic_subscription("new-lab-result", receiver.url))
        receiver.wait_for(lambda got: any(kind(b) == "handshake" for b in got))
        _wait_active(port, sub["id"])
        receiver.hold.clear()  # the next POST hangs in the receiver
        _http("POST", port, "Observation", lab_observation("Patient/x"))
        receiver.wait_for(lambda got: receiver.held >= 1)  # the worker is now mid-send
        server.send_signal(signal.SIGKILL)
        server.wait()
        receiver.drop_held = True  # its sender died mid-send: the receiver never got it whole
        receiver.hold.set()
        server = start()
        got = receiver.wait_for(lambda got: 1 in receiver.events(), timeout=30)
        assert receiver.events() == [1]
        headers = [h for h, b in zip(receiver.headers, got) if kind(b) == "event-notification"]
        assert headers[-1].get("x-notification-retry") == "true"  # the resend says so
    finally:
        server.kill()
        server.wait()


def _database_url(connection) -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def _http(method: str, port: int, path: str, body: dict | None = None) -> dict:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/fhir/{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/fhir+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _wait_up(port: int) -> None:
    import urllib.request

    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def _wait_active(port: int, sub_id: str) -> None:
    for _ in range(100):
        if _http("GET", port, f"Subscription/{sub_id}").get("status") == "active":
            return
        time.sleep(0.1)
    raise AssertionError("never active")
