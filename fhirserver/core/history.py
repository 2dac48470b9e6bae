"""The history interaction at instance, type and system level, paged over a stable snapshot."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils.dateparse import parse_datetime

from fhirserver.core import guard
from fhirserver.core.errors import bad_request, not_found
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.search.values import date_range
from fhirserver.storage import repository
from resources.validation import is_valid_id


def history(request: FhirRequest) -> FhirResponse:
    if request.id is not None and not is_valid_id(request.id):
        raise bad_request(f"'{request.id}' is not a valid resource id", code="INVALID_ID")
    if request.id is not None:
        _require_known(request)
    guard.check(request, "history", request.resource_type or "*")
    count = _int_param(request, "_count", settings.FHIR["DEFAULT_COUNT"])
    count = max(0, min(count, settings.FHIR["MAX_COUNT"]))
    offset = _int_param(request, "_getpagesoffset", 0)
    snapshot = _int_param(request, "_snapshot", None)
    since_text = (request.params("_since") or [None])[0]
    since = None
    if since_text:
        since = parse_datetime(since_text)
        if since is None or since.tzinfo is None:
            raise bad_request(
                f"_since '{since_text}' is not an instant (e.g. 2026-01-01T00:00:00Z)",
                code="BAD_SINCE",
                expression=["_since"],
            )
        since = since.replace(microsecond=since.microsecond // 1000 * 1000)  # versions are stamped in whole ms
    at_text = (request.params("_at") or [None])[-1]
    current_during = _period(at_text) if at_text else None
    versions, total, snapshot = repository.history(
        resource_type=request.resource_type,
        id=request.id,
        since=since,
        at_or_before=snapshot,
        offset=offset,
        count=count,
        current_during=current_during,
    )
    entries = [_entry(request, v) for v in versions if guard.can_see(request, v.resource_type, v.content)]
    path = "/".join(p for p in (request.resource_type, request.id, "_history") if p)
    base_query = [(k, v) for k, v in (("_since", since_text), ("_at", at_text), ("_count", str(count))) if v]

    def link(relation: str, page_offset: int) -> dict:
        query = base_query + [("_snapshot", str(snapshot)), ("_getpagesoffset", str(page_offset))]
        return {"relation": relation, "url": f"{request.base_url}/{path}?{urlencode(query)}"}

    links = [link("self", offset), link("first", 0)]
    if count and offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    if count:
        links.append(link("last", max(0, (total - 1) // count * count)))
    bundle: dict = {"resourceType": "Bundle", "type": "history"}
    if guard.confined_patient(request) is None:
        bundle["total"] = total
    else:  # a patient-confined caller sees filtered pages: a count (or a last page) would leak
        links = [link for link in links if link["relation"] != "last"]
    bundle.update(link=links, entry=entries)
    return FhirResponse(status=200, resource=bundle)


def _period(text: str) -> tuple[datetime, datetime]:
    """`_at`: the versions current at some point of this date's period (2026-05 = the whole month)."""
    found = date_range(text)
    if found is None:
        raise bad_request(f"_at '{text}' is not a date, dateTime or instant", code="BAD_AT", expression=["_at"])
    low, high = found
    return low, high + timedelta(microseconds=1)


def _require_known(request: FhirRequest) -> None:
    if repository.current(request.resource_type, request.id) is None:
        raise not_found(request.resource_type, request.id)


def _entry(request: FhirRequest, version: repository.StoredResource) -> dict:
    url = f"{version.resource_type}/{version.id}"
    entry: dict = {"fullUrl": f"{request.base_url}/{url}"}
    if version.content is not None:
        entry["resource"] = version.content
    method = version.method
    entry["request"] = {"method": method, "url": url if method in ("PUT", "DELETE", "PATCH") else version.resource_type}
    status = {"POST": "201 Created", "DELETE": "204 No Content"}.get(method, "200 OK")
    if method == "PUT" and version.version == 1:
        status = "201 Created"
    entry["response"] = {
        "status": status, "etag": version.etag,
        "lastModified": repository.format_instant(version.last_updated),
        "location": f"{version.resource_type}/{version.id}/_history/{version.version}",
    }
    return entry


def _int_param(request: FhirRequest, name: str, default):
    values = request.params(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise bad_request(
            f"{name} must be a whole number, not '{values[-1]}'", code="BAD_INTEGER", expression=[name]
        ) from None
    if value < 0:
        raise bad_request(f"{name} must not be negative", code="BAD_INTEGER", expression=[name])
    return value

