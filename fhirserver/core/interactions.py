"""The instance- and type-level interactions of the RESTful API, as plain handlers.

Each handler takes a `FhirRequest` and returns a `FhirResponse`; nothing here knows Django's HTTP
objects. Conditional forms (If-None-Exist, PUT/DELETE with a query) resolve their matches through
the search engine under a lock on the query, so two racing clients see one outcome.
"""
from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from fhirserver.core import guard, patching, references
from fhirserver.core.errors import FhirError, bad_request, operation_outcome
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.core.responses import prefer_return, version_headers, written
from fhirserver.search import api as search_api
from fhirserver.search import shaping
from fhirserver.storage import repository
from resources.validation import is_valid_id, validate_resource


def _require_id(request: FhirRequest) -> str:
    if not is_valid_id(request.id):
        raise bad_request(f"'{request.id}' is not a valid resource id", code="INVALID_ID", expression=["id"])
    return request.id  # type: ignore[return-value]


def _body_resource(request: FhirRequest) -> dict:
    if request.body is None:
        raise bad_request("The request has no resource in its body", code="NO_BODY")
    return validate_resource(request.body, expected_type=request.resource_type)


def _if_match(request: FhirRequest) -> int | None:
    value = request.header("if-match")
    if not value:
        return None
    digits = value.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise bad_request(f"If-Match '{value}' is not a version ETag such as W/\"3\"", code="BAD_IF_MATCH")
    return int(digits)


# --- read / vread --------------------------------------------------------------------------------
def read(request: FhirRequest) -> FhirResponse:
    if (
        request.text_response
        and request.resource_type != "Binary"
        and not (request.params("_summary") or request.params("_elements"))
    ):
        return _read_as_stored(request)
    stored = repository.read(request.resource_type, _require_id(request))
    guard.check(request, "read", request.resource_type, stored.content)
    headers = version_headers(stored)
    if _not_modified(request, stored):
        return FhirResponse(status=304, headers=headers)
    return FhirResponse(status=200, resource=_shaped(request, stored.content), headers=headers)


def _read_as_stored(request: FhirRequest) -> FhirResponse:
    """A read answered with the stored JSON text (the HTTP layer renders it, as XML too)."""
    stored, text = repository.read_text(request.resource_type, _require_id(request))
    if request.access is not None:  # scopes and patient compartment look inside the resource
        guard.check(request, "read", request.resource_type, json.loads(text))
    headers = version_headers(stored)
    if _not_modified(request, stored):
        return FhirResponse(status=304, headers=headers)
    return FhirResponse(status=200, json_text=text, headers=headers)


def vread(request: FhirRequest) -> FhirResponse:
    stored = repository.vread(request.resource_type, _require_id(request), request.version_id or "")
    guard.check(request, "vread", request.resource_type, stored.content)
    return FhirResponse(status=200, resource=_shaped(request, stored.content), headers=version_headers(stored))


def _shaped(request: FhirRequest, content: dict) -> dict:
    """`_summary` and `_elements` on a read, as on a search (the result carries the SUBSETTED tag)."""
    summary = (request.params("_summary") or [None])[-1]
    elements = [name.strip() for value in request.params("_elements") for name in value.split(",") if name.strip()]
    if summary is None and not elements:
        return content
    if summary not in (None, "true", "text", "data", "false"):
        raise bad_request(
            "_summary on a read is one of true, text, data, false", code="BAD_SUMMARY", expression=["_summary"]
        )
    return shaping.shape(content, None if summary == "false" else summary, elements)


