"""The status URL of an asynchronous `$digitize` (FHIR asynchronous request pattern).

GET: 202 + X-Progress while the job runs, 200 + the result Bundle when done, the failure's status +
OperationOutcome when it failed, 404 once cancelled. DELETE: cancel (202), 409 when already finished.
A job the caller may not see (another patient's) is 404 to both, as if it did not exist: no oracle.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from fhirserver.api import http
from fhirserver.core import guard
from fhirserver.core.errors import FhirError, outcome_info
from fhirserver.core.request import FhirRequest, FhirResponse
from ingestion import digitize
from ingestion.edge.jobs import queue
from ingestion.edge.operation import job_response
from ingestion.models import DigitizeJob
from ingestion.results import current_result

PATIENT_DATA = ("Patient", "DiagnosticReport", "Observation", "DocumentReference")


@csrf_exempt
def job_status(request: HttpRequest, job_id) -> HttpResponse:
    media_type = "application/fhir+json"
    try:
        fhir_request = FhirRequest(
            method=request.method.upper(), base_url=http.base_url(request), kind="digitize-status",
            headers=http.request_headers(request),
        )
        fhir_request.access = http.authenticate(request, fhir_request)
        fhir_request.user = getattr(request, "user", None)
        response = _answer(fhir_request, job_id)
        return http.render(request, fhir_request, response, media_type, [])
    except FhirError as error:
        return http.render_error(error, media_type)


def _answer(request: FhirRequest, job_id) -> FhirResponse:
    guard.check(request, "operation", "DiagnosticReport")
    job = DigitizeJob.objects.filter(id=job_id).first()
    if job is None or not _may_see(request, job):
        # Another patient's job answers exactly like no job, for GET and DELETE, running or finished.
        raise FhirError(404, f"No digitize job {job_id}", issue_code="not-found", code="DIGITIZE_JOB_UNKNOWN")
    if request.method == "DELETE":
        if not digitize.cancel(job):
            raise FhirError(
                409,
                f"Digitize job {job.id} has already finished ({job.status}); delete its resources instead",
                issue_code="conflict",
                code="DIGITIZE_JOB_FINISHED",
            )
        return FhirResponse(status=202, resource=outcome_info(f"Digitize job {job.id} is cancelled; nothing it had not "
                                                               "yet stored will be stored"))
    if request.method not in ("GET", "HEAD"):
        raise FhirError(
            405,
            f"{request.method} is not allowed on a job status URL",
            issue_code="not-supported",
            code="METHOD_NOT_ALLOWED",
        )
    if queue.resume_if_stale(job):
        job.refresh_from_db()
    return job_response(job, request.base_url)


def _may_see(request: FhirRequest, job: DigitizeJob) -> bool:
    """A patient-confined token sees (and cancels) only the jobs about its patient; any token only
    the finished jobs whose results it may read (the lab Organization and the reader Device are
    nobody's compartment)."""
    access = request.access
    if access is None:
        return True
    confined = getattr(access, "patient_id", None)
    if confined and (job.patient or job.subject) != f"Patient/{confined}":
        return False
    current = current_result(job, request.base_url) if job.status == DigitizeJob.DONE else {}
    for entry in current.get("entry", []):  # the results as they are now (a reviewer may have changed the patient)
        resource = entry["resource"]
        if resource["resourceType"] in PATIENT_DATA and not guard.can_see(request, resource["resourceType"], resource):
            return False
    return True
