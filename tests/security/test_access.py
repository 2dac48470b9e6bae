"""The access context's decisions, without HTTP: confinement, v2 constraints, mixed scopes."""
import pytest

from fhirserver.core.errors import FhirError
from fhirserver.security.access import Access
from fhirserver.security.scopes import parse_scopes

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
LAB_OBS = {
    "resourceType": "Observation",
    "id": "o1",
    "subject": {"reference": "Patient/p1"},
    "category": [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
    ],
}
VITAL_OBS = {**LAB_OBS, "id": "o2", "category": [{"coding": [{"code": "vital-signs"}]}]}


def access(scopes: str, patient: str | None = "p1") -> Access:
    return Access(client_id="c", scopes=parse_scopes(scopes), launch_patient=patient)


def test_patient_scopes_confine_searches_unless_a_wide_rule_exists():
    assert access("patient/*.rs").patient_id == "p1"
    assert access("patient/*.rs user/Practitioner.rs").patient_id == "p1"  # narrower user rule: still confined
    assert access("patient/*.rs user/*.rs").patient_id is None  # user/*.rs already sees everything
    assert access("system/*.rs", patient=None).patient_id is None


def test_query_constraints_or_of_and():
    a = access(f"patient/Observation.rs?category={LAB} patient/Observation.rs?code=1234-5&status=final")
    assert a.allowed_query("Observation") == [[("category", LAB)], [("code", "1234-5"), ("status", "final")]]
    assert access("patient/Observation.rs").allowed_query("Observation") is None
    assert access(f"patient/Observation.rs?category={LAB} patient/*.rs").allowed_query("Observation") is None


def test_constraint_checked_on_single_resources():
    a = access(f"patient/Observation.rs?category={LAB}")
    a.check("read", "Observation", LAB_OBS)
    with pytest.raises(FhirError) as refused:
        a.check("read", "Observation", VITAL_OBS)
    assert refused.value.status == 403
    assert a.can_read("Observation", LAB_OBS) and not a.can_read("Observation", VITAL_OBS)


def test_compartment_and_update_of_both_versions():
    a = access("patient/Observation.cruds")
    a.check("update", "Observation", LAB_OBS, previous=LAB_OBS)
    moved_away = {**LAB_OBS, "subject": {"reference": "Patient/p2"}}
    for resource, previous in ((moved_away, LAB_OBS), (LAB_OBS, moved_away)):
        with pytest.raises(FhirError):
            a.check("update", "Observation", resource, previous=previous)


def test_patient_rules_without_launch_patient_grant_nothing():
    a = access("patient/*.rs", patient=None)
    assert not a.can_read("Observation", LAB_OBS)
    assert not a.can_read_type("Observation")  # so no search runs unconfined
    assert a.allowed_query("Observation") == []
    with pytest.raises(FhirError):
        a.check("read", "Observation", LAB_OBS)


def test_deleted_versions_visible_only_to_unconfined_rules():
    assert not access("patient/*.rs").can_read("Observation", None)
    assert access("user/*.rs", patient=None).can_read("Observation", None)


def test_audit_only_for_administrators():
    assert access("system/*.rs", patient=None).may_see_audit
    assert access("user/AuditEvent.rs", patient=None).may_see_audit
    assert not access("patient/*.rs").may_see_audit
    assert not access("system/Observation.rs", patient=None).may_see_audit
    assert not access("patient/*.rs user/AuditEvent.rs").may_see_audit
