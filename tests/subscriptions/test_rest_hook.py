"""rest-hook subscriptions end to end: a real receiver, the real job system and sweep, both databases."""
from __future__ import annotations

import json

from tests.subscriptions.conftest import (
    event_numbers,
    focus_of,
    kind,
    lab_observation,
    status_of,
    topic_subscription,
    wait_status,
)


def _patient(fhir, name="Test") -> str:
    response = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": name}]})
    assert response.status_code == 201, response.content
    return f"Patient/{response.json()['id']}"


def test_handshake_then_a_new_lab_result_is_notified_id_only(fhir, receiver, background):
    patient = _patient(fhir)
    created = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url,
                                                           filters=[f"Observation?patient={patient}"]))
    assert created.status_code == 201, created.content
    sub = created.json()
    assert sub["status"] == "requested"
    receiver.wait_for(lambda got: any(kind(b) == "handshake" for b in got))
    wait_status(fhir, sub["id"], "active")
    observation = fhir.post("Observation", lab_observation(patient)).json()
    got = receiver.wait_for(lambda got: any(kind(b) == "event-notification" for b in got))
    notification = next(b for b in got if kind(b) == "event-notification")
    assert notification["type"] == "history"
    assert notification["entry"][0]["resource"]["resourceType"] == "Parameters"
    assert event_numbers(notification) == [1]
    assert focus_of(notification)[0].endswith(f"Observation/{observation['id']}")
    assert all("resource" not in e for e in notification["entry"][1:])
    assert status_of(notification)["status"]["valueCode"] == "active"


def test_filters_by_patient_code_and_category(fhir, receiver, background):
    ada, bob = _patient(fhir, "Ada"), _patient(fhir, "Bob")
    sub = fhir.post("Subscription", topic_subscription(
        "new-lab-result", receiver.url, content="full-resource",
        filters=[f"patient={ada}", "code=http://loinc.org|2345-7"])).json()
    wait_status(fhir, sub["id"], "active")
    fhir.post("Observation", lab_observation(bob))  # another patient
    fhir.post("Observation", lab_observation(ada, code="2951-2"))  # another code
    fhir.post("Observation", lab_observation(ada, category="vital-signs"))  # not a lab result (topic)
    exact = json.dumps(lab_observation(ada)).replace('"value": 5.5,', '"value": 5.50,')  # issue 16: digits kept
    wanted = fhir.post("Observation", exact).json()
    got = receiver.wait_for(lambda got: any(kind(b) == "event-notification" for b in got))
    [notification] = [b for b in got if kind(b) == "event-notification"]
    assert focus_of(notification) == [f"http://testserver/fhir/Observation/{wanted['id']}"]
    resources = [e["resource"] for e in notification["entry"][1:] if "resource" in e]
    assert resources[0]["id"] == wanted["id"] and resources[0]["resourceType"] == "Observation"
    assert str(resources[0]["valueQuantity"]["value"]) == "5.50"
    assert any(r["resourceType"] == "Patient" for r in resources)  # the topic's additional context
    assert event_numbers(notification) == [1]
    events = fhir.get(f"Subscription/{sub['id']}/$events").json()
    assert events["type"] == "history" and event_numbers_of_query(events) == [1]


def event_numbers_of_query(bundle: dict) -> list[int]:
    parameters = bundle["entry"][0]["resource"]["parameter"]
    return [int(part["valueString"]) for p in parameters if p["name"] == "notification-event"
            for part in p["part"] if part["name"] == "event-number"]


def test_a_filter_the_topic_does_not_offer_is_refused_with_the_element(fhir, db):
    response = fhir.post("Subscription", topic_subscription("new-lab-result", "http://127.0.0.1:9/x",
                                                            filters=["value-quantity=5"]))
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Subscription.criteria.extension"] and "value-quantity" in issue["diagnostics"]
    unknown = topic_subscription("new-lab-result", "http://127.0.0.1:9/x")
    unknown["criteria"] = "http://example.org/SubscriptionTopic/nope"
    assert fhir.post("Subscription", unknown).status_code == 422


def test_endpoints_https_in_production_http_only_to_loopback(fhir, db, settings):
    outside = fhir.post("Subscription", topic_subscription("new-lab-result", "http://example.org/hook"))
    assert outside.status_code == 422 and outside.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    settings.SUBSCRIPTIONS = dict(settings.SUBSCRIPTIONS, REQUIRE_HTTPS=True)
    assert fhir.post("Subscription", topic_subscription("new-lab-result", "http://127.0.0.1:9/x")).status_code == 422
    assert fhir.post("Subscription", topic_subscription("new-lab-result", "https://example.org/x")).status_code == 201


