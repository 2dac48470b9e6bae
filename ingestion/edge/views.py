"""The status URL of an asynchronous `$digitize` (FHIR asynchronous request pattern).

GET: 202 + X-Progress while the job runs, 200 + the result Bundle when done, the failure's status +
OperationOutcome when it failed, 404 once cancelled. DELETE: cancel (202), 409 when already finished.
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
    if job is None:
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
    for entry in (job.result or {}).get("entry", []) if job.status == DigitizeJob.DONE else []:
        resource = entry["resource"]
        # The patient's data decides (the lab Organization and the reader Device are nobody's compartment).
        if resource["resourceType"] in PATIENT_DATA and not guard.can_see(request, resource["resourceType"], resource):
            raise FhirError(403, f"The token's scopes do not allow reading the results of digitize job {job.id}",
                            issue_code="forbidden", code="OUTSIDE_GRANT")
    return job_response(job, request.base_url)
