"""ingestion.fhir_mapping: every resource validates (fhir.resources R4B) and says what the page said."""
import base64
import hashlib
import importlib
from decimal import Decimal as D

import pytest

from ingestion.fhir_mapping import (
    build_binary,
    build_document_reference,
    build_resources,
    expected_flag,
    flag_disagrees,
    transaction_entries,
)
from ingestion.fhir_mapping.patients import new_patient
from ingestion.labreport import LabReport, LabRow, PatientHeader, ReferenceRange, Region
from resources import decimals

AI_CONFIDENCE = "http://hl7.org/fhir/uv/aitransparency/StructureDefinition/AIconfidence"


def validate(resource: dict) -> None:
    kind = resource["resourceType"]
    getattr(importlib.import_module(f"fhir.resources.R4B.{kind.lower()}"), kind).model_validate(resource)


def row(**kw) -> LabRow:
    kw.setdefault("printed_name", "Glucose")
    return LabRow(**kw)


def glucose_high() -> LabRow:
    return row(loinc="2345-7", value=D("105"), printed_value="105 H", unit="mg/dL", printed_unit="mg/dl",
               reference_range=ReferenceRange(low=D("70"), high=D("99"), unit="mg/dL", text="70-99"), flag="H",
               confidence=0.93, region=Region(page=2, box=(10.0, 20.0, 300.5, 41.0)))


def report(*rows: LabRow, **kw) -> LabReport:
    kw.setdefault("collected", "2026-05-01T08:30:00Z")
    kw.setdefault("lab_name", "Acme Clinical Laboratory")
    return LabReport(patient=PatientHeader(name="Jane Doe", family="Doe", given=["Jane"], birth_date="1970-01-02",
                                           sex="female", identifier="MRN-1"), rows=list(rows), **kw)


def build(rep: LabReport, **kw) -> dict[str, list[dict]]:
    entries = build_resources(rep, patient_ref="Patient/p1", document_reference_ref="DocumentReference/d1",
                              binary_ref="Binary/b1", engine="paddleocr-onnx/PP-OCRv5_mobile",
                              issued="2026-05-02T09:00:00Z", media_type="application/pdf", **kw)
    for e in entries:
        assert e["fullUrl"].startswith("urn:uuid:")
        validate(e["resource"])
    out: dict[str, list[dict]] = {}
    for e in entries:
        out.setdefault(e["resource"]["resourceType"], []).append(e["resource"] | {"_fullUrl": e["fullUrl"]})
    return out


def plain(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "_fullUrl"}


def test_numeric_result_is_a_us_core_lab_observation():
    obs = plain(build(report(glucose_high()))["Observation"][0])
    assert obs["status"] == "preliminary"
    assert obs["category"][0]["coding"][0]["code"] == "laboratory"
    assert obs["code"] == {"text": "Glucose", "coding": [{"system": "http://loinc.org", "code": "2345-7",
                                                          "display": "Glucose [Mass/volume] in Serum or Plasma"}]}
    assert obs["valueQuantity"] == {
        "value": 105,
        "unit": "mg/dl",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert obs["interpretation"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H", "display": "High"}
    assert obs["referenceRange"][0]["low"]["value"] == 70 and obs["referenceRange"][0]["high"]["code"] == "mg/dL"
    assert obs["referenceRange"][0]["text"] == "70-99"
    assert obs["subject"] == {"reference": "Patient/p1"} and obs["derivedFrom"] == [
        {"reference": "DocumentReference/d1"}
    ]
    assert obs["effectiveDateTime"] == "2026-05-01T08:30:00Z" and obs["issued"] == "2026-05-02T09:00:00Z"
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST",
            "display": "Artificial Intelligence asserted"} in obs["meta"]["security"]
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]
    ext = {e["url"]: e for e in obs["extension"]}
    assert ext[AI_CONFIDENCE]["valueDecimal"] == 0.93
    region = next(e for url, e in ext.items() if url.endswith("digitize-source-region"))
    assert {e["url"]: e.get("valueInteger", e.get("valueDecimal")) for e in region["extension"]} == {
        "page": 2, "x0": 10.0, "y0": 20.0, "x1": 300.5, "y1": 41.0}
    assert "note" not in obs and not any(url.endswith("flag-disagrees") for url in ext)


