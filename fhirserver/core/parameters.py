"""An operation's input parameters, from the query string (GET, or a form POST) or a `Parameters`
body, read by name and type as the OperationDefinition declares them."""

from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.core.request import FhirRequest


class OperationInput:
    def __init__(self, request: FhirRequest, operation: str):
        self.operation = operation
        self.query = request.query
        body = request.body
        self.parts: list[dict] = []
        if isinstance(body, dict):
            if body.get("resourceType") != "Parameters":
                raise bad_request(
                    f"${operation} takes a Parameters resource in its body",
                    code="OPERATION_BODY",
                    expression=["Parameters"],
                )
            parts = body.get("parameter") or []
            if not isinstance(parts, list):
                raise bad_request(
                    "Parameters.parameter must be a list", code="OPERATION_BODY", expression=["Parameters.parameter"]
                )
            self.parts = [p for p in parts if isinstance(p, dict)]

    def _part(self, name: str) -> dict | None:
        return next((p for p in self.parts if p.get("name") == name), None)

    def text(self, name: str) -> str | None:
        """A primitive parameter (code, uri, string, boolean, integer...) as its text."""
        part = self._part(name)
        if part is not None:
            for key, value in part.items():
                if key.startswith("value") and isinstance(value, (str, int, float, bool)):
                    return str(value).lower() if isinstance(value, bool) else str(value)
            raise bad_request(
                f"Parameter '{name}' of ${self.operation} needs a primitive value",
                code="OPERATION_PARAMETER",
                expression=[f"Parameters.parameter[{self.parts.index(part)}]"],
            )
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        found = [str(v) for p in self.parts if p.get("name") == name for k, v in p.items() if k.startswith("value")]
        return found + [v for k, v in self.query if k == name]

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise bad_request(
                f"Parameter '{name}' of ${self.operation} is true or false, not '{value}'",
                code="OPERATION_PARAMETER",
                expression=[name],
            )
        return value.lower() == "true"

    def integer(self, name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        if not value.lstrip("-").isdigit() or int(value) < minimum:
            raise bad_request(
                f"Parameter '{name}' of ${self.operation} is an integer of at least {minimum}, not '{value}'",
                code="OPERATION_PARAMETER",
                expression=[name],
            )
        return int(value)

    def resource(self, name: str) -> dict | None:
        part = self._part(name)
        if part is None:
            return None
        if not isinstance(part.get("resource"), dict):
            raise bad_request(
                f"Parameter '{name}' of ${self.operation} carries a resource",
                code="OPERATION_PARAMETER",
                expression=[f"Parameters.parameter[{self.parts.index(part)}].resource"],
            )
        return part["resource"]

    def coding(self, name: str) -> dict | None:
        return self._complex(name, "Coding")

    def codeable_concept(self, name: str) -> dict | None:
        return self._complex(name, "CodeableConcept")

    def _complex(self, name: str, kind: str) -> dict | None:
        part = self._part(name)
        if part is None:
            return None
        value = part.get(f"value{kind}")
        if not isinstance(value, dict):
            raise bad_request(
                f"Parameter '{name}' of ${self.operation} is a {kind}",
                code="OPERATION_PARAMETER",
                expression=[f"Parameters.parameter[{self.parts.index(part)}].value{kind}"],
            )
        return value


def parameters(*parts: dict | None) -> dict:
    """A Parameters resource from out-parameter parts, leaving out the empty ones."""
    return {"resourceType": "Parameters", "parameter": [p for p in parts if p]}
