"""Understanding on hand-built pages: tricky rows, flags in every form, header wordings, dates.

Pages are built word by word with boxes (as a reader would deliver them), so each test states the
layout it exercises in a few lines.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion.document import Document, Line, Page, Word
from ingestion.understanding import understand
from ingestion.understanding.dates import parse_date
from ingestion.understanding.values import NumberStyle, parse_number, parse_range, parse_value

CHAR = 5.0  # width of a character at the 10-unit text height used here
H = 10.0


def page(rows: list[tuple[float, list[tuple[float, str]]]], number: int = 1, confidence: float = 1.0) -> Page:
    """rows: (y, [(x, text), ...]); each text becomes one line with a word box per space-separated word."""
    lines = []
    for y, cells in rows:
        for x, text in cells:
            words, cx = [], x
            for part in text.split(" "):
                words.append(Word(part, (cx, y, cx + CHAR * len(part), y + H), confidence))
                cx += CHAR * (len(part) + 1)
            lines.append(Line(text, (x, y, cx - CHAR, y + H), confidence, words))
    return Page(number=number, width=600, height=800, source="ocr", lines=lines)


def table(header: list[str], body: list[list[str]], xs: list[float], *, top: float = 200, pitch: float = 18,
          preamble: list[tuple[float, list[tuple[float, str]]]] = ()) -> Document:
    rows = list(preamble) + [(top, [(x, t) for x, t in zip(xs, header) if t])]
    for i, cells in enumerate(body, 1):
        rows.append((top + i * pitch, [(x, t) for x, t in zip(xs, cells) if t]))
    return Document(media_type="image/png", pages=[page(rows)])


XS = [40, 220, 300, 380, 500]
FEMALE = [(60, [(40, "Patient: DOE, JANE"), (300, "Sex: F")])]


def rows_by_name(doc: Document, **kw):
    return {r.printed_name: r for r in understand(doc, **kw).rows}


def test_columns_in_any_order_with_flag_column():
    doc = table(["Flag", "Units", "Test Name", "Reference Range", "Result"],
                [["H", "g/dL", "Hemoglobin", "13.5-17.5", "18.2"], ["", "mg/dL", "Glucose", "70-99", "85"]],
                [40, 80, 160, 320, 480])
    rows = rows_by_name(doc)
    hb = rows["Hemoglobin"]
    assert (hb.value, hb.unit, hb.flag, hb.reference_range.low, hb.reference_range.high) == (
        Decimal("18.2"), "g/dL", "H", Decimal("13.5"), Decimal("17.5"))
    assert hb.loinc == "718-7" and rows["Glucose"].loinc == "2345-7"
    assert rows["Glucose"].flag is None


@pytest.mark.parametrize("printed, value, flag", [
    ("14.2 H", "14.2", "H"), ("14.2 (H)", "14.2", "H"), ("14.2 *H", "14.2", "H"), ("14.2 HIGH", "14.2", "H"),
    ("3.1 L", "3.1", "L"), ("3.1 ↓", "3.1", "L"), ("↑ 19.0", "19.0", "H"), ("21.0 HH", "21.0", "HH"),
    ("6.0 CRIT LOW", "6.0", "LL"), ("14.2", "14.2", None),
])
def test_flag_printed_in_the_value_cell(printed, value, flag):
    doc = table(["Test", "Result", "Units", "Reference Range"], [["Hemoglobin", printed, "g/dL", "13.5-17.5"]], XS)
    row = understand(doc).rows[0]
    assert (row.value, row.flag) == (Decimal(value), flag)


def test_arrow_in_an_untitled_column_is_a_flag():
    doc = table(["Analyte", "Result", "", "Unit", "Normal Values"],
                [["Potassium", "6.1", "↑", "mmol/L", "3.5 – 5.1"], ["Sodium", "140", "", "mmol/L", "136 – 145"]],
                [40, 220, 270, 300, 400])
    rows = rows_by_name(doc)
    assert rows["Potassium"].flag == "H" and rows["Potassium"].unit == "mmol/L"
    assert rows["Sodium"].flag is None and rows["Sodium"].reference_range.low == Decimal(136)


def test_placement_in_out_of_range_column_is_a_flag():
    doc = table(["Test", "In Range", "Out Of Range", "Reference Range", "Units"],
                [["Glucose", "", "142", "70-99", "mg/dL"], ["Sodium", "140", "", "136-145", "mmol/L"],
                 ["Potassium", "", "3.1", "3.5-5.1", "mmol/L"]], XS)
    rows = rows_by_name(doc)
    assert rows["Glucose"].flag == "H" and rows["Potassium"].flag == "L" and rows["Sodium"].flag is None
    assert rows["Glucose"].value == Decimal(142)


def test_no_flag_printed_means_none_and_a_wrong_flag_is_marked_not_fixed():
    doc = table(["Test", "Result", "Flag", "Units", "Reference Range"],
                [["Glucose", "250", "", "mg/dL", "70-99"], ["Sodium", "140", "H", "mmol/L", "136-145"]], XS)
    report = understand(doc)
    rows = {r.printed_name: r for r in report.rows}
    assert rows["Glucose"].flag is None and not rows["Glucose"].flag_disagrees
    assert rows["Sodium"].flag == "H" and rows["Sodium"].flag_disagrees
    assert any("Sodium" in w for w in report.warnings)


def test_decimal_comma_document_and_thousands_separators():
    eu = table(["Analyte", "Result", "Unit", "Reference"],
               [["Glucose", "5,4", "mmol/L", "3,9 - 5,5"], ["Creatinine", "1.250", "µmol/L", "62 - 106"],
                ["Hemoglobin", "128", "g/L", "120 - 155"]], XS)
    rows = rows_by_name(eu)
    assert rows["Glucose"].value == Decimal("5.4") and rows["Glucose"].reference_range.high == Decimal("5.5")
    assert rows["Creatinine"].value == Decimal(1250) and rows["Creatinine"].flag is None
    us = table(["Test", "Result", "Units", "Reference Range"],
               [["Vitamin B12", "1,250", "pg/mL", "200-900"], ["TSH", "2.15", "uIU/mL", "0.40-4.00"]], XS)
    rows = rows_by_name(us)
    assert rows["Vitamin B12"].value == Decimal(1250) and rows["TSH"].value == Decimal("2.15")
    assert rows["TSH"].unit == "m[IU]/L"


def test_comparator_values_and_one_sided_ranges():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["CRP", "<0.5", "mg/L", "< 5.0"], ["eGFR", ">90", "mL/min/1.73m2", ">=60"],
                 ["HbA1c", "5.9", "%", "<=5.6"], ["HDL Cholesterol", "38", "mg/dL", "> 40"]], XS)
    rows = rows_by_name(doc)
    assert (rows["CRP"].comparator, rows["CRP"].value, rows["CRP"].reference_range.high) == (
        "<",
        Decimal("0.5"),
        Decimal(5),
    )
    assert (rows["eGFR"].comparator, rows["eGFR"].value, rows["eGFR"].reference_range.low) == (
        ">",
        Decimal(90),
        Decimal(60),
    )
    assert rows["eGFR"].unit == "mL/min/{1.73_m2}"
    assert rows["HbA1c"].reference_range.high == Decimal("5.6") and rows["HbA1c"].reference_range.low is None
    assert rows["HDL Cholesterol"].reference_range.low == Decimal(40)
    assert all(r.flag is None for r in rows.values())  # nothing printed, nothing invented


def test_qualitative_results_and_text_ranges():
    doc = table(["Test", "Result", "Reference", "Units"],
                [["URINALYSIS", "", "", ""], ["Color", "Yellow", "", ""], ["Protein", "1+", "Negative", ""],
                 ["Glucose", "Negative", "Negative", ""], ["Ketones", "Trace", "Negative", ""],
                 ["Specific Gravity", "1.015", "1.005-1.030", ""]], XS)
    rows = rows_by_name(doc)
    assert rows["Color"].value_text == "Yellow" and rows["Color"].loinc == "5778-6"
    assert rows["Protein"].value_text == "1+" and rows["Protein"].reference_range.text == "Negative"
    assert rows["Glucose"].loinc == "25428-4"  # the urine strip test, from the panel heading
    assert rows["Ketones"].value_text == "Trace" and rows["Specific Gravity"].value == Decimal("1.015")
    assert all(r.panel == "URINALYSIS" for r in rows.values())


def test_sex_specific_ranges_are_kept_and_the_patients_own_applies():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["Hemoglobin", "12.8", "g/dL", "M: 13.5-17.5 F: 12.0-15.5"]], XS, preamble=FEMALE)
    row = understand(doc).rows[0]
    rr = row.reference_range
    assert (rr.low, rr.high, rr.applies_to) == (Decimal("12.0"), Decimal("15.5"), "female")
    assert rr.text == "M: 13.5-17.5 F: 12.0-15.5" and row.flag is None and not row.flag_disagrees


def test_unknown_test_keeps_its_name_and_gets_no_code():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["Zorbamycin Level", "4.2", "ug/mL", "2.0-8.0"], ["Sodium", "140", "mmol/L", "136-145"]], XS)
    rows = rows_by_name(doc)
    assert rows["Zorbamycin Level"].loinc is None and rows["Zorbamycin Level"].value == Decimal("4.2")
    assert rows["Sodium"].loinc == "2951-2"


def test_unreadable_value_is_absent_never_guessed():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["Hemoglobin", "1#.?", "g/dL", "13.5-17.5"], ["Platelets", "", "K/uL", "150-400"]], XS)
    rows = rows_by_name(doc)
    assert rows["Hemoglobin"].value is None and rows["Hemoglobin"].absent_reason == "error"
    assert rows["Platelets"].value is None and rows["Platelets"].absent_reason == "unknown"
    assert rows["Platelets"].unit == "10*3/uL"


def test_panel_headings_comments_and_wrapped_ranges():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["LIPID PANEL", "", "", ""], ["LDL Cholesterol", "132", "mg/dL", "<100"],
                 ["   Method: calculated (Friedewald equation).", "", "", ""],
                 ["COMPLETE BLOOD COUNT", "", "", ""], ["Hemoglobin", "14.1", "g/dL", "M: 13.5-17.5"],
                 ["", "", "", "F: 12.0-15.5"]], XS)
    rows = rows_by_name(doc)
    assert set(rows) == {"LDL Cholesterol", "Hemoglobin"}
    assert rows["LDL Cholesterol"].panel == "LIPID PANEL" and rows["Hemoglobin"].panel == "COMPLETE BLOOD COUNT"
    assert rows["LDL Cholesterol"].comment == "Method: calculated (Friedewald equation)."
    assert rows["Hemoglobin"].reference_range.text == "M: 13.5-17.5 F: 12.0-15.5"


def test_table_without_header_is_typed_by_content():
    doc = Document(media_type="image/png", pages=[page([
        (100, [(40, "Hemoglobin"), (220, "15.1"), (300, "g/dL"), (380, "13.5-17.5")]),
        (118, [(40, "WBC"), (220, "12.4 (H)"), (300, "x10^3/uL"), (380, "4.0-11.0")]),
        (136, [(40, "MRN"), (220, "12345678")]),
    ])])
    rows = rows_by_name(doc)
    assert set(rows) == {"Hemoglobin", "WBC"}  # "MRN 12345678" is not a result
    assert rows["WBC"].flag == "H" and rows["WBC"].unit == "10*3/uL" and rows["WBC"].loinc == "6690-2"


def test_multi_page_table_with_repeated_header():
    header = (100, [(40, "Test"), (220, "Result"), (300, "Units"), (380, "Reference Range")])
    p1 = page([header, (120, [(40, "Sodium"), (220, "140"), (300, "mmol/L"), (380, "136-145")]),
               (700, [(40, "Page 1 of 2")])], number=1)
    p2 = page([(50, [(40, "Patient: DOE, JANE (continued)")]), header,
               (120, [(40, "Potassium"), (220, "4.1"), (300, "mmol/L"), (380, "3.5-5.1")])], number=2)
    report = understand(Document(media_type="application/pdf", pages=[p1, p2]))
    assert [(r.printed_name, r.region.page) for r in report.rows] == [("Sodium", 1), ("Potassium", 2)]


def test_confidence_and_region_come_from_the_cells_used():
    doc = Document(media_type="image/png", pages=[page([(100, [(40, "Test"), (220, "Result"), (300, "Units")])]),
                                                  ])
    low = page([(118, [(40, "Sodium"), (220, "140"), (300, "mmol/L")])], confidence=0.62)
    doc.pages[0].lines += low.lines
    row = understand(doc).rows[0]
    assert row.confidence == pytest.approx(0.62)
    assert row.region.page == 1 and row.region.box == (40, 118, 300 + CHAR * 6, 128)


@pytest.mark.parametrize("lines, expected", [
    ([(40, "Patient Name: DOE, JANE A"), (300, "DOB: 03/12/1980")], ("Doe", ["Jane", "A"], "1980-03-12")),
    ([(40, "Pt Name: Jane Doe"), (300, "Date of Birth: 12.03.1980")], ("Doe", ["Jane"], "1980-03-12")),
    ([(40, "Name: O'BRIEN, MARY"), (300, "Born: 12 Mar 1980")], ("O'Brien", ["Mary"], "1980-03-12")),
    ([(40, "Patient: Jane Doe"), (300, "D.O.B.: 1980-03-12")], ("Doe", ["Jane"], "1980-03-12")),
])
def test_header_name_and_birth_date_wordings(lines, expected):
    doc = table(["Test", "Result", "Units"], [["Sodium", "140", "mmol/L"]], XS, preamble=[(60, lines)])
    p = understand(doc).patient
    assert (p.family, p.given, p.birth_date) == expected


def test_header_label_above_value_and_key_value_columns():
    preamble = [
        (40, [(40, "PATIENT"), (200, "MRN"), (360, "COLLECTION DATE")]),
        (54, [(40, "SMITH, JOHN"), (200, "A1234567"), (360, "03/14/2026 08:30 AM")]),
        (80, [(40, "Gender"), (120, "Male"), (300, "Referring Dr"), (380, "Dr. Ana Lima")]),
        (96, [(40, "Hospital No"), (120, "H-99812"), (300, "Report Date"), (380, "2026-03-15 14:05")]),
        (112, [(40, "Accession"), (120, "S26-000123"), (300, "Lab"), (380, "x")]),
    ]
    doc = table(["Test", "Result", "Units"], [["Sodium", "140", "mmol/L"]], XS, preamble=preamble)
    report = understand(doc)
    assert (report.patient.family, report.patient.sex, report.patient.identifier) == ("Smith", "male", "A1234567")
    assert report.collected == "2026-03-14T08:30:00" and report.reported == "2026-03-15T14:05:00"
    assert report.ordering_clinician == "Ana Lima" and report.accession == "S26-000123"


@pytest.mark.parametrize("text, day_first, expected", [
    ("2026-03-12", False, "2026-03-12"), ("03/12/2026", False, "2026-03-12"), ("03/12/2026", True, "2026-12-03"),
    ("25/03/2026", False, "2026-03-25"), ("12.03.2026 07:45", False, "2026-03-12T07:45:00"),
    ("12 Mar 2026 7:05 PM", False, "2026-03-12T19:05:00"), ("Mar 12, 2026", False, "2026-03-12"),
    ("12-MAR-26", False, "2026-03-12"), ("10/13/202517:05", False, "2025-10-13T17:05:00"),
    ("2025-11-1816:50", False, "2025-11-18T16:50:00"),
    ("no date here", False, None),
])
def test_dates(text, day_first, expected):
    assert parse_date(text, day_first=day_first) == expected


def test_number_and_range_parsing():
    us, eu = NumberStyle(False), NumberStyle(True)
    assert parse_number("1,250", us) == Decimal(1250) and parse_number("1.250", eu) == Decimal(1250)
    assert parse_number("5,4", eu) == Decimal("5.4") and parse_number("14,2", us) == Decimal("14.2")
    assert parse_number("12a", us) is None
    assert parse_value("Positive", us).text == "Positive" and parse_value("2+", us).text == "2+"
    assert parse_value("8.1.3", us).readable is False
    rr = parse_range("0.4 – 4.0", us)
    assert (rr.low, rr.high) == (Decimal("0.4"), Decimal("4.0"))
    assert parse_range("Negative", us).text == "Negative" and parse_range("Negative", us).low is None
    male = parse_range("Male: 13.5-17.5 Female: 12.0-15.5", us, sex="male")
    assert (male.low, male.high, male.applies_to) == (Decimal("13.5"), Decimal("17.5"), "male")
    unknown = parse_range("M: 13.5-17.5 F: 12.0-15.5", us, sex=None)
    assert unknown.low is None and unknown.text == "M: 13.5-17.5 F: 12.0-15.5"


def test_results_not_given_get_the_matching_absent_reason():
    doc = table(["Test", "Result", "Units", "Reference Range"],
                [["Ferritin", "Pending", "ng/mL", "30-400"], ["Potassium", "Hemolyzed", "mmol/L", "3.5-5.1"],
                 ["Sodium", "140", "mmol/L", "136-145"]], XS)
    rows = rows_by_name(doc)
    assert (rows["Ferritin"].absent_reason, rows["Ferritin"].value_text) == ("temp-unknown", None)
    assert rows["Potassium"].absent_reason == "not-performed" and rows["Sodium"].absent_reason is None


def test_cumulative_columns_are_ignored_and_glued_units_split():
    doc = table(["Test", "Result", "Previous Result", "Reference Range", "Flag"],
                [["Glucose", "112mg/dL", "98", "70-99 mg/dL", "H"], ["Potassium", "H 5.6", "4.9", "3.5-5.1", ""]],
                [40, 160, 260, 380, 500])
    rows = rows_by_name(doc)
    assert (rows["Glucose"].value, rows["Glucose"].unit, rows["Glucose"].flag) == (Decimal(112), "mg/dL", "H")
    assert (rows["Potassium"].value, rows["Potassium"].flag) == (Decimal("5.6"), "H")


def test_labels_with_dots_and_abbreviations():
    preamble = [(40, [(40, "Pt. Name: Omar Haddad"), (300, "D.O.B.: 1975-01-31")]),
                (56, [(40, "Accession No.: L26-77"), (300, "Age/Sex: 50 Y / M")])]
    report = understand(table(["Test", "Result", "Units"], [["Sodium", "140", "mmol/L"]], XS, preamble=preamble))
    assert (report.patient.family, report.patient.birth_date, report.patient.sex) == ("Haddad", "1975-01-31", "male")
    assert report.accession == "L26-77"


@pytest.mark.parametrize("printed, low, high", [
    ("13.5-17.5 g/dL", "13.5", "17.5"), (">=60 mL/min/1.73m2", "60", None), ("3.5-5.1mmol/L", "3.5", "5.1"),
    ("Up to 5.0", None, "5.0"), ("(70 - 99)", "70", "99"), ("0.40 to 4.00", "0.40", "4.00"),
])
def test_ranges_with_units_and_words(printed, low, high):
    rr = parse_range(printed, NumberStyle(False))
    assert (rr.low, rr.high) == (Decimal(low) if low else None, Decimal(high) if high else None)


def test_untitled_table_columns_are_inferred_from_content_in_any_order():
    preamble = [(40, [(40, "Patient Name: DOE, JANE"), (300, "MRN: 4455667")]),
                (56, [(40, "DOE, JANE"), (220, "1980-03-12"), (380, "4455667")])]
    body = [["Sodium", "136 - 145", "140", "mmol/L"], ["Potassium", "3.5 - 5.1", "5.9 H", "mmol/L"],
            ["Glucose", "70 - 99", "88", "mg/dL"], ["Calcium", "8.6 - 10.3", "9.1", "mg/dL"]]
    rows = [(100 + 18 * i, [(x, t) for x, t in zip([40, 200, 330, 420], cells)]) for i, cells in enumerate(body)]
    doc = Document(media_type="image/png", pages=[page(preamble + rows)])
    got = rows_by_name(doc)
    assert set(got) == {"Sodium", "Potassium", "Glucose", "Calcium"}  # the demographics line is no result
    assert (got["Potassium"].value, got["Potassium"].flag, got["Potassium"].reference_range.high) == (
        Decimal("5.9"), "H", Decimal("5.1"))


def test_dipstick_block_without_heading_is_coded_as_urine():
    doc = table(["Test", "Result", "Reference", "Units"],
                [["Hemoglobin", "14.1", "13.5-17.5", "g/dL"], ["Specific Gravity", "1.020", "1.005-1.030", ""],
                 ["Protein", "Trace", "Negative", ""], ["Glucose", "Negative", "Negative", ""],
                 ["Nitrite", "Negative", "Negative", ""]], XS)
    rows = rows_by_name(doc)
    assert rows["Protein"].loinc == "20454-5" and rows["Glucose"].loinc == "25428-4"
    assert rows["Hemoglobin"].loinc == "718-7" and rows["Hemoglobin"].specimen is None


def test_ocr_slips_in_names_and_units_are_forgiven_only_against_the_tests_own_units():
    doc = table(
        ["Test", "Result", "Units", "Reference Range"],
        [
            ["Thyroid Stimulat ing Hormone", "2.1", "uIU/mL", "0.40-4.00"],
            ["Alk Phos", "76", "u/", "44-147"],
            ["Thyroid St imulating Hormone", "2.2", "uIU/mL", "0.40-4.00"],
            ["Gamma GT", "65", "UL", "8-61"],
            ["RDW", "13.1", "o", "11.5-14.5"],
            ["PT", "12.1", "S", "11.0-13.5"],
        ],
        XS,
    )
    rows = rows_by_name(doc)
    assert rows["Thyroid Stimulat ing Hormone"].loinc == rows["Thyroid St imulating Hormone"].loinc == "3016-3"
    assert rows["Alk Phos"].unit == "U/L" and rows["Gamma GT"].unit == "U/L"
    assert rows["Alk Phos"].reference_range.unit == "U/L"
    assert rows["RDW"].unit is None  # one misread character is too little to go on
    assert rows["PT"].unit == "s" and rows["PT"].loinc == "5902-2"  # ...unless only its case differs


def test_clinician_name_forms():
    from ingestion.understanding.header import clinician_name

    assert clinician_name("Dr. Sarah Chen") == "Sarah Chen"
    assert clinician_name("Chen, Sarah MD") == "Sarah Chen"
    assert clinician_name("O'Brien. Michael MD") == "Michael O'Brien"


def test_ocr_confusions_in_dashes_litres_and_name_commas():
    from ingestion.understanding.header import split_person_name

    doc = table(["Analyte", "Result", "Unit", "Normal Values"],
                [["Potassium", "5,2", "mmol/1", "3,5 ~ 5,1"], ["Cholesterol, Total", "4,59", "mmol/I", "< 5,20"]], XS)
    rows = rows_by_name(doc)
    assert (rows["Potassium"].unit, rows["Potassium"].reference_range.high) == ("mmol/L", Decimal("5.1"))
    assert rows["Cholesterol, Total"].unit == "mmol/L" and rows["Cholesterol, Total"].loinc == "14647-2"
    assert split_person_name("GARCIA. PEDRO A") == ("Garcia", ["Pedro", "A"])
