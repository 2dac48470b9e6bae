"""rest-hook subscriptions end to end: a real receiver, the real job system and sweep, both databases."""
from __future__ import annotations

from tests.subscriptions.conftest import event_numbers, focus_of, kind, lab_observation, status_of, topic_subscription, wait_status


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