def test_comparator_values_keep_their_comparator():
    egfr = row(printed_name="eGFR", loinc="98979-8", value=D("90"), comparator=">", printed_value=">90",
               unit="mL/min/{1.73_m2}", printed_unit="mL/min/1.73m2", reference_range=ReferenceRange(low=D("60")))
    crp = row(printed_name="CRP", loinc="1988-5", value=D("0.5"), comparator="<", unit="mg/L",
              reference_range=ReferenceRange(high=D("5"), text="<5"))
    obs = build(report(egfr, crp))["Observation"]
    assert obs[0]["valueQuantity"]["comparator"] == ">" and obs[0]["valueQuantity"]["value"] == 90
    assert obs[1]["valueQuantity"] == {"value": 0.5, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                                       "code": "mg/L", "comparator": "<"}
    assert obs[1]["referenceRange"][0] == {"high": {"value": 5, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                                                    "code": "mg/L"}, "text": "<5"}


def test_qualitative_results_are_coded_or_text():
    coded = row(printed_name="Protein", loinc="20454-5", value_text="NEGATIVE", printed_value="NEGATIVE",
                reference_range=ReferenceRange(text="Negative"))
    text = row(printed_name="Colour", loinc="5778-6", value_text="Pale yellow")
    obs = build(report(coded, text))["Observation"]
    assert obs[0]["valueCodeableConcept"] == {"coding": [{"system": "http://snomed.info/sct", "code": "260385009",
                                                          "display": "Negative"}], "text": "NEGATIVE"}
    assert obs[0]["referenceRange"] == [{"text": "Negative"}]
    assert obs[1]["valueString"] == "Pale yellow" and "valueQuantity" not in obs[1]


def test_unknown_test_keeps_printed_name_without_a_code():
    obs = build(report(row(printed_name="Zonulin", value=D("12"), unit="ng/mL")))["Observation"][0]
    assert obs["code"] == {"text": "Zonulin"}


