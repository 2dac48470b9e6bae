"""A small, realistic demo data set: three patients with lab panels, as one transaction Bundle.

Fixed ids and PUT requests make loading idempotent: running `make run` again keeps what is stored
(an unchanged resource is not rewritten).
"""
from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LAB = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
            "display": "Laboratory",
        }
    ]
}
LAB_SERVICE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB", "display": "Laboratory"}]
}
MRN_SYSTEM = "http://hospital.example.org/mrn"

PATIENTS = [
    ("demo-ada", "MRN-100234", "Okafor", ["Ada"], "female", "1968-04-12"),
    ("demo-ben", "MRN-100871", "Lindqvist", ["Ben", "Erik"], "male", "1975-11-30"),
    ("demo-chen", "MRN-101502", "Chen", ["Mei"], "female", "1990-07-08"),
]

# (loinc, display, value, ucum, low, high)
CBC = ("58410-2", "CBC panel - Blood by Automated count", [
    ("718-7", "Hemoglobin [Mass/volume] in Blood", 13.1, "g/dL", 12.0, 15.5),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", 11.8, "10*3/uL", 4.0, 11.0),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", 245, "10*3/uL", 150, 400),
    ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", 39.2, "%", 36.0, 46.0),
])
BMP = ("51990-0", "Basic metabolic panel - Blood", [
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", 126, "mg/dL", 70, 99),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", 139, "mmol/L", 135, 145),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", 3.3, "mmol/L", 3.5, 5.1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 0.9, "mg/dL", 0.6, 1.2),
])
HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", [
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 6.8, "%", 4.0, 5.6),
])

REPORTS = [
    ("demo-ada", "2026-03-02T08:15:00Z", [CBC, BMP]),
    ("demo-ben", "2026-05-19T09:40:00Z", [BMP, HBA1C]),
    ("demo-chen", "2026-09-07T07:55:00Z", [CBC]),
]


def _interpretation(value: float, low: float, high: float) -> dict:
    code, display = ("H", "High") if value > high else ("L", "Low") if value < low else ("N", "Normal")
    return {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                "code": code,
                "display": display,
            }
        ]
    }


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def demo_bundle() -> dict:
    entries = []

    def put(resource: dict) -> None:
        entries.append({"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource,
                        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}})

    put({"resourceType": "Organization", "id": "demo-lab", "name": "Riverside Clinical Laboratory", "active": True})
    for pid, mrn, family, given, gender, birth in PATIENTS:
        put(
            {
                "resourceType": "Patient",
                "id": pid,
                "active": True,
                "identifier": [
                    {
                        "system": MRN_SYSTEM,
                        "value": mrn,
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    }
                ],
                "name": [{"use": "official", "family": family, "given": given}],
                "gender": gender,
                "birthDate": birth,
            }
        )
    for pid, when, panels in REPORTS:
        for panel_code, panel_name, tests in panels:
            report_id = f"{pid}-{panel_code}"
            results = []
            for loinc, display, value, unit, low, high in tests:
                obs_id = f"{report_id}-{loinc}"
                put({"resourceType": "Observation", "id": obs_id, "status": "final", "category": [LAB],
                     "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
                     "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when, "issued": when,
                     "performer": [{"reference": "Organization/demo-lab"}],
                     "valueQuantity": _quantity(value, unit), "interpretation": [_interpretation(value, low, high)],
                     "referenceRange": [{"low": _quantity(low, unit), "high": _quantity(high, unit)}]})
                results.append({"reference": f"Observation/{obs_id}"})
            put({"resourceType": "DiagnosticReport", "id": report_id, "status": "final", "category": [LAB_SERVICE, LAB],
                 "code": {"coding": [{"system": LOINC, "code": panel_code, "display": panel_name}], "text": panel_name},
                 "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when, "issued": when,
                 "performer": [{"reference": "Organization/demo-lab"}], "result": results})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
