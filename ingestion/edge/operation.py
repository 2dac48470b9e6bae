"""`$digitize` on DiagnosticReport (type level) and Patient (instance level): a thin layer over the service.

Synchronous by default (200 + collection Bundle). With `Prefer: respond-async`: 202 + Content-Location of
the job's status URL, which answers 202 (X-Progress) while it runs, 200 with the same Bundle when done,
and the failure's status with its OperationOutcome otherwise.
"""
from __future__ import annotations

from django.conf import settings

from fhirserver.core import guard, references
from fhirserver.core.errors import FhirError, operation_outcome
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.storage import repository
from ingestion import digitize
from ingestion.edge import uploads
from ingestion.edge.definition import DEFINITION_URL
from ingestion.edge.jobs import queue
from ingestion.edge.uploads import read_upload, sniff_media_type
from ingestion.models import DigitizeJob
from ingestion.results import current_result


def digitize_operation(request: FhirRequest) -> FhirResponse:
    if request.kind == "operation-instance" and request.resource_type != "Patient":
        raise FhirError(
            404,
            "$digitize runs at DiagnosticReport/$digitize or Patient/[id]/$digitize",
            issue_code="not-supported",
            code="UNKNOWN_OPERATION",
        )
    guard.check(request, "operation", "DiagnosticReport")
    upload = read_upload(request, max_bytes=settings.INGESTION["MAX_FILE_BYTES"])
    launch_patient = getattr(request.access, "launch_patient", None)
    if not upload.subject and launch_patient:
        upload.subject = f"Patient/{launch_patient}"  # a patient-context app digitizes for its patient
    if upload.subject:
        patient = repository.read("Patient", upload.subject.split("/", 1)[1])  # 404 before anything is stored
        guard.check(request, "read", "Patient", patient.content)
    _check_writes(request, upload.subject)
    # What the results will point at (the encounter, the performer) must be within the caller's reach too.
    references.check(request, "DiagnosticReport", {
        "encounter": {"reference": upload.encounter} if upload.encounter else None,
        "performer": [{"reference": upload.performer}] if upload.performer else [],
    })
    upload.media_type = sniff_media_type(upload.data)  # the bytes decide, not the client's label
    job, needs_run = digitize.submit(upload, base_url=request.base_url, requested_by=_requester(request))
    if respond_async(request):
        if needs_run:
            queue.enqueue(job.id, data=upload.data)
        return accepted(job, request.base_url)  # even for a finished job: the client polls as the pattern says
    if needs_run and not queue.uses_celery():
        job = digitize.run(job.id, data=upload.data)  # this thread orchestrates; the OCR runs in a reader process
    elif needs_run:
        queue.enqueue(job.id)
    if not job.finished:
        job = digitize.wait(job.id)
    return job_response(job, request.base_url)


def _check_writes(request: FhirRequest, subject: str | None) -> None:
    """The caller must be allowed to create everything the job will write, for this subject: the job
    itself then writes as the server. A patient-scoped token thus cannot file results elsewhere."""
    about = {"subject": {"reference": subject}} if subject else {}
    guard.check(request, "create", "Binary")
    for resource_type in ("DocumentReference", "DiagnosticReport", "Observation"):
        guard.check(request, "create", resource_type, {"resourceType": resource_type, **about})
    guard.check(
        request, "create", "Provenance", {"resourceType": "Provenance", "target": [about["subject"]] if subject else []}
    )
    if not subject:
        guard.check(request, "create", "Patient", {"resourceType": "Patient"})


def respond_async(request: FhirRequest) -> bool:
    prefer = (request.header("prefer") or "").lower()
    return any(token.strip() == "respond-async" for part in prefer.split(";") for token in part.split(","))


def status_url(job: DigitizeJob, base_url: str) -> str:
    return f"{base_url}/_jobs/{job.id}"


def job_response(job: DigitizeJob, base_url: str, result: dict | None = None) -> FhirResponse:
    """What the status URL (and a synchronous call) answers for the job's current state: when done, the
    current version of every resource it stored (a clinician may have confirmed or corrected them since)."""
    headers = {"Content-Location": status_url(job, base_url)}
    if job.status == DigitizeJob.DONE:
        return FhirResponse(status=200, resource=result or current_result(job, base_url), headers=headers)
    if job.status == DigitizeJob.FAILED:
        return FhirResponse(status=job.error_status or 500, resource=job.error, headers=headers)
    if job.status == DigitizeJob.CANCELLED:
        raise FhirError(404, f"Digitize job {job.id} was cancelled; the original stays as DocumentReference/"
                        f"{job.document_reference_id}", issue_code="not-found", code="DIGITIZE_JOB_CANCELLED")
    return accepted(job, base_url)


def accepted(job: DigitizeJob, base_url: str) -> FhirResponse:
    """202 with the status URL and how far the job has got."""
    headers = {
        "Content-Location": status_url(job, base_url),
        "X-Progress": f"{progress_text(job)} ({round(job.progress * 100)}%)",
        "Retry-After": "1",
    }
    doing = "is queued" if job.status == DigitizeJob.QUEUED else f"is {job.status}: {progress_text(job)}"
    outcome = operation_outcome([{"severity": "information", "code": "informational",
                                  "diagnostics": f"Digitize job {job.id} {doing}; the original is "
                                                 f"stored as DocumentReference/{job.document_reference_id}"}])
    return FhirResponse(status=202, resource=outcome, headers=headers)


def progress_text(job: DigitizeJob) -> str:
    """The stage, with pages done out of pages total while reading: "reading: 2 of 5 pages done"."""
    if job.stage == "reading" and job.pages_total:
        return f"reading: {job.pages_done} of {job.pages_total} pages done"
    return job.stage


def _requester(request: FhirRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.get_username()}"
    access = request.access
    for attribute in ("username", "client_id"):
        value = getattr(access, attribute, None) if access is not None else None
        if value:
            return f"{attribute}:{value}"
    return ""


register(
    Operation(
        name="digitize",
        handler=digitize_operation,
        resource_types=("DiagnosticReport", "Patient"),
        levels=("type", "instance"),
        definition=DEFINITION_URL,
        methods=("POST",),
        affects_state=True,
        body_too_large=lambda size: uploads.upload_too_large(size, settings.INGESTION["MAX_FILE_BYTES"]),
    )
)
