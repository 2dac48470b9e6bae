"""The status URL of an export and its files (Bulk Data IG STU 2), as plain functions.

GET: 202 + X-Progress + Retry-After while it runs; 200 + the manifest (application/json, absolute
URLs) when done; the failure's OperationOutcome (500) when it failed; 404 once deleted or expired.
DELETE: cancels a running export or releases a finished one, and removes its files (202).
Only the client that started an export sees it: any other caller gets 404, as if it did not exist.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse
from django.utils import timezone
from django.utils.http import http_date

from fhirserver.bulk import export, files
from fhirserver.bulk.models import ExportJob
from fhirserver.core.errors import FhirError, outcome_info
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.security.access import forbidden
from fhirserver.storage.repository import format_instant


def _job(request: FhirRequest, job_id) -> ExportJob:
    job = ExportJob.objects.filter(id=job_id).first()
    client_id = request.access.client_id if request.access is not None else None
    if job is None or (client_id is not None and job.client_id != client_id):
        raise FhirError(404, f"No export {job_id}", issue_code="not-found", code="BULK_UNKNOWN")
    return job


def status(request: FhirRequest, job_id) -> FhirResponse:
    job = _job(request, job_id)
    if request.method == "DELETE":
        return cancel(job)
    if request.method not in ("GET", "HEAD"):
        raise FhirError(405, f"{request.method} is not allowed on an export status URL", issue_code="not-supported",
                        code="METHOD_NOT_ALLOWED")
    export.sweep_expired()
    if export.resume_if_stale(job):
        job.refresh_from_db()
    if job.status in ExportJob.ACTIVE:
        return FhirResponse(status=202, headers={"X-Progress": job.progress or job.status,
                                                 "Retry-After": str(settings.BULK["RETRY_AFTER_SECONDS"])})
    if job.status == ExportJob.FAILED:
        raise FhirError(500, "The export failed", issues=(job.failure or {}).get("issue"), code="BULK_FAILED")
    if job.status != ExportJob.DONE or (job.expires_at and job.expires_at < timezone.now()):
        raise FhirError(404, f"Export {job.id} was deleted or has expired; start a new one", issue_code="not-found",
                        code="BULK_GONE")
    body = json.dumps(manifest(job, request.base_url), separators=(",", ":")).encode()
    headers = {"Expires": http_date(job.expires_at.timestamp())} if job.expires_at else {}
    return FhirResponse(status=200, raw=body, content_type="application/json", headers=headers)


def manifest(job: ExportJob, base_url: str) -> dict:
    def entry(item: dict) -> dict:
        return {"type": item["type"], "url": file_url(base_url, job.id, item["name"]), "count": item["count"]}

    return {
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [entry(item) for item in job.output],
        "error": [entry(item) for item in job.errors],
        "deleted": [entry(item) for item in job.deleted],
    }


def file_url(base_url: str, job_id, name: str) -> str:
    return f"{base_url}/_bulk/{job_id}/{files.basename(name)}"


def cancel(job: ExportJob) -> FhirResponse:
    if job.status in ExportJob.ACTIVE:
        changed = ExportJob.objects.filter(id=job.id, status__in=ExportJob.ACTIVE).update(
            status=ExportJob.CANCELLED, progress="cancelled", finished_at=timezone.now())
    else:
        changed = ExportJob.objects.filter(id=job.id, status=ExportJob.DONE).update(
            status=ExportJob.CANCELLED, progress="deleted", output=[], errors=[])
    if not changed:
        raise FhirError(404, f"Export {job.id} was already deleted, expired or failed", issue_code="not-found",
                        code="BULK_GONE")
    files.remove(job)  # a running attempt notices at its next heartbeat and removes what it still writes
    return FhirResponse(status=202, resource=outcome_info(f"Export {job.id} is deleted, with its files"))


def stored_file(request: FhirRequest, job_id, name: str) -> str:
    """The storage name of file `name` of export `job_id`, for the client that started it and a token
    that may read its type; 404 / 403 otherwise."""
    job = _job(request, job_id)
    items = {files.basename(item["name"]): item for item in list(job.output) + list(job.errors) + list(job.deleted)}
    if job.status != ExportJob.DONE or name not in items:
        raise FhirError(404, f"Export {job_id} has no file {name}", issue_code="not-found", code="BULK_NO_FILE")
    resource_type = items[name].get("of") or items[name]["type"]  # a deleted file: the type it lists
    if request.access is not None and resource_type != "OperationOutcome" \
            and not request.access.can_read_type(resource_type):  # the client's token now has narrower scopes
        raise forbidden(f"The token's scopes do not allow reading {resource_type}", code="BULK_FILE_FORBIDDEN")
    return items[name]["name"]


def download(request: FhirRequest, job_id, name: str) -> FileResponse:
    stored_name = stored_file(request, job_id, name)
    try:
        stored = files.storage().open(stored_name, "rb")
    except FileNotFoundError:  # removed behind the server's back (an expiry sweep of another process)
        raise FhirError(404, f"The file {name} of export {job_id} is gone; start a new export",
                        issue_code="not-found", code="BULK_NO_FILE") from None
    response = FileResponse(stored, content_type=files.NDJSON)
    response["Content-Type"] = files.NDJSON  # exactly: no charset suffix
    return response


def capability(statement: dict) -> None:
    """CapabilityStatement contributor (settings.FHIR["CAPABILITY_CONTRIBUTORS"]): the server
    instantiates the Bulk Data IG's server CapabilityStatement (its operations come from the registry)."""
    wanted = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
    statement["instantiates"] = [*statement.get("instantiates", []), wanted]
