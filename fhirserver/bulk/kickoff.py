"""The kick-off request of `$export` (Bulk Data IG STU 2), read and checked before anything runs.

Refused with a 4xx OperationOutcome that names what was wrong: no `Prefer: respond-async`, an Accept
other than FHIR JSON, an `_outputFormat` other than NDJSON, an unknown type in `_type`, a `_since`
that is not an instant, a `_typeFilter` the search engine cannot compile, an `_elements` item that is
not a root element, a patient- or user-scoped token (403), over the per-client limit of exports at
once (429); and, unless `Prefer: handling=lenient`, a parameter this server does not support or a
`patient` outside the Group (or not on the server). Otherwise an `ExportJob` row, queued when the
request's transaction commits, and 202 + Content-Location.
"""
from __future__ import annotations

import re
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from fhirserver import jobs
from fhirserver.bulk import export, scope
from fhirserver.bulk.models import ExportJob
from fhirserver.core.errors import FhirError, bad_request, outcome_info
from fhirserver.core.parameters import OperationInput
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.security.access import forbidden
from fhirserver.storage import repository
from resources.types import R4_RESOURCE_TYPES

OUTPUT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
ACCEPTED = {"application/fhir+json", "application/json"}
KNOWN = {"_outputFormat", "_since", "_type", "_typeFilter", "patient", "_elements"}
GENERAL = {"_format", "_pretty"}  # FHIR's own request parameters, not export's to refuse
_ELEMENT = re.compile(r"[a-z][A-Za-z0-9]*")  # a root element's name (choice elements by their stem: value)


def status_url(base_url: str, job_id) -> str:
    return f"{base_url}/_bulk/{job_id}"


def kick_off(request: FhirRequest, level: str) -> FhirResponse:
    _require_async(request)
    readable = export_scope(request)
    params = OperationInput(request, "export")
    # The IG: a parameter the server cannot honour is an error, unless the client said it may be ignored
    # (`Prefer: handling=lenient`); then each one ignored is an OperationOutcome in the manifest's error file.
    lenient = "handling=lenient" in (request.header("prefer") or "").replace(" ", "").lower()
    names = [p.get("name") for p in params.parts] + [k for k, _ in request.query]
    notes = []
    for name in dict.fromkeys(n for n in names if n not in KNOWN and n not in GENERAL):
        if not lenient:
            raise bad_request(f"$export does not support the parameter '{name}'; send 'Prefer: handling=lenient' "
                              "to have it ignored", code="BULK_PARAMETER", issue_code="not-supported",
                              expression=[name])
        notes.append(f"The parameter '{name}' is not supported by this server and was ignored (handling=lenient)")
    output_format = params.text("_outputFormat") or "application/fhir+ndjson"
    if output_format.replace(" ", "+") not in OUTPUT_FORMATS:
        raise bad_request(f"_outputFormat '{output_format}' is not supported; this server writes "
                          "application/fhir+ndjson", code="BULK_OUTPUT_FORMAT", issue_code="not-supported",
                          expression=["_outputFormat"])
    types = _types(params)
    since = _since(params.text("_since"))
    type_filters = _type_filters(params, types)
    elements = _elements(params)
    patients = _patients(params, request, level)
    group_id = request.id or ""
    members = scope.group_members(group_id) if level == "group" else None  # 404 now, not a failed job later
    strangers = _strangers(patients, members)
    if strangers and not lenient:
        where = f"members of Group/{group_id}" if level == "group" else "on this server"
        raise bad_request(f"patient: {', '.join('Patient/' + p for p in strangers)} are not {where}; send "
                          "'Prefer: handling=lenient' to export the others", code="BULK_PATIENT",
                          expression=["patient"])
    if level == "patient":  # a Group's strangers are reported by the export itself, against the members then
        notes += [f"Patient/{p} is not on this server; nothing exported for it" for p in strangers]
    client_id = getattr(request.access, "client_id", "") if request.access is not None else ""
    export.sweep_expired()
    for active in ExportJob.objects.filter(client_id=client_id, status__in=ExportJob.ACTIVE):
        export.resume_if_stale(active)  # one whose worker died counts only until it is resumed or failed
    with transaction.atomic():  # two kick-offs of one client at once: the limit still holds
        repository.lock_key(f"bulk-export:{client_id}")
        _check_concurrency(client_id)
        now = repository.now()  # whole milliseconds, as resources are stamped and the manifest says
        job = ExportJob.objects.create(
            client_id=client_id, level=level, group_id=group_id, request_url=_request_url(request, level),
            output_format="application/fhir+ndjson", types=types, type_filters=type_filters, patients=patients,
            elements=elements, notes=notes, since=since, transaction_time=now, scope=readable, heartbeat_at=now,
        )
        jobs.enqueue_on_commit(export.KIND, str(job.id))
    return FhirResponse(
        status=202,
        resource=outcome_info(f"Export {job.id} is queued; poll its status URL (Content-Location)"),
        headers={"Content-Location": status_url(request.base_url, job.id)},
    )


def _require_async(request: FhirRequest) -> None:
    prefer = [p.strip().lower() for p in (request.header("prefer") or "").split(",") for p in p.split(";")]
    if "respond-async" not in prefer:
        raise bad_request("$export runs asynchronously: send 'Prefer: respond-async'", code="BULK_NEEDS_ASYNC",
                          expression=["Prefer"])
    accept = [a.split(";")[0].strip().lower() for a in (request.header("accept") or "").split(",")]
    if not any(a in ACCEPTED for a in accept):
        raise bad_request(f"$export answers in FHIR JSON: send 'Accept: application/fhir+json' (got "
                          f"'{request.header('accept') or ''}')", code="BULK_ACCEPT", expression=["Accept"])