def test_absent_value_has_a_data_absent_reason():
    obs = build(report(row(printed_name="Potassium", loinc="2823-3", printed_value="###", absent_reason="error")))
    o = obs["Observation"][0]
    assert o["dataAbsentReason"]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                                  "code": "error"}
    assert not any(k.startswith("value") for k in o)
    o2 = build(report(row(printed_name="Sodium", loinc="2951-2")))["Observation"][0]
    assert o2["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_uncoded_unit_stays_as_printed():
    obs = build(report(row(printed_name="Zonulin", value=D("3.5"), printed_unit="blips",
                           reference_range=ReferenceRange(low=D("1"), high=D("4.5")))))["Observation"][0]
    assert obs["valueQuantity"] == {"value": 3.5, "unit": "blips"}
    assert obs["referenceRange"][0] == {"low": {"value": 1, "unit": "blips"}, "high": {"value": 4.5, "unit": "blips"}}


def test_sex_specific_range_keeps_applies_to():
    hgb = row(printed_name="Hgb", loinc="718-7", value=D("14.2"), unit="g/dL",
              reference_range=ReferenceRange(low=D("13.5"), high=D("17.5"), unit="g/dL", applies_to="male",
                                             text="M: 13.5-17.5"))
    rr = build(report(hgb))["Observation"][0]["referenceRange"][0]
    assert rr["appliesTo"] == [{"text": "male", "coding": [{"system": "http://snomed.info/sct", "code": "248153007",
                                                            "display": "Male"}]}]
    assert rr["text"] == "M: 13.5-17.5"


def test_flag_that_contradicts_value_is_kept_and_marked():
    wrong = row(printed_name="Hgb", loinc="718-7", value=D("14.2"), printed_value="14.2", unit="g/dL", flag="L",
                reference_range=ReferenceRange(low=D("13.5"), high=D("17.5"), unit="g/dL"))
    obs = build(report(wrong))["Observation"][0]
    assert obs["interpretation"][0]["coding"][0]["code"] == "L"  # printed flag kept, not overwritten
    assert any(e["url"].endswith("digitize-flag-disagrees") and e["valueBoolean"] for e in obs["extension"])
    assert "disagrees" in obs["note"][0]["text"] and "expected N" in obs["note"][0]["text"]


@pytest.mark.parametrize("value,comparator,low,high,flag,expected,disagrees", [
    ("105", None, "70", "99", "H", "H", False),
    ("105", None, "70", "99", "HH", "H", False),
    ("60", None, "70", "99", "L", "L", False),
    ("80", None, "70", "99", None, "N", False),
    ("80", None, "70", "99", "H", "N", True),
    ("120", None, "70", "99", None, "H", True),  # out of range and no flag printed
    ("80", None, "70", "99", "A", "N", True),
    ("5", "<", "0", "10", None, "N", False),
    ("5", "<", "6", "10", "L", "L", False),
    ("90", ">", "60", None, None, "N", False),
    ("90", ">", None, "60", "H", "H", False),
    ("5", "<", "5", "10", "L", None, False),  # "<5" against 5-10 cannot be judged
])
def test_expected_flag(value, comparator, low, high, flag, expected, disagrees):
    r = row(value=D(value), comparator=comparator, flag=flag, unit="mg/dL",
            reference_range=ReferenceRange(low=D(low) if low else None, high=D(high) if high else None))
    assert expected_flag(r) == expected
    assert flag_disagrees(r) is disagrees


@pytest.mark.parametrize("value,range_text,flag,expected,disagrees", [
    ("Negative", "Negative", None, "N", False),
    ("Positive", "Negative", "A", "A", False),
    ("2+", "Negative", "H", "A", False),
    ("Trace", "Nil", None, "A", True),  # positive against a negative range, no flag printed
    ("Negative", "Negative", "A", "N", True),
    ("Yellow", "Pale yellow", None, None, False),  # not comparable: no judgement
])
def test_qualitative_result_checked_against_negative_range(value, range_text, flag, expected, disagrees):
    r = row(printed_name="Protein", value_text=value, flag=flag, reference_range=ReferenceRange(text=range_text))
    assert expected_flag(r) == expected
    assert flag_disagrees(r) is disagrees


def test_range_in_another_unit_is_converted_before_checking():
    r = row(
        value=D("13.0"), unit="g/dL", flag="L", reference_range=ReferenceRange(low=D("135"), high=D("175"), unit="g/L")
    )
    assert expected_flag(r) == "L" and not flag_disagrees(r)


def test_diagnostic_report_gets_panel_code_results_and_presented_form():
    cbc = [("WBC", "6690-2", "10*3/uL"), ("RBC", "789-8", "10*6/uL"), ("Hgb", "718-7", "g/dL"),
           ("Hct", "4544-3", "%"), ("MCV", "787-2", "fL"), ("MCH", "785-6", "pg"), ("MCHC", "786-4", "g/dL"),
           ("Plt", "777-3", "10*3/uL")]
    rows = [row(printed_name=n, loinc=c, value=D("5"), unit=u, panel="COMPLETE BLOOD COUNT") for n, c, u in cbc]
    out = build(report(*rows))
    dr = out["DiagnosticReport"][0]
    assert dr["code"]["coding"][0]["code"] == "58410-2" and dr["code"]["text"] == "COMPLETE BLOOD COUNT"
    assert dr["status"] == "preliminary" and dr["issued"] == "2026-05-02T09:00:00Z"
    codes = {c["coding"][0]["code"] for c in dr["category"]}
    assert {"LAB", "laboratory"} <= codes
    assert [r["reference"] for r in dr["result"]] == [o["_fullUrl"] for o in out["Observation"]]
    assert dr["presentedForm"] == [
        {"url": "Binary/b1", "title": "Original lab report", "contentType": "application/pdf"}
    ]
    org = out["Organization"][0]
    assert org["name"] == "Acme Clinical Laboratory" and dr["performer"] == [{"reference": org["_fullUrl"]}]
    assert dr["effectiveDateTime"] == "2026-05-01T08:30:00Z"


def test_mixed_report_is_a_laboratory_report():
    out = build(report(glucose_high(), row(printed_name="TSH", loinc="3016-3", value=D("2"), unit="m[IU]/L")))
    assert out["DiagnosticReport"][0]["code"]["coding"][0]["code"] == "11502-2"


def test_provenance_targets_everything_from_the_document():
    out = build(report(glucose_high()))
    prov, device = out["Provenance"][0], out["Device"][0]
    targets = {t["reference"] for t in prov["target"]}
    expected = {r["_fullUrl"] for kind in ("Observation", "DiagnosticReport", "Organization") for r in out[kind]}
    assert targets == expected
    assert prov["entity"] == [{"role": "source", "what": {"reference": "DocumentReference/d1"}}]
    assert prov["activity"]["coding"][0]["code"] == "transform"
    assert {a["type"]["coding"][0]["code"] for a in prov["agent"]} == {"transformer", "assembler"}
    assert all(a["who"]["reference"] == device["_fullUrl"] for a in prov["agent"])
    assert any(n["name"] == "paddleocr-onnx/PP-OCRv5_mobile" for n in device["deviceName"])


def test_time_without_zone_is_kept_to_its_date():
    out = build(report(glucose_high(), collected="2026-05-01T08:30"))
    assert out["Observation"][0]["effectiveDateTime"] == "2026-05-01"


def test_no_printed_date_is_an_absent_effective_not_an_invented_one():
    out = build(report(glucose_high(), collected=None, reported=None))
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    for resource in (out["Observation"][0], out["DiagnosticReport"][0]):
        assert "effectiveDateTime" not in resource and resource["_effectiveDateTime"] == absent


def test_the_original_is_a_binary_and_a_document_reference_with_its_hash():
    content = b"%PDF-1.4 a lab report"
    binary = build_binary(content, "application/pdf")
    doc = build_document_reference(content, "application/pdf", binary_ref="urn:uuid:b", subject_ref="Patient/1",
                                   date="2026-05-02T09:00:00Z", title="report.pdf")
    for resource in (binary, doc):
        validate(resource)
    assert base64.b64decode(binary["data"]) == content and binary["contentType"] == "application/pdf"
    attachment = doc["content"][0]["attachment"]
    assert doc["type"]["coding"][0]["code"] == "11502-2" and doc["subject"] == {"reference": "Patient/1"}
    assert attachment["url"] == "urn:uuid:b" and attachment["title"] == "report.pdf"
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(content).digest()).decode()
    assert attachment["size"] == len(content)


