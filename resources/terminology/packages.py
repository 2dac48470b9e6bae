"""The canonical resources this server ships (FHIR npm packages unpacked under var/ by `make install`):
HL7 Terminology (`hl7.terminology.r4`: v2 and v3 code systems, observation-category,
ObservationInterpretation...) first, then the R4 core definitions (`hl7.fhir.r4.examples`).

Packages carry thousands of files, so an index (type, url, version -> file) is built once and kept
beside them (`var/terminology-index.json`, rebuilt when a package folder changes); a file is parsed
only when it is asked for.

    python -m resources.terminology.packages    # build the index (make install does it)
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from resources.terminology.codesystem import CodeSystemView

BASE_DIR = Path(__file__).resolve().parents[2]
VAR = BASE_DIR / "var"
PACKAGES = ("hl7.terminology.r4", "hl7.fhir.r4.examples")  # earlier wins when both have a URL
TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
INDEX = VAR / "terminology-index.json"


def package_dirs() -> list[Path]:
    root = Path(os.environ.get("FHIR_PACKAGES_DIR") or VAR)
    return [root / name / "package" for name in PACKAGES if (root / name / "package").is_dir()]


def _stamp(dirs: list[Path]) -> list:
    return [[str(d), d.stat().st_mtime_ns] for d in dirs]


def build_index(dirs: list[Path] | None = None) -> dict:
    dirs = package_dirs() if dirs is None else dirs
    entries = []
    for rank, folder in enumerate(dirs):
        for path in sorted(folder.iterdir()):
            if not (path.suffix == ".json" and path.name.split("-", 1)[0] in TYPES):
                continue
            try:
                resource = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if resource.get("resourceType") in TYPES and resource.get("url"):
                entries.append([resource["resourceType"], resource["url"], resource.get("version"), rank, str(path)])
                if resource["resourceType"] == "CodeSystem" and resource.get("valueSet"):
                    entries.append(["ImplicitValueSet", resource["valueSet"], None, rank, resource["url"]])
    return {"stamp": _stamp(dirs), "entries": entries}


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], list[tuple[str | None, int, str]]]:
    dirs = package_dirs()
    data = None
    if INDEX.is_file():
        try:
            data = json.loads(INDEX.read_text())
        except ValueError:
            data = None
    if data is None or data.get("stamp") != _stamp(dirs):
        data = build_index(dirs)
        try:
            INDEX.write_text(json.dumps(data))
        except OSError:
            pass  # a read-only install still works, it only indexes again next start
    table: dict[tuple[str, str], list[tuple[str | None, int, str]]] = {}
    for resource_type, url, version, rank, path in data["entries"]:
        table.setdefault((resource_type, url), []).append((version, rank, path))
    for candidates in table.values():
        candidates.sort(key=lambda c: c[1])
    return table


@lru_cache(maxsize=512)
def _load(path: str) -> dict:
    return json.loads(Path(path).read_bytes())


def find(resource_type: str, url: str, version: str | None = None) -> dict | None:
    for found_version, _, path in _index().get((resource_type, url), []):
        if version is None or found_version == version:
            return _load(path)
    return None


def codesystem_for_valueset(valueset_url: str) -> str | None:
    """The code system whose `valueSet` is this URL (its implicit all-codes value set)."""
    for _, _, codesystem_url in _index().get(("ImplicitValueSet", valueset_url), []):
        return codesystem_url
    return None


def urls(resource_type: str) -> list[str]:
    return sorted(url for (kind, url) in _index() if kind == resource_type)


class PackageSource:
    """The terminology `Source` of shipped content alone (no database): what required-binding
    validation asks, since R4's required bindings name R4's own value sets."""

    def codesystem(self, url: str, version: str | None = None) -> CodeSystemView | None:
        found = find("CodeSystem", url, version)
        return _view(found["url"], found.get("version")) if found else None

    def valueset(self, url: str, version: str | None = None) -> dict | None:
        return find("ValueSet", url, version)

    def codesystem_for_valueset(self, url: str) -> str | None:
        return codesystem_for_valueset(url)


@lru_cache(maxsize=256)
def _view(url: str, version: str | None) -> CodeSystemView:
    return CodeSystemView(find("CodeSystem", url, version))


if __name__ == "__main__":
    index = build_index()
    INDEX.write_text(json.dumps(index))
    print(
        f"terminology index: {len(index['entries'])} canonical resources from {len(index['stamp'])} packages -> {INDEX}"
    )
