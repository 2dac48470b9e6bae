"""The search interaction: parse, compile, page, include, shape, and build the searchset Bundle."""
from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q

from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.request import FhirRequest
from fhirserver.storage.models import ResourceRecord
from resources import decimals
from resources.types import R4_RESOURCE_TYPES

from . import includes as includes_
from . import sql
from .compartments import compartment_q, compartment_types
from .compiler import Context, compile_filters
from .conditions import NOTHING, Rows, Sql, Where, columns, eq
from .models import ReferenceIndex, TokenIndex
from .paging import fetch_page, fetch_page_by_index, order_keys
from .parser import SearchRequest, parse
from .shaping import shape

FIELDS = ("id", "resource_type", "logical_id", "text")  # "text": the stored JSON, unparsed (paging.record_values)


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


def _type_query(resource_type: str | None, search: SearchRequest, request: FhirRequest,
                ctx: Context) -> tuple[Where, list]:
    q, applied = compile_filters(resource_type, search.filters, ctx)
    if resource_type is not None and not ctx.contained:
        q &= Where(rest=eq("resource_type", resource_type))
    if request.compartment and resource_type is not None:
        q &= compartment_q(request.compartment[0], request.compartment[1], resource_type)
    if ctx.visible is not None and resource_type is not None:
        q &= ctx.visible(resource_type)
    return q, applied


def build_where(request: FhirRequest, search: SearchRequest, ctx: Context) -> tuple[Where, list, list[str] | None]:
    """(condition on stored records, filters applied, types searched). `_contained=both`: the
    records that match themselves or through a resource they contain."""
    where, applied, types = _build_where(request, search, ctx)
    if search.contained == "both":
        where |= _build_where(request, search, Context(base_url=request.base_url, contained=True))[0]
    return where, applied, types


def _build_where(request: FhirRequest, search: SearchRequest, ctx: Context) -> tuple[Where, list, list[str] | None]:
    types = _types(request, search)
    ctx.visible = guard.visible(request)
    if types is None:
        if guard.confined_patient(request):
            raise FhirError(403, "A patient-scoped token cannot search every resource type", issue_code="forbidden",
                            code="SEARCH_SYSTEM_FORBIDDEN")
        q, applied = _type_query(None, search, request, ctx)
    elif len(types) == 1:
        q, applied = _type_query(types[0], search, request, ctx)
    else:
        q, applied = NOTHING, None
        for resource_type in types:
            tq, type_applied = _type_query(resource_type, search, request, ctx)
            if applied is None or len(type_applied) > len(applied):
                applied = type_applied
            q |= tq
        ctx.ignored[:] = list(dict.fromkeys(ctx.ignored))
    return q, applied, types


# usually the most selective: walk these first
DRIVER_PREFERENCE = (ReferenceIndex._meta.db_table, TokenIndex._meta.db_table)


def index_drivers(where: Where, types: list[str] | None) -> list[Rows] | None:
    """The index conditions of `where` when it holds nothing else (but the resource type, which every
    index row carries): then a page can be found from the index tables alone."""
    if not where.drivers:
        return None
    if not where.rest.always and not (types and len(types) == 1 and where.rest == eq("resource_type", types[0])):
        return None
    rank = {table: i for i, table in enumerate(DRIVER_PREFERENCE)}
    return sorted(where.drivers, key=lambda d: rank.get(d.table, len(DRIVER_PREFERENCE)))


def content_of(row: dict) -> dict:
    """The row's resource as a dict, parsed from its stored text only when something must look inside."""
    if "content" not in row:
        row["content"] = decimals.loads(row["text"]) if row.get("text") else None
    return row["content"]


class StoredJSON(str):
    """A resource's stored JSON text, written into the Bundle as it is: parsing and re-serialising
    50 resources would cost more CPU than finding them."""


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
        for contained in (content_of(row) or {}).get("contained", []):
            if types is None or contained.get("resourceType") in types:
                out.append(
                    {
                        "id": None,
                        "resource_type": contained.get("resourceType"),
                        "logical_id": contained.get("id"),
                        "content": contained,
                        "container": row,
                    }
                )
    return out