def test_a_new_patient_is_made_from_the_header(db):
    patient = new_patient(report(glucose_high()).patient)
    validate(patient)
    assert patient["name"][0]["family"] == "Doe" and patient["birthDate"] == "1970-01-02"
    assert patient["identifier"][0]["value"] == "MRN-1"


def test_transaction_entries_adapts_the_digitize_context():
    class Context:
        subject, document_reference, binary = "Patient/9", "DocumentReference/7", "Binary/8"
        media_type, engine, encounter, performer, categories = (
            "image/jpeg",
            "ocr",
            "Encounter/3",
            "Practitioner/4",
            ["CH"],
        )

    entries = transaction_entries(report(glucose_high()), Context())
    resources = {e["resource"]["resourceType"]: e["resource"] for e in entries}
    for r in resources.values():
        validate(r)
    dr = resources["DiagnosticReport"]
    assert dr["encounter"] == {"reference": "Encounter/3"} and {"reference": "Practitioner/4"} in dr["performer"]
    assert "CH" in {c["coding"][0]["code"] for c in dr["category"]}
    assert resources["Observation"]["subject"] == {"reference": "Patient/9"}


def test_printed_precision_is_kept_through_storage_and_http(db, fhir):
    """issue 16: a lab that printed 0.50 reported two decimal places; the stored Observation says 0.50."""
    creatinine = row(printed_name="Creatinine", loinc="2160-0", value=D("0.50"), printed_value="0.50",
                     unit="mg/dL", printed_unit="mg/dL", confidence=0.97,
                     reference_range=ReferenceRange(low=D("0.60"), high=D("1.10"), unit="mg/dL", text="0.60-1.10"))
    tiny = row(printed_name="Troponin I", loinc="10839-9", value=D("0.000000001"), printed_value="0.000000001",
               unit="ng/mL", printed_unit="ng/mL", confidence=0.97)
    whole = row(loinc="2345-7", value=D("105"), printed_value="105", unit="mg/dL", printed_unit="mg/dL",
                confidence=0.97)
    observations = build(report(creatinine, tiny, whole))["Observation"]
    for obs in observations:
        obs = plain(obs)
        obs["subject"] = {"reference": "Patient/p1"}
        obs.pop("derivedFrom", None)
        obs.pop("specimen", None)
        obs["id"] = f"prec-{obs['code']['coding'][0]['code']}"
        sent = decimals.dumps(obs)  # the text $digitize's storing step writes
        assert '"value":0.5,' not in sent
        assert fhir.put(f"Observation/{obs['id']}", sent).status_code == 201
    text = fhir.get("Observation/prec-2160-0").content.decode()
    assert '"value":0.50,' in text and '"value":0.60,' in text and '"value":1.10,' in text
    assert '"value":0.000000001,' in fhir.get("Observation/prec-10839-9").content.decode()
    assert '"value":105,' in fhir.get("Observation/prec-2345-7").content.decode()
