"""`POST [base]/$import`: NDJSON into the server over HTTP, through the same importer as
`manage.py import_ndjson` (validated, versioned, indexed; per-line errors).

The Bulk Data import draft pulls files from URLs the server fetches; this server fetches nothing
from the network, so the lines come from the request itself (`Content-Type: application/fhir+ndjson`)
or, in a `Parameters` body, from `input` parts whose `url` is a file of one of this client's own
exports (`[base]/_bulk/[id]/[file]`). The answer comes when the lines are stored (not asynchronous):
200 with an OperationOutcome that counts what was stored and names every refused line (400 when
every line was refused). Large loads belong to the command, which no request time bound stops.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from fhirserver.bulk import files, importer, status
from fhirserver.bulk.kickoff import require_system_token
from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request, operation_outcome
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.security.access import forbidden

NDJSON_TYPES = {"application/fhir+ndjson", "application/ndjson", "application/x-ndjson"}
MAX_ISSUES = 100


def import_request(request: FhirRequest) -> FhirResponse:
    if request.access is not None:
        require_system_token(request)  # backend services only, as for $export: 403 for patient and user tokens
        if not any(rule.permissions & {"c", "u"} for rule in request.access.rules):
            raise forbidden("$import writes: the token needs system/ write scopes (system/*.write, "
                            "system/Observation.cu...)", code="BULK_IMPORT_NO_WRITE")
    media = (request.content_type or "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        lines = _numbered("request body", request.raw_body)
    elif isinstance(request.body, dict) and request.body.get("resourceType") == "Parameters":
        lines = _from_inputs(request)
    else:
        raise FhirError(415, "$import takes NDJSON (Content-Type: application/fhir+ndjson) or a Parameters body "
                        "whose input urls are files of this client's exports", issue_code="not-supported",
                        code="BULK_IMPORT_MEDIA_TYPE")

    def admit(resource: dict) -> None:
        guard.check(request, "update" if resource.get("id") else "create", resource["resourceType"], resource)

    result = importer.import_lines(lines, admit=admit if request.access is not None else None)
    return _answer(result)


def _numbered(source: str, data: bytes) -> Iterator[tuple[str, int, bytes]]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        yield source, number, raw


def _from_inputs(request: FhirRequest) -> Iterator[tuple[str, int, bytes]]:
    """The lines of each `input.url`, a file of one of the caller's own exports."""
    pattern = re.compile(re.escape(request.base_url) + r"/_bulk/([0-9a-f-]{36})/([A-Za-z]+-\d+\.ndjson)$")
    urls = []
    for index, part in enumerate(p for p in request.body.get("parameter") or [] if isinstance(p, dict)):
        if part.get("name") != "input":
            continue
        url = next((str(sub.get("valueUrl") or sub.get("valueUri") or "") for sub in part.get("part") or []
                    if isinstance(sub, dict) and sub.get("name") == "url"), "")
        match = pattern.match(url)
        if not match:
            raise bad_request(f"input url '{url}' is not a file of an export of this server; this server fetches "
                              "nothing from the network", code="BULK_IMPORT_URL",
                              expression=[f"Parameters.parameter[{index}].part"])
        urls.append((url, uuid.UUID(match.group(1)), match.group(2)))
    if not urls:
        raise bad_request("$import needs at least one input part with a url", code="BULK_IMPORT_URL",
                          expression=["Parameters.parameter"])
    opened = []
    for url, job_id, name in urls:  # every file checked (owner, scope) before any line is stored
        opened.append((url, status.stored_file(request, job_id, name)))
    for url, stored_name in opened:
        with files.storage().open(stored_name, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                yield url, number, raw


def _answer(result: importer.ImportResult) -> FhirResponse:
    issues = [{"severity": "information", "code": "informational",
               "diagnostics": f"{result.stored} resources stored ({result.created} created, {result.updated} "
                              f"updated), {len(result.errors)} lines refused"}]
    for error in result.errors[:MAX_ISSUES]:
        issue = {"severity": "error", "code": "invalid", "diagnostics": f"{error.source} line {error.line}: "
                 f"{error.diagnostics}"}
        if error.expression:
            issue["expression"] = error.expression
        issues.append(issue)
    if len(result.errors) > MAX_ISSUES:
        issues.append({"severity": "warning", "code": "too-costly",
                       "diagnostics": f"{len(result.errors) - MAX_ISSUES} more refused lines are not listed"})
    refused_all = result.errors and not result.stored
    return FhirResponse(status=400 if refused_all else 200, resource=operation_outcome(issues))

