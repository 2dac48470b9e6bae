"""LabReport -> US Core 6/7 laboratory resources, as entries of one transaction Bundle.

Plain functions over plain data: no database, no HTTP. Every resource gets a `urn:uuid:` fullUrl and
references the others by it, so the caller POSTs them together and the server rewrites the
references on write.

    entries = build_resources(report, patient_ref=..., document_reference_ref=..., binary_ref=...,
                              engine="paddleocr-onnx/PP-OCRv6_small", issued="2026-05-01T10:00:00Z")

The one Bundle built from them is the $digitize service's (ingestion.digitize), with the stored
original's Binary and DocumentReference (`build_binary`, `build_document_reference`) and the patient
matching decided first (fhir_mapping.patients).
"""
from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections import Counter
from urllib.parse import urlencode

from ingestion.labreport import LabReport
from ingestion.terminology import match_panel

from .codes import (
    AI_ASSERTED,
    EXT_AI_CONFIDENCE,
    LAB_CATEGORY,
    LAB_REPORT,
    LAB_SERVICE,
    LIFECYCLE,
    LOINC,
    PARTICIPANT_TYPE,
    PROFILE_DOCUMENT,
    PROFILE_ORGANIZATION,
    PROFILE_PROVENANCE,
    PROFILE_REPORT,
    V2_0074,
    coding,
    concept,
    fhir_datetime,
    instant,
    printed_instant,
)
from .observations import ObservationContext, build_observation, context_elements, expected_flag, flag_disagrees

PIPELINE = "fhirserver-digitize"
PIPELINE_VERSION = "1.0"

__all__ = ["build_resources", "transaction_entries", "build_binary", "accession_identifier", "lab_key",
           "build_document_reference", "build_observation", "expected_flag", "flag_disagrees", "new_urn"]


# Identifiers this server gives what it reads, so the same lab, reader and report are found again.
LAB_SYSTEM = "urn:fhir-digitize:lab"  # value: the lab's name folded (case, spacing and punctuation ignored)
DEVICE_SYSTEM = "urn:fhir-digitize:device"  # value: pipeline/version/engine-and-model
ACCESSION_SYSTEM = "urn:fhir-digitize:accession"  # + ":" + the lab's folded name: the accession is the lab's


