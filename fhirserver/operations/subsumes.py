"""CodeSystem/$subsumes: whether code A subsumes code B in one code system's hierarchy."""

from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.core.parameters import OperationInput, parameters
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.terminology.http import instance_or_url, source, terminology_errors
from resources.terminology import CodeSystemView


@terminology_errors
def subsumes(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "subsumes")
    coding_a, coding_b = given.coding("codingA") or {}, given.coding("codingB") or {}
    code_a, code_b = given.text("codeA") or coding_a.get("code"), given.text("codeB") or coding_b.get("code")
    system = given.text("system") or coding_a.get("system") or coding_b.get("system")
    if coding_a.get("system") and coding_b.get("system") and coding_a["system"] != coding_b["system"]:
        raise bad_request("codingA and codingB are from different code systems", code="SUBSUMES_SYSTEMS")
    if not code_a or not code_b:
        raise bad_request(
            "$subsumes needs codeA and codeB (or codingA and codingB)",
            code="SUBSUMES_CODES",
            expression=["codeA", "codeB"],
        )
    if request.id:
        codesystem = CodeSystemView(instance_or_url(request, "CodeSystem", None, None))
    else:
        if not system:
            raise bad_request("$subsumes needs 'system'", code="SUBSUMES_SYSTEM", expression=["system"])
        codesystem = source().codesystem(system, given.text("version"))
        if codesystem is None:
            instance_or_url(request, "CodeSystem", system, given.text("version"))
    outcome = codesystem.subsumes(code_a, code_b)
    return FhirResponse(status=200, resource=parameters({"name": "outcome", "valueCode": outcome}))


register(
    Operation(
        name="subsumes",
        handler=subsumes,
        resource_types=("CodeSystem",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes",
    )
)
