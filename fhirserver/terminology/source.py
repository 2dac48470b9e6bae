"""The terminology engine's `Source` on this server: stored CodeSystems, ValueSets and ConceptMaps
first (found by canonical URL through the uri index), then the packages the server ships
(resources.terminology.packages). The operations, required-binding checks and the search engine's
`:in`/`:not-in` all ask `source()`, so one engine decides what a value set holds.

It reads the index tables directly rather than through a search, so the search engine can ask it
without a circle. A CodeSystem is turned into a concept tree once per stored version (or once per
process for a packaged one), so a `$expand?filter=` over the LOINC subset does not rebuild it per request.
"""

from __future__ import annotations

from fhirserver.search.models import UriIndex
from fhirserver.search.values import TEXT_LENGTH
from fhirserver.storage.models import ResourceRecord
from resources.terminology import CodeSystemView, packages


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


def _matching(resource_type: str, url: str) -> list[tuple[int, int]]:
    """(record id, version) of the current stored resources of this type with this canonical url."""
    ids = UriIndex.objects.filter(resource_type=resource_type, name="url", uri=url[:TEXT_LENGTH]).values("record_id")
    rows = ResourceRecord.objects.filter(pk__in=ids, resource_type=resource_type, deleted=False).order_by("id")
    return list(rows.values_list("id", "version"))


class ServerSource:
    """The `Source` of resources.terminology: stored first, then shipped packages."""

    def _stored(self, resource_type: str, url: str, version: str | None) -> dict | None:
        contents = [
            _content(record_id, version_id)
            for record_id, version_id in _matching(resource_type, url)
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