def export_scope(request: FhirRequest) -> dict:
    """What the token lets an export read: {"types": readable types or None for all, "queries": v2
    query constraints by type}. Bulk export is for backend services: patient and user tokens get 403."""
    access = request.access
    if access is None:
        return {"types": None, "queries": {}}
    require_system_token(request)
    readable = [t for t in sorted(R4_RESOURCE_TYPES) if access.can_read_type(t)]
    if not readable:
        raise forbidden("The token's scopes allow reading no resource type (system/*.read, system/Observation.rs...)",
                        code="BULK_NO_READ_SCOPE")
    queries = {t: q for t in readable if (q := access.allowed_query(t)) is not None}
    every = len(readable) == len(R4_RESOURCE_TYPES) and not queries
    return {"types": None if every else readable, "queries": queries}


def require_system_token(request: FhirRequest) -> None:
    """Bulk data is for backend services: a token with any patient/ or user/ scope (or a launch patient) is 403."""
    access = request.access
    if getattr(access, "launch_patient", None) or any(r.context != "system" for r in access.rules):
        raise forbidden("Bulk data needs a backend-services token with system/ scopes; patient- and user-scoped "
                        "tokens are refused", code="BULK_SYSTEM_SCOPES_ONLY")


def _types(params: OperationInput) -> list[str]:
    types = [t.strip() for value in params.texts("_type") for t in value.split(",") if t.strip()]
    unknown = [t for t in types if t not in R4_RESOURCE_TYPES]
    if unknown:
        raise bad_request(f"_type names unknown resource types: {', '.join(unknown)}", code="BULK_TYPE",
                          expression=["_type"])
    return list(dict.fromkeys(types))


def _since(value: str | None):
    if not value:
        return None
    text = value.strip().replace(" ", "+")  # an unencoded "+" of a time zone arrives as a space
    when = parse_datetime(text)
    if when is None and (day := parse_date(text)) is not None:
        when = parse_datetime(f"{day.isoformat()}T00:00:00+00:00")
    if when is None:
        raise bad_request(f"_since '{value}' is not a FHIR instant (e.g. 2024-01-02T03:04:05Z)", code="BULK_SINCE",
                          expression=["_since"])
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt_timezone.utc)
    # Resources are stamped in whole milliseconds: a change in the same millisecond as `_since` is
    # exported again rather than lost (an incremental export from a manifest's transactionTime).
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _type_filters(params: OperationInput, types: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for value in params.texts("_typeFilter"):
        for item in value.split(","):
            resource_type, _, query = item.strip().partition("?")
            if resource_type not in R4_RESOURCE_TYPES or not query:
                raise bad_request(f"_typeFilter '{item}' is not 'Type?search-query'", code="BULK_TYPE_FILTER",
                                  expression=["_typeFilter"])
            try:
                scope.validate_filter(resource_type, query)
            except FhirError as error:
                raise bad_request(f"_typeFilter '{item}': {error.diagnostics}", code="BULK_TYPE_FILTER",
                                  expression=["_typeFilter"]) from None
            filters.setdefault(resource_type, []).append(query)
    return filters


def _elements(params: OperationInput) -> list[str]:
    """`_elements`: root elements, as `Type.element` (that type only) or `element` (every type it applies to)."""
    items = [e.strip() for value in params.texts("_elements") for e in value.split(",") if e.strip()]
    for item in items:
        resource_type, dot, name = item.rpartition(".")
        if (dot and resource_type not in R4_RESOURCE_TYPES) or not _ELEMENT.fullmatch(name):
            raise bad_request(f"_elements '{item}' is not '[type].[element]' or '[element]' (root elements only)",
                              code="BULK_ELEMENTS", expression=["_elements"])
    return list(dict.fromkeys(items))


def _strangers(patients: list[str], members: list[str] | None) -> list[str]:
    """Patients asked for who are not in the Group (Group level) or not on the server (Patient level)."""
    if not patients:
        return []
    if members is not None:
        cohort = set(members)
        return [p for p in patients if p not in cohort]
    known = repository.current_many("Patient", patients)
    return [p for p in patients if p not in known or known[p].deleted]


def _patients(params: OperationInput, request: FhirRequest, level: str) -> list[str]:
    references = [str((p.get("valueReference") or {}).get("reference") or "") for p in params.parts
                  if p.get("name") == "patient"] + request.params("patient")
    if references and level == "system":
        raise bad_request("The patient parameter is for Patient/$export and Group/[id]/$export",
                          code="BULK_PATIENT", expression=["patient"])
    ids = []
    for reference in references:
        patient = scope.member_id(reference)
        if patient is None:
            raise bad_request(f"patient '{reference}' is not a reference to a Patient", code="BULK_PATIENT",
                              expression=["patient"])
        ids.append(patient)
    return list(dict.fromkeys(ids))


def _request_url(request: FhirRequest, level: str) -> str:
    path = {"system": "", "patient": "/Patient", "group": f"/Group/{request.id}"}
    url = f"{request.base_url}{path[level]}/$export"
    return f"{url}?{urlencode(request.query, safe=',/:|')}" if request.query else url


def _check_concurrency(client_id: str) -> None:
    limit = int(settings.BULK["MAX_CONCURRENT_PER_CLIENT"])
    running = ExportJob.objects.filter(client_id=client_id, status__in=ExportJob.ACTIVE)
    if limit > 0 and running.count() >= limit:
        wait = max(1, int(settings.BULK["RETRY_AFTER_SECONDS"]) * 5)
        raise FhirError(429, f"This client already has {limit} exports running; wait for one to finish or "
                        "DELETE one", issue_code="throttled", code="BULK_TOO_MANY", headers={"Retry-After": str(wait)})