def _not_modified(request: FhirRequest, stored: repository.StoredResource) -> bool:
    if_none_match = request.header("if-none-match")
    if if_none_match:
        tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
        return "*" in tags or str(stored.version) in tags
    if_modified_since = request.header("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return stored.last_updated.replace(microsecond=0) <= since
    return False


# --- create --------------------------------------------------------------------------------------
def create(request: FhirRequest) -> FhirResponse:
    content = _body_resource(request)
    content = {k: v for k, v in content.items() if k != "id"}  # the server assigns the id
    guard.check(request, "create", request.resource_type, content)
    references.check(request, request.resource_type, content)
    condition = request.header("if-none-exist")
    if not condition:
        stored = repository.create(request.resource_type, content, id=request.assigned_id)
        return written(request, stored, 201, f"Created {stored.location}")
    query = _parse_condition(condition)
    with repository.write_transaction():
        matches = _locked_matches(request, request.resource_type, query)
        if matches:
            stored = repository.current(request.resource_type, matches[0].logical_id)
            guard.check(
                request, "read", request.resource_type, stored.content
            )  # the match is returned: it must be readable
            return written(request, stored, 200, f"{stored.location} already matches If-None-Exist; nothing created")
        stored = repository.create(request.resource_type, content, id=request.assigned_id)
    return written(request, stored, 201, f"Created {stored.location}")


def _locked_matches(request: FhirRequest, resource_type: str, query: list[tuple[str, str]]) -> list:
    """The matches of a conditional interaction's query, with writers of the same query serialised
    until the surrounding transaction ends (so two racing clients see one outcome). Many matches
    are 412, as the spec has it for conditional create, update and delete.

    Only what the caller may read counts as a match: the answer (a count, 403 or 204) must not
    depend on resources the token cannot see."""
    repository.lock_key(f"conditional:{resource_type}?{sorted(query)}")
    matches = _visible(request, resource_type, search_api.match_records(resource_type, query))
    if len(matches) > 1:
        raise FhirError(
            412,
            f"The condition matched {len(matches)} {resource_type} resources; it must match at most one",
            issue_code="multiple-matches",
            code="CONDITION_MULTIPLE",
        )
    return matches


def _visible(request: FhirRequest, resource_type: str, matches: list) -> list:
    return [m for m in matches if guard.can_see(request, resource_type, m.content)]


def _parse_condition(condition: str) -> list[tuple[str, str]]:
    query = parse_qsl(condition.split("?", 1)[-1], keep_blank_values=True)
    if not query:
        raise bad_request(f"Condition '{condition}' has no search parameters", code="EMPTY_CONDITION")
    return query


# --- update --------------------------------------------------------------------------------------
def update(request: FhirRequest) -> FhirResponse:
    id = _require_id(request)
    content = _body_resource(request)
    if "id" not in content:
        raise bad_request(
            "An update must carry the resource's id in the body",
            code="UPDATE_NO_ID",
            expression=[f"{request.resource_type}.id"],
        )
    if content["id"] != id:
        raise bad_request(
            f"The id in the body ('{content['id']}') does not match the URL ('{id}')",
            code="UPDATE_ID_MISMATCH",
            expression=[f"{request.resource_type}.id"],
        )
    previous = repository.current(request.resource_type, id)
    guard.check(
        request,
        "update",
        request.resource_type,
        content,
        previous=previous.content if previous and not previous.deleted else None,
    )
    references.check(request, request.resource_type, content)
    stored, created = repository.update(request.resource_type, id, content, if_match=_if_match(request))
    return written(request, stored, 201 if created else 200, f"{'Created' if created else 'Updated'} {stored.location}")


def conditional_update(request: FhirRequest) -> FhirResponse:
    content = _body_resource(request)
    query = request.query
    if not query:
        raise bad_request("A conditional update needs search parameters", code="EMPTY_CONDITION")
    with repository.write_transaction():
        matches = _locked_matches(request, request.resource_type, query)
        if matches:
            id = matches[0].logical_id
            if "id" in content and content["id"] != id:
                raise bad_request(
                    f"The id in the body ('{content['id']}') is not the id of the matching resource ('{id}')",
                    code="UPDATE_ID_MISMATCH",
                    expression=[f"{request.resource_type}.id"],
                )
        elif content.get("id"):
            # No match, but the body names an id: R4 makes this an update-as-create, and rejects
            # it (409) when that id already exists. Never an overwrite of a resource the condition
            # did not select: that would let a caller replace anyone's record by naming its id.
            id = content["id"]
            if not is_valid_id(id):
                raise bad_request(
                    f"'{id}' is not a valid resource id", code="INVALID_ID", expression=[f"{request.resource_type}.id"]
                )
            if repository.current(request.resource_type, id) is not None:
                raise FhirError(
                    409,
                    f"The condition matched no {request.resource_type}, and the body's id '{id}' belongs to an "
                    "existing resource that does not meet it",
                    issue_code="conflict",
                    code="CONDITION_ID_EXISTS",
                    expression=[f"{request.resource_type}.id"],
                )
        else:
            id = repository.new_id()
        body = dict(content, id=id)
        if matches:
            guard.check(request, "update", request.resource_type, body, previous=matches[0].content)
        else:
            guard.check(request, "create", request.resource_type, body)
        references.check(request, request.resource_type, body)
        stored, created = repository.update(request.resource_type, id, body, if_match=_if_match(request))
    return written(request, stored, 201 if created else 200, f"{'Created' if created else 'Updated'} {stored.location}")


# --- patch ---------------------------------------------------------------------------------------
def patch(request: FhirRequest) -> FhirResponse:
    id = _require_id(request)
    return _apply_patch(request, id)


def conditional_patch(request: FhirRequest) -> FhirResponse:
    matches = _visible(request, request.resource_type, search_api.match_records(request.resource_type, request.query))
    if len(matches) != 1:
        status = 404 if not matches else 412
        raise FhirError(
            status, f"A conditional patch needs exactly one match; found {len(matches)}", code="CONDITION_MATCHES"
        )
    return _apply_patch(request, matches[0].logical_id)


def _apply_patch(request: FhirRequest, id: str) -> FhirResponse:
    media_type = request.content_type.split(";")[0].strip().lower()
    if media_type not in patching.PATCH_FORMATS + ["application/json"]:
        raise FhirError(
            415, f"PATCH takes {', '.join(patching.PATCH_FORMATS)}", issue_code="not-supported", code="PATCH_MEDIA_TYPE"
        )
    if request.body is None:
        raise bad_request("A PATCH needs a patch document in its body", code="PATCH_FORMAT")
    with repository.write_transaction():
        repository.lock_key(f"{request.resource_type}/{id}")
        stored = repository.read(request.resource_type, id)
        expected = _if_match(request)
        if expected is not None and expected != stored.version:
            raise FhirError(
                412,
                f"Version conflict: {request.resource_type}/{id} is at version {stored.version}",
                issue_code="conflict",
                code="VERSION_CONFLICT",
            )
        patched = patching.apply_patch(stored.content, request.body, media_type, request.resource_type)
        if patched.get("id") != id or patched.get("resourceType") != request.resource_type:
            raise FhirError(
                422,
                "A patch may not change the resource's id or resourceType",
                issue_code="processing",
                code="PATCH_IDENTITY",
            )
        validate_resource(patched, expected_type=request.resource_type)
        guard.check(request, "update", request.resource_type, patched, previous=stored.content)
        references.check(request, request.resource_type, patched)
        updated, _ = repository.update(request.resource_type, id, patched, method="PATCH")
    return written(request, updated, 200, f"Patched {updated.location}")


# --- delete --------------------------------------------------------------------------------------
def delete(request: FhirRequest) -> FhirResponse:
    id = _require_id(request)
    existing = repository.current(request.resource_type, id)
    guard.check(
        request, "delete", request.resource_type, existing.content if existing and not existing.deleted else None
    )
    deleted = repository.delete(request.resource_type, id)
    return _deleted_response(request, [deleted] if deleted else [])


def conditional_delete(request: FhirRequest) -> FhirResponse:
    if not request.query:
        raise bad_request("A conditional delete needs search parameters", code="EMPTY_CONDITION")
    with repository.write_transaction():
        matches = _locked_matches(request, request.resource_type, request.query)
        for match in matches:
            guard.check(request, "delete", request.resource_type, match.content)
        deleted = [d for d in (repository.delete(request.resource_type, m.logical_id) for m in matches) if d]
    return _deleted_response(request, deleted)


def _deleted_response(request: FhirRequest, deleted: list[repository.StoredResource]) -> FhirResponse:
    headers = {"ETag": deleted[0].etag} if len(deleted) == 1 else {}
    message = f"Deleted {', '.join(d.location for d in deleted)}" if deleted else "Nothing to delete"
    if prefer_return(request) == "OperationOutcome":
        return FhirResponse(
            status=200,
            resource=operation_outcome([{"severity": "information", "code": "informational", "diagnostics": message}]),
            headers=headers,
        )
    return FhirResponse(status=204, headers=headers)