def _entry(request: FhirRequest, row: dict, mode: str, search: SearchRequest) -> dict:
    if search.summary or search.elements or "text" not in row:
        resource = shape(content_of(row), search.summary, search.elements)
    else:
        resource = StoredJSON(row["text"])
    if "container" in row:
        container = row["container"]
        full_url = f"{request.base_url}/{container['resource_type']}/{container['logical_id']}#{row['logical_id']}"
    else:
        full_url = f"{request.base_url}/{row['resource_type']}/{row['logical_id']}"
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": mode}}


def count_matches(matches: Sql, mode: str, seen: int | None = None) -> int:
    """Bundle.total. `accurate` (or SQLite): COUNT(*). Otherwise (default, `estimate`) on PostgreSQL,
    the planner's row estimate first (planning only, no rows read): above
    FHIR["TOTAL_ESTIMATE_ABOVE"] (500) it is the answer (never below `seen`, the matches already
    known); below, the exact count when it finishes within FHIR["TOTAL_TIMEOUT_MS"], else the
    estimate. Counting 50,000 index rows exactly costs far more than the page itself."""
    if mode == "accurate" or connection.vendor != "postgresql":
        return sql.count(matches)
    estimate = max(sql.planned_rows(matches), seen or 0)
    if estimate > int(settings.FHIR.get("TOTAL_ESTIMATE_ABOVE", 500)):
        return estimate
    timeout_ms = int(settings.FHIR.get("TOTAL_TIMEOUT_MS", 15))
    nested = connection.in_atomic_block  # then SET LOCAL would outlive the savepoint: restore it
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if nested:
                cursor.execute("SHOW statement_timeout")
                previous = cursor.fetchone()[0]
            cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms])
            count = sql.count(matches)
            if nested:
                cursor.execute("SET LOCAL statement_timeout = %s", [previous])
            return count
    except OperationalError:  # canceled by the timeout: the savepoint rolled the SET back too
        return estimate


def _total(search: SearchRequest, drivers: list[Rows] | None, where: Where, page, matched: int) -> int:
    """Bundle.total when the first page does not hold every match (see count_matches).

    A page found from the index (`drivers`) is also a sample: `matched` of the first index's rows up
    to the page's last record matched every condition, so on PostgreSQL, unless `_total=accurate`,
    that ratio times the first index's planned row count is the estimate: two cheap statements where
    counting would intersect every row of every condition. Small first indexes are counted exactly."""
    if page is not None and page.next:
        matched += 1  # a lower bound for any estimate: there is at least one more match
    if not drivers:
        return count_matches(sql.record_ids(where.sql()), search.total, matched)
    # index rows belong to current records only: no need to visit the records to count
    matches = sql.index_ids(drivers)
    if search.total == "accurate" or connection.vendor != "postgresql" or search.cursor is not None \
            or page is None or not page.rows or len(drivers) == 1:
        return count_matches(matches, search.total, matched)
    first = drivers[0]
    candidates = sql.planned_rows(first.sql())
    if candidates <= int(settings.FHIR.get("TOTAL_ESTIMATE_ABOVE", 500)):
        return count_matches(matches, search.total, matched)
    walked = sql.walked_count(first, page.rows[-1]["id"])
    return max(round(candidates * len(page.rows) / max(walked, 1)), matched)


def strict_handling(request: FhirRequest) -> bool:
    prefer = (request.header("prefer") or "").replace(" ", "").lower()
    return "handling=strict" in prefer.split(";") or "handling=strict" in prefer.split(",")


def search_bundle(request: FhirRequest) -> dict:
    """The searchset Bundle as a dict."""
    bundle = search_result(request)
    for entry in bundle.get("entry", ()):
        if isinstance(entry["resource"], StoredJSON):
            entry["resource"] = decimals.loads(entry["resource"])
    return bundle


