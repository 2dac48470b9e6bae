"""On write, a patient-confined token may only point at its own patient's record.

Without this, A's app could write an Observation with `performer: Patient/B` (which files it in B's
compartment too) or file `$digitize` results under B's Encounter. Every literal reference of the
written resource is checked: a `Patient/x` must be the token's patient; a resource of a type that
lives in patient compartments must, if it exists, be in the token's patient's compartment.
Resources that are nobody's record (Practitioner, Organization, Medication...) stay referable.
"""
from __future__ import annotations

from fhirserver.core import guard
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.search import compartments
from fhirserver.storage import repository


def check(request: FhirRequest, resource_type: str, content: dict | None) -> None:
    """403 when `content` refers to another patient's record and the token is confined to one patient."""
    patient = guard.confined_patient(request)
    if not patient or not isinstance(content, dict):
        return
    record_types = set(compartments.compartment_types("Patient"))
    for path, reference in _references(content, resource_type):
        target_type, target_id = _target(reference, request.base_url)
        if target_type is None or target_type not in record_types:
            continue
        if target_type == "Patient":
            if target_id != patient:
                raise _refused(path, reference, patient)
            continue
        stored = repository.current(target_type, target_id)
        if stored is None or stored.deleted:
            continue
        if not compartments.in_compartment("Patient", patient, target_type, stored.content):
            raise _refused(path, reference, patient)


def _refused(path: str, reference: str, patient: str) -> FhirError:
    return FhirError(403, f"{path} refers to {reference}, which is outside the record of Patient/{patient} that the "
                     "token is confined to", issue_code="forbidden", code="REFERENCE_OUTSIDE_GRANT", expression=[path],
                     headers={"WWW-Authenticate": 'Bearer realm="fhir", error="insufficient_scope"'})


def _references(node, path: str):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield f"{path}.reference", value
            elif isinstance(value, (dict, list)):
                yield from _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, f"{path}[{index}]")


def _target(reference: str, base_url: str) -> tuple[str | None, str | None]:
    if reference.startswith(base_url + "/"):
        reference = reference[len(base_url) + 1:]
    elif reference.startswith(("#", "urn:", "http:", "https:")) or "?" in reference:
        return None, None
    parts = reference.split("/")
    if len(parts) not in (2, 4) or not parts[0] or not parts[1]:
        return None, None
    return parts[0], parts[1]
