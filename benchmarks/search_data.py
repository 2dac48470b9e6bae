"""Synthetic lab data for the search benchmark: patients, lab panels (DiagnosticReport + 10 Observations).

Deterministic from the patient number, so the benchmark knows what it loaded without asking the server.
"""
from __future__ import annotations

import os
import random
import uuid
from urllib.parse import urlparse


def bench_database_url() -> str:
    """The search benchmark's own PostgreSQL database (a million rows must not land in the test or
    REST-benchmark database): SEARCH_BENCH_DATABASE_URL, else DATABASE_URL's server with db search_bench."""
    explicit = os.environ.get("SEARCH_BENCH_DATABASE_URL")
    if explicit:
        return explicit
    base = urlparse(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test")
    return base._replace(path="/search_bench").geturl()


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
MRN = "urn:bench:mrn"

# (LOINC, display, UCUM unit, low, high): 20 common lab tests
TESTS = [
    ("718-7", "Hemoglobin", "g/dL", 10, 18),
    ("2345-7", "Glucose", "mg/dL", 60, 200),
    ("2160-0", "Creatinine", "mg/dL", 0.5, 2.0),
    ("6690-2", "Leukocytes", "10*3/uL", 3, 15),
    ("789-8", "Erythrocytes", "10*6/uL", 3.5, 6),
    ("4544-3", "Hematocrit", "%", 30, 55),
    ("777-3", "Platelets", "10*3/uL", 100, 450),
    ("2951-2", "Sodium", "mmol/L", 130, 150),
    ("2823-3", "Potassium", "mmol/L", 3, 6),
    ("2075-0", "Chloride", "mmol/L", 95, 110),
    ("2028-9", "Carbon dioxide", "mmol/L", 20, 32),
    ("3094-0", "Urea nitrogen", "mg/dL", 5, 30),
    ("17861-6", "Calcium", "mg/dL", 8, 11),
    ("1742-6", "ALT", "U/L", 5, 80),
    ("1920-8", "AST", "U/L", 5, 80),
    ("2093-3", "Cholesterol", "mg/dL", 120, 300),
    ("2571-8", "Triglyceride", "mg/dL", 50, 400),
    ("2085-9", "HDL", "mg/dL", 25, 90),
    ("4548-4", "Hemoglobin A1c", "%", 4, 12),
    ("1751-7", "Albumin", "g/dL", 3, 5.5),
]
PANELS = [("58410-2", "CBC panel", TESTS[0:10]), ("51990-0", "Basic metabolic panel", TESTS[10:20])]


def patient_id(n: int) -> str:
    return f"sp-{n}"


def patient(n: int) -> dict:
    rng = random.Random(n)
    return {
        "resourceType": "Patient",
        "id": patient_id(n),
        "identifier": [{"system": MRN, "value": str(n)}],
        "name": [{"family": f"Family{n}", "given": [rng.choice(["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farid"])]}],
        "gender": rng.choice(["female", "male"]),
        "birthDate": f"{1940 + n % 60}-0{1 + n % 9}-1{n % 10}",
    }


def patients_bundle(first: int, count: int) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(n), "request": {"method": "PUT", "url": f"Patient/{patient_id(n)}"}}
            for n in range(first, first + count)
        ],
    }


def panels_bundle(n: int, panels: int, per_panel: int = 10) -> dict:
    """`panels` lab panels of patient n: a DiagnosticReport with `per_panel` Observations each."""
    rng = random.Random(1_000_003 * n)
    entries = []
    for p in range(panels):
        code, display, tests = PANELS[p % len(PANELS)]
        day = rng.randrange(0, 900)  # 2024-01-01 .. mid 2026
        date = f"{2024 + day // 365}-{1 + (day % 365) // 31:02d}-{1 + (day % 365) % 28:02d}"
        when = f"{date}T{8 + p % 10:02d}:{rng.randrange(60):02d}:00Z"
        urls = []
        for loinc, name, unit, low, high in (tests * 2)[:per_panel]:
            url = f"urn:uuid:{uuid.uuid4()}"
            urls.append(url)
            value = round(rng.uniform(low, high), 1)
            entries.append({"fullUrl": url, "request": {"method": "POST", "url": "Observation"}, "resource": {
                "resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
                "code": {"coding": [{"system": LOINC, "code": loinc, "display": name}], "text": name},
                "subject": {"reference": f"Patient/{patient_id(n)}"}, "effectiveDateTime": when, "issued": when,
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
                "referenceRange": [{"low": {"value": low, "unit": unit, "system": UCUM, "code": unit},
                                    "high": {"value": high, "unit": unit, "system": UCUM, "code": unit}}]}})
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "request": {"method": "POST", "url": "DiagnosticReport"},
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "category": [{"coding": [{"system": V2_0074, "code": "LAB"}]}],
                    "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                    "subject": {"reference": f"Patient/{patient_id(n)}"},
                    "effectiveDateTime": when,
                    "issued": when,
                    "result": [{"reference": u} for u in urls],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
