"""Observation/$lastn: for each patient and code, the `max` most recent Observations matching the search.

Every Observation search parameter applies (`patient`, `category`, `code`, `date`...); `max` defaults to 1.
"""
from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from fhirserver.core.errors import bad_request
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.search.compiler import Context
from fhirserver.search.engine import build_where, strict_handling
from fhirserver.search.paging import order_keys
from fhirserver.search.parser import SortKey, parse
from fhirserver.storage.models import ResourceRecord

SCAN_LIMIT = 50_000  # rows examined at most; a patient or category filter keeps it far below


def _group(content: dict) -> tuple[str, tuple[str, ...]]:
    subject = (content.get("subject") or {}).get("reference", "")
    codes = tuple(
        sorted(f"{c.get('system', '')}|{c.get('code', '')}" for c in (content.get("code") or {}).get("coding", []))
    )
    return subject, codes or ((content.get("code") or {}).get("text", ""),)


def lastn(request: FhirRequest) -> FhirResponse:
    max_values = request.params("max")
    max_ = max_values[0] if max_values else "1"
    if not max_.isdigit() or int(max_) < 1:
        raise bad_request("max must be a positive integer", code="LASTN_BAD_MAX")
    search_request = replace(
        request, resource_type="Observation", query=[(k, v) for k, v in request.query if k != "max"]
    )
    search = parse(search_request.query)
    ctx = Context(base_url=request.base_url)
    where, _, _ = build_where(search_request, search, ctx)
    queryset = ResourceRecord.objects.filter(where.q(), deleted=False)
    if ctx.ignored and strict_handling(request):
        raise bad_request(f"Unknown search parameters: {', '.join(ctx.ignored)}", code="SEARCH_UNKNOWN_PARAMETER")
    keys, _ = order_keys("Observation", [SortKey("date", True)], [])
    queryset = queryset.annotate(**{k.alias: k.annotation() for k in keys if k.source is not None})
    ordered = queryset.order_by(*(k.alias if not k.descending else f"-{k.alias}" for k in keys))
    seen: dict[tuple, int] = {}
    entries = []
    for row in ordered.values("resource_type", "logical_id", "content")[:SCAN_LIMIT].iterator(chunk_size=500):
        group = _group(row["content"])
        if seen.get(group, 0) >= int(max_):
            continue
        seen[group] = seen.get(group, 0) + 1
        entries.append({"fullUrl": f"{request.base_url}/Observation/{row['logical_id']}", "resource": row["content"],
                        "search": {"mode": "match"}})
        if len(entries) >= settings.FHIR["MAX_COUNT"] * 10:
            break
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
              "link": [{"relation": "self", "url": f"{request.base_url}/Observation/$lastn"}], "entry": entries}
    return FhirResponse(status=200, resource=bundle)


register(Operation(
    name="lastn", handler=lastn, resource_types=("Observation",), levels=("type",),
    definition="http://hl7.org/fhir/OperationDefinition/Observation-lastn",
))