def lab_key(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")


def accession_identifier(report: LabReport) -> dict | None:
    """The report's accession number with the lab that gave it: what makes one report one DiagnosticReport."""
    if not report.accession:
        return None
    system = f"{ACCESSION_SYSTEM}:{lab_key(report.lab_name) or 'unknown-lab'}"
    return {"type": concept("http://terminology.hl7.org/CodeSystem/v2-0203", "ACSN", "Accession ID"),
            "system": system, "value": report.accession}


def _if_none_exist(resource: dict) -> dict:
    """A conditional create on the resource's own identifier: reused when it is already stored."""
    identifier = resource["identifier"][0]
    return {"method": "POST", "url": resource["resourceType"],
            "ifNoneExist": urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"})}


def new_urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _entry(resource: dict) -> dict:
    return {"fullUrl": new_urn(), "resource": resource}


def build_resources(report: LabReport, *, patient_ref: str | None, document_reference_ref: str, binary_ref: str,
                    engine: str, issued: str | None = None, media_type: str | None = None,
                    encounter_ref: str | None = None, performer_ref: str | None = None,
                    categories: list[str] | tuple[str, ...] = (), time_zone: str | None = None) -> list[dict]:
    """Organization (the lab), Device (the reader), one Observation per row in row order, the
    DiagnosticReport and the Provenance, as `{"fullUrl", "resource"}` entries.

    `issued` on the report and its results is the report date printed on the page (a printed local
    time read in `time_zone`); only when the page prints none is it `issued` (default: now). The
    Provenance records when this transformation happened: `issued`, always."""
    recorded = instant(issued)
    issued = printed_instant(report.reported, time_zone) or recorded
    effective_at = fhir_datetime(report.collected) or fhir_datetime(report.reported)
    entries: list[dict] = []
    performers: list[str] = []
    if report.lab_name and lab_key(report.lab_name):
        organization = {"resourceType": "Organization", "meta": {"profile": [PROFILE_ORGANIZATION]},
                        "identifier": [{"system": LAB_SYSTEM, "value": lab_key(report.lab_name)}],
                        "active": True, "name": report.lab_name}
        lab = _entry(organization)
        lab["request"] = _if_none_exist(organization)  # one Organization per lab, however often it reports
        entries.append(lab)
        performers.append(lab["fullUrl"])
    if performer_ref:
        performers.append(performer_ref)
    device = _entry(_device(engine))
    device["request"] = _if_none_exist(device["resource"])  # one Device per engine and model version
    entries.append(device)

    ctx = ObservationContext(subject=patient_ref, document_reference=document_reference_ref, effective=effective_at,
                             issued=issued, performers=tuple(performers), encounter=encounter_ref)
    observations = [_entry(build_observation(row, ctx)) for row in report.rows]
    entries += observations
    report_entry = _entry(_diagnostic_report(report, ctx, [o["fullUrl"] for o in observations], binary_ref,
                                             media_type, categories))
    entries.append(report_entry)
    targets = [e["fullUrl"] for e in entries if e is not device]
    entries.append(_entry(_provenance(targets, device["fullUrl"], document_reference_ref, recorded)))
    return entries


def transaction_entries(report: LabReport, context) -> list[dict]:
    """Adapter for the $digitize service's `MappingContext` (subject, document_reference, binary, ...)."""
    return build_resources(
        report, patient_ref=context.subject, document_reference_ref=context.document_reference,
        binary_ref=context.binary, engine=context.engine, media_type=context.media_type,
        encounter_ref=getattr(context, "encounter", None), performer_ref=getattr(context, "performer", None),
        categories=getattr(context, "categories", ()) or (), time_zone=_local_zone(),
    )


def _local_zone() -> str:
    """The zone printed times are local to: settings.DIGITIZE_TIME_ZONE, else TIME_ZONE."""
    from django.conf import settings

    return getattr(settings, "DIGITIZE_TIME_ZONE", None) or getattr(settings, "TIME_ZONE", None) or "UTC"


def _device(engine: str) -> dict:
    names = [{"name": f"{PIPELINE} {PIPELINE_VERSION}", "type": "user-friendly-name"}]
    if engine:
        names.append({"name": engine, "type": "model-name"})
    return {
        "resourceType": "Device",
        "identifier": [{"system": DEVICE_SYSTEM, "value": f"{PIPELINE}/{PIPELINE_VERSION}/{engine or 'none'}"}],
        "deviceName": names,
        "type": {"text": "Document reading and lab report understanding software"},
        "version": [{"type": {"text": "pipeline"}, "value": PIPELINE_VERSION},
                    *([{"type": {"text": "engine/model"}, "value": engine}] if engine else [])],
    }


def _report_code(report: LabReport) -> dict:
    """The panel LOINC when the whole report is one panel (by its results, else by its one heading)."""
    panel = match_panel([row.loinc for row in report.rows])
    headings = Counter(row.panel for row in report.rows if row.panel)
    if panel is None and len(headings) == 1:
        panel = match_panel(next(iter(headings)))
        if panel and not {row.loinc for row in report.rows if row.loinc} <= panel.members:
            panel = None  # the heading names a panel the results do not belong to
    if panel:
        text = next(iter(headings)) if len(headings) == 1 else panel.display
        return {"coding": [coding(LOINC, panel.loinc, panel.display)], "text": text}
    return {"coding": [dict(LAB_REPORT)], "text": "Laboratory report"}


def _categories(extra: list[str] | tuple[str, ...]) -> list[dict]:
    out = [LAB_SERVICE, LAB_CATEGORY]
    for item in extra:
        system, _, code = item.rpartition("|")
        if code and code not in ("LAB", "laboratory"):
            out.append(concept(system or V2_0074, code))
    return out


def _diagnostic_report(report: LabReport, ctx: ObservationContext, results: list[str], binary_ref: str,
                       media_type: str | None, categories) -> dict:
    confidences = [row.confidence for row in report.rows]
    dr: dict = {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [PROFILE_REPORT], "security": [AI_ASSERTED]},
        "extension": [{"url": EXT_AI_CONFIDENCE, "valueDecimal": round(float(min(confidences, default=1.0)), 4)}],
        "status": "preliminary",
        "category": _categories(categories),
        "code": _report_code(report),
    }
    accession = accession_identifier(report)
    if accession:
        dr["identifier"] = [accession]
    dr.update(context_elements(ctx))
    if results:
        dr["result"] = [{"reference": ref} for ref in results]
    form: dict = {"url": binary_ref, "title": "Original lab report"}
    if media_type:
        form["contentType"] = media_type
    dr["presentedForm"] = [form]
    return dr


def _provenance(targets: list[str], device_ref: str, document_reference_ref: str, recorded: str) -> dict:
    return {
        "resourceType": "Provenance",
        "meta": {"profile": [PROFILE_PROVENANCE]},
        "target": [{"reference": ref} for ref in targets],
        "recorded": recorded,
        "activity": concept(LIFECYCLE, "transform", "Transform/Translate Record Lifecycle Event"),
        "agent": [
            {"type": concept(PARTICIPANT_TYPE, "transformer", "Transformer"), "who": {"reference": device_ref}},
            {"type": concept(PARTICIPANT_TYPE, "assembler", "Assembler"), "who": {"reference": device_ref}},
        ],
        "entity": [{"role": "source", "what": {"reference": document_reference_ref}}],
    }


# --- the original document, stored before it is read (ingestion.digitize.submit) ---------------------
def build_binary(content: bytes, content_type: str) -> dict:
    return {"resourceType": "Binary", "contentType": content_type, "data": base64.b64encode(content).decode()}


def build_document_reference(content: bytes, content_type: str, *, binary_ref: str, subject_ref: str | None,
                             date: str | None = None, title: str | None = None) -> dict:
    """US Core DocumentReference for the original: type 11502-2, attachment -> Binary with SHA-1 hash and size."""
    attachment: dict = {
        "contentType": content_type, "url": binary_ref, "size": len(content),
        "hash": base64.b64encode(hashlib.sha1(content).digest()).decode(),  # Attachment.hash is base64 SHA-1
        "creation": instant(date),
    }
    if title:
        attachment["title"] = title
    doc: dict = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PROFILE_DOCUMENT]},
        "status": "current",
        "docStatus": "preliminary",
        "type": {"coding": [dict(LAB_REPORT)], "text": "Laboratory report"},
        "category": [concept("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                             "clinical-note", "Clinical Note")],
        "date": instant(date),
        "content": [{"attachment": attachment}],
    }
    if subject_ref:
        doc["subject"] = {"reference": subject_ref}
    return doc

