"""A review table row and back: cells shown for an Observation, and the Observation an edit makes."""
from __future__ import annotations

import pytest

from ingestion.fhir_mapping.codes import EXT_FLAG_DISAGREES, EXT_SOURCE_REGION
from review.corrections import CorrectionError, ResultCells, cells_of, corrected, row_of

GLUCOSE = {
    "resourceType": "Observation",
    "id": "g",
    "meta": {"versionId": "1", "lastUpdated": "2025-01-01T00:00:00Z"},
    "extension": [
        {"url": "http://hl7.org/fhir/uv/aitransparency/StructureDefinition/AIconfidence", "valueDecimal": 0.62},
        {
            "url": EXT_SOURCE_REGION,
            "extension": [
                {"url": "page", "valueInteger": 2},
                {"url": "x0", "valueDecimal": 10.0},
                {"url": "y0", "valueDecimal": 20.0},
                {"url": "x1", "valueDecimal": 300.0},
                {"url": "y1", "valueDecimal": 40.0},
            ],
        },
    ],
    "status": "preliminary",
    "code": {
        "text": "Glucose",
        "coding": [
            {"system": "http://loinc.org", "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"}
        ],
    },
    "valueQuantity": {"value": 73.0, "unit": "mg/dl", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    "referenceRange": [
        {
            "low": {"value": 70, "unit": "mg/dl", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "high": {"value": 99, "unit": "mg/dl", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "text": "70-99",
        }
    ],
    "specimen": {"display": "Serum"},
    "note": [{"text": "Fasting"}],
}


def test_cells_show_what_was_read_as_text():
    assert cells_of(GLUCOSE) == ResultCells(
        name="Glucose", loinc="2345-7", value="73.0", unit="mg/dl", range="70-99", flag=""
    )
    row = row_of(0, GLUCOSE)
    assert row.region.page == 2 and row.region.box == (10.0, 20.0, 300.0, 40.0)
    assert row.confidence == 0.62 and row.version == 1 and not row.flag_disagrees
    assert row.display.startswith("Glucose")


def test_unchanged_cells_make_no_new_version():
    assert corrected(GLUCOSE, cells_of(GLUCOSE)) is None
    assert (
        corrected(GLUCOSE, ResultCells(name=" Glucose ", loinc="2345-7", value="73.0", unit="mg/dl", range="70-99"))
        is None
    )


def test_a_corrected_value_replaces_only_the_value_and_keeps_the_rest():
    new = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="2345-7", value="173", unit="mg/dl", range="70-99"))
    assert new["valueQuantity"] == {
        "value": 173,
        "unit": "mg/dl",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert new["referenceRange"] == GLUCOSE["referenceRange"] and new["specimen"] == {"display": "Serum"}
    assert "versionId" not in new["meta"] and new["id"] == "g"
    # 173 against 70-99 with no flag printed: the disagreement is recorded, the person's flag is not invented
    assert {"url": EXT_FLAG_DISAGREES, "valueBoolean": True} in new["extension"]
    assert any(n["text"].startswith("Printed flag (") for n in new["note"]) and {"text": "Fasting"} in new["note"]
    assert "interpretation" not in new


def test_setting_the_flag_settles_the_disagreement():
    high = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="2345-7", value="173", unit="mg/dl", range="70-99"))
    settled = corrected(
        {**high, "meta": {"versionId": "2"}},
        ResultCells(name="Glucose", loinc="2345-7", value="173", unit="mg/dl", range="70-99", flag="H"),
    )
    assert settled["interpretation"][0]["coding"][0]["code"] == "H"
    assert all(e["url"] != EXT_FLAG_DISAGREES for e in settled["extension"])
    assert settled["note"] == [{"text": "Fasting"}]


def test_comparators_qualitative_and_empty_values():
    less = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="2345-7", value="<5", unit="mg/dl", range="70-99"))
    assert less["valueQuantity"]["comparator"] == "<" and less["valueQuantity"]["value"] == 5
    word = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="2345-7", value="Negative", unit="", range="Negative"))
    assert "valueQuantity" not in word and word["valueCodeableConcept"]["text"] == "Negative"
    assert word["referenceRange"] == [{"text": "Negative"}]
    absent = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="2345-7", value="", unit="mg/dl", range="70-99"))
    assert "valueQuantity" not in absent and absent["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_unit_and_code_corrections():
    si = corrected(GLUCOSE, ResultCells(name="Glucose", loinc="14749-6", value="4.1", unit="mmol/l", range="3.9-5.5"))
    assert si["code"]["coding"][0]["code"] == "14749-6" and si["code"]["text"] == "Glucose"
    assert si["valueQuantity"]["code"] == "mmol/L" and si["referenceRange"][0]["low"]["code"] == "mmol/L"
    uncoded = corrected(GLUCOSE, ResultCells(name="House special", loinc="", value="73", unit="mg/dl", range="70-99"))
    assert uncoded["code"] == {"text": "House special"}


@pytest.mark.parametrize("cells, message", [
    (ResultCells(name="Glucose", loinc="2345-7", value="7..3", unit="mg/dl"), "neither a number"),
    (ResultCells(name="Glucose", loinc="glucose", value="73", unit="mg/dl"), "not a LOINC code"),
    (ResultCells(name="", loinc="2345-7", value="73", unit="mg/dl"), "name cannot be empty"),
    (ResultCells(name="Glucose", loinc="2345-7", value="73", unit="mg/dl", flag="HIGH"), "not a flag"),
])
def test_cells_that_cannot_be_stored_are_refused_with_the_reason(cells, message):
    with pytest.raises(CorrectionError, match=message):
        corrected(GLUCOSE, cells)


def test_low_confidence_cells_from_words_or_else_the_row():
    from dataclasses import replace

    from review.selectors import cell_confidence, is_low_confidence_cell

    document = {
        "pages": [
            {
                "lines": [
                    {
                        "words": [
                            {"text": "Glucose", "box": [10, 20, 80, 40], "confidence": 0.98},
                            {"text": "7.3", "box": [200, 20, 230, 40], "confidence": 0.55},
                            {"text": "mg/dL", "box": [260, 20, 300, 40], "confidence": 0.97},
                            {"text": "7.3", "box": [200, 90, 230, 110], "confidence": 0.99},
                        ]
                    }
                ]
            }
        ]
    }
    printed = {
        "printed_name": "Glucose",
        "printed_value": "7.3",
        "printed_unit": "mg/dL",
        "reference_range": {"text": "70-99"},
    }
    row = row_of(0, GLUCOSE)  # its region is on page 2: no words there
    assert cell_confidence(document, printed, row.region) == {}
    on_page_1 = replace(row.region, page=1)
    assert cell_confidence(document, printed, on_page_1) == {
        "name": 0.98,
        "value": 0.55,
        "unit": 0.97,
    }  # the word below is another row
    read = replace(row, cell_confidence=cell_confidence(document, printed, on_page_1))
    assert [is_low_confidence_cell(read, c) for c in ("name", "value", "unit", "range")] == [False, True, False, False]
    # without word confidences, a low row marks its name and value
    assert [is_low_confidence_cell(row, c) for c in ("name", "value", "unit", "range")] == [True, True, False, False]
