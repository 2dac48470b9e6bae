"""The search interaction: parse, compile, page, include, shape, and build the searchset Bundle."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q

from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.request import FhirRequest
from fhirserver.storage.models import ResourceRecord
from resources.types import R4_RESOURCE_TYPES

from . import includes as includes_
from .compartments import compartment_q, compartment_types, in_patient_compartment
from .compiler import Context, compile_filters
from .models import ReferenceIndex, TokenIndex
from .paging import fetch_page, fetch_page_by_index, order_keys
from .parser import SearchRequest, parse
from .shaping import shape

FIELDS = ("id", "resource_type", "logical_id", "content")


def _types(request: FhirRequest, search: SearchRequest) -> list[str] | None:
    """Resource types searched: one for type-level search, `_type` or all for system search."""
    if request.resource_type and request.resource_type != "*":
        return [request.resource_type]
    types = search.types
    if request.compartment and not types:
        types = compartment_types(request.compartment[0])
    for t in types:
        if t not in R4_RESOURCE_TYPES:
            raise bad_request(f"Unknown resource type '{t}' in _type", code="SEARCH_BAD_TYPE")
    return types or None


def _access_q(access, resource_type: str | None) -> Q:
    """SMART scopes: patient compartment and v2 scope query constraints (OR of ANDs)."""
    q = Q()
    if access is None or resource_type is None:
        return q
    patient_id = getattr(access, "patient_id", None)
    if patient_id:
        q &= compartment_q("Patient", patient_id, resource_type)
    allowed_query = getattr(access, "allowed_query", None)
    constraints = allowed_query(resource_type) if allowed_query else None
    if constraints is not None:
        alternatives = Q(pk__in=[])
        for conjunction in constraints:
            search = parse(list(conjunction))
            cq, _ = compile_filters(resource_type, search.filters, Context())
            alternatives |= cq
        q &= alternatives
    return q


def _type_query(resource_type: str | None, search: SearchRequest, request: FhirRequest, ctx: Context) -> tuple[Q, list]:
    q, applied = compile_filters(resource_type, search.filters, ctx)
    if resource_type is not None and not ctx.contained:
        q &= Q(resource_type=resource_type)
    if request.compartment and resource_type is not None:
        q &= compartment_q(request.compartment[0], request.compartment[1], resource_type)
    q &= _access_q(request.access, resource_type)
    return q, applied


def build_queryset(request: FhirRequest, search: SearchRequest, ctx: Context):
    """(queryset of matching ResourceRecords, filters applied, types searched)."""
    types = _types(request, search)
    if types is None:
        if request.access is not None and getattr(request.access, "patient_id", None):
            raise FhirError(403, "A patient-scoped token cannot search every resource type", issue_code="forbidden",
                            code="SEARCH_SYSTEM_FORBIDDEN")
        q, applied = _type_query(None, search, request, ctx)
    elif len(types) == 1:
        q, applied = _type_query(types[0], search, request, ctx)
    else:
        q, applied = Q(pk__in=[]), None
        for resource_type in types:
            tq, type_applied = _type_query(resource_type, search, request, ctx)
            if applied is None or len(type_applied) > len(applied):
                applied = type_applied
            q |= tq
        ctx.ignored[:] = list(dict.fromkeys(ctx.ignored))
    ctx.where = q
    return ResourceRecord.objects.filter(q, deleted=False), applied, types


DRIVER_PREFERENCE = (ReferenceIndex, TokenIndex)  # usually the most selective: walk these first


def index_drivers(q: Q) -> list | None:
    """The `record_id` subqueries of `q` when it is nothing but an AND of them (and the resource type,
    which every index row carries): then a page can be found from the index tables alone."""
    drivers = []

    def walk(node) -> bool:
        if isinstance(node, tuple):
            if node[0] == "id__in" and hasattr(node[1], "model") and node[1].model is not ResourceRecord:
                drivers.append(node[1])
                return True
            return node[0] == "resource_type"
        if node.negated or node.connector != Q.AND:
            return False
        return all(walk(child) for child in node.children)

    if not walk(q) or not drivers:
        return None
    return sorted(drivers, key=lambda d: next((i for i, m in enumerate(DRIVER_PREFERENCE) if d.model is m), len(DRIVER_PREFERENCE)))


def _include_allowed(request: FhirRequest):
    access = request.access
    if access is None:
        return None
    patient_id = getattr(access, "patient_id", None)
    can_read = getattr(access, "can_read_type", None)

    def allowed(row: dict) -> bool:
        if can_read and not can_read(row["resource_type"]):
            return False
        return not patient_id or in_patient_compartment(row["resource_type"], row["content"] or {}, patient_id)

    return allowed


def _self_url(request: FhirRequest, applied, search: SearchRequest, cursor: str | None = None) -> str:
    path = request.base_url
    if request.compartment:
        path += f"/{request.compartment[0]}/{request.compartment[1]}"
    if request.resource_type and request.resource_type != "*":
        path += f"/{request.resource_type}"
    elif request.compartment:
        path += "/*"
    pairs = [(f.raw_name, f.raw_value) for f in applied] + [c for c in search.controls if c[0] != "_count"]
    pairs.append(("_count", str(search.count)))
    if cursor:
        pairs.append(("_cursor", cursor))
    return f"{path}?{urlencode(pairs)}"


def _contained_rows(rows: list[dict], search: SearchRequest, types: list[str] | None) -> list[dict]:
    """`_containedType=contained`: the contained resources themselves, not their containers."""
    out = []
    for row in rows:
        for contained in (row["content"] or {}).get("contained", []):
            if types is None or contained.get("resourceType") in types:
                out.append({"id": None, "resource_type": contained.get("resourceType"), "logical_id": contained.get("id"),
                            "content": contained, "container": row})
    return out


def _entry(request: FhirRequest, row: dict, mode: str, search: SearchRequest) -> dict:
    resource = shape(row["content"], search.summary, search.elements)
    if "container" in row:
        container = row["container"]
        full_url = f"{request.base_url}/{container['resource_type']}/{container['logical_id']}#{row['logical_id']}"
    else:
        full_url = f"{request.base_url}/{row['resource_type']}/{row['logical_id']}"
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": mode}}


def count_matches(queryset, mode: str, seen: int | None = None) -> int:
    """Bundle.total. `accurate` (or SQLite): COUNT(*). Otherwise (default, `estimate`) on PostgreSQL:
    the exact count when it finishes within FHIR["TOTAL_TIMEOUT_MS"], else the planner's estimate
    (never below `seen`, the matches already known): counting 50,000 index rows exactly would cost
    far more than the page itself."""
    if mode == "accurate" or connection.vendor != "postgresql":
        return queryset.count()
    timeout_ms = int(settings.FHIR.get("TOTAL_TIMEOUT_MS", 15))
    nested = connection.in_atomic_block  # then SET LOCAL would outlive the savepoint: restore it
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if nested:
                cursor.execute("SHOW statement_timeout")
                previous = cursor.fetchone()[0]
            cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms])
            count = queryset.count()
            if nested:
                cursor.execute("SET LOCAL statement_timeout = %s", [previous])
            return count
    except OperationalError:  # canceled by the timeout: the savepoint rolled the SET back too
        plan = json.loads(queryset.values("id").explain(format="json"))
        return max(int(plan[0]["Plan"]["Plan Rows"]), seen or 0)


def strict_handling(request: FhirRequest) -> bool:
    prefer = (request.header("prefer") or "").replace(" ", "").lower()
    return "handling=strict" in prefer.split(";") or "handling=strict" in prefer.split(",")


def search_bundle(request: FhirRequest) -> dict:
    search = parse(request.query)
    ctx = Context(base_url=request.base_url, contained=search.contained == "true")
    queryset, applied, types = build_queryset(request, search, ctx)
    if search.contained == "both":
        queryset = queryset | build_queryset(request, search, Context(base_url=request.base_url, contained=True))[0]
    keys, sorted_by = order_keys(types[0] if types and len(types) == 1 else None, search.sort, ctx.ignored)
    search.sort = sorted_by
    search.controls = [c for c in search.controls if c[0] != "_sort"]
    if sorted_by:
        search.controls.append(("_sort", ",".join(("-" if k.descending else "") + k.name for k in sorted_by)))
    if ctx.ignored and strict_handling(request):
        raise bad_request(f"Unknown or unsupported search parameters: {', '.join(ctx.ignored)}", code="SEARCH_UNKNOWN_PARAMETER",
                          issue_code="not-supported")
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    links = [{"relation": "self", "url": _self_url(request, applied, search, search.cursor)}]
    entries: list[dict] = []
    page = None
    if search.summary != "count" and search.count > 0:
        drivers = index_drivers(ctx.where) if len(keys) == 1 and search.contained != "both" else None
        if drivers:
            page = fetch_page_by_index(drivers, keys, search.count, search.cursor, FIELDS)
        else:
            counted = len(keys) > 1 and search.cursor is None and search.total != "none"
            page = fetch_page(queryset, keys, search.count, search.cursor, FIELDS, with_total=counted)
        rows = page.rows
        if search.contained == "true" and search.contained_type == "contained":
            rows = _contained_rows(rows, search, types)
        entries = [_entry(request, row, "match", search) for row in rows]
        if search.includes and page.rows:
            for row in includes_.resolve(search.includes, page.rows, _include_allowed(request)):
                entries.append(_entry(request, row, "include", search))
        links.append({"relation": "first", "url": _self_url(request, applied, search)})
        if page.previous:
            links.append({"relation": "previous", "url": _self_url(request, applied, search, page.previous)})
        if page.next:
            links.append({"relation": "next", "url": _self_url(request, applied, search, page.next)})
        links.append({"relation": "last", "url": _self_url(request, applied, search, "last")})
    if search.total != "none" or search.summary == "count":
        matched = sum(1 for e in entries if e["search"]["mode"] == "match")
        if page is not None and page.total is not None:
            bundle["total"] = page.total
        elif search.cursor is None and search.summary != "count" and not any(l["relation"] == "next" for l in links) \
                and 0 < search.count and search.total != "accurate":
            bundle["total"] = matched  # the whole result is on this first page
        else:
            bundle["total"] = count_matches(queryset, search.total, matched)
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": bundle["total"]}
    if ctx.ignored:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "not-supported", "diagnostics": f"Parameter ignored: {name}"} for name in ctx.ignored
        ]}, "search": {"mode": "outcome"}})
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def match_records(resource_type: str, query: list[tuple[str, str]]) -> list[ResourceRecord]:
    """Current records of `resource_type` matching `query` (conditional create/update/delete)."""
    search = parse(query)
    ctx = Context()
    q, _ = compile_filters(resource_type, search.filters, ctx)
    if ctx.ignored:
        raise bad_request(f"Unknown search parameters in a conditional request: {', '.join(ctx.ignored)}",
                          code="SEARCH_UNKNOWN_PARAMETER", issue_code="not-supported")
    return list(ResourceRecord.objects.filter(q, resource_type=resource_type, deleted=False).order_by("id"))
