"""The OperationDefinition of `$digitize`, stored as an ordinary resource after every migrate.

It is served at /fhir/OperationDefinition/DiagnosticReport-digitize, and the CapabilityStatement
points at it through the operation registry's `definition` (its canonical URL).
"""
from __future__ import annotations

import logging

from django.db import DatabaseError

from fhirserver.storage import repository

DEFINITION_ID = "DiagnosticReport-digitize"
DEFINITION_URL = "https://fhir-digitize.org/fhir/OperationDefinition/DiagnosticReport-digitize"


def _param(name: str, use: str, min: int, max: str, type: str, documentation: str, **extra) -> dict:
    return {"name": name, "use": use, "min": min, "max": max, "type": type, "documentation": documentation, **extra}


OPERATION_DEFINITION = {
    "resourceType": "OperationDefinition",
    "id": DEFINITION_ID,
    "url": DEFINITION_URL,
    "version": "1.0.0",
    "name": "Digitize",
    "title": "Digitize a lab report",
    "status": "active",
    "kind": "operation",
    "publisher": "fhir-digitize",
    "affectsState": True,
    "code": "digitize",
    "resource": ["DiagnosticReport", "Patient"],
    "system": False,
    "type": True,
    "instance": True,
    "description": (
        "Reads a photo, scan or PDF of a laboratory report and stores it as US Core laboratory resources: the original "
        "as Binary + DocumentReference (stored first), the Patient (matched by MRN, then name + birth date, else "
        "created; at Patient/[id]/$digitize that patient is the subject), a DiagnosticReport, one Observation per "
        "result with LOINC code, UCUM quantity, reference range and interpretation, and a Provenance naming the "
        "reading Device. Accepts multipart/form-data (a `file` part plus optional `subject`, `encounter`, `performer`, "
        "`category`, `date-order` fields), a raw body in the document's media type (PDF, PNG, JPEG, TIFF, WebP, "
        "HEIC), or this "
        "Parameters resource. Synchronous by default; with `Prefer: respond-async` it answers 202 with a "
        "Content-Location status URL (FHIR asynchronous request pattern). The same file for the same subject returns "
        "the existing result."
    ),
    "comment": "Results are stored with status 'preliminary' until a person verifies them.",
    "parameter": [
        _param("document", "in", 1, "1", "Attachment",
               "The report: contentType + base64 data, or url of a stored Binary (Binary/[id])"),
        _param("subject", "in", 0, "1", "Reference", "The patient the report is about; mismatching demographics on "
               "the page become warnings, never merged", targetProfile=["http://hl7.org/fhir/StructureDefinition/Patient"]),
        _param("encounter", "in", 0, "1", "Reference", "Encounter the tests were ordered in",
               targetProfile=["http://hl7.org/fhir/StructureDefinition/Encounter"]),
        _param("performer", "in", 0, "1", "Reference", "The performing lab or clinician when not read from the page",
               targetProfile=["http://hl7.org/fhir/StructureDefinition/Organization",
                              "http://hl7.org/fhir/StructureDefinition/Practitioner"]),
        _param("category", "in", 0, "*", "code", "Extra DiagnosticReport category (v2-0074 code, e.g. HM, CH)"),
        _param("date-order", "in", 0, "1", "code", "How the report writes dates: DMY (day first), MDY (month "
               "first) or YMD. Without it the page decides (a day above 12; an NHS number, glucose in mmol/L, British "
               "spelling or a decimal comma for day-first; glucose in mg/dL or a CLIA number for month-first), and a "
               "date left ambiguous is read month-first with a warning in the OperationOutcome. Multipart field, "
               "Parameters valueCode, or URL parameter with a raw body"),
        _param("return", "out", 1, "1", "Bundle", "A collection Bundle of every stored resource, with an "
               "OperationOutcome entry carrying warnings (patient mismatches, unreadable cells) when there are any"),
    ],
}


def install_operation_definition(**kwargs) -> None:
    """post_migrate handler: store (or refresh) the OperationDefinition; a no-op when it is current."""
    try:
        stored = repository.current("OperationDefinition", DEFINITION_ID)
        if stored is not None and not stored.deleted and _without_meta(stored.content) == OPERATION_DEFINITION:
            return
        repository.update("OperationDefinition", DEFINITION_ID, dict(OPERATION_DEFINITION))
    except DatabaseError:  # a partial migrate (storage or search tables not there yet): the next migrate stores it
        logging.getLogger("ingestion").warning("$digitize OperationDefinition not stored yet: storage is not migrated")


def _without_meta(content: dict | None) -> dict:
    return {k: v for k, v in (content or {}).items() if k != "meta"}
