"""Audit: every API request that touches (or is refused) data becomes one append-only row, served
back as AuditEvent resources at /fhir/AuditEvent to administrators (user/system scopes only).

A request's record is spooled (security/spool.py) before its response goes to the WSGI server: one
JSON line appended to a file of this process, which survives the process being killed; a thread
stores the spooled records in batches, so a request costs no database round trip for its audit.
No resource versioning or search indexing on this path: the log is a plain table.
"""
from __future__ import annotations

import base64
import logging
from datetime import datetime
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from fhirserver.core.errors import bad_request, not_found
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.security import spool
from fhirserver.security.access import forbidden
from fhirserver.security.models import AuditRecord

log = logging.getLogger("fhirserver.security")
ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
ID_PREFIX = "audit-"
# (column, longest text it holds) of every text column: a crafted request is recorded like any other.
TEXT_COLUMNS = [(f.column, f.max_length) for f in AuditRecord._meta.concrete_fields
                if f.get_internal_type() in ("CharField", "TextField")]


# --- recording -----------------------------------------------------------------------------------
class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        fhir_request = getattr(request, "fhir_audit", None)
        if fhir_request is not None:
            # Spooled before the response is handed on: a worker that dies after answering has
            # already written its record where another process will find it.
            _record_safely(request, fhir_request, response.status_code)
        return response


def _record_safely(request, fhir_request: FhirRequest, status: int) -> None:
    try:
        record(request, fhir_request, status)
    except Exception:  # noqa: BLE001 - a failed audit write is logged loudly, the answer stands
        log.exception("audit record failed for %s %s", request.method, request.path)


def interaction_of(request: FhirRequest) -> tuple[str, str]:
    kind, method = request.kind or "", request.method
    if kind.startswith("operation-"):
        return "E", f"operation {request.operation}"
    if kind == "system" and method == "POST":
        return "E", "transaction"
    names = {
        ("instance", "GET"): "read",
        ("vread", "GET"): "vread",
        ("type", "POST"): "create",
        ("instance", "PUT"): "update",
        ("type", "PUT"): "update",
        ("instance", "PATCH"): "patch",
        ("instance", "DELETE"): "delete",
        ("type", "DELETE"): "delete",
        ("history", "GET"): "history",
        ("type", "GET"): "search-type",
        ("search", "GET"): "search-type",
        ("search", "POST"): "search-type",
        ("system", "GET"): "search-system",
    }
    return ACTIONS.get(method, "E"), names.get((kind, method), kind or "unknown")


def record(request: HttpRequest, fhir_request: FhirRequest, status: int) -> None:
    row = audit_row(request, fhir_request, status)
    if connection.in_atomic_block:
        # The caller holds a transaction open around the request (a test does): the row shares its fate.
        _insert(row)
        return
    try:
        spool.this_process().append(row)
    except OSError:  # the spool's disk refused it: straight to the table, as before there was a spool
        log.exception("audit spool: could not spool a record; storing it directly")
        _insert(row)


def audit_row(request: HttpRequest, fhir_request: FhirRequest, status: int) -> dict:
    """The record as column -> JSON value, fitted to its columns (a 65-character id, a NUL)."""
    access = getattr(request, "fhir_access", None)
    action, interaction = interaction_of(fhir_request)
    patient = access.launch_patient if access is not None else ""
    if fhir_request.compartment and fhir_request.compartment[0] == "Patient":
        patient = patient or fhir_request.compartment[1]
    elif fhir_request.resource_type == "Patient" and fhir_request.id:
        patient = patient or fhir_request.id
    row = {
        "recorded": datetime.now(dt_timezone.utc).isoformat(),
        "action": action,
        "interaction": interaction,
        "method": request.method,
        "path": request.get_full_path()[:4000],
        "resource_type": fhir_request.resource_type or "",
        "resource_id": fhir_request.id or "",
        "status": status,
        "client_id": access.client_id if access else "",
        "username": (access.username or "") if access else "",
        "fhir_user": (access.fhir_user or "") if access else "",
        "patient": patient or "",
        "address": request.META.get("REMOTE_ADDR") or None,
        "request_id": getattr(request, "request_id", ""),
    }
    for column, longest in TEXT_COLUMNS:
        value = row.get(column)
        if value:
            if "\x00" in value:
                value = value.replace("\x00", "\ufffd")
            row[column] = value[:longest] if longest else value
    return row


def _insert(row: dict) -> None:
    spool.store([spool.dumps(row)])


# --- reading: AuditEvent resources (the HTTP edge is fhirserver/api/audit.py) ---------------------
def reads_the_log(method: str, target: str) -> bool:
    """GET of the log or of one audit-N record; other methods and ids are the FHIR API's as usual."""
    return method in ("GET", "HEAD") and (not target or target.startswith(ID_PREFIX) or target == "_search")


