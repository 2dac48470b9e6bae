"""$meta, $meta-add and $meta-delete on a resource instance (R4 Resource-meta*).

Profiles, tags and security labels are sets: a profile is identified by its URL, a tag or label by
system + code (version and display are ignored when matching). $meta-add and $meta-delete change the
stored meta in place and create no new version, as the operation definitions say.
"""
from __future__ import annotations

from fhirserver.core import guard
from fhirserver.core.errors import bad_request
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.storage import repository

SETS = ("profile", "tag", "security")


def meta(request: FhirRequest) -> FhirResponse:
    stored = repository.read(request.resource_type, request.id)
    guard.check(request, "read", request.resource_type, stored.content)
    return _returned(stored.content.get("meta") or {})


def meta_add(request: FhirRequest) -> FhirResponse:
    return _change(request, _added)


def meta_delete(request: FhirRequest) -> FhirResponse:
    return _change(request, _removed)


def _change(request: FhirRequest, combine) -> FhirResponse:
    given = _meta_parameter(request)
    current = repository.read(request.resource_type, request.id)
    guard.check(request, "update", request.resource_type, current.content, previous=current.content)
    stored = repository.rewrite_meta(request.resource_type, request.id, request.version_id,
                                     lambda existing: combine(existing, given))
    return _returned(stored.content["meta"])


def _added(existing: dict, given: dict) -> dict:
    out = dict(existing)
    for name in SETS:
        items = list(existing.get(name) or [])
        for item in given.get(name) or []:
            if not any(_same(name, item, have) for have in items):
                items.append(item)
        if items:
            out[name] = items
    return out


def _removed(existing: dict, given: dict) -> dict:
    out = dict(existing)
    for name in SETS:
        items = [
            have
            for have in existing.get(name) or []
            if not any(_same(name, item, have) for item in given.get(name) or [])
        ]
        if items:
            out[name] = items
        else:
            out.pop(name, None)
    return out


def _same(name: str, a, b) -> bool:
    if name == "profile":
        return a == b
    return (a.get("system"), a.get("code")) == (b.get("system"), b.get("code"))


def _meta_parameter(request: FhirRequest) -> dict:
    body = request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for parameter in body.get("parameter") or []:
            if parameter.get("name") == "meta" and isinstance(parameter.get("valueMeta"), dict):
                value = parameter["valueMeta"]
                if not all(isinstance(value.get(n, []), list) for n in SETS) or \
                        not all(isinstance(i, dict) for n in ("tag", "security") for i in value.get(n, [])):
                    break
                return value
    raise bad_request("Send a Parameters resource with one 'meta' parameter (valueMeta)", code="META_PARAMETER",
                      expression=["Parameters.parameter"])


def _returned(value: dict) -> FhirResponse:
    return FhirResponse(
        status=200, resource={"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": value}]}
    )


register(Operation(name="meta", handler=meta, resource_types=None, levels=("instance",),
                   definition="http://hl7.org/fhir/OperationDefinition/Resource-meta"))
register(Operation(name="meta-add", handler=meta_add, resource_types=None, levels=("instance",), methods=("POST",),
                   definition="http://hl7.org/fhir/OperationDefinition/Resource-meta-add", affects_state=True))
register(
    Operation(
        name="meta-delete",
        handler=meta_delete,
        resource_types=None,
        levels=("instance",),
        methods=("POST",),
        definition="http://hl7.org/fhir/OperationDefinition/Resource-meta-delete",
        affects_state=True,
    )
)
