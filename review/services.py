"""Writes of the review pages: upload documents for `$digitize`, and record a clinician's decision.

A decision (save corrections, confirm, reject) is ONE transaction Bundle through the FHIR core, like
any client's write: each changed resource gets exactly one new version (a corrected and confirmed
Observation is version 2: the machine's reading, then the person's), with the version the page
showed as If-Match, and a Provenance naming the person (the Practitioner linked to the Django user, review.accounts).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings

from fhirserver.core import bundles
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.storage import repository
from ingestion import digitize
from ingestion.edge.jobs import queue
from ingestion.edge.uploads import Upload, sniff_media_type
from ingestion.fhir_mapping.codes import LIFECYCLE, PARTICIPANT_TYPE, PROFILE_PROVENANCE, concept, instant
from ingestion.fhir_mapping.patients import new_patient
from ingestion.labreport import PatientHeader
from ingestion.models import DigitizeJob
from review.accounts import display_name, practitioner_of
from review.corrections import CorrectionError, ResultCells, corrected
from review.selectors import AWAITING, REJECTED, document_review

Action = Literal["save", "confirm", "reject"]
ACTIVITIES = {"save": ("amend", "Amend (Update) Record Lifecycle Event", "author", "Author"),
              "confirm": ("verify", "Verify Record Lifecycle Event", "verifier", "Verifier"),
              "reject": ("deprecate", "Deprecate Record Lifecycle Event", "verifier", "Verifier")}


class ReviewError(ValueError):
    """A decision that cannot be recorded as asked; the message is shown to the reviewer."""


# --- upload ----------------------------------------------------------------------------------------
@dataclass
class Submitted:
    filename: str
    job: DigitizeJob | None = None
    error: str = ""


def submit_documents(
    *, documents: list[tuple[str, bytes]], subject: str | None, requested_by: str, base_url: str
) -> list[Submitted]:
    """Each document becomes a `$digitize` job (or finds the one it already has); refusals per file."""
    if subject:
        _require_patient(subject)
    limit = settings.INGESTION["MAX_FILE_BYTES"]
    out = []
    for filename, data in documents:
        if not data:
            out.append(Submitted(filename, error="The file is empty"))
            continue
        if len(data) > limit:
            out.append(Submitted(filename, error=f"The file is {len(data):,} bytes; the limit is {limit:,} bytes"))
            continue
        try:
            media_type = sniff_media_type(data)
        except FhirError as error:
            out.append(Submitted(filename, error=error.diagnostics))
            continue
        job, needs_run = digitize.submit(Upload(data=data, media_type=media_type, filename=filename, subject=subject),
                                         base_url=base_url, requested_by=requested_by)
        if needs_run:
            queue.enqueue(job.id, data=data)
        out.append(Submitted(filename, job=job))
    return out


# --- decisions -------------------------------------------------------------------------------------
@dataclass
class PatientChoice:
    """How a reviewer settled whom the results are about."""
    action: Literal["keep", "existing", "new"]
    patient_id: str = ""  # for "existing"


@dataclass
class RowEdit:
    version: int  # the version the page showed
    cells: ResultCells


@dataclass
class Decision:
    action: Action
    edits: dict[str, RowEdit] = field(default_factory=dict)  # "Observation/<id>" -> what the table holds
    patient: PatientChoice | None = None
    reason: str = ""  # why a report was rejected


@dataclass
class Recorded:
    action: Action
    corrected: list[str]  # Observations whose values changed
    written: list[str]  # every resource given a new version (or created)
    provenance: str | None
    subject: str | None


def decide(job: DigitizeJob, decision: Decision, *, user, base_url: str) -> Recorded:
    """Record a reviewer's decision on a digitised report, in one transaction."""
    review = document_review(job)
    _check_allowed(review, decision)
    entries: list[dict] = []  # POSTs first (a new Patient), then a PUT per changed resource, then the Provenance
    subject = review.report.get("subject", {}).get("reference")
    new_subject = (
        None if decision.action == "reject" else _patient_entry(decision.patient, review.printed, subject, entries)
    )
    changed, corrected_refs = _changes(job, review, decision, new_subject)
    if not changed:
        return Recorded(decision.action, [], [], None, subject)
    for stored, new in changed:
        entries.append(
            {
                "fullUrl": f"{base_url}/{stored.resource_type}/{stored.id}",
                "resource": _unstamped(new),
                "request": {"method": "PUT", "url": f"{stored.resource_type}/{stored.id}", "ifMatch": stored.etag},
            }
        )
    created = [e["fullUrl"] for e in entries if e["request"]["method"] == "POST"]
    with repository.write_transaction():
        practitioner = practitioner_of(user)
        targets = [f"{s.resource_type}/{s.id}" for s, _ in changed] + created
        entries.append(
            _provenance_entry(decision, targets, practitioner, display_name(user), job.document_reference_id)
        )
        try:
            response = bundles.process(
                FhirRequest(
                    method="POST",
                    base_url=base_url,
                    kind="system",
                    user=user,
                    body={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                )
            ).resource
        except FhirError as error:
            if error.status == 412:
                raise ReviewError(
                    "The report was changed by someone else since this page was opened; reload it"
                ) from None
            raise
    locations = [e["response"]["location"].split("/_history")[0] for e in response["entry"]]
    subject = next(
        (loc for loc, e in zip(locations, entries) if e["resource"]["resourceType"] == "Patient"),
        new_subject or subject,
    )
    written = [loc for loc, e in zip(locations, entries) if e["resource"]["resourceType"] != "Provenance"]
    return Recorded(decision.action, corrected_refs, written, locations[-1], subject)


def _check_allowed(review, decision: Decision) -> None:
    if review.report is None:
        raise ReviewError("This document has no results to review yet")
    if decision.action == "reject":
        if review.state == REJECTED:
            raise ReviewError("This report was already rejected")
    elif review.state != AWAITING:
        raise ReviewError(f"This report is {review.state}; it can no longer be changed here")
    if decision.action == "confirm" and review.needs_patient_choice and decision.patient is None:
        raise ReviewError(
            "The page does not match the patient the results are filed under: choose the patient before confirming"
        )


def _changes(job: DigitizeJob, review, decision: Decision, new_subject: str | None) -> tuple[list[tuple], list[str]]:
    """(stored, new content) for every resource the decision changes, and the Observations corrected."""
    report = review.report
    status = {"confirm": "final", "reject": "entered-in-error"}.get(decision.action)
    results = [r["reference"] for r in report.get("result") or []]
    unknown = set(decision.edits) - set(results)
    if unknown:
        raise ReviewError(f"{', '.join(sorted(unknown))} is not a result of this report")
    changed, corrected_refs = [], []
    for number, reference in enumerate(results, start=1):
        stored = repository.read(*reference.split("/", 1))
        edit = decision.edits.get(reference)
        if edit and edit.version != stored.version:
            raise ReviewError(f"{reference} was changed by someone else since this page was opened; reload it")
        new = None
        if edit and decision.action != "reject":  # a rejection stores no corrections
            try:
                new = corrected(stored.content, edit.cells, sex=review.printed.sex)
            except CorrectionError as error:
                raise ReviewError(f"Row {number} ({edit.cells.name or reference}): {error}") from None
            if new is not None:
                corrected_refs.append(reference)
        new = _with(new or stored.content, status=status, subject=new_subject)
        if new is not stored.content:
            changed.append((stored, new))
    stored_report = repository.read("DiagnosticReport", report["id"])
    new_report = _with(stored_report.content, status=status, subject=new_subject)
    if new_report is not stored_report.content:
        changed.append((stored_report, new_report))
    if new_subject:
        original = repository.read("DocumentReference", job.document_reference_id)
        changed.append((original, _with(original.content, subject=new_subject)))
    return changed, corrected_refs


def _patient_entry(
    choice: PatientChoice | None, printed: PatientHeader, subject: str | None, entries: list[dict]
) -> str | None:
    """The new subject reference when the choice changes it (a urn:uuid for a Patient created here)."""
    if choice is None or choice.action == "keep":
        if choice is not None and not subject:
            raise ReviewError(
                "The results have no patient yet: choose an existing patient or create one from the report"
            )
        return None
    if choice.action == "existing":
        if not choice.patient_id:
            raise ReviewError("Choose the patient from the search results")
        reference = f"Patient/{choice.patient_id}"
        _require_patient(reference)
        return None if reference == subject else reference
    if not (printed.family or printed.given or printed.identifier):
        raise ReviewError("The report names no patient to create; choose an existing patient")
    urn = f"urn:uuid:{uuid.uuid4()}"
    entries.append({"fullUrl": urn, "resource": new_patient(printed), "request": {"method": "POST", "url": "Patient"}})
    return urn


def _with(resource: dict, *, status: str | None = None, subject: str | None = None) -> dict:
    """`resource` itself when nothing changes, else a changed copy."""
    changes = {}
    if status and resource.get("status") != status:
        changes["status"] = status
    if subject and resource.get("subject", {}).get("reference") != subject:
        changes["subject"] = {"reference": subject}
    return {**resource, **changes} if changes else resource


def _unstamped(resource: dict) -> dict:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**resource, "meta": meta} if meta else {k: v for k, v in resource.items() if k != "meta"}


def _provenance_entry(
    decision: Decision, targets: list[str], practitioner: str, display: str, document_reference_id: str
) -> dict:
    code, code_display, role, role_display = ACTIVITIES[decision.action]
    provenance = {
        "resourceType": "Provenance",
        "meta": {"profile": [PROFILE_PROVENANCE]},
        "target": [{"reference": t} for t in targets],
        "recorded": instant(),
        "activity": concept(LIFECYCLE, code, code_display),
        "agent": [
            {
                "type": concept(PARTICIPANT_TYPE, role, role_display),
                "who": {"reference": practitioner, "display": display},
            }
        ],
        "entity": [{"role": "source", "what": {"reference": f"DocumentReference/{document_reference_id}"}}],
    }
    if decision.reason.strip():
        provenance["reason"] = [{"text": decision.reason.strip()}]
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": provenance,
        "request": {"method": "POST", "url": "Provenance"},
    }


def _require_patient(reference: str) -> None:
    try:
        repository.read("Patient", reference.split("/", 1)[1])
    except FhirError:
        raise ReviewError(f"{reference} does not exist") from None


__all__ = ["ReviewError", "submit_documents", "decide", "Decision", "PatientChoice", "RowEdit", "Recorded"]