def read_log(request: FhirRequest, target: str) -> FhirResponse:
    """The audit log as AuditEvent resources: one record (`audit-N`) or a searchset."""
    access = request.access
    if access is not None and not access.may_see_audit:
        raise forbidden(
            "Audit records need an administrator's user/ or system/ scope for AuditEvent", code="AUDIT_FORBIDDEN"
        )
    if not connection.in_atomic_block:  # a drained file is deleted after its commit, never inside a caller's
        spool.this_process().catch_up()  # every request answered so far, by any worker here, is in the log
    if target.startswith(ID_PREFIX):
        return FhirResponse(status=200, resource=_read(request, target))
    return FhirResponse(status=200, resource=_search(request))


def _read(request: FhirRequest, target: str) -> dict:
    number = target.removeprefix(ID_PREFIX)
    row = AuditRecord.objects.filter(pk=int(number)).first() if number.isdigit() else None
    if row is None:
        raise not_found("AuditEvent", target)
    return as_audit_event(row, request.base_url)


def _search(request: FhirRequest) -> dict:
    rows = AuditRecord.objects.all()
    for name, value in request.query:
        rows = _filter(rows, name, value)
    count = min(int((request.params("_count") or [settings.FHIR["DEFAULT_COUNT"]])[-1]), settings.FHIR["MAX_COUNT"])
    offset = int((request.params("_getpagesoffset") or ["0"])[-1])
    total = rows.count()
    page = list(rows.order_by("-recorded", "-pk")[offset:offset + count])
    base = f"{request.base_url}/AuditEvent"
    kept = [(k, v) for k, v in request.query if k != "_getpagesoffset"]
    links = [{"relation": "self", "url": _url(base, kept + [("_getpagesoffset", str(offset))])}]
    if offset + count < total:
        links.append({"relation": "next", "url": _url(base, kept + [("_getpagesoffset", str(offset + count))])})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{ID_PREFIX}{r.pk}",
                "resource": as_audit_event(r, request.base_url),
                "search": {"mode": "match"},
            }
            for r in page
        ],
    }


def _url(base: str, query: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(query)}"


DATE_PREFIXES = {"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt", "eq": None}


def _filter(rows, name: str, value: str):
    if name in ("_count", "_getpagesoffset", "_sort", "_format", "_pretty", "_total"):
        return rows
    if name == "date":
        prefix, text = (value[:2], value[2:]) if value[:2] in DATE_PREFIXES else ("eq", value)
        when = parse_datetime(text) or parse_datetime(f"{text}T00:00:00+00:00")
        if when is None:
            raise bad_request(f"date '{value}' is not a date or instant", code="BAD_DATE", expression=["date"])
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt_timezone.utc)
        lookup = DATE_PREFIXES[prefix]
        return rows.filter(**{f"recorded__{lookup}": when}) if lookup else rows.filter(recorded__date=when.date())
    fields = {
        "altid": "client_id",
        "agent-name": "username",
        "patient": "patient",
        "action": "action",
        "subtype": "interaction",
        "entity-type": "resource_type",
        "address": "address",
    }
    if name in fields:
        return rows.filter(
            **{f"{fields[name]}__in": [v.split("/")[-1] if name == "patient" else v for v in value.split(",")]}
        )
    if name in ("agent", "who"):
        return rows.filter(fhir_user__in=value.split(","))
    if name == "entity":
        resource_type, _, resource_id = value.partition("/")
        return rows.filter(resource_type=resource_type, resource_id=resource_id)
    if name == "outcome":
        ranges = {"0": (0, 399), "4": (400, 499), "8": (500, 599)}
        low, high = ranges.get(value, (0, -1))
        return rows.filter(status__gte=low, status__lte=high)
    raise bad_request(f"AuditEvent search does not support '{name}'", code="UNKNOWN_PARAMETER", expression=[name])


def as_audit_event(row: AuditRecord, base_url: str) -> dict:
    outcome = "0" if row.status < 400 else ("4" if row.status < 500 else "8")
    agent = {
        "requestor": True,
        "altId": row.client_id or "anonymous",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
    }
    if row.fhir_user:
        agent["who"] = {"reference": row.fhir_user}
    elif row.username:
        agent["who"] = {"display": row.username}
    if row.username:
        agent["name"] = row.username
    if row.address:
        agent["network"] = {"address": row.address, "type": "2"}
    entity = []
    if row.resource_type and row.resource_id:
        entity.append({"what": {"reference": f"{row.resource_type}/{row.resource_id}"}})
    if row.patient:
        entity.append(
            {
                "what": {"reference": f"Patient/{row.patient}"},
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    entity.append({"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
                   "query": base64.b64encode(row.path.encode()).decode(), "description": f"{row.method} {row.path}"})
    return {
        "resourceType": "AuditEvent",
        "id": f"{ID_PREFIX}{row.pk}",
        "meta": {"versionId": "1", "lastUpdated": row.recorded.isoformat().replace("+00:00", "Z")},
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": row.interaction.split()[0]}],
        "action": row.action,
        "recorded": row.recorded.isoformat().replace("+00:00", "Z"),
        "outcome": outcome,
        "outcomeDesc": f"HTTP {row.status}",
        "agent": [agent],
        "source": {
            "site": base_url,
            "observer": {"display": settings.FHIR["SOFTWARE_NAME"]},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "3"}],
        },
        "entity": entity,
    }
