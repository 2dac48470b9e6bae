"""Which Patient a digitised report is about.

Without a subject: match by identifier (the printed MRN), then by name + birth date, else create the
Patient from what the page says. With a subject: file under it, and report every demographic the page
contradicts as a warning; never merge or overwrite the chart's Patient.

Candidates come from the search engine and are then confirmed here field by field, so a loose search
can only narrow the set, never cause a wrong match.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from fhirserver.search import api as search_api
from fhirserver.storage import repository
from ingestion.labreport import PatientHeader

MR_TYPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}
    ],
    "text": "MRN",
}


@dataclass
class PatientMatch:
    reference: str | None  # "Patient/<id>" of an existing Patient; None when `new` is to be created
    new: dict | None = None  # the Patient to create
    how: str = ""  # "subject", "identifier", "name+birthDate" or "created"
    warnings: list[dict] = field(default_factory=list)  # OperationOutcome issues


def match_patient(header: PatientHeader, subject: str | None) -> PatientMatch:
    """Call inside the write transaction: the lock keeps two jobs from creating the same Patient twice."""
    if subject:
        stored = repository.read("Patient", subject.split("/", 1)[1]).content
        return PatientMatch(reference=subject, how="subject", warnings=demographic_conflicts(header, stored, subject))
    repository.lock_key(f"digitize-patient:{header.identifier or ''}:{_norm(header.family)}:{header.birth_date or ''}")
    if header.identifier:
        for record in search_api.match_records("Patient", [("identifier", header.identifier)]):
            patient = record.content or {}
            if _has_identifier(patient, header.identifier) and not _contradicts_birth_date(header, patient):
                return _matched(record.logical_id, "identifier", f"patient ID {header.identifier}")
    if header.family and header.birth_date:
        query = [("birthdate", header.birth_date), ("family", header.family)]
        for record in search_api.match_records("Patient", query):
            patient = record.content or {}
            if patient.get("birthDate") == header.birth_date and _same_name(header, patient):
                return _matched(record.logical_id, "name+birthDate", f"name and birth date ({describe(header)})")
    if not (header.family or header.given or header.identifier):
        return PatientMatch(reference=None, new=None, how="unknown", warnings=[_issue(
            "The report names no patient and no subject was given: the results have no subject", code="required")])
    return PatientMatch(
        reference=None,
        new=new_patient(header),
        how="created",
        warnings=[
            _issue(
                f"No existing Patient matched {describe(header)}; a new Patient was created from the report",
                severity="information",
                code="informational",
            )
        ],
    )


def _matched(id: str, how: str, what: str) -> PatientMatch:
    return PatientMatch(reference=f"Patient/{id}", how=how, warnings=[_issue(
        f"Results filed under existing Patient/{id}, matched by {what}", severity="information", code="informational")])


def new_patient(header: PatientHeader) -> dict:
    patient: dict = {"resourceType": "Patient", "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]}}
    if header.identifier:
        patient["identifier"] = [{"use": "usual", "type": MR_TYPE, "value": header.identifier}]
    name: dict = {}
    if header.family:
        name["family"] = header.family
    if header.given:
        name["given"] = list(header.given)
    if header.name:
        name["text"] = header.name
    if name:
        patient["name"] = [name]
    patient["gender"] = header.sex or "unknown"
    if header.birth_date:
        patient["birthDate"] = header.birth_date
    return patient


def demographic_conflicts(header: PatientHeader, patient: dict, reference: str) -> list[dict]:
    """Warnings for every field the page states that the stored Patient contradicts."""
    issues = []
    names = patient.get("name") or []
    if header.family and names and not _same_name(header, patient):
        printed = header.name or " ".join([*header.given, header.family])
        stored = "; ".join(_name_text(n) for n in names)
        issues.append(
            _issue(
                f"The report names the patient '{printed}' but {reference} is '{stored}'", expression=["Patient.name"]
            )
        )
    if _contradicts_birth_date(header, patient):
        issues.append(
            _issue(
                f"The report gives birth date {header.birth_date} but {reference} has {patient.get('birthDate')}",
                expression=["Patient.birthDate"],
            )
        )
    gender = patient.get("gender")
    if header.sex in ("male", "female") and gender in ("male", "female") and header.sex != gender:
        issues.append(
            _issue(
                f"The report gives sex {header.sex} but {reference} has gender {gender}", expression=["Patient.gender"]
            )
        )
    if header.identifier and patient.get("identifier") and not _has_identifier(patient, header.identifier):
        held = ", ".join(i.get("value", "") for i in patient["identifier"])
        issues.append(_issue(f"The report gives patient ID {header.identifier} but {reference} has {held}",
                             expression=["Patient.identifier"]))
    if issues:
        issues.append(
            _issue(
                f"Results were filed under {reference} as requested; nothing on {reference} was changed. "
                "Check that this document belongs to this patient.",
                severity="warning",
                code="informational",
            )
        )
    return issues


def describe(header: PatientHeader) -> str:
    parts = [header.name or " ".join([*header.given, header.family or ""]).strip() or "(no name)"]
    if header.birth_date:
        parts.append(f"born {header.birth_date}")
    if header.identifier:
        parts.append(f"ID {header.identifier}")
    return ", ".join(parts)


def _issue(
    diagnostics: str, *, severity: str = "warning", code: str = "business-rule", expression: list[str] | None = None
) -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return issue


def _norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


def _has_identifier(patient: dict, value: str) -> bool:
    return any(_norm(i.get("value")) == _norm(value) for i in patient.get("identifier") or [])


def _contradicts_birth_date(header: PatientHeader, patient: dict) -> bool:
    return bool(header.birth_date and patient.get("birthDate") and patient["birthDate"] != header.birth_date)


def _same_name(header: PatientHeader, patient: dict) -> bool:
    """Same family name and, when both sides have one, a compatible first given name (J ~ John)."""
    for name in patient.get("name") or []:
        family = _norm(name.get("family"))
        if not family:
            continue
        if family != _norm(header.family):
            continue
        given = [_norm(g) for g in name.get("given") or []]
        printed = [_norm(g) for g in header.given]
        if not given or not printed or given[0].startswith(printed[0]) or printed[0].startswith(given[0]):
            return True
    return False


def _name_text(name: dict) -> str:
    return name.get("text") or " ".join([*(name.get("given") or []), name.get("family", "")]).strip()
