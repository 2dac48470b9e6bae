"""The result Bundle of a finished `$digitize` job, as its resources are NOW.

The job keeps the collection Bundle it answered with when it finished; a clinician may since have
confirmed (version 2, `final`), corrected, amended, added or removed results. The status URL, a repeated
upload of the same document and the CLI all answer with the current version of every resource, and
results added to the report since, with fullUrls on the caller's base URL.
"""
from __future__ import annotations

from fhirserver.storage import repository
from ingestion.models import DigitizeJob


def current_result(job: DigitizeJob, base_url: str) -> dict:
    stored = job.result or {}
    outcomes = [e for e in stored.get("entry", []) if e.get("resource", {}).get("resourceType") == "OperationOutcome"]
    references = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in stored.get("entry", [])
                  if e.get("resource", {}).get("id")]
    report = _current([job.diagnostic_report]).get(job.diagnostic_report) if job.diagnostic_report else None
    if report is not None:
        subject = (report.get("subject") or {}).get("reference", "")
        if subject.startswith("Patient/") and subject not in references:  # the reviewer chose another patient
            references = [r for r in references if not r.startswith("Patient/")]
            references.insert(0, subject)
        later = [r["reference"] for r in report.get("result") or [] if r.get("reference") not in references]
        at = references.index(job.diagnostic_report) if job.diagnostic_report in references else len(references)
        references[at:at] = later  # results a person added sit with the others, before the report
    now = _current(references)
    entries = [{"fullUrl": f"{base_url}/{r}", "resource": now[r]} for r in references if r in now]
    # As of the latest change: unchanged resources give the very Bundle the job first answered.
    changed = [e["resource"].get("meta", {}).get("lastUpdated", "") for e in entries]
    timestamp = max([stored.get("timestamp", ""), *changed])
    return {"resourceType": "Bundle", "type": "collection", "timestamp": timestamp, "entry": entries + outcomes}


def _current(references: list[str]) -> dict[str, dict]:
    by_type: dict[str, list[str]] = {}
    for reference in references:
        resource_type, _, id = reference.partition("/")
        by_type.setdefault(resource_type, []).append(id)
    out = {}
    for resource_type, ids in by_type.items():
        for id, stored in repository.current_many(resource_type, ids).items():
            if not stored.deleted and stored.content is not None:
                out[f"{resource_type}/{id}"] = stored.content
    return out
