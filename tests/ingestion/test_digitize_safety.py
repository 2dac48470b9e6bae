"""$digitize never stores a wrong value as certain, refuses what is not a lab report, reads dates and
header labels as labs print them, and keeps one DiagnosticReport per report: each failure of issue 12
reproduced through HTTP with a report this test draws itself (reportlab for the PDF, pdfium + PIL for
the scan and the photo)."""
from __future__ import annotations

import io
import random
from urllib.parse import quote

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from evaluation.corpus.degrade import phone_photo
from fhirserver.storage.models import ResourceRecord
from ingestion.fhir_mapping.codes import EXT_AI_CONFIDENCE, EXT_REVIEW_REASON
from ingestion.models import DigitizeJob

URL = "/fhir/DiagnosticReport/$digitize"
COLUMNS = (72, 250, 330, 410)  # test, result, unit, reference range


def draw_report(header: list[str], rows: list[tuple[str, str, str, str]], *, lab: str | None = "Northside Clinical "
                "Laboratory", title: str | None = "LABORATORY REPORT", footer: str = "End of report") -> bytes:
    """A one-page text PDF: letterhead, header lines, a results table with titled columns, a footer."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=letter)
    y = 740
    if lab:
        page.setFont("Helvetica-Bold", 15)
        page.drawString(72, y, lab)
        y -= 22
    if title:
        page.setFont("Helvetica-Bold", 12)
        page.drawString(72, y, title)
        y -= 24
    page.setFont("Helvetica", 10)
    for line in header:
        page.drawString(72, y, line)
        y -= 15
    y -= 12
    page.setFont("Helvetica-Bold", 10)
    for x, text in zip(COLUMNS, ("Test", "Result", "Units", "Reference Range")):
        page.drawString(x, y, text)
    page.setFont("Helvetica", 10)
    for row in rows:
        y -= 16
        for x, text in zip(COLUMNS, row):
            page.drawString(x, y, text)
    page.drawString(72, y - 40, footer)
    page.save()
    return buffer.getvalue()


def page_image(pdf: bytes, dpi: int = 200) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        return document[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def count(resource_type: str) -> int:
    return ResourceRecord.objects.filter(resource_type=resource_type, deleted=False).count()


def resources(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def outcome_texts(bundle: dict) -> list[str]:
    return [i["diagnostics"] for o in resources(bundle, "OperationOutcome") for i in o["issue"]]


def by_code(bundle: dict) -> dict[str, dict]:
    return {o["code"]["coding"][0]["code"]: o for o in resources(bundle, "Observation") if o["code"].get("coding")}


def post(client, data: bytes, path: str = URL, filename: str = "report.pdf", **fields):
    upload = io.BytesIO(data)
    upload.name = filename
    return client.post(path, {"file": upload, **fields})


def confidence(observation: dict) -> float:
    return next(e["valueDecimal"] for e in observation["extension"] if e["url"] == EXT_AI_CONFIDENCE)


def reasons(observation: dict) -> list[str]:
    return [e["valueString"] for e in observation["extension"] if e["url"] == EXT_REVIEW_REASON]


CHEMISTRY = [("Sodium", "140", "mmol/L", "135 - 145"), ("Potassium", "4.1", "mmol/L", "3.5 - 5.1"),
             ("Chloride", "103", "mmol/L", "98 - 107"), ("Calcium", "9.4", "mg/dL", "8.5 - 10.5")]


# --- never a confident wrong value --------------------------------------------------------------------
@pytest.mark.django_db
def test_values_of_two_cells_run_together_are_never_a_confident_quantity(client, fhir):
    rows = [("Glucose", "11211.6", "mg/dL", "70 - 99"), ("Creatinine", "0.84265", "mg/dL", "0.60 - 1.30"),
            ("Sodium", "141148", "mmol/L", "135 - 145"), ("Potassium", "4.1", "mmol/L", "3.5 - 5.1"),
            ("eGFR", "82231", "mL/min/1.73m2", ">60")]
    pdf = draw_report(["Patient Name: Rivera, Ana", "DOB: 1980-05-14", "MRN: RV55012", "Collected: 2026-04-17"],
                      rows)
    response = post(client, pdf)
    assert response.status_code == 200, response.content
    observations = by_code(response.json())
    for loinc in ("2345-7", "2160-0", "2951-2"):
        wrong = observations[loinc]
        assert "valueQuantity" not in wrong and wrong["valueString"].startswith(
            {"2345-7": "11211.6", "2160-0": "0.84265", "2951-2": "141148"}[loinc])
        assert confidence(wrong) <= 0.5 and reasons(wrong), wrong
    assert observations["2823-3"]["valueQuantity"]["value"] == 4.1 and not reasons(observations["2823-3"])
    egfr = next(o for o in resources(response.json(), "Observation") if o["code"]["text"] == "eGFR")
    assert "valueQuantity" not in egfr and confidence(egfr) <= 0.5
    found = fhir.get(f"Observation?code={quote('http://loinc.org|2345-7')}&value-quantity=gt100").json()
    assert found["total"] == 0 if "total" in found else not found.get("entry")
    # the review page's data: the job's rows carry the lowered confidence
    job = DigitizeJob.objects.get()
    assert min(r["confidence"] for r in job.rows) <= 0.5


@pytest.mark.django_db
def test_a_unit_that_does_not_fit_the_test_is_a_row_to_check(client):
    rows = [("Hemoglobin", "13.9", "mmol/L", "13.5 - 17.5"), ("Potassium", "4.1", "mmol/L", "3.5 - 5.1"),
            ("Neutrophils %", "140", "%", "40 - 75")]
    response = post(client, draw_report(["Patient Name: Lee, Sam", "DOB: 1975-02-03", "Collected: 2026-04-17"],
                                        rows))
    assert response.status_code == 200, response.content
    observations = resources(response.json(), "Observation")
    neutrophils = next(o for o in observations if o["code"]["text"].startswith("Neutrophils"))
    assert "valueQuantity" not in neutrophils and any("fraction" in r for r in reasons(neutrophils))
    potassium = next(o for o in observations if o["code"]["text"] == "Potassium")
    assert potassium["valueQuantity"]["value"] == 4.1


@pytest.mark.django_db
def test_a_value_far_from_the_patients_previous_result_is_flagged_not_rejected(client, fhir):
    patient = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": "Okafor", "given": ["Ada"]}],
                                    "birthDate": "1971-04-02"}).json()
    previous = {"resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
                "subject": {"reference": f"Patient/{patient['id']}"}, "effectiveDateTime": "2026-04-16",
                "valueQuantity": {"value": 141, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                  "code": "mmol/L"}}
    assert fhir.post("Observation", previous).status_code == 201
    rows = [("Sodium", "124", "mmol/L", "135 - 145"), ("Potassium", "4.1", "mmol/L", "3.5 - 5.1")]
    pdf = draw_report(["Patient Name: Okafor, Ada", "DOB: 1971-04-02", "Collected: 2026-04-17"], rows)
    response = post(client, pdf, path=f"/fhir/Patient/{patient['id']}/$digitize")
    assert response.status_code == 200, response.content
    sodium = by_code(response.json())["2951-2"]
    assert sodium["valueString"].startswith("124") and any("delta check" in r for r in reasons(sodium))
    assert any("delta check" in t for t in outcome_texts(response.json()))
    assert by_code(response.json())["2823-3"]["valueQuantity"]["value"] == 4.1  # no previous result: no delta


# --- refuse what is not a lab report ------------------------------------------------------------------
def recipe_photo() -> bytes:
    page = Image.new("RGB", (1275, 1650), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype("DejaVuSans.ttf", 34) if _has_font() else ImageFont.load_default()
    lines = ["Grandma's Apple Crumble", "", "Serves 6", "200 g plain flour", "100 g cold butter, diced",
             "75 g brown sugar", "4 cooking apples, peeled and sliced", "1 tsp cinnamon",
             "Bake for 35 minutes at 180 C until golden.", "Serve warm with custard."]
    for i, line in enumerate(lines):
        draw.text((120, 150 + i * 70), line, fill="black", font=font)
    data, _ = phone_photo(page, random.Random(7))
    return data


def _has_font() -> bool:
    try:
        ImageFont.truetype("DejaVuSans.ttf", 10)
        return True
    except OSError:
        return False


def only_the_original_is_stored() -> None:
    assert count("Binary") == count("DocumentReference") >= 1
    for resource_type in ("Patient", "Organization", "DiagnosticReport", "Observation", "Device", "Provenance"):
        assert count(resource_type) == 0, resource_type


@pytest.mark.django_db
def test_a_blank_page_is_refused_with_what_was_found_and_only_the_original_kept(client):
    response = post(client, png(Image.new("RGB", (1275, 1650), "white")), filename="blank.png")
    assert response.status_code == 422, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    text = outcome["issue"][0]["diagnostics"]
    assert "no result rows" in text and "1 page" in text and "DocumentReference/" in text
    only_the_original_is_stored()


@pytest.mark.django_db
def test_a_recipe_photo_is_refused_and_names_no_lab(client):
    response = post(client, recipe_photo(), filename="crumble.jpg")
    assert response.status_code == 422, response.content
    assert "no result rows" in response.json()["issue"][0]["diagnostics"]
    only_the_original_is_stored()


@pytest.mark.django_db(transaction=True)
def test_a_letter_sent_asynchronously_ends_in_422_at_its_status_url(fhir):
    import time

    pdf = draw_report(["Dear colleague, thank you for seeing Mrs Smith in clinic.", "Kind regards, Dr Jones"], [],
                      lab=None, title=None)
    response = fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")
    assert response.status_code == 202
    status = response["Content-Location"].removeprefix("http://testserver")
    deadline = time.monotonic() + 120
    while (done := fhir.get(status)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.status_code == 422 and "no result rows" in done.json()["issue"][0]["diagnostics"]
    only_the_original_is_stored()


@pytest.mark.django_db
def test_no_organization_from_text_that_is_not_a_lab_name(client):
    pdf = draw_report(["Patient Name: Doe, Jane", "DOB: 1980-01-02", "Collected: 2026-04-17"], CHEMISTRY,
                      lab="Grandma's Apple Crumble", title=None)
    response = post(client, pdf)
    assert response.status_code == 200, response.content
    assert resources(response.json(), "Organization") == [] and count("Organization") == 0
    labelled = draw_report(["Patient Name: Doe, Jane", "DOB: 1980-01-02", "Performed at: Acme Reference Lab",
                            "Collected: 2026-04-18"], CHEMISTRY, lab="Grandma's Apple Crumble", title=None)
    response = post(client, labelled)
    assert [o["name"] for o in resources(response.json(), "Organization")] == ["Acme Reference Lab"]


# --- dates and locale ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_uk_report_reads_its_dates_day_first_and_keeps_the_nhs_number_whole(client):
    rows = [("Haemoglobin", "135", "g/L", "130 - 170"), ("Glucose", "5.4", "mmol/L", "3.5 - 5.5"),
            ("Sodium", "140", "mmol/L", "133 - 146")]
    header = ["Patient Name: SMITH, Margaret", "DOB: 03/11/1958", "Sex: F", "NHS No: 943 476 5919",
              "Collected: 04/02/2026"]
    response = post(client, draw_report(header, rows, lab="Royal Free Hospital Pathology"))
    assert response.status_code == 200, response.content
    patient = resources(response.json(), "Patient")[0]
    assert patient["birthDate"] == "1958-11-03" and patient["gender"] == "female"
    assert [i["value"] for i in patient["identifier"]] == ["9434765919"]
    report = resources(response.json(), "DiagnosticReport")[0]
    assert report["effectiveDateTime"].startswith("2026-02-04")
    assert not any("day-first or month-first" in t for t in outcome_texts(response.json()))


@pytest.mark.django_db
def test_an_ambiguous_date_is_warned_and_the_date_order_parameter_decides(client):
    header = ["Patient Name: Novak, Petra", "DOB: 03/11/1958", "Collected: 04/02/2026"]
    response = post(client, draw_report(header, CHEMISTRY))
    assert response.status_code == 200, response.content
    assert resources(response.json(), "Patient")[0]["birthDate"] == "1958-03-11"
    assert any("03/11/1958" in t and "date-order" in t for t in outcome_texts(response.json()))
    again = post(client, draw_report(header, CHEMISTRY, footer="End of report (copy)"), **{"date-order": "DMY"})
    assert again.status_code == 200, again.content
    assert resources(again.json(), "DiagnosticReport")[0]["effectiveDateTime"].startswith("2026-02-04")
    assert not any("date-order" in t for t in outcome_texts(again.json()))
    bad = post(client, draw_report(header, CHEMISTRY, footer="x"), **{"date-order": "DDMM"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["date-order"]


# --- header labels as labs print them -----------------------------------------------------------------
@pytest.mark.django_db
def test_coll_is_the_collection_time_and_sex_on_the_dob_line_is_read(client):
    header = ["PT: DOE, JOHN", "DOB: 07/22/1961    Sex: M", "COLL: 04/17/2026 0605    RCVD: 04/17/2026 0915",
              "ACCT: 5512093", "ORD MD: Chen, Sarah MD", "ACCN: 260417-0042"]
    response = post(client, draw_report(header, CHEMISTRY))
    assert response.status_code == 200, response.content
    patient = resources(response.json(), "Patient")[0]
    assert patient["gender"] == "male" and patient["birthDate"] == "1961-07-22"
    assert patient["name"][0]["family"] == "Doe"
    report = resources(response.json(), "DiagnosticReport")[0]
    assert report["effectiveDateTime"].startswith("2026-04-17")
    assert [i["value"] for i in report["identifier"]] == ["260417-0042"]
    job = DigitizeJob.objects.get()
    assert job.lab_report["collected"] == "2026-04-17T06:05:00"
    assert job.lab_report["ordering_clinician"] == "Sarah Chen"


# --- one report, one DiagnosticReport -----------------------------------------------------------------
SAME_HEADER = ["Patient Name: GARCIA, MICHAEL", "DOB: 1969-09-30", "Sex: Male", "MRN: 77120455",
               "Accession: 26041700", "Collected: 2026-04-17"]


@pytest.mark.django_db
def test_the_same_report_three_ways_with_and_without_subject_is_one_diagnostic_report(client):
    pdf = draw_report(SAME_HEADER, CHEMISTRY)
    first = post(client, pdf)
    assert first.status_code == 200, first.content
    report = resources(first.json(), "DiagnosticReport")[0]
    patient = resources(first.json(), "Patient")[0]
    observations = count("Observation")
    assert observations == len(CHEMISTRY)
    image = page_image(pdf)
    scan = post(client, png(image), path=f"/fhir/Patient/{patient['id']}/$digitize", filename="scan.png")
    photo_data, _ = phone_photo(page_image(pdf, dpi=300), random.Random(3))
    photo = post(client, photo_data, filename="photo.jpg")
    pdf_again = post(client, pdf, path=f"/fhir/Patient/{patient['id']}/$digitize")
    for again in (scan, photo, pdf_again):
        assert again.status_code == 200, again.content
        assert [r["id"] for r in resources(again.json(), "DiagnosticReport")] == [report["id"]]
        assert any("already stored as DiagnosticReport/" in t for t in outcome_texts(again.json()))
    assert count("DiagnosticReport") == 1 and count("Observation") == observations
    assert count("Patient") == 1 and count("Organization") == 1
    assert count("Device") == 1  # only the first upload stored results; a Device is per engine and model
    assert count("DocumentReference") == 4  # every original is kept
    linked = DigitizeJob.objects.exclude(diagnostic_report="").values_list("diagnostic_report", flat=True)
    assert set(linked) == {f"DiagnosticReport/{report['id']}"}


@pytest.mark.django_db
def test_without_an_accession_the_same_results_of_the_same_day_are_the_same_report(client):
    header = [line for line in SAME_HEADER if not line.startswith("Accession")]
    first = post(client, draw_report(header, CHEMISTRY))
    assert first.status_code == 200, first.content
    again = post(client, draw_report(header, CHEMISTRY, footer="Copy printed 2026-04-18"))
    assert [r["id"] for r in resources(again.json(), "DiagnosticReport")] == \
        [resources(first.json(), "DiagnosticReport")[0]["id"]]
    assert any("the same results" in t for t in outcome_texts(again.json()))
    other_day = post(client, draw_report([h.replace("2026-04-17", "2026-04-20") for h in header], CHEMISTRY))
    assert other_day.status_code == 200 and count("DiagnosticReport") == 2  # a new report, not the same one


@pytest.mark.django_db
def test_another_report_of_the_same_lab_reuses_its_organization_and_device(client):
    first = post(client, draw_report(SAME_HEADER, CHEMISTRY))
    header = [line.replace("26041700", "26041899").replace("2026-04-17", "2026-04-19") for line in SAME_HEADER]
    second = post(client, draw_report(header, CHEMISTRY))
    assert first.status_code == second.status_code == 200
    assert count("DiagnosticReport") == 2 and count("Organization") == 1 and count("Device") == 1
    ids = {resources(r.json(), "Organization")[0]["id"] for r in (first, second)}
    assert len(ids) == 1


@pytest.mark.django_db
def test_a_corrected_report_becomes_a_new_version_with_status_corrected(client, fhir):
    first = post(client, draw_report(SAME_HEADER, CHEMISTRY))
    report = resources(first.json(), "DiagnosticReport")[0]
    potassium = by_code(first.json())["2823-3"]
    corrected_rows = [r if r[0] != "Potassium" else ("Potassium", "5.9", "mmol/L", "3.5 - 5.1") for r in CHEMISTRY]
    second = post(client, draw_report(SAME_HEADER, corrected_rows, title="CORRECTED REPORT"))
    assert second.status_code == 200, second.content
    stored = fhir.get(f"DiagnosticReport/{report['id']}").json()
    assert stored["status"] == "corrected" and stored["meta"]["versionId"] == "2"
    assert count("DiagnosticReport") == 1 and count("Observation") == len(CHEMISTRY)
    now = fhir.get(f"Observation/{potassium['id']}").json()
    assert now["valueQuantity"]["value"] == 5.9 and now["status"] == "corrected"
    assert any("corrected" in t for t in outcome_texts(second.json()))
    assert not any("not on the corrected report" in t for t in outcome_texts(second.json()))


@pytest.mark.django_db
def test_results_a_correction_leaves_out_are_kept_and_named_for_a_person_to_check(client, fhir):
    first = post(client, draw_report(SAME_HEADER, CHEMISTRY))
    report = resources(first.json(), "DiagnosticReport")[0]
    potassium = by_code(first.json())["2823-3"]
    shorter = [r for r in CHEMISTRY if r[0] != "Potassium"]
    second = post(client, draw_report(SAME_HEADER, shorter, title="CORRECTED REPORT"))
    assert second.status_code == 200, second.content
    stored = fhir.get(f"DiagnosticReport/{report['id']}").json()
    assert {"reference": f"Observation/{potassium['id']}"} in stored["result"]  # kept: nothing is deleted
    [note] = [t for t in outcome_texts(second.json()) if "not on the corrected report" in t]
    assert f"Observation/{potassium['id']}" in note and "Potassium" in note
