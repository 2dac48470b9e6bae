"""Small builders and readers shared by the search tests."""
from urllib.parse import quote

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def observation(loinc="718-7", *, patient="p1", value=None, unit="g/dL", date=None, kind="laboratory", **extra) -> dict:
    resource = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": kind}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if date is not None:
        resource["effectiveDateTime"] = date
    resource.update(extra)
    return resource


def search(fhir, url: str, status: int = 200, **headers) -> dict:
    response = fhir.get(url, **headers)
    assert response.status_code == status, response.content
    return response.json()


def ids(bundle: dict, mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def idset(fhir, url: str) -> set[str]:
    return set(ids(search(fhir, url)))


def q(value: str) -> str:
    return quote(value, safe="")
