"""Errors raised by validation and the FHIR core; the HTTP layer renders them as OperationOutcome.

Each carries a stable `code` (like HAPI's message codes) so a log line or an OperationOutcome can
be traced to one place in the code.
"""
from __future__ import annotations


class FhirError(Exception):
    """An error with an HTTP status and one or more OperationOutcome issues."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        issue_code: str = "processing",
        expression: list[str] | None = None,
        severity: str = "error",
        code: str | None = None,
        issues: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.headers = headers or {}
        if issues is None:
            issue = {"severity": severity, "code": issue_code, "diagnostics": diagnostics}
            if code:
                issue["details"] = {
                    "coding": [{"system": "urn:fhir-digitize:error", "code": code}],
                    "text": diagnostics,
                }
            if expression:
                issue["expression"] = expression
            issues = [issue]
        self.issues = issues

    def outcome(self) -> dict:
        return operation_outcome(self.issues)


def operation_outcome(issues: list[dict]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_info(diagnostics: str, code: str = "informational", severity: str = "information") -> dict:
    return operation_outcome([{"severity": severity, "code": code, "diagnostics": diagnostics}])


def not_found(resource_type: str, id: str) -> FhirError:
    return FhirError(
        404, f"Resource {resource_type}/{id} is not known", issue_code="not-found", code="RESOURCE_NOT_FOUND"
    )


def bad_request(
    diagnostics: str, *, code: str = "BAD_REQUEST", issue_code: str = "invalid", expression: list[str] | None = None
) -> FhirError:
    return FhirError(400, diagnostics, issue_code=issue_code, code=code, expression=expression)
