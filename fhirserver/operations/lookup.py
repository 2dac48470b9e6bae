"""CodeSystem/$lookup: what a code means (display, definition, designations, properties).

Over every stored CodeSystem and the code systems the server ships (fhirserver.terminology).
"""

from __future__ import annotations

from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.parameters import OperationInput, parameters
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.terminology.http import instance_or_url, source, terminology_errors
from resources.terminology import CodeSystemView


@terminology_errors
def lookup(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "lookup")
    coding = given.coding("coding") or {}
    code = given.text("code") or coding.get("code")
    system = given.text("system") or coding.get("system")
    version = given.text("version") or coding.get("version")
    if not code:
        raise bad_request(
            "$lookup needs 'code' (with 'system') or 'coding'", code="LOOKUP_NO_CODE", expression=["code"]
        )
    if request.id:
        codesystem = CodeSystemView(instance_or_url(request, "CodeSystem", None, None))
    else:
        if not system:
            raise bad_request("$lookup needs 'system' with 'code'", code="LOOKUP_NO_SYSTEM", expression=["system"])
        codesystem = source().codesystem(system, version)
        if codesystem is None:
            instance_or_url(request, "CodeSystem", system, version)  # says it is unknown
    concept = codesystem.lookup(code)
    if concept is None:
        raise FhirError(
            404,
            f"Code '{code}' is not in {codesystem.url}",
            issue_code="not-found",
            code="UNKNOWN_CODE",
            expression=["code"],
        )
    language = given.text("displayLanguage")
    wanted = set(given.texts("property"))
    parts = [
        {"name": "name", "valueString": codesystem.name},
        {"name": "version", "valueString": codesystem.version} if codesystem.version else None,
        {"name": "display", "valueString": concept.display_in(language) or concept.code},
        {"name": "definition", "valueString": concept.definition} if concept.definition else None,
        {"name": "abstract", "valueBoolean": concept.abstract} if concept.abstract else None,
    ]
    for designation in concept.designations:
        part = [{"name": "value", "valueString": designation.get("value", "")}]
        if designation.get("language"):
            part.insert(0, {"name": "language", "valueCode": designation["language"]})
        if designation.get("use"):
            part.insert(-1, {"name": "use", "valueCoding": designation["use"]})
        parts.append({"name": "designation", "part": part})
    for prop in concept.properties:
        if wanted and prop.get("code") not in wanted:
            continue
        value = next(((k, v) for k, v in prop.items() if k.startswith("value")), None)
        if value is not None:
            parts.append(
                {
                    "name": "property",
                    "part": [{"name": "code", "valueCode": prop["code"]}, {"name": "value", value[0]: value[1]}],
                }
            )
    for relation, codes in (("parent", concept.parents), ("child", concept.children)):
        if not wanted or relation in wanted:
            for related in sorted(codes):
                parts.append(
                    {
                        "name": "property",
                        "part": [{"name": "code", "valueCode": relation}, {"name": "value", "valueCode": related}],
                    }
                )
    return FhirResponse(status=200, resource=parameters(*parts))


register(
    Operation(
        name="lookup",
        handler=lookup,
        resource_types=("CodeSystem",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
    )
)
