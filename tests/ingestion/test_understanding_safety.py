"""The plain functions under issue 12's safety rules: plausibility reasons, the delta check, date order
by evidence, header labels as labs print them, report status. (Through HTTP: test_digitize_safety.py.)"""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from ingestion.fhir_mapping.delta import delta_reason
from ingestion.labreport import LabRow, ReferenceRange
from ingestion.terminology import lookup_loinc
from ingestion.understanding.dates import ambiguous, date_order, parse_date
from ingestion.understanding.header import LAB_WORDS, identifier_value, looks_like_org, match_label
from ingestion.understanding.plausibility import check_row, limits


def checked(**fields) -> LabRow:
    fields.setdefault("printed_value", str(fields.get("value", "")))
    fields.setdefault("printed_unit", fields.get("unit"))
    row = LabRow(printed_name=fields.pop("name", "x"), **fields)
    check_row(row, lookup_loinc)
    return row


@pytest.mark.parametrize("fields, words", [
    ({"loinc": "2345-7", "value": D("11211.6"), "unit": "mg/dL"}, "outside what Glucose"),
    ({"loinc": "2345-7", "value": D("11211.6"), "unit": None, "printed_unit": "mg/dL 70 - 99 g/dL"}, "not a UCUM"),
    ({"loinc": "2951-2", "value": D("141148"), "unit": "mmol/L"}, "outside what Sodium"),
    ({"loinc": "2160-0", "value": D("0.84265"), "unit": "mg/dL",
      "reference_range": ReferenceRange(low=D("0.60"), high=D("1.30"))}, "two cells"),
    ({"loinc": "2345-7", "value": D("5.4"), "unit": "mmol/L"}, "does not fit"),
    ({"loinc": "770-8", "value": D("140"), "unit": "%"}, "fraction"),
    ({"loinc": "2857-1", "value": D("4100"), "unit": "ng/mL",
      "reference_range": ReferenceRange(high=D("4.0"))}, "not on the scale"),
    ({"loinc": "2160-0", "value": D("82231"), "unit": "mg/dL", "printed_value": "82 231"}, "more than one number"),
    ({"loinc": "718-7", "value": D("14.2"), "unit": None, "printed_unit": None}, "no unit printed"),
    ({"loinc": None, "value": D("12"), "unit": "mg/dL", "name": "Zorbitol"}, "not one the terminology knows"),
    ({"loinc": "2823-3", "value": D("4.1"), "unit": "mmol/L", "flag": "H", "flag_disagrees": True}, "flag H"),
    # the right kind of unit with its prefix lost (umol/L read as mol/L), for a test with no limits on file
    ({"loinc": "14933-6", "value": D("350"), "unit": "mol/L"}, "a prefix (u, m, n) lost"),
    ({"loinc": "2345-7", "value": D("0.105"), "unit": "g/dL"}, "a prefix (u, m, n) lost"),
])
def test_an_implausible_row_gets_a_reason_and_a_low_confidence(fields, words):
    row = checked(**fields)
    assert any(words in reason for reason in row.review_reasons), row.review_reasons
    assert row.confidence <= 0.5 and row.needs_review


@pytest.mark.parametrize("fields", [
    {"loinc": "2345-7", "value": D("105"), "unit": "mg/dL", "reference_range": ReferenceRange(low=D(70), high=D(99))},
    {"loinc": "14749-6", "value": D("5.4"), "unit": "mmol/L"},
    {"loinc": "6690-2", "value": D("6.5"), "unit": "10*9/L"},  # converted to the limit's 10*3/uL
    {"loinc": "5803-2", "value": D("6.0"), "unit": None, "printed_unit": None},  # pH needs no unit
    {"loinc": "1988-5", "value": D("212"), "unit": "mg/L", "reference_range": ReferenceRange(high=D("5"))},
    {"loinc": "5811-5", "value": D("1.015"), "unit": None, "printed_unit": None,
     "reference_range": ReferenceRange(low=D("1.005"), high=D("1.030"))},
    {"loinc": "3016-3", "value": D("0.005"), "unit": "m[IU]/L", "reference_range": ReferenceRange(low=D("0.4"),
                                                                                                  high=D("4.0"))},
])
def test_a_plausible_row_is_left_alone(fields):
    row = checked(**fields, confidence=0.97)
    assert row.review_reasons == [] and row.confidence == 0.97


def test_every_limit_is_in_valid_ucum_with_low_below_high():
    from resources import ucum

    assert len(limits()) > 100
    for limit in limits().values():
        assert ucum.is_valid(limit.unit) and limit.low < limit.high, limit


