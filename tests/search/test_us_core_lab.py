"""The US Core lab search combinations an Inferno-style probe runs, each result checked to match."""

import pytest

from fhirserver.search.values import date_range

from .helpers import CATEGORY, LOINC, UCUM, q, search

V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATES = ["2025-11-03T08:15:00Z", "2026-01-15T09:00:00-05:00", "2026-02-28", "2026-03-01T00:00:00Z"]


@pytest.fixture
def lab_data(store):
    for pid in ("85", "86"):
        store(
            {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:mrn", "value": pid}],
                "name": [{"family": "Lab"}],
            },
            id=pid,
        )
    n = 0
    for pid in ("85", "86"):
        for i, when in enumerate(DATES):
            code = ("718-7", "2345-7")[i % 2]
            status = ("final", "amended", "preliminary")[i % 3]
            obs_id = f"obs{n}"
            store(
                {
                    "resourceType": "Observation",
                    "status": status,
                    "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "effectiveDateTime": when,
                    "valueQuantity": {"value": 10 + i, "unit": "g/dL", "system": UCUM, "code": "g/dL"},
                },
                id=obs_id,
            )
            store(
                {
                    "resourceType": "DiagnosticReport",
                    "status": status,
                    "category": [{"coding": [{"system": V2_0074, "code": "LAB"}]}],
                    "code": {"coding": [{"system": LOINC, "code": ("58410-2", "51990-0")[i % 2]}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "effectiveDateTime": when,
                    "issued": "2026-03-02T00:00:00Z",
                    "result": [{"reference": f"Observation/{obs_id}"}],
                },
                id=f"dr{n}",
            )
            store(
                {
                    "resourceType": "Provenance",
                    "target": [{"reference": f"Observation/{obs_id}"}],
                    "recorded": "2026-03-02T00:00:00Z",
                    "agent": [{"who": {"reference": "Patient/85"}}],
                },
                id=f"prov{n}",
            )
            n += 1
    # a superseded and a deleted version must never match
    store(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
            "subject": {"reference": "Patient/85"},
            "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        },
        id="obs0",
    )


def _when(resource):
    return date_range(resource.get("effectiveDateTime", ""))


def _in_range(resource, prefix, value):
    low, high = _when(resource)
    slow, shigh = date_range(value)
    return {"gt": high > shigh, "lt": low < slow, "ge": high > shigh or (low >= slow and high <= shigh),
            "le": low < slow or (low >= slow and high <= shigh), "eq": low >= slow and high <= shigh}[prefix]


def _codes(concept):
    return {(c.get("system"), c.get("code")) for c in concept.get("coding", [])} if concept else set()


def _check(fhir, url, predicate, expect_some=True):
    bundle = search(fhir, url)
    matches = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
    assert all(predicate(r) for r in matches), url
    if expect_some:
        assert matches, url
    return matches


@pytest.mark.parametrize("patient", ["85", "Patient/85"])
def test_observation_combinations(lab_data, fhir, patient):
    subject = lambda r: r["subject"]["reference"] == "Patient/85"  # noqa: E731
    lab = lambda r: (CATEGORY, "laboratory") in {c for cat in r.get("category", []) for c in _codes(cat)}  # noqa: E731
    found = _check(fhir, f"Observation?patient={q(patient)}&category=laboratory", lambda r: subject(r) and lab(r))
    assert "obs0" not in {r["id"] for r in found}  # its current version is a vital sign
    _check(
        fhir,
        f"Observation?patient={q(patient)}&category={q(CATEGORY + '|laboratory')}",
        lambda r: subject(r) and lab(r),
    )
    _check(
        fhir,
        f"Observation?patient={q(patient)}&code={q(LOINC + '|2345-7')}",
        lambda r: subject(r) and (LOINC, "2345-7") in _codes(r["code"]),
    )
    _check(fhir, f"Observation?patient={q(patient)}&code=718-7,2345-7", lambda r: subject(r))
    for prefix in ("gt", "lt", "ge", "le", "eq"):
        for value in ("2026-01-15", "2026-02", "2026"):
            url = f"Observation?patient={q(patient)}&category=laboratory&date={prefix}{value}"
            got = {
                r["id"]
                for r in _check(
                    fhir, url, lambda r: subject(r) and lab(r) and _in_range(r, prefix, value), expect_some=False
                )
            }
            expected = {
                f"obs{i}" for i, when in enumerate(DATES) if i and _in_range({"effectiveDateTime": when}, prefix, value)
            }
            assert got == expected, url
    _check(fhir, f"Observation?patient={q(patient)}&category=laboratory&status=final,amended",
           lambda r: subject(r) and r["status"] in ("final", "amended"))
    _check(fhir, f"Observation?patient={q(patient)}&code=2345-7&date=ge2026-01-01",
           lambda r: subject(r) and _in_range(r, "ge", "2026-01-01"))


def test_diagnostic_report_combinations_and_revinclude(lab_data, fhir):
    subject = lambda r: r["subject"]["reference"] == "Patient/86"  # noqa: E731
    _check(fhir, "DiagnosticReport?patient=86&category=LAB", subject)
    _check(
        fhir,
        f"DiagnosticReport?patient=86&code={q(LOINC + '|58410-2')}",
        lambda r: subject(r) and (LOINC, "58410-2") in _codes(r["code"]),
    )
    _check(
        fhir,
        "DiagnosticReport?patient=86&category=LAB&date=ge2026-01-01",
        lambda r: subject(r) and _in_range(r, "ge", "2026-01-01"),
    )
    _check(
        fhir, "DiagnosticReport?patient=86&status=preliminary", lambda r: subject(r) and r["status"] == "preliminary"
    )
    _check(
        fhir,
        "DiagnosticReport?patient=86&code=51990-0&date=lt2026-02",
        lambda r: subject(r) and _in_range(r, "lt", "2026-02"),
    )
    bundle = search(fhir, "Observation?_id=obs1&_revinclude=Provenance:target")
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["obs1", "prov1"]
    both = search(fhir, "DiagnosticReport?patient=86&_include=DiagnosticReport:result&_count=2")
    included = [e["resource"] for e in both["entry"] if e["search"]["mode"] == "include"]
    assert len(included) == 2 and all(r["resourceType"] == "Observation" for r in included)
    assert both["total"] == 4
