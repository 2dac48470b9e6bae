"""`manage.py digitize FILE... [--subject] [--json]` over the same service as the HTTP operation."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_pdf
from fhirserver.storage.models import ResourceRecord


@pytest.fixture
def reports(tmp_path):
    paths = []
    for name, seed in (("classic", 5), ("urinalysis", 6)):
        layout = LAYOUTS[name]
        report = layout.report(seed)
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(render_pdf(report, layout))
        paths.append((path, report))
    return paths


@pytest.mark.django_db
def test_batch_prints_a_line_per_file_and_json_gives_the_bundle(reports):
    out = StringIO()
    call_command("digitize", *[str(p) for p, _ in reports], stdout=out)
    lines = [line for line in out.getvalue().strip().splitlines() if not line.startswith("  ")]  # warnings indent
    assert len(lines) == 2
    for (path, report), line in zip(reports, lines):
        assert line.startswith(f"{path}: {len(report.rows)} results -> DiagnosticReport/")
    observations = ResourceRecord.objects.filter(resource_type="Observation").count()
    assert observations == sum(len(r.rows) for _, r in reports)

    out = StringIO()
    call_command("digitize", str(reports[0][0]), "--json", stdout=out)
    bundle = json.loads(out.getvalue())
    assert bundle["type"] == "collection"
    assert len([e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]) == len(
        reports[0][1].rows
    )
    assert (
        ResourceRecord.objects.filter(resource_type="Observation").count() == observations
    )  # same file: no duplicates


@pytest.mark.django_db
def test_subject_is_used_and_bad_files_fail_the_command(reports, tmp_path):
    from fhirserver.storage import repository

    patient = repository.create("Patient", {"resourceType": "Patient", "name": [{"family": "Given"}]})
    out = StringIO()
    call_command("digitize", str(reports[0][0]), "--subject", f"Patient/{patient.id}", stdout=out)
    assert f"for Patient/{patient.id}" in out.getvalue() and "warning" in out.getvalue()
    text = tmp_path / "notes.txt"
    text.write_text("not a report")
    with pytest.raises(CommandError, match="Unsupported document type"):
        call_command("digitize", str(text), stdout=StringIO())
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("digitize", str(broken), stdout=out)
    assert "broken.pdf: failed - " in out.getvalue()
    with pytest.raises(CommandError, match="not a file"):
        call_command("digitize", str(tmp_path / "missing.pdf"))


@pytest.mark.django_db
def test_warnings_are_listed_and_fullurls_use_the_configured_base_url(reports, settings):
    from fhirserver.storage import repository

    settings.FHIR = {**settings.FHIR, "BASE_URL": "https://fhir.example.org/r4"}
    patient = repository.create("Patient", {"resourceType": "Patient", "name": [{"family": "Given"}]})
    out = StringIO()
    call_command("digitize", str(reports[0][0]), "--subject", f"Patient/{patient.id}", stdout=out)
    lines = out.getvalue().splitlines()
    count = next(line for line in lines if line.startswith("  ") and "warning" in line)
    listed = [line for line in lines if line.startswith("  - ")]
    assert listed and count.strip().startswith(f"{len(listed)} warning")
    assert any("Given" in line or "name" in line.lower() for line in listed)  # says which, not only how many
    out = StringIO()
    call_command("digitize", str(reports[1][0]), "--json", stdout=out)
    urls = [e["fullUrl"] for e in json.loads(out.getvalue())["entry"] if "fullUrl" in e]
    assert urls and all(u.startswith("https://fhir.example.org/r4/") for u in urls)


@pytest.mark.django_db
def test_a_document_with_no_result_fails_the_command(tmp_path):
    from reportlab.pdfgen import canvas

    letter = tmp_path / "letter.pdf"
    page = canvas.Canvas(str(letter))
    page.drawString(72, 720, "Dear colleague, thank you for seeing Mrs Smith in clinic last week.")
    page.drawString(72, 700, "She is well and needs no further appointments. Kind regards.")
    page.save()
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("digitize", str(letter), stdout=out)
    assert "letter.pdf: " in out.getvalue()


@pytest.mark.django_db
def test_date_order_tells_how_an_ambiguous_date_is_written(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "ambiguous.pdf"
    page = canvas.Canvas(str(path))
    for y, text in ((760, "Northside Clinical Laboratory"), (730, "Patient Name: Novak, Petra"),
                    (715, "DOB: 03/11/1958"), (700, "Collected: 04/02/2026")):
        page.drawString(72, y, text)
    for x, text in ((72, "Test"), (250, "Result"), (330, "Units"), (410, "Reference Range")):
        page.drawString(x, 670, text)
    for i, row in enumerate((("Sodium", "140", "mmol/L", "135 - 145"), ("Potassium", "4.1", "mmol/L", "3.5 - 5.1"))):
        for x, text in zip((72, 250, 330, 410), row):
            page.drawString(x, 650 - 16 * i, text)
    page.save()
    out = StringIO()
    call_command("digitize", str(path), "--date-order", "dmy", "--json", stdout=out)
    bundle = json.loads(out.getvalue())
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["birthDate"] == "1958-11-03"
    with pytest.raises(CommandError):
        call_command("digitize", str(path), "--date-order", "DDMM", stdout=StringIO())
