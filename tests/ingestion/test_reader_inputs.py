"""Reader inputs without OCR: text-layer PDFs, type detection, limits and refusals, image decoding."""
import io

import numpy as np
import pytest
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from ingestion.reader import DocumentError, Limits, read_document
from ingestion.reader.config import default_limits
from ingestion.reader.images import image_pages
from ingestion.reader.sniff import media_type

from .reader_samples import COLUMNS, HEADER, ROWS, encode, report_pdf


def test_text_layer_pdf_is_read_exactly_without_ocr():
    document = read_document(report_pdf(pages=2))
    assert document.media_type == "application/pdf"
    assert document.engine == "pdfplumber"  # no OCR model was needed
    assert [p.source for p in document.pages] == ["text-layer", "text-layer"]
    expected = [HEADER[0], *(" ".join(h.split()) for h in HEADER[1:]), "Test Result Units Reference Range Flag",
                *(" ".join(cell for cell in row if cell) for row in ROWS)]
    for number, page in enumerate(document.pages, start=1):
        assert [line.text for line in page.lines] == [*expected, f"Page {number} of 2"]
        assert all(line.confidence == 1.0 for line in page.lines)
        assert (page.width, page.height) == (1700, 2200)  # PDF points at the stated 200 dpi


def test_text_layer_boxes_are_in_page_pixels_at_the_pdf_dpi():
    page = read_document(report_pdf()).pages[0]
    hemoglobin = next(line for line in page.lines if line.text.startswith("Hemoglobin"))
    scale = 200 / 72
    assert [round(w.box[0] / scale) for w in hemoglobin.words] == list(COLUMNS[:4])
    y_from_top = 792 - (730 - 20 * 2 - 34 - 22)  # baseline of the first row, drawn from the bottom in points
    assert hemoglobin.words[0].box[1] < y_from_top * scale < hemoglobin.words[0].box[3] + 5


@pytest.mark.parametrize("data,kind", [
    (b"%PDF-1.7\n", "application/pdf"), (b"\x89PNG\r\n\x1a\n....", "image/png"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"II*\x00....", "image/tiff"), (b"MM\x00*....", "image/tiff"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic", "image/heic"), (b"\x00\x00\x00\x18ftypmif1", "image/heic"),
])
def test_type_is_detected_from_content(data, kind):
    assert media_type(data) == kind


@pytest.mark.parametrize("data", [b"GIF89a......", b"PK\x03\x04 docx", b"<html></html>", b"plain text, not a report"])
def test_unsupported_types_are_415(data):
    with pytest.raises(DocumentError) as error:
        read_document(data)
    assert error.value.status == 415 and "Unsupported document type" in error.value.reason


def test_empty_upload_is_400():
    with pytest.raises(DocumentError) as error:
        read_document(b"")
    assert error.value.status == 400


def test_oversized_file_is_413():
    with pytest.raises(DocumentError) as error:
        read_document(report_pdf(), limits=Limits(max_file_bytes=1000))
    assert error.value.status == 413 and "limit is 1,000 bytes" in error.value.reason


def test_too_many_pdf_pages_is_413():
    with pytest.raises(DocumentError) as error:
        read_document(report_pdf(pages=3), limits=Limits(max_pages=2))
    assert error.value.status == 413 and error.value.code == "DOCUMENT_TOO_MANY_PAGES"


def test_too_many_tiff_pages_is_413():
    pages = [Image.new("L", (100, 100), 255) for _ in range(3)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(DocumentError) as error:
        read_document(data, limits=Limits(max_pages=2))
    assert error.value.status == 413 and "3 pages" in error.value.reason


def test_too_many_pixels_is_413_before_decoding():
    data = encode(Image.new("L", (4000, 3000), 255), "PNG")
    with pytest.raises(DocumentError) as error:
        read_document(data, limits=Limits(max_pixels=10_000_000))
    assert error.value.status == 413 and error.value.code == "DOCUMENT_TOO_MANY_PIXELS"


def test_decompression_bomb_is_413():
    # a tiny PNG declaring a huge canvas: refused from its header, never decoded
    data = encode(Image.new("1", (30000, 30000), 1), "PNG")
    assert len(data) < 200_000
    with pytest.raises(DocumentError) as error:
        read_document(data)
    assert error.value.status == 413


def test_encrypted_pdf_is_422():
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, encrypt="secret")
    pdf.drawString(72, 720, "Hemoglobin 13.5 g/dL")
    pdf.save()
    with pytest.raises(DocumentError) as error:
        read_document(buffer.getvalue())
    assert error.value.status == 422 and error.value.code == "DOCUMENT_ENCRYPTED"
    assert "password" in error.value.reason


@pytest.mark.parametrize("data", [b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", report_pdf()[:700]])
def test_corrupt_pdf_is_422(data):
    with pytest.raises(DocumentError) as error:
        read_document(data)
    assert error.value.status == 422 and error.value.code == "DOCUMENT_CORRUPT"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_422(fmt):
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8))
    data = encode(noise, fmt)
    with pytest.raises(DocumentError) as error:
        read_document(data[: len(data) // 2])
    assert error.value.status == 422 and "damaged" in error.value.reason


def test_limits_come_from_django_settings(settings):
    settings.INGESTION = {**settings.INGESTION, "MAX_FILE_BYTES": 1234, "MAX_PAGES": 3}
    assert default_limits() == Limits(max_file_bytes=1234, max_pages=3, max_pixels=50_000_000)
    with pytest.raises(DocumentError) as error:
        read_document(report_pdf())
    assert error.value.status == 413


def test_exif_orientation_is_applied():
    wide = Image.new("RGB", (300, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    data = encode(wide, "JPEG", exif=exif.tobytes())
    [page] = list(image_pages(data, "image/jpeg", Limits()))
    assert page.shape[:2] == (300, 200)


@pytest.mark.parametrize("fmt,kind", [("WEBP", "image/webp"), ("HEIF", "image/heic")])
def test_webp_and_heic_decode(fmt, kind):
    import pillow_heif  # noqa: F401  (registers the HEIF encoder too)

    image = Image.new("RGB", (320, 240), (250, 250, 250))
    data = encode(image, fmt, quality=90)
    assert media_type(data) == kind
    [page] = list(image_pages(data, kind, Limits()))
    assert page.shape == (240, 320, 3) and page.dtype == np.uint8


def test_transparent_png_becomes_white_paper():
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    [page] = list(image_pages(encode(image, "PNG"), "image/png", Limits()))
    assert page.min() == 255
