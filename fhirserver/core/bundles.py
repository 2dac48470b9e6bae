"""Transaction and batch Bundles (POST [base]).

A transaction is all or nothing: entries run in the spec's order (DELETE, POST, PUT/PATCH, GET)
inside one database transaction, after every `urn:uuid:`/fullUrl and conditional reference in the
Bundle has been resolved and rewritten. A batch runs each entry on its own; one failing entry
becomes that entry's error response and leaves the others alone.
"""
from __future__ import annotations

import base64
import copy
import json
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction

from fhirserver.core import guard, router
from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.search import api as search_api
from fhirserver.storage import repository

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content", 304: "304 Not Modified"}


def process(request: FhirRequest) -> FhirResponse:
    # Only the Bundle's shell is checked here: each entry's resource is validated by the handler
    # that processes it, so its errors name the entry (and nothing is validated twice).
    bundle = request.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise bad_request(
            "POST to the base URL takes a transaction or batch Bundle", code="NO_BUNDLE", expression=["Bundle"]
        )
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise bad_request(
            f"Bundle.type must be 'transaction' or 'batch', not '{kind}'",
            code="BUNDLE_TYPE",
            expression=["Bundle.type"],
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise bad_request("Bundle.entry must be an array", code="BUNDLE_SHAPE", expression=["Bundle.entry"])
    for index, entry in enumerate(entries):
        req = entry.get("request") if isinstance(entry, dict) else None
        req = req if isinstance(req, dict) else {}
        if not req.get("method") or not req.get("url"):
            raise bad_request(f"Bundle.entry[{index}] has no request.method and request.url", code="ENTRY_NO_REQUEST",
                              expression=[f"Bundle.entry[{index}].request"])
    if kind == "batch":
        return _batch(request, entries)
    return _transaction(request, entries)


# --- transaction ---------------------------------------------------------------------------------
def _transaction(request: FhirRequest, entries: list[dict]) -> FhirResponse:
    # The request's own Bundle is never changed: entries are copied, and a resource only where a
    # reference in it is rewritten (copy on write is cheaper than a deep copy of every entry).
    entries = [dict(entry) for entry in entries]
    responses: list[dict | None] = [None] * len(entries)
    with repository.write_transaction(), repository.deferred_indexing():
        id_map = _assign_identities(request, entries)
        for entry in entries:
            if "resource" in entry:
                entry["resource"] = _rewritten(entry["resource"], id_map, request)
        for index in sorted(range(len(entries)), key=lambda i: ORDER.get(entries[i]["request"]["method"].upper(), 4)):
            entry = entries[index]
            if entry["request"]["method"].upper() in ("GET", "HEAD"):
                repository.flush_index()  # reads and searches see this transaction's writes
            try:
                response = _run_entry(request, entry, assigned_id=entry.get("_assigned_id"))
            except FhirError as exc:
                raise FhirError(
                    exc.status,
                    f"Transaction failed at Bundle.entry[{index}] ({_entry_label(entry)}): {exc.diagnostics}",
                    issue_code=exc.issues[0].get("code", "processing"),
                    code=exc.code,
                    expression=[f"Bundle.entry[{index}]"] + list(exc.issues[0].get("expression", [])),
                ) from exc
            if response.status >= 400:
                raise FhirError(response.status, f"Transaction failed at Bundle.entry[{index}] ({_entry_label(entry)})",
                                expression=[f"Bundle.entry[{index}]"])
            responses[index] = _response_entry(request, response)
    bundle = {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
    return FhirResponse(status=200, resource=bundle)


def _entry_label(entry: dict) -> str:
    return entry.get("fullUrl") or f"{entry['request']['method']} {entry['request']['url']}"


def _assign_identities(request: FhirRequest, entries: list[dict]) -> dict[str, str]:
    """Map every fullUrl the Bundle may refer to onto the Type/id it will have once stored."""
    id_map: dict[str, str] = {}
    for index, entry in enumerate(entries):
        method = entry["request"]["method"].upper()
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        url = entry["request"]["url"]
        if method == "POST" and isinstance(resource, dict):
            resource_type = resource.get("resourceType") or url.split("?")[0]
            condition = entry["request"].get("ifNoneExist")
            target = None
            if condition:
                matches = _visible_matches(request, resource_type, parse_qsl(condition.split("?", 1)[-1]))
                if len(matches) > 1:
                    raise FhirError(
                        412,
                        f"Bundle.entry[{index}].request.ifNoneExist matched {len(matches)} resources",
                        issue_code="duplicate",
                        code="CONDITION_MULTIPLE",
                        expression=[f"Bundle.entry[{index}].request.ifNoneExist"],
                    )
                if matches:
                    target = f"{resource_type}/{matches[0].logical_id}"
            if target is None:
                entry["_assigned_id"] = repository.new_id()
                target = f"{resource_type}/{entry['_assigned_id']}"
            if full_url:
                id_map[full_url] = target
        elif method == "PUT" and isinstance(resource, dict) and full_url:
            path = urlsplit(url)
            if "?" in url:
                matches = _visible_matches(request, path.path.strip("/"), parse_qsl(path.query))
                if len(matches) == 1:
                    id_map[full_url] = f"{path.path.strip('/')}/{matches[0].logical_id}"
                elif not matches and resource.get("id"):
                    id_map[full_url] = f"{path.path.strip('/')}/{resource['id']}"
                elif not matches:
                    new = repository.new_id()
                    entry["resource"] = resource = dict(resource, id=new)
                    id_map[full_url] = f"{path.path.strip('/')}/{new}"
            else:
                id_map[full_url] = path.path.strip("/")
        if full_url and full_url.startswith(request.base_url + "/"):
            id_map.setdefault(full_url, full_url[len(request.base_url) + 1:])
    return id_map


def _visible_matches(request: FhirRequest, resource_type: str, query: list[tuple[str, str]]) -> list:
    """Matches of a conditional reference or ifNoneExist, as far as the caller may see them:
    a scoped app must not learn the id of a resource outside its grant."""
    return [
        m for m in search_api.match_records(resource_type, query) if guard.can_see(request, resource_type, m.content)
    ]


def _rewritten(node, id_map: dict[str, str], request: FhirRequest):
    """`node` with every Reference.reference (and uri-typed placeholders) rewritten; a changed dict
    or list is a new object, anything unchanged is returned as is (never modified in place)."""
    if isinstance(node, dict):
        changed = None
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = _resolve_reference(value, id_map, request)
            elif isinstance(value, str):
                new = id_map.get(value, value) if value.startswith("urn:uuid:") else value
            elif isinstance(value, (dict, list)):
                new = _rewritten(value, id_map, request)
            else:
                continue
            if new is not value:
                if changed is None:
                    changed = dict(node)
                changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        items = [_rewritten(item, id_map, request) for item in node]
        return node if all(new is old for new, old in zip(items, node)) else items
    return node


def _resolve_reference(reference: str, id_map: dict[str, str], request: FhirRequest) -> str:
    if reference in id_map:
        return id_map[reference]
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        raise bad_request(f"Reference '{reference}' names no entry of this Bundle", code="UNRESOLVED_REFERENCE")
    if "?" in reference and not reference.startswith(("http:", "https:", "#")):
        resource_type, _, query = reference.partition("?")
        matches = _visible_matches(request, resource_type, parse_qsl(query, keep_blank_values=True))
        if len(matches) != 1:
            raise FhirError(
                412 if matches else 404,
                f"Conditional reference '{reference}' matched {len(matches)} resources",
                issue_code="not-found" if not matches else "multiple-matches",
                code="CONDITIONAL_REFERENCE",
            )
        return f"{resource_type}/{matches[0].logical_id}"
    return reference


def _run_entry(request: FhirRequest, entry: dict, *, assigned_id: str | None = None) -> FhirResponse:
    req = entry["request"]
    sub = router.request_for_url(req["method"], req["url"], request.base_url, access=request.access, user=request.user)
    resource = entry.get("resource")
    if req["method"].upper() == "PUT" and sub.id and isinstance(resource, dict) and "id" not in resource:
        resource = dict(resource, id=sub.id)  # the entry's URL already names it; clients often omit it
    sub.body = resource
    sub.content_type = "application/fhir+json"
    if req["method"].upper() == "PATCH" and isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        sub.body = json.loads(base64.b64decode(resource.get("data", "")))  # JSON Patch carried in a Binary
        sub.content_type = "application/json-patch+json"
    headers = {}
    for field, header in (
        ("ifNoneExist", "if-none-exist"),
        ("ifMatch", "if-match"),
        ("ifNoneMatch", "if-none-match"),
        ("ifModifiedSince", "if-modified-since"),
    ):
        if req.get(field):
            headers[header] = req[field]
    if request.header("prefer"):
        headers["prefer"] = request.header("prefer")
    sub.headers = headers
    sub.assigned_id = assigned_id
    if sub.access is not None:
        sub.access.check_request(sub)  # what the door checks for a lone request, per entry
    return router.dispatch(sub)


def _response_entry(request: FhirRequest, response: FhirResponse) -> dict:
    out: dict = {"response": {"status": STATUS_TEXT.get(response.status, str(response.status))}}
    location = response.headers.get("Location")
    if location:
        out["response"]["location"] = (
            location[len(request.base_url) + 1 :] if location.startswith(request.base_url + "/") else location
        )
        out["fullUrl"] = f"{request.base_url}/{out['response']['location'].split('/_history')[0]}"
    if "ETag" in response.headers:
        out["response"]["etag"] = response.headers["ETag"]
    if response.resource is not None:
        meta = response.resource.get("meta") or {}
        if meta.get("lastUpdated"):
            out["response"]["lastModified"] = meta["lastUpdated"]
        if response.resource.get("resourceType") == "OperationOutcome" and response.status >= 300:
            out["response"]["outcome"] = response.resource
        else:
            out["resource"] = response.resource
    return out


# --- batch ---------------------------------------------------------------------------------------
def _batch(request: FhirRequest, entries: list[dict]) -> FhirResponse:
    responses: list[dict | None] = [None] * len(entries)
    for index in sorted(range(len(entries)), key=lambda i: ORDER.get(entries[i]["request"]["method"].upper(), 4)):
        entry = copy.deepcopy(entries[index])
        try:
            with transaction.atomic():
                responses[index] = _response_entry(request, _run_entry(request, entry))
        except FhirError as exc:
            responses[index] = {"response": {"status": str(exc.status), "outcome": exc.outcome()}}
    bundle = {"resourceType": "Bundle", "type": "batch-response", "entry": responses}
    return FhirResponse(status=200, resource=bundle)
