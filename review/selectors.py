"""Reads for the review pages: the list of documents, and one document with its pages and results.

The state of a review is read from the FHIR resources themselves (the DiagnosticReport's status), so
a report confirmed or retracted through the API shows the same on these pages.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from fhirserver.storage import repository
from ingestion.edge.operation import progress_text
from ingestion.labreport import REVIEW_THRESHOLD, PatientHeader, Region
from ingestion.models import DigitizeJob
from resources.names import display_name
from review.corrections import ResultRow, row_of

LOW_CONFIDENCE = REVIEW_THRESHOLD  # rows read less surely than this are highlighted, and must be checked

# What a reviewer sees as the state of a document.
READING, FAILED, CANCELLED, AWAITING, CONFIRMED, REJECTED = (
    "reading", "failed", "cancelled", "awaiting review", "confirmed", "rejected")
REPORT_STATES = {"preliminary": AWAITING, "partial": AWAITING, "registered": AWAITING, "final": CONFIRMED,
                 "amended": CONFIRMED, "corrected": CONFIRMED, "appended": CONFIRMED, "entered-in-error": REJECTED,
                 "cancelled": REJECTED}


@dataclass
class ListedDocument:
    job: DigitizeJob
    state: str
    patient: str  # readable name of the subject, "" when none
    results: int
    by: str = ""  # who uploaded it, by name
    stage: str = ""  # while reading: the stage, with pages done out of pages total


@dataclass
class PageImage:
    number: int
    width: float
    height: float


@dataclass
class PatientSummary:
    reference: str
    label: str
    birth_date: str = ""
    gender: str = ""
    identifiers: list[str] = field(default_factory=list)


@dataclass
class DocumentReview:
    job: DigitizeJob
    state: str
    report: dict | None  # the DiagnosticReport as stored now
    rows: list[ResultRow]
    pages: list[PageImage]
    patient: PatientSummary | None  # the subject the results are filed under now
    printed: PatientHeader  # what the page says about the patient
    mismatches: list[str]  # the page contradicts the subject: must be resolved before confirming
    notes: list[str]  # other warnings of the reading

    @property
    def editable(self) -> bool:
        return self.state == AWAITING

    @property
    def needs_patient_choice(self) -> bool:
        return bool(self.mismatches) or self.patient is None

    @property
    def amendable(self) -> bool:
        return self.state == CONFIRMED

    @property
    def open_rows(self) -> list[ResultRow]:
        """Rows a person must still resolve (edit, accept or remove) before the report may be confirmed."""
        return [row for row in self.rows if row.to_check]


def state_of(job: DigitizeJob, report: dict | None) -> str:
    if job.status in (DigitizeJob.QUEUED, DigitizeJob.RUNNING):
        return READING
    if job.status == DigitizeJob.FAILED:
        return FAILED
    if job.status == DigitizeJob.CANCELLED:
        return CANCELLED
    return REPORT_STATES.get((report or {}).get("status", ""), AWAITING)


def documents(*, states: set[str] | None = None, limit: int = 100) -> list[ListedDocument]:
    """Uploaded documents, newest first, with their review state (optionally only some states)."""
    out = []
    names: dict[str, str] = {}
    for job in DigitizeJob.objects.order_by("-created_at")[: limit * 5 if states else limit]:
        report = _current(job.diagnostic_report)
        state = state_of(job, report)
        if states and state not in states:
            continue
        subject = (report or {}).get("subject", {}).get("reference") or job.patient or job.subject
        out.append(
            ListedDocument(
                job=job, state=state, patient=_patient_label(subject), results=len((report or {}).get("result") or []),
                by=uploader(job.requested_by, names), stage=progress_text(job),
            )
        )
        if len(out) >= limit:
            break
    return out


def uploader(requested_by: str, names: dict[str, str] | None = None) -> str:
    """Who asked for a document to be read, as a person reads it: the account's full name, or the app's name
    for a SMART client (with the user it acted for), rather than `user:...` / `client_id:...`."""
    names = {} if names is None else names
    if requested_by not in names:
        names[requested_by] = _uploader(requested_by)
    return names[requested_by]


def _uploader(requested_by: str) -> str:
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    kind, _, value = requested_by.partition(":")
    if not value:
        return requested_by
    if kind in ("user", "username"):
        user = get_user_model().objects.filter(username=value).first()
        return (user.get_full_name() or user.get_username()) if user else value
    if kind == "client_id":
        application = get_application_model().objects.filter(client_id=value).first()
        return f"{application.name} (app)" if application and application.name else "an app"
    return requested_by


def document_review(job: DigitizeJob, *, details: bool = True) -> DocumentReview:
    """One document as the review page shows it; `details=False` skips what only the page draws (word
    confidences per cell), for deciding."""
    report = _current(job.diagnostic_report)
    where = {r["observation"]: r for r in job.rows or []}
    printed_rows = (job.lab_report or {}).get("rows", [])
    references = [r["reference"] for r in (report or {}).get("result") or []]
    ids = [r.split("/", 1)[1] for r in references if r.startswith("Observation/")]
    observations = _current_many("Observation", ids)
    rows = []
    for index, reference in enumerate(references):
        observation = observations.get(reference)
        if observation is None:
            continue
        known = where.get(reference) or {}
        region = (
            Region(page=known["region"]["page"], box=tuple(known["region"]["box"])) if known.get("region") else None
        )
        printed = printed_rows[known["row"]] if "row" in known and known["row"] < len(printed_rows) else None
        row = row_of(index, observation, region=region, printed_value=(printed or {}).get("printed_value"))
        if details and printed and region and row.machine_read:
            row = replace(row, cell_confidence=cell_confidence(job.document or {}, printed, region))
        rows.append(row)
    pages = [
        PageImage(number=p["number"], width=p["width"], height=p["height"])
        for p in (job.document or {}).get("pages", [])
    ]
    subject = (report or {}).get("subject", {}).get("reference") or job.patient
    printed = PatientHeader(**(job.lab_report or {}).get("patient", {}))
    mismatches = [
        w["diagnostics"] for w in job.warnings or [] if any(e.startswith("Patient.") for e in w.get("expression", []))
    ]
    notes = [w["diagnostics"] for w in job.warnings or [] if w["diagnostics"] not in mismatches]
    return DocumentReview(job=job, state=state_of(job, report), report=report, rows=rows, pages=pages,
                          patient=patient_summary(subject) if subject else None, printed=printed,
                          mismatches=mismatches, notes=notes)


def patient_summary(reference: str) -> PatientSummary | None:
    patient = _current(reference)
    if patient is None:
        return None
    return PatientSummary(
        reference=reference,
        label=display_name(patient) or reference,
        birth_date=patient.get("birthDate", ""),
        gender=patient.get("gender", ""),
        identifiers=[i["value"] for i in patient.get("identifier") or [] if i.get("value")],
    )


def is_low_confidence(row: ResultRow) -> bool:
    return row.confidence is not None and row.confidence < LOW_CONFIDENCE


def is_low_confidence_cell(row: ResultRow, cell: str) -> bool:
    """A cell read less surely than LOW_CONFIDENCE; without word-level confidences, the row's name and value."""
    if cell in row.cell_confidence:
        return row.cell_confidence[cell] < LOW_CONFIDENCE
    return not row.cell_confidence and cell in ("name", "value") and is_low_confidence(row)