def search_json(request: FhirRequest) -> str:
    """The searchset Bundle as compact JSON text (what the HTTP layer sends): matches are spliced in
    as stored, so a page of 50 resources is neither parsed nor serialised again."""
    bundle = search_result(request)
    entries = bundle.pop("entry", None)
    dump = decimals.dumps
    head = dump(bundle)
    if not entries:
        return head
    parts = []
    for entry in entries:
        resource = entry["resource"]
        if isinstance(resource, StoredJSON):
            parts.append(f'{{"fullUrl":{dump(entry["fullUrl"])},"resource":{resource},"search":{dump(entry["search"])}}}')
        else:
            parts.append(dump(entry))
    return f'{head[:-1]},"entry":[{",".join(parts)}]}}'


def search_result(request: FhirRequest) -> dict:
    """The searchset Bundle; match entries not shaped by _summary/_elements hold StoredJSON text."""
    search = parse(request.query)
    ctx = Context(base_url=request.base_url, contained=search.contained == "true")
    where, applied, types = build_where(request, search, ctx)

    keys, sorted_by = order_keys(types[0] if types and len(types) == 1 else None, search.sort, ctx.ignored)
    search.sort = sorted_by
    search.controls = [c for c in search.controls if c[0] != "_sort"]
    if sorted_by:
        search.controls.append(("_sort", ",".join(("-" if k.descending else "") + k.name for k in sorted_by)))
    if ctx.ignored and strict_handling(request):
        raise bad_request(
            f"Unknown or unsupported search parameters: {', '.join(ctx.ignored)}",
            code="SEARCH_UNKNOWN_PARAMETER",
            issue_code="not-supported",
        )
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    links = [{"relation": "self", "url": _self_url(request, applied, search, search.cursor)}]
    entries: list[dict] = []
    page = None
    drivers = index_drivers(where, types) if len(keys) == 1 else None
    if search.summary != "count" and search.count > 0:
        if drivers:
            page = fetch_page_by_index(drivers, keys, search.count, search.cursor, FIELDS)
        else:
            counted = len(keys) > 1 and search.cursor is None and search.total != "none"
            page = fetch_page(where.sql(), keys, search.count, search.cursor, FIELDS, with_total=counted)
        rows = page.rows
        if search.contained == "true" and search.contained_type == "contained":
            rows = _contained_rows(rows, search, types)
        entries = [_entry(request, row, "match", search) for row in rows]
        if search.includes and page.rows:
            for row in includes_.resolve(search.includes, page.rows, visible=ctx.visible):
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
        elif (
            search.cursor is None
            and search.summary != "count"
            and not any(link["relation"] == "next" for link in links)
            and 0 < search.count
            and search.total != "accurate"
        ):
            bundle["total"] = matched  # the whole result is on this first page
        else:
            bundle["total"] = _total(search, drivers, where, page, matched)
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": bundle["total"]}
    if ctx.ignored:
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "warning", "code": "not-supported", "diagnostics": f"Parameter ignored: {name}"}
                        for name in ctx.ignored
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def match_records(resource_type: str, query: list[tuple[str, str]]) -> list[ResourceRecord]:
    """Current records of `resource_type` matching `query` (conditional create/update/delete)."""
    where = matching(resource_type, query, "in a conditional request")
    return list(ResourceRecord.objects.filter(where.q()).order_by("id"))


def match_condition(resource_type: str, query: list[tuple[str, str]]) -> Q:
    """`match_records` as a condition for a queryset, nothing fetched: the caller combines it and
    streams the rows."""
    return matching(resource_type, query, f"for {resource_type}").q()


def matching(resource_type: str, query: list[tuple[str, str]], asked: str) -> Where:
    """The current records of `resource_type` matching `query`; an unknown parameter is a 400."""
    search = parse(query)
    ctx = Context()
    condition, _ = compile_filters(resource_type, search.filters, ctx)
    if ctx.ignored:
        raise bad_request(f"Unknown search parameters {asked}: {', '.join(ctx.ignored)}",
                          code="SEARCH_UNKNOWN_PARAMETER", issue_code="not-supported")
    return condition & Where(rest=columns(resource_type=resource_type, deleted=False))