def test_production_settings_require_https():
    import subprocess
    import sys

    code = ("import django,os;os.environ['SECRET_KEY']='x';django.setup();from django.conf import settings;"
            "print(settings.SUBSCRIPTIONS['REQUIRE_HTTPS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "fhirserver.settings.production"})
    assert out.stdout.strip() == "True", out.stderr


def test_headers_are_sent_but_never_echoed(fhir, receiver, background):
    created = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url,
                                                           headers=["Authorization: Bearer s3cret"]))
    assert "s3cret" not in created.content.decode()
    sub = created.json()
    receiver.wait_for(lambda got: any(kind(b) == "handshake" for b in got))
    assert receiver.headers[0]["authorization"] == "Bearer s3cret"
    for path in (f"Subscription/{sub['id']}", f"Subscription/{sub['id']}/_history", "Subscription"):
        assert "s3cret" not in fhir.get(path).content.decode()


def test_receiver_down_then_up_gets_every_event_in_order_once(fhir, receiver, background):
    patient = _patient(fhir)
    sub = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url)).json()
    wait_status(fhir, sub["id"], "active")
    receiver.down = True
    for _ in range(5):
        fhir.post("Observation", lab_observation(patient))
    receiver.wait_for(lambda got: receiver.refused >= 2)  # refused, then refused again after a backoff
    status = fhir.get(f"Subscription/{sub['id']}/$status").json()["entry"][0]["resource"]
    assert {p["name"]: p for p in status["parameter"]}["events-since-subscription-start"]["valueString"] == "5"
    receiver.down = False
    receiver.wait_for(lambda got: sorted(n for b in got for n in event_numbers(b)) == [1, 2, 3, 4, 5])
    assert receiver.events() == [1, 2, 3, 4, 5]  # in order, none twice
    events = [h for h, b in zip(receiver.headers, receiver.received) if kind(b) == "event-notification"]
    assert events and all(h.get("x-notification-retry") == "true" for h in events)  # each was attempted before


def test_error_after_giving_up_with_the_reason_in_status(fhir, receiver, background, settings):
    settings.SUBSCRIPTIONS = dict(settings.SUBSCRIPTIONS, GIVE_UP_AFTER_SECONDS=0.5)
    patient = _patient(fhir)
    sub = fhir.post("Subscription", topic_subscription("new-lab-result", receiver.url)).json()
    wait_status(fhir, sub["id"], "active")
    receiver.down = True
    fhir.post("Observation", lab_observation(patient))
    resource = wait_status(fhir, sub["id"], "error")
    assert "503" in resource["error"]
    status = fhir.get(f"Subscription/{sub['id']}/$status").json()["entry"][0]["resource"]
    params = {p["name"]: p for p in status["parameter"]}
    assert params["status"]["valueCode"] == "error" and "503" in params["error"]["valueCodeableConcept"]["text"]
    # reactivated by its client: handshake again, then the event it missed
    receiver.down = False
    current = fhir.get(f"Subscription/{sub['id']}").json()
    current["status"] = "requested"
    assert fhir.put(f"Subscription/{sub['id']}", current).status_code == 200
    receiver.wait_for(lambda got: receiver.events() == [1])


def test_classic_criteria_subscription_posts_empty_notifications(fhir, receiver, background):
    patient = _patient(fhir)
    classic = {"resourceType": "Subscription", "status": "requested", "reason": "classic",
               "criteria": "Observation?code=http://loinc.org|2345-7",
               "channel": {"type": "rest-hook", "endpoint": receiver.url}}
    sub = fhir.post("Subscription", classic).json()
    wait_status(fhir, sub["id"], "active")
    fhir.post("Observation", lab_observation(patient, code="2951-2"))
    fhir.post("Observation", lab_observation(patient))
    receiver.wait_for(lambda got: len([h for h in receiver.headers if h["method"] == "POST"]) >= 2)
    import time

    time.sleep(0.5)
    assert len(receiver.received) == 2 and receiver.received[1] == {}  # handshake, then one empty POST


def test_capability_statement_and_basic_resources_publish_the_topics(fhir, db):
    statement = fhir.get("metadata").json()
    [entry] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription"]
    canonicals = {e["valueCanonical"] for e in entry["extension"]
                  if e["url"].endswith("capabilitystatement-subscriptiontopic-canonical")}
    assert canonicals == {f"http://fhirserver.example.org/fhir/SubscriptionTopic/{t}"
                          for t in ("new-lab-result", "lab-report-finalised", "digitize-finished")}
    assert entry["supportedProfile"] == [
        "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"]
    assert {"status", "events", "get-ws-binding-token"} <= {op["name"] for op in entry["operation"]}
    assert "rest-hook" in entry["documentation"] and "websocket" in entry["documentation"]
    topics = fhir.get("Basic?code=http://hl7.org/fhir/fhir-types|SubscriptionTopic").json()
    urls = {e["valueUri"] for t in topics["entry"] for e in t["resource"]["extension"] if e["url"].endswith(".url")}
    assert urls == canonicals
