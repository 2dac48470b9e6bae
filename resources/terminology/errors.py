"""What the terminology engine says when it cannot answer: the FHIR layer turns it into an
OperationOutcome with the status and issue code given here."""

from __future__ import annotations


class TerminologyError(Exception):
    def __init__(self, message: str, *, status: int = 422, issue_code: str = "processing", code: str = "TERMINOLOGY"):
        super().__init__(message)
        self.message, self.status, self.issue_code, self.code = message, status, issue_code, code


def unknown(resource_type: str, url: str, version: str | None = None) -> TerminologyError:
    named = f"{url}|{version}" if version else url
    return TerminologyError(
        f"{resource_type} {named} is not known to this server",
        status=404,
        issue_code="not-found",
        code=f"UNKNOWN_{resource_type.upper()}",
    )