def cell_confidence(document: dict, printed: dict, region: Region) -> dict[str, float]:
    """Per cell, the lowest confidence of the words in the row's region that make up what was printed there."""
    pages = document.get("pages") or []
    if not 1 <= region.page <= len(pages):
        return {}
    x0, y0, x1, y1 = region.box
    words = [
        w
        for line in pages[region.page - 1].get("lines", [])
        for w in line.get("words") or []
        if x0 - 1 <= (w["box"][0] + w["box"][2]) / 2 <= x1 + 1 and y0 - 1 <= (w["box"][1] + w["box"][3]) / 2 <= y1 + 1
    ]
    texts = {
        "name": printed.get("printed_name"),
        "value": printed.get("printed_value"),
        "unit": printed.get("printed_unit"),
        "range": (printed.get("reference_range") or {}).get("text"),
    }
    out = {}
    for cell, text in texts.items():
        tokens = set((text or "").split())
        confidences = [float(w["confidence"]) for w in words if w["text"] in tokens]
        if confidences:
            out[cell] = min(confidences)
    return out


def _current_many(resource_type: str, ids: list[str]) -> dict[str, dict]:
    """The current content of many resources of one type in one query: "Type/id" -> resource."""
    found = repository.current_many(resource_type, ids)
    return {f"{resource_type}/{id}": stored.content for id, stored in found.items() if stored and not stored.deleted}


def _current(reference: str | None) -> dict | None:
    if not reference or "/" not in reference:
        return None
    resource_type, _, id = reference.partition("/")
    stored = repository.current(resource_type, id)
    return stored.content if stored and not stored.deleted else None


def _patient_label(reference: str | None) -> str:
    patient = _current(reference)
    return (display_name(patient) or reference or "") if patient else ""
