"""Page images of a job's original, in the pixel space of its document tree (for drawing boxes on them).

Rendered ONCE, in the job's reading stage (`ingestion.signals.document_read`, connected in ReviewConfig),
and stored in the database beside the original (`PageImage`), so the review page shows them at once
from any web process. Text-layer PDF pages are rendered at the reader's PDF_DPI (the scale of their word
boxes); OCRed pages go through the same straightening the reader applied, so every `Region` box lands
on its words. A job read before page images were stored gets them on first view.
"""
from __future__ import annotations

import io
import logging

import numpy as np
from django.db import DatabaseError, transaction
from PIL import Image

from ingestion.digitize import original
from ingestion.models import DigitizeJob
from review.models import PageImage

log = logging.getLogger("review.pages")
PNG_LEVEL = 3  # zlib level: within a few per cent of the smallest file at a fraction of the time


def page_count(job: DigitizeJob) -> int:
    return len((job.document or {}).get("pages", []))


def page_png(job: DigitizeJob, number: int) -> bytes:
    """PNG of page `number` (1-based); KeyError when the job has no such page (or has not been read yet)."""
    if not 1 <= number <= page_count(job):
        raise KeyError(number)
    stored = PageImage.objects.filter(job=job, number=number).values_list("data", flat=True).first()
    if stored is not None:
        return bytes(stored)
    # Read before page images were stored at read time, or storing them failed then: render now. A store
    # that fails again costs the storage, never the page image.
    images = rendered(job, original(job), job.document["pages"])
    try:
        save(job, images)
    except DatabaseError:
        log.warning("page images of job %s could not be stored; served without", job.id, exc_info=True)
    return bytes(images[number - 1].data)


def store_page_images(sender, *, job: DigitizeJob, data: bytes, document, **_) -> None:
    """Receiver of `document_read`: render and keep every page while the job reads the document."""
    save(job, rendered(job, data, job.document["pages"]))  # the tree as the job stored it: no second to_json


def rendered(job: DigitizeJob, data: bytes, pages: list[dict]) -> list[PageImage]:
    return [PageImage(job=job, number=number, width=image.shape[1], height=image.shape[0], data=png(image))
            for number, image in enumerate(render(data, job.media_type, pages), start=1)]


def save(job: DigitizeJob, images: list[PageImage]) -> None:
    """All of a job's page images or none (a retried job renders again and replaces them)."""
    with transaction.atomic():
        PageImage.objects.filter(job=job).delete()
        PageImage.objects.bulk_create(images)


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def render(data: bytes, kind: str, pages: list[dict]) -> list[np.ndarray]:
    """Every page of the original as the reader saw it (`kind`: its media type as sniffed on upload;
    `pages`: the document tree's pages)."""
    # The reader package (OpenCV, pdfplumber, pypdfium2) loads when a page is first drawn, not at start-up.
    from ingestion.reader.config import default_limits, reader_settings
    from ingestion.reader.images import image_pages
    from ingestion.reader.pdf import PDFIUM, pdf_pages
    from ingestion.reader.straighten import straighten

    limits, dpi = default_limits(), reader_settings()["PDF_DPI"]
    if kind != "application/pdf":
        return [straighten(image).image for image in image_pages(data, kind, limits)]
    import pypdfium2

    with PDFIUM:  # pdfium is not thread-safe: several jobs draw their pages in this process at once
        pdf = pypdfium2.PdfDocument(data)
        try:
            out = []
            for page, read in zip(pdf_pages(data, limits, dpi), pages):
                if read["source"] == "ocr" and page.image is not None:
                    out.append(straighten(page.image).image)
                else:
                    out.append(np.asarray(pdf[page.number - 1].render(scale=dpi / 72).to_pil().convert("RGB")))
            return out
        finally:
            pdf.close()
