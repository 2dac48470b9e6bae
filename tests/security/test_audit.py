"""Audit: every access to patient data recorded (who, which client, what, when, outcome) and served
as AuditEvent resources to administrators only."""
import pytest

from fhirserver.security.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_accesses_are_recorded_with_outcome(secure, fhir, two_patients, token_for, bearer):
    token = token_for("patient/*.rs", patient="a")
    fhir.get("Observation/lab-a", **bearer(token))
    fhir.get("Observation/lab-b", **bearer(token))
    fhir.get("Patient/a")  # no token
    rows = list(AuditRecord.objects.order_by("pk"))
    assert [(r.resource_type, r.resource_id, r.status, r.action) for r in rows] == [
        ("Observation", "lab-a", 200, "R"), ("Observation", "lab-b", 403, "R"), ("Patient", "a", 401, "R")]
    assert rows[0].client_id and rows[0].patient == "a" and rows[0].recorded and rows[0].interaction == "read"
    assert rows[2].client_id == "" and rows[2].patient == "a"


def test_admin_searches_audit_events(secure, fhir, two_patients, token_for, bearer):
    app_token = token_for("patient/*.rs", patient="a")
    fhir.get("Observation/lab-a", **bearer(app_token))
    fhir.get("Observation?code=2345-7", **bearer(app_token))
    lab = fhir.get("Observation/lab-a", **bearer(app_token)).json()
    fhir.put("Observation/lab-a", {**lab, "status": "cancelled"}, **bearer(app_token))  # rs only: refused
    admin = bearer(token_for("system/AuditEvent.rs"))
    bundle = fhir.get("AuditEvent?patient=Patient/a", **admin).json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 4
    events = [e["resource"] for e in bundle["entry"]]
    assert {e["action"] for e in events} == {"R", "U"}
    failed = [e for e in events if e["outcome"] != "0"]
    assert len(failed) == 1 and failed[0]["outcomeDesc"] == "HTTP 403"
    read = next(e for e in events if e["subtype"][0]["code"] == "read")
    assert read["entity"][0]["what"]["reference"] == "Observation/lab-a"
    assert read["agent"][0]["altId"] and read["agent"][0]["requestor"] is True
    one = fhir.get(f"AuditEvent/{read['id']}", **admin)
    assert one.status_code == 200 and one.json()["id"] == read["id"]
    assert fhir.get("AuditEvent?outcome=4", **admin).json()["total"] == 1
    assert fhir.get("AuditEvent?date=ge2000-01-01&action=U", **admin).json()["total"] == 1
    assert fhir.get("AuditEvent?altid=nobody", **admin).json()["total"] == 0


def test_audit_events_validate_as_r4(secure, fhir, two_patients, token_for, bearer):
    from fhir.resources.R4B.auditevent import AuditEvent

    fhir.get("Observation/lab-a", **bearer(token_for("patient/*.rs", patient="a")))
    event = fhir.get("AuditEvent", **bearer(token_for("user/*.rs"))).json()["entry"][0]["resource"]
    AuditEvent.model_validate(event)


def test_patient_apps_and_writers_cannot_read_audit(secure, fhir, two_patients, token_for, bearer):
    assert fhir.get("AuditEvent", **bearer(token_for("patient/*.cruds", patient="a"))).status_code == 403
    assert fhir.get("AuditEvent", **bearer(token_for("system/Observation.rs"))).status_code == 403
    assert fhir.get("AuditEvent").status_code == 401


def test_audit_events_are_not_writable(secure, fhir, two_patients, token_for, bearer):
    admin = bearer(token_for("system/*.cruds"))
    fhir.get("Patient/a", **admin)
    record = AuditRecord.objects.first()
    event = fhir.get(f"AuditEvent/audit-{record.pk}", **admin).json()
    response = fhir.put(f"AuditEvent/audit-{record.pk}", {**event, "action": "D"}, **admin)
    assert AuditRecord.objects.get(pk=record.pk).action == "R"  # the log row never changes
    assert response.status_code in (200, 201, 403, 405)
