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
    lines = out.getvalue().strip().splitlines()
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
