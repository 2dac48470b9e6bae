"""The review pages (server-rendered) and their small JSON endpoints: thin over selectors and services.

/review/                          documents, newest first, with their state
/review/upload                    upload one or more reports (optionally for a chosen patient)
/review/jobs/<id>                 progress while reading, then the page images beside the results
/review/jobs/<id>/pages/<n>.png   a page of the original, in the pixel space of the boxes
/review/api/jobs/<id>             the job's state, polled by the progress view
/review/api/loinc?q=              the terminology search box
/review/api/patients?q=           the patient search box
"""
from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from fhirserver.api.http import base_url
from fhirserver.security.services import patient_choices
from ingestion.edge.jobs import queue
from ingestion.edge.operation import progress_text
from ingestion.models import DigitizeJob
from review import pages, selectors
from review.access import may_review
from review.decisions import decide
from review.forms import decision_from
from review.loinc import loinc_choices
from review.services import ReviewError, submit_documents

TO_DO = {selectors.READING, selectors.AWAITING, selectors.FAILED}


def reviewer_required(view):
    """Signed in (else to the login page) and holding the review permission (else 403)."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.path.startswith("/review/api/"):
                return JsonResponse({"error": "Sign in first"}, status=401)
            return redirect_to_login(request.get_full_path())
        if not may_review(request.user):
            if request.path.startswith("/review/api/"):
                return JsonResponse({"error": "Your account may not review lab reports"}, status=403)
            return render(request, "review/forbidden.html", status=403)
        return view(request, *args, **kwargs)
    return wrapped


@require_GET
@reviewer_required
def document_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("show") == "all"
    listed = selectors.documents(states=None if show_all else TO_DO)
    return render(request, "review/list.html", {"documents": listed, "show_all": show_all, "nav": "list"})


@require_http_methods(["GET", "POST"])
@reviewer_required
def upload(request: HttpRequest) -> HttpResponse:
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "GET":
        return render(request, "review/upload.html", {"patients": patient_choices("", limit=50),
                                                      "patient_id": request.GET.get("patient", ""), "nav": "upload"})
    files = request.FILES.getlist("files")
    if not files:
        return _upload_refused(request, "Choose at least one file", wants_json)
    subject = request.POST.get("patient_id", "").strip()
    try:
        submitted = submit_documents(
            documents=[(f.name, f.read()) for f in files],
            subject=f"Patient/{subject}" if subject else None,
            requested_by=f"user:{request.user.get_username()}",
            base_url=base_url(request),
        )
    except ReviewError as error:
        return _upload_refused(request, str(error), wants_json)
    if wants_json:
        return JsonResponse(
            {
                "documents": [
                    {"filename": s.filename, "error": s.error}
                    if s.job is None
                    else {"filename": s.filename, **_job_state(s.job)}
                    for s in submitted
                ]
            }
        )
    for s in submitted:
        if s.error:
            messages.error(request, f"{s.filename}: {s.error}")
    jobs = [s.job for s in submitted if s.job]
    if len(jobs) == 1:
        return redirect("review:document", job_id=jobs[0].id)
    return redirect("review:list")


def _upload_refused(request: HttpRequest, reason: str, wants_json: bool) -> HttpResponse:
    if wants_json:
        return JsonResponse({"error": reason}, status=400)
    messages.error(request, reason)
    return redirect("review:upload")


@require_http_methods(["GET", "POST"])
@reviewer_required
def document(request: HttpRequest, job_id) -> HttpResponse:
    job = get_object_or_404(DigitizeJob, id=job_id)
    if request.method == "POST":
        return _decide(request, job)
    if queue.resume_if_stale(job):
        job.refresh_from_db()
    review = selectors.document_review(job)
    if review.state == selectors.READING:
        return render(request, "review/progress.html", {"job": job, "state": _job_state(job)})
    amending = review.amendable and request.GET.get("amend") == "1"
    return render(request, "review/document.html", {
        "review": review, "job": job, "flags": ("H", "L", "HH", "LL", "A", "N"),
        "low_confidence": selectors.LOW_CONFIDENCE, "amending": amending,
        "editing": review.editable or amending,
        "patients": patient_choices("", limit=50) if review.editable else [],
    })


def _decide(request: HttpRequest, job: DigitizeJob) -> HttpResponse:
    try:
        recorded = decide(job, decision_from(request.POST), user=request.user, base_url=base_url(request))
    except ReviewError as error:
        messages.error(request, str(error))
        return redirect("review:document", job_id=job.id)
    changes = _changes_text(recorded)
    if not recorded.written:
        messages.info(request, "Nothing had changed.")
    elif recorded.action == "confirm":
        final = sum(1 for w in recorded.written if w.startswith("Observation/")) - len(recorded.removed)
        messages.success(request, f"Confirmed: the report and {final} results are final{changes}.")
    elif recorded.action == "reject":
        messages.success(request, "Rejected: the report and its results are marked entered-in-error.")
    elif recorded.action == "amend":
        messages.success(request, f"Amended{changes or ''}.")
    else:
        messages.success(request, f"Saved{changes or ': rows accepted'}.")
    return redirect("review:document", job_id=job.id)


def _changes_text(recorded) -> str:
    parts = [f"{len(items)} {word}" for items, word in ((recorded.corrected, "corrected"), (recorded.added, "added"),
                                                        (recorded.removed, "removed")) if items]
    return (": " + ", ".join(parts)) if parts else ""


@require_GET
@reviewer_required
def page_image(request: HttpRequest, job_id, number: int) -> HttpResponse:
    job = get_object_or_404(DigitizeJob, id=job_id)
    try:
        png = pages.page_png(job, number)
    except KeyError:
        raise Http404(f"No page {number}") from None
    # No Cache-Control of its own: a page of a lab report is patient data, kept out of caches (no-store,
    # fhirserver.security.headers); it is stored bytes, so serving it again costs a database read.
    return HttpResponse(png, content_type="image/png")


# --- JSON ----------------------------------------------------------------------------------------
@require_GET
@reviewer_required
def job_state(request: HttpRequest, job_id) -> JsonResponse:
    job = get_object_or_404(DigitizeJob, id=job_id)
    if queue.resume_if_stale(job):
        job.refresh_from_db()
    return JsonResponse(_job_state(job))


def _job_state(job: DigitizeJob) -> dict:
    error = ""
    if job.error:
        error = "; ".join(i.get("diagnostics", "") for i in job.error.get("issue", []))
    return {
        "job": str(job.id),
        "status": job.status,
        "stage": progress_text(job),
        "progress": round(job.progress * 100),
        "pages_done": job.pages_done,
        "pages_total": job.pages_total,
        "finished": job.finished,
        "error": error,
        "review_url": reverse("review:document", kwargs={"job_id": job.id}),
        "status_url": reverse("review:job-state", kwargs={"job_id": job.id}),
    }


@require_GET
@reviewer_required
def loinc_search(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tests": loinc_choices(request.GET.get("q", ""), limit=15)})


@require_GET
@reviewer_required
def patient_search(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"patients": patient_choices(request.GET.get("q", ""), limit=20)})