def previous(value, day: str, unit="mmol/L") -> dict:
    return {"effectiveDateTime": day, "valueQuantity": {"value": value, "code": unit, "unit": unit}}


def test_the_delta_check_flags_only_what_biology_does_not_explain_in_the_time():
    sodium = LabRow(printed_name="Sodium", loinc="2951-2", value=D(124), unit="mmol/L", printed_value="124")
    assert "delta check" in delta_reason(sodium, "2026-04-17", [previous(141, "2026-04-16")])
    assert delta_reason(sodium, "2026-04-17", [previous(133, "2026-04-16")]) is None  # 9 mmol/L in a day
    assert delta_reason(sodium, "2026-04-17", [previous(141, "2026-03-01")]) is None  # too long ago to judge
    assert delta_reason(sodium, "2026-04-17", [previous(141, "2026-03-01"), previous(126, "2026-04-16")]) is None
    a1c = LabRow(printed_name="HbA1c", loinc="4548-4", value=D("9.8"), unit="%", printed_value="9.8")
    assert "within 60 days" in delta_reason(a1c, "2026-04-17", [previous(6.1, "2026-03-20", "%")])
    glucose_si = LabRow(printed_name="Glucose", loinc="2345-7", value=D(750), unit="mg/dL", printed_value="750")
    assert delta_reason(glucose_si, "2026-04-17T08:00:00", [previous(90, "2026-04-17T02:00:00", "mg/dL")])


@pytest.mark.parametrize("lines, day_first, decided", [
    (["DOB: 03/11/1958", "Collected: 17/04/2026"], True, True),
    (["DOB: 03/11/1958", "Collected: 04/17/2026"], False, True),
    (["DOB: 03/11/1958", "NHS No: 943 476 5919"], True, True),
    (["DOB: 03/11/1958", "Glucose 5.4 mmol/L 3.5-5.5"], True, True),
    (["DOB: 03/11/1958", "Haemoglobin 135 g/L"], True, True),
    (["DOB: 03/11/1958", "Glucose 98 mg/dL 70-99"], False, True),
    (["DOB: 03/11/1958", "Sodium 140 mmol/L"], False, False),
])
def test_date_order_comes_from_evidence_on_the_page(lines, day_first, decided):
    order = date_order(lines, decimal_comma=False)
    assert (order.day_first, order.decided) == (day_first, decided), order


def test_the_caller_decides_the_date_order_and_a_24_hour_time_is_read():
    assert date_order(["DOB: 03/11/1958"], False, "DMY").day_first
    assert parse_date("26/04/17", year_first=True) == "2026-04-17"
    assert parse_date("COLL: 04/17/2026 0605") == "2026-04-17T06:05:00"
    assert parse_date("04/17/2026 2405") == "2026-04-17"  # not a time
    assert ambiguous("03/11/1958") and not ambiguous("13/11/1958") and not ambiguous("1958-11-03")


@pytest.mark.parametrize("text, field, value", [
    ("COLL: 04/17/2026 0605", "collected", "04/17/2026 0605"),
    ("RCVD: 04/17/2026 0915", "received", "04/17/2026 0915"),
    ("ACCT: 5512093", "account", "5512093"),
    ("PT: DOE, JOHN", "name", "DOE, JOHN"),
    ("ORD MD: Chen, Sarah MD", "clinician", "Chen, Sarah MD"),
    ("REF DR: Patel", "clinician", "Patel"),
    ("SPEC: S26-1234", "specimen", "S26-1234"),
    ("NHS No: 943 476 5919", "identifier", "943 476 5919"),
    ("Performed at: Acme Reference Lab", "lab", "Acme Reference Lab"),
])
def test_header_labels_as_labs_print_them(text, field, value):
    assert match_label(text) == (field, value)


def test_identifiers_printed_in_groups_stay_whole_and_lab_names_are_evident():
    assert identifier_value("943 476 5919") == "9434765919"
    assert identifier_value("MRN4711 (hospital)") == "MRN4711"
    assert identifier_value("123456 67") == "123456"  # an MRN and an age, not one number
    for lab in ("Northside Clinical Laboratory", "Metro Diagnostics", "Synlab", "Royal Free Hospital Pathology",
                "Quest Diagnostics"):
        assert LAB_WORDS.search(lab), lab
    for text in ("Grandma's Apple Crumble", "Serves 6", "Dear colleague"):
        assert not LAB_WORDS.search(text) and not looks_like_org(text), text
    assert looks_like_org("Acme Testing Services Ltd")
