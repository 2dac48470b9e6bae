"""Every official R4 example of the core clinical types survives create -> read unchanged."""
import functools
import json
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

EXAMPLES = Path(
    os.environ.get("R4_EXAMPLES_DIR", Path(__file__).resolve().parents[2] / "var" / "hl7.fhir.r4.examples" / "package")
)
TYPES = ["Patient", "Observation", "DiagnosticReport", "Bundle", "Practitioner", "Organization", "Encounter",
         "Specimen", "DocumentReference", "Binary", "Provenance"]
# fhir.resources (R4B models) rejects `_valueString` on an extension inside this ValueSet Bundle, which
# R4 JSON allows. Listed so that any other rejection fails the test.
KNOWN_VALIDATOR_FALSE_POSITIVES = {"Bundle-v2-valuesets.json"}


@functools.lru_cache(maxsize=1)
def examples() -> tuple[Path, ...]:
    assert EXAMPLES.is_dir(), f"R4 examples missing at {EXAMPLES}: run `make install` (npm pack hl7.fhir.r4.examples)"
    found = []
    for resource_type in TYPES:
        for path in sorted(EXAMPLES.glob(f"{resource_type}-*.json")):
            if re.search(rf'"resourceType"\s*:\s*"{resource_type}"', path.read_text()[:300]):
                found.append(path)
    return tuple(found)


def test_examples_are_there():
    by_type = {t: [p for p in examples() if p.name.startswith(t + "-")] for t in TYPES}
    assert all(by_type.values()), [t for t, v in by_type.items() if not v]
    assert sum(len(v) for v in by_type.values()) > 150


def test_every_example_round_trips(fhir):
    rejected = set()
    for path in examples():
        original = json.loads(path.read_text())
        resource_type, id = original["resourceType"], original["id"]
        response = fhir.put(f"{resource_type}/{id}", original)
        if response.status_code == 400 and path.name in KNOWN_VALIDATOR_FALSE_POSITIVES:
            rejected.add(path.name)
            continue
        assert response.status_code == 201, (path.name, response.content[:500])
        stored = fhir.get(f"{resource_type}/{id}")
        assert stored.status_code == 200
        got = stored.json()
        meta = dict(original.get("meta") or {}, versionId="1", lastUpdated=got["meta"]["lastUpdated"])
        assert got == dict(original, meta=meta), path.name
    assert rejected == KNOWN_VALIDATOR_FALSE_POSITIVES
