"""What the held-out layouts taught: titles over two lines, test names wrapping onto a second (or
third) line, a Status column beside the Flag column, department sections and serology, decimal
commas with +/- flags, surname and first name apart, an unlabelled patient block, and the printed
report date as DiagnosticReport.issued. Generated text-layer PDFs (cheap, deterministic) through
the real reader, one real OCR run, and one $digitize over HTTP."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_page_images, render_pdf
from evaluation.lab import pair_rows, row_differences
from ingestion.fhir_mapping import build_resources
from ingestion.reader import read_document
from ingestion.understanding import understand

from .reader_samples import encode


def read(layout_name: str, seed: int = 1):
    layout = LAYOUTS[layout_name]
    truth = layout.report(seed)
    return truth, understand(read_document(render_pdf(truth, layout)))


def by_name(report):
    return {r.printed_name: r for r in report.rows}


def test_two_line_titles_give_every_column_and_wrapped_names_join():
    truth, got = read("hospital-wrapped")
    rows = by_name(got)
    # "Units of / Measure" and "Reference / Interval" are two-line titles: without merging them no unit is read
    assert all(r.unit for r in got.rows if r.printed_name not in ("International Normalized Ratio (INR)",))
    mchc = rows["Mean Corpuscular Hemoglobin Concentration (MCHC)"]  # printed over two lines, values on the first
    assert (mchc.loinc, mchc.unit) == ("786-4", "g/dL")
    egfr = rows["Estimated Glomerular Filtration Rate (CKD-EPI 2021)"]
    assert egfr.loinc == "98979-8" and egfr.comparator == ">" and egfr.reference_range.low == Decimal(60)
    assert egfr.comment and egfr.comment.startswith("Calculated with the CKD-EPI")  # the note stays a note
    assert [r.printed_name for r in got.rows] == [r.printed_name for r in truth.rows]
    assert [r.panel for r in got.rows] == [r.panel for r in truth.rows]  # no name fragment became a heading
    assert {r.region.page for r in got.rows} == {1, 2}  # the whole header again on page 2: no rows from it


def test_a_status_column_printing_final_does_not_hide_the_flag():
    truth, got = read("reference-lab")
    assert [r.flag for r in got.rows] == [r.flag for r in truth.rows]
    assert any(r.flag for r in got.rows)
    # the patient's name printed without a label under PATIENT INFORMATION; Received is not Reported
    assert (got.patient.family, got.patient.given) == (truth.patient.family, truth.patient.given)
    assert got.reported == truth.reported and got.collected == truth.collected
    assert got.accession == truth.accession  # "Specimen: S26-264795" is an identifier


def test_names_wrapping_with_values_on_their_last_line_and_sections_are_not_results():
    truth, got = read("sections-qualitative")
    names = [r.printed_name for r in got.rows]
    assert names == [r.printed_name for r in truth.rows]
    assert not {"CHEMISTRY", "HEMATOLOGY", "URINALYSIS", "SEROLOGY"} & set(names)
    assert [r.panel for r in got.rows] == [r.panel for r in truth.rows]
    rows = by_name(got)
    ldl = rows["Low Density Lipoprotein Cholesterol, Calculated (LDL-C)"]
    assert ldl.loinc == "13457-7" and ldl.reference_range.high == Decimal(100) and ldl.reference_range.low is None
    hbsag = rows["Hepatitis B Surface Antigen (HBsAg)"]
    assert (hbsag.loinc, hbsag.value_text, hbsag.reference_range.text) == ("5196-1", "Negative", "Negative")
    covid = next(r for r in got.rows if r.loinc == "94500-6")
    assert covid.value_text in ("Not detected", "Detected")
    egfr = next(r for r in got.rows if r.loinc == "98979-8")
    assert egfr.reference_range.text == ">=60" and egfr.reference_range.low == Decimal(60)


def test_decimal_commas_plus_minus_flags_and_a_surname_label():
    truth, got = read("eu-plusminus")
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert invented == [] and all(g is not None and not row_differences(t, g) for t, g in pairs)
    assert any(t.value != t.value.to_integral_value() for t in truth.rows if t.value is not None)  # 4,98 -> 4.98
    assert any(r.flag == "L" for r in got.rows) and any(r.flag == "H" for r in got.rows)
    assert (got.patient.family, got.patient.given) == (truth.patient.family, truth.patient.given)
    assert got.reported == truth.reported  # "Date of report: 25.09.2025 01:15", day first
    assert got.ordering_clinician == truth.ordering_clinician  # "Sender"


def test_the_printed_report_date_is_the_reports_issued_time():
    truth, got = read("sections-qualitative")
    entries = build_resources(got, patient_ref="Patient/p", document_reference_ref="DocumentReference/d",
                              binary_ref="Binary/b", engine="pdfplumber", issued="2030-01-01T00:00:00Z")
    by_type = {}
    for e in entries:
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    printed = truth.reported + "Z"  # a printed local time, in the deployment's zone (UTC here)
    assert by_type["DiagnosticReport"][0]["issued"] == printed
    assert {o["issued"] for o in by_type["Observation"]} == {printed}
    assert by_type["DiagnosticReport"][0]["effectiveDateTime"] == truth.collected[:10]
    assert by_type["Provenance"][0]["recorded"] == "2030-01-01T00:00:00Z"  # when the transformation happened


def test_a_printed_date_without_time_and_a_configured_zone():
    from ingestion.fhir_mapping.codes import printed_instant

    assert printed_instant("2025-10-30") == "2025-10-30T00:00:00Z"
    assert printed_instant("2025-10-30T14:05:00", "Europe/Berlin") == "2025-10-30T14:05:00+01:00"
    assert printed_instant("not a date") is None and printed_instant(None) is None


@pytest.mark.django_db
def test_digitize_over_http_issues_the_report_at_its_printed_date(client):
    layout = LAYOUTS["eu-plusminus"]
    truth = layout.report(2)
    upload = io.BytesIO(render_pdf(truth, layout))
    upload.name = "befund.pdf"
    response = client.post("/fhir/DiagnosticReport/$digitize", {"file": upload})
    assert response.status_code == 200, response.content
    bundle = response.json()
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert report["issued"] == truth.reported + "Z"
    assert report["effectiveDateTime"] == truth.collected[:10]
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(truth.rows)
    assert {o["issued"] for o in observations} == {truth.reported + "Z"}


def test_real_ocr_on_a_page_with_two_line_titles_and_wrapped_names():
    layout = LAYOUTS["hospital-wrapped"]
    truth = layout.report(1)
    doc = read_document(encode(render_page_images(truth, layout, dpi=300)[0], "PNG"))
    assert doc.pages[0].source == "ocr"
    got = understand(doc)
    on_page = truth.rows[:len(got.rows)]
    pairs, invented = pair_rows(on_page, got.rows)
    exact = sum(1 for t, g in pairs if g is not None and not row_differences(t, g))
    assert invented == []
    assert len(got.rows) >= 20 and exact >= 0.9 * len(got.rows), [(t.printed_name, g and row_differences(t, g))
                                                                    for t, g in pairs]
    rows = by_name(got)
    assert rows["Mean Corpuscular Hemoglobin Concentration (MCHC)"].loinc == "786-4"
    assert all(r.unit for r in got.rows[:10])  # the two-line "Units of / Measure" title was merged


@pytest.mark.parametrize("printed, unit, loinc", [
    ("HIV-1/2 Antigen and Antibody Screen", None, "56888-1"),
    ("CHOL/HDLC RATIO", None, "9830-1"),
    ("Sedimentation Rate-Westergren", "mm/h", "4537-7"),
    ("Kreatinin", "umol/L", "14682-9"),
    ("Kreatinin", "mg/dL", "2160-0"),
    ("Harnstoff", "mmol/L", "22664-7"),
    ("Leukozyten", "10*9/L", "6690-2"),
])
def test_names_the_held_out_reports_printed(printed, unit, loinc):
    from ingestion.terminology import match_test

    assert match_test(printed, unit).loinc == loinc


def test_right_aligned_results_belong_to_their_column_not_the_nearest_title():
    from ingestion.document import Document, Line, Page, Word

    char, h = 5.0, 10.0

    def line(x: float, y: float, text: str) -> Line:
        words, cx = [], x
        for part in text.split(" "):
            words.append(Word(part, (cx, y, cx + char * len(part), y + h), 0.99))
            cx += char * (len(part) + 1)
        return Line(text, (x, y, cx - char, y + h), 0.99, words)

    lines = [
        line(40, 100, "Test"),
        line(220, 100, "Result"),
        line(320, 100, "Units"),
        line(420, 100, "Reference Range"),
    ]
    body = [("Hemoglobin", "13.9", "g/dL", "13.5-17.5"), ("Glucose", "104", "mg/dL", "70-99"),
            ("Potassium", "4.1", "mmol/L", "3.5-5.1"), ("Platelets", "250", "10*3/uL", "150-400")]
    for i, (name, value, unit, rng) in enumerate(body, 1):
        y = 100 + 18 * i
        # numbers set flush right against the Units column: they overlap no title, Units is the nearest
        lines += [line(40, y, name), line(305 - char * len(value), y, value), line(320, y, unit), line(420, y, rng)]
    got = understand(
        Document(media_type="image/png", pages=[Page(number=1, width=600, height=800, source="ocr", lines=lines)])
    )
    rows = by_name(got)
    assert [(r.value, r.unit) for r in got.rows] == [(Decimal("13.9"), "g/dL"), (Decimal("104"), "mg/dL"),
                                                     (Decimal("4.1"), "mmol/L"), (Decimal("250"), "10*3/uL")]
    assert rows["Glucose"].reference_range.high == Decimal(99) and rows["Glucose"].loinc == "2345-7"


def _page_of(texts: list[tuple[float, float, str]]):
    from ingestion.document import Document, Line, Page, Word

    char, h = 5.0, 10.0
    lines = []
    for x, y, text in texts:
        words, cx = [], x
        for part in text.split(" "):
            words.append(Word(part, (cx, y, cx + char * len(part), y + h), 0.99))
            cx += char * (len(part) + 1)
        lines.append(Line(text, (x, y, cx - char, y + h), 0.99, words))
    return Document(media_type="image/png", pages=[Page(number=1, width=600, height=800, source="ocr", lines=lines)])


def test_a_german_report_with_sign_flags_and_a_per_nanolitre_count():
    texts = [
        (40, 20, "Labor Dr. Schmidt"),
        (40, 45, "Nachname: MÜLLER"),
        (40, 60, "Vorname: Hans"),
        (40, 75, "Geb.-Datum: 12.03.1961"),
        (300, 45, "Geschlecht: männlich"),
        (300, 60, "Entnahme: 29.10.2025 08:30"),
        (300, 75, "Befunddatum: 30.10.2025"),
        (300, 90, "Einsender: Dr. med. Anna Weber"),
        (40, 90, "Auftragsnummer: 2510290042"),
        (40, 120, "Untersuchung"),
        (200, 120, "Ergebnis"),
        (300, 120, "Einheit"),
        (400, 120, "Referenzbereich"),
    ]
    body = [("Natrium", "141", "mmol/l", "135 - 145"), ("Kalium", "5,4 +", "mmol/l", "3,5 - 5,1"),
            ("Kreatinin", "1,02", "mg/dl", "0,70 - 1,20"), ("Hämoglobin", "12,1 -", "g/dl", "13,5 - 17,5"),
            ("Leukozyten", "7,2", "/nl", "4,0 - 10,0")]
    for i, cells in enumerate(body, 1):
        texts += [(x, 120 + 18 * i, t) for x, t in zip((40, 200, 300, 400), cells)]
    got = understand(_page_of(texts))
    rows = by_name(got)
    assert [(r.loinc, r.value, r.flag) for r in got.rows] == [
        ("2951-2", Decimal("141"), None), ("2823-3", Decimal("5.4"), "H"), ("2160-0", Decimal("1.02"), None),
        ("718-7", Decimal("12.1"), "L"), ("6690-2", Decimal("7.2"), None)]
    assert rows["Leukozyten"].unit == "/nL"  # a real unit of another scale is never 'corrected' to /uL
    assert rows["Kalium"].reference_range.low == Decimal("3.5")
    assert (got.patient.family, got.patient.given, got.patient.sex) == ("Müller", ["Hans"], "male")
    assert (got.patient.birth_date, got.collected, got.reported) == ("1961-03-12", "2025-10-29T08:30:00", "2025-10-30")
    assert (got.ordering_clinician, got.accession) == ("Anna Weber", "2510290042")
