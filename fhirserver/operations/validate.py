"""$validate at type and instance level: the resource checked as a create or update would check it.

Always 200 with an OperationOutcome when validation ran: errors are issues, not an HTTP failure.
"""
from __future__ import annotations

from fhirserver.core.errors import bad_request, operation_outcome
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.storage import repository
from resources.validation import validation_issues


def validate(request: FhirRequest) -> FhirResponse:
    resource = _resource_to_validate(request)
    issues = validation_issues(resource, expected_type=request.resource_type)
    mode = _parameter(request, "mode")
    if mode == "update" and request.id and isinstance(resource, dict) and resource.get("id") != request.id:
        issues.append(
            {
                "severity": "error",
                "code": "invalid",
                "diagnostics": "The resource id does not match the URL",
                "expression": [f"{request.resource_type}.id"],
            }
        )
    if not issues:
        issues = [{"severity": "information", "code": "informational", "diagnostics": "Validation found no problems"}]
    return FhirResponse(status=200, resource=operation_outcome(issues))


def _resource_to_validate(request: FhirRequest):
    body = request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for parameter in body.get("parameter", []):
            if parameter.get("name") == "resource" and "resource" in parameter:
                return parameter["resource"]
        if request.id is None:
            raise bad_request("Parameters for $validate carry no 'resource' parameter", code="VALIDATE_NO_RESOURCE")
    elif body is not None:
        return body
    if request.id is not None:
        return repository.read(request.resource_type, request.id).content
    raise bad_request("$validate needs a resource in the body", code="VALIDATE_NO_RESOURCE")


def _parameter(request: FhirRequest, name: str) -> str | None:
    body = request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for parameter in body.get("parameter", []):
            if parameter.get("name") == name:
                return parameter.get("valueCode") or parameter.get("valueString")
    values = request.params(name)
    return values[0] if values else None


register(Operation(
    name="validate", handler=validate, resource_types=None, levels=("type", "instance"),
    definition="http://hl7.org/fhir/OperationDefinition/Resource-validate",
))
