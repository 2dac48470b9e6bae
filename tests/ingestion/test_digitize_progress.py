"""Asynchronous status reports real progress: the stage, and pages done out of pages total, as the reader
reads them (in this process, or in a reader process through the pool's progress queue)."""
from __future__ import annotations

import io

import pytest

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_page_images, render_pdf
from ingestion import digitize, progress
from ingestion.edge.jobs.pool import read_direct, read_in_reader_process
from ingestion.edge.operation import accepted
from ingestion.edge.uploads import Upload
from ingestion.models import DigitizeJob


@pytest.mark.django_db
def test_a_job_records_each_page_read(monkeypatch):
    layout = LAYOUTS["multipage"]
    pdf = render_pdf(layout.report(3), layout)
    seen = []
    recorded = digitize._pages_read

    def spy(job, done, total):
        recorded(job, done, total)
        row = DigitizeJob.objects.get(id=job.id)
        seen.append((row.stage, row.pages_done, row.pages_total, row.progress))

    monkeypatch.setattr(digitize, "_pages_read", spy)
    job, _ = digitize.submit(Upload(data=pdf, media_type="application/pdf", filename="m.pdf"), base_url="http://t/fhir")
    job = digitize.run(job.id, stages=digitize.default_stages(read=read_direct))
    assert job.status == "done"
    assert [s[:3] for s in seen] == [("reading", 0, 2), ("reading", 1, 2), ("reading", 2, 2)]
    assert [round(p, 2) for *_, p in seen] == [0.1, 0.3, 0.5]  # the reading stage, page by page
    assert job.pages_done == job.pages_total == 2


def test_pages_read_in_a_reader_process_come_back_while_it_reads():
    pages = render_page_images(LAYOUTS["classic"].report(4), LAYOUTS["classic"], dpi=200)
    scan = io.BytesIO()
    pages[0].save(scan, format="PDF", resolution=200, save_all=True, append_images=[pages[0].copy()])
    seen = []
    with progress.reporting(lambda done, total: seen.append((done, total))):
        document = read_in_reader_process(scan.getvalue())  # two OCR pages: seconds each
    assert len(document.pages) == 2 and document.pages[0].source == "ocr"
    assert seen and all(total == 2 for _, total in seen) and seen == sorted(seen)


@pytest.mark.django_db
def test_the_status_says_the_stage_and_pages_done_out_of_total():
    job = DigitizeJob.objects.create(content_hash="x", media_type="application/pdf", base_url="http://t/fhir",
                                     binary_id="b", document_reference_id="d")
    queued = accepted(job, "http://t/fhir")
    text = queued.resource["issue"][0]["diagnostics"]
    assert "is queued;" in text and "queued: queued" not in text and queued.headers["X-Progress"] == "queued (0%)"
    DigitizeJob.objects.filter(id=job.id).update(status="running", stage="reading", progress=0.3, pages_done=2,
                                                 pages_total=4)
    job.refresh_from_db()
    running = accepted(job, "http://t/fhir")
    assert running.headers["X-Progress"] == "reading: 2 of 4 pages done (30%)"
    assert "is running: reading: 2 of 4 pages done;" in running.resource["issue"][0]["diagnostics"]
