"""The terminology engine's content on this server: stored CodeSystems, ValueSets and ConceptMaps
first (found by canonical URL through the search engine), then the packages the server ships
(resources.terminology.packages). The operations ($lookup, $validate-code, $subsumes, $expand,
$translate), required-binding checks and `:in`/`:not-in` all ask `source()`.

A CodeSystem is turned into a concept tree once per stored version (or once per process for a
packaged one), so a `$expand?filter=` over the LOINC subset does not rebuild it per request.
"""

from __future__ import annotations

from functools import wraps

from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.parameters import parameters
from fhirserver.core.request import FhirResponse
from fhirserver.search import api as search_api
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
from resources.terminology import CodeSystemView, TerminologyError, packages
from resources.terminology.errors import unknown
from resources.terminology.valueset import resolve_value_set


def _version_key(content: dict) -> str:
    meta = content.get("meta") or {}
    return f"{meta.get('versionId')}|{meta.get('lastUpdated')}"


_views: dict[tuple, CodeSystemView] = {}
_contents: dict[tuple[int, int], dict] = {}
MAX_VIEWS = 256


def _content(record_id: int, version: int) -> dict | None:
    """A stored canonical resource by record and version: parsed once (a code system can be large)."""
    key = (record_id, version)
    if key not in _contents:
        if len(_contents) >= MAX_VIEWS:
            _contents.clear()
        record = ResourceRecord.objects.filter(pk=record_id, version=version).values_list("content", flat=True).first()
        if record is None:
            return None  # changed since it was matched: the next call sees the new version
        _contents[key] = record
    return _contents[key]


def _view_of(key: tuple, resource: dict) -> CodeSystemView:
    view = _views.get(key)
    if view is None:
        if len(_views) >= MAX_VIEWS:
            _views.clear()
        view = _views[key] = CodeSystemView(resource)
    return view


class ServerSource:
    """The `Source` of resources.terminology: stored first, then shipped packages."""

    def _stored(self, resource_type: str, url: str, version: str | None) -> dict | None:
        contents = [
            _content(record_id, version_id)
            for record_id, _, version_id in search_api.match_versions(resource_type, [("url", url)])
        ]
        contents = [c for c in contents if c and c.get("url") == url and (not version or c.get("version") == version)]
        if not contents:
            return None
        return max(
            contents, key=lambda c: (str(c.get("version") or ""), (c.get("meta") or {}).get("lastUpdated") or "")
        )

    def find(self, resource_type: str, url: str, version: str | None = None) -> dict | None:
        return self._stored(resource_type, url, version) or packages.find(resource_type, url, version)

    def codesystem(self, url: str, version: str | None = None) -> CodeSystemView | None:
        stored = self._stored("CodeSystem", url, version)
        if stored is not None:
            return _view_of(("stored", url, stored.get("id"), _version_key(stored)), stored)
        packaged = packages.find("CodeSystem", url, version)
        if packaged is None:
            return None
        return _view_of(("package", url, packaged.get("version")), packaged)

    def valueset(self, url: str, version: str | None = None) -> dict | None:
        return self.find("ValueSet", url, version)

    def conceptmap(self, url: str, version: str | None = None) -> dict | None:
        return self.find("ConceptMap", url, version)

    def codesystem_for_valueset(self, url: str) -> str | None:
        """A shipped code system whose `valueSet` is this URL. (Stored code systems have no search
        parameter on `valueSet`; `[system]?fhir_vs` names their implicit value set instead.)"""
        return packages.codesystem_for_valueset(url)


def source() -> ServerSource:
    return ServerSource()


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
