"""The FHIR route table: a path and a method choose one handler.

Both the HTTP view and the transaction/batch processor call `dispatch`, so a Bundle entry behaves
exactly like the same request sent alone. The processor itself is a table entry (`route`), set at
start-up by `FhirServerConfig.ready()`: it dispatches through the router, so the router does not import it.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from fhirserver.core import capability, history, interactions, limits
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations import registry as operations
from fhirserver.search import api as search_api
from resources.types import R4_RESOURCE_TYPES

COMPARTMENT_TYPES = {"Patient", "Encounter", "RelatedPerson", "Practitioner", "Device"}
Handler = Callable[[FhirRequest], FhirResponse]
_routes: dict[tuple[str, str], Handler] = {}  # (kind, method) -> handler of a module above the router


def route(kind: str, method: str, handler: Handler) -> None:
    """Let `handler` answer `method` on `kind` (e.g. "system", "POST": the transaction/batch processor)."""
    _routes[(kind, method)] = handler


def parse_target(path: str) -> dict:
    """Split a path relative to the base ("Patient/1/_history/2") into the request's parts."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    target: dict = {
        "resource_type": None,
        "id": None,
        "version_id": None,
        "operation": None,
        "compartment": None,
        "kind": None,
    }
    if not parts:
        target["kind"] = "system"
        return target
    head = parts[0]
    if head == "metadata" and len(parts) == 1:
        target["kind"] = "metadata"
    elif head == "_history" and len(parts) == 1:
        target["kind"] = "history"
    elif head == "_search" and len(parts) == 1:
        target["kind"] = "search"
    elif head.startswith("$") and len(parts) == 1:
        target.update(kind="operation-system", operation=head)
    else:
        if head not in R4_RESOURCE_TYPES:
            raise FhirError(
                404,
                f"'{head}' is not a resource type this server knows",
                issue_code="not-supported",
                code="UNKNOWN_TYPE",
            )
        target["resource_type"] = head
        rest = parts[1:]
        if not rest:
            target["kind"] = "type"
        elif rest == ["_search"]:
            target["kind"] = "search"
        elif rest == ["_history"]:
            target["kind"] = "history"
        elif rest[0].startswith("$") and len(rest) == 1:
            target.update(kind="operation-type", operation=rest[0])
        else:
            target["id"] = rest[0]
            tail = rest[1:]
            if not tail:
                target["kind"] = "instance"
            elif tail == ["_history"]:
                target["kind"] = "history"
            elif len(tail) == 2 and tail[0] == "_history":
                target.update(kind="vread", version_id=tail[1])
            elif len(tail) == 1 and tail[0].startswith("$"):
                target.update(kind="operation-instance", operation=tail[0])
            elif (
                head in COMPARTMENT_TYPES
                and len(tail) in (1, 2)
                and (tail[0] in R4_RESOURCE_TYPES or tail[0] == "*")
                and tail[1:] in ([], ["_search"])
            ):
                target.update(
                    kind="search", compartment=(head, rest[0]), resource_type=None if tail[0] == "*" else tail[0]
                )
            else:
                raise FhirError(
                    404, f"No FHIR interaction lives at '{path}'", issue_code="not-found", code="UNKNOWN_PATH"
                )
    return target


def request_for_url(method: str, url: str, base_url: str, **fields) -> FhirRequest:
    """A FhirRequest for a Bundle entry's request.url (relative, or absolute under our base)."""
    if url.startswith(base_url):
        url = url[len(base_url):]
    split = urlsplit(url)
    target = parse_target(split.path)
    return FhirRequest(
        method=method.upper(),
        base_url=base_url,
        query=parse_qsl(split.query, keep_blank_values=True),
        **target,
        **fields,
    )


def dispatch(request: FhirRequest) -> FhirResponse:
    limits.check_request(request)  # before anything is compiled or run: the work asked for is bounded
    method, kind = request.method, request.kind
    handler = _routes.get((kind, method))
    if handler is not None:
        return handler(request)
    if kind == "metadata" and method == "GET":
        return capability.capabilities(request)
    if kind == "system" and method == "GET":
        return _search(request)
    if kind == "search" and method in ("GET", "POST"):
        return _search(request)
    if kind == "history" and method == "GET":
        return history.history(request)
    if kind == "vread" and method == "GET":
        return interactions.vread(request)
    if kind == "type":
        if method == "GET":
            return _search(request)
        if method == "POST":
            return interactions.create(request)
        if method == "PUT":
            return interactions.conditional_update(request)
        if method == "DELETE":
            return interactions.conditional_delete(request)
        if method == "PATCH":
            return interactions.conditional_patch(request)
    if kind == "instance":
        handler = {"GET": interactions.read, "HEAD": interactions.read, "PUT": interactions.update,
                   "DELETE": interactions.delete, "PATCH": interactions.patch}.get(method)
        if handler:
            return handler(request)
    if kind and kind.startswith("operation-"):
        return _operation(request, kind.removeprefix("operation-"))
    raise FhirError(405, f"{method} is not allowed here", issue_code="not-supported", code="METHOD_NOT_ALLOWED")


def _search(request: FhirRequest) -> FhirResponse:
    if request.text_response:  # spliced JSON text: no parse and re-serialise of every match
        return FhirResponse(status=200, json_text=search_api.search_json(request))
    return FhirResponse(status=200, resource=search_api.search_bundle(request))


def _operation(request: FhirRequest, level: str) -> FhirResponse:
    operation = operations.find(request.operation or "", request.resource_type, level)
    if operation is None:
        where = request.resource_type or "the system"
        raise FhirError(404, f"Operation {request.operation} is not supported on {where} at {level} level",
                        issue_code="not-supported", code="UNKNOWN_OPERATION")
    if request.method not in operation.methods:
        raise FhirError(
            405,
            f"{request.operation} does not accept {request.method}",
            issue_code="not-supported",
            code="METHOD_NOT_ALLOWED",
        )
    return operation.handler(request)
