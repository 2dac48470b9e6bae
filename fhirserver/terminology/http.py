"""The terminology operations' shared HTTP pieces ($lookup, $validate-code, $subsumes, $expand,
$translate): the content they work over is `source()` (source.py: stored first, then shipped), the
same one required-binding checks and the search engine's `:in`/`:not-in` ask.
"""

from __future__ import annotations

from functools import wraps

from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.parameters import parameters
from fhirserver.core.request import FhirResponse
from fhirserver.storage import repository
from fhirserver.terminology.source import ServerSource, source  # noqa: F401  (the operations' import)
from resources.terminology import TerminologyError
from resources.terminology.errors import unknown
from resources.terminology.valueset import resolve_value_set


def terminology_errors(handler):
    """An operation handler whose TerminologyError answers as an OperationOutcome (FhirError)."""

    @wraps(handler)
    def wrapped(request):
        try:
            return handler(request)
        except TerminologyError as exc:
            raise FhirError(exc.status, exc.message, issue_code=exc.issue_code, code=exc.code) from exc

    return wrapped


def instance_or_url(
    request, resource_type: str, url: str | None, version: str | None, *, inline: dict | None = None
) -> dict:
    """The canonical resource an operation works on: the instance in the URL, a resource given
    inline, or the one a `url` (+ version) names, stored or shipped."""
    if request.id:
        stored = repository.read(resource_type, request.id)
        guard.check(request, "read", resource_type, stored.content)
        return stored.content
    if inline is not None:
        if inline.get("resourceType") != resource_type:
            raise bad_request(f"The inline resource must be a {resource_type}", code="OPERATION_PARAMETER")
        return inline
    if not url:
        raise bad_request(
            f"Name the {resource_type} with 'url' (or call it on an instance)",
            code="OPERATION_PARAMETER",
            expression=["url"],
        )
    base, _, pinned = url.partition("|")
    if resource_type == "ValueSet":  # stored, shipped, or implied by a code system
        return resolve_value_set(f"{base}|{version or pinned}" if version or pinned else base, source())
    found = source().find(resource_type, base, version or pinned or None)
    if found is None:
        raise unknown(resource_type, base, version or pinned or None)
    return found


def validation_answer(result: bool, message: str | None, display: str | None) -> FhirResponse:
    """The out-parameters of both $validate-code operations."""
    return FhirResponse(
        status=200,
        resource=parameters(
            {"name": "result", "valueBoolean": result},
            {"name": "message", "valueString": message} if message else None,
            {"name": "display", "valueString": display} if display else None,
        ),
    )
